"""The running filter: proxy (one transaction from front to relay or quarantine),
server (the supervisor and its workers), scan_pool (threads for big scans).
"""

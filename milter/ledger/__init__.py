"""Exactly once: a durable, short-lived ledger of what the next hop accepted or the
quarantine holds. store (the ledger), journal (segments and index), sync (the writers),
dedupe (how the proxy uses it).
"""

"""Sender authentication on the real client: authenticator (one message), dns, spf,
dkim, dmarc, results (Authentication-Results and JSON).
"""

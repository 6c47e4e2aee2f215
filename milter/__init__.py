"""scam-milter: an SMTP proxy filter that holds sextortion and authority-impersonation scams."""

__version__ = "0.1.0"

"""The settings the proxy owns: where it sits (``mode``) and the bounds on one message
(the ``limits`` section); milter/config.py reads the config file into these."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Mode(enum.Enum):
    """Where the proxy sits (Postfix's FILTER_README and SMTPD_PROXY_README)."""

    AFTER_QUEUE = "after-queue"  # content_filter: the message is already queued
    BEFORE_QUEUE = "before-queue"  # smtpd_proxy_filter: the client is still connected


@dataclass(frozen=True)
class MessageLimits:
    """Bounds on the work one message may cost the proxy (the ``limits`` section)."""

    # Real header blocks are a few KB; a long one (a mailing list's ARC sets, 50
    # Received fields, which is Postfix's hopcount_limit) stays under 50 KB and 1,000
    # lines. 1 MB is ten of the biggest single field Postfix keeps (header_size_limit,
    # 102400 bytes) and 10,000 lines two hundred times hopcount_limit: no mail reaches
    # them, and within them every header operation takes milliseconds. Past them the
    # header is the attack (a Subject folded over millions of lines), so the message is
    # held (after the queue) or refused with 552 5.3.4 (before it), never parsed.
    max_header_bytes: int = 1024 * 1024
    max_header_lines: int = 10_000
    # Wall-clock bound on authenticating and scanning one message; past it the message
    # is answered 451 and Postfix retries. Above the scan's own max_seconds (20) plus
    # auth.timeout (5), and below Postfix's smtpd_proxy_timeout (100 s, before the
    # queue), so Postfix hears our 451 rather than timing out itself.
    message_seconds: float = 60.0

"""The real client of a stored message, from the Received header a trusted MTA added.

When a message is checked from a file (``scam-milter check``), or reaches the proxy from
a host that sent no XFORWARD, the client address and HELO name that SPF needs are not in
the session. The MTAs the admin trusts record them in their Received header:

    Received: from helo.example (host.example [192.0.2.7])
            by mx.example.org (Postfix) with ESMTP id 4Xyz; Fri, 27 Nov 2026 ...

Only a header whose ``by`` names a trusted MTA is believed: every header below it may
have been written by the sender. No I/O here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

_COMMENT_FREE = re.compile(r"\s+")
_BY = re.compile(r"(?:^|\s|\))by\s+([^\s;()]+)", re.IGNORECASE)
_FROM = re.compile(r"^\s*from\s+([^\s;()]+)", re.IGNORECASE)
_BRACKETED = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")
# "(HELO name)" (sendmail, qmail) or "(helo=name)" (Exim) override the first word.
_HELO_COMMENT = re.compile(r"\(\s*helo[ =]([^\s)]+)", re.IGNORECASE)


@dataclass(frozen=True)
class ReceivedClient:
    ip: str
    helo: str
    by: str  # the trusted MTA that recorded it


def client_from_received(received: Iterable[str], trusted: Iterable[str]) -> ReceivedClient | None:
    """The client recorded by the topmost Received header a trusted MTA wrote.

    ``received`` in message order (newest first). Returns None when no trusted MTA wrote
    one or its from-clause has no usable address.
    """
    names = {name.rstrip(".").lower() for name in trusted if name}
    if not names:
        return None
    for value in received:
        text = _COMMENT_FREE.sub(" ", value)
        by = _BY.search(text)
        if by is None or by.group(1).rstrip(".").lower() not in names:
            continue
        return _parse_from(text[: by.start()], by.group(1).rstrip(".").lower())
    return None


def _parse_from(clause: str, by: str) -> ReceivedClient | None:
    start = _FROM.match(clause)
    if start is None:
        return None
    ip = ""
    for candidate in _BRACKETED.findall(clause):
        try:
            ip = str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
        break
    if not ip:
        return None
    helo_comment = _HELO_COMMENT.search(clause)
    helo = helo_comment.group(1) if helo_comment else start.group(1)
    if helo.startswith("["):
        helo = helo.strip("[]")
    return ReceivedClient(ip=ip, helo=helo, by=by)

"""The ``recipient_address`` detector: the recipient's own address, or its distinctive
local part, quoted in the text."""

from __future__ import annotations

import re

from milter.scan.detectors.base import DetectorContext, Hit
from milter.scan.normalize import NormalizedText

__all__ = ["find_recipient_address"]


# Role and system mailboxes: their names are ordinary words, so finding one in the text
# says nothing about the recipient.
_GENERIC_LOCAL_PARTS = frozenset(
    {
        "info", "admin", "administrator", "contact", "mail", "email", "user", "test",
        "support", "sales", "office", "postmaster", "hostmaster", "webmaster", "hello",
        "noreply", "no-reply", "donotreply", "do-not-reply", "abuse", "billing", "help",
        "service", "team", "news", "newsletter", "marketing", "finance", "accounts",
        "jobs", "careers", "privacy", "security", "root", "mailer-daemon", "enquiries",
        "inquiries", "reply",
    }
)  # fmt: skip


def find_recipient_address(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """The recipient's address, or its distinctive local part, valued as the address.

    Extortion mail quotes the victim's address (or name) to look personal and informed.
    """
    text = normalized.text
    hits: list[Hit] = []
    for address in dict.fromkeys(r.strip().lower() for r in context.recipients):
        local, at, _domain = address.rpartition("@")
        if not at or not local:
            continue
        # Both patterns below contain the local part literally. Most texts lack it, and
        # `in` says so far faster than a pattern that opens with a look-behind, which the
        # engine tries at every position.
        if local not in text:
            continue
        # Not inside a longer address: no address character before it, and not followed
        # by more domain ("...@example.com.evil.org").
        for match in re.finditer(rf"(?<![\w.+-]){re.escape(address)}(?![\w-]|\.\w)", text):
            hits.append(Hit(match.start(), match.end(), address, cased=False))
        if len(local) < 4 or local in _GENERIC_LOCAL_PARTS or not re.search(r"[^\W\d_]", local):
            continue
        # A whole word, and not the local part of an address (the recipient's own was
        # found above; another domain's is someone else).
        for match in re.finditer(rf"(?<![\w.+-]){re.escape(local)}(?![\w@-]|[.+]\w)", text):
            hits.append(Hit(match.start(), match.end(), address, cased=False))
    hits.sort(key=lambda hit: hit.start)
    return hits

"""Untrusted text made safe to show, and times as people read them.

Everything a sender chooses (a subject, an address, a HELO name, an XFORWARD value, a
DKIM tag) ends up in a reply line, a header we write, a log record, the quarantine index
or an admin's terminal. Each of those breaks on different characters, so ``safe_text``
takes where the text goes (``Fit``) and does the rest the same way everywhere:

- ``Fit.STORAGE``: lone surrogates (bytes that were not UTF-8, decoded with
  surrogateescape) go: no UTF-8 writer (SQLite, JSON, a file) accepts them.
- ``Fit.LINE``: also C0 controls and DEL, which end or corrupt a line (CR LF would start
  a new header field or log record, ESC drives a terminal).
- ``Fit.TERMINAL``: also every other character Unicode calls "other" (C1 controls, format
  characters such as bidi overrides and zero-width spaces, private use, unassigned) and
  the line and paragraph separators: what can drive a terminal or disguise the text
  (``\\u202etxt.exe``).
- ``Fit.ASCII``: only printable ASCII is left (SMTP reply lines, header comments).

An unsafe character becomes "?" or, with ``escape``, ``\\xNN``, ``\\uNNNN`` or
``\\UNNNNNNNN`` (Python's notation, so an admin can tell what was there). Whitespace is
kept, collapsed to single spaces on one line, or treated as unsafe (one token, such as
an XFORWARD value: ASCII whitespace, as in the SMTP grammar). ``limit`` caps the result,
the ``ellipsis`` included. Being in ``mail/``, every layer may import it
(tests/test_boundaries.py).
"""

from __future__ import annotations

import enum
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

__all__ = ["Fit", "safe_text", "utc_text"]

_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Fit(enum.Enum):
    """Where the text goes; each keeps less than the one before."""

    STORAGE = "storage"
    LINE = "line"
    TERMINAL = "terminal"
    ASCII = "ascii"


# Unicode's "other" categories (Cc control, Cf format, Cs surrogate, Co private use, Cn
# unassigned) and the separators that break a line without being a control character.
_TERMINAL_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

# What "whitespace" means for whitespace="unsafe": the ASCII kind, as in the SMTP and
# XFORWARD grammars. Non-ASCII spaces are left to ``fit`` (NEL is a C1 control).
_ASCII_SPACE = frozenset(" \t\n\v\f\r")

Whitespace = Literal["keep", "collapse", "unsafe"]


def safe_text(
    text: str,
    fit: Fit = Fit.TERMINAL,
    *,
    escape: bool = False,
    whitespace: Whitespace = "keep",
    limit: int | None = None,
    ellipsis: str = "...",
) -> str:
    """``text`` with what ``fit`` cannot take replaced (see the module's docstring).

    ``escape``: unsafe characters as backslash escapes rather than "?".
    ``whitespace``: "keep" (the space stays; tabs and line breaks are controls),
    "collapse" (every run of whitespace, line breaks included, becomes one space, none
    at either end) or "unsafe" (ASCII whitespace, the space included, is replaced too).
    ``limit``: at most this many characters, the last ones ``ellipsis`` when cut.
    """
    if whitespace == "collapse":
        text = " ".join(text.split())
    if not _is_safe(text, fit, whitespace):
        unsafe = _unsafe_test(fit, whitespace)
        text = "".join((_escaped(c) if escape else "?") if unsafe(c) else c for c in text)
    if limit is not None and len(text) > limit:
        if limit <= len(ellipsis):
            return text[:limit]
        text = text[: limit - len(ellipsis)] + ellipsis
    return text


def _is_safe(text: str, fit: Fit, whitespace: Whitespace) -> bool:
    """The fast path: nearly all text is safe as it is, checked at C speed."""
    if whitespace == "unsafe" and not _ASCII_SPACE.isdisjoint(text):
        return False
    if fit is Fit.STORAGE:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    # isprintable() is False for every "other" and separator character but the space:
    # a superset of what LINE and TERMINAL refuse.
    return text.isprintable() and (fit is not Fit.ASCII or text.isascii())


def _unsafe_test(fit: Fit, whitespace: Whitespace) -> Callable[[str], bool]:
    def unsafe(char: str) -> bool:
        code = ord(char)
        if whitespace == "unsafe" and char in _ASCII_SPACE:
            return True
        if 0xD800 <= code <= 0xDFFF:
            return True
        if fit is Fit.STORAGE:
            return False
        if code < 0x20 or code == 0x7F:
            return True
        if fit is Fit.ASCII:
            return code > 0x7E
        return fit is Fit.TERMINAL and unicodedata.category(char) in _TERMINAL_UNSAFE

    return unsafe


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def utc_text(moment: datetime | None = None) -> str:
    """``2025-01-31T10:00:00Z``: whole seconds in UTC (RFC 3339), as every listing, event
    line and log record shows a time."""
    if moment is None:
        # Now: from the clock directly (the verdict log writes one per message, and a
        # datetime's strftime costs several times time.strftime).
        return time.strftime(_UTC_FORMAT, time.gmtime())
    return moment.astimezone(UTC).strftime(_UTC_FORMAT)

"""Fitting an over-long text into the character limit without losing its end.

A limit that keeps only the start of a text lets a scam hide behind padding: millions of
blank lines, or megabytes of filler, and the accusation after them. So a text over the
limit is first squeezed (runs of blanks cost nothing once collapsed, and matching
collapses them anyway, normalize.py), and if it is still too long its start and its end
are kept, the middle dropped. Each step is one pass of a C-level regex or a slice.
"""

from __future__ import annotations

import re
from typing import Final

# Two or more line breaks with only blanks around them: one paragraph break.
_BLANK_LINES: Final = re.compile(r"[ \t\f\v]*(?:\r?\n[ \t\f\v]*){2,}")
_BLANK_RUN: Final = re.compile(r"[ \t\f\v]{2,}")
_BLANK_LINES_BYTES: Final = re.compile(rb"[ \t\f\v]*(?:\r?\n[ \t\f\v]*){2,}")
_BLANK_RUN_BYTES: Final = re.compile(rb"[ \t\f\v]{2,}")


def squeeze(text: str) -> str:
    """``text`` with each run of blank lines made one empty line, and each run of spaces
    and tabs one space."""
    return _BLANK_RUN.sub(" ", _BLANK_LINES.sub("\n\n", text))


def squeeze_bytes(data: bytes, charset: str | None) -> bytes:
    """:func:`squeeze` on undecoded bytes, so padding is gone before it is decoded.

    Only for charsets in which an ASCII space or line break byte is always that
    character: every charset of mail but UTF-16 and UTF-32 (whose other characters hold
    such bytes). For those, ``data`` is returned as it is.
    """
    name = (charset or "").lower()
    if "16" in name or "32" in name or "ucs" in name:
        return data
    return _BLANK_RUN_BYTES.sub(b" ", _BLANK_LINES_BYTES.sub(b"\n\n", data))


def head_and_tail(text: str, limit: int) -> tuple[str, str]:
    """The first and the last part of ``text``, ``limit`` characters together.

    The start of a message names its sender and topic; padding goes before the scam, so
    the end holds what padding pushed out. Half each.
    """
    if len(text) <= limit:
        return text, ""
    head = limit - limit // 2
    tail = limit - head
    return text[:head], text[len(text) - tail :] if tail else ""


def head_and_tail_bytes(data: bytes, limit: int) -> bytes:
    """The first and last ``limit // 2`` bytes of ``data``, a line break between them."""
    if len(data) <= limit:
        return data
    half = limit // 2
    return data[:half] + b"\n" + data[len(data) - half :]

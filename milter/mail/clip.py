"""Fitting an over-long text into the character limit without losing its end.

A limit that keeps only the start of a text lets a scam hide behind padding: millions of
blank lines, or megabytes of filler, and the accusation after them. So a text over the
limit is first squeezed (runs of blanks cost nothing once collapsed, and matching
collapses them anyway, normalize.py), and if it is still too long its start and its end
are kept, the middle dropped. Each step is one pass of a C-level regex or a slice.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from typing import AnyStr, Final

# Two or more line breaks with only blanks around them: one paragraph break. Possessive
# (nothing after a run could take back part of it): a plain {2,} kept a backtracking
# state per line, 350 MB for two million blank lines.
_BLANK_LINES: Final = re.compile(r"[ \t\f\v]*+(?:\r?\n[ \t\f\v]*+){2,}+")
_BLANK_RUN: Final = re.compile(r"[ \t\f\v]{2,}")
_BLANK_LINES_BYTES: Final = re.compile(rb"[ \t\f\v]*+(?:\r?\n[ \t\f\v]*+){2,}+")
_BLANK_RUN_BYTES: Final = re.compile(rb"[ \t\f\v]{2,}")
# A line break, blanks, a line break: every run of blank lines holds one. A regex that
# starts with a literal is found by the regex engine's fast scan; one that starts with
# [ \t]* is tried at every position, 30 ms a megabyte (seven times that under tracemalloc).
_LINE_PAIR: Final = re.compile(r"\n[ \t\f\v]*\r?\n")
_LINE_PAIR_BYTES: Final = re.compile(rb"\n[ \t\f\v]*\r?\n")


def squeeze(text: str) -> str:
    """``text`` with each run of blank lines made one empty line, and each run of spaces
    and tabs one space."""
    return _BLANK_RUN.sub(" ", _blank_lines(text, _LINE_PAIR, _BLANK_LINES))


def squeeze_bytes(data: bytes, charset: str | None) -> bytes:
    """:func:`squeeze` on undecoded bytes, so padding is gone before it is decoded.

    Only for charsets in which an ASCII space or line break byte is always that
    character: every charset of mail but UTF-16 and UTF-32 (whose other characters hold
    such bytes). For those, ``data`` is returned as it is.
    """
    name = (charset or "").lower()
    if "16" in name or "32" in name or "ucs" in name:
        return data
    data = _blank_lines(data, _LINE_PAIR_BYTES, _BLANK_LINES_BYTES)
    return _BLANK_RUN_BYTES.sub(b" ", data)


def _blank_lines(text: AnyStr, pair: re.Pattern[AnyStr], lines: re.Pattern[AnyStr]) -> AnyStr:
    """``lines.sub("\\n\\n", text)``, each match found from the ``pair`` in it.

    The first match after a position holds the first pair after it, and starts at the
    blanks (and the \\r) just before that pair's first line break: the regex engine's
    own scan would find it there too, after trying every position on the way.
    """
    empty = text[:0]
    cr, blanks, paragraph = (
        ("\r", " \t\f\v", "\n\n") if isinstance(text, str) else (b"\r", b" \t\f\v", b"\n\n")
    )
    pieces: list[AnyStr] = []
    copied = 0
    while (found := pair.search(text, copied)) is not None:
        start = found.start()
        if start > copied and text[start - 1 : start] == cr:
            start -= 1
        start = copied + len(text[copied:start].rstrip(blanks))  # type: ignore[arg-type]
        match = lines.match(text, start)
        if match is None:  # not expected (see above): the slow way, to be sure
            return lines.sub(paragraph, text)  # type: ignore[arg-type]
        pieces += (text[copied:start], paragraph)  # type: ignore[list-item]
        copied = match.end()
    if not pieces:
        return text
    pieces.append(text[copied:])
    return empty.join(pieces)


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


_BLANKS: Final = b" \t\f\v\r\n"


def squeeze_clip_count(
    data: bytes | Iterable[bytes], charset: str | None, limit: int
) -> tuple[bytes, int, int]:
    """``squeeze_bytes(data, charset)`` cut to its start and end by
    :func:`head_and_tail_bytes` when over ``limit``, and its length before the cut.

    ``data`` may come as chunks (a big body, body_stream.py): then no more than the
    limit and a chunk is held. The squeeze is the same chunk by chunk when each chunk
    ends after a byte that is not blank, since no blank run then spans two: the blank
    run that ends a chunk is carried over to the next.

    The third value counts the CRs of the squeezed text, so a caller can tell blanks
    squeezed out from CRs of CRLF paragraph breaks (the squeeze writes each as "\\n\\n").
    """
    if isinstance(data, bytes):
        squeezed = squeeze_bytes(data, charset)
        return head_and_tail_bytes(squeezed, limit), len(squeezed), squeezed.count(b"\r")
    kept = _HeadAndTail(limit)
    held: list[bytes] = []  # a blank run not known to have ended
    for chunk in data:
        cut = len(chunk.rstrip(_BLANKS))
        if not cut:
            held.append(chunk)
            continue
        kept.add(squeeze_bytes(b"".join((*held, chunk[:cut])) if held else chunk[:cut], charset))
        held = [chunk[cut:]] if cut < len(chunk) else []
    if held:
        kept.add(squeeze_bytes(b"".join(held), charset))
    return kept.result(), kept.size, kept.crs


class _HeadAndTail:
    """head_and_tail_bytes(b"".join(added), limit), holding about ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.head = b""  # the first limit // 2 bytes, once over the limit
        self.tail: deque[bytes] = deque()  # everything while within it; then the end
        self.tail_size = 0
        self.crs = 0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        self.crs += data.count(b"\r")
        self.tail.append(data)
        self.tail_size += len(data)
        if self.size <= self.limit:
            return
        half = self.limit // 2
        if len(self.head) < half:
            joined = b"".join(self.tail)
            self.head += joined[: half - len(self.head)]
            self.tail = deque((joined,))
        while self.tail and self.tail_size - len(self.tail[0]) >= half:
            self.tail_size -= len(self.tail.popleft())

    def result(self) -> bytes:
        joined = b"".join(self.tail)
        if self.size <= self.limit:
            return joined
        half = self.limit // 2
        return self.head + b"\n" + joined[len(joined) - half :]

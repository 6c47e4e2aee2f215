"""Edit the header block of a raw message without touching anything else.

The proxy must relay a clean message byte for byte, so header edits work on the raw
bytes: the header block is split into fields (a field is its first line plus its
folded continuation lines), fields are removed or added, and the body is never parsed
or re-encoded. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_FIELD_NAME = re.compile(rb"([!-9;-~]+)[ \t]*:")


@dataclass(frozen=True)
class HeaderNames:
    """The names of the fields we write (config: ``headers``); ours alone."""

    verdict: str = "X-Scam-Verdict"
    score: str = "X-Scam-Score"
    rules: str = "X-Scam-Rules"
    # Every field whose name starts with this (case-insensitively) is ours alone and is
    # removed from mail arriving from outside, whatever its name: a forged
    # X-Scam-Released or X-Scam-Whatever could steer a filter further on as well as the
    # three names above.
    prefix: str = "X-Scam-"

    def all(self) -> tuple[str, ...]:
        return (self.verdict, self.score, self.rules)


@dataclass(frozen=True)
class RawMessage:
    """A message split at the end of its header block."""

    fields: tuple[bytes, ...]  # each field with its line ends, continuation lines included
    separator: bytes  # the empty line ending the headers (b"\r\n", b"\n" or b"")
    body: bytes
    newline: bytes  # the line ending the message uses, for lines we add

    def to_bytes(self) -> bytes:
        return b"".join(self.fields) + self.separator + self.body


def split_message(raw: bytes) -> RawMessage:
    """Split ``raw`` into header fields and body; a message with no body keeps b"" as body.

    Linear in the size of ``raw``: a field's continuation lines are found by one regex
    search in C, never by a Python step (or a bytes concatenation) per line, so a
    Subject folded over millions of lines costs what its bytes cost (issue 10)."""
    newline = b"\r\n" if b"\r\n" in raw[:4096] or not raw else b"\n"
    fields: list[bytes] = []
    position = 0
    while (end := _field_end(raw, position, first=not fields)) > position:
        fields.append(raw[position:end])
        position = end
    if raw.startswith(b"\r\n", position) or raw.startswith(b"\n", position):
        separator = raw[position : raw.index(b"\n", position) + 1]
        return RawMessage(tuple(fields), separator, raw[position + len(separator) :], newline)
    # Not a header line and no blank line before it: the body starts here (RFC 5322
    # needs the blank line, but broken mail exists; keep it as is).
    return RawMessage(tuple(fields), b"", raw[position:], newline)


# The end of a field: a line end not followed by folding white space (a line that starts
# with a space or a tab continues the field above it).
_FIELD_END = re.compile(rb"\n(?![ \t])")
# A header block as _field_end walks it when nothing is odd: fields with a name, each
# line ending in LF, folded lines starting with a space or a tab.
# Possessive (Python 3.11): no part of it ever gives back what it took, so the engine
# keeps no backtracking state per line; a block of a million lines stays linear.
_WELL_FORMED = re.compile(rb"(?:[!-9;-~]++[ \t]*+:[^\n]*+\n(?:[ \t][^\n]*+\n)*+)++")


def _field_end(raw: bytes, position: int, *, first: bool, endpos: int | None = None) -> int:
    """Where the field starting at ``position`` ends, or ``position`` itself when no field
    starts there: the end of ``raw``, the empty line ending the header block, or a line
    that is no header line (then the body starts there). The first line of a message is
    a field whatever it holds, as long as it is not empty. ``endpos`` bounds the search
    (the caller stops anyway past it)."""
    if position >= len(raw) or raw.startswith(b"\n", position) or raw.startswith(b"\r\n", position):
        return position
    # The name cannot run past the line: its characters exclude CR and LF.
    if not first and _FIELD_NAME.match(raw, position) is None:
        return position
    end = len(raw) if endpos is None else min(endpos, len(raw))
    found = _FIELD_END.search(raw, position, end)
    return found.end() if found is not None else end


@dataclass(frozen=True)
class HeaderSize:
    """How big a header block is, as far as it was measured."""

    bytes: int  # up to the end of the last field measured (the separator not counted)
    lines: int  # physical lines, continuation lines included
    over: bool  # measuring stopped at a limit: the block is larger than the limits


def header_size(raw: bytes, max_bytes: int, max_lines: int) -> HeaderSize:
    """Measure the header block (exactly as ``split_message`` splits it), stopping as
    soon as it passes ``max_bytes`` or ``max_lines``: at most ``max_lines`` Python steps
    and ``max_bytes`` bytes searched, whatever the message holds."""
    # Most mail: a well-formed block (every line a field or a continuation line) ends
    # at the first empty line, well within both limits. Checked by one regex in C
    # rather than a Python step per field; anything else is measured field by field.
    end = header_end(raw, max_bytes + 3)
    if 0 < end <= max_bytes and end < len(raw) and _WELL_FORMED.fullmatch(raw, 0, end):
        lines = raw.count(b"\n", 0, end)
        if lines <= max_lines:
            return HeaderSize(end, lines, over=False)
    position = lines = 0
    while (end := _field_end(raw, position, first=position == 0, endpos=max_bytes + 2)) > position:
        # A field cut at the end of the message has no line end of its own.
        lines += raw.count(b"\n", position, end) + (raw[end - 1 : end] != b"\n")
        position = end
        if position > max_bytes or lines > max_lines:
            return HeaderSize(position, lines, over=True)
    return HeaderSize(position, lines, over=False)


def first_field(raw: bytes, name: str, max_bytes: int, max_lines: int) -> bytes | None:
    """The first field named ``name`` (case-insensitive) that starts within the first
    ``max_bytes`` bytes and ``max_lines`` lines of the header block, cut at byte
    ``max_bytes`` if it runs on past it; None when there is none there. The work is bounded by the
    limits, however big the block is."""
    wanted = name.lower().encode("ascii")
    position = lines = 0
    while (
        position < max_bytes
        and lines < max_lines
        and (end := _field_end(raw, position, first=position == 0, endpos=max_bytes + 2)) > position
    ):
        match = _FIELD_NAME.match(raw, position)
        if match is not None and match.group(1).lower() == wanted:
            return raw[position : min(end, max_bytes)]
        lines += raw.count(b"\n", position, end)
        position = end
    return None


def header_block(raw: bytes) -> bytes:
    """``raw`` up to the end of the line before its first empty line, without copying
    the body (it may be megabytes). That is the header block, or more in a broken
    message with a body line before the empty line (``split_message`` is exact); all
    of ``raw`` when no line is empty."""
    end = header_end(raw)
    return raw if end == len(raw) else raw[:end]


def header_end(raw: bytes, endpos: int | None = None) -> int:
    """``len(header_block(raw))``, found without copying anything and without looking
    for a bare-LF empty line in the whole body of a CRLF message (most of the cost of
    the search for a few KB). With ``endpos``, only an empty line that ends by then is
    looked for; none there: ``endpos`` (or the end of ``raw``, if that comes first)."""
    stop = len(raw) if endpos is None else min(endpos, len(raw))
    crlf = raw.find(b"\n\r\n", 0, stop)
    # A "\n\n" that starts after the first "\n\r\n" does not come first.
    lf = raw.find(b"\n\n", 0, stop if crlf < 0 else crlf + 1)
    if lf >= 0:
        return lf + 1
    return stop if crlf < 0 else crlf + 1


def field_name(field: bytes) -> str:
    match = _FIELD_NAME.match(field)
    return match.group(1).decode("ascii").lower() if match else ""


def remove_fields(
    message: RawMessage, names: Iterable[str], prefixes: Iterable[str] = ()
) -> RawMessage:
    """Drop every field whose name is in ``names`` or starts with one of ``prefixes``
    (both case-insensitive)."""
    unwanted = {name.lower() for name in names}
    starts = tuple(prefix.lower() for prefix in prefixes)
    kept = tuple(
        f
        for f in message.fields
        if (name := field_name(f)) not in unwanted and not (starts and name.startswith(starts))
    )
    if len(kept) == len(message.fields):
        return message
    return RawMessage(kept, message.separator, message.body, message.newline)


# RFC 5322 2.1.1: lines SHOULD stay within 78 characters; a field longer than that is
# folded at spaces (a long Authentication-Results with several signatures).
FOLD_AT = 78


def add_fields(message: RawMessage, fields: Sequence[tuple[str, str]]) -> RawMessage:
    """Prepend fields, as an MTA prepends trace fields; values must be ASCII, one line
    (folded here at spaces when longer than ``FOLD_AT``)."""
    new = []
    for name, value in fields:
        if "\n" in value or "\r" in value or not value.isascii():
            raise ValueError(f"header {name} must be one ASCII line")
        new.append(_fold(f"{name}: {value}", message.newline.decode("ascii")).encode("ascii"))
    separator = message.separator or message.newline
    return RawMessage((*new, *message.fields), separator, message.body, message.newline)


def _fold(line: str, newline: str) -> str:
    """``line`` with a line break before a space wherever it would pass ``FOLD_AT``; a
    word longer than that stays whole (nothing may be split inside a word). Linear:
    each cut is an offset into ``line``, never a copy of the rest of it."""
    if len(line) <= FOLD_AT:
        return line + newline
    out: list[str] = []
    start = 0  # where the line being cut begins (after the first, at its folding space)
    # Never right after "Name:": the first line keeps at least one word of the value.
    floor = line.find(": ") + 2
    while len(line) - start > FOLD_AT:
        cut = line.rfind(" ", start + floor, start + FOLD_AT + 1)
        if cut <= start:
            cut = line.find(" ", start + max(FOLD_AT, floor))
            if cut == -1:
                break
        floor = 1
        out.append(line[start:cut])
        start = cut  # the space stays, as the folding white space
    out.append(line[start:])
    return newline.join(out) + newline


def prefix_subject(message: RawMessage, prefix: str) -> RawMessage:
    """Put ``prefix`` before the Subject (adding a Subject if there is none)."""
    encoded = prefix.encode("utf-8")
    fields = list(message.fields)
    for index, field in enumerate(fields):
        if field_name(field) == "subject":
            colon = field.index(b":") + 1
            rest = field[colon:].lstrip(b" \t")
            if rest.startswith(encoded):
                return message  # already marked: a re-scan must not stack prefixes
            fields[index] = field[:colon] + b" " + encoded + rest
            return RawMessage(tuple(fields), message.separator, message.body, message.newline)
    return add_fields(message, [("Subject", prefix.strip())])

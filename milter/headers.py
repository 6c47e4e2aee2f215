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
class RawMessage:
    """A message split at the end of its header block."""

    fields: tuple[bytes, ...]  # each field with its line ends, continuation lines included
    separator: bytes  # the empty line ending the headers (b"\r\n", b"\n" or b"")
    body: bytes
    newline: bytes  # the line ending the message uses, for lines we add

    def to_bytes(self) -> bytes:
        return b"".join(self.fields) + self.separator + self.body


def split_message(raw: bytes) -> RawMessage:
    """Split ``raw`` into header fields and body; a message with no body keeps b"" as body."""
    newline = b"\r\n" if b"\r\n" in raw[:4096] or not raw else b"\n"
    fields: list[bytes] = []
    position = 0
    length = len(raw)
    while position < length:
        end = raw.find(b"\n", position)
        end = length if end == -1 else end + 1
        line = raw[position:end]
        if line in (b"\r\n", b"\n"):
            return RawMessage(tuple(fields), line, raw[end:], newline)
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        elif _FIELD_NAME.match(line) or not fields:
            fields.append(line)
        else:
            # Not a header line and no blank line before it: the body starts here
            # (RFC 5322 needs the blank line, but broken mail exists; keep it as is).
            return RawMessage(tuple(fields), b"", raw[position:], newline)
        position = end
    return RawMessage(tuple(fields), b"", b"", newline)


def header_block(raw: bytes) -> bytes:
    """``raw`` up to the end of the line before its first empty line, without copying
    the body (it may be megabytes). That is the header block, or more in a broken
    message with a body line before the empty line (``split_message`` is exact); all
    of ``raw`` when no line is empty."""
    ends = [i for i in (raw.find(b"\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends) + 1] if ends else raw


def field_name(field: bytes) -> str:
    match = _FIELD_NAME.match(field)
    return match.group(1).decode("ascii").lower() if match else ""


def remove_fields(message: RawMessage, names: Iterable[str]) -> RawMessage:
    """Drop every field whose name is in ``names`` (case-insensitive)."""
    unwanted = {name.lower() for name in names}
    kept = tuple(f for f in message.fields if field_name(f) not in unwanted)
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
    word longer than that stays whole (nothing may be split inside a word)."""
    if len(line) <= FOLD_AT:
        return line + newline
    out: list[str] = []
    # Never right after "Name:": the first line keeps at least one word of the value.
    floor = line.find(": ") + 2
    while len(line) > FOLD_AT:
        cut = line.rfind(" ", floor, FOLD_AT + 1)
        if cut <= 0:
            cut = line.find(" ", max(FOLD_AT, floor))
            if cut == -1:
                break
        floor = 1
        out.append(line[:cut])
        line = line[cut:]  # the space stays, as the folding white space
    out.append(line)
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

"""The message page's content, as plain values: never the message's own HTML.

The held message is parsed with the scanner's own parser (``parse_message``), so the
page shows the text as the scanner saw it: text/plain parts as they are, HTML parts as
the text they render to (no markup, no remote content, nothing for a browser to run or
fetch). Every string from the sender goes through ``safe_text`` (control and bidi
characters escaped, so ``\\u202etxt.exe`` shows as what it is) and is then escaped by
the templates (Jinja2 autoescape). Evidence is highlighted by cutting the text into
``Segment``s, so the template, not this module, writes every ``<mark>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from milter.mail.display import Fit, safe_text
from milter.mail.headers import split_message
from milter.mail.mime_decode import decode_header_value
from milter.mail.view import ViewLimits, parse_message
from milter.quarantine.store import QuarantineRecord

# A page is for reading: past this many characters of one part, the rest is in the
# raw download. Keeps a 20 MB text part from making a 20 MB page.
MAX_PART_CHARS: Final = 100_000
# The page is built while the reviewer waits: tighter than the proxy's budget.
_LIMITS: Final = ViewLimits(max_seconds=5.0, pdf_max_seconds=1.0)


def shown(text: str) -> str:
    """One line of sender-chosen text, safe to show: unsafe characters as escapes."""
    return safe_text(text, Fit.TERMINAL, escape=True)


def shown_block(text: str) -> str:
    """Many lines of sender-chosen text: each line made safe, the line breaks kept."""
    return "\n".join(shown(line) for line in text.splitlines())


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool  # matched a rule's evidence


@dataclass(frozen=True)
class TextPart:
    label: str  # "text/plain part 1", "HTML part 2 (as text)", "attachment x.pdf (text)"
    segments: tuple[Segment, ...]
    cut: bool  # longer than MAX_PART_CHARS; the rest is in the download


@dataclass(frozen=True)
class AttachmentRow:
    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class RuleRow:
    id: str
    score: float
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class MessagePage:
    record: QuarantineRecord
    header_from: str | None
    rules: tuple[RuleRow, ...]
    auth: tuple[tuple[str, str], ...]
    headers: tuple[str, ...]  # raw header lines, folding kept
    texts: tuple[TextPart, ...]
    attachments: tuple[AttachmentRow, ...]
    defects: tuple[str, ...]


def highlight(text: str, quotes: Iterable[str]) -> tuple[Segment, ...]:
    """``text`` cut into segments, those matching a quote (case-insensitive) marked."""
    lowered = text.lower()
    spans: list[tuple[int, int]] = []
    for quote in {q.lower() for q in quotes if len(q.strip()) >= 2}:
        start = lowered.find(quote)
        while start >= 0:
            spans.append((start, start + len(quote)))
            start = lowered.find(quote, start + len(quote))
    segments: list[Segment] = []
    position = 0
    for start, end in sorted(spans):
        if end <= position:
            continue  # inside a span already marked
        start = max(start, position)
        if start > position:
            segments.append(Segment(text[position:start], False))
        segments.append(Segment(text[start:end], True))
        position = end
    if position < len(text):
        segments.append(Segment(text[position:], False))
    return tuple(segments)


def _text_part(label: str, text: str, quotes: Sequence[str]) -> TextPart:
    cut = len(text) > MAX_PART_CHARS
    return TextPart(label, highlight(shown_block(text[:MAX_PART_CHARS]), quotes), cut)


def header_lines(raw: bytes) -> tuple[str, ...]:
    lines = []
    for field_bytes in split_message(raw).fields:
        for line in field_bytes.split(b"\n"):
            line = line.removesuffix(b"\r")
            if line:
                lines.append(shown(line.decode("utf-8", "backslashreplace")))
    return tuple(lines)


def _header_from(raw: bytes) -> str | None:
    for field_bytes in split_message(raw).fields:
        if field_bytes[:5].lower() == b"from:":
            value = decode_header_value(field_bytes[5:].decode("utf-8", "surrogateescape"))
            return shown(" ".join(value.split()))
    return None


def _auth_rows(auth: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if auth is None:
        return ()
    rows = []
    for key, value in auth.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        rows.append((shown(str(key)), shown(text)))
    return tuple(rows)


_IMAGE_SUFFIX = re.compile(r" \[image [^\]]*\]$")


def message_page(record: QuarantineRecord, raw: bytes | None) -> MessagePage:
    """What the message page shows of ``record`` (and of ``raw``, while it exists)."""
    rules = tuple(
        RuleRow(
            shown(str(r["id"])),
            float(r["score"]),
            tuple(shown(str(e)) for e in r.get("evidence", ())),
        )
        for r in record.entry.rules
    )
    # A quote from an image names it ("'Kinderpornografie [image BKA025.jpg]'", scan
    # evidence): the bare quote is what to mark in that image's text.
    quotes = [_IMAGE_SUFFIX.sub("", e) for r in rules for e in r.evidence]
    texts: list[TextPart] = []
    attachments: list[AttachmentRow] = []
    headers: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()
    header_from = None
    if raw is not None:
        view = parse_message(raw, record.envelope, _LIMITS)
        headers = header_lines(raw)
        header_from = _header_from(raw)
        for number, text in enumerate(view.text_parts, 1):
            texts.append(_text_part(f"text part {number}", text, quotes))
        for number, html in enumerate(view.html_parts, 1):
            texts.append(_text_part(f"HTML part {number}, as text", html.visible, quotes))
            if html.hidden.strip():
                label = f"HTML part {number}, hidden text"
                texts.append(_text_part(label, html.hidden, quotes))
        for item in view.attachments:
            name = shown(item.filename) or "(no name)"
            attachments.append(AttachmentRow(name, shown(item.content_type), item.size))
            if item.text.strip():
                texts.append(_text_part(f"attachment {name}, its text", item.text, quotes))
        for name, text in record.image_texts:
            label = f"image {shown(name) or '(no name)'}, as OCR read it"
            texts.append(_text_part(label, text, quotes))
        defects = tuple(shown(d) for d in view.defects)
    return MessagePage(
        record=record,
        header_from=header_from,
        rules=rules,
        auth=_auth_rows(record.auth),
        headers=headers,
        texts=tuple(texts),
        attachments=tuple(attachments),
        defects=defects,
    )

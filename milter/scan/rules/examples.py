"""Rule examples: build a message from an example mapping and check the rule against it.

An example is scanned with every loaded rule, as a real message would be, so meta rules
and building blocks behave exactly as in production.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP, compat32
from email.utils import parseaddr
from typing import Any

from milter.auth.dkim import DkimResult
from milter.auth.dmarc import dmarc_result
from milter.auth.results import AuthResults
from milter.auth.spf import SpfResult
from milter.mail.envelope import Envelope
from milter.mail.images import ImageText
from milter.scan.rules.loader import Rule
from milter.scan.scanner import Scanner

DEFAULT_FROM = "Sender <sender@example.org>"
DEFAULT_TO = "recipient@example.net"


@dataclass(frozen=True)
class ExampleFailure:
    rule: Rule
    kind: str  # "must_match" or "must_not_match"
    number: int  # 1-based position in the list
    matched: tuple[str, ...]  # rule ids that matched the example

    def __str__(self) -> str:
        verb = "does not match" if self.kind == "must_match" else "matches"
        others = ", ".join(sorted(self.matched)) or "no rule"
        return (
            f"{self.rule.path}:{self.rule.line}: rule {self.rule.id}: {verb} its {self.kind} "
            f"example #{self.number} (rules that matched: {others})"
        )


def build_example(example: Mapping[str, Any]) -> tuple[bytes, Envelope]:
    """The raw message and envelope an example describes."""
    rcpt = tuple(str(r) for r in example.get("envelope_rcpt", ()))
    envelope = Envelope(mail_from=example.get("envelope_from"), rcpt_to=rcpt)
    if "raw" in example:
        raw = example["raw"]
        return (raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)), envelope
    message = EmailMessage()
    message["From"] = str(example.get("from", DEFAULT_FROM))
    message["To"] = str(example.get("to", DEFAULT_TO))
    if "reply_to" in example:
        message["Reply-To"] = str(example["reply_to"])
    message["Subject"] = str(example.get("subject", ""))
    for name, value in dict(example.get("headers", {})).items():
        message[str(name)] = str(value)
    body = example.get("body")
    html = example.get("html")
    if body is not None:
        message.set_content(str(body))
    if html is not None:
        if body is not None:
            message.add_alternative(str(html), subtype="html")
        else:
            message.set_content(str(html), subtype="html")
    if body is None and html is None:
        message.set_content("")
    for attachment in example.get("attachments", ()):
        _attach(message, dict(attachment))
    return message.as_bytes(policy=SMTP), envelope


def example_auth(example: Mapping[str, Any]) -> AuthResults | None:
    """The authentication results an example states (``auth: {dmarc: pass, …}``), as
    the scanner would get them; None (nothing checked) when it states none."""
    spec = example.get("auth")
    if spec is None:
        return None
    if "raw" in example:
        raw = example["raw"]
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
        from_header = str(BytesHeaderParser(policy=compat32).parsebytes(data).get("From", ""))
    else:
        from_header = str(example.get("from", DEFAULT_FROM))
    _, from_address = parseaddr(from_header)
    domain = from_address.rpartition("@")[2].lower()
    spf = SpfResult(spec["spf"], domain, "mailfrom") if "spf" in spec else None
    dkim_spec = spec.get("dkim", ())
    dkim = tuple(
        DkimResult(result, domain, "example")
        for result in ([dkim_spec] if isinstance(dkim_spec, str) else dkim_spec)
    )
    dmarc = None
    if "dmarc" in spec:
        passed = spec["dmarc"] == "pass"
        dmarc = dmarc_result(
            spec["dmarc"],
            domain,
            spf_aligned=passed,
            aligned_dkim_domain=domain if passed else None,
        )
    return AuthResults(spf=spf, dkim=dkim, dmarc=dmarc, from_domain=domain)


def _attach(message: EmailMessage, attachment: dict[str, Any]) -> None:
    name = str(attachment.get("name", "attachment.bin"))
    ctype = str(attachment.get("type", "application/octet-stream"))
    text = str(attachment.get("text", ""))
    maintype, _, subtype = ctype.partition("/")
    if "image_text" in attachment or "image_note" in attachment:
        # What OCR would read (example_images); the bytes only need to look like one.
        data = _IMAGE_STAND_IN.get(ctype, _IMAGE_STAND_IN["image/jpeg"])
        message.add_attachment(data, maintype=maintype, subtype=subtype or "jpeg", filename=name)
        return
    data = make_pdf(text) if ctype == "application/pdf" else text.encode("utf-8")
    if maintype == "text":
        message.add_attachment(text, subtype=subtype or "plain", filename=name)
    else:
        message.add_attachment(
            data, maintype=maintype, subtype=subtype or "octet-stream", filename=name
        )


# The first bytes of each format: enough for the view to list the part as an image.
_IMAGE_STAND_IN = {
    "image/jpeg": b"\xff\xd8\xff\xe0" + bytes(64),
    "image/png": b"\x89PNG\r\n\x1a\n" + bytes(64),
}


def example_images(example: Mapping[str, Any]) -> tuple[ImageText, ...]:
    """The text an example says OCR reads in its images (``image_text`` of an
    attachment; ``image_note`` for one it did not read), as milter/ocr would hand it to
    the scan: rule examples state what a stage gives, as ``auth`` does, so they run
    without Tesseract."""
    texts = []
    for attachment in example.get("attachments", ()):
        if "image_text" in attachment or "image_note" in attachment:
            name = str(attachment.get("name", "image"))
            text = str(attachment.get("image_text", ""))
            note = str(attachment.get("image_note", ""))  # "not read: timed out"
            texts.append(ImageText(name, "0" * 64, text, note))
    return tuple(texts)


def make_pdf(*pages: str) -> bytes:
    """A minimal PDF, one page per argument showing its lines, so examples (and tests)
    can carry an accusation in a PDF attachment."""
    pages = pages or ("",)
    count = len(pages)
    font = 3 + 2 * count  # catalog, page tree, then a page and its content per page
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    for index, text in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * index} 0 R >>".encode()
        )
        shown = []
        for line in text.splitlines() or [""]:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            shown.append(f"({escaped}) Tj")
        # T* moves to the next line between lines only, so the text reads back as given.
        ops = ["BT", "/F1 11 Tf", "14 TL", "50 780 Td", "\nT* ".join(shown), "ET"]
        stream = zlib.compress("\n".join(ops).encode("latin-1", "replace"))
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream)
            + stream
            + b"\nendstream"
        )
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    return pdf_file(objects)


def pdf_file(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF file of ``objects`` (numbered from 1), with its cross-reference table;
    ``root`` is the number of the catalog."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        xref,
    )
    return bytes(out)


def check_examples(scanner: Scanner, rules: Iterable[Rule] | None = None) -> list[ExampleFailure]:
    """Scan every example of ``rules`` (default: all the scanner's rules)."""
    failures: list[ExampleFailure] = []
    for rule in rules if rules is not None else scanner.rules:
        for kind, examples in (
            ("must_match", rule.must_match),
            ("must_not_match", rule.must_not_match),
        ):
            for number, example in enumerate(examples, start=1):
                raw, envelope = build_example(example)
                view = scanner.view(raw, envelope)
                images = example_images(example)
                if images:
                    view = replace(view, image_texts=images)
                verdict = scanner.scan_view(view, example_auth(example), every_rule=True)
                matched = rule.id in verdict.matched_ids
                if matched != (kind == "must_match"):
                    failures.append(ExampleFailure(rule, kind, number, tuple(verdict.matched_ids)))
    return failures


__all__ = [
    "ExampleFailure",
    "build_example",
    "check_examples",
    "example_auth",
    "example_images",
    "make_pdf",
]

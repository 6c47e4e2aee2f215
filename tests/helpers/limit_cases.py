"""Messages that put a scam past a scan limit, built here (issue 10, item 3).

Each builder wraps the same scam text, which scores on its own, in the padding, nesting
or PDF that a limit used to stop at. tests/scan/test_scanner_limits.py scans them.
"""

from __future__ import annotations

import base64
import os
import zlib

from milter.scan.rules.examples import pdf_file

SCAM = (
    "I hacked your computer and recorded you with your webcam while you watched adult "
    "videos. Pay 1300 euro in bitcoin to my wallet 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 "
    "within 48 hours, or I will send the video to all your contacts."
)
HEAD = "From: x@example.org\r\nTo: y@example.net\r\nSubject: Your account\r\nMIME-Version: 1.0\r\n"


def plain(body: str) -> bytes:
    return (HEAD + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode()


def html(body: str) -> bytes:
    return (HEAD + "Content-Type: text/html; charset=utf-8\r\n\r\n" + body + "\r\n").encode()


def after_blank_lines(lines: int) -> bytes:
    """The scam after ``lines`` empty lines."""
    return plain("\r\n" * lines + SCAM)


def after_hidden_html(size: int, *, blocks: int = 1) -> bytes:
    """The scam after ``size`` characters of display:none filler in ``blocks`` blocks."""
    words = "account invoice meeting report "
    filler = words * (size // len(words) // blocks)
    hidden = f'<div style="display:none">{filler}</div>' * blocks
    return html(f"<html><body>{hidden}<p>{SCAM}</p></body></html>")


def nested(depth: int) -> bytes:
    """The scam in a text part under ``depth`` nested multiparts."""
    out = HEAD
    for level in range(depth):
        out += f'Content-Type: multipart/mixed; boundary="n{level}"\r\n\r\n--n{level}\r\n'
    return (out + "Content-Type: text/plain\r\n\r\n" + SCAM + "\r\n").encode()


def after_parts(count: int, content: str = "") -> bytes:
    """The scam as the last part, after ``count`` parts holding ``content``."""
    filler = f"--m\r\nContent-Type: text/plain\r\n\r\n{content}\r\n" * count
    return (
        HEAD
        + 'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        + filler
        + f"--m\r\nContent-Type: text/plain\r\n\r\n{SCAM}\r\n--m--\r\n"
    ).encode()


def with_pdf(pdf: bytes, body: str = "Please see the attachment.") -> bytes:
    encoded = base64.encodebytes(pdf).decode().replace("\n", "\r\n")
    return (
        HEAD
        + 'Content-Type: multipart/mixed; boundary="p"\r\n\r\n'
        + f"--p\r\nContent-Type: text/plain\r\n\r\n{body}\r\n"
        + '--p\r\nContent-Type: application/pdf; name="letter.pdf"\r\n'
        + "Content-Disposition: attachment; filename=letter.pdf\r\n"
        + f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}--p--\r\n"
    ).encode()


def _page_stream(text: str) -> bytes:
    if not text:
        return b""
    lines = [
        line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        for line in text.split(". ")
    ]
    shown = "\nT* ".join(f"({line}) Tj" for line in lines)
    return f"BT\n/F1 11 Tf\n14 TL\n50 780 Td\n{shown}\nET".encode("latin-1")


def build_pdf(
    pages: list[str],
    *,
    unused: int = 0,
    image: int = 0,
    content: list[bytes] | None = None,
) -> bytes:
    """A PDF with one page per text ("" is a blank page with no content stream).

    ``unused``: a stream of that many random bytes that nothing refers to (padding).
    ``image``: an image of that many random bytes, drawn on the first page (a scan, a
    logo: bytes the document uses). ``content``: raw content streams instead of texts.
    """
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, extra: str = "", compress: bool = True) -> bytes:
        if compress:
            data = zlib.compress(data)
            extra += " /Filter /FlateDecode"
        return b"<< /Length %d%s >>\nstream\n" % (len(data), extra.encode()) + data + b"\nendstream"

    catalog = add(b"")
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    picture = 0
    if image:
        extra = (
            " /Type /XObject /Subtype /Image /Width 1 /ColorSpace /DeviceGray"
            f" /BitsPerComponent 8 /Height {image}"
        )
        picture = add(stream(os.urandom(image), extra, compress=False))
    streams = content if content is not None else [_page_stream(text) for text in pages]
    kids = []
    for number, data in enumerate(streams):
        resources = f"/Font << /F1 {font} 0 R >>"
        if picture and number == 0:
            resources += f" /XObject << /Im1 {picture} 0 R >>"
            data = b"q 100 0 0 100 0 0 cm /Im1 Do Q\n" + data
        contents = f" /Contents {add(stream(data))} 0 R" if data else ""
        kids.append(
            add(
                f"<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 595 842] "
                f"/Resources << {resources} >>{contents} >>".encode()
            )
        )
    if unused:
        add(stream(os.urandom(unused), compress=False))
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {tree} 0 R >>".encode()
    refs = " ".join(f"{kid} 0 R" for kid in kids)
    objects[tree - 1] = f"<< /Type /Pages /Kids [{refs}] /Count {len(kids)} >>".encode()
    return pdf_file(objects, root=catalog)

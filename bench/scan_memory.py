"""Peak memory of one scan for big messages of four shapes, as a multiple of the message.

    python bench/scan_memory.py [--size-mb 50] [--shape octet pdf text html ...]

Each shape is a short text part and one big part that makes up the message:
  - octet: a base64 application/octet-stream of random bytes (bench/memory_peak.py's)
  - pdf:   a base64 application/pdf: one page of text and a big image (a scanned letter)
  - text:  a quoted-printable text/plain body (accented words, paragraphs)
  - html:  a base64 text/html body (a long table)
  - text8: an 8-bit text/plain body
It prints the tracemalloc peak of ``Scanner.scan`` (the raw bytes are allocated before
tracing starts, so the figure is what the scan adds to them) and the time it took.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from milter.mail.envelope import Envelope  # noqa: E402
from milter.scan.scanner import Scanner  # noqa: E402

HEAD = (
    b"From: Alice Example <alice@example.org>\r\n"
    b"To: Bob Example <bob@example.net>\r\n"
    b"Subject: The big file\r\n"
    b"Message-ID: <scan-memory@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Hello Bob, here it is.\r\n\r\n"
)


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def pdf_bytes(size: int) -> bytes:
    """A valid one-page PDF with a line of text and an image stream of ``size`` bytes."""
    content = (
        b"BT /F1 12 Tf 72 720 Td (Convocation: please call us back.) Tj ET"
        b" q 100 0 0 100 72 500 cm /Im1 Do Q"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Image /Width 1000 /Height 1000 /ColorSpace /DeviceRGB"
        b" /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
        % size
        + os.urandom(size)
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _text_lines(size: int) -> bytes:
    line = "Le contrat signé est joint, merci de le renvoyer avant vendredi. Ça va?\n"
    paragraph = (line * 6 + "\n").encode("utf-8")
    return paragraph * (size // len(paragraph) + 1)


def _html(size: int) -> bytes:
    row = "<tr><td>Invoice line</td><td class='x'>42,00 &euro;</td><td>réglé</td></tr>\n"
    body = row.encode("utf-8") * (size // len(row) + 1)
    return b"<html><body><table>\n" + body + b"</table></body></html>\n"


def make_message(shape: str, size: int) -> bytes:
    """A message of about ``size`` bytes whose big part is of ``shape``."""
    if shape == "octet":
        part = b"Content-Type: application/octet-stream; name=contract.bin\r\n"
        body = _base64(os.urandom(size * 3 // 4))
        encoding = b"base64"
    elif shape == "pdf":
        part = b"Content-Type: application/pdf; name=letter.pdf\r\n"
        body = _base64(pdf_bytes(size * 3 // 4))
        encoding = b"base64"
    elif shape == "text":
        part = b"Content-Type: text/plain; charset=utf-8\r\n"
        body = binascii.b2a_qp(_text_lines(size * 9 // 10)).replace(b"\n", b"\r\n")
        encoding = b"quoted-printable"
    elif shape == "text8":
        part = b"Content-Type: text/plain; charset=utf-8\r\n"
        body = _text_lines(size).replace(b"\n", b"\r\n")
        encoding = b"8bit"
    elif shape == "html":
        part = b"Content-Type: text/html; charset=utf-8\r\n"
        body = _base64(_html(size * 3 // 4))
        encoding = b"base64"
    else:
        raise ValueError(shape)
    return (
        HEAD
        + b"--b1\r\n"
        + part
        + b"Content-Transfer-Encoding: "
        + encoding
        + b"\r\n\r\n"
        + body
        + b"\r\n--b1--\r\n"
    )


def scan_peak(scanner: Scanner, raw: bytes) -> tuple[int, float, object]:
    """The tracemalloc peak of scanning ``raw`` (bytes), its seconds and the verdict."""
    envelope = Envelope(mail_from="a@example.org", rcpt_to=("b@example.net",))
    tracemalloc.start()
    try:
        started = time.perf_counter()
        verdict = scanner.scan(raw, envelope, None)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, seconds, verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50)
    parser.add_argument("--shape", nargs="+", default=["octet", "pdf", "text", "html", "text8"])
    args = parser.parse_args()
    scanner = Scanner.from_rule_paths([ROOT / "rules"])
    for shape in args.shape:
        raw = make_message(shape, int(args.size_mb * 2**20))
        peak, seconds, verdict = scan_peak(scanner, raw)
        print(
            f"{shape:6} {len(raw) / 2**20:6.1f} MB: peak {peak / 2**20:7.1f} MB "
            f"({peak / len(raw):.2f}x), {seconds:5.1f} s, {verdict.action.value} "
            f"{verdict.score:g} {[hit.id for hit in verdict.rules]}"
        )
        del raw
    return 0


if __name__ == "__main__":
    sys.exit(main())

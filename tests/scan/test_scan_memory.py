"""The memory one scan takes for a big message is a fraction of the message (issue 10).

The stdlib parse made a scan take about 8 times the message (400 MB for 50 MB). Each
shape here is a 24 MiB message whose bulk is one part (bench/scan_memory.py builds them;
run it for the figures at 50 MB with the default limits). tracemalloc counts what the
scan allocates: the message's own bytes come before it. max_text_chars is lowered to
250,000 so that the text a scan reads, a cost bounded by that limit and not by the size
of the message (about 34 MB at the default 2,000,000), is small beside what is measured
here, the cost that grows with the message. Each bound is under what one whole copy of
the big part would cost on top of the work that has to be done.
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import pytest

from milter.config import shipped_rules_dir
from milter.mail.envelope import Envelope
from milter.mail.pdf import read_pdf
from milter.mail.view import MessageView, ViewLimits, parse_message
from milter.scan.scanner import Scanner, ScanSettings
from tests.helpers.limit_cases import build_pdf

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from scan_memory import make_message

SIZE = 24 * 2**20
LIMITS = ViewLimits(max_text_chars=250_000)
BOUNDS = {
    # Not read: decoding it whole alone would be 0.75 (its bytes), its text as str 1.0.
    # What it costs is a few chunks of a megabyte and the scan of the short text.
    "octet": 0.25,
    # Read within the budgets: its decoded bytes (0.75) and pypdf's copy of the big
    # image stream it resolves (0.75) cannot be avoided; one more copy would be 2.25.
    "pdf": 2.0,
    # Read to the limit, start and end: 4 x max_text_chars bytes are kept (1 MB); one
    # whole decoded copy of the part would be 0.9.
    "text": 0.5,
    "html": 0.5,
}


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_rule_paths([shipped_rules_dir()], ScanSettings(limits=LIMITS))


def scan_traced(scanner: Scanner, raw: bytes) -> tuple[int, MessageView]:
    """The peak a scan allocates (what Scanner.scan does, in its two steps), and the view."""
    envelope = Envelope(mail_from="a@example.org", rcpt_to=("b@example.net",))
    tracemalloc.start()
    try:
        view = parse_message(raw, envelope, LIMITS, mime_headers=scanner.mime_headers)
        scanner.scan_view(view)
        return tracemalloc.get_traced_memory()[1], view
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", BOUNDS)
def test_a_big_message_takes_a_bounded_share_of_its_size(shape: str, scanner: Scanner) -> None:
    raw = make_message(shape, SIZE)
    peak, view = scan_traced(scanner, raw)
    # What was read, so that a bound met by reading nothing would fail.
    big = max(view.attachments, key=lambda a: a.size) if view.attachments else None
    if shape == "octet":
        assert big is not None and big.size == SIZE * 3 // 4
    elif shape == "pdf":
        assert big is not None and "Convocation" in big.text
    elif shape == "text":
        assert view.text_parts[-1].rstrip().endswith("Ça va?")
        assert view.structure.partial
    else:
        assert view.html_parts[-1].visible.rstrip().endswith("réglé")
    assert peak / len(raw) < BOUNDS[shape], f"{shape}: {peak / len(raw):.2f}x"


def test_reading_a_pdf_does_not_copy_it() -> None:
    # pypdf asked BytesIO for getbuffer() to learn the file's size, which made BytesIO
    # copy the bytes it had shared: a second copy of every PDF read.
    pdf = build_pdf(["Convocation: please call us back."], unused=16 * 2**20)
    tracemalloc.start()
    try:
        result = read_pdf(pdf, max_bytes=10_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "Convocation" in result.text and result.padded
    assert peak < len(pdf) // 4


HEAD = b"From: a@b.c\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n"
HOSTILE = {
    # A scam after megabytes of blank lines: the run is held whole to be squeezed (1x)
    # and joined once (1x). The regex that squeezed it kept a backtracking state per
    # line: 70x.
    "blank lines": (
        b"Content-Type: text/plain\r\n\r\nHello\r\n" + b" \r\n" * (SIZE // 3) + b"Pay now\r\n",
        2.5,
    ),
    # A part without headers whose body looks like headers: once the parser is past the
    # (empty) header block, its body is a token like any other.
    "header-like body": (b"\r\n" + b"Key: value here\r\n" * (SIZE // 17), 0.5),
    # One line of quoted-printable: cut between escapes, not held whole.
    "one quoted-printable line": (
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + b"a=20=C3=A9" * (SIZE // 10),
        0.5,
    ),
    # Base64 with bytes outside the alphabet: decoded as decode_b does, in chunks.
    "broken base64": (
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b"AA*A A!AA=\r\n" * (SIZE // 12),
        0.25,
    ),
}


@pytest.mark.parametrize("shape", HOSTILE)
def test_a_hostile_big_part_takes_a_bounded_share_of_its_size(shape: str) -> None:
    body, bound = HOSTILE[shape]
    raw = HEAD + body + b"\r\n--zz--\r\n"
    tracemalloc.start()
    try:
        view = parse_message(raw, limits=LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert view.text_parts or view.attachments
    assert peak / len(raw) < bound, f"{shape}: {peak / len(raw):.2f}x"

"""Text of PDF attachments, within bounds, from good and broken files."""

from __future__ import annotations

import io
import logging
import random
import re
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from milter.mail.pdf import PdfBudget, read_pdf
from milter.scan.rules.examples import make_pdf
from tests.helpers.limit_cases import build_pdf


def pdf_text(
    data: bytes,
    *,
    max_pages: int = 10,
    max_seconds: float = 2.0,
    max_bytes: int = 10_000_000,
) -> str:
    """The text of the PDF in ``data`` (see read_pdf), with a budget of its own."""
    budget = PdfBudget(seconds=max_seconds)
    return read_pdf(data, max_pages=max_pages, max_bytes=max_bytes, budget=budget).text


def test_extracts_text() -> None:
    assert pdf_text(make_pdf("Convocation police")) == "Convocation police"


def test_pages_are_joined_by_newlines() -> None:
    data = make_pdf("Convocation", "Police federale (Belgique)", "Page three")
    assert pdf_text(data) == "Convocation\nPolice federale (Belgique)\nPage three"


def test_max_pages_reads_the_first_and_last_pages() -> None:
    data = make_pdf("one", "two", "three", "four", "five")
    assert pdf_text(data, max_pages=2) == "one\nfive"
    assert pdf_text(data, max_pages=3) == "one\ntwo\nfive"
    assert pdf_text(data, max_pages=0) == ""
    result = read_pdf(data, max_pages=2)
    assert (result.pages, result.read, result.unread, result.stopped) == (5, 2, 3, "pages")
    assert result.partial == "3 of 5 pages not read (page limit)"
    assert result.ends_read


def test_a_file_over_max_bytes_is_still_read() -> None:
    data = make_pdf("Convocation police")
    result = read_pdf(data, max_bytes=len(data) - 1)
    assert result.text == "Convocation police"
    assert result.oversize and not result.padded
    assert not read_pdf(data, max_bytes=len(data)).oversize


def test_no_time_left_reads_nothing() -> None:
    assert pdf_text(make_pdf("x"), max_seconds=0) == ""


def test_encrypted_with_empty_user_password_is_read() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("Convocation police"))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert pdf_text(buffer.getvalue()) == "Convocation police"


def test_encrypted_with_a_password_yields_nothing() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("Convocation police"))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert pdf_text(buffer.getvalue()) == ""


BROKEN = [
    pytest.param(b"", id="empty"),
    pytest.param(b"not a pdf at all", id="garbage"),
    pytest.param(b"%PDF-1.4\n", id="header-only"),
    pytest.param(make_pdf("Convocation police")[:200], id="truncated"),
    pytest.param(make_pdf("x").replace(b"startxref", b"startxxxx"), id="no-startxref"),
    pytest.param(b"%PDF-1.4\n" + b"[" * 50_000, id="deep-array"),
    pytest.param(b"%PDF-1.4\n1 0 obj\n<< /Length 99999999 >>\nstream\nx", id="lying-length"),
]


@pytest.mark.parametrize("data", BROKEN)
def test_broken_files_never_raise(data: bytes) -> None:
    assert isinstance(pdf_text(data), str)


def test_broken_xref_is_recovered_or_empty() -> None:
    data = make_pdf("Convocation police")
    # Offsets in the xref table off by a few bytes: pypdf repairs this.
    broken = data.replace(b"xref\n0", b"xref\n\n0")
    assert pdf_text(broken) in ("", "Convocation police")


def test_no_log_noise(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    pdf_text(make_pdf("x")[:-40])
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


def _mutations(data: bytes, seed: int) -> bytes:
    rng = random.Random(seed)
    out = bytearray(data)
    for _ in range(rng.randint(1, 20)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_mutated_files_never_raise(seed: int) -> None:
    data = _mutations(make_pdf("Convocation police", "second page"), seed)
    assert isinstance(pdf_text(data, max_seconds=1.0), str)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2_000))
def test_random_bytes_never_raise(data: bytes) -> None:
    assert isinstance(pdf_text(b"%PDF-1.7\n" + data, max_seconds=1.0), str)


# --- reading past the limits (issue 10) -------------------------------------------------


def test_blank_pages_do_not_count_against_the_page_budget() -> None:
    data = build_pdf(["Convocation"] + [""] * 25 + ["Police federale"])
    result = read_pdf(data, max_pages=3)
    assert result.text == "Convocation\nPolice federale"
    assert (result.pages, result.read, result.blank, result.unread) == (27, 2, 25, 0)
    assert result.partial == ""


def test_an_unused_stream_past_the_size_limit_is_padding() -> None:
    padded = build_pdf(["Convocation police"], unused=3_000_000)
    result = read_pdf(padded, max_bytes=2_000_000)
    assert result.text == "Convocation police"
    assert result.oversize and result.padded
    # The same bytes drawn on the page (a scan) are the document's own.
    used = build_pdf(["Convocation police"], image=3_000_000)
    result = read_pdf(used, max_bytes=2_000_000)
    assert result.oversize and not result.padded


def flate_bomb_pdf(inflated: int) -> bytes:
    """One page whose content stream inflates to ``inflated`` bytes (kilobytes on disk),
    made a megabyte at a time so the test never holds it whole."""
    packer = zlib.compressobj(9)
    chunk = b"0 0 m\n" * (1_000_000 // 6)
    packed = b"".join(packer.compress(chunk) for _ in range(inflated // len(chunk)))
    packed += packer.flush()
    page = build_pdf(["placeholder"])
    header = re.search(rb"<< /Length (\d+) /Filter /FlateDecode >>\nstream\n", page)
    assert header is not None
    end = header.end() + int(header.group(1))
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed
    return page[: header.start()] + stream + page[end:]


def test_a_flate_bomb_stops_at_the_decompression_budget() -> None:
    budget = PdfBudget(seconds=30, decompressed=5_000_000)
    started = time.monotonic()
    result = read_pdf(flate_bomb_pdf(200_000_000), budget=budget)
    assert time.monotonic() - started < 5  # 200 MB inflated would take far longer
    assert (result.stopped, result.cut_page) == ("bytes", True)
    assert result.partial == "one of its 1 pages cut short (decompression budget)"
    assert budget.decompressed == 0


def test_the_decompression_budget_is_shared_by_the_pdfs_of_a_message() -> None:
    data = make_pdf("Convocation police")
    budget = PdfBudget(decompressed=10_000)
    assert read_pdf(data, budget=budget).text == "Convocation police"
    spent = 10_000 - budget.decompressed
    assert spent > 0
    budget.decompressed = spent - 1  # room for all but one byte of the same file
    result = read_pdf(data, budget=budget)
    assert (result.text, result.stopped) == ("", "bytes")
    # Outside read_pdf pypdf decodes as usual: the budget is per reading.
    reader = PdfReader(io.BytesIO(data))
    assert reader.pages[0].extract_text() == "Convocation police"


def test_time_is_checked_inside_a_page() -> None:
    # One page of 100,000 text operators: seconds of pypdf work.
    operators = b"BT /F1 11 Tf 50 780 Td " + b"(word) Tj 1 0 Td " * 100_000 + b"ET"
    data = build_pdf([], content=[operators])
    started = time.monotonic()
    result = read_pdf(data, budget=PdfBudget(seconds=0.3))
    assert time.monotonic() - started < 1.5
    assert (result.stopped, result.cut_page) == ("time", True)


def test_a_spent_budget_reads_nothing_and_says_why() -> None:
    budget = PdfBudget(seconds=0.0)
    result = read_pdf(make_pdf("Convocation police"), budget=budget)
    assert (result.text, result.stopped) == ("", "time")

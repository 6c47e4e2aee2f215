"""Text of PDF attachments, within bounds, from good and broken files."""

from __future__ import annotations

import io
import logging
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from milter.examples import make_pdf
from milter.pdf_text import pdf_text


def test_extracts_text() -> None:
    assert pdf_text(make_pdf("Convocation police")) == "Convocation police"


def test_pages_are_joined_by_newlines() -> None:
    data = make_pdf("Convocation", "Police federale (Belgique)", "Page three")
    assert pdf_text(data) == "Convocation\nPolice federale (Belgique)\nPage three"


def test_max_pages() -> None:
    data = make_pdf("one", "two", "three")
    assert pdf_text(data, max_pages=2) == "one\ntwo"
    assert pdf_text(data, max_pages=0) == ""


def test_max_bytes() -> None:
    data = make_pdf("Convocation police")
    assert pdf_text(data, max_bytes=len(data) - 1) == ""
    assert pdf_text(data, max_bytes=len(data)) == "Convocation police"


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

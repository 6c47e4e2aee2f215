"""Hostile input through the whole scanner: every message gets a verdict, nothing raises."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from milter.config import shipped_rules_dir
from milter.mail.envelope import Envelope
from milter.scan.scanner import Scanner, ScanSettings
from milter.scan.verdict import Action

SEED = b"""\
From: =?utf-8?b?RGllIFBvbGl6ZWk=?= <polizei@example.org>
To: victim@example.net
Subject: =?iso-8859-1?q?Convocation_=E0_la_police?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

I h=E2=80=8Backed your device and recorded you. Pay 1.300 euro in bitcoin
to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa within 48 hours.
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+SSBoYWNrZWQgeW91ciBkZXZpY2U8L3A+PHNwYW4gc3R5bGU9ImRpc3BsYXk6bm9uZSI+aGlk
ZGVuPC9zcGFuPg==
--inner--
--outer
Content-Type: application/pdf; name="Convocation.pdf"
Content-Disposition: attachment; filename="Convocation.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCg==
--outer--
"""


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_rule_paths([shipped_rules_dir()], ScanSettings(regex_timeout=0.05))


def check(scanner: Scanner, raw: bytes) -> None:
    start = time.monotonic()
    verdict = scanner.scan(raw, Envelope(rcpt_to=("victim@example.net",)))
    assert isinstance(verdict.action, Action)
    assert verdict.score >= 0 or any(hit.score < 0 for hit in verdict.rules)
    for note in verdict.notes:
        assert isinstance(note, str) and note
    # Generous: the point is that nothing hangs, not how fast it is.
    assert time.monotonic() - start < 30


def mutate(data: bytes, cuts: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for position, length, insert in cuts:
        position %= len(out) + 1
        out[position : position + length] = insert
    return bytes(out)


COMMON = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@COMMON
@given(st.binary(max_size=4000))
def test_random_bytes(scanner: Scanner, data: bytes) -> None:
    check(scanner, data)


@COMMON
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(SEED)),
            st.integers(min_value=0, max_value=40),
            st.sampled_from(
                [
                    b"",
                    b"\r\n",
                    b"--outer\r\n",
                    b"--inner--\n",
                    b"=?utf-8?q?=ZZ?=",
                    b"\xff\xfe\x00",
                    b"Content-Type: multipart/mixed; boundary=\n",
                    b"Content-Transfer-Encoding: base64\n\n!!!!",
                    b"charset=unknown-8bit",
                    b"\x00" * 10,
                ]
            ),
        ),
        max_size=8,
    )
)
def test_mutated_message(scanner: Scanner, cuts: list[tuple[int, int, bytes]]) -> None:
    check(scanner, mutate(SEED, cuts))


def test_seed_itself_is_held(scanner: Scanner) -> None:
    verdict = scanner.scan(SEED, Envelope(rcpt_to=("victim@example.net",)))
    assert verdict.action.held, verdict


def test_deep_nesting_and_many_parts(scanner: Scanner) -> None:
    depth = 200
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(depth)
    )
    check(scanner, b"Subject: deep\n" + head + b"Content-Type: text/plain\n\nhello\n")
    parts = b"".join(b"--x\nContent-Type: text/plain\n\npart %d\n" % i for i in range(3000))
    check(
        scanner,
        b'Subject: many\nContent-Type: multipart/mixed; boundary="x"\n\n' + parts + b"--x--\n",
    )


def test_huge_single_line(scanner: Scanner) -> None:
    check(scanner, b"Subject: long\n\n" + b"A" * 3_000_000)

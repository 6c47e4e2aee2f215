"""Raw header edits: everything not edited stays byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from milter.headers import add_fields, header_block, prefix_subject, remove_fields, split_message

MESSAGE = (
    b"Received: from a\r\n\tby b\r\n"
    b"X-Scam-Verdict: accept\r\n"
    b"Subject: =?utf-8?q?caf=C3=A9?=\r\n"
    b"x-scam-score: -100\r\n  folded\r\n"
    b"\r\n"
    b"Body line\r\n.\r\nX-Scam-Verdict: in the body stays\r\n"
)


def test_round_trip_is_identical() -> None:
    assert split_message(MESSAGE).to_bytes() == MESSAGE


@given(st.binary(max_size=2000))
def test_round_trip_any_bytes(raw: bytes) -> None:
    assert split_message(raw).to_bytes() == raw


def test_remove_forged_verdict_headers() -> None:
    cleaned = remove_fields(split_message(MESSAGE), ["X-Scam-Verdict", "X-Scam-Score"]).to_bytes()
    assert cleaned == (
        b"Received: from a\r\n\tby b\r\n"
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\n"
        b"\r\n"
        b"Body line\r\n.\r\nX-Scam-Verdict: in the body stays\r\n"
    )


def test_remove_nothing_returns_same_bytes() -> None:
    raw = b"Subject: hi\r\n\r\nbody\r\n"
    assert remove_fields(split_message(raw), ["X-Scam-Verdict"]).to_bytes() == raw


def test_add_and_prefix() -> None:
    message = add_fields(split_message(MESSAGE), [("X-Scam-Verdict", "tag"), ("X-Scam-Score", "7")])
    message = prefix_subject(message, "[SCAM?] ")
    out = message.to_bytes()
    assert out.startswith(b"X-Scam-Verdict: tag\r\nX-Scam-Score: 7\r\nReceived: from a\r\n")
    assert b"Subject: [SCAM?] =?utf-8?q?caf=C3=A9?=\r\n" in out
    assert out.endswith(b"\r\n\r\nBody line\r\n.\r\nX-Scam-Verdict: in the body stays\r\n")
    # Scanning the tagged message again does not stack prefixes.
    assert prefix_subject(message, "[SCAM?] ").to_bytes() == out


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"From: a\n\nbody\n", b"X-Test: 1\nFrom: a\n\nbody\n"),  # bare LF message keeps LF
        (b"From: a\r\n", b"X-Test: 1\r\nFrom: a\r\n\r\n"),  # headers only: a separator is added
        (b"", b"X-Test: 1\r\n\r\n"),
    ],
)
def test_add_keeps_line_endings(raw: bytes, expected: bytes) -> None:
    assert add_fields(split_message(raw), [("X-Test", "1")]).to_bytes() == expected


def test_subject_added_when_missing() -> None:
    out = prefix_subject(split_message(b"From: a\r\n\r\nbody"), "[SCAM?] ").to_bytes()
    assert out == b"Subject: [SCAM?]\r\nFrom: a\r\n\r\nbody"


def test_header_values_must_be_one_ascii_line() -> None:
    with pytest.raises(ValueError, match="one ASCII line"):
        add_fields(split_message(MESSAGE), [("X-Scam-Rules", "A\r\nBcc: victim@example.org")])


def test_long_added_fields_are_folded_at_spaces_and_unfold_to_the_value() -> None:
    value = "mx.example.org; " + "; ".join(
        f"dkim=pass header.d=signer{n}.example header.s=selector{n}" for n in range(5)
    )
    message = add_fields(
        split_message(b"Subject: x\r\n\r\nbody\r\n"), [("Authentication-Results", value)]
    )
    field = message.fields[0]
    lines = field.split(b"\r\n")[:-1]
    assert len(lines) > 1
    assert all(len(line) <= 78 for line in lines)
    assert all(line.startswith(b" ") for line in lines[1:])
    assert field.replace(b"\r\n ", b" ") == f"Authentication-Results: {value}\r\n".encode()
    assert message.to_bytes().endswith(b"Subject: x\r\n\r\nbody\r\n")


def test_a_word_longer_than_a_line_is_never_split() -> None:
    word = "x" * 120
    message = add_fields(split_message(b"\n"), [("X-Long", f"{word} tail")])
    assert message.fields[0] == f"X-Long: {word}\n tail\n".encode()


def test_header_block_ends_where_split_message_ends_the_fields():
    for raw in (MESSAGE, MESSAGE.replace(b"\r\n", b"\n"), b"A: 1\n\r\nbody\n\nmore\r\n"):
        assert header_block(raw) == b"".join(split_message(raw).fields)
    assert header_block(b"A: 1\r\nB: 2\r\n") == b"A: 1\r\nB: 2\r\n"  # no body at all

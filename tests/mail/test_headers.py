"""Raw header edits: everything not edited stays byte for byte."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from milter.mail.headers import (
    HeaderSize,
    add_fields,
    first_field,
    header_block,
    header_end,
    header_size,
    prefix_subject,
    remove_fields,
    split_message,
)

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


# --- the split is exact and linear ------------------------------------------------------


def _split_line_by_line(raw: bytes) -> tuple[list[bytes], bytes, bytes]:
    """The definition split_message keeps, one line at a time (quadratic on a long
    field, so only for small inputs): a line starting with a space or tab continues the
    field above; an empty line ends the header block; the first other line that is no
    ``Name:`` line starts the body (the message's first line is a field whatever it is)."""
    fields: list[bytes] = []
    position = 0
    while position < len(raw):
        end = raw.find(b"\n", position)
        end = len(raw) if end == -1 else end + 1
        line = raw[position:end]
        if line in (b"\r\n", b"\n"):
            return fields, line, raw[end:]
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        elif re.match(rb"[!-9;-~]+[ \t]*:", line) or not fields:
            fields.append(line)
        else:
            return fields, b"", raw[position:]
        position = end
    return fields, b"", b""


_LINES = st.lists(
    st.sampled_from(
        [
            b"A: 1",
            b"X-Scam-Y: z",
            b"b :2",
            b" cont",
            b"\tcont",
            b" ",
            b"",
            b"\r",
            b"body",
            b":x",
            b"C:",
            b"\x00d: 4",
            b"  ",
            b"Subject: s",
        ]
    ),
    max_size=12,
)


@given(_LINES, st.sampled_from([b"\r\n", b"\n"]), st.booleans())
def test_split_matches_the_line_by_line_definition(lines, newline, last_newline) -> None:
    raw = newline.join(lines) + (newline if last_newline else b"")
    message = split_message(raw)
    fields, separator, body = _split_line_by_line(raw)
    assert (list(message.fields), message.separator, message.body) == (fields, separator, body)
    # header_size measures the same block, line for line.
    size = header_size(raw, 10_000, 10_000)
    assert not size.over
    assert size.bytes == len(b"".join(fields))
    assert size.lines == sum(f.count(b"\n") + (not f.endswith(b"\n")) for f in fields)


def test_header_size_stops_at_the_limits() -> None:
    raw = b"Subject: x\r\n" + b" y\r\n" * 100 + b"To: b\r\n\r\nbody\r\n"
    assert header_size(raw, 10_000, 10_000) == HeaderSize(12 + 400 + 7, 102, over=False)
    assert header_size(raw, 10_000, 101).over  # one line too many
    assert not header_size(raw, 10_000, 102).over  # exactly at the limit is allowed
    assert header_size(raw, 418, 10_000).over  # one byte too many
    assert not header_size(raw, 419, 10_000).over
    # A field longer than the byte limit is found over it without reading all of it.
    huge = b"Subject: x\r\n" + b" y\r\n" * 1_000_000
    assert header_size(huge, 1000, 10_000) == HeaderSize(1002, 249, over=True)


def test_first_field_looks_only_within_the_limits() -> None:
    raw = b"From: a\r\nSubject: hi\r\n  there\r\nsubject: second\r\n\r\nSubject: body\r\n"
    assert first_field(raw, "Subject", 1000, 100) == b"Subject: hi\r\n  there\r\n"
    assert first_field(raw, "to", 1000, 100) is None
    assert first_field(b"From: a\r\n\r\nSubject: body\r\n", "subject", 1000, 100) is None
    assert first_field(raw, "subject", 9, 100) is None  # starts at byte 9
    assert first_field(raw, "subject", 12, 100) == b"Sub"  # cut at byte 12
    assert first_field(raw, "subject", 22, 100) == b"Subject: hi\r\n"
    assert first_field(raw, "subject", 1000, 1) is None  # starts on line 2
    assert first_field(raw, "subject", 1000, 2) == b"Subject: hi\r\n  there\r\n"


def test_remove_fields_by_prefix_whatever_the_case() -> None:
    raw = (
        b"X-Scam-Released: by admin\r\nx-scam-anything: 1\r\n  folded\r\nX-SCAM-VERDICT: accept\r\n"
        b"X-Scamper: kept\r\nX-Other: kept\r\nX-Custom-Tag: gone\r\n\r\nX-Scam-Body: kept\r\n"
    )
    cleaned = remove_fields(split_message(raw), ["x-custom-tag"], ["X-Scam-"]).to_bytes()
    assert cleaned == b"X-Scamper: kept\r\nX-Other: kept\r\n\r\nX-Scam-Body: kept\r\n"


@given(st.lists(st.text(alphabet="ab ", min_size=1, max_size=90), min_size=1, max_size=30))
def test_folding_keeps_the_value_and_the_line_length(words: list[str]) -> None:
    value = " ".join(words).strip() or "a"
    (field,) = add_fields(split_message(b""), [("X-Long", value)]).fields
    lines = field.decode().split("\r\n")[:-1]
    assert "".join(lines) == f"X-Long: {value}"  # unfolding gives the value back
    # A line is over 78 only when it could not be cut: a single word after the name (on
    # the first line) or after its folding space.
    for index, line in enumerate(lines):
        assert len(line) <= 78 or " " not in line[8 if index == 0 else 1 :]


def _first_empty_line(raw: bytes) -> bytes:
    """The header block as header_block first defined it: up to the earliest empty line."""
    ends = [i for i in (raw.find(b"\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends) + 1] if ends else raw


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"A: 1\r\n\r\nbody\n\nmore",
        b"A: 1\n\nbody\r\n\r\n",
        b"A: 1\r\nB: 2\n\nbody",
        b"A: 1\n\r\n",
        b"no blank line\r\nat all",
        b"\n\n",
        b"\n\r\n",
    ],
)
def test_the_header_end_is_where_the_first_empty_line_is(raw: bytes) -> None:
    assert header_end(raw) == len(_first_empty_line(raw))


def test_the_header_end_matches_header_block_on_random_line_ends() -> None:
    rng = random.Random(10)
    pieces = [b"\n", b"\r", b"a", b"\r\n", b"\n\n", b":"]
    for _ in range(20000):
        raw = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert header_end(raw) == len(_first_empty_line(raw)), raw


def test_header_block_is_raw_up_to_the_header_end() -> None:
    raw = b"A: 1\r\n\r\nbody"
    assert header_block(raw) == b"A: 1\r\n" and header_block(b"no end") == b"no end"

"""DATA framing without I/O (milter/smtp/data.py): byte sequences in, message out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from milter.smtp.data import TERMINATOR, DataFramer


def frame(
    wire: bytes, limit: int = 10_000, cuts: list[int] | None = None
) -> tuple[DataFramer, int]:
    """Feed ``wire`` as a reader would: up to each delimiter, or less where a cut falls
    (a read stopped at a buffer limit). Returns the framer and the bytes consumed."""
    framer = DataFramer(limit)
    position = 0
    stops = sorted(set(cuts or []))
    while not framer.ended:
        delimiter = framer.next_read()
        if isinstance(delimiter, int):
            assert position + delimiter <= len(wire)
            framer.feed(wire[position : position + delimiter])
            position += delimiter
            continue
        found = wire.find(delimiter, position)
        assert found >= 0, "the wire ran out before the terminator"
        end = found + len(delimiter)
        cut = next((c for c in stops if position < c < end), None)
        if cut is not None:
            # What LimitOverrunError hands over: never a delimiter's first bytes.
            end = min(cut, found)
            if end <= position:
                end = found + len(delimiter)
        framer.feed(wire[position:end])
        position = end
    return framer, position


def stuff(message: bytes) -> bytes:
    return (b"\r\n" + message).replace(b"\r\n.", b"\r\n..")[2:]


def test_an_empty_message_ends_at_once() -> None:
    framer, used = frame(b".\r\nQUIT\r\n")
    assert used == 3
    assert framer.message() == b""
    assert framer.size == 0


def test_dot_stuffing_is_removed_and_the_next_command_is_left() -> None:
    framer, used = frame(b"..first\r\nline.\r\n..\r\nend\r\n.\r\nNOOP\r\n")
    assert framer.message() == b".first\r\nline.\r\n.\r\nend\r\n"
    assert used == len(b"..first\r\nline.\r\n..\r\nend\r\n.\r\n")


@pytest.mark.parametrize(
    "smuggled",
    [b"a\n.\r\nb\r\n", b"a\r\n.\nb\r\n", b"a\r.\r\nb\r\n", b"a\n.\nb\r\n"],
    ids=["LF.CRLF", "CRLF.LF", "CR.CRLF", "LF.LF"],
)
def test_only_crlf_dot_crlf_ends_the_message(smuggled: bytes) -> None:
    # SMTP smuggling: a bare LF or CR around the dot is message data.
    framer, _ = frame(stuff(smuggled) + b".\r\n")
    assert framer.message() == smuggled


def test_what_to_read_next_follows_what_was_received() -> None:
    framer = DataFramer(100)
    assert framer.next_read() == 3  # a line start (DATA's own CRLF counts): "." CRLF?
    framer.feed(b"ab")
    assert framer.next_read() == TERMINATOR  # all the rest in one read
    framer.feed(b"\r")
    assert framer.next_read() == b"\n.\r\n"
    framer.feed(b"\n.")
    assert framer.next_read() == b"\r\n"
    framer.feed(b"\r")
    assert framer.next_read() == b"\n"
    assert framer.feed(b"\n") is True
    assert framer.message() == b"ab\r\n"


def test_over_the_limit_is_read_to_the_end_and_kept_nowhere() -> None:
    body = b"x" * 50 + b"\r\n"
    framer, used = frame(body * 10 + b".\r\n", limit=len(body) * 10 - 1)
    assert framer.ended and framer.over_limit
    assert used == len(body) * 10 + 3
    assert framer.take_pieces() == []
    with pytest.raises(ValueError):
        framer.message()
    exact, _ = frame(body * 10 + b".\r\n", limit=len(body) * 10)
    assert not exact.over_limit
    assert exact.message() == body * 10


def test_pieces_handed_to_a_spool_come_back_first() -> None:
    framer = DataFramer(1000)
    framer.feed(b"one\r\n..two\r\n")
    spooled = b"".join(framer.take_pieces())
    framer.feed(b"three\r\n.\r\n")
    assert framer.message(spooled) == b"one\r\n.two\r\nthree\r\n"


_ATOMS = st.sampled_from([b"word", b".", b"..", b" ", b"\r\n", b"\n", b"\r", b"end.", b"\r\n."])


@given(
    st.lists(_ATOMS, max_size=40).map(b"".join),
    st.lists(st.integers(min_value=1, max_value=200), max_size=5),
)
def test_any_message_in_any_pieces_comes_back_exact(body: bytes, cuts: list[int]) -> None:
    message = body if body.endswith(b"\r\n") or not body else body + b"\r\n"
    wire = stuff(message) + b".\r\nRSET\r\n"
    framer, used = frame(wire, cuts=cuts)
    assert framer.message() == message
    assert wire[used:] == b"RSET\r\n"  # nothing past the terminator was taken
    assert framer.size == len(stuff(message))

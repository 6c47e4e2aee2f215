"""The milter protocol without I/O (milter/milterproto): byte sequences as Postfix sends
them, cut anywhere, decoded into events; replies encoded byte for byte; malformed and
oversized packets refused with a ProtocolError (the connection is closed, the worker
stays up)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from milter.milterproto import packets as p
from milter.milterproto.session import ACTIONS, WANTED_PROTOCOL, Message, Session


def packet(command: bytes, data: bytes = b"") -> bytes:
    return struct.pack(">I", len(data) + 1) + command + data


# A session as Postfix 3.x runs it (MILTER_README; values from its milter8.c defaults).
OFFERED = 0x1FF  # every action
POSTFIX_PROTOCOL = 0x1FFFFF  # every step and no-reply flag of protocol 6
CONVERSATION = [
    packet(b"O", struct.pack(">III", 6, OFFERED, POSTFIX_PROTOCOL)),
    packet(b"D", b"Cj\0mx.example.org\0{daemon_name}\0mx\0v\0Postfix 3.7\0"),
    packet(b"C", b"client.example.net\x004" + struct.pack(">H", 40123) + b"198.51.100.9\0"),
    packet(b"D", b"H\0"),
    packet(b"H", b"client.example.net\0"),
    packet(b"D", b"Mi\x004XyzQ\0{auth_authen}\0\0{mail_addr}\0alice@example.net\0"),
    packet(b"M", b"<alice@example.net>\0SIZE=1234\0"),
    packet(b"R", b"<bob@example.org>\0"),
    packet(b"L", b"From\0 Alice <alice@example.net>\0"),
    packet(b"L", b"Subject\0 Hello\0"),
    packet(b"N"),
    packet(b"B", b"Line one\r\nLine two\r\n"),
    packet(b"E"),
]


def run(data: bytes, session: Session) -> list[object]:
    reader = p.PacketReader()
    out: list[object] = []
    for event in reader.feed(data):
        result = session.receive(event)
        if result is not None:
            out.append(result)
    return out


def test_a_whole_conversation_gives_one_message() -> None:
    session = Session()
    out = run(b"".join(CONVERSATION), session)
    negotiated, message = out  # nothing else is answered: every reply was waived
    assert negotiated == p.options(ACTIONS, WANTED_PROTOCOL, 6)
    assert isinstance(message, Message)
    assert message.client.address == "198.51.100.9" and message.client.port == 40123
    assert message.client.hostname == "client.example.net"
    assert message.client.helo == "client.example.net"
    assert message.client.queue_id == "4XyzQ" and message.client.authenticated == ""
    assert message.mail_from == "alice@example.net"
    assert message.recipients == ("bob@example.org",)
    assert message.raw() == (
        b"From: Alice <alice@example.net>\r\nSubject: Hello\r\n\r\nLine one\r\nLine two\r\n"
    )


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=60))
def test_bytes_cut_anywhere_give_the_same_events(cuts: list[int]) -> None:
    data = b"".join(CONVERSATION)
    whole = p.PacketReader().feed(data)
    reader = p.PacketReader()
    events = []
    position = 0
    for cut in cuts:
        events.extend(reader.feed(data[position : position + cut]))
        position += cut
    events.extend(reader.feed(data[position:]))
    assert events == whole and reader.pending == 0


def test_an_mta_that_wants_replies_gets_continue() -> None:
    # Offered no "no reply" flags (an older MTA): each step is answered "continue".
    session = Session()
    offered = packet(b"O", struct.pack(">III", 6, OFFERED, 0x3F))
    stripped = packet(b"L", b"From\0Alice <alice@example.net>\0")
    out = run(offered + CONVERSATION[2] + stripped + CONVERSATION[12], session)
    assert out[0] == p.options(ACTIONS, 0, 6)
    assert out[1:3] == [p.continue_(), p.continue_()]
    # Without HEADER_LEADING_SPACE the MTA strips the space after the colon: put back.
    assert isinstance(out[3], Message) and out[3].raw().startswith(b"From: Alice")


def test_abort_starts_the_next_message_and_macros_stay_with_theirs() -> None:
    session = Session()
    run(b"".join(CONVERSATION[:9]), session)
    assert run(packet(b"A"), session) == []
    second = [
        packet(b"D", b"Mi\x005AbcD\0{auth_authen}\0carol\0"),
        packet(b"M", b"<carol@example.org>\0"),
        packet(b"R", b"<dave@example.org>\0"),
        packet(b"E", b"only body\r\n"),
    ]
    (message,) = run(b"".join(second), session)
    assert isinstance(message, Message)
    assert message.mail_from == "carol@example.org" and message.recipients == ("dave@example.org",)
    assert message.client.authenticated == "carol" and message.client.queue_id == "5AbcD"
    assert message.headers == () and message.raw() == b"\r\nonly body\r\n"
    assert message.client.address == "198.51.100.9"  # the connection's, kept


def test_a_body_over_the_limit_is_not_kept() -> None:
    session = Session(max_message=1000)
    head = b"".join(CONVERSATION[:11])
    chunks = b"".join(packet(b"B", b"x" * 600) for _ in range(3))
    (*_, message) = run(head + chunks + packet(b"E"), session)
    assert isinstance(message, Message) and message.over_limit
    assert len(message.body) <= 1000


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (struct.pack(">I", 0), "empty packet"),
        (struct.pack(">I", p.MAX_PACKET + 1) + b"B", "over"),
        (packet(b"Z", b"?"), "unknown command"),
        (packet(b"O", b"\0\0\0\6"), "shorter than 12"),
        (packet(b"C", b"name-only"), "without an address family"),
        (packet(b"L", b"no-value"), "header without a value"),
        (packet(b"M"), "without an address"),
    ],
)
def test_malformed_packets_are_protocol_errors(data: bytes, words: str) -> None:
    with pytest.raises(p.ProtocolError, match=words):
        p.PacketReader().feed(data)


def test_replies_byte_for_byte() -> None:
    assert p.continue_() == b"\0\0\0\x01c"
    assert p.accept() == b"\0\0\0\x01a"
    assert p.discard() == b"\0\0\0\x01d"
    assert p.tempfail() == b"\0\0\0\x01t"
    assert p.add_header("X-Scam-Score", "12") == b"\0\0\0\x11hX-Scam-Score\x0012\0"
    assert p.change_header(1, "Subject", "") == b"\0\0\0\x0em\0\0\0\x01Subject\0\0"
    assert p.insert_header(0, "A", "b") == b"\0\0\0\x09i\0\0\0\0A\0b\0"
    assert p.reply_code(550, "5.7.1 No\r\n100%") == b"\0\0\0\x14y550 5.7.1 No  100 \0"
    with pytest.raises(ValueError):
        p.reply_code(250, "ok")
    assert p.options(0x11, 0x200, 6) == b"\0\0\0\x0dO" + struct.pack(">III", 6, 0x11, 0x200)


def test_unix_and_unknown_clients() -> None:
    session = Session()
    unknown = packet(b"C", b"localhost\0U")
    run(packet(b"O", struct.pack(">III", 6, OFFERED, POSTFIX_PROTOCOL)) + unknown, session)
    assert session.client.address == "" and session.client.hostname == "localhost"

"""The Sendmail milter protocol, version 6, as Postfix speaks it: packets in and out,
without I/O (h11's discipline; issue 14). docs/milter.md has the references.

A packet is a 4-byte big-endian length, then that many bytes: a command character and
its data. The MTA drives: it sends a command, and the filter answers those that expect
an answer. Feed received bytes to ``PacketReader.feed`` in pieces cut anywhere; it
returns the events they complete. Encoding the replies is the functions at the end.

Strings are NUL-terminated. Header names and values, envelope addresses and macro
values are bytes on the wire; they are decoded here as UTF-8 with surrogateescape, so
that the exact bytes can be rebuilt (``wire_bytes``) for the message the scanner reads.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

# Commands the MTA sends (SMFIC_*).
ABORT: Final = b"A"
BODY: Final = b"B"
CONNECT: Final = b"C"
MACRO: Final = b"D"
BODYEOB: Final = b"E"
HELO: Final = b"H"
QUIT_NC: Final = b"K"
HEADER: Final = b"L"
MAIL: Final = b"M"
EOH: Final = b"N"
OPTNEG: Final = b"O"
QUIT: Final = b"Q"
RCPT: Final = b"R"
DATA: Final = b"T"
UNKNOWN: Final = b"U"

# Replies (SMFIR_*).
R_ADDHEADER: Final = b"h"
R_INSHEADER: Final = b"i"
R_CHGHEADER: Final = b"m"
R_ACCEPT: Final = b"a"
R_CONTINUE: Final = b"c"
R_DISCARD: Final = b"d"
R_REJECT: Final = b"r"
R_TEMPFAIL: Final = b"t"
R_REPLYCODE: Final = b"y"

# Actions the filter may take (SMFIF_*), offered by the MTA and chosen in the reply.
ADD_HEADERS: Final = 0x01
CHANGE_HEADERS: Final = 0x10
# Steps the filter can skip or need no reply for (SMFIP_*).
NO_CONNECT: Final = 0x01
NO_HELO: Final = 0x02
NO_MAIL: Final = 0x04
NO_RCPT: Final = 0x08
NO_BODY: Final = 0x10
NO_HEADERS: Final = 0x20
NO_EOH: Final = 0x40
NR_HEADER: Final = 0x80
NO_UNKNOWN: Final = 0x100
NO_DATA: Final = 0x200
NR_CONNECT: Final = 0x1000
NR_HELO: Final = 0x2000
NR_MAIL: Final = 0x4000
NR_RCPT: Final = 0x8000
NR_DATA: Final = 0x10000
NR_UNKNOWN: Final = 0x20000
NR_EOH: Final = 0x40000
NR_BODY: Final = 0x80000
HEADER_LEADING_SPACE: Final = 0x100000

VERSION: Final = 6
# Postfix's own limit for a packet is 64 KB of body chunk plus framing; a header is at
# most its header_size_limit. Past this a peer is broken or hostile.
MAX_PACKET: Final = 1_048_576
_LENGTH: Final = struct.Struct(">I")


class ProtocolError(Exception):
    """Bytes that are not the milter protocol: the connection is closed."""


@dataclass(frozen=True)
class OptionsOffered:
    version: int
    actions: int
    protocol: int


@dataclass(frozen=True)
class Connect:
    hostname: str
    family: str  # "4", "6", "L" (unix), "U" (unknown)
    port: int
    address: str


@dataclass(frozen=True)
class Macros:
    command: str  # the command they go with ("C", "H", "M", "R", "T", "E", "N")
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Helo:
    name: str


@dataclass(frozen=True)
class MailFrom:
    address: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recipient:
    address: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class Header:
    name: str
    value: str


@dataclass(frozen=True)
class EndOfHeaders:
    pass


@dataclass(frozen=True)
class BodyChunk:
    data: bytes


@dataclass(frozen=True)
class EndOfMessage:
    data: bytes = b""  # a last body chunk may ride along


@dataclass(frozen=True)
class Abort:
    """The MTA ends the message (RSET, a refused recipient, a client gone): the
    connection stays for the next one."""


@dataclass(frozen=True)
class DataCommand:
    pass


@dataclass(frozen=True)
class UnknownCommand:
    text: str


@dataclass(frozen=True)
class Quit:
    new_connection: bool = False  # QUIT_NC: the same connection serves another session


Event = (
    OptionsOffered
    | Connect
    | Macros
    | Helo
    | MailFrom
    | Recipient
    | Header
    | EndOfHeaders
    | BodyChunk
    | EndOfMessage
    | Abort
    | DataCommand
    | UnknownCommand
    | Quit
)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def wire_bytes(text: str) -> bytes:
    """The bytes a decoded string came as."""
    return text.encode("utf-8", "surrogateescape")


def _strings(data: bytes) -> list[str]:
    """NUL-terminated strings filling ``data``; a missing last NUL is tolerated."""
    if not data:
        return []
    if data.endswith(b"\0"):
        data = data[:-1]
    return [_text(piece) for piece in data.split(b"\0")]


def _decode(command: bytes, data: bytes) -> Event:
    if command == OPTNEG:
        if len(data) < 12:
            raise ProtocolError("option negotiation shorter than 12 bytes")
        version, actions, protocol = struct.unpack(">III", data[:12])
        return OptionsOffered(version, actions, protocol)
    if command == CONNECT:
        name, _, rest = data.partition(b"\0")
        if not rest:
            raise ProtocolError("connect without an address family")
        family = chr(rest[0])
        if family == "U":
            return Connect(_text(name), family, 0, "")
        if len(rest) < 3:
            raise ProtocolError("connect without a port")
        (port,) = struct.unpack(">H", rest[1:3])
        address = rest[3:].rstrip(b"\0")
        return Connect(_text(name), family, port, _text(address))
    if command == MACRO:
        if not data:
            raise ProtocolError("macro packet without a command")
        pieces = _strings(data[1:])
        values = dict(zip(pieces[0::2], pieces[1::2], strict=False))
        return Macros(chr(data[0]), values)
    if command == HELO:
        return Helo(_text(data.rstrip(b"\0")))
    if command in (MAIL, RCPT):
        args = _strings(data)
        if not args:
            raise ProtocolError("envelope command without an address")
        cls = MailFrom if command == MAIL else Recipient
        return cls(args[0], tuple(args[1:]))
    if command == HEADER:
        name, sep, value = data.partition(b"\0")
        if not sep:
            raise ProtocolError("header without a value")
        return Header(_text(name), _text(value[:-1] if value.endswith(b"\0") else value))
    if command == EOH:
        return EndOfHeaders()
    if command == BODY:
        return BodyChunk(data)
    if command == BODYEOB:
        return EndOfMessage(data)
    if command == ABORT:
        return Abort()
    if command == DATA:
        return DataCommand()
    if command == UNKNOWN:
        return UnknownCommand(_text(data.rstrip(b"\0")))
    if command in (QUIT, QUIT_NC):
        return Quit(new_connection=command == QUIT_NC)
    raise ProtocolError(f"unknown command {command!r}")


@dataclass
class PacketReader:
    """Buffers received bytes and cuts them into events."""

    max_packet: int = MAX_PACKET
    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Event]:
        """The events ``data`` completes (with what was buffered before); raises
        ProtocolError for a packet that is oversized, empty or not the protocol."""
        self._buffer += data
        events: list[Event] = []
        while len(self._buffer) >= 4:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length == 0:
                raise ProtocolError("empty packet")
            if length > self.max_packet:
                raise ProtocolError(f"packet of {length} bytes, over {self.max_packet}")
            if len(self._buffer) < 4 + length:
                break
            packet = bytes(self._buffer[4 : 4 + length])
            del self._buffer[: 4 + length]
            events.append(_decode(packet[:1], packet[1:]))
        return events

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a whole packet."""
        return len(self._buffer)


# --- replies ---------------------------------------------------------------------------


def packet(command: bytes, data: bytes = b"") -> bytes:
    return _LENGTH.pack(len(command) + len(data)) + command + data


def options(actions: int, protocol: int, version: int = VERSION) -> bytes:
    """The reply to OPTNEG: what the filter does and the steps it skips or needs no
    reply for."""
    return packet(OPTNEG, struct.pack(">III", version, actions, protocol))


def continue_() -> bytes:
    return packet(R_CONTINUE)


def accept() -> bytes:
    return packet(R_ACCEPT)


def discard() -> bytes:
    return packet(R_DISCARD)


def tempfail() -> bytes:
    return packet(R_TEMPFAIL)


def reject() -> bytes:
    return packet(R_REJECT)


def reply_code(code: int, text: str) -> bytes:
    """A reply with its own SMTP code and text: "550 5.7.1 ..." (4xx or 5xx)."""
    if not 400 <= code <= 599:
        raise ValueError("a milter reply code is 4xx or 5xx")
    # One line; Sendmail reads "%" as a format character, so none is sent.
    line = f"{code} {text}".replace("\r", " ").replace("\n", " ").replace("%", " ")
    return packet(R_REPLYCODE, line.encode("utf-8", "replace") + b"\0")


def add_header(name: str, value: str) -> bytes:
    return packet(R_ADDHEADER, wire_bytes(name) + b"\0" + wire_bytes(value) + b"\0")


def insert_header(index: int, name: str, value: str) -> bytes:
    """Insert a header at ``index`` (0: before the first)."""
    body = struct.pack(">I", index) + wire_bytes(name) + b"\0" + wire_bytes(value) + b"\0"
    return packet(R_INSHEADER, body)


def change_header(index: int, name: str, value: str) -> bytes:
    """Change the ``index``-th (from 1) header called ``name``; an empty value removes it."""
    body = struct.pack(">I", index) + wire_bytes(name) + b"\0" + wire_bytes(value) + b"\0"
    return packet(R_CHGHEADER, body)

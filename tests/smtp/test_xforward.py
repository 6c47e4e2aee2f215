"""XFORWARD parsing (front) and writing (relay), and xtext, as case tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from milter.mail.envelope import ClientInfo
from milter.smtp.xforward import (
    MAX_LINE,
    XForwardError,
    parse_xforward,
    xforward_lines,
    xtext_decode,
    xtext_encode,
)

EMPTY = ClientInfo()
ALL = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE")

XTEXT_CASES = [
    ("", ""),
    ("spike.porcupine.org", "spike.porcupine.org"),
    ("a+b", "a+2Bb"),
    ("a=b", "a+3Db"),
    ("a b", "a+20b"),
    ("tab\there", "tab+09here"),
    ("crlf\r\n", "crlf+0D+0A"),
    ("é", "+C3+A9"),
    ("[UNAVAILABLE]", "[UNAVAILABLE]"),
]


@pytest.mark.parametrize(("text", "encoded"), XTEXT_CASES)
def test_xtext_encode(text: str, encoded: str) -> None:
    assert xtext_encode(text) == encoded


@pytest.mark.parametrize(("text", "encoded"), XTEXT_CASES)
def test_xtext_decode(text: str, encoded: str) -> None:
    assert xtext_decode(encoded) == text


def test_xtext_decode_accepts_lower_case_hex() -> None:
    # RFC 3461 wants upper case; Postfix's decoder takes both, and so do we.
    assert xtext_decode("a+2bb") == "a+b"


@pytest.mark.parametrize("bad", ["a+", "a+2", "a+ZZ", "a=b", "a b", "a\x7fb", "é"])
def test_xtext_decode_refuses_malformed(bad: str) -> None:
    with pytest.raises(XForwardError) as info:
        xtext_decode(bad)
    assert info.value.reply.code == 501


@given(st.text())
def test_xtext_round_trip(text: str) -> None:
    encoded = xtext_encode(text)
    assert xtext_decode(encoded) == text
    # Only xchar (printable ASCII except "+" and "=") and "+HH" on the wire.
    assert all(33 <= ord(c) <= 126 and c != "=" for c in encoded)


PARSE_CASES = [
    # (argument, current, expected)
    (
        "NAME=spike.porcupine.org ADDR=168.100.189.2 PROTO=ESMTP",
        EMPTY,
        ClientInfo(name="spike.porcupine.org", addr="168.100.189.2", proto="ESMTP"),
    ),
    # Attributes not named keep their value (the README's incremental updates).
    (
        "HELO=spike.porcupine.org",
        ClientInfo(name="n", addr="192.0.2.1"),
        ClientInfo(name="n", addr="192.0.2.1", helo="spike.porcupine.org"),
    ),
    (
        "PORT=54321 IDENT=3CF6B2AAE8 SOURCE=REMOTE",
        EMPTY,
        ClientInfo(port=54321, ident="3CF6B2AAE8", source="REMOTE"),
    ),
    # Names are case-insensitive.
    ("name=a.example addr=192.0.2.7", EMPTY, ClientInfo(name="a.example", addr="192.0.2.7")),
    ("Helo=x.example", EMPTY, ClientInfo(helo="x.example")),
    # [UNAVAILABLE] in any case, and [TEMPUNAVAIL], erase.
    ("NAME=[UNAVAILABLE]", ClientInfo(name="old"), EMPTY),
    ("NAME=[unavailable] PORT=[Unavailable]", ClientInfo(name="old", port=25), EMPTY),
    ("NAME=[TEMPUNAVAIL]", ClientInfo(name="old"), EMPTY),
    # Postfix's IPv6 form; the prefix in any case.
    ("ADDR=IPv6:2001:db8::1", EMPTY, ClientInfo(addr="2001:db8::1")),
    ("ADDR=ipv6:2001:db8::1", EMPTY, ClientInfo(addr="2001:db8::1")),
    # "The address may be a non-IP address."
    ("ADDR=unix-socket", EMPTY, ClientInfo(addr="unix-socket")),
    # An IPv6 address without Postfix's prefix is still one; IPv4 as given.
    ("ADDR=2001:DB8::1", EMPTY, ClientInfo(addr="2001:db8::1")),
    ("ADDR=192.0.2.1", EMPTY, ClientInfo(addr="192.0.2.1")),
    # xtext decoding.
    ("HELO=a+2Bb", EMPTY, ClientInfo(helo="a+b")),
    ("HELO=caf+C3+A9.example", EMPTY, ClientInfo(helo="café.example")),
    # Control characters and spaces after decoding are neutered, as Postfix does:
    # a CR LF must never reach a header we write.
    (
        "HELO=evil+0D+0AX-Scam-Verdict:+20accept",
        EMPTY,
        ClientInfo(helo="evil??X-Scam-Verdict:?accept"),
    ),
    # Not UTF-8: replaced, not kept as surrogates.
    ("NAME=a+FFb", EMPTY, ClientInfo(name="a?b")),
    # Extra spaces between elements.
    ("NAME=a   ADDR=192.0.2.1", EMPTY, ClientInfo(name="a", addr="192.0.2.1")),
    ("PORT=0", EMPTY, ClientInfo(port=0)),
    ("PORT=65535", EMPTY, ClientInfo(port=65535)),
]


@pytest.mark.parametrize(("argument", "current", "expected"), PARSE_CASES)
def test_parse_xforward(argument: str, current: ClientInfo, expected: ClientInfo) -> None:
    assert parse_xforward(argument, current) == expected


PARSE_ERRORS = [
    "",
    "   ",
    "NAME",
    "NAME=",
    "=value",
    "FOO=bar",
    "NAME=a LOGIN=b",  # XCLIENT's, not XFORWARD's
    "PORT=abc",
    "PORT=65536",
    "PORT=-1",
    "PORT=２５",  # full-width digits: str.isdigit() says yes, a port they are not
    "ADDR=IPv6:not-an-address",
    # Written like an IP address, so it must be one.
    "ADDR=999.1.1.1",
    "ADDR=192.0.2",
    "ADDR=192.0.2.1.5",
    "ADDR=2001:db8::zz",
    "ADDR=1:2:3",
    "ADDR=IPv6:192.0.2.1",
    "HELO=a+",
    "HELO=a+G0",
    "NAME=" + "a" * 256,
    "PROTO=" + "P" * 65,
]


@pytest.mark.parametrize("argument", PARSE_ERRORS)
def test_parse_xforward_errors(argument: str) -> None:
    with pytest.raises(XForwardError) as info:
        parse_xforward(argument, EMPTY)
    reply = info.value.reply
    assert reply.code == 501
    assert reply.text.startswith("5.5.4 ")
    assert reply.text.isascii() and "\r" not in reply.text and "\n" not in reply.text


def test_parse_xforward_error_applies_nothing() -> None:
    # The good NAME before the bad PORT must not stick: the command fails as a whole.
    current = ClientInfo(name="old")
    with pytest.raises(XForwardError):
        parse_xforward("NAME=new PORT=x", current)
    assert current == ClientInfo(name="old")


def test_parse_xforward_error_text_is_safe_for_a_reply() -> None:
    with pytest.raises(XForwardError) as info:
        parse_xforward("\udcff=1", EMPTY)  # invalid UTF-8 as aiosmtpd hands it over
    assert info.value.reply.text.isascii()


FULL = ClientInfo(
    name="mail.example.org",
    addr="192.0.2.10",
    port=40000,
    proto="ESMTP",
    helo="mail.example.org",
    ident="4Xyz12",
    source="REMOTE",
)

LINES_CASES = [
    # (info, supported, expected lines)
    (
        FULL,
        ALL,
        [
            "XFORWARD NAME=mail.example.org ADDR=192.0.2.10 PORT=40000 PROTO=ESMTP"
            " HELO=mail.example.org IDENT=4Xyz12 SOURCE=REMOTE"
        ],
    ),
    # Only what the next hop announced, in Postfix's order, names in any case.
    (
        FULL,
        ["helo", "ADDR", "name"],
        ["XFORWARD NAME=mail.example.org ADDR=192.0.2.10 HELO=mail.example.org"],
    ),
    (FULL, (), []),
    (FULL, ["XCLIENT-ONLY"], []),
    # Unknown goes as [UNAVAILABLE], so the next hop does not mix in our connection.
    (
        ClientInfo(addr="192.0.2.1"),
        ["NAME", "ADDR", "PORT"],
        ["XFORWARD NAME=[UNAVAILABLE] ADDR=192.0.2.1 PORT=[UNAVAILABLE]"],
    ),
    # IPv6 with Postfix's prefix.
    (ClientInfo(addr="2001:db8::1"), ["ADDR"], ["XFORWARD ADDR=IPv6:2001:db8::1"]),
    # Values are xtext-encoded.
    (ClientInfo(helo="a b+c=d"), ["HELO"], ["XFORWARD HELO=a+20b+2Bc+3Dd"]),
    # A value whose encoding is over 255 characters would get a 501 from Postfix.
    (ClientInfo(helo="é" * 50), ["HELO"], ["XFORWARD HELO=[UNAVAILABLE]"]),
]


@pytest.mark.parametrize(("info", "supported", "expected"), LINES_CASES)
def test_xforward_lines(info: ClientInfo, supported: list[str], expected: list[str]) -> None:
    assert xforward_lines(info, supported) == expected


def test_xforward_lines_split_at_512_bytes() -> None:
    long_name = "n" * 250
    info = ClientInfo(name=long_name, helo="h" * 250, addr="192.0.2.1", ident="i" * 200)
    lines = xforward_lines(info, ALL)
    assert len(lines) > 1
    for line in lines:
        assert line.startswith("XFORWARD ")
        assert len(line.encode("ascii")) + 2 <= MAX_LINE  # with CRLF
    # Nothing lost in the split: reading the lines back gives the same data.
    current = ClientInfo()
    for line in lines:
        current = parse_xforward(line.removeprefix("XFORWARD "), current)
    assert current == info


# Printable, no DEL: those come back as "?" (neutered), which is tested above.
hosts = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, blacklist_characters="\x7f"),
    max_size=60,
)


@given(
    name=st.none() | hosts,
    addr=st.none() | st.ip_addresses().map(str),
    port=st.none() | st.integers(0, 65535),
    helo=st.none() | hosts,
    ident=st.none() | hosts,
)
def test_written_lines_read_back(
    name: str | None, addr: str | None, port: int | None, helo: str | None, ident: str | None
) -> None:
    info = ClientInfo(name=name, addr=addr, port=port, proto="ESMTP", helo=helo, ident=ident)
    current = ClientInfo()
    for line in xforward_lines(info, ALL):
        assert len(line) + 2 <= MAX_LINE
        current = parse_xforward(line.removeprefix("XFORWARD "), current)
    # A value too long for one attribute is dropped to [UNAVAILABLE]; the rest survive.
    for attr in ("name", "addr", "port", "helo", "ident"):
        sent = getattr(info, attr)
        got = getattr(current, attr)
        unknown = isinstance(sent, str) and (
            sent == ""
            or len(xtext_encode(sent)) > 255
            or sent.upper() in ("[UNAVAILABLE]", "[TEMPUNAVAIL]")
        )
        if sent is None or unknown:
            assert got is None
        else:
            assert got == sent

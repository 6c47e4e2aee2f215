"""One HOST:PORT parser for every endpoint (milter/hostport.py)."""

from __future__ import annotations

import pytest

from milter.hostport import host_port_text, parse_host_port

ACCEPTED = [
    # (text, default_port, port_zero, expected)
    ("mx.example.org:25", None, False, ("mx.example.org", 25)),
    ("192.0.2.1:10026", None, False, ("192.0.2.1", 10026)),
    ("[2001:db8::1]:53", None, False, ("2001:db8::1", 53)),
    ("  127.0.0.1:65535 ", None, False, ("127.0.0.1", 65535)),
    # Without a port where the caller has a default one.
    ("192.0.2.1", 53, False, ("192.0.2.1", 53)),
    ("[::1]", 53, False, ("::1", 53)),
    # Two colons or more without brackets: an IPv6 address, never address and port.
    ("::1", 53, False, ("::1", 53)),
    ("2001:db8::1:25", 53, False, ("2001:db8::1:25", 53)),
    # Port 0 only when asked for (a listening socket: any free port).
    ("127.0.0.1:0", None, True, ("127.0.0.1", 0)),
]


@pytest.mark.parametrize(("text", "default", "zero", "expected"), ACCEPTED)
def test_accepted(text: str, default: int | None, zero: bool, expected: tuple[str, int]) -> None:
    assert parse_host_port(text, default_port=default, port_zero=zero) == expected


REFUSED = [
    # (text, default_port, what the message says)
    ("mx.example.org", None, "port is missing"),
    ("2001:db8::1:25", None, "port is missing"),
    (":25", None, "host is missing"),
    ("[]:25", None, "host is missing"),
    ("", 53, "host is missing"),
    ("127.0.0.1:x", None, "not a number"),
    ("127.0.0.1:+25", None, "not a number"),
    ("127.0.0.1:٢٥", None, "not a number"),  # Arabic-Indic digits: isdigit() but not ASCII
    ("127.0.0.1:", None, "not a number"),
    ("127.0.0.1:65536", None, "out of range"),
    ("127.0.0.1:0", None, "out of range"),
    ("[::1", 53, "[ADDRESS]:PORT"),
    ("[::1]53", 53, "[ADDRESS]:PORT"),
]


@pytest.mark.parametrize(("text", "default", "message"), REFUSED)
def test_refused(text: str, default: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_host_port(text, default_port=default)


@pytest.mark.parametrize(
    ("host", "port", "text"),
    [
        ("127.0.0.1", 10026, "127.0.0.1:10026"),
        ("::1", 25, "[::1]:25"),
        ("mx.example", 0, "mx.example:0"),
    ],
)
def test_written_text_reads_back(host: str, port: int, text: str) -> None:
    assert host_port_text(host, port) == text
    assert parse_host_port(text, port_zero=True) == (host, port)

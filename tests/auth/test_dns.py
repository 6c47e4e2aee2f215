"""The DNS layer against a real DNS server on loopback."""

from __future__ import annotations

import socket
import time

import pytest

from milter.auth.dns import DnsClient, DnsSettings, DnsTempError, parse_server
from tests.helpers.dns_server import DnsZoneServer

ZONE = """
example.org.        300 IN TXT   "v=spf1 ip4:192.0.2.0/24 -all"
example.org.        300 IN A     192.0.2.10
example.org.        300 IN MX    10 mx.example.org.
mx.example.org.     300 IN AAAA  2001:db8::25
long.example.org.   300 IN TXT   "part one " "part two"
alias.example.org.  300 IN CNAME example.org.
short.example.org.  5   IN TXT   "short lived"
"""


@pytest.fixture(scope="module")
def server():
    with DnsZoneServer(ZONE, timeouts=["slow.example.org"], servfail=["broken.example.org"]) as s:
        yield s


def client(server: DnsZoneServer, **kwargs: object) -> DnsClient:
    return DnsClient(DnsSettings(servers=(("127.0.0.1", server.port),), **kwargs))


def test_answers_each_record_type(server):
    dns = client(server)
    assert dns.txt("example.org") == (b"v=spf1 ip4:192.0.2.0/24 -all",)
    assert dns.query("example.org", "A").records == ("192.0.2.10",)
    assert dns.query("example.org.", "MX").records == ((10, "mx.example.org"),)
    assert dns.query("MX.Example.ORG", "AAAA").records == ("2001:db8::25",)


def test_txt_strings_are_joined_but_kept_apart_in_the_raw_answer(server):
    dns = client(server)
    assert dns.query("long.example.org", "TXT").records == ((b"part one ", b"part two"),)
    assert dns.txt("long.example.org") == (b"part one part two",)


def test_cname_is_followed(server):
    assert client(server).txt("alias.example.org") == (b"v=spf1 ip4:192.0.2.0/24 -all",)


def test_missing_name_and_missing_type_are_answers_not_errors(server):
    dns = client(server)
    missing = dns.query("nothing.example.org", "TXT")
    assert missing.nxdomain and missing.records == ()
    nodata = dns.query("mx.example.org", "TXT")
    assert not nodata.nxdomain and nodata.records == ()


def test_answers_are_cached_until_their_ttl_runs_out(server):
    now = [1000.0]
    dns = DnsClient(DnsSettings(servers=(("127.0.0.1", server.port),)), clock=lambda: now[0])
    before = len(server.queries)
    for _ in range(3):
        assert dns.txt("short.example.org") == (b"short lived",)
    assert len(server.queries) == before + 1
    now[0] += 6  # past the record's 5 s TTL
    assert dns.txt("short.example.org") == (b"short lived",)
    assert len(server.queries) == before + 2


def test_negative_answers_are_cached_too(server):
    dns = client(server)
    before = len(server.queries)
    for _ in range(3):
        assert dns.query("absent.example.org", "TXT").nxdomain
    assert len(server.queries) == before + 1


def test_a_silent_server_is_a_temperror_within_the_timeout(server):
    dns = client(server, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(DnsTempError, match="timed out"):
        dns.txt("slow.example.org")
    assert time.monotonic() - started < 1.5


def test_servfail_is_a_temperror_and_is_not_cached(server):
    dns = client(server, timeout=0.5)
    before = len(server.queries)
    for _ in range(2):
        with pytest.raises(DnsTempError):
            dns.txt("broken.example.org")
    assert len(server.queries) >= before + 2


def test_no_server_listening_is_a_temperror():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dns = DnsClient(DnsSettings(servers=(("127.0.0.1", port),), timeout=0.5))
    started = time.monotonic()
    with pytest.raises(DnsTempError):
        dns.txt("example.org")
    assert time.monotonic() - started < 1.5


def test_a_deadline_in_the_past_asks_nobody(server):
    dns = client(server)
    before = len(server.queries)
    with pytest.raises(DnsTempError, match="no time left"):
        dns.txt("example.org", deadline=time.monotonic() - 1)
    assert len(server.queries) == before


def test_impossible_names_do_not_exist():
    dns = DnsClient(DnsSettings(servers=(("127.0.0.1", 9),)))
    assert dns.query("a" * 64 + ".example.org", "TXT").nxdomain
    assert dns.query("a..b", "TXT").nxdomain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("::1", ("::1", 53)),
    ],
)
def test_parse_server(text, expected):
    assert parse_server(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1:x", "127.0.0.1:0", "[::1", ":53"])
def test_parse_server_refuses_nonsense(text):
    with pytest.raises(ValueError, match="name server"):
        parse_server(text)


def test_cache_only_view_answers_from_the_cache_and_never_asks(server):
    now = [1000.0]
    dns = DnsClient(DnsSettings(servers=(("127.0.0.1", server.port),)), clock=lambda: now[0])
    dns.txt("example.org")
    dns.query("absent.example.org", "TXT")  # a cached "no such name" is an answer too
    before = len(server.queries)

    view = dns.cache_only()
    assert view.txt("example.org") == (b"v=spf1 ip4:192.0.2.0/24 -all",)
    assert view.query("ABSENT.example.org.", "TXT").nxdomain
    assert not view.missed
    with pytest.raises(DnsTempError, match="not in the cache"):
        view.query("example.org", "MX")
    assert view.missed
    # After a miss nothing more is answered, so the check stops early.
    with pytest.raises(DnsTempError):
        view.txt("example.org")
    assert len(server.queries) == before  # the name server was never asked

    # An answer expired in the cache is a miss, not a stale answer.
    fresh = dns.cache_only()
    now[0] += 301
    with pytest.raises(DnsTempError):
        fresh.txt("example.org")
    assert fresh.missed
    # And what the view could not answer, the client still can.
    assert dns.query("example.org", "MX").records == ((10, "mx.example.org"),)

"""SPF through our DNS layer against a real DNS server on loopback."""

from __future__ import annotations

import time

import pytest
import spf

from milter.auth.dns import DnsClient, DnsSettings
from milter.auth.spf import SpfResult, check_spf
from tests.helpers.dns_server import DnsZoneServer

# pyspf's own lookup calls the deprecated dns.resolver.query: it must never run.
pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

ZONE = r"""
pass.test.            300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
fail.test.            300 IN TXT "v=spf1 -all"
softfail.test.        300 IN TXT "v=spf1 ~all"
neutral.test.         300 IN TXT "v=spf1 ?all"
other.test.           300 IN TXT "v=other stuff"
split.test.           300 IN TXT "v=spf1 ip4:192.0.2.0/24 " "ip4:198.51.100.0/24 -all"
include.test.         300 IN TXT "v=spf1 include:pass.test -all"
redirect.test.        300 IN TXT "v=spf1 redirect=pass.test"
mx.test.              300 IN TXT "v=spf1 mx -all"
mx.test.              300 IN MX  10 mail.mx.test.
mail.mx.test.         300 IN A   203.0.113.25
mail.mx.test.         300 IN AAAA 2001:db8:25::25
a.test.               300 IN TXT "v=spf1 a/28 -all"
a.test.               300 IN A   203.0.113.1
ptr.test.             300 IN TXT "v=spf1 ptr -all"
7.113.0.203.in-addr.arpa. 300 IN PTR host.ptr.test.
host.ptr.test.        300 IN A   203.0.113.7
8.113.0.203.in-addr.arpa. 300 IN PTR liar.ptr.test.
liar.ptr.test.        300 IN A   203.0.113.99
exists.test.          300 IN TXT "v=spf1 exists:%{ir}.%{l1r+-}._allow.%{d} -all"
7.113.0.203.ceo._allow.exists.test. 300 IN A 127.0.0.2
exp.test.             300 IN TXT "v=spf1 -all exp=why.%{d}"
why.exp.test.         300 IN TXT "%{i} may not send for %{d} (%{l})"
v6.test.              300 IN TXT "v=spf1 ip6:2001:db8:cafe::/48 -all"
v6a.test.             300 IN TXT "v=spf1 a -all"
v6a.test.             300 IN AAAA 2001:db8:beef::1
two.test.             300 IN TXT "v=spf1 +all"
two.test.             300 IN TXT "v=spf1 -all"
syntax.test.          300 IN TXT "v=spf1 ip4:192.0.2.300 -all"
void.test.            300 IN TXT "v=spf1 a:nx1.void.test a:nx2.void.test a:nx3.void.test -all"
slowinclude.test.     300 IN TXT "v=spf1 include:slow.test -all"
brokeninclude.test.   300 IN TXT "v=spf1 include:broken.test -all"
bounce.test.          300 IN TXT "v=spf1 exists:%{l}.ok.%{d} -all"
postmaster.ok.bounce.test. 300 IN A 127.0.0.2
ptrslow.test.         300 IN TXT "v=spf1 ptr -all"
cached.test.          300 IN TXT "v=spf1 a:host.cached.test -all"
host.cached.test.     300 IN A   192.0.2.44
"""

TIMEOUT = 0.5
PTR_SLOW = "50.113.0.203.in-addr.arpa"  # 203.0.113.50's PTR lookup goes unanswered


@pytest.fixture(scope="module")
def server():
    with DnsZoneServer(ZONE, timeouts=["slow.test", PTR_SLOW], servfail=["broken.test"]) as s:
        yield s


@pytest.fixture(autouse=True)
def _pyspf_lookup_is_never_used(monkeypatch):
    # A tripwire, not a zone: every answer must come through DnsClient.
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"pyspf's own DNSLookup was called: {args}")

    monkeypatch.setattr(spf, "DNSLookup", refuse)


def client(server: DnsZoneServer, timeout: float = TIMEOUT) -> DnsClient:
    return DnsClient(DnsSettings(servers=(("127.0.0.1", server.port),), timeout=timeout))


def check(server: DnsZoneServer, ip: str, mail_from: str, helo: str = "mta.test") -> SpfResult:
    return check_spf(client(server), ip, mail_from, helo)


@pytest.mark.parametrize(
    ("ip", "mail_from", "expected"),
    [
        ("192.0.2.10", "user@pass.test", "pass"),
        ("198.51.100.1", "user@pass.test", "fail"),
        ("192.0.2.10", "user@fail.test", "fail"),
        ("192.0.2.10", "user@softfail.test", "softfail"),
        ("192.0.2.10", "user@neutral.test", "neutral"),
        ("192.0.2.10", "user@other.test", "none"),  # a TXT record that is not SPF
        ("192.0.2.10", "user@nowhere.test", "none"),  # NXDOMAIN
        ("198.51.100.9", "user@split.test", "pass"),  # one record in two strings (3.3)
        ("192.0.2.10", "user@include.test", "pass"),
        ("198.51.100.1", "user@include.test", "fail"),
        ("192.0.2.10", "user@redirect.test", "pass"),
        ("198.51.100.1", "user@redirect.test", "fail"),
        ("203.0.113.25", "user@mx.test", "pass"),
        ("203.0.113.26", "user@mx.test", "fail"),
        ("2001:db8:25::25", "user@mx.test", "pass"),
        ("203.0.113.14", "user@a.test", "pass"),  # a/28
        ("203.0.113.17", "user@a.test", "fail"),
        ("203.0.113.7", "user@ptr.test", "pass"),
        ("203.0.113.8", "user@ptr.test", "fail"),  # PTR name whose A is elsewhere
        ("203.0.113.7", "CEO@exists.test", "pass"),  # macros %{ir} %{l1r+-} %{d}
        ("203.0.113.7", "cfo@exists.test", "fail"),
        ("2001:db8:cafe::1", "user@v6.test", "pass"),
        ("2001:db8:cafd::1", "user@v6.test", "fail"),
        ("192.0.2.10", "user@v6.test", "fail"),  # ip6 never matches an IPv4 client
        ("2001:db8:beef::1", "user@v6a.test", "pass"),  # a looks up AAAA for IPv6
        ("::ffff:192.0.2.10", "user@pass.test", "pass"),  # IPv4-mapped: checked as IPv4
        ("192.0.2.10", "user@two.test", "permerror"),  # two SPF records (4.5)
        ("192.0.2.10", "user@syntax.test", "permerror"),
        ("192.0.2.10", "user@void.test", "permerror"),  # 3 void lookups (4.6.4)
        ("192.0.2.10", "<user@pass.test>", "pass"),
        ("192.0.2.10", "Pass.Test", "pass"),  # no "@": the whole is the domain
    ],
)
def test_results(server, ip, mail_from, expected):
    got = check(server, ip, mail_from)
    assert got.result == expected, got
    assert got.identity == "mailfrom"


def test_the_domain_is_the_one_checked(server):
    assert check(server, "192.0.2.10", "user@pass.test.") == SpfResult(
        "pass", "pass.test", "mailfrom", "sender SPF authorized"
    )
    # The last "@" splits: a quoted local part may hold one.
    got = check(server, "192.0.2.10", '"a@fail.test"@pass.test')
    assert (got.result, got.domain) == ("pass", "pass.test")


def test_the_explanation_is_expanded_into_the_reason(server):
    got = check(server, "192.0.2.10", "Boss@exp.test")
    assert got.result == "fail"
    assert got.reason == "192.0.2.10 may not send for exp.test (Boss)"


def test_an_empty_mail_from_checks_postmaster_at_the_helo(server):
    # RFC 7208 2.4: bounces are checked as postmaster@HELO, so %{l} is "postmaster".
    got = check(server, "192.0.2.10", "", helo="bounce.test")
    assert got == SpfResult("pass", "bounce.test", "helo", got.reason)
    assert check(server, "192.0.2.10", "<>", helo="fail.test").identity == "helo"
    assert check(server, "192.0.2.10", "<>", helo="fail.test").result == "fail"


@pytest.mark.parametrize(
    ("ip", "mail_from", "helo", "domain"),
    [
        ("192.0.2.10", "", "", ""),  # nothing to check
        ("192.0.2.10", "", "[192.0.2.10]", "[192.0.2.10]"),  # an address literal
        ("192.0.2.10", "", "OEMCOMPUTER", "OEMCOMPUTER"),  # not a domain name (4.3)
        ("192.0.2.10", "user@", "mta.test", ""),
        ("[UNAVAILABLE]", "user@fail.test", "mta.test", "fail.test"),  # Postfix XFORWARD
        ("", "user@fail.test", "mta.test", "fail.test"),
        ("192.0.2.300", "user@fail.test", "mta.test", "fail.test"),
    ],
)
def test_what_cannot_be_checked_is_none(server, ip, mail_from, helo, domain):
    got = check(server, ip, mail_from, helo)
    assert (got.result, got.domain) == ("none", domain)
    assert got.reason


@pytest.mark.parametrize(
    "mail_from",
    ["@", "@@", "a@b@c", "user@" + "x" * 300 + ".test", "user@a..test", "user@ä.test", "\x00"],
)
def test_odd_senders_never_raise(server, mail_from):
    assert check(server, "192.0.2.10", mail_from).result in ("none", "permerror")


def test_a_silent_server_is_a_temperror_within_the_timeout(server):
    for mail_from in ("user@slow.test", "user@slowinclude.test"):
        start = time.monotonic()
        got = check(server, "192.0.2.10", mail_from)
        elapsed = time.monotonic() - start
        assert got.result == "temperror", got
        assert "slow.test" in got.reason
        # dnspython may back off ~0.1 s after the attempt before giving up.
        assert elapsed < TIMEOUT + 0.5


def test_servfail_is_a_temperror(server):
    assert check(server, "192.0.2.10", "user@broken.test").result == "temperror"
    assert check(server, "192.0.2.10", "user@brokeninclude.test").result == "temperror"


def test_a_passed_deadline_is_a_temperror_without_asking(server):
    before = len(server.queries)
    got = check_spf(client(server), "192.0.2.10", "user@pass.test", "mta.test", 0.0)
    assert got.result == "temperror"
    assert len(server.queries) == before


def test_the_deadline_cuts_a_slow_lookup_short(server):
    start = time.monotonic()
    got = check_spf(
        client(server, timeout=10.0), "192.0.2.10", "user@slow.test", "mta.test", start + 0.3
    )
    assert got.result == "temperror"
    assert time.monotonic() - start < 1.0


def test_a_passed_deadline_is_a_temperror_even_with_the_answers_cached(server):
    dns = client(server)
    assert check_spf(dns, "192.0.2.44", "user@cached.test", "mta.test").result == "pass"
    got = check_spf(dns, "192.0.2.44", "user@cached.test", "mta.test", time.monotonic() - 1)
    assert got.result == "temperror"


def test_the_cache_answers_the_second_check(server):
    dns = client(server)
    assert check_spf(dns, "192.0.2.44", "user@cached.test", "mta.test").result == "pass"
    before = len(server.queries)
    lookups = dns.lookups
    assert check_spf(dns, "192.0.2.44", "user@cached.test", "mta.test").result == "pass"
    assert check_spf(dns, "192.0.2.45", "user@cached.test", "mta.test").result == "fail"
    assert len(server.queries) == before
    assert dns.lookups == lookups


def test_a_ptr_lookup_error_is_no_match_but_running_out_of_time_is_a_temperror(server):
    # RFC 7208 5.5: a DNS error on the PTR lookup makes "ptr" not match ("ptr -all": fail)...
    got = check_spf(client(server, timeout=0.3), "203.0.113.50", "u@ptrslow.test", "mta.test")
    assert got.result == "fail", got
    # ...but our own deadline expiring during it is no answer about the domain.
    start = time.monotonic()
    got = check_spf(
        client(server, timeout=10.0), "203.0.113.50", "u@ptrslow.test", "mta.test", start + 0.3
    )
    assert got.result == "temperror", got

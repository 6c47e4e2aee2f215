"""DMARC policy discovery against a real DNS server on loopback, and alignment."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest
from dns.exception import DNSException
from dns.name import from_text as dns_name_from_text
from hypothesis import example, given, settings
from hypothesis import strategies as st

from milter.auth.dkim import DkimResult
from milter.auth.dmarc import (
    DmarcRecord,
    DmarcRecordError,
    DmarcResult,
    aligned,
    check_dmarc,
    dmarc_result,
    organizational_domain,
    parse_dmarc_record,
)
from milter.auth.dns import DnsClient, DnsSettings
from milter.mail.domains import ascii_domain
from tests.helpers.dns_server import DnsZoneServer

ZONE = """
_dmarc.example.org.        300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"
_dmarc.own.example.org.    300 IN TXT "v=DMARC1; p=none"
_dmarc.belgium.eu.         300 IN TXT "v=DMARC1; p=quarantine; sp=reject"
_dmarc.fgov.be.            300 IN TXT "v=DMARC1; p=reject"
_dmarc.strict.example.     300 IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
_dmarc.multi.example.      300 IN TXT "v=DMARC1; p=reject"
_dmarc.multi.example.      300 IN TXT "v=DMARC1; p=none"
_dmarc.sub.multi.example.  300 IN TXT "v=DMARC1; p=none"
_dmarc.invalid.example.    300 IN TXT "v=DMARC1; p=bogus"
_dmarc.rua.example.        300 IN TXT "v=DMARC1; p=bogus; rua=mailto:d@rua.example"
_dmarc.other.example.      300 IN TXT "v=spf1 -all"
_dmarc.other.example.      300 IN TXT "this is not DMARC"
_dmarc.example.co.uk.      300 IN TXT "v=DMARC1; p=reject"
_dmarc.co.uk.              300 IN TXT "v=DMARC1; p=reject"
_dmarc.xn--bcher-kva.example. 300 IN TXT "v=DMARC1; p=reject"
"""


@dataclass(frozen=True)
class Spf:
    """The shape of milter.auth.spf.SpfResult (the SpfLike protocol)."""

    result: str
    domain: str
    identity: str = "mailfrom"
    reason: str = ""


def dkim_pass(domain: str, selector: str = "sel") -> DkimResult:
    return DkimResult("pass", domain, selector)


@pytest.fixture(scope="module")
def server():
    with DnsZoneServer(ZONE, timeouts=["_dmarc.slow.example", "_dmarc.slowsub.example"]) as s:
        yield s


@pytest.fixture
def dns(server):
    return DnsClient(DnsSettings(servers=(("127.0.0.1", server.port),), timeout=0.5))


# --- policy discovery -------------------------------------------------------------------


def test_record_at_the_from_domain_and_an_aligned_dkim_pass(dns):
    result = check_dmarc("example.org", None, [dkim_pass("example.org")], dns)
    assert (result.result, result.policy, result.record_domain) == ("pass", "reject", "example.org")
    assert result.dkim_aligned and not result.spf_aligned
    assert result.aligned_dkim_domain == "example.org"
    assert result.record == DmarcRecord("reject", rua=("mailto:dmarc@example.org",))


def test_p_reject_is_reported_on_a_fail(dns):
    result = check_dmarc("example.org", Spf("fail", "example.org"), [], dns)
    assert (result.result, result.policy) == ("fail", "reject")
    assert result.reason == "no aligned SPF or DKIM pass"


def test_a_subdomain_uses_the_org_domain_record_with_its_sp(dns):
    # police.belgium.eu publishes no record of its own: belgium.eu's applies, and for a
    # subdomain that is sp=reject, not p=quarantine.
    for sub in ("police.belgium.eu", "mail.police.belgium.eu"):
        result = check_dmarc(sub, None, [], dns)
        assert (result.result, result.policy, result.record_domain) == (
            "fail",
            "reject",
            "belgium.eu",
        )
    top = check_dmarc("belgium.eu", None, [], dns)
    assert (top.policy, top.record_domain) == ("quarantine", "belgium.eu")


def test_without_sp_a_subdomain_gets_p(dns):
    result = check_dmarc("just.fgov.be", None, [], dns)
    assert (result.policy, result.record_domain) == ("reject", "fgov.be")


def test_a_subdomain_record_of_its_own_wins_over_the_org_domain(dns):
    result = check_dmarc("own.example.org", None, [], dns)
    assert (result.result, result.policy, result.record_domain) == (
        "fail",
        "none",
        "own.example.org",
    )


def test_no_record_anywhere_is_none(dns, server):
    result = check_dmarc("mail.nodmarc.example", None, [dkim_pass("nodmarc.example")], dns)
    assert (result.result, result.policy, result.record_domain) == ("none", None, None)
    assert result.reason == "no DMARC record"
    # Alignment is still reported without a policy.
    assert result.dkim_aligned and result.aligned_dkim_domain == "nodmarc.example"
    asked = [name for name, rdtype in server.queries if rdtype == "TXT"]
    assert "_dmarc.mail.nodmarc.example" in asked and "_dmarc.nodmarc.example" in asked


def test_txt_records_that_are_not_dmarc_are_ignored(dns):
    result = check_dmarc("other.example", None, [], dns)
    assert (result.result, result.record_domain) == ("none", None)


def test_several_records_mean_no_dmarc_and_no_fallback(dns):
    # RFC 7489 6.6.3 step 5: several records end discovery ("DMARC processing is not
    # applied"); the org domain is not asked instead.
    result = check_dmarc("multi.example", None, [dkim_pass("multi.example")], dns)
    assert (result.result, result.policy, result.record_domain) == ("none", None, "multi.example")
    assert result.reason == "2 DMARC records at _dmarc.multi.example"
    # A subdomain with a single record of its own is not affected.
    assert check_dmarc("sub.multi.example", None, [], dns).result == "fail"
    # A subdomain without one falls back to the org domain, which has two: none.
    assert check_dmarc("x.multi.example", None, [], dns).result == "none"


def test_an_invalid_record_is_a_permerror(dns):
    result = check_dmarc("invalid.example", None, [dkim_pass("invalid.example")], dns)
    assert (result.result, result.policy, result.record_domain) == (
        "permerror",
        None,
        "invalid.example",
    )
    assert (
        result.reason == "invalid DMARC record at _dmarc.invalid.example: p=bogus is not a policy"
    )


def test_an_invalid_p_with_a_valid_rua_counts_as_p_none(dns):
    # RFC 7489 6.6.3 step 6(a).
    passing = check_dmarc("rua.example", None, [dkim_pass("rua.example")], dns)
    assert (passing.result, passing.policy) == ("pass", "none")
    assert "read as p=none" in passing.reason
    failing = check_dmarc("rua.example", None, [], dns)
    assert (failing.result, failing.policy) == ("fail", "none")


def test_a_dns_timeout_is_a_temperror_within_the_timeout(dns):
    started = time.monotonic()
    result = check_dmarc("slow.example", None, [dkim_pass("slow.example")], dns)
    assert (result.result, result.policy) == ("temperror", None)
    assert "timed out" in result.reason
    assert time.monotonic() - started < 1.0
    assert result.dkim_aligned  # alignment is still known


def test_a_timeout_at_the_org_domain_is_a_temperror_too(dns):
    started = time.monotonic()
    result = check_dmarc("a.slowsub.example", None, [], dns, deadline=started + 0.3)
    assert result.result == "temperror"
    assert time.monotonic() - started < 0.8


def test_a_deadline_already_past_is_a_temperror_without_asking(dns, server):
    before = len(server.queries)
    result = check_dmarc("example.org", None, [], dns, deadline=time.monotonic() - 1)
    assert result.result == "temperror"
    assert len(server.queries) == before


def test_co_uk_is_a_public_suffix_its_record_is_never_used(dns):
    # _dmarc.co.uk exists in this zone, but co.uk is a public suffix: example.co.uk is
    # its own organizational domain, and a.b.example.co.uk falls back to example.co.uk.
    assert check_dmarc("a.b.example.co.uk", None, [], dns).record_domain == "example.co.uk"
    assert check_dmarc("nodmarc.co.uk", None, [], dns).result == "none"


def test_an_idn_from_domain_is_compared_in_a_labels(dns):
    result = check_dmarc("BÜCHER.example", None, [dkim_pass("xn--bcher-kva.example")], dns)
    assert (result.result, result.domain, result.record_domain) == (
        "pass",
        "xn--bcher-kva.example",
        "xn--bcher-kva.example",
    )
    assert check_dmarc(
        "xn--bcher-kva.example", None, [dkim_pass("bücher.example")], dns
    ).result == ("pass")


@pytest.mark.parametrize("domain", ["", "  ", "[192.0.2.1]", "exa mple.org", "a..b", "-x.example"])
def test_a_from_domain_that_is_no_domain_name_is_a_permerror_without_lookups(dns, server, domain):
    before = len(server.queries)
    result = check_dmarc(domain, None, [], dns)
    assert (result.result, result.policy) == ("permerror", None)
    assert result.reason == "From domain is not a valid domain name"
    assert len(server.queries) == before


# --- alignment ----------------------------------------------------------------------------


def test_relaxed_dkim_alignment_accepts_a_subdomain_signer_strict_does_not(dns):
    relaxed = check_dmarc("example.org", None, [dkim_pass("mail.example.org")], dns)
    assert (relaxed.result, relaxed.aligned_dkim_domain) == ("pass", "mail.example.org")
    strict = check_dmarc("strict.example", None, [dkim_pass("mail.strict.example")], dns)
    assert (strict.result, strict.dkim_aligned) == ("fail", False)
    exact = check_dmarc("strict.example", None, [dkim_pass("strict.example")], dns)
    assert exact.result == "pass"


def test_relaxed_spf_alignment_accepts_a_subdomain_strict_does_not(dns):
    relaxed = check_dmarc("example.org", Spf("pass", "bounces.example.org"), [], dns)
    assert (relaxed.result, relaxed.spf_aligned, relaxed.dkim_aligned) == ("pass", True, False)
    strict = check_dmarc("strict.example", Spf("pass", "bounces.strict.example"), [], dns)
    assert (strict.result, strict.spf_aligned) == ("fail", False)
    exact = check_dmarc("strict.example", Spf("pass", "STRICT.example."), [], dns)
    assert exact.result == "pass"


def test_a_parent_domain_aligns_relaxed_with_a_subdomain_from(dns):
    result = check_dmarc("police.belgium.eu", None, [dkim_pass("belgium.eu")], dns)
    assert result.result == "pass"


@pytest.mark.parametrize(
    "spf",
    [
        Spf("pass", "example.org", identity="helo"),  # HELO never counts for DMARC
        Spf("softfail", "example.org"),
        Spf("neutral", "example.org"),
        Spf("pass", "example.net"),  # passes, but for another domain
        Spf("pass", "example.org.evil.example"),
    ],
)
def test_spf_that_does_not_count(dns, spf):
    result = check_dmarc("example.org", spf, [], dns)
    assert (result.result, result.spf_aligned) == ("fail", False)


@pytest.mark.parametrize(
    "dkim",
    [
        [DkimResult("fail", "example.org", "sel", "body hash mismatch")],
        [DkimResult("permerror", "example.org", "sel", "no key")],
        [DkimResult("neutral", "example.org", "ed", "ed25519")],
        [DkimResult("policy", "example.org", "sel", "l= leaves 10 body bytes unsigned")],
        [dkim_pass("example.net"), dkim_pass("example.org.evil.example")],
        [dkim_pass("org")],
    ],
)
def test_dkim_that_does_not_count(dns, dkim):
    result = check_dmarc("example.org", None, dkim, dns)
    assert (result.result, result.dkim_aligned, result.aligned_dkim_domain) == ("fail", False, None)


def test_an_exact_dkim_match_is_preferred_for_the_report(dns):
    result = check_dmarc(
        "example.org", None, [dkim_pass("list.example.org"), dkim_pass("example.org")], dns
    )
    assert result.aligned_dkim_domain == "example.org"


def test_an_aligned_dkim_temperror_makes_dmarc_a_temperror_not_a_fail(dns):
    # A DNS outage at the signer must not look like a forgery of the From domain.
    dkim = [DkimResult("temperror", "example.org", "sel", "key lookup failed")]
    result = check_dmarc("example.org", None, dkim, dns)
    assert (result.result, result.policy) == ("temperror", "reject")
    assert result.reason == "DKIM for example.org could not be checked (DNS)"
    spf = check_dmarc("example.org", Spf("temperror", "example.org"), [], dns)
    assert spf.result == "temperror"
    # A temperror for an unrelated domain changes nothing.
    other = [DkimResult("temperror", "example.net", "sel")]
    assert check_dmarc("example.org", None, other, dns).result == "fail"
    # And any aligned pass wins over a temperror.
    assert check_dmarc("example.org", None, [*dkim, dkim_pass("example.org")], dns).result == "pass"


# --- the Public Suffix List ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        # .eu has no second-level public suffixes: every *.belgium.eu is one organization.
        ("mail.police.belgium.eu", "belgium.eu"),
        ("police.belgium.eu", "belgium.eu"),
        ("europol.europa.eu", "europa.eu"),
        # .be: only ac.be is a public suffix (plus a few private ones); fgov.be and
        # belgium.be are each one organization for relaxed alignment.
        ("just.fgov.be", "fgov.be"),
        ("justice.belgium.be", "belgium.be"),
        ("ccb.belgium.be", "belgium.be"),
        ("safeonweb.be", "safeonweb.be"),
        ("www.kuleuven.ac.be", "kuleuven.ac.be"),
        ("ac.be", "ac.be"),
        # co.uk and gouv.fr are public suffixes.
        ("a.b.example.co.uk", "example.co.uk"),
        ("co.uk", "co.uk"),
        ("interieur.gouv.fr", "interieur.gouv.fr"),
        ("mail.interieur.gouv.fr", "interieur.gouv.fr"),
        ("www.ic3.gov", "ic3.gov"),
        ("interpol.int", "interpol.int"),
        ("politie.nl", "politie.nl"),
        # The private section counts: each blog is its own organization.
        ("x.foo.blogspot.com", "foo.blogspot.com"),
        # Case, final dot and U-labels are normalised.
        ("Mail.Example.ORG.", "example.org"),
        ("www.bücher.de", "xn--bcher-kva.de"),
        ("unknown.tld-that-does-not-exist", "unknown.tld-that-does-not-exist"),
    ],
)
def test_organizational_domain(domain, org):
    assert organizational_domain(domain) == org


def test_relaxed_alignment_spans_an_organization_such_as_fgov_be():
    # Worth knowing for the protected identities: under relaxed alignment any signer in
    # fgov.be (or belgium.eu) aligns with just.fgov.be (or police.belgium.eu).
    assert aligned("finances.fgov.be", "just.fgov.be", "r")
    assert not aligned("finances.fgov.be", "just.fgov.be", "s")
    assert aligned("other.belgium.eu", "police.belgium.eu", "r")
    assert not aligned("police.belgium.eu.example", "police.belgium.eu", "r")
    assert not aligned("belgium.eu", "police-belgium.eu", "r")
    assert not aligned("a.co.uk", "b.co.uk", "r")
    assert not aligned("", "example.org", "r")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Example.ORG.", "example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("_dmarc.example.org", "_dmarc.example.org"),
        ("", None),
        ("[192.0.2.1]", None),
        ("exa mple.org", None),
        ("a" * 64 + ".example", None),
        ("user@example.org", None),
    ],
)
def test_normalize_domain(text, expected):
    assert ascii_domain(text) == expected


# --- the record ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=DMARC1; p=none", DmarcRecord("none")),
        ("v=DMARC1;p=Reject;sp=QUARANTINE;", DmarcRecord("reject", "quarantine")),
        (
            "v=DMARC1; p=quarantine; adkim=s; aspf=s; pct=20; fo=1; future=x",
            DmarcRecord("quarantine", adkim="s", aspf="s", pct=20),
        ),
        # Syntax errors outside p= and sp= fall back to the defaults (RFC 7489 6.3).
        ("v=DMARC1; p=reject; adkim=x; aspf=; pct=200", DmarcRecord("reject")),
        ("v=DMARC1; p=reject; pct=-5", DmarcRecord("reject")),
        # The first of a repeated tag counts.
        ("v=DMARC1; p=reject; p=none", DmarcRecord("reject")),
        (
            "v=DMARC1; p=none; rua=mailto:a@example.org!10m, bad uri, https://r.example/x",
            DmarcRecord("none", rua=("mailto:a@example.org!10m", "https://r.example/x")),
        ),
        (
            "v=DMARC1; rua=mailto:a@example.org",
            DmarcRecord(
                "none",
                rua=("mailto:a@example.org",),
                note="no p=, read as p=none because rua= is valid (RFC 7489 6.6.3)",
            ),
        ),
    ],
)
def test_parse_dmarc_record(text, expected):
    assert parse_dmarc_record(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v=DMARC1", "no p="),
        ("v=DMARC1; p=block", "p=block is not a policy"),
        ("v=DMARC1; p=reject; sp=maybe", "sp=maybe is not a policy"),
        ("v=DMARC1; p=reject; sp=maybe; rua=not a uri", "sp=maybe is not a policy"),
        ("p=reject; v=DMARC1", "it does not start with v=DMARC1"),
    ],
)
def test_invalid_dmarc_records(text, message):
    with pytest.raises(DmarcRecordError, match=message):
        parse_dmarc_record(text)


@given(st.text(max_size=300))
def test_domain_helpers_never_raise(text):
    name = ascii_domain(text)
    assert name is None or (name == name.lower() and name.isascii())
    assert isinstance(organizational_domain(text), str)
    assert isinstance(aligned(text, "example.org", "r"), bool)


@given(st.text(max_size=200))
def test_record_parsing_raises_only_its_own_error(tail):
    try:
        record = parse_dmarc_record("v=DMARC1; " + tail)
    except DmarcRecordError:
        return
    assert record.policy in ("none", "quarantine", "reject")
    assert record.adkim in ("r", "s") and record.aspf in ("r", "s")
    assert 0 <= record.pct <= 100


def _normalize_with_dnspython(domain: str) -> str | None:
    """ascii_domain without its shortcut for names that are already A-labels."""
    text = domain.strip().rstrip(".")
    if not text or text.startswith("["):
        return None
    try:
        name = dns_name_from_text(text).to_text(omit_final_dot=True).lower()
    except (DNSException, ValueError, UnicodeError):
        return None
    if len(name) > 253 or not all(re.fullmatch(LABEL, part) for part in name.split(".")):
        return None
    return name


LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"


@settings(max_examples=2000, deadline=None)
@given(
    st.text(alphabet="aZz09_-.xn\\ é", max_size=80)
    | st.from_regex(
        r"(xn--[a-z0-9-]{1,10}\.)?[a-zA-Z0-9-]{1,70}(\.[a-zA-Z0-9_-]{1,5}){0,3}\.?",
        fullmatch=True,
    )
)
@example(".".join(["a" * 63] * 4))  # 255 characters: too long
@example(".".join(["b" * 63] * 3 + ["c" * 61]))  # 253: the longest
def test_plain_names_are_normalised_as_dnspython_does(text):
    assert ascii_domain(text) == _normalize_with_dnspython(text)


def test_dmarc_result_is_built_by_keyword_with_dkim_alignment_from_the_domain() -> None:
    bare = dmarc_result("permerror", "example.org", reason="several From domains")
    assert bare == DmarcResult(
        result="permerror",
        domain="example.org",
        policy=None,
        record_domain=None,
        spf_aligned=False,
        dkim_aligned=False,
        reason="several From domains",
    )
    signed = dmarc_result("pass", "example.org", aligned_dkim_domain="mail.example.org")
    assert signed.dkim_aligned and signed.aligned_dkim_domain == "mail.example.org"
    assert not signed.spf_aligned
    with pytest.raises(TypeError):
        dmarc_result("pass", "example.org", "reject")  # type: ignore[misc]


def test_dmarc_result_takes_the_policy_that_applies_from_the_record() -> None:
    record = DmarcRecord(policy="reject", subdomain_policy="quarantine")
    # The From domain's own record: p=.
    own = dmarc_result("fail", "example.org", record=record, record_domain="example.org")
    assert own.policy == "reject"
    # The organizational domain's record for a subdomain: sp= (RFC 7489 6.6.3).
    org = dmarc_result("fail", "a.example.org", record=record, record_domain="example.org")
    assert org.policy == "quarantine"
    # ... and p= when it has no sp=.
    plain = DmarcRecord(policy="none")
    assert (
        dmarc_result("fail", "a.example.org", record=plain, record_domain="example.org").policy
        == "none"
    )
    # No record, no policy, even when a bad one was found somewhere.
    assert dmarc_result("permerror", "example.org", record_domain="example.org").policy is None

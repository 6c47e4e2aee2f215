"""DKIM verification against a real DNS server on loopback, with messages dkimpy signed."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from milter.auth.dkim import ED25519_SUPPORTED, DkimResult, verify_dkim
from milter.auth.dns import DnsClient, DnsSettings
from tests.helpers.dkim_keys import key, key_record, message, sign
from tests.helpers.dns_server import DnsZoneServer


def zone() -> str:
    return "\n".join(
        [
            key_record("sel", "example.org", key()),
            key_record("other", "example.org", key("other")),
            # 2048 bits: the record is about 410 characters, published as three strings.
            key_record("big", "example.org", key("big", 2048), chunk=150),
            key_record("sel", "list.example.net", key("list")),
            key_record("old", "example.org", None),  # revoked: empty p=
            key_record("test", "example.org", key(), extra="t=y; "),
            key_record("strict", "example.org", key(), extra="t=s; "),
            key_record("sha1only", "example.org", key(), extra="h=sha1; "),
            'junk._domainkey.example.org. 300 IN TXT "v=DKIM1; p=notbase64!!"',
            'bad._domainkey.example.org. 300 IN TXT "this is; not a key"',
            'ed._domainkey.example.org. 300 IN TXT "v=DKIM1; k=ed25519; '
            'p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="',
        ]
    )


@pytest.fixture(scope="module")
def server():
    slow = ["sel._domainkey.slow.example", "sel._domainkey.slow2.example"]
    with DnsZoneServer(zone(), timeouts=slow, servfail=["sel._domainkey.broken.example"]) as s:
        yield s


@pytest.fixture
def dns(server):
    # A fresh client (and cache) per test, so each test sees its own lookups.
    return DnsClient(DnsSettings(servers=(("127.0.0.1", server.port),), timeout=0.5))


def only(results: tuple[DkimResult, ...]) -> DkimResult:
    assert len(results) == 1, results
    return results[0]


def test_a_valid_signature_passes(dns):
    result = only(verify_dkim(sign(message(), "example.org"), dns))
    assert result == DkimResult("pass", "example.org", "sel", "", "@example.org")


def test_a_2048_bit_key_split_over_several_txt_strings_passes(dns, server):
    raw = sign(message(), "example.org", "big", key("big", 2048))
    assert only(verify_dkim(raw, dns)).result == "pass"


def test_no_signature_is_an_empty_tuple(dns):
    assert verify_dkim(message(), dns) == ()


def test_an_altered_body_fails(dns):
    raw = sign(message(), "example.org").replace(b"attached letter", b"attached fine!")
    result = only(verify_dkim(raw, dns))
    assert (result.result, result.reason) == ("fail", "body hash mismatch")


def test_an_altered_signed_header_fails(dns):
    raw = sign(message(), "example.org").replace(b"Subject: Convocation", b"Subject: Pay now")
    result = only(verify_dkim(raw, dns))
    assert (result.result, result.reason) == ("fail", "signature did not verify")


def test_an_added_unsigned_header_does_not_matter(dns):
    raw = b"X-Added: later\r\n" + sign(message(), "example.org")
    assert only(verify_dkim(raw, dns)).result == "pass"


def test_a_missing_key_is_a_permerror(dns):
    result = only(verify_dkim(sign(message(), "example.org", "nokey"), dns))
    assert result.result == "permerror"
    assert result.reason == "no key at nokey._domainkey.example.org"


def test_a_revoked_key_is_a_permerror(dns):
    # RFC 6376 3.6.1: an empty p= means the key was revoked; 6.1.2 makes it PERMFAIL,
    # which RFC 8601 reports as permerror (the signature can never verify).
    result = only(verify_dkim(sign(message(), "example.org", "old"), dns))
    assert (result.result, result.reason) == ("permerror", "key revoked (empty p=)")


@pytest.mark.parametrize(
    ("selector", "reason"),
    [
        ("junk", "bad key record at junk._domainkey.example.org"),
        ("bad", "bad key record at bad._domainkey.example.org"),
        ("ed", "key type ed25519 does not match a=rsa-sha256"),
        ("sha1only", "a=rsa-sha256 not allowed by the key's h="),
    ],
)
def test_an_unusable_key_record_is_a_permerror(dns, selector, reason):
    result = only(verify_dkim(sign(message(), "example.org", selector), dns))
    assert result.result == "permerror"
    assert result.reason.startswith(reason)


def test_key_flag_s_refuses_a_subdomain_identity(dns):
    strict = sign(message(), "example.org", "strict", identity=b"@mail.example.org")
    assert only(verify_dkim(strict, dns)).result == "permerror"
    same = sign(message(), "example.org", "strict", identity=b"news@example.org")
    assert only(verify_dkim(same, dns)).result == "pass"


def test_a_key_in_testing_mode_still_verifies_and_says_so(dns):
    result = only(verify_dkim(sign(message(), "example.org", "test"), dns))
    assert (result.result, result.reason) == ("pass", "key in testing mode (t=y)")


def test_a_dns_timeout_is_a_temperror_within_the_timeout(dns):
    raw = sign(message(), "slow.example")
    started = time.monotonic()
    result = only(verify_dkim(raw, dns, deadline=started + 0.3))
    assert result.result == "temperror"
    assert "timed out" in result.reason
    assert time.monotonic() - started < 1.0


def test_servfail_is_a_temperror(dns):
    assert only(verify_dkim(sign(message(), "broken.example"), dns)).result == "temperror"


def test_one_deadline_bounds_every_signature(dns):
    # Two signatures on different silent domains: the second lookup gets what is left
    # of the deadline, not a timeout of its own.
    raw = sign(sign(message(), "slow.example"), "slow2.example")
    started = time.monotonic()
    results = verify_dkim(raw, dns, deadline=started + 0.6)
    assert [r.result for r in results] == ["temperror", "temperror"]
    assert time.monotonic() - started < 1.2


def test_a_key_is_looked_up_once_per_message_even_when_the_lookup_fails(dns):
    raw = sign(sign(message(), "slow.example"), "slow.example")
    started = time.monotonic()
    assert [r.result for r in verify_dkim(raw, dns)] == ["temperror", "temperror"]
    assert time.monotonic() - started < 0.9  # one 0.5 s timeout, not two


def test_two_signatures_one_good_one_bad_are_both_reported_in_order(dns):
    raw = sign(sign(message(), "example.org"), "example.org", "nokey")
    results = verify_dkim(raw, dns)
    assert [(r.result, r.selector) for r in results] == [("permerror", "nokey"), ("pass", "sel")]


def test_a_mailing_list_signature_next_to_a_broken_author_signature(dns):
    signed = sign(message(), "example.org")
    relayed = signed.replace(b"Subject: Convocation", b"Subject: [list] Convocation")
    raw = sign(relayed, "list.example.net", pair=key("list"))
    results = verify_dkim(raw, dns)
    assert [(r.domain, r.result) for r in results] == [
        ("list.example.net", "pass"),
        ("example.org", "fail"),
    ]


def test_relaxed_header_canonicalization_survives_refolding(dns):
    subject = "Convocation " + "word " * 20
    relaxed = sign(message(subject=subject), "example.org", canonicalize=(b"relaxed", b"relaxed"))
    simple = sign(message(subject=subject), "example.org", canonicalize=(b"simple", b"simple"))

    def refold(raw: bytes) -> bytes:
        # What a relaying MTA may do: fold the long Subject, change inner whitespace,
        # and add trailing whitespace to a body line.
        head, _, body = raw.partition(b"\r\n\r\n")
        head = head.replace(b"word word word", b"word\r\n\tword  word", 1)
        return head + b"\r\n\r\n" + body.replace(b"citizen,", b"citizen,  ")

    assert only(verify_dkim(refold(relaxed), dns)).result == "pass"
    assert only(verify_dkim(refold(simple), dns)).result == "fail"


def test_lf_line_ends_verify_like_crlf(dns):
    raw = sign(message(), "example.org").replace(b"\r\n", b"\n")
    assert only(verify_dkim(raw, dns)).result == "pass"


def test_rsa_sha1_is_not_accepted(dns):
    # RFC 8301 3.1: verifiers must not consider rsa-sha1 signatures valid.
    raw = sign(message(), "example.org", signature_algorithm=b"rsa-sha1")
    result = only(verify_dkim(raw, dns))
    assert result.result == "permerror"
    assert "RFC 8301" in result.reason


def test_from_must_be_signed(dns):
    raw = sign(message(), "example.org")
    raw = re.sub(rb"h=from : to", b"h=to", raw, count=1)
    assert b"h=to :" in raw
    result = only(verify_dkim(raw, dns))
    assert (result.result, result.reason) == ("permerror", "From field not signed")


def test_an_ed25519_signature_without_pynacl_is_neutral_not_an_exception(dns):
    # No pynacl on this host: an ed25519-sha256 signature (RFC 8463) cannot be checked.
    # It is reported as neutral (neither pass nor fail); a message signed with both an
    # rsa and an ed25519 key, as RFC 8463 recommends, still passes with the rsa one.
    rsa_signed = sign(message(), "example.org")
    ed = rsa_signed.replace(b"a=rsa-sha256", b"a=ed25519-sha256").replace(b"s=sel", b"s=ed")
    results = verify_dkim(sign(ed, "example.org"), dns)
    assert [r.selector for r in results] == ["sel", "ed"]
    assert results[0].result == "pass"
    if ED25519_SUPPORTED:
        assert results[1].result == "fail"  # the rsa bytes are no ed25519 signature
    else:
        assert results[1].result == "neutral"
        assert "pynacl" in results[1].reason


def test_a_body_length_limit_with_unsigned_text_after_it_is_not_a_pass(dns):
    # RFC 6376 8.2: with l= anyone can append text that the signature does not cover.
    signed = sign(message(), "example.org", length=True)
    assert only(verify_dkim(signed, dns)).result == "pass"
    appended = signed + b"Pay 1300 EUR in bitcoin within 48 hours.\r\n"
    result = only(verify_dkim(appended, dns))
    assert result.result == "policy"
    assert "unsigned" in result.reason


def test_signatures_over_the_limit_are_summed_up_in_one_neutral_result(dns):
    raw = message()
    for _ in range(4):
        raw = sign(raw, "example.org")
    results = verify_dkim(raw, dns, max_signatures=2)
    assert [r.result for r in results] == ["pass", "pass", "neutral"]
    assert results[2] == DkimResult("neutral", "", "", "2 more signatures not verified (limit 2)")


GARBAGE = [
    b"garbage",
    b"",
    b"v=1; a=rsa-sha256; d=example.org; s=sel",  # no b=, bh=, h=
    b"v=1; a=rsa-sha512; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA",
    b"v=2; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA",
    b"v=1; a=rsa-sha256; d=example.org; d=evil.example; s=sel; h=from; bh=AAAA; b=AAAA",
    b"v=1; a=rsa-sha256; d=exa(mple.org; s=sel; h=from; bh=AAAA; b=AAAA",
    b"v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=!!!!",
    b"v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA; l=",
    b"v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA; c=odd/odd",
    b"v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA; i=@evil.example",
    b"v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA; x=1",
    b"v=1; a=rsa-sha256; d=example.org; s=sel; h=from; bh=AAAA; b=AAAA; i=x",  # dkimpy IndexError
    b"v=1; a=rsa-sha256; d=example.org; s=; h=from; bh=AAAA; b=AAAA",
    b"v=1; a=rsa-sha256; d=\xff\xfe.example; s=sel; h=from; bh=AAAA; b=AAAA",
    b"v=1; a=rsa-sha256; d=" + b"a" * 300 + b"; s=sel; h=from; bh=AAAA; b=AAAA",
]


@pytest.mark.parametrize("value", GARBAGE)
def test_a_garbage_signature_is_a_permerror_not_an_exception(dns, value, caplog):
    raw = b"DKIM-Signature: " + value + b"\r\n" + message()
    result = only(verify_dkim(raw, dns))
    assert result.result == "permerror", result
    assert result.reason and "\n" not in result.reason
    assert not caplog.records  # an expected outcome, not a verifier bug in the log


def test_a_signature_with_a_wrong_body_hash_value_fails(dns):
    raw = sign(message(), "example.org")
    raw = re.sub(rb"bh=[^;]+;", b"bh=AAAA;", raw, count=1)
    assert only(verify_dkim(raw, dns)).result == "fail"


def test_a_header_block_dkimpy_cannot_parse_still_reports_its_signatures(dns):
    raw = sign(message(), "example.org")
    broken = raw.replace(b"To: victim", b"this line is no header field\r\nTo: victim")
    result = only(verify_dkim(broken, dns))
    assert (result.result, result.domain, result.selector) == ("permerror", "example.org", "sel")
    assert result.reason.startswith("message header cannot be parsed")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.binary(max_size=200), body=st.binary(max_size=100))
def test_verify_never_raises(dns, value, body):
    raw = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=sel; " + value + b"\r\n"
    raw += message() + body
    for result in verify_dkim(raw, dns, deadline=time.monotonic() + 0.5):
        assert result.result in {"pass", "fail", "neutral", "policy", "temperror", "permerror"}
        assert result.result != "pass"

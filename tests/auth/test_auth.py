"""Sender authentication end to end in the scanner and in `check`: a real DNS server on
loopback, messages signed with dkimpy, the shipped rules and identity registry.

The four verdicts of the protected-identity registry (issue 4):
(a) the authority's own domain in From without DMARC passing;
(b) a display name, subject or signature claiming an authority from another domain;
(c) a look-alike of an authority's domain;
(d) mail DMARC-aligned with the authority is not penalised for claiming it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from milter.auth.authenticator import INLINE_BYTES, Authenticator, dns_failed
from milter.auth.dns import DnsSettings
from milter.config import AuthSettings, shipped_rules_dir
from milter.mail import domains
from milter.mail.envelope import ClientInfo, Envelope
from milter.scan.scanner import Scanner
from milter.scan.verdict import Action
from tests.helpers.dkim_keys import key, key_record, message, sign
from tests.helpers.dns_server import DnsZoneServer

POLICE_IP = "192.0.2.10"  # the authority's outbound relay
FREEMAIL_IP = "198.51.100.20"
ATTACKER_IP = "203.0.113.5"


def zone() -> str:
    return "\n".join(
        [
            'police.be. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"',
            '_dmarc.police.be. 300 IN TXT "v=DMARC1; p=reject"',
            key_record("sel", "police.be", key("police")),
            'freemail.example. 300 IN TXT "v=spf1 ip4:198.51.100.20 -all"',
            '_dmarc.freemail.example. 300 IN TXT "v=DMARC1; p=none"',
            'police-belgium.eu. 300 IN TXT "v=spf1 ip4:203.0.113.5 -all"',
        ]
    )


@pytest.fixture(scope="module")
def dns_server():
    with DnsZoneServer(zone(), timeouts=["_dmarc.slow.example", "slow.example"]) as server:
        yield server


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_rule_paths([shipped_rules_dir()])


def authenticator(server: DnsZoneServer, **changes: object) -> Authenticator:
    dns = DnsSettings(servers=(("127.0.0.1", server.port),), timeout=0.5)
    return Authenticator(AuthSettings(dns=dns, **changes))


def envelope(mail_from: str, ip: str, helo: str = "mx.sender.example") -> Envelope:
    return Envelope(
        mail_from=mail_from,
        rcpt_to=("victim@example.net",),
        client=ClientInfo(addr=ip, helo=helo),
    )


NEWSLETTER = (
    "Beste burger,\r\n\r\nDeze maand geven we tips om veilig te bankieren.\r\n\r\n"
    "Met vriendelijke groeten,\r\nCommissaris-generaal van de Federale Politie\r\n"
)


def scan(scanner: Scanner, auth: Authenticator, raw: bytes, env: Envelope):
    results = auth.authenticate(raw, env)
    # every_rule: the tests read building blocks such as __FROM_AUTHENTIC_AUTHORITY.
    return results, scanner.scan(raw, env, results, every_rule=True)


def ids(verdict) -> set[str]:
    return {hit.id for hit in verdict.rules}


def test_a_real_domain_spoofed_fails_dmarc_and_is_held(dns_server, scanner):
    raw = message("Federale Politie <info@police.be>", "Oproeping", NEWSLETTER)
    results, verdict = scan(
        scanner, authenticator(dns_server), raw, envelope("info@police.be", ATTACKER_IP)
    )
    assert results.spf.result == "fail"
    assert results.dmarc.result == "fail" and results.dmarc.policy == "reject"
    assert "IDENTITY_DOMAIN_NOT_AUTHENTICATED" in ids(verdict)
    assert "IDENTITY_CLAIM_DISPLAY_NAME" not in ids(verdict)  # the domain is the authority's


def test_b_display_name_claim_over_freemail(dns_server, scanner):
    raw = message("Police Fédérale <pf.convocation@freemail.example>", "Convocation", "Bonjour")
    results, verdict = scan(
        scanner,
        authenticator(dns_server),
        raw,
        envelope("pf.convocation@freemail.example", FREEMAIL_IP),
    )
    # The sender authenticates perfectly well, as itself: SPF passes for freemail.example.
    assert results.spf.result == "pass" and results.dmarc.result == "pass"
    assert "IDENTITY_CLAIM_DISPLAY_NAME" in ids(verdict)
    evidence = next(h for h in verdict.rules if h.id == "IDENTITY_CLAIM_DISPLAY_NAME").evidence
    assert any("Police Fédérale" in quote for quote in evidence)


def test_b_signature_claim_from_another_domain(dns_server, scanner):
    raw = message("Bureau <bureau@freemail.example>", "Dossier", NEWSLETTER)
    _, verdict = scan(
        scanner, authenticator(dns_server), raw, envelope("bureau@freemail.example", FREEMAIL_IP)
    )
    assert "IDENTITY_CLAIM_SUBJECT_OR_SIGNATURE" in ids(verdict)


def test_c_lookalike_domain_even_when_it_authenticates(dns_server, scanner):
    raw = message("Federale Politie <dossier@police-belgium.eu>", "Oproeping", "Zie bijlage.")
    results, verdict = scan(
        scanner,
        authenticator(dns_server),
        raw,
        envelope("dossier@police-belgium.eu", ATTACKER_IP),
    )
    assert results.spf.result == "pass"  # the attacker owns the look-alike
    assert "IDENTITY_LOOKALIKE_DOMAIN" in ids(verdict)
    assert verdict.action in (Action.QUARANTINE, Action.REJECT)


def test_d_authentic_authority_is_not_penalised(dns_server, scanner):
    raw = sign(
        message("Federale Politie <info@police.be>", "Nieuwsbrief - Federale Politie", NEWSLETTER),
        "police.be",
        pair=key("police"),
    )
    results, verdict = scan(
        scanner, authenticator(dns_server), raw, envelope("info@police.be", POLICE_IP)
    )
    assert results.spf.result == "pass"
    assert [d.result for d in results.dkim] == ["pass"]
    assert results.dmarc.result == "pass"
    assert "__FROM_AUTHENTIC_AUTHORITY" in verdict.matched_ids
    assert not {i for i in ids(verdict) if i.startswith("IDENTITY_")}
    assert verdict.action is Action.ACCEPT


def test_d_dkim_alone_is_enough_after_forwarding(dns_server, scanner):
    # Forwarded by a relay SPF does not list: the aligned DKIM signature still proves it.
    raw = sign(
        message("Federale Politie <info@police.be>", "Nieuwsbrief", NEWSLETTER),
        "police.be",
        pair=key("police"),
    )
    results, verdict = scan(
        scanner, authenticator(dns_server), raw, envelope("info@police.be", ATTACKER_IP)
    )
    assert results.spf.result == "fail" and results.dmarc.result == "pass"
    assert not {i for i in ids(verdict) if i.startswith("IDENTITY_")}


def test_a_tampered_signature_does_not_count(dns_server, scanner):
    signed = sign(
        message("Federale Politie <info@police.be>", "Nieuwsbrief", NEWSLETTER),
        "police.be",
        pair=key("police"),
    )
    tampered = signed.replace(b"veilig te bankieren", b"1.300 euro te betalen")
    results, verdict = scan(
        scanner, authenticator(dns_server), tampered, envelope("info@police.be", ATTACKER_IP)
    )
    assert [d.result for d in results.dkim] == ["fail"]
    assert results.dmarc.result == "fail"
    assert "IDENTITY_DOMAIN_NOT_AUTHENTICATED" in ids(verdict)


def test_dns_timeout_is_temperror_within_the_deadline_and_still_scanned(dns_server, scanner):
    raw = message("Police Fédérale <x@slow.example>", "Convocation", "Bonjour")
    auth = authenticator(dns_server, timeout=1.5)
    started = time.monotonic()
    results, verdict = scan(scanner, auth, raw, envelope("x@slow.example", ATTACKER_IP))
    assert time.monotonic() - started < 2.5
    assert results.spf.result == "temperror"
    assert results.dmarc.result == "temperror"
    assert dns_failed(results)
    # Scanned all the same: the display-name claim needs no DNS.
    assert "IDENTITY_CLAIM_DISPLAY_NAME" in ids(verdict)


def test_dns_server_down_is_temperror_never_pass(scanner):
    dns = DnsSettings(servers=(("127.0.0.1", 9),), timeout=0.3)
    auth = Authenticator(AuthSettings(dns=dns, timeout=2))
    raw = message("Federale Politie <info@police.be>", "Oproeping", NEWSLETTER)
    results, verdict = scan(scanner, auth, raw, envelope("info@police.be", POLICE_IP))
    assert results.spf.result == "temperror" and results.dmarc.result == "temperror"
    assert "IDENTITY_DOMAIN_UNVERIFIED" in ids(verdict)
    assert "IDENTITY_DOMAIN_NOT_AUTHENTICATED" not in ids(verdict)


def test_client_from_trusted_received_header(dns_server):
    raw = (
        b"Received: from mx.sender.example (mx.sender.example [192.0.2.10])\r\n"
        b"\tby mx.example.org (Postfix) with ESMTP id 1; Fri, 27 Nov 2026 10:00:00 +0100\r\n"
        b"Return-Path: <info@police.be>\r\n"
    ) + message("Federale Politie <info@police.be>", "Nieuwsbrief", NEWSLETTER)
    auth = authenticator(dns_server, trusted_mtas=("mx.example.org",))
    results = auth.authenticate(raw, Envelope())
    assert (results.client_ip, results.spf.result, results.spf.domain) == (
        POLICE_IP,
        "pass",
        "police.be",
    )
    untrusted = authenticator(dns_server).authenticate(raw, Envelope())
    assert untrusted.spf is None and untrusted.client_ip == ""


def test_several_from_domains_cannot_pass_dmarc(dns_server):
    raw = message("Police <info@police.be>, Bob <bob@freemail.example>", "x", "y")
    results = authenticator(dns_server).authenticate(
        raw, envelope("bob@freemail.example", FREEMAIL_IP)
    )
    assert results.dmarc.result == "permerror"
    assert results.dmarc.domain == "freemail.example,police.be"


def test_loopback_client_is_not_spf_checked(dns_server):
    raw = message("A <a@police.be>", "x", "y")
    results = authenticator(dns_server).authenticate(raw, envelope("a@police.be", "127.0.0.1"))
    assert results.spf is None


def test_the_cache_answers_the_second_message(dns_server):
    auth = authenticator(dns_server)
    raw = message("Police Fédérale <pf@freemail.example>", "Convocation", "Bonjour")
    auth.authenticate(raw, envelope("pf@freemail.example", FREEMAIL_IP))
    before = len(dns_server.queries)
    auth.authenticate(raw, envelope("pf@freemail.example", FREEMAIL_IP))
    assert len(dns_server.queries) == before


class ThreadCounter:
    """asyncio.to_thread, counting the calls that leave the event loop."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = asyncio.to_thread

    async def __call__(self, func, /, *args, **kwargs):
        self.calls += 1
        return await self.real(func, *args, **kwargs)


def test_cached_answers_are_used_on_the_loop_the_network_only_in_a_thread(
    dns_server, monkeypatch: pytest.MonkeyPatch
):
    counter = ThreadCounter()
    monkeypatch.setattr(asyncio, "to_thread", counter)
    auth = authenticator(dns_server)
    signed = sign(
        message("Federale Politie <info@police.be>", "Nieuwsbrief", NEWSLETTER),
        "police.be",
        pair=key("police"),
    )
    env = envelope("info@police.be", POLICE_IP)
    expected = authenticator(dns_server).authenticate(signed, env)  # another cache
    assert (expected.spf.result, expected.dmarc.result) == ("pass", "pass")

    # Nothing cached yet: the lookups go to the network, so in a worker thread.
    assert asyncio.run(auth.authenticate_async(signed, env)) == expected
    assert counter.calls == 1
    # Everything cached: on the loop, with the same outcome, and nobody is asked.
    before = len(dns_server.queries)
    assert asyncio.run(auth.authenticate_async(signed, env)) == expected
    assert counter.calls == 1
    assert len(dns_server.queries) == before

    # One answer not cached (another sender's SPF): the whole check runs again in a
    # thread, never an outcome made of what the cache happened to hold.
    other = envelope("pf@freemail.example", FREEMAIL_IP)
    mixed = authenticator(dns_server).authenticate(signed, other)
    assert asyncio.run(auth.authenticate_async(signed, other)) == mixed
    assert counter.calls == 2
    # A failed lookup is never cached: a slow name server is always waited for in a thread.
    slow = message("Police <x@slow.example>", "Convocation", "Bonjour")
    slow_env = envelope("x@slow.example", ATTACKER_IP)
    for attempt in (1, 2):
        results = asyncio.run(auth.authenticate_async(slow, slow_env))
        assert results.spf.result == "temperror"
        assert counter.calls == 2 + attempt
    # A big message is hashed in a thread even when every answer is cached.
    big = sign(
        message("Federale Politie <info@police.be>", "Nieuwsbrief", "x" * INLINE_BYTES),
        "police.be",
        pair=key("police"),
    )
    assert asyncio.run(auth.authenticate_async(big, env)).dmarc.result == "pass"
    assert counter.calls == 5


# --- `scam-milter check` -----------------------------------------------------------------


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "milter.cli", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "raw_args", "rule"),
    [
        (
            "a",
            ("Federale Politie <info@police.be>", "Oproeping", NEWSLETTER, ATTACKER_IP),
            "IDENTITY_DOMAIN_NOT_AUTHENTICATED",
        ),
        (
            "b",
            ("Police Fédérale <pf@freemail.example>", "Convocation", "Bonjour", FREEMAIL_IP),
            "IDENTITY_CLAIM_DISPLAY_NAME",
        ),
        (
            "c",
            ("Politie <dossier@police-belgium.eu>", "Oproeping", "Zie bijlage.", ATTACKER_IP),
            "IDENTITY_LOOKALIKE_DOMAIN",
        ),
    ],
)
def test_check_reports_auth_and_identity_rules(dns_server, tmp_path: Path, name, raw_args, rule):
    from_addr, subject, body, ip = raw_args
    path = tmp_path / f"{name}.eml"
    path.write_bytes(message(from_addr, subject, body))
    mail_from = from_addr.split("<")[1].rstrip(">")
    result = check(
        "--json",
        "--dns-server",
        dns_server.address,
        "--client-ip",
        ip,
        "--helo",
        "mx.sender.example",
        "--mail-from",
        mail_from,
        str(path),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert rule in {r["id"] for r in report["rules"]}
    auth = report["auth"]
    assert auth["spf"]["domain"] == mail_from.split("@")[1]
    assert auth["dmarc"]["domain"] == mail_from.split("@")[1]
    assert auth["spf"]["result"] in ("pass", "fail")


def test_check_d_signed_by_the_authority(dns_server, tmp_path: Path):
    path = tmp_path / "d.eml"
    path.write_bytes(
        sign(
            message("Federale Politie <info@police.be>", "Nieuwsbrief", NEWSLETTER),
            "police.be",
            pair=key("police"),
        )
    )
    result = check(
        "--json",
        "--dns-server",
        dns_server.address,
        "--client-ip",
        POLICE_IP,
        "--mail-from",
        "info@police.be",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "accept", report["rules"]
    assert report["auth"]["dkim"][0]["result"] == "pass"
    assert report["auth"]["dkim"][0]["domain"] == "police.be"
    assert report["auth"]["dmarc"]["result"] == "pass"


def test_check_text_output_shows_the_results(dns_server, tmp_path: Path):
    path = tmp_path / "a.eml"
    path.write_bytes(message("Federale Politie <info@police.be>", "Oproeping", NEWSLETTER))
    result = check(
        "--dns-server",
        dns_server.address,
        "--client-ip",
        ATTACKER_IP,
        "--mail-from",
        "info@police.be",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    assert "spf=fail" in result.stdout and "dmarc=fail" in result.stdout


def test_check_bad_dns_server_is_one_line(tmp_path: Path):
    path = tmp_path / "m.eml"
    path.write_bytes(message())
    result = check("--dns-server", "127.0.0.1:notaport", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "dns-server" in result.stderr


def test_the_public_suffix_list_is_read_when_the_authenticator_starts(dns_server):
    # Not while the first message waits: reading it takes a fraction of a second.
    domains.public_suffix_list.cache_clear()
    authenticator(dns_server)
    assert domains.public_suffix_list.cache_info().currsize == 1

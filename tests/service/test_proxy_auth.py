"""The proxy with sender authentication on: XFORWARD gives the client, a real DNS server on
loopback answers, and the next hop records what arrives (tests/service/test_proxy.py's setup)."""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.auth.authenticator import Authenticator
from milter.auth.dns import DnsSettings
from milter.config import AuthSettings, Mode, shipped_rules_dir
from milter.quarantine.store import QuarantineStore
from milter.scan.scanner import Scanner
from milter.service.proxy import Proxy, ProxySettings
from milter.smtp.front import FrontSettings, start_front
from milter.smtp.relay import Relay, RelaySettings
from tests.helpers.dkim_keys import key, key_record, message, sign
from tests.helpers.dns_server import DnsZoneServer
from tests.service.test_proxy import Loop, Recorder

ZONE = "\n".join(
    [
        'police.be. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"',
        '_dmarc.police.be. 300 IN TXT "v=DMARC1; p=reject"',
        key_record("sel", "police.be", key("police")),
        'freemail.example. 300 IN TXT "v=spf1 ip4:198.51.100.20 -all"',
        'police-belgium.eu. 300 IN TXT "v=spf1 ip4:203.0.113.5 -all"',
    ]
)
AUTHSERV = "mx.test.example"


class Setup:
    def __init__(self, port: int, recorder: Recorder, store: QuarantineStore) -> None:
        self.port = port
        self.recorder = recorder
        self.store = store

    def send(self, raw: bytes, mail_from: str, ip: str) -> dict:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            client.ehlo("postfix.example.org")
            code, _ = client.docmd(f"XFORWARD ADDR={ip} HELO=mx.sender.example PROTO=ESMTP")
            assert code == 250
            return client.sendmail(mail_from, ["victim@example.net"], raw)

    def delivered(self) -> bytes:
        ((_, _, raw),) = self.recorder.messages
        return raw

    def rules(self) -> set[str]:
        """The rules of the one message handled: from its tag headers or its quarantine
        entry (content rules may add enough to hold it)."""
        if self.recorder.messages:
            for line in headers_of(self.delivered()):
                if line.startswith(b"X-Scam-Rules: "):
                    return set(line[len(b"X-Scam-Rules: ") :].decode().split(", "))
            return set()
        (entry,) = self.store.entries()
        return {rule["id"] for rule in entry.rules}


def make_setup(tmp_path: Path, dns_port: int, **auth_changes: object) -> Iterator[Setup]:
    scanner = Scanner.from_rule_paths([shipped_rules_dir()])
    dns = DnsSettings(servers=(("127.0.0.1", dns_port),), timeout=0.4)
    authenticator = Authenticator(AuthSettings(dns=dns, **auth_changes))
    loop = Loop()
    recorder = Recorder()
    next_hop = loop.run(start_front(recorder, FrontSettings(), "127.0.0.1", 0))
    relay = Relay(RelaySettings(port=next_hop.port, connect_timeout=5, command_timeout=10))
    store = QuarantineStore(tmp_path / "quarantine")
    settings = ProxySettings(
        mode=Mode.AFTER_QUEUE,
        authserv_id=AUTHSERV,
        tempfail_on_dns_failure=auth_changes.get("on_dns_failure") == "tempfail",
    )
    proxy = Proxy(lambda: scanner, relay, store, settings, authenticator)
    front = loop.run(start_front(proxy, FrontSettings(), "127.0.0.1", 0))
    try:
        yield Setup(front.port, recorder, store)
    finally:
        loop.run(front.stop_accepting())
        loop.run(front.drain(5))
        loop.run(next_hop.stop_accepting())
        loop.run(next_hop.drain(5))
        loop.run(relay.close())
        store.close()
        loop.close()


@pytest.fixture(scope="module")
def dns_server():
    with DnsZoneServer(ZONE, timeouts=["slow.example", "_dmarc.slow.example"]) as server:
        yield server


@pytest.fixture
def setup(tmp_path: Path, dns_server: DnsZoneServer) -> Iterator[Setup]:
    yield from make_setup(tmp_path, dns_server.port)


def headers_of(raw: bytes) -> list[bytes]:
    """The header fields, unfolded (long ones we add are folded at spaces)."""
    return raw.split(b"\r\n\r\n")[0].replace(b"\r\n ", b" ").split(b"\r\n")


def test_relayed_mail_carries_our_authentication_results(setup: Setup) -> None:
    raw = message("Alice <alice@freemail.example>", "Lunch", "See you at noon.\r\n")
    setup.send(raw, "alice@freemail.example", "198.51.100.20")
    got = setup.delivered()
    first = headers_of(got)[0].decode()
    assert first.startswith(f"Authentication-Results: {AUTHSERV}; spf=pass")
    assert "smtp.mailfrom=freemail.example" in first
    assert "dmarc=none" in first or "dmarc=" not in first or "dmarc=pass" in first
    # Everything the client sent follows unchanged.
    assert got.endswith(raw)


def test_forged_results_with_our_id_are_removed_others_kept(setup: Setup) -> None:
    raw = (
        f"Authentication-Results: {AUTHSERV}; spf=pass smtp.mailfrom=police.be; dmarc=pass\r\n"
        f"Authentication-Results: (forged) {AUTHSERV.upper()}; dkim=pass header.d=police.be\r\n"
        "Authentication-Results: upstream.example.net; spf=pass smtp.mailfrom=x.example\r\n"
        f"Authentication-Results: (unclosed {AUTHSERV}; dmarc=pass\r\n"
    ).encode() + message("Alice <alice@freemail.example>", "Lunch", "Hello\r\n")
    setup.send(raw, "alice@freemail.example", "198.51.100.20")
    got = setup.delivered()
    ours = [h for h in headers_of(got) if h.lower().startswith(b"authentication-results:")]
    assert len(ours) == 2
    assert ours[0].startswith(f"Authentication-Results: {AUTHSERV}; spf=pass".encode())
    assert b"smtp.mailfrom=freemail.example" in ours[0]
    assert (
        ours[1] == b"Authentication-Results: upstream.example.net; spf=pass smtp.mailfrom=x.example"
    )


def test_a_spoofed_authority_domain_is_judged_by_its_rule(setup: Setup) -> None:
    raw = message("Federale Politie <info@police.be>", "Oproeping", "Zie bijlage.\r\n")
    setup.send(raw, "info@police.be", "203.0.113.5")
    assert "IDENTITY_DOMAIN_NOT_AUTHENTICATED" in setup.rules()


def test_a_spoofed_newsletter_is_tagged_with_its_results(setup: Setup) -> None:
    raw = message("Info <info@police.be>", "Newsletter", "Tips for the holidays.\r\n")
    setup.send(raw, "info@police.be", "203.0.113.5")
    got = headers_of(setup.delivered())
    assert b"X-Scam-Rules: IDENTITY_DOMAIN_NOT_AUTHENTICATED" in got
    (results,) = [h for h in got if h.startswith(b"Authentication-Results:")]
    assert b"spf=fail" in results and b"dmarc=fail (p=reject" in results


def test_b_display_name_claim_over_freemail(setup: Setup) -> None:
    raw = message("Police Fédérale <pf@freemail.example>", "Convocation", "Bonjour.\r\n")
    setup.send(raw, "pf@freemail.example", "198.51.100.20")
    assert "IDENTITY_CLAIM_DISPLAY_NAME" in setup.rules()


def test_c_lookalike_sender_is_quarantined_with_its_auth_results(setup: Setup) -> None:
    raw = message("Federale Politie <dossier@police-belgium.eu>", "Oproeping", "Zie bijlage.\r\n")
    setup.send(raw, "dossier@police-belgium.eu", "203.0.113.5")
    assert setup.recorder.messages == []
    (entry,) = setup.store.entries()
    assert "IDENTITY_LOOKALIKE_DOMAIN" in [rule["id"] for rule in entry.rules]
    # The quarantine keeps the authentication results for the admin's review.
    stored = setup.store.record(entry.id).auth
    assert stored["spf"]["result"] == "pass" and stored["spf"]["domain"] == "police-belgium.eu"


def test_d_the_authority_itself_passes_untouched_but_for_the_results(setup: Setup) -> None:
    raw = sign(
        message("Federale Politie <info@police.be>", "Nieuwsbrief - Federale Politie", "Tips.\r\n"),
        "police.be",
        pair=key("police"),
    )
    setup.send(raw, "info@police.be", "192.0.2.10")
    got = setup.delivered()
    assert b"X-Scam-" not in got
    first = headers_of(got)[0]
    assert b"dkim=pass header.d=police.be" in first and b"dmarc=pass" in first
    assert got.endswith(raw)


def test_dns_failure_scans_and_delivers_with_temperror(setup: Setup) -> None:
    raw = message("Bob <bob@slow.example>", "Hello", "Hello.\r\n")
    started = time.monotonic()
    setup.send(raw, "bob@slow.example", "203.0.113.5")
    assert time.monotonic() - started < 6
    first = headers_of(setup.delivered())[0]
    assert b"spf=temperror" in first


def test_dns_failure_can_tempfail_instead(tmp_path: Path, dns_server: DnsZoneServer) -> None:
    for setup in make_setup(tmp_path, dns_server.port, on_dns_failure="tempfail", timeout=1.0):
        raw = message("Bob <bob@slow.example>", "Hello", "Hello.\r\n")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            setup.send(raw, "bob@slow.example", "203.0.113.5")
        assert refused.value.smtp_code == 451
        assert b"4.4.3" in refused.value.smtp_error
        assert setup.recorder.messages == []
        assert setup.store.entries() == []
        # A message whose DNS answers goes through as usual.
        ok = message("Alice <alice@freemail.example>", "Lunch", "Hello\r\n")
        setup.send(ok, "alice@freemail.example", "198.51.100.20")
        assert len(setup.recorder.messages) == 1


def test_the_header_block_is_parsed_once_for_authentication_and_scan(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The authenticator reads the fields of the scanner's parse (MessageView.raw_headers):
    # its own header parser is not called, and the results are the same as before.
    def no_second_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the header block was parsed a second time")

    monkeypatch.setattr("milter.auth.authenticator.BytesHeaderParser", no_second_parse)
    raw = message("Alice <alice@freemail.example>", "Lunch", "See you at noon.\r\n")
    setup.send(raw, "alice@freemail.example", "198.51.100.20")
    first = headers_of(setup.delivered())[0].decode()
    assert first.startswith(f"Authentication-Results: {AUTHSERV}; spf=pass")
    assert "smtp.mailfrom=freemail.example" in first

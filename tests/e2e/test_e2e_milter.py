"""End to end through Postfix's smtpd_milters, configured from docs/postfix.md's milter
section, over inet and over a unix socket: the filter down defers, clean mail is
delivered with Authentication-Results, a tag adds its fields, a scam is held with the
real client (or refused with 5xx in reject range), and the quarantine CLI lists it and
releases it through the documented loopback smtpd that runs no milters."""

from __future__ import annotations

import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.config import shipped_rules_dir
from milter.quarantine.store import QuarantineStore
from tests.helpers.dns_server import DnsZoneServer
from tests.helpers.postfix_harness import PostfixInstance, to_lf
from tests.helpers.serve_process import ServeProcess
from tests.helpers.word_rules import WORD_RULES

ROOT = Path(__file__).resolve().parents[2]


def message(body: str, subject: str = "Hello") -> bytes:
    return (
        "From: Alice <alice@example.net>\r\n"
        "To: Bob <bob@example.org>\r\n"
        f"Subject: {subject}\r\n"
        "Message-ID: <m1@example.net>\r\n"
        "Date: Fri, 27 Nov 2026 08:00:00 +0100\r\n"
        "\r\n"
        f"{body}\r\n"
    ).encode()


def send(postfix: PostfixInstance, raw: bytes) -> dict:
    with smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=60) as client:
        client.ehlo("client.example.net")
        return client.sendmail("alice@example.net", ["bob@example.org"], raw)


@pytest.fixture
def dns() -> Iterator[DnsZoneServer]:
    # The sender's domain has no DMARC record: answered by a real DNS server on loopback.
    with DnsZoneServer('example.net. 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"') as server:
        yield server


@pytest.fixture(params=["milter", "milter-unix"])
def milter(
    request: pytest.FixtureRequest, postfix_factory, tmp_path: Path, dns: DnsZoneServer
) -> Iterator[tuple[PostfixInstance, ServeProcess]]:
    # smtpd_milters over inet:127.0.0.1:PORT, and over a unix socket (docs/postfix.md).
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test.yml").write_text(WORD_RULES, encoding="utf-8")
    postfix = postfix_factory(request.param, start=False)
    unix = request.param == "milter-unix"
    served = ServeProcess(
        tmp_path,
        listen=postfix.filter_port,
        listen_socket=postfix.filter_socket if unix else None,
        next_hop=postfix.reinject_port,
        rules=[shipped_rules_dir(), rules],
        extra_config=(
            'protocol: milter\nsubject_prefix: "[SCAM?] "\nsmtp: {workers: 2}\n'
            f"auth: {{dns_servers: ['{dns.address}'], authserv_id: mx.test.example}}\n"
            # Postfix's smtpd runs as user postfix: the socket's group lets it in.
            + ("milter: {socket_group: postfix}\n" if unix else "")
        ),
    )
    served.start()
    if unix:
        served.wait_line(rf"listening on unix:{postfix.filter_socket} ")
        assert oct(postfix.filter_socket.stat().st_mode & 0o777) == "0o660"
    postfix.start()
    try:
        yield postfix, served
    finally:
        served.stop()


def test_clean_tagged_and_held_mail(milter) -> None:
    postfix, served = milter
    send(postfix, message("Minutes of the meeting.", "Minutes"))
    send(postfix, message("please tagme", "Tagged"))
    send(postfix, message("please holdme", "Held"))  # 250: held, not lost
    verdicts = served.wait_verdicts(3, timeout=60)
    assert sorted(v["action"] for v in verdicts) == ["accept", "quarantine", "tag"]
    assert all(v["client"]["addr"] == "127.0.0.1" for v in verdicts)
    delivered = {
        to_lf(m).split(b"Subject: ")[1].split(b"\n")[0]: to_lf(m) for m in postfix.wait_delivered(2)
    }
    postfix.wait_queue_empty(timeout=30)
    assert set(delivered) == {b"Minutes", b"[SCAM?] Tagged"}
    clean = delivered[b"Minutes"]
    # The body byte for byte (what was sent after the header), our results on top.
    assert clean.endswith(b"\n\nMinutes of the meeting.\n")
    assert b"Authentication-Results: mx.test.example; dkim=none; dmarc=none" in clean
    assert b"X-Scam-Verdict: tag" in delivered[b"[SCAM?] Tagged"]
    assert b"X-Scam-Rules: TEST_TAG" in delivered[b"[SCAM?] Tagged"]
    with QuarantineStore(served.quarantine, create=False) as store:
        (entry,) = store.entries()
    assert entry.subject == "Held"
    # The quarantine CLI lists it and releases it, through Postfix's own submission.
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "milter",
            "quarantine",
            "list",
            "--quarantine-dir",
            str(served.quarantine),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert entry.id in listed.stdout, listed.stderr
    # Released through the loopback smtpd that runs no milters: delivered, not held again.
    released = subprocess.run(
        [
            sys.executable,
            "-m",
            "milter",
            "quarantine",
            "release",
            entry.id,
            "--quarantine-dir",
            str(served.quarantine),
            "--next-hop",
            f"127.0.0.1:{postfix.reinject_port}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert released.returncode == 0, released.stdout + released.stderr
    subjects = [to_lf(m).split(b"Subject: ")[1].split(b"\n")[0] for m in postfix.wait_delivered(3)]
    assert sorted(subjects) == [b"Held", b"Minutes", b"[SCAM?] Tagged"]
    assert len(served.verdicts()) == 3


def test_a_reject_is_a_5xx_in_the_session(milter) -> None:
    postfix, served = milter
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send(postfix, message("rejectme", "Refused"))
    assert refused.value.smtp_code == 550
    (verdict,) = served.wait_verdicts(1, timeout=60)
    assert verdict["action"] == "reject"


def test_the_filter_down_defers(milter) -> None:
    postfix, served = milter
    served.stop()
    with pytest.raises(
        (smtplib.SMTPDataError, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)
    ) as deferred:
        send(postfix, message("hello", "While down"))
    code = (
        getattr(deferred.value, "smtp_code", None)
        or next(iter(deferred.value.recipients.values()))[0]
    )
    assert 400 <= code < 500
    assert postfix.delivered() == []

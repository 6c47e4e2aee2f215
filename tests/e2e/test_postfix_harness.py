"""Smoke tests of the Postfix harness: a real Postfix, configured from docs/postfix.md,
with a trivial relay standing in for scam-milter on the filter port.

The relay (aiosmtpd receiving, smtplib forwarding to the reinjection port) exists only
here, to prove the documented Postfix side and the harness before the real proxy is in.
"""

from __future__ import annotations

import asyncio
import smtplib
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from tests.helpers.postfix_harness import PostfixInstance, doc_snippets, parse_master_cf, to_lf

BODY = (
    "Hello,\r\n"
    "\r\n"
    "a line with trailing spaces   \r\n"
    ".a line that starts with a dot\r\n"
    "Grüße aus Brüssel: 8-bit text, € and ß.\r\n"
)


@dataclass
class Seen:
    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    content: bytes


@dataclass
class TrivialRelay:
    """Receives on the filter port, forwards each message unchanged to the reinjection
    port, and answers with the downstream reply."""

    next_port: int
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def forward(self, envelope) -> str:
        with smtplib.SMTP("127.0.0.1", self.next_port, timeout=30) as client:
            client.ehlo("relay.test")
            refused = client.sendmail(
                envelope.mail_from,
                envelope.rcpt_tos,
                envelope.original_content,
                mail_options=[o for o in envelope.mail_options if not o.startswith("SIZE=")],
            )
        return "250 2.0.0 relayed" if not refused else f"451 4.3.0 refused: {refused}"

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.seen.append(
                Seen(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    list(envelope.mail_options),
                    envelope.original_content,
                )
            )
        try:
            return await asyncio.get_running_loop().run_in_executor(None, self.forward, envelope)
        except (smtplib.SMTPException, OSError) as exc:
            return f"451 4.3.0 relay failed: {exc}"


@pytest.fixture
def relay_for():
    controllers: list[Controller] = []

    def start(instance: PostfixInstance) -> TrivialRelay:
        relay = TrivialRelay(instance.reinject_port)
        controller = Controller(
            relay,
            hostname="127.0.0.1",
            port=instance.filter_port,
            enable_SMTPUTF8=True,
            decode_data=False,
        )
        controller.start()
        controllers.append(controller)
        return relay

    yield start
    for controller in controllers:
        controller.stop()


def message(sender: str, rcpt: str, subject: str) -> bytes:
    head = f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@t>\r\n"
    head += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    head += "Content-Transfer-Encoding: 8bit\r\n\r\n"
    return (head + BODY).encode("utf-8")


def body_of(data: bytes) -> bytes:
    return to_lf(data).split(b"\n\n", 1)[1]


def test_docs_have_both_modes():
    snippets = doc_snippets()
    assert set(snippets) >= {
        ("main.cf", "after-queue"),
        ("master.cf", "after-queue"),
        ("main.cf", "before-queue"),
        ("master.cf", "before-queue"),
    }
    after = {e[0] for e in parse_master_cf(snippets[("master.cf", "after-queue")])}
    assert after == {"scamfilter", "127.0.0.1:10026"}
    before = {e[0] for e in parse_master_cf(snippets[("master.cf", "before-queue")])}
    assert before == {"smtp", "127.0.0.1:10026"}


@pytest.mark.parametrize("mode", ["after-queue", "before-queue"])
def test_mail_passes_through_the_documented_config(postfix_factory, relay_for, mode):
    pf = postfix_factory(mode, start=False)
    relay = relay_for(pf)
    pf.start()
    data = message("alice@example.net", "bob@example.org", f"smoke-{mode}")
    with smtplib.SMTP("127.0.0.1", pf.smtp_port, timeout=30) as client:
        client.sendmail("alice@example.net", ["bob@example.org"], data, ["BODY=8BITMIME"])

    delivered = pf.wait_delivered(1)
    assert len(delivered) == 1
    assert body_of(delivered[0]) == to_lf(BODY.encode())
    stored = message_from_bytes(delivered[0], policy=policy.default)
    assert stored["Subject"] == f"smoke-{mode}"
    assert stored["Delivered-To"] == "bob@example.org"
    assert len(relay.seen) == 1
    assert relay.seen[0].mail_from == "alice@example.net"
    assert relay.seen[0].rcpt_tos == ["bob@example.org"]
    assert body_of(relay.seen[0].content) == to_lf(BODY.encode())
    log = pf.log()
    assert f"relay=127.0.0.1[127.0.0.1]:{pf.reinject_port}" not in log  # smtpd, not smtp
    if mode == "after-queue":
        # Queued first, then handed to the filter by the scamfilter transport.
        assert f"relay=127.0.0.1[127.0.0.1]:{pf.filter_port}" in log
    pf.wait_queue_empty()


@pytest.mark.parametrize("mode", ["after-queue", "before-queue"])
def test_smtputf8_message(postfix_factory, relay_for, mode):
    pf = postfix_factory(mode, start=False)
    relay = relay_for(pf)
    pf.start()
    sender, rcpt = "jürgen@bücher.example", "zoë@example.org"
    data = message(sender, rcpt, f"utf8-{mode}-ĳsselmeer")
    with smtplib.SMTP("127.0.0.1", pf.smtp_port, timeout=30) as client:
        client.ehlo("client.test")
        assert client.has_extn("smtputf8")
        client.sendmail(sender, [rcpt], data, ["SMTPUTF8", "BODY=8BITMIME"])

    delivered = pf.wait_delivered(1)
    assert body_of(delivered[0]) == to_lf(BODY.encode())
    stored = message_from_bytes(delivered[0], policy=policy.default)
    assert stored["Subject"] == f"utf8-{mode}-ĳsselmeer"
    assert stored["Delivered-To"] == rcpt
    assert relay.seen[0].mail_from == sender
    assert relay.seen[0].rcpt_tos == [rcpt]
    assert "SMTPUTF8" in relay.seen[0].mail_options


def test_filter_down_defers_and_flush_delivers(postfix_factory, relay_for):
    pf = postfix_factory("after-queue", delivery="sink")
    data = message("alice@example.net", "carol@example.org", "deferred")
    with smtplib.SMTP("127.0.0.1", pf.smtp_port, timeout=30) as client:
        client.sendmail("alice@example.net", ["carol@example.org"], data)
    pf.wait_log(r"status=deferred .*Connection refused")
    assert len(pf.queue()) == 1
    assert pf.delivered() == []

    relay = relay_for(pf)
    pf.flush()
    delivered = pf.wait_delivered(1)
    assert body_of(delivered[0]) == to_lf(BODY.encode())
    assert len(relay.seen) == 1
    envelope = pf.deliveries()[0].envelope  # smtp-sink's record of the final hop
    assert envelope["X-Mail-Args"][0].startswith("<alice@example.net>")
    assert envelope["X-Rcpt-Args"][0].startswith("<carol@example.org>")
    pf.wait_queue_empty()


def test_two_instances_side_by_side(postfix_factory, relay_for):
    a = postfix_factory("after-queue", start=False)
    b = postfix_factory("before-queue", start=False)
    assert len({a.smtp_port, a.filter_port, a.reinject_port, b.smtp_port, b.filter_port}) == 5
    relays = [relay_for(a), relay_for(b)]
    a.start()
    b.start()
    for pf in (a, b):
        data = message("alice@example.net", "dave@example.org", f"side-{pf.mode}")
        with smtplib.SMTP("127.0.0.1", pf.smtp_port, timeout=30) as client:
            client.sendmail("alice@example.net", ["dave@example.org"], data)
    for pf, relay in zip((a, b), relays, strict=True):
        (got,) = pf.wait_delivered(1)
        assert f"side-{pf.mode}".encode() in got
        assert len(relay.seen) == 1
    assert a.queue_dir != b.queue_dir
    assert "side-before-queue" not in a.log()

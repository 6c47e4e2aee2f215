"""End to end with a real Postfix, configured from docs/postfix.md, in both modes.

    client --smtplib--> Postfix smtpd --> scam-milter serve --> Postfix smtpd (10026) --> Maildir

Every test asserts what arrived, what was held, and that nothing was lost or delivered
twice.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from milter.config import shipped_rules_dir
from milter.quarantine.store import QuarantineStore
from tests.helpers.dkim_keys import key, key_record, sign
from tests.helpers.dkim_keys import message as dkim_message
from tests.helpers.dns_server import DnsZoneServer
from tests.helpers.postfix_harness import PostfixInstance, free_port, to_lf
from tests.helpers.serve_process import ServeProcess
from tests.helpers.word_rules import WORD_RULES

SCAM = """\
From: Anonymous <hacker@example.net>
To: bob@example.org
Subject: Your device was hacked
Message-ID: <scam-1@example.net>
Date: Fri, 27 Nov 2026 08:00:00 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello! I hacked your device and installed a trojan. I recorded a video of you while you
were watching porn on adult websites and masturbating. Transfer 1300 USD in bitcoin to my
BTC wallet: 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa within 48 hours, or I will send the video
to all your contacts. Do not go to the police. The timer started when you opened this email.
"""


def message(body: str, subject: str = "Hello", msgid: str = "m1") -> bytes:
    return (
        "From: Alice <alice@example.net>\r\n"
        "To: Bob <bob@example.org>\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{msgid}@example.net>\r\n"
        "Date: Fri, 27 Nov 2026 08:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}\r\n"
    ).encode()


@dataclass
class Stack:
    postfix: PostfixInstance
    proxy: ServeProcess

    def send(self, raw: bytes, *, rcpt: str = "bob@example.org", **options: object) -> dict:
        with smtplib.SMTP("127.0.0.1", self.postfix.smtp_port, timeout=60) as client:
            client.ehlo("client.example.net")
            return client.sendmail("alice@example.net", [rcpt], raw, **options)

    def quarantined(self) -> list:
        with QuarantineStore(self.proxy.quarantine, create=False) as store:
            return store.entries()

    def settle(self) -> None:
        """Wait until Postfix has no message left in flight or in its queue."""
        self.postfix.wait_queue_empty(timeout=30)


StackFactory = Callable[..., Stack]


@pytest.fixture
def stack(postfix_factory, tmp_path: Path) -> Iterator[StackFactory]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test.yml").write_text(WORD_RULES, encoding="utf-8")
    proxies: list[ServeProcess] = []

    def make(mode: str, *, delivery: str = "maildir", extra_config: str = "", **kwargs) -> Stack:
        postfix = postfix_factory(mode, start=False, delivery=delivery, **kwargs)
        proxy = ServeProcess(
            tmp_path,
            listen=postfix.filter_port,
            next_hop=postfix.reinject_port,
            mode=mode,
            rules=[shipped_rules_dir(), rules],
            extra_config='subject_prefix: "[SCAM?] "\n' + extra_config,
        )
        proxies.append(proxy)
        proxy.start()
        postfix.start()
        return Stack(postfix, proxy)

    try:
        yield make
    finally:
        for proxy in proxies:
            proxy.stop()


MODES = ["after-queue", "before-queue"]


@pytest.mark.parametrize("mode", MODES)
def test_clean_message_arrives_byte_for_byte(stack: StackFactory, mode: str) -> None:
    s = stack(mode)
    # Lines stay under 998 characters: Postfix's own SMTP client folds longer ones
    # (smtp_line_length_limit); the proxy alone passes them whole (test_smtp_front).
    raw = message("Minutes of the meeting.\r\n.A line with a leading dot\r\n" + "x" * 990)
    s.send(raw)
    (delivered,) = s.postfix.wait_delivered(1)
    # Postfix adds its trace headers on top; everything the client sent follows unchanged.
    assert to_lf(delivered).endswith(to_lf(raw))
    (verdict,) = s.proxy.wait_verdicts(1)
    assert verdict["action"] == "accept"
    assert s.quarantined() == []


@pytest.mark.parametrize("mode", MODES)
def test_held_message_is_quarantined_and_not_delivered(stack: StackFactory, mode: str) -> None:
    s = stack(mode)
    raw = message("please holdme", subject="Held")
    s.send(raw)
    (verdict,) = s.proxy.wait_verdicts(1)
    assert verdict["action"] == "quarantine", verdict
    s.settle()
    assert s.postfix.delivered() == []
    (entry,) = s.quarantined()
    assert entry.subject == "Held"
    assert [rule["id"] for rule in entry.rules] == ["TEST_HOLD"]
    with QuarantineStore(s.proxy.quarantine, create=False) as store:
        _, stored = store.get(entry.id)
    assert to_lf(stored).endswith(to_lf(raw))


def test_real_scam_with_shipped_rules(stack: StackFactory) -> None:
    after = stack("after-queue")
    after.send(SCAM.replace("\n", "\r\n").encode())
    (verdict,) = after.proxy.wait_verdicts(1)
    assert verdict["verdict"] in ("quarantine", "reject"), verdict
    assert verdict["action"] == "quarantine"
    assert any(rule.startswith("SEXTORT_") for rule in verdict["rules"])
    after.settle()
    assert after.postfix.delivered() == []
    assert len(after.quarantined()) == 1


@pytest.mark.parametrize("mode", MODES)
def test_tagged_message_carries_the_headers(stack: StackFactory, mode: str) -> None:
    s = stack(mode)
    raw = message("special offer, tagme", subject="Offer").replace(
        b"From:", b"X-Scam-Verdict: accept\r\nFrom:"
    )
    s.send(raw)
    (delivered,) = s.postfix.wait_delivered(1)
    assert b"X-Scam-Verdict: tag\n" in to_lf(delivered)
    assert b"X-Scam-Score: 6\n" in to_lf(delivered)
    assert b"X-Scam-Rules: TEST_TAG\n" in to_lf(delivered)
    assert b"Subject: [SCAM?] Offer\n" in to_lf(delivered)
    assert b"X-Scam-Verdict: accept" not in delivered  # the forged one is gone


def test_before_queue_reject_reaches_the_client_as_5xx(stack: StackFactory) -> None:
    s = stack("before-queue")
    with pytest.raises(smtplib.SMTPDataError) as caught:
        s.send(message("rejectme"))
    assert caught.value.smtp_code == 550
    assert b"5.7.1" in caught.value.smtp_error
    s.settle()
    assert s.postfix.delivered() == []
    assert s.quarantined() == []


def test_after_queue_reject_becomes_quarantine(stack: StackFactory) -> None:
    s = stack("after-queue")
    s.send(message("rejectme"))
    (verdict,) = s.proxy.wait_verdicts(1)
    assert (verdict["verdict"], verdict["action"]) == ("reject", "quarantine")
    s.settle()
    assert s.postfix.delivered() == []
    assert len(s.quarantined()) == 1
    # No bounce to the (forged) sender: nothing bounced in Postfix's log.
    assert "status=bounced" not in s.postfix.log()


@pytest.mark.parametrize("mode", MODES)
def test_proxy_sees_the_real_client_through_xforward(stack: StackFactory, mode: str) -> None:
    s = stack(mode)
    with smtplib.SMTP("127.0.0.1", s.postfix.smtp_port, timeout=60) as client:
        client.ehlo("localhost")
        # The test pretends to be a remote client (Postfix's XCLIENT, allowed from loopback).
        code, _ = client.docmd("XCLIENT ADDR=192.0.2.7 NAME=mx.example.net HELO=mx.example.net")
        assert code == 220
        client.ehlo("mx.example.net")
        client.sendmail("alice@example.net", ["bob@example.org"], message("hello"))
    (verdict,) = s.proxy.wait_verdicts(1)
    assert verdict["client"]["addr"] == "192.0.2.7"
    assert verdict["client"]["helo"] == "mx.example.net"
    s.postfix.wait_delivered(1)
    # And the proxy passed it on: Postfix's log after the filter names the real client too.
    s.postfix.wait_log(r"client=mx\.example\.net\[192\.0\.2\.7\]", count=2)


@pytest.mark.parametrize("mode", MODES)
def test_smtputf8_message_arrives_intact(stack: StackFactory, mode: str) -> None:
    s = stack(mode)
    raw = (
        "From: Zoë <zoë@exämple.org>\r\nTo: bob@example.org\r\nSubject: Grüße\r\n"
        "Message-ID: <utf8@example.net>\r\nDate: Fri, 27 Nov 2026 08:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHéllo wörld\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", s.postfix.smtp_port, timeout=60) as client:
        client.ehlo("client.example.net")
        client.sendmail(
            "zoë@exämple.org", ["bob@example.org"], raw, mail_options=["SMTPUTF8", "BODY=8BITMIME"]
        )
    (delivered,) = s.postfix.wait_delivered(1)
    assert to_lf(delivered).endswith(to_lf(raw))
    assert b"Return-Path: <zo\xc3\xab@ex\xc3\xa4mple.org>" in delivered


@pytest.mark.parametrize("mode", MODES)
def test_dsn_parameters_arrive_intact(stack: StackFactory, mode: str) -> None:
    # smtp-sink shows the envelope it received, parameters included (it lacks SMTPUTF8).
    s = stack(mode, delivery="sink")
    raw = message("hello")
    with smtplib.SMTP("127.0.0.1", s.postfix.smtp_port, timeout=60) as client:
        client.ehlo("client.example.net")
        client.sendmail(
            "alice@example.net",
            ["bob@example.org"],
            raw,
            mail_options=["RET=HDRS", "ENVID=QQ314159"],
            rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Bob@Example.org"],
        )
    s.postfix.wait_delivered(1)
    (delivery,) = s.postfix.deliveries()
    assert to_lf(delivery.data).endswith(to_lf(raw))
    mail_args = " ".join(delivery.envelope.get("X-Mail-Args", []))
    rcpt_args = " ".join(delivery.envelope.get("X-Rcpt-Args", []))
    assert "ENVID=QQ314159" in mail_args
    assert "RET=HDRS" in mail_args
    assert "NOTIFY=SUCCESS,FAILURE" in rcpt_args
    assert "ORCPT=rfc822;Bob@Example.org" in rcpt_args


# --- Failure paths: no message lost, none delivered twice --------------------------------


def after_queue_proxy(tmp_path: Path, postfix: PostfixInstance, next_hop: int) -> ServeProcess:
    """A started proxy on ``postfix``'s filter port, relaying to ``next_hop``."""
    return ServeProcess(
        tmp_path,
        listen=postfix.filter_port,
        next_hop=next_hop,
        mode="after-queue",
        rules=[shipped_rules_dir()],
    ).start()


def test_next_hop_down_then_back(postfix_factory, tmp_path: Path) -> None:
    postfix = postfix_factory(
        "after-queue",
        start=False,
        main_extra={"minimal_backoff_time": "300s", "maximal_backoff_time": "300s"},
    )
    dead = free_port()
    proxy = after_queue_proxy(tmp_path, postfix, dead)
    try:
        postfix.start()
        with smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=60) as client:
            client.sendmail("alice@example.net", ["bob@example.org"], message("hello"))
        postfix.wait_log(r"status=deferred.*451 4\.4\.1")
        assert postfix.delivered() == []
        assert len(postfix.queue()) == 1
        proxy.stop()
        # The next hop is back: the proxy relays to the reinjection server again.
        proxy = after_queue_proxy(tmp_path, postfix, postfix.reinject_port)
        postfix.flush()
        postfix.wait_delivered(1)
        postfix.wait_queue_empty(timeout=30)
        time.sleep(1)
        assert len(postfix.delivered()) == 1
    finally:
        proxy.stop()


class ScriptedNextHop:
    """A scripted next hop: takes MAIL and RCPT (any parameters), then answers the end of
    the message with ``data_reply``, or never (``None``: it stalls)."""

    def __init__(self, data_reply: bytes | None) -> None:
        self.data_reply = data_reply
        self.got_data = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.port = free_port()
        self.refused = 0
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(
                asyncio.start_server(self.session, "127.0.0.1", self.port)
            )
            self.server = server
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-scripted\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                while (await reader.readline()) not in (b".\r\n", b""):
                    pass
                self.got_data.set()
                if self.data_reply is None:
                    await asyncio.sleep(3600)
                self.refused += 1
                writer.write(self.data_reply)
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_next_hop_answering_5xx(postfix_factory, tmp_path: Path) -> None:
    postfix = postfix_factory("after-queue", start=False)
    refusing = ScriptedNextHop(b"554 5.7.0 scripted refusal\r\n")
    proxy = after_queue_proxy(tmp_path, postfix, refusing.port)
    try:
        postfix.start()
        with smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=60) as client:
            client.sendmail("alice@example.net", ["bob@example.org"], message("hello"))
        # The next hop's own 5xx is what Postfix hears, so Postfix returns the mail to
        # its sender once, as it would without the filter; it is not retried.
        postfix.wait_log(r"status=bounced.*554 5\.7\.0 scripted refusal")
        postfix.wait_queue_empty(timeout=30)
        assert refusing.refused == 1
        assert postfix.delivered() == []
    finally:
        proxy.stop()
        refusing.stop()


def test_client_disconnecting_mid_data(stack: StackFactory) -> None:
    s = stack("after-queue")
    with socket.create_connection(("127.0.0.1", s.proxy.port), timeout=30) as sock:
        stream = sock.makefile("rwb")

        def say(line: bytes) -> bytes:
            stream.write(line + b"\r\n")
            stream.flush()
            reply = stream.readline()
            while reply[3:4] == b"-":
                reply = stream.readline()
            return reply

        stream.readline()  # greeting
        assert say(b"EHLO client.example.net").startswith(b"250")
        assert say(b"MAIL FROM:<alice@example.net>").startswith(b"250")
        assert say(b"RCPT TO:<bob@example.org>").startswith(b"250")
        assert say(b"DATA").startswith(b"354")
        stream.write(b"Subject: cut\r\n\r\nhalf a message")
        stream.flush()
    time.sleep(2)
    assert s.postfix.delivered() == []
    assert s.quarantined() == []
    assert s.proxy.verdicts() == []
    # The proxy is still fine for the next message.
    s.send(message("hello"))
    assert len(s.postfix.wait_delivered(1)) == 1


def test_proxy_killed_mid_message_then_restarted(postfix_factory, tmp_path: Path) -> None:
    postfix = postfix_factory(
        "after-queue",
        start=False,
        main_extra={"minimal_backoff_time": "300s", "maximal_backoff_time": "300s"},
    )
    stalling = ScriptedNextHop(None)
    proxy = after_queue_proxy(tmp_path, postfix, stalling.port)
    try:
        postfix.start()
        with smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=60) as client:
            client.sendmail("alice@example.net", ["bob@example.org"], message("hello"))
        assert stalling.got_data.wait(30), "the message never reached the proxy's next hop"
        proxy.kill()  # SIGKILL while the message is in the middle of the proxy
        postfix.wait_log(r"status=deferred")
        assert len(postfix.queue()) == 1
        proxy = after_queue_proxy(tmp_path, postfix, postfix.reinject_port)
        postfix.flush()
        postfix.wait_delivered(1)
        postfix.wait_queue_empty(timeout=30)
        time.sleep(1)
        assert len(postfix.delivered()) == 1
    finally:
        proxy.stop()
        stalling.stop()


def test_quarantine_not_writable_defers_then_holds_once(stack: StackFactory) -> None:
    s = stack(
        "after-queue",
        main_extra={"minimal_backoff_time": "300s", "maximal_backoff_time": "300s"},
    )
    messages = s.proxy.quarantine / "msg"
    messages.rename(s.proxy.quarantine / "msg.away")
    messages.write_text("not a directory")  # root ignores permissions; this cannot be written
    s.send(SCAM.replace("\n", "\r\n").encode())
    s.postfix.wait_log(r"status=deferred.*451 4\.3\.0")
    assert s.postfix.delivered() == []
    assert len(s.postfix.queue()) == 1
    messages.unlink()
    (s.proxy.quarantine / "msg.away").rename(messages)
    s.postfix.flush()
    s.postfix.wait_queue_empty(timeout=30)
    assert len(s.quarantined()) == 1
    assert s.postfix.delivered() == []


def test_oversized_message_gets_552(stack: StackFactory) -> None:
    s = stack("after-queue", extra_config="smtp: {max_message_size: 100000}\n")
    with smtplib.SMTP("127.0.0.1", s.proxy.port, timeout=60) as client:
        client.ehlo("client.example.net")
        # The SIZE announced at MAIL is refused at once.
        code, reply = client.mail("alice@example.net", ["SIZE=200000"])
        assert (code, reply[:5]) == (552, b"5.3.4")
        client.rset()
        # A client that announces no SIZE is stopped when the data passes the limit.
        assert client.mail("alice@example.net")[0] == 250
        assert client.rcpt("bob@example.org")[0] == 250
        code, reply = client.data(message("y\r\n" * 75_000))
        assert (code, reply[:5]) == (552, b"5.3.4")
    time.sleep(1)
    assert s.postfix.delivered() == []


# --- Sender authentication through Postfix ----------------------------------------------


AUTH_ZONE = "\n".join(
    [
        'police.be. 300 IN TXT "v=spf1 ip4:192.0.2.10 -all"',
        '_dmarc.police.be. 300 IN TXT "v=DMARC1; p=reject"',
        key_record("sel", "police.be", key("police")),
        'freemail.example. 300 IN TXT "v=spf1 ip4:198.51.100.20 -all"',
    ]
)


def send_as(s: Stack, ip: str, mail_from: str, raw: bytes) -> None:
    """Send as the remote client ``ip`` (Postfix's XCLIENT, allowed from loopback)."""
    with smtplib.SMTP("127.0.0.1", s.postfix.smtp_port, timeout=60) as client:
        client.ehlo("localhost")
        code, _ = client.docmd(f"XCLIENT ADDR={ip} NAME=[UNAVAILABLE] HELO=mx.sender.example")
        assert code == 220
        client.ehlo("mx.sender.example")
        client.sendmail(mail_from, ["bob@example.org"], raw)


@pytest.mark.parametrize("mode", MODES)
def test_sender_authentication_end_to_end(stack: StackFactory, mode: str) -> None:
    with DnsZoneServer(AUTH_ZONE) as dns:
        s = stack(
            mode,
            extra_config=(
                f"auth: {{dns_servers: ['{dns.address}'], authserv_id: mx.test.example}}\n"
            ),
        )
        # (a) the authority's own domain from a host its SPF does not list, unsigned
        send_as(
            s,
            "203.0.113.5",
            "info@police.be",
            dkim_message("Info <info@police.be>", "Newsletter a", "Holiday tips.\r\n"),
        )
        # (b) its name as display name over a free mail address that authenticates
        send_as(
            s,
            "198.51.100.20",
            "pf@freemail.example",
            dkim_message("Police Fédérale <pf@freemail.example>", "Newsletter b", "Hi.\r\n"),
        )
        # (c) a look-alike domain
        send_as(
            s,
            "203.0.113.5",
            "dossier@police-belgium.eu",
            dkim_message("Politie <dossier@police-belgium.eu>", "Newsletter c", "Hi.\r\n"),
        )
        # (d) the authority itself: its relay, its DKIM signature
        signed = sign(
            dkim_message("Federale Politie <info@police.be>", "Newsletter d", "Tips.\r\n"),
            "police.be",
            pair=key("police"),
        )
        send_as(s, "192.0.2.10", "info@police.be", signed)

        verdicts = {v["from"] + v["client"]["addr"]: v for v in s.proxy.wait_verdicts(4)}
        assert verdicts["info@police.be203.0.113.5"]["rules"] == [
            "IDENTITY_DOMAIN_NOT_AUTHENTICATED"
        ]
        assert (
            "IDENTITY_CLAIM_DISPLAY_NAME" in verdicts["pf@freemail.example198.51.100.20"]["rules"]
        )
        assert (
            "IDENTITY_LOOKALIKE_DOMAIN" in verdicts["dossier@police-belgium.eu203.0.113.5"]["rules"]
        )
        assert verdicts["info@police.be192.0.2.10"]["rules"] == []

        exact = {subject_of(m): to_lf(m) for m in s.postfix.wait_delivered(3)}
        # Unfolded for reading: the long headers we add are folded at spaces.
        delivered = {subject: m.replace(b"\n ", b" ") for subject, m in exact.items()}
        s.settle()
        # (a) is tagged (8 points alone); (b) too: a claim from a sender not entitled to
        # it, with nothing in the content (no accusation, no demand), is tagged, never
        # held (issue 12); the look-alike (c) is held.
        assert set(delivered) == {"[SCAM?] Newsletter a", "[SCAM?] Newsletter b", "Newsletter d"}
        assert b"IDENTITY_CLAIM_DISPLAY_NAME" in delivered["[SCAM?] Newsletter b"]
        assert sorted(e.subject for e in s.quarantined()) == ["Newsletter c"]
        spoofed = delivered["[SCAM?] Newsletter a"]
        assert b"Authentication-Results: mx.test.example; spf=fail" in spoofed
        assert b"dmarc=fail (p=reject" in spoofed
        assert b"X-Scam-Rules: IDENTITY_DOMAIN_NOT_AUTHENTICATED" in spoofed
        authentic = delivered["Newsletter d"]
        assert b"Authentication-Results: mx.test.example; spf=pass" in authentic
        assert b"dkim=pass header.d=police.be" in authentic and b"dmarc=pass" in authentic
        assert b"X-Scam-" not in authentic
        # The signed message arrived exactly as signed, below the headers added on the way.
        assert exact["Newsletter d"].endswith(to_lf(signed))


def subject_of(raw: bytes) -> str:
    for line in raw.replace(b"\r\n", b"\n").split(b"\n"):
        if line.lower().startswith(b"subject: "):
            return line[len(b"subject: ") :].decode()
    return ""


@pytest.mark.parametrize("mode", MODES)
def test_an_image_letter_is_read_and_held_a_photo_delivered(stack: StackFactory, mode: str) -> None:
    # The seed wave's shape: one bland line and the letter as a JPEG. Only OCR of the
    # image (real Tesseract, in serve's scan threads) can hold it; a photo goes through.
    from PIL import Image

    from tests.ocr.letters import GERMAN, encoded, letter
    from tests.ocr.test_image_scan import mail

    s = stack(mode)
    letter_mail = mail(("IMG_0031.jpg", letter(GERMAN), "image/jpeg"))
    photo = Image.new("RGB", (1200, 900), (90, 140, 60))  # a lawn: no text, no code
    photo_mail = mail(("garden.jpg", encoded(photo, "JPEG"), "image/jpeg"), body="Our garden")
    crlf = [
        raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for raw in (letter_mail, photo_mail)
    ]
    if mode == "before-queue":
        # Scored past the reject threshold: refused in the client's session.
        with pytest.raises(smtplib.SMTPDataError) as refused:
            s.send(crlf[0])
        assert refused.value.smtp_code == 550
    else:
        s.send(crlf[0])
    s.send(crlf[1])
    # Postfix hands both over at once, to two workers: in either order.
    verdicts = sorted(s.proxy.wait_verdicts(2, timeout=60), key=lambda v: v["action"])
    held = "reject" if mode == "before-queue" else "quarantine"
    assert sorted(v["action"] for v in verdicts) == sorted(["accept", held])
    (scam,) = [v for v in verdicts if v["action"] == held]
    assert "GOVSPOOF_CSAM_ACCUSATION" in scam["rules"]
    s.settle()
    (delivered,) = s.postfix.delivered()
    assert b"Our garden" in delivered
    if mode == "after-queue":
        (entry,) = s.quarantined()
        quotes = [quote for rule in entry.rules for quote in rule["evidence"]]
        assert "Kinderpornografie [image IMG_0031.jpg]" in quotes

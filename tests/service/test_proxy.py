"""The proxy with real sockets: SMTP front -> scan -> relay into a recording next hop.

No Postfix here (tests/e2e/test_e2e_postfix.py has it): the next hop is our own SMTP front
with a handler that records what arrives, so every reply it gives can be scripted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import smtplib
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvloop

from milter.config import HeaderNames, MessageLimits, Mode
from milter.errors import QuarantineError
from milter.ledger.store import LedgerSettings
from milter.mail.envelope import Envelope, Param
from milter.quarantine.store import QuarantineStore
from milter.scan.scanner import Scanner
from milter.service.proxy import Proxy, ProxySettings
from milter.smtp.front import FrontSettings, Transaction, start_front
from milter.smtp.relay import Relay, RelaySettings
from milter.smtp.replies import OK, Reply
from tests.helpers.word_rules import WORD_RULES


@dataclass
class Recorder:
    """A next hop that records transactions and answers as scripted."""

    messages: list[tuple[str, list[tuple[str, tuple[Param, ...]]], bytes]] = field(
        default_factory=list
    )
    rcpt_replies: dict[str, Reply] = field(default_factory=dict)
    data_reply: Reply = OK
    aborted: int = 0
    # Seconds between taking a message and answering for it: a busy next hop that has
    # queued it and answers late.
    data_delay: float = 0.0

    async def mail(self, tx: Transaction) -> Reply:
        return OK

    async def rcpt(self, tx: Transaction, address: str, params: tuple[Param, ...]) -> Reply:
        return self.rcpt_replies.get(address, OK)

    async def data(self, tx: Transaction, raw: bytes) -> Reply:
        if self.data_reply.positive:
            self.messages.append((tx.mail_from, list(tx.recipients), raw))
        await asyncio.sleep(self.data_delay)
        return self.data_reply

    async def abort(self, tx: Transaction) -> None:
        self.aborted += 1


class Loop:
    """An event loop in a thread, so the test talks to the servers with blocking smtplib.
    ``kind`` "uvloop" runs the loop ``serve`` runs in production."""

    def __init__(self, kind: str = "asyncio") -> None:
        self.loop = uvloop.new_event_loop() if kind == "uvloop" else asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@dataclass
class Setup:
    port: int
    recorder: Recorder
    store: QuarantineStore
    proxy: Proxy
    next_hop_port: int

    def send(
        self, body: str, *, rcpt: tuple[str, ...] = ("bob@example.net",), raw: bytes | None = None
    ):
        message = (
            raw
            or (
                "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: test\r\n\r\n"
                + body
                + "\r\n"
            ).encode()
        )
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            client.ehlo("client.example.org")
            return client.sendmail("alice@example.org", list(rcpt), message)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    yield from _setup(tmp_path, Mode.AFTER_QUEUE)


@pytest.fixture
def before_queue(tmp_path: Path) -> Iterator[Setup]:
    yield from _setup(tmp_path, Mode.BEFORE_QUEUE)


def _setup(
    tmp_path: Path,
    mode: Mode,
    *,
    loop_kind: str = "asyncio",
    headers: HeaderNames | None = None,
    limits: MessageLimits | None = None,
    ledger: LedgerSettings | None = None,
    data_timeout: float = 600.0,
) -> Iterator[Setup]:
    rules = tmp_path / "rules.yml"
    rules.write_text(WORD_RULES, encoding="utf-8")
    scanner = Scanner.from_rule_paths([rules])
    loop = Loop(loop_kind)
    recorder = Recorder()
    next_hop = loop.run(start_front(recorder, FrontSettings(), "127.0.0.1", 0))
    relay = Relay(
        RelaySettings(
            port=next_hop.port, connect_timeout=5, command_timeout=10, data_timeout=data_timeout
        )
    )
    store = QuarantineStore(tmp_path / "quarantine")
    settings = ProxySettings(
        mode=mode,
        subject_prefix="[SCAM?] ",
        headers=headers or HeaderNames(),
        limits=limits or MessageLimits(),
        ledger=ledger or LedgerSettings(),
    )
    proxy = Proxy(lambda: scanner, relay, store, settings)
    front = loop.run(start_front(proxy, FrontSettings(), "127.0.0.1", 0))
    try:
        yield Setup(front.port, recorder, store, proxy, next_hop.port)
    finally:
        loop.run(front.stop_accepting())
        loop.run(front.drain(5))
        loop.run(next_hop.stop_accepting())
        loop.run(next_hop.drain(5))
        loop.run(relay.close())
        store.close()
        loop.close()


def test_clean_message_arrives_byte_for_byte(setup: Setup) -> None:
    raw = (
        b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hi\r\n\r\n"
        b".leading dot\r\n" + b"x" * 1500 + b"\r\ncaf\xc3\xa9\r\n"
    )
    assert setup.send("", raw=raw) == {}
    ((sender, rcpts, got),) = setup.recorder.messages
    assert got == raw
    assert sender == "alice@example.org"
    assert [r for r, _ in rcpts] == ["bob@example.net"]


def test_scam_is_quarantined_not_relayed(setup: Setup) -> None:
    setup.send("please holdme now")
    assert setup.recorder.messages == []
    (entry,) = setup.store.entries()
    assert entry.score == 12
    assert [rule["id"] for rule in entry.rules] == ["TEST_HOLD"]
    _, raw = setup.store.get(entry.id)
    assert b"please holdme now" in raw


def test_tagged_message_carries_headers_and_forged_ones_are_removed(setup: Setup) -> None:
    raw = (
        b"X-Scam-Verdict: accept\r\nX-Scam-Score: -50\r\nFrom: alice@example.org\r\n"
        b"Subject: offer\r\n\r\ntagme\r\n"
    )
    setup.send("", raw=raw)
    ((_, _, got),) = setup.recorder.messages
    headers = got.split(b"\r\n\r\n")[0].split(b"\r\n")
    assert headers[:3] == [b"X-Scam-Verdict: tag", b"X-Scam-Score: 6", b"X-Scam-Rules: TEST_TAG"]
    assert b"X-Scam-Score: -50" not in got
    assert b"X-Scam-Verdict: accept" not in got
    assert b"Subject: [SCAM?] offer" in got


def test_forged_headers_removed_from_clean_mail(setup: Setup) -> None:
    setup.send("", raw=b"X-Scam-Verdict: accept\r\nSubject: x\r\n\r\nhello\r\n")
    ((_, _, got),) = setup.recorder.messages
    assert got == b"Subject: x\r\n\r\nhello\r\n"


def test_reject_is_quarantined_after_queue(setup: Setup) -> None:
    setup.send("rejectme")
    assert setup.recorder.messages == []
    assert len(setup.store.entries()) == 1


def test_reject_is_5xx_before_queue(before_queue: Setup) -> None:
    with pytest.raises(smtplib.SMTPDataError) as caught:
        before_queue.send("rejectme")
    assert caught.value.smtp_code == 550
    assert before_queue.recorder.messages == []
    assert before_queue.store.entries() == []


def test_next_hop_refusing_one_recipient_is_mirrored(setup: Setup) -> None:
    setup.recorder.rcpt_replies["nobody@example.net"] = Reply(550, "5.1.1 No such user")
    refused = setup.send("hello", rcpt=("bob@example.net", "nobody@example.net"))
    assert refused == {"nobody@example.net": (550, b"5.1.1 No such user")}
    ((_, rcpts, _),) = setup.recorder.messages
    assert [r for r, _ in rcpts] == ["bob@example.net"]


@pytest.mark.parametrize("code", [451, 554])
def test_next_hop_data_reply_is_mirrored(setup: Setup, code: int) -> None:
    setup.recorder.data_reply = Reply(code, f"{code // 100}.0.0 scripted")
    with pytest.raises(smtplib.SMTPDataError) as caught:
        setup.send("hello")
    assert caught.value.smtp_code == code


def test_next_hop_down_is_4xx(setup: Setup) -> None:
    setup.proxy.relay = Relay(RelaySettings(port=1, connect_timeout=2))
    with pytest.raises(smtplib.SMTPSenderRefused) as caught:
        setup.send("hello")
    assert caught.value.smtp_code == 451


def test_quarantine_failure_is_4xx_and_nothing_relayed(setup: Setup, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise QuarantineError("the quarantine disk is full")

    monkeypatch.setattr(setup.store, "put", broken)
    with pytest.raises(smtplib.SMTPDataError) as caught:
        setup.send("holdme")
    assert caught.value.smtp_code == 451
    assert setup.recorder.messages == []


def test_scanner_crash_is_4xx(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def scan(self, raw, envelope, auth=None):
            raise RuntimeError("bug")

    setup.proxy.scanner = lambda: Broken()
    with (
        caplog.at_level(logging.INFO, logger="scam_milter.verdict"),
        pytest.raises(smtplib.SMTPDataError) as caught,
    ):
        setup.send("hello")
    assert caught.value.smtp_code == 451
    assert setup.recorder.messages == []
    # Still one verdict line: the log covers every message, deferred ones too.
    (record,) = [r for r in caplog.records if r.name == "scam_milter.verdict"]
    line = json.loads(record.getMessage())
    assert (line["action"], line["verdict"], line["reply"][:3]) == ("tempfail", None, "451")


def test_one_json_log_line_per_message(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="scam_milter.verdict"):
        setup.send("tagme")
    (record,) = [r for r in caplog.records if r.name == "scam_milter.verdict"]
    line = json.loads(record.getMessage())
    assert line["verdict"] == "tag"
    assert line["action"] == "tag"
    assert line["score"] == 6
    assert line["rules"] == ["TEST_TAG"]
    assert line["from"] == "alice@example.org"
    assert line["rcpt"] == ["bob@example.net"]
    assert line["client"]["addr"] == "127.0.0.1"
    assert line["reply"].startswith("250")
    assert line["seconds"] >= 0


def test_next_hop_421_becomes_451(setup: Setup) -> None:
    setup.recorder.rcpt_replies["busy@example.net"] = Reply(421, "4.3.2 shutting down")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        setup.send("hello", rcpt=("busy@example.net",))
    assert caught.value.recipients == {"busy@example.net": (451, b"4.3.2 shutting down")}


def test_forged_auth_results_removed_even_with_auth_off(setup: Setup) -> None:
    # No authenticator here: nothing is checked, but our id is still ours alone.
    raw = (
        b"Authentication-Results: scam-milter; dmarc=pass header.from=police.be\r\n"
        b"Authentication-Results: other.example; spf=none\r\n"
        b"From: alice@example.org\r\nSubject: hi\r\n\r\nhello\r\n"
    )
    setup.send("", raw=raw)
    ((_, _, got),) = setup.recorder.messages
    assert got == raw.split(b"\r\n", 1)[1]


# Forged fields of ours, in any case, folded or not; the look-alike and the body stay.
FORGED = (
    b"X-Scam-Released: by admin at Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    b"x-scam-verdict: accept\r\n"
    b"X-SCAM-Anything: 1\r\n  folded on\r\n"
    b"From: alice@example.org\r\n"
    b"X-Scamper: kept\r\n"
    b"X-Scam-Score:-50\r\n"
    b"Subject: s\r\n"
)


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
@pytest.mark.parametrize("word", ["hello", "tagme"])  # accept, tag
def test_every_forged_x_scam_field_is_removed(tmp_path: Path, word: str, loop_kind: str) -> None:
    running = _setup(tmp_path, Mode.AFTER_QUEUE, loop_kind=loop_kind)
    setup = next(running)
    try:
        body = word.encode() + b"\r\nX-Scam-Verdict: in the body stays\r\n"
        setup.send("", raw=FORGED + b"\r\n" + body)
        ((_, _, got),) = setup.recorder.messages
    finally:
        running.close()
    header, _, got_body = got.partition(b"\r\n\r\n")
    kept = b"From: alice@example.org\r\nX-Scamper: kept\r\nSubject: "
    if word == "hello":
        assert header + b"\r\n" == kept + b"s\r\n"
    else:
        ours = b"X-Scam-Verdict: tag\r\nX-Scam-Score: 6\r\nX-Scam-Rules: TEST_TAG\r\n"
        assert header + b"\r\n" == ours + kept + b"[SCAM?] s\r\n"
    assert got_body == body


def test_the_prefix_is_configurable(tmp_path: Path) -> None:
    running = _setup(tmp_path, Mode.AFTER_QUEUE, headers=HeaderNames(prefix="x-filter-"))
    setup = next(running)
    try:
        raw = (
            b"X-Filter-Said: ok\r\nX-Scam-Verdict: accept\r\nX-Scam-Other: kept\r\n"
            b"Subject: s\r\n\r\nhello\r\n"
        )
        setup.send("", raw=raw)
        ((_, _, got),) = setup.recorder.messages
    finally:
        running.close()
    # The prefix's fields go, and so do the configured names; X-Scam-* is not ours here.
    assert got == b"X-Scam-Other: kept\r\nSubject: s\r\n\r\nhello\r\n"


def test_our_prefix_in_a_value_or_the_body_leaves_the_message_untouched(setup: Setup) -> None:
    raw = (
        b"Subject: about X-Scam-Verdict:\r\n X-Scam-Verdict: folded, not a field\r\n"
        b"From: alice@example.org\r\n\r\nX-Scam-Verdict: accept\r\n"
    )
    setup.send("", raw=raw)
    ((_, _, got),) = setup.recorder.messages
    assert got == raw


def test_a_forged_x_scam_released_alone_is_removed(setup: Setup) -> None:
    # No configured name in it: only the prefix finds it (the fast path must too).
    setup.send("", raw=b"X-Scam-Released: by admin\r\nSubject: x\r\n\r\nhello\r\n")
    ((_, _, got),) = setup.recorder.messages
    assert got == b"Subject: x\r\n\r\nhello\r\n"


# Exactly once: a retry of a message relayed or held before ---------------------------


@contextlib.contextmanager
def started(tmp_path: Path, mode: Mode = Mode.AFTER_QUEUE, **kwargs: Any) -> Iterator[Setup]:
    running = _setup(tmp_path, mode, **kwargs)
    try:
        yield next(running)
    finally:
        running.close()


def queued(body: str = "hello", *, queue_id: str = "4QAAA1", msgid: str | None = "1") -> bytes:
    """A message as Postfix hands it over: its own Received field first."""
    message_id = f"Message-ID: <{msgid}@example.org>\r\n" if msgid else ""
    return (
        "Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n"
        f"\tby mail.example.net (Postfix) with ESMTP id {queue_id}\r\n"
        "\tfor <bob@example.net>; Mon, 3 Jun 2024 10:00:00 +0200 (CEST)\r\n"
        "From: alice@example.org\r\nTo: bob@example.net\r\nSubject: test\r\n"
        f"{message_id}\r\n{body}\r\n"
    ).encode()


def deliver(
    setup: Setup,
    raw: bytes,
    *,
    sender: str = "alice@example.org",
    rcpt: tuple[str, ...] = ("bob@example.net",),
) -> tuple[int, bytes]:
    """One transaction; the reply to the end of DATA."""
    with smtplib.SMTP("127.0.0.1", setup.port, timeout=30) as client:
        client.ehlo("client.example.org")
        client.mail(sender)
        for address in rcpt:
            client.rcpt(address)
        return client.data(raw)


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def recorded(setup: Setup, raw: bytes, rcpt: tuple[str, ...] = ("bob@example.net",)) -> bool:
    key = setup.proxy.dedupe.key(Envelope(mail_from="alice@example.org", rcpt_to=rcpt), raw)
    return setup.proxy.dedupe.seen(key) is not None


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_a_retry_is_relayed_once_and_answered_250_twice(
    tmp_path: Path, loop_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    with started(tmp_path, loop_kind=loop_kind) as setup:
        raw = queued()
        first = deliver(setup, raw)
        aborted = setup.recorder.aborted
        with caplog.at_level(logging.INFO, logger="scam_milter.verdict"):
            retry = deliver(setup, raw)
        assert first[0] == retry[0] == 250
        assert retry[1].startswith(b"2.0.0 OK: delivered before (")
        assert len(setup.recorder.messages) == 1
        # The retry's transaction at the next hop was ended (RSET), not left open.
        assert setup.recorder.aborted == aborted + 1
    (record,) = [r for r in caplog.records if r.name == "scam_milter.verdict"]
    line = json.loads(record.getMessage())
    assert (line["action"], line["reason"], line["verdict"]) == ("duplicate", "relayed", None)


def test_a_held_message_is_stored_once(tmp_path: Path) -> None:
    with started(tmp_path) as setup:
        raw = queued("please holdme")
        first = deliver(setup, raw)
        retry = deliver(setup, raw)
        (entry,) = setup.store.entries()
        assert first == retry == (250, f"2.0.0 OK: held for review as {entry.id}".encode())
        assert setup.recorder.messages == []
        ledger = setup.store.directory / "ledger"
        assert stat.S_IMODE(ledger.stat().st_mode) == 0o700
        assert {stat.S_IMODE(p.stat().st_mode) for p in ledger.iterdir()} == {0o600}


def test_a_header_over_the_limit_is_held_once(tmp_path: Path) -> None:
    with started(tmp_path, limits=MessageLimits(max_header_lines=20)) as setup:
        raw = queued().replace(b"Subject: test\r\n", b"Subject: x\r\n" + b" y\r\n" * 50)
        assert deliver(setup, raw)[0] == deliver(setup, raw)[0] == 250
        (entry,) = setup.store.entries()
        assert [rule["id"] for rule in entry.rules] == ["HEADER_OVER_LIMIT"]


def test_a_different_envelope_or_body_is_relayed_again(tmp_path: Path) -> None:
    with started(tmp_path) as setup:
        raw = queued()
        deliver(setup, raw)
        deliver(setup, raw, rcpt=("carol@example.net",))
        deliver(setup, raw, sender="mallory@example.org")
        deliver(setup, queued("hello again"))
        deliver(setup, queued(msgid="2"))
        assert len(setup.recorder.messages) == 5
        # Each of them is known now.
        for again in (
            deliver(setup, raw, rcpt=("carol@example.net",)),
            deliver(setup, queued("hello again")),
        ):
            assert again[1].startswith(b"2.0.0 OK: delivered before")
        assert len(setup.recorder.messages) == 5


def test_before_queue_a_retry_under_a_new_received_is_recognised(tmp_path: Path) -> None:
    # Postfix's smtpd prepends a Received with a new queue id and time to each attempt.
    with started(tmp_path, Mode.BEFORE_QUEUE) as setup:
        assert deliver(setup, queued(queue_id="4QAAA1"))[0] == 250
        assert deliver(setup, queued(queue_id="4QBBB2"))[0] == 250
        assert len(setup.recorder.messages) == 1


def test_without_message_id_only_the_same_bytes_are_a_retry(tmp_path: Path) -> None:
    with started(tmp_path) as setup:
        # The same queue file again (an after-queue retry): recognised.
        deliver(setup, queued(msgid=None))
        deliver(setup, queued(msgid=None))
        assert len(setup.recorder.messages) == 1
        # Another queue id: maybe another message with the same text; relayed.
        deliver(setup, queued(msgid=None, queue_id="4QBBB2"))
        assert len(setup.recorder.messages) == 2


def test_mail_that_did_not_come_through_postfix_is_relayed_each_time(setup: Setup) -> None:
    raw = queued().split(b"(CEST)\r\n", 1)[1]
    assert raw.startswith(b"From:")
    for _ in range(2):
        assert deliver(setup, raw)[0] == 250
    assert len(setup.recorder.messages) == 2


def test_mail_without_a_ledger_key_costs_the_ledger_nothing(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No trace field, no key: no lookup, so no ledger files opened and no thread handed
    # the check (that once cost every such message ~90 us; bench/smtp_throughput.py).
    threads: list[object] = []
    real = asyncio.to_thread

    async def counting(function, *args):  # type: ignore[no-untyped-def]
        threads.append(function)
        return await real(function, *args)

    monkeypatch.setattr("milter.service.proxy.asyncio.to_thread", counting)
    raw = queued().split(b"(CEST)\r\n", 1)[1]
    for _ in range(3):
        assert deliver(setup, raw)[0] == 250
    assert threads == []
    assert setup.proxy.dedupe.ledger is not None and not setup.proxy.dedupe.ledger.warm
    assert not (setup.store.directory / "ledger").exists()


def test_a_refused_message_is_relayed_again(setup: Setup) -> None:
    setup.recorder.data_reply = Reply(451, "4.3.0 try later")
    with pytest.raises(smtplib.SMTPDataError):
        setup.send("", raw=queued())
    setup.recorder.data_reply = OK
    assert deliver(setup, queued())[0] == 250
    assert len(setup.recorder.messages) == 1  # the refused attempt is not recorded


def test_the_ledger_can_be_turned_off(tmp_path: Path) -> None:
    with started(tmp_path, ledger=LedgerSettings(window=0)) as setup:
        for _ in range(2):
            assert deliver(setup, queued())[0] == 250
        assert len(setup.recorder.messages) == 2
        assert not (setup.store.directory / "ledger").exists()


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_a_late_250_answers_the_retry(tmp_path: Path, loop_kind: str) -> None:
    # The next hop queues the message but answers after our timeout: we answer 451,
    # keep listening, and record its 250, so Postfix's retry is not delivered again.
    with started(tmp_path, loop_kind=loop_kind, data_timeout=0.3) as setup:
        setup.recorder.data_delay = 0.8
        raw = queued()
        with pytest.raises(smtplib.SMTPDataError) as caught:
            setup.send("", raw=raw)
        assert (caught.value.smtp_code, caught.value.smtp_error[:5]) == (451, b"4.4.2")
        assert not recorded(setup, raw)
        wait_until(lambda: recorded(setup, raw))
        setup.recorder.data_delay = 0
        retry = deliver(setup, raw)
        assert retry[0] == 250 and retry[1].startswith(b"2.0.0 OK: delivered before")
        assert len(setup.recorder.messages) == 1


def test_a_reply_lost_with_the_client_is_not_a_second_delivery(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    # The client (Postfix, at its smtpd_proxy_timeout, or killed) goes away while we
    # wait for the next hop, which has the message: it will retry. The next hop's 250
    # that comes after is recorded.
    setup.recorder.data_delay = 1.0
    raw = queued()
    with socket.create_connection(("127.0.0.1", setup.port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def reply() -> bytes:
            while (line := reader.readline())[3:4] == b"-":
                pass
            return line

        reply()  # greeting
        for line in (b"EHLO client.example.org", b"MAIL FROM:<alice@example.org>"):
            sock.sendall(line + b"\r\n")
            reply()
        sock.sendall(b"RCPT TO:<bob@example.net>\r\n")
        reply()
        sock.sendall(b"DATA\r\n")
        assert reply().startswith(b"354")
        sock.sendall(raw + b".\r\n")
        wait_until(lambda: len(setup.recorder.messages) == 1)
        reader.close()
    assert not recorded(setup, raw)
    wait_until(lambda: recorded(setup, raw))
    # Cancelled with its client, the relay kept listening for the reply.
    assert "after we gave up: 250" in caplog.text
    setup.recorder.data_delay = 0
    assert deliver(setup, raw)[0] == 250
    assert len(setup.recorder.messages) == 1

"""The milter front door over a real loopback socket (milter/service/milter_front.py):
an MTA-side client written here speaks milter protocol 6 as Postfix does. Each verdict
gets its answer (continue with edits, DISCARD after a durable store, a 5xx, TEMPFAIL);
malformed, oversized and abandoned connections are closed while the worker serves on."""

from __future__ import annotations

import asyncio
import signal
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.milterproto import packets as p
from milter.quarantine.store import QuarantineStore
from milter.scan.scanner import Scanner
from milter.service.judge import Judge
from milter.service.milter_front import MilterFront, MilterSettings
from tests.helpers.serve_process import ServeProcess
from tests.helpers.word_rules import WORD_RULES


def packet(command: bytes, data: bytes = b"") -> bytes:
    return struct.pack(">I", len(data) + 1) + command + data


OPTNEG = packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))


def conversation(body: bytes, *, auth_user: str = "", subject: str = "Hello") -> bytes:
    return b"".join(
        [
            packet(b"C", b"client.example.net\x004" + struct.pack(">H", 40123) + b"198.51.100.9\0"),
            packet(b"H", b"client.example.net\0"),
            packet(b"D", b"M{auth_authen}\0" + auth_user.encode() + b"\0i\0" + b"4QAAA1\0"),
            packet(b"M", b"<alice@example.net>\0"),
            packet(b"R", b"<bob@example.org>\0"),
            packet(b"L", b"From\0 Alice <alice@example.net>\0"),
            packet(b"L", b"Subject\0 " + subject.encode() + b"\0"),
            packet(b"N"),
            packet(b"B", body),
            packet(b"E"),
        ]
    )


class Loop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[MilterFront, int, QuarantineStore]]:
    rules = tmp_path / "rules.yml"
    rules.write_text(WORD_RULES, encoding="utf-8")
    scanner = Scanner.from_rule_paths([rules])
    store = QuarantineStore(tmp_path / "quarantine")
    loop = Loop()
    front = MilterFront(
        Judge(lambda: scanner),
        store,
        MilterSettings(subject_prefix="[SCAM?] ", max_connections=3, idle_timeout=5),
    )
    port = loop.run(front.start("127.0.0.1", 0))
    try:
        yield front, port, store
    finally:
        loop.run(front.stop(2))
        front.judge.close()
        store.close()
        loop.close()


def talk(port: int, data: bytes, *, close_after: bool = True) -> list[bytes]:
    """Send ``data``, read reply packets until the end-of-message answer or EOF."""
    replies: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        buffer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            buffer += chunk
            while len(buffer) >= 4:
                (length,) = struct.unpack(">I", buffer[:4])
                if len(buffer) < 4 + length:
                    break
                replies.append(buffer[: 4 + length])
                buffer = buffer[4 + length :]
            final = replies and replies[-1][4:5] in (b"c", b"a", b"d", b"r", b"t", b"y")
            if final and (len(replies) > 1 or replies[0][4:5] != b"O"):
                break
    return replies


def test_clean_mail_continues(served) -> None:
    _, port, store = served
    replies = talk(port, OPTNEG + conversation(b"Minutes of the meeting.\r\n"))
    assert replies[0][4:5] == b"O" and replies[1:] == [p.continue_()]
    assert store.entries() == []


def test_a_tag_adds_the_headers_and_the_prefix(served) -> None:
    _, port, _ = served
    replies = talk(port, OPTNEG + conversation(b"please tagme\r\n"))
    assert replies[1:] == [
        p.add_header("X-Scam-Verdict", " tag"),
        p.add_header("X-Scam-Score", " 6"),
        p.add_header("X-Scam-Rules", " TEST_TAG"),
        p.change_header(1, "Subject", " [SCAM?] Hello"),
        p.continue_(),
    ]


def test_a_scam_is_stored_with_the_real_client_then_discarded(served) -> None:
    _, port, store = served
    replies = talk(port, OPTNEG + conversation(b"please holdme\r\n"))
    assert replies[-1] == p.discard()
    (entry,) = store.entries()
    assert entry.subject == "Hello" and entry.rules[0]["id"] == "TEST_HOLD"
    meta, raw = store.get(entry.id)
    assert raw == b"From: Alice <alice@example.net>\r\nSubject: Hello\r\n\r\nplease holdme\r\n"
    assert "198.51.100.9" in str(meta)


def test_a_reject_is_a_5xx(served) -> None:
    _, port, _ = served
    (reply,) = talk(port, OPTNEG + conversation(b"rejectme\r\n"))[1:]
    assert reply[4:5] == b"y" and reply[5:8] == b"550"


def test_any_failure_is_tempfail(served) -> None:
    front, port, store = served

    class Broken:
        def view(self, *args, **kwargs):
            raise RuntimeError("bug")

    front.judge.scanner = lambda: Broken()
    assert talk(port, OPTNEG + conversation(b"holdme\r\n"))[1:] == [p.tempfail()]
    assert store.entries() == []


def test_authenticated_submission_is_not_scanned(served) -> None:
    _, port, store = served
    replies = talk(port, OPTNEG + conversation(b"holdme\r\n", auth_user="alice"))
    assert replies[1:] == [p.continue_()] and store.entries() == []


def test_outbound_submission_is_scanned_and_leaves_unchanged_or_refused(
    served, caplog: pytest.LogCaptureFixture
) -> None:
    # A hijacked account sending scams: held or refused in the user's own session, and
    # what passes leaves with no header of ours (no tag, no Authentication-Results).
    front, port, store = served
    front.settings = MilterSettings(subject_prefix="[SCAM?] ", submission="outbound")
    clean = talk(port, OPTNEG + conversation(b"Minutes attached\r\n", auth_user="alice"))
    tagged = talk(port, OPTNEG + conversation(b"tagme\r\n", auth_user="alice"))
    assert clean[1:] == [p.continue_()] and tagged[1:] == [p.continue_()]
    held = talk(port, OPTNEG + conversation(b"holdme\r\n", auth_user="alice"))
    assert held[1:] == [
        p.reply_code(550, "5.7.1 Held for review as a likely scam; ask your mail administrator")
    ]
    (entry,) = store.entries()
    assert entry.client_addr == "198.51.100.9"
    refused = talk(port, OPTNEG + conversation(b"rejectme\r\n", auth_user="alice"))
    assert refused[1:][0][5:8] == b"550" and len(store.entries()) == 1
    # Mail from outside is judged as before, headers and all.
    inbound = talk(port, OPTNEG + conversation(b"tagme\r\n"))
    assert any(reply[4:5] == b"h" for reply in inbound[1:])


@pytest.mark.parametrize(
    "bad",
    [
        packet(b"Z", b"what"),  # unknown command
        struct.pack(">I", p.MAX_PACKET + 10) + b"B",  # oversized
        struct.pack(">I", 0),  # empty
    ],
)
def test_broken_connections_are_closed_and_the_worker_serves_on(served, bad: bytes) -> None:
    _, port, store = served
    # Closed without an answer to the message (the negotiation may have gone out).
    assert all(reply[4:5] == b"O" for reply in talk(port, OPTNEG + bad))
    # Dropped mid-message: nothing stored, nothing answered.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(OPTNEG + conversation(b"holdme\r\n")[:-5])
    replies = talk(port, OPTNEG + conversation(b"hello\r\n"))
    assert replies[-1] == p.continue_() and store.entries() == []


def test_connections_past_the_limit_are_closed(served) -> None:
    _, port, _ = served
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
    try:
        for sock in held:
            sock.sendall(OPTNEG)
            sock.recv(64)  # served: its negotiation answered
        with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
            try:
                extra.sendall(OPTNEG)
                answer = extra.recv(64)
            except ConnectionResetError:
                answer = b""
            assert answer == b""  # closed: Postfix applies its default action
    finally:
        for sock in held:
            sock.close()


def test_serve_as_a_milter_reloads_its_rules_on_sighup(tmp_path: Path) -> None:
    # The same SIGHUP as the proxy's: every worker takes the new rules, a message later
    # is judged by them, and SIGTERM ends the service cleanly.
    rules = tmp_path / "rules.yml"
    rules.write_text(WORD_RULES, encoding="utf-8")
    served = ServeProcess(
        tmp_path,
        next_hop=1,  # a milter relays nothing
        rules=[rules],
        extra_config="protocol: milter\nsmtp: {workers: 2}\nauth: {enabled: false}\n",
    ).start()
    try:
        assert talk(served.port, OPTNEG + conversation(b"newword\r\n"))[1:] == [p.continue_()]
        rules.write_text(WORD_RULES.replace("holdme", "newword"), encoding="utf-8")
        served.process.send_signal(signal.SIGHUP)
        served.wait_line(r"reloaded: \d+ rules", count=2)
        assert talk(served.port, OPTNEG + conversation(b"newword\r\n"))[1:] == [p.discard()]
    finally:
        code = served.stop()
    assert code == 0

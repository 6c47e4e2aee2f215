"""`scam-milter serve` as production runs it (uvloop, workers) against hostile clients and
a slow next hop: idle connections (slowloris), one connection too many, and SIGTERM while
the next hop is still working on a message (issue 10, item 1).

Each case failed on uvloop before the front stopped asserting asyncio's transport class:
idle clients were never closed, the client over the limit got a bare EOF, and SIGTERM
crashed the workers, cutting off a message the next hop had already queued (Postfix then
retries it: a duplicate).
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.helpers.postfix_harness import free_port
from tests.helpers.serve_process import ServeProcess
from tests.helpers.word_rules import WORD_RULES

MESSAGE = b"From: alice@example.org\r\nSubject: t\r\n\r\nan ordinary message\r\n"


class SlowSink:
    """A next hop that takes ``delay`` seconds to answer the end of DATA, as a loaded
    Postfix can; ``receiving`` is set once a message has arrived and waits for its reply."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.messages: list[bytes] = []
        self.receiving = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        self.receiving.set()
        await asyncio.sleep(self.delay)
        self.messages.append(envelope.original_content)
        return "250 2.0.0 Ok: queued as SLOW1"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "test.yml").write_text(WORD_RULES, encoding="utf-8")
    return directory


def sink_of(delay: float) -> Iterator[tuple[SlowSink, int]]:
    handler = SlowSink(delay)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def sink() -> Iterator[tuple[SlowSink, int]]:
    yield from sink_of(0.0)


@pytest.fixture
def slow_sink() -> Iterator[tuple[SlowSink, int]]:
    yield from sink_of(3.0)


def serve(tmp_path: Path, next_hop: int, rules: Path, smtp: str) -> ServeProcess:
    return ServeProcess(
        tmp_path, next_hop=next_hop, rules=[rules], extra_config=f"smtp: {{{smtp}}}\n"
    ).start()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.settimeout(30)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset counts as closed)."""
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def send_one(port: int) -> int:
    """The reply to the end of DATA. (While draining, the server then says 421 and
    closes instead of waiting for QUIT, so no ``with``: its QUIT would raise.)"""
    client = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        client.ehlo()
        client.mail("alice@example.org")
        client.rcpt("bob@example.net")
        code, _ = client.data(MESSAGE)
        return code
    finally:
        client.close()


def send_once_served(port: int) -> None:
    """One message, once the server has noticed that the closed connections are gone:
    the client sees EOF a moment before the server has counted the session out."""
    deadline = time.monotonic() + 10
    while True:
        try:
            assert send_one(port) == 250
            return
        except smtplib.SMTPConnectError:
            assert time.monotonic() < deadline, "the freed slots were never given back"
            time.sleep(0.1)


def no_traceback(served: ServeProcess) -> None:
    assert not [line for line in served.lines if "Traceback" in line], "".join(served.lines)


def test_slowloris_connections_time_out_with_421_and_free_their_slots(
    tmp_path: Path, sink: tuple[SlowSink, int], rules: Path
) -> None:
    recorder, port = sink
    served = serve(tmp_path, port, rules, "workers: 1, max_connections: 20, command_timeout: 2")
    try:
        idle = [connect(served.port) for _ in range(20)]
        for sock in idle:
            assert sock.recv(4096).startswith(b"220 ")  # then nothing more from the client
        started = time.monotonic()
        for sock in idle:
            assert read_until_closed(sock) == b"421 4.4.2 Timeout, closing connection\r\n"
            sock.close()
        # Closed at the command timeout, not whenever the client gives up.
        assert time.monotonic() - started < 15
        # The slots are free again: an honest client gets through.
        send_once_served(served.port)
        assert recorder.messages and b"an ordinary message" in recorder.messages[0]
    finally:
        assert served.stop() == 0
    no_traceback(served)


def test_a_connection_over_the_limit_gets_421(
    tmp_path: Path, sink: tuple[SlowSink, int], rules: Path
) -> None:
    _, port = sink
    served = serve(tmp_path, port, rules, "workers: 1, max_connections: 2")
    try:
        held = [connect(served.port) for _ in range(2)]
        for sock in held:
            assert sock.recv(4096).startswith(b"220 ")
        extra = connect(served.port)
        assert read_until_closed(extra) == b"421 4.3.2 Too many connections, try again later\r\n"
        extra.close()
        for sock in held:
            sock.close()
        # Once they are gone, a new client is served again.
        send_once_served(served.port)
    finally:
        assert served.stop() == 0
    no_traceback(served)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_with_a_slow_next_hop_answers_every_session(
    tmp_path: Path, slow_sink: tuple[SlowSink, int], rules: Path, workers: int
) -> None:
    """SIGTERM while the next hop works on a message: that message gets the next hop's
    real 250 (cut off, Postfix would retry it: a second delivery), an idle session gets
    421, and serve exits 0 within the drain."""
    recorder, port = slow_sink
    served = serve(tmp_path, port, rules, f"workers: {workers}, drain_timeout: 30")
    idle = connect(served.port)
    assert idle.recv(4096).startswith(b"220 ")
    idle.sendall(b"EHLO idle.test\r\n")
    assert b"250 " in idle.recv(4096)
    result: list[object] = []

    def deliver() -> None:
        try:
            result.append(send_one(served.port))
        except Exception as exc:
            result.append(exc)

    sender = threading.Thread(target=deliver)
    sender.start()
    assert recorder.receiving.wait(20), "the message never reached the next hop"
    assert served.process is not None
    served.process.send_signal(15)
    # The idle session is told, at once, not at the end of the drain.
    assert read_until_closed(idle) == b"421 4.3.2 Service shutting down, try again later\r\n"
    idle.close()
    sender.join(30)
    assert result == [250]
    assert len(recorder.messages) == 1
    assert served.process.wait(timeout=60) == 0
    served.stop()
    no_traceback(served)


def test_a_subject_folded_over_three_million_lines_stalls_nothing(
    tmp_path: Path, sink: tuple[SlowSink, int], rules: Path
) -> None:
    """The fault run's header: 3.1 million folded lines got no reply in 600 s and held up
    every other session of the worker. Now it is held without being parsed, and a session
    opened meanwhile on the same (only) worker is served at once."""
    recorder, port = sink
    served = serve(tmp_path, port, rules, "workers: 1")
    folded = b"Subject: pay" + b"\r\n x" * 3_100_000 + b"\r\n"
    huge = b"From: alice@example.org\r\n" + folded + b"\r\nbody\r\n"
    try:
        result: list[object] = []

        def deliver_huge() -> None:
            client = smtplib.SMTP("127.0.0.1", served.port, timeout=120)
            try:
                client.ehlo()
                client.mail("alice@example.org")
                client.rcpt("bob@example.net")
                result.append(client.data(huge))
            except Exception as exc:
                result.append(exc)
            finally:
                client.close()

        sender = threading.Thread(target=deliver_huge)
        started = time.monotonic()
        sender.start()
        assert send_one(served.port) == 250  # not behind the huge one
        sender.join(120)
        seconds = time.monotonic() - started
        code, text = result[0]  # type: ignore[misc]
        assert code == 250 and b"held for review" in text, result
        assert seconds < 60, seconds
        assert [m for m in recorder.messages if b"an ordinary message" in m]
        assert not [m for m in recorder.messages if b"Subject: pay" in m]
        verdict = served.wait_verdicts(2)
        assert {v["reason"] for v in verdict} >= {"header_limit"}
    finally:
        assert served.stop() == 0
    no_traceback(served)

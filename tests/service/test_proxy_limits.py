"""The proxy's bounds on one message (issue 10): header limits and the time budget.

Real sockets on loopback, as in tests/service/test_proxy.py (whose harness this uses): a header
past the limits is held after the queue and refused before it, never parsed; a message
whose authentication or scan overruns its budget is answered 451 while the same event
loop goes on serving another session. Each runs on asyncio's loop and on uvloop, which
``serve`` uses in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from milter.config import MessageLimits, Mode
from milter.mail.envelope import Envelope
from milter.mail.view import MessageView
from milter.scan.scanner import Scanner
from milter.scan.verdict import Verdict
from tests.service.test_proxy import Setup, _setup

LOOPS = ["asyncio", "uvloop"]
CLEAN = b"From: alice@example.org\r\nTo: bob@example.net\r\n"


@pytest.fixture
def make_proxy(tmp_path: Path) -> Iterator[Callable[..., Setup]]:
    """Start a proxy (and its recording next hop) per call; all stopped at the end."""
    started: list[Iterator[Setup]] = []

    def make(mode: Mode = Mode.AFTER_QUEUE, **options: object) -> Setup:
        where = tmp_path / f"proxy{len(started)}"
        where.mkdir()
        running = _setup(where, mode, **options)  # type: ignore[arg-type]
        started.append(running)
        return next(running)

    yield make
    for running in started:
        running.close()  # runs _setup's cleanup


def _verdict_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "scam_milter.verdict"]


def _folded_subject(lines: int) -> bytes:
    """A clean message whose header block has exactly ``lines`` lines."""
    return CLEAN + b"Subject: x\r\n" + b" y\r\n" * (lines - 3) + b"\r\nhello\r\n"


# --- header limits ------------------------------------------------------------------------


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_header_over_the_line_limit_is_held_unscanned(
    make_proxy, loop_kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = make_proxy(loop_kind=loop_kind, limits=MessageLimits(max_header_lines=50))
    assert proxy.send("", raw=_folded_subject(50)) == {}  # at the limit: relayed as it came
    ((_, _, relayed),) = proxy.recorder.messages
    assert relayed == _folded_subject(50)
    with caplog.at_level(logging.INFO, logger="scam_milter.verdict"):
        assert proxy.send("", raw=_folded_subject(51)) == {}  # 250: held for review
    assert len(proxy.recorder.messages) == 1  # nothing more reached the next hop
    (entry,) = proxy.store.entries()
    assert [(rule["id"], rule["evidence"]) for rule in entry.rules] == [
        ("HEADER_OVER_LIMIT", ["header over 50 lines"])
    ]
    assert entry.subject.startswith("x y y")
    _, stored = proxy.store.get(entry.id)
    assert stored == _folded_subject(51)  # byte for byte, for the admin to review
    (line,) = _verdict_lines(caplog)
    assert (line["verdict"], line["action"], line["reason"]) == (
        "reject",
        "quarantine",
        "header_limit",
    )
    assert line["reply"].startswith("250 2.0.0 OK: held for review as ")


def test_header_over_the_byte_limit_is_held(make_proxy) -> None:
    at_limit = CLEAN + b"Subject: " + b"s" * 100 + b"\r\n"
    limit = len(at_limit)
    proxy = make_proxy(limits=MessageLimits(max_header_bytes=limit))
    proxy.send("", raw=at_limit + b"\r\nhello\r\n")
    assert len(proxy.recorder.messages) == 1
    proxy.send("", raw=at_limit.replace(b"s\r\n", b"ss\r\n") + b"\r\nhello\r\n")
    assert len(proxy.recorder.messages) == 1
    (entry,) = proxy.store.entries()
    assert entry.rules[0]["evidence"] == [f"header over {limit} bytes"]


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_header_over_the_limit_is_refused_552_before_the_queue(make_proxy, loop_kind: str) -> None:
    proxy = make_proxy(
        Mode.BEFORE_QUEUE, loop_kind=loop_kind, limits=MessageLimits(max_header_lines=50)
    )
    with pytest.raises(smtplib.SMTPDataError) as refused:
        proxy.send("", raw=_folded_subject(51))
    assert (refused.value.smtp_code, refused.value.smtp_error) == (
        552,
        b"5.3.4 Message header too big",
    )
    assert proxy.recorder.messages == []
    assert proxy.store.entries() == []


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_a_subject_folded_over_3_million_lines_is_held_at_once(make_proxy, loop_kind: str) -> None:
    """The issue's case with the shipped limits: 12 MB of header got no reply in 600 s."""
    proxy = make_proxy(loop_kind=loop_kind)
    raw = _folded_subject(3_000_000)
    started = time.monotonic()
    assert proxy.send("", raw=raw) == {}
    elapsed = time.monotonic() - started
    (entry,) = proxy.store.entries()
    assert entry.rules[0]["evidence"] == ["header over 1048576 bytes"]
    assert proxy.recorder.messages == []
    # Generous for 12 MB on loopback (it takes a fraction of a second); the old code
    # spent minutes splitting the header alone.
    assert elapsed < 60, f"{elapsed:.1f}s"


# --- the time budget ----------------------------------------------------------------------


class SlowScanner(Scanner):
    """Scans as usual, except that a message saying "slowscan" hangs until released."""

    started: threading.Event
    release: threading.Event
    lock: threading.Lock
    hung: int = 0  # scans that reached the hang

    def scan_view(
        self, view: MessageView, auth: object | None = None, *, every_rule: bool = False
    ) -> Verdict:
        if any("slowscan" in text for text in view.text_parts):
            with self.lock:
                self.hung += 1
            self.started.set()
            self.release.wait(30)
        return super().scan_view(view, auth, every_rule=every_rule)


BUDGET = 1.0


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_scan_over_budget_is_451_while_another_session_is_served(
    make_proxy, loop_kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = make_proxy(loop_kind=loop_kind, limits=MessageLimits(message_seconds=BUDGET))
    rules = next(tmp_path.glob("proxy*/rules.yml"))
    slow = SlowScanner.from_rule_paths([rules])
    slow.started, slow.release, slow.lock = threading.Event(), threading.Event(), threading.Lock()
    proxy.proxy.scanner = lambda: slow
    # Big enough to be scanned in a thread, as every message past INLINE_SCAN_BYTES is.
    body = "slowscan\r\n" + ("filler " * 40 + "\r\n") * 1000
    outcome: dict[str, object] = {}

    def send_slow() -> None:
        started = time.monotonic()
        try:
            proxy.send(body)
        except smtplib.SMTPDataError as exc:
            outcome["error"] = exc
        outcome["seconds"] = time.monotonic() - started

    try:
        with caplog.at_level(logging.INFO, logger="scam_milter.verdict"):
            sender = threading.Thread(target=send_slow)
            sender.start()
            assert slow.started.wait(10)
            # The same loop answers another session meanwhile, scan and relay included.
            before = time.monotonic()
            assert proxy.send("hello") == {}
            assert time.monotonic() - before < BUDGET
            assert sender.is_alive()  # the slow one is still waiting for its reply
            sender.join(15)
            assert not sender.is_alive()
    finally:
        slow.release.set()
    error = outcome["error"]
    assert isinstance(error, smtplib.SMTPDataError)
    assert (error.smtp_code, error.smtp_error[:5]) == (451, b"4.3.0")
    assert BUDGET <= outcome["seconds"] < BUDGET + 5
    assert len(proxy.recorder.messages) == 1  # the quick one; the slow one never went on
    lines = {line["reason"]: line for line in _verdict_lines(caplog)}
    assert lines["budget"]["action"] == "tempfail"
    assert lines["budget"]["verdict"] is None
    assert lines["budget"]["reply"].startswith("451 4.3.0")
    assert lines[None]["action"] == "accept"


def test_scans_past_their_budget_hold_no_thread_the_quarantine_needs(make_proxy) -> None:
    # Scans that overrun their budget cannot be stopped. Enough of them once took every
    # thread of the loop's default executor, and a message already judged could not be
    # stored. Now they hold the proxy's scan threads only, and one that waited for a
    # thread past its budget never starts.
    proxy = make_proxy(limits=MessageLimits(message_seconds=BUDGET))
    rules = next(Path(proxy.store.directory).parent.glob("rules.yml"))
    slow = SlowScanner.from_rule_paths([rules])
    slow.started, slow.release, slow.lock = threading.Event(), threading.Event(), threading.Lock()
    proxy.proxy.scanner = lambda: slow
    body = "slowscan\r\n" + ("filler " * 40 + "\r\n") * 1000  # scanned in a thread
    codes: list[int] = []

    def send_slow() -> None:
        try:
            proxy.send(body)
        except smtplib.SMTPDataError as exc:
            codes.append(exc.smtp_code)

    hanging = [threading.Thread(target=send_slow) for _ in range(8)]
    try:
        for sender in hanging:
            sender.start()
        for sender in hanging:
            sender.join(15)
        assert codes == [451] * 8
        # Two scans still hang in the scan threads; a held message is stored at once.
        started = time.monotonic()
        assert proxy.send("please holdme") == {}
        assert time.monotonic() - started < BUDGET + 5
        assert len(proxy.store.entries()) == 1
    finally:
        slow.release.set()
    assert slow.hung == proxy.proxy.scan_pool.threads  # the 6 that waited never ran


class HangingAuthenticator:
    """An authenticator whose DNS never answers (and whose own timeout is broken)."""

    async def authenticate_async(
        self, raw: bytes, envelope: Envelope, fields: object = None
    ) -> object:
        await asyncio.sleep(60)
        raise AssertionError("the budget should have stopped this")


def test_authentication_over_budget_is_451(make_proxy, caplog) -> None:
    proxy = make_proxy(limits=MessageLimits(message_seconds=BUDGET))
    proxy.proxy.authenticator = HangingAuthenticator()  # type: ignore[assignment]
    started = time.monotonic()
    with (
        caplog.at_level(logging.INFO, logger="scam_milter.verdict"),
        pytest.raises(smtplib.SMTPDataError) as deferred,
    ):
        proxy.send("hello")
    assert deferred.value.smtp_code == 451
    assert BUDGET <= time.monotonic() - started < BUDGET + 5
    assert proxy.recorder.messages == []
    (line,) = _verdict_lines(caplog)
    assert (line["action"], line["reason"]) == ("tempfail", "budget")

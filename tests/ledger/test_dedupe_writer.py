"""How the event loop's ledger records are written: by a writer process per loop, in
batches, durable when awaited, and never withdrawn or lost on the way."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.ledger import sync as ledger_sync
from milter.ledger.dedupe import Dedupe
from milter.ledger.store import LEDGER_NAME, Ledger, Outcome
from milter.quarantine.store import QuarantineStore
from milter.smtp.replies import Reply

ACCEPTED = Reply(250, "2.0.0 Ok: queued as 4QxYz")


def k(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


@pytest.fixture
def dedupe(tmp_path: Path) -> Iterator[Dedupe]:
    store = QuarantineStore(tmp_path / "q")
    ledger = Ledger(store.directory / LEDGER_NAME)
    yield Dedupe(ledger, store)
    ledger.close()
    store.close()


def _found_elsewhere(path: str, names: list[str], answer: multiprocessing.Queue[object]) -> None:
    ledger = Ledger(Path(path))
    answer.put({name: getattr(ledger.lookup(k(name)), "ref", None) for name in names})
    ledger.close()


def found_by_another_process(path: Path, names: list[str]) -> dict[str, str | None]:
    """What a fresh process (another worker) finds: on disk, not in this one's memory."""
    ctx = multiprocessing.get_context("spawn")
    answer: multiprocessing.Queue[object] = ctx.Queue()
    process = ctx.Process(target=_found_elsewhere, args=(str(path), names, answer))
    process.start()
    found = answer.get(timeout=60)
    process.join(60)
    assert isinstance(found, dict)
    return found


def test_records_are_durable_when_awaited(dedupe: Dedupe) -> None:
    names = [f"k{n}" for n in range(50)]

    async def scenario() -> None:
        await asyncio.gather(*(dedupe.relayed_async(k(name), ACCEPTED) for name in names))

    asyncio.run(scenario())
    assert dedupe.ledger is not None
    found = found_by_another_process(dedupe.ledger.path, names)
    assert found == {name: "Ok: queued as 4QxYz" for name in names}


def test_concurrent_records_share_one_send_and_one_write(
    dedupe: Dedupe, monkeypatch: pytest.MonkeyPatch
) -> None:
    sends: list[int] = []
    real_flush = ledger_sync.LoopWriter._flush

    def flush(self: ledger_sync.LoopWriter) -> None:
        sends.append(len(self._outgoing))
        real_flush(self)

    monkeypatch.setattr(ledger_sync.LoopWriter, "_flush", flush)

    async def scenario() -> None:
        await dedupe.relayed_async(k("open"), ACCEPTED)  # starts the writer process
        await asyncio.gather(*(dedupe.relayed_async(k(f"k{n}"), ACCEPTED) for n in range(200)))

    asyncio.run(scenario())
    # All 200 came in one turn of the loop: one datagram, so one write and one sync.
    assert sends == [1, 200]


def test_a_cancelled_caller_does_not_withdraw_its_record(dedupe: Dedupe) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(dedupe.relayed_async(k("gone"), ACCEPTED))
        await asyncio.sleep(0)  # handed over
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Whatever comes next still gets through the same writer.
        await dedupe.relayed_async(k("next"), ACCEPTED)

    asyncio.run(scenario())
    assert dedupe.ledger is not None
    assert dedupe.ledger.lookup(k("gone")) is not None


def test_a_failing_ledger_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # refused: every record fails
    dedupe = Dedupe(Ledger(shared / LEDGER_NAME), QuarantineStore(tmp_path / "q"))

    async def scenario() -> None:
        await asyncio.wait_for(dedupe.relayed_async(k("a"), ACCEPTED), 5)
        await asyncio.wait_for(dedupe.relayed_async(k("b"), ACCEPTED), 5)

    asyncio.run(scenario())
    assert "ledger record failed" in caplog.text


def test_a_forked_process_gets_its_own_writer(dedupe: Dedupe) -> None:
    asyncio.run(dedupe.relayed_async(k("parent"), ACCEPTED))
    pid = os.fork()
    if pid == 0:  # the parent's writer process is not this one's
        try:
            asyncio.run(asyncio.wait_for(dedupe.relayed_async(k("child"), ACCEPTED), 10))
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert dedupe.ledger is not None
    assert dedupe.ledger.lookup(k("child")) is not None
    seen = dedupe.seen(k("child"))
    assert seen is not None and seen.outcome is Outcome.RELAYED


def test_a_writer_that_cannot_start_fails_its_records(
    dedupe: Dedupe, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(ledger_sync.sys, "executable", "/nonexistent/python")

    async def scenario() -> None:
        await asyncio.wait_for(dedupe.relayed_async(k("a"), ACCEPTED), 10)

    asyncio.run(scenario())
    assert "ledger record failed" in caplog.text
    assert dedupe.ledger is not None and dedupe.ledger.lookup(k("a")) is None


def test_a_writer_that_keeps_dying_fails_its_records_in_the_end(
    dedupe: Dedupe, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A writer that starts and ends at once, without a word: each record is sent to a
    # new one a few times, then failed (logged), never left waiting.
    monkeypatch.setattr(ledger_sync, "_BOOT", "pass")

    async def scenario() -> None:
        await asyncio.wait_for(dedupe.relayed_async(k("a"), ACCEPTED), 20)

    asyncio.run(scenario())
    assert "ledger record failed" in caplog.text
    assert "keeps ending" in caplog.text

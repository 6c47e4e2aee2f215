"""The writer thread that commits the event loop's ledger records in batches."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.dedupe import Dedupe
from milter.ledger import LEDGER_NAME, Ledger, Outcome
from milter.quarantine import QuarantineStore
from milter.replies import Reply

ACCEPTED = Reply(250, "2.0.0 Ok: queued as 4QxYz")


@pytest.fixture
def dedupe(tmp_path: Path) -> Iterator[Dedupe]:
    store = QuarantineStore(tmp_path / "q")
    ledger = Ledger(store.directory / LEDGER_NAME)
    yield Dedupe(ledger, store)
    ledger.close()
    store.close()


def commits(dedupe: Dedupe) -> list[str]:
    assert dedupe.ledger is not None and dedupe.ledger._writer.db is not None
    statements: list[str] = []
    dedupe.ledger._writer.db.set_trace_callback(statements.append)
    return statements


def test_records_are_durable_when_awaited(dedupe: Dedupe) -> None:
    keys = [f"k{n}".encode() for n in range(50)]

    async def scenario() -> None:
        await asyncio.gather(*(dedupe.relayed_async(key, ACCEPTED) for key in keys))

    asyncio.run(scenario())
    assert dedupe.ledger is not None
    # Read through another connection: committed, not only in this process's cache.
    db = sqlite3.connect(dedupe.ledger.path)
    stored = {row[0]: row[1] for row in db.execute("SELECT key, ref FROM handled")}
    db.close()
    assert set(stored) == set(keys)
    assert set(stored.values()) == {"Ok: queued as 4QxYz"}


def test_concurrent_records_share_commits(dedupe: Dedupe) -> None:
    dedupe.relayed(b"open", ACCEPTED)  # opens the writer's connection
    statements = commits(dedupe)

    async def scenario() -> None:
        keys = [f"k{n}".encode() for n in range(200)]
        await asyncio.gather(*(dedupe.relayed_async(key, ACCEPTED) for key in keys))

    asyncio.run(scenario())
    assert 1 <= statements.count("COMMIT") < 200


def test_a_cancelled_caller_does_not_withdraw_its_record(dedupe: Dedupe) -> None:
    async def scenario() -> None:
        task = asyncio.create_task(dedupe.relayed_async(b"gone", ACCEPTED))
        await asyncio.sleep(0)  # queued
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Whatever comes next still gets through the same thread.
        await dedupe.relayed_async(b"next", ACCEPTED)

    asyncio.run(scenario())
    assert dedupe.ledger is not None
    assert dedupe.ledger.lookup(b"gone") is not None


def test_a_failing_ledger_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # refused: every record fails
    dedupe = Dedupe(Ledger(shared / LEDGER_NAME), QuarantineStore(tmp_path / "q"))

    async def scenario() -> None:
        await asyncio.wait_for(dedupe.relayed_async(b"k", ACCEPTED), 5)
        await asyncio.wait_for(dedupe.relayed_async(b"k2", ACCEPTED), 5)

    asyncio.run(scenario())
    assert "ledger record failed" in caplog.text


def test_a_forked_process_gets_its_own_writer(dedupe: Dedupe) -> None:
    asyncio.run(dedupe.relayed_async(b"parent", ACCEPTED))
    pid = os.fork()
    if pid == 0:  # the parent's thread does not exist here
        try:
            asyncio.run(asyncio.wait_for(dedupe.relayed_async(b"child", ACCEPTED), 5))
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert dedupe.ledger is not None
    assert dedupe.ledger.lookup(b"child") is not None
    assert dedupe.seen(b"child") is not None and dedupe.seen(b"child").outcome is Outcome.RELAYED

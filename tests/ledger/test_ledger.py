"""The ledger: its key (what makes two messages one), its window, durability across
processes and crashes, its journal files (torn records, rotation, expiry, one process
reading another's), and the files' protection."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import signal
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.ledger import journal
from milter.ledger import sync as ledger_sync
from milter.ledger.store import (
    Ledger,
    LedgerError,
    LedgerSettings,
    Outcome,
    dedupe_body,
    message_key,
)

BODY = (
    b"From: a@example.org\r\nTo: b@example.net\r\nSubject: hi\r\n"
    b"Message-ID: <1@example.org>\r\n\r\nHello.\r\n"
)
RECEIVED_1 = (
    b"Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n"
    b"\tby mail.example.net (Postfix) with ESMTP id 4QAAA1\r\n"
    b"\tfor <b@example.net>; Mon, 3 Jun 2024 10:00:00 +0200 (CEST)\r\n"
)
RECEIVED_2 = RECEIVED_1.replace(b"4QAAA1", b"4QBBB2").replace(b"10:00:00", b"10:05:00")
# What Postfix hands us: its Received first.
MESSAGE = RECEIVED_1 + BODY


def key(raw: bytes = MESSAGE, sender: str | None = "a@example.org", *rcpts: str) -> bytes:
    found = message_key(sender, rcpts or ("b@example.net",), raw)
    assert found is not None
    return found


# The key -------------------------------------------------------------------------------


def test_same_message_same_key() -> None:
    assert key() == key()
    assert len(key()) == 32


def test_envelope_and_body_each_count() -> None:
    base = key()
    assert key(MESSAGE, "other@example.org") != base
    assert key(MESSAGE, "a@example.org", "c@example.net") != base
    assert key(MESSAGE, "a@example.org", "b@example.net", "c@example.net") != base
    assert key(MESSAGE.replace(b"Hello.", b"Hello!")) != base
    assert key(MESSAGE.replace(b"Subject: hi", b"Subject: ho")) != base


def test_null_sender_and_unknown_sender_differ() -> None:
    assert key(MESSAGE, "") != key(MESSAGE, None)


def test_recipient_order_does_not_count() -> None:
    assert key(MESSAGE, "a@x", "b@y", "c@z") == key(MESSAGE, "a@x", "c@z", "b@y")


def test_parts_cannot_run_into_each_other() -> None:
    # Without length prefixes, these would hash the same bytes.
    assert key(b"Received: r\r\n", "ab", "c") != key(b"Received: r\r\n", "a", "bc")
    assert key(b"Received: r\r\ncx", "a", "b") != key(b"Received: r\r\nx", "a", "bc")


def test_addresses_with_lone_surrogates_hash() -> None:
    assert key(MESSAGE, "a\udcff@example.org") != key()


def test_leading_trace_fields_are_left_out_of_a_message_with_message_id() -> None:
    # Before-queue Postfix prepends a fresh Received to every attempt.
    first = RECEIVED_1 + b"Return-Path: <a@example.org>\r\n" + BODY
    retry = RECEIVED_2 + b"Return-Path: <a@example.org>\r\n" + BODY
    assert key(first) == key(retry) == key(MESSAGE)
    assert bytes(dedupe_body(first)) == BODY


def test_no_key_without_a_leading_trace_field() -> None:
    # Not handed over by Postfix: nothing tells two identical submissions apart.
    assert message_key("a@example.org", ("b@example.net",), BODY) is None
    assert message_key("a@example.org", ("b@example.net",), b"X-A: 1\r\n" + MESSAGE) is None
    assert message_key("a@example.org", ("b@example.net",), b"") is None


def test_trace_fields_count_without_message_id() -> None:
    # No Message-ID: two identical alerts may be two messages; only exact bytes match.
    body = BODY.replace(b"Message-ID: <1@example.org>\r\n", b"")
    assert key(RECEIVED_1 + body) != key(RECEIVED_2 + body)
    assert key(RECEIVED_1 + body) == key(RECEIVED_1 + body)


def test_message_id_must_be_a_header_field() -> None:
    body = b"Subject: x\r\n\r\nMessage-ID: <in the body>\r\n"
    assert bytes(dedupe_body(RECEIVED_1 + body)) == RECEIVED_1 + body


def test_only_the_leading_trace_fields_are_left_out() -> None:
    # A Received below another field is content; so is a different Message-ID.
    inner = b"X-Mailer: m\r\n" + RECEIVED_1
    other = inner.replace(b"AAA1", b"CCC3")
    assert key(RECEIVED_1 + inner + BODY) != key(RECEIVED_2 + other + BODY)
    assert key(MESSAGE) != key(RECEIVED_2 + BODY.replace(b"<1@", b"<2@"))


@pytest.mark.parametrize(
    "raw",
    [
        b"Received: x\nReceived: y\n  folded\nMessage-Id: <1@x>\n\nbody\n",  # bare LF
        b"RECEIVED : x\r\nreturn-path:<>\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n",
    ],
)
def test_trace_parsing_variants(raw: bytes) -> None:
    assert bytes(dedupe_body(raw)).lower().startswith(b"message-id:")


def test_only_trace_fields_and_nothing_else() -> None:
    assert bytes(dedupe_body(b"Received: x\r\n")) == b"Received: x\r\n"  # no Message-ID
    raw = b"Received: x\r\n\tfolded"
    assert bytes(dedupe_body(raw)) == raw


# The store -----------------------------------------------------------------------------


def k(name: str) -> bytes:
    """A key as message_key makes them: 32 bytes."""
    return hashlib.sha256(name.encode()).digest()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    return directory


@pytest.fixture
def path(state: Path) -> Path:
    return state / "ledger"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    with Ledger(path) as opened:
        yield opened


def segments(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if journal.SEGMENT_NAME.fullmatch(p.name))


def test_record_and_lookup(ledger: Ledger) -> None:
    assert ledger.lookup(k("a")) is None
    ledger.record(k("a"), Outcome.RELAYED, "queued as 4Q1", now=1000.0)
    found = ledger.lookup(k("a"), now=1001.0)
    assert found is not None
    assert (found.outcome, found.ref, found.time) == (Outcome.RELAYED, "queued as 4Q1", 1000.0)
    ledger.record(k("a"), Outcome.QUARANTINED, "abc", now=1002.0)  # replaces
    assert ledger.lookup(k("a"), now=1003.0).outcome is Outcome.QUARANTINED
    assert ledger.lookup(k("b"), now=1003.0) is None


def test_keys_are_32_bytes(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        ledger.record(b"short", Outcome.RELAYED, "")


def test_a_long_ref_is_cut_between_characters(ledger: Ledger) -> None:
    ledger.record(k("a"), Outcome.RELAYED, "é" * 100)
    found = ledger.lookup(k("a"))
    assert found is not None and found.ref == "é" * (journal.REF_BYTES // 2)


def test_window(path: Path) -> None:
    with Ledger(path, window=100.0) as ledger:
        ledger.record(k("old"), Outcome.RELAYED, "", now=1000.0)
        assert ledger.lookup(k("old"), now=1100.0) is not None
        assert ledger.lookup(k("old"), now=1100.5) is None
        # A newer record of the key counts from its own time.
        ledger.record(k("old"), Outcome.RELAYED, "", now=1090.0)
        assert ledger.lookup(k("old"), now=1150.0) is not None


def test_expired_segments_are_deleted_and_forgotten(path: Path) -> None:
    with Ledger(path, window=100.0) as ledger:
        ledger.record(k("old"), Outcome.RELAYED, "")
        (old,) = segments(path)
    # The writer closed (and sealed) it; an hour later, with a window of 100 s:
    later = time.time() + 3600
    os.utime(old, (later - 200, later - 200))
    with Ledger(path, window=100.0) as ledger:
        assert ledger.lookup(k("old"), now=later) is None
        assert not old.exists()
        ledger.record(k("new"), Outcome.RELAYED, "")
        assert ledger.lookup(k("new")) is not None


def test_a_segment_in_use_is_not_deleted(path: Path) -> None:
    with Ledger(path, window=100.0) as writer, Ledger(path, window=100.0) as reader:
        writer.record(k("a"), Outcome.RELAYED, "")  # the segment stays open, locked
        (current,) = segments(path)
        os.utime(current, (1, 1))
        reader.lookup(k("a"), now=time.time() + 3600)
        assert current.exists()


def test_settings() -> None:
    assert LedgerSettings().enabled
    assert LedgerSettings().window == 86400
    assert not LedgerSettings(window=0).enabled
    with pytest.raises(ValueError):
        LedgerSettings(window=-1)
    with pytest.raises(ValueError):
        Ledger(Path("/nonexistent/x"), window=0)


def test_files_are_private(path: Path) -> None:
    old = os.umask(0)
    try:
        with Ledger(path) as ledger:
            ledger.record(k("a"), Outcome.RELAYED, "")
            asyncio.run(ledger.record_async(k("b"), Outcome.RELAYED, ""))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    names = os.listdir(path)
    assert len(names) == 3  # the generation, a segment each for the threads and the loop
    for name in names:
        assert stat.S_IMODE((path / name).stat().st_mode) == 0o600, name


def test_refuses_a_directory_others_can_write(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with Ledger(shared / "ledger") as ledger, pytest.raises(LedgerError, match="0777"):
        ledger.lookup(k("a"))
    assert not (shared / "ledger").exists()


def test_refuses_a_ledger_directory_others_can_write(path: Path) -> None:
    path.mkdir()
    path.chmod(0o777)
    with Ledger(path) as ledger, pytest.raises(LedgerError, match="0777"):
        ledger.record(k("a"), Outcome.RELAYED, "")
    assert os.listdir(path) == []


def test_refuses_a_symlink(path: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    path.symlink_to(target)
    with Ledger(path) as ledger, pytest.raises(LedgerError):
        ledger.record(k("a"), Outcome.RELAYED, "")
    assert os.listdir(target) == []


def test_a_planted_segment_is_not_read(ledger: Ledger, path: Path, tmp_path: Path) -> None:
    ledger.lookup(k("a"))  # the directory exists
    record = journal.pack(k("a"), journal.KIND_RELAYED, b"forged", int(time.time() * 1e6))
    # Through a symlink, and in a file others could have written: neither is followed.
    elsewhere = tmp_path / "elsewhere.jnl"
    elsewhere.write_bytes(record)
    (path / f"{0:016x}-1-00000000.jnl").symlink_to(elsewhere)
    loose = path / f"{1:016x}-1-00000000.jnl"
    loose.write_bytes(record)
    loose.chmod(0o666)
    ledger._files.index.maintain(time.time())  # type: ignore[union-attr]
    assert ledger.lookup(k("a")) is None


def test_garbage_in_a_segment_is_ignored(ledger: Ledger, path: Path) -> None:
    ledger.record(k("a"), Outcome.RELAYED, "x")
    garbage = path / f"{2:016x}-1-00000000.jnl"
    garbage.write_bytes(b"this is not a journal, just text that is long enough" * 100)
    garbage.chmod(0o600)
    with Ledger(path) as other:
        assert other.lookup(k("a")) is not None
        assert other.lookup(k("b")) is None


def _segment_writer(path: Path) -> journal.SegmentWriter:
    """A writer of its own in this process, as another worker's would be."""
    fd = journal.open_directory(str(path))
    return journal.SegmentWriter(fd, 86400.0)


def test_a_torn_record_is_ignored_until_whole(ledger: Ledger, path: Path) -> None:
    ledger.lookup(k("x"))  # the reader has listed the directory already
    writer = _segment_writer(path)
    now = int(time.time() * 1e6)
    writer.write(journal.pack(k("a"), journal.KIND_RELAYED, b"first", now))
    (segment,) = segments(path)
    second = journal.pack(k("b"), journal.KIND_RELAYED, b"second", now)
    # Half a record: a write in progress, or one cut short by a crash.
    with segment.open("r+b") as file:
        file.seek(journal.RECORD)
        file.write(second[:70])
    assert ledger.lookup(k("a")) is not None
    assert ledger.lookup(k("b")) is None
    # Completed (the write in progress ended): read from where the reader stopped.
    with segment.open("r+b") as file:
        file.seek(journal.RECORD)
        file.write(second)
    assert ledger.lookup(k("b")) is not None
    writer.close()


def test_a_segment_whose_writer_died_is_finished(
    ledger: Ledger, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.lookup(k("x"))
    writer = _segment_writer(path)
    writer.write(journal.pack(k("a"), journal.KIND_RELAYED, b"", int(time.time() * 1e6)))
    (segment,) = segments(path)
    with segment.open("r+b") as file:
        file.seek(journal.RECORD)
        file.write(b"SMJ1 torn by a crash")
    index = ledger._files.index  # type: ignore[union-attr]
    assert index is not None
    monkeypatch.setattr(journal, "IDLE_CHECK", 0.0)
    index.maintain(time.time())
    assert len(index._live) == 1  # its writer still holds it
    writer.leave_inherited()  # its process is gone: the lock goes with it, no seal
    index.maintain(time.time())
    assert index._live == []  # no longer looked at on every lookup
    assert ledger.lookup(k("a")) is not None  # what it wrote before stays found


def test_rotation_keeps_every_record_found(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal, "SEGMENT_RECORDS", 4)
    monkeypatch.setattr(journal, "SEGMENT_BYTES", 4 * journal.RECORD)
    with Ledger(path) as ledger:
        for n in range(10):
            ledger.record(k(str(n)), Outcome.RELAYED, str(n))
        # 3 records and a seal a segment.
        assert len(segments(path)) == 4
        with Ledger(path) as reader:
            for n in range(10):
                found = reader.lookup(k(str(n)))
                assert found is not None and found.ref == str(n)
            # Sealed segments are read once, then closed: a hit reads its record again.
            assert len(reader._files.index._live) == 1  # type: ignore[union-attr]


def test_closed_ledger_raises(path: Path) -> None:
    ledger = Ledger(path)
    ledger.close()
    with pytest.raises(LedgerError, match="closed"):
        ledger.lookup(k("a"))


def _write_many(path: str, worker: int, count: int) -> None:
    ledger = Ledger(Path(path))
    for i in range(count):
        ledger.record(k(f"{worker}-{i}"), Outcome.RELAYED, str(worker))

    async def from_the_loop() -> None:
        for i in range(count):
            await ledger.record_async(k(f"{worker}-loop-{i}"), Outcome.RELAYED, str(worker))

    asyncio.run(from_the_loop())
    ledger.close()


def test_several_processes_share_it(path: Path) -> None:
    with Ledger(path) as ledger:
        ledger.lookup(k("x"))  # listed before the others' segments exist
        ctx = multiprocessing.get_context("fork")
        workers = [ctx.Process(target=_write_many, args=(str(path), w, 40)) for w in range(4)]
        for process in workers:
            process.start()
        for process in workers:
            process.join(60)
            assert process.exitcode == 0
        for w in range(4):
            for i in range(40):
                for name in (f"{w}-{i}", f"{w}-loop-{i}"):
                    found = ledger.lookup(k(name))
                    assert found is not None and found.ref == str(w), name


def test_files_are_not_used_across_fork(path: Path) -> None:
    ledger = Ledger(path)
    ledger.record(k("parent"), Outcome.RELAYED, "")
    asyncio.run(ledger.record_async(k("parent loop"), Outcome.RELAYED, ""))
    pid = os.fork()
    if pid == 0:  # the child: files of its own, the parent's left alone
        try:
            ledger.record(k("child"), Outcome.RELAYED, "")
            asyncio.run(ledger.record_async(k("child loop"), Outcome.RELAYED, ""))
            code = 0 if ledger.lookup(k("parent loop")) is not None else 1
            ledger.close()
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ledger.lookup(k("child")) is not None
    assert ledger.lookup(k("child loop")) is not None
    ledger.record(k("parent again"), Outcome.RELAYED, "")
    asyncio.run(ledger.record_async(k("parent loop again"), Outcome.RELAYED, ""))
    ledger.close()


@pytest.mark.parametrize("from_loop", [False, True])
def test_a_record_survives_sigkill_right_after_it(path: Path, from_loop: bool) -> None:
    pid = os.fork()
    if pid == 0:
        ledger = Ledger(path)
        if from_loop:
            asyncio.run(ledger.record_async(k("a"), Outcome.RELAYED, "queued"))
        else:
            ledger.record(k("a"), Outcome.RELAYED, "queued")
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no atexit: the 250 would go now
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    with Ledger(path) as ledger:
        found = ledger.lookup(k("a"))
    assert found is not None and found.ref == "queued"


def test_records_that_wait_are_written_together(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record(k("open"), Outcome.RELAYED, "")
    threads_writer = ledger._files.threads  # type: ignore[union-attr]
    assert threads_writer is not None
    writes: list[int] = []
    real_write = journal.SegmentWriter.write

    def write(self: journal.SegmentWriter, data: bytes) -> None:
        writes.append(len(data) // journal.RECORD)
        real_write(self, data)

    monkeypatch.setattr(journal.SegmentWriter, "write", write)
    results: list[object] = []

    def record(number: int) -> None:
        try:
            ledger.record(k(f"k{number}"), Outcome.RELAYED, "")
            results.append(None)
        except LedgerError as exc:
            results.append(exc)

    with threads_writer._lock:  # a write in progress
        threads = [threading.Thread(target=record, args=(n,)) for n in range(5)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(threads_writer._pending) < 5:
            assert time.monotonic() < deadline
            time.sleep(0.005)
    for thread in threads:
        thread.join(10)
    assert results == [None] * 5
    assert writes == [5]  # one write, one sync, for the five
    assert all(ledger.lookup(k(f"k{n}")) for n in range(5))


def test_a_failed_write_fails_every_record_in_it(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.record(k("open"), Outcome.RELAYED, "")

    def broken(fd: int, data: object, offset: int) -> int:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(journal.os, "pwrite", broken)
    with pytest.raises(LedgerError, match="Input/output"):
        ledger.record(k("lost"), Outcome.RELAYED, "")
    monkeypatch.undo()
    assert ledger.lookup(k("lost")) is None
    # The segment whose state is unknown is left; the next record starts another.
    ledger.record(k("after"), Outcome.RELAYED, "")
    assert ledger.lookup(k("after")) is not None


def test_warm_after_the_first_lookup(ledger: Ledger) -> None:
    assert not ledger.warm
    ledger.lookup(k("a"))
    assert ledger.warm
    pid = os.fork()
    if pid == 0:
        os._exit(0 if not ledger.warm else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_loop_writer_ends_with_its_ledger(ledger: Ledger) -> None:
    async def scenario() -> int:
        await ledger.record_async(k("a"), Outcome.RELAYED, "")
        loop_writer = ledger._files.loop_writer  # type: ignore[union-attr]
        assert loop_writer is not None and loop_writer._process is not None
        return loop_writer._process.pid

    pid = asyncio.run(scenario())
    ledger.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # ended and reaped


def test_a_killed_loop_writer_is_replaced_and_nothing_is_lost(ledger: Ledger) -> None:
    async def scenario() -> None:
        await ledger.record_async(k("first"), Outcome.RELAYED, "")
        loop_writer = ledger._files.loop_writer  # type: ignore[union-attr]
        assert isinstance(loop_writer, ledger_sync.LoopWriter)
        assert loop_writer._process is not None
        old = loop_writer._process.pid
        # Stopped, the writer cannot confirm; killed, it never will: the records it
        # held go to a new writer, and are confirmed by that one.
        os.kill(old, signal.SIGSTOP)
        pending = [
            asyncio.ensure_future(ledger.record_async(k(f"k{n}"), Outcome.RELAYED, ""))
            for n in range(20)
        ]
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in pending)
        os.kill(old, signal.SIGKILL)
        await asyncio.wait_for(asyncio.gather(*pending), 20)
        assert loop_writer._process is not None and loop_writer._process.pid != old

    asyncio.run(scenario())
    with Ledger(ledger.path) as other:
        assert all(other.lookup(k(f"k{n}")) for n in range(20))


def test_warm_only_once_everything_there_is_was_read(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger(path) as writer:
        writer.record(k("a"), Outcome.RELAYED, "")
    seen_warm: list[bool] = []
    real_read = journal.Index._read

    def read(self: journal.Index, segment: object) -> None:
        seen_warm.append(reader.warm)
        real_read(self, segment)  # type: ignore[arg-type]

    monkeypatch.setattr(journal.Index, "_read", read)
    with Ledger(path) as reader:
        assert reader.lookup(k("a")) is not None
        assert reader.warm
    assert seen_warm and not any(seen_warm[:1])


def test_a_short_generation_file_is_refused(path: Path) -> None:
    path.mkdir(mode=0o700)
    (path / journal.GENERATION).write_bytes(b"1234")
    (path / journal.GENERATION).chmod(0o600)
    with Ledger(path) as ledger, pytest.raises(LedgerError, match="shorter"):
        ledger.lookup(k("a"))

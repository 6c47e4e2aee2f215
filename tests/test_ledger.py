"""The ledger: its key (what makes two messages one), its window, durability across
processes and crashes, and the file's protection."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from milter import ledger as ledger_module
from milter.headers import header_block
from milter.ledger import (
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


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"A: 1\r\n\r\nbody\n\nmore",
        b"A: 1\n\nbody\r\n\r\n",
        b"A: 1\r\nB: 2\n\nbody",
        b"A: 1\n\r\n",
        b"no blank line\r\nat all",
        b"\n\n",
        b"\n\r\n",
    ],
)
def test_the_header_end_is_where_header_block_ends(raw: bytes) -> None:
    assert ledger_module._header_end(raw) == len(header_block(raw))


def test_the_header_end_matches_header_block_on_random_line_ends() -> None:
    rng = random.Random(10)
    pieces = [b"\n", b"\r", b"a", b"\r\n", b"\n\n", b":"]
    for _ in range(20000):
        raw = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        assert ledger_module._header_end(raw) == len(header_block(raw)), raw


# The store -----------------------------------------------------------------------------


@pytest.fixture
def state(tmp_path: Path) -> Path:
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    return directory


def test_record_and_lookup(state: Path) -> None:
    with Ledger(state / "ledger.sqlite3") as ledger:
        assert ledger.lookup(b"k" * 32) is None
        ledger.record(b"k" * 32, Outcome.RELAYED, "queued as 4Q1", now=1000.0)
        found = ledger.lookup(b"k" * 32, now=1001.0)
        assert found is not None
        assert (found.outcome, found.ref, found.time) == (Outcome.RELAYED, "queued as 4Q1", 1000.0)
        ledger.record(b"k" * 32, Outcome.QUARANTINED, "abc", now=1002.0)  # replaces
        assert ledger.lookup(b"k" * 32, now=1003.0).outcome is Outcome.QUARANTINED


def test_window(state: Path) -> None:
    with Ledger(state / "ledger.sqlite3", window=100.0) as ledger:
        ledger.record(b"old", Outcome.RELAYED, "", now=1000.0)
        assert ledger.lookup(b"old", now=1100.0) is not None
        assert ledger.lookup(b"old", now=1100.5) is None
        # Expired records are deleted as new ones come.
        ledger.record(b"new", Outcome.RELAYED, "", now=1000.0 + 1000)
    db = sqlite3.connect(state / "ledger.sqlite3")
    assert [row[0] for row in db.execute("SELECT key FROM handled")] == [b"new"]
    db.close()


def test_settings() -> None:
    assert LedgerSettings().enabled
    assert LedgerSettings().window == 86400
    assert not LedgerSettings(window=0).enabled
    with pytest.raises(ValueError):
        LedgerSettings(window=-1)
    with pytest.raises(ValueError):
        Ledger(Path("/nonexistent/x"), window=0)


def test_file_is_private(state: Path) -> None:
    old = os.umask(0)
    try:
        with Ledger(state / "ledger.sqlite3") as ledger:
            ledger.record(b"k", Outcome.RELAYED, "")
    finally:
        os.umask(old)
    for name in ("ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm"):
        path = state / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


def test_refuses_a_directory_others_can_write(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with Ledger(shared / "ledger.sqlite3") as ledger, pytest.raises(LedgerError, match="0777"):
        ledger.lookup(b"k")
    assert not (shared / "ledger.sqlite3").exists()


def test_refuses_a_symlink(state: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    (state / "ledger.sqlite3").symlink_to(target)
    with Ledger(state / "ledger.sqlite3") as ledger, pytest.raises(LedgerError):
        ledger.record(b"k", Outcome.RELAYED, "")
    assert target.read_bytes() == b""


def test_refuses_a_file_others_can_write(state: Path) -> None:
    path = state / "ledger.sqlite3"
    path.write_bytes(b"")
    path.chmod(0o666)
    with Ledger(path) as ledger, pytest.raises(LedgerError, match="0666"):
        ledger.lookup(b"k")


def test_damaged_file_is_set_aside(state: Path) -> None:
    path = state / "ledger.sqlite3"
    path.write_bytes(b"this is not a database, just text that is long enough" * 100)
    path.chmod(0o600)
    with Ledger(path) as ledger:
        assert ledger.lookup(b"k") is None
        ledger.record(b"k", Outcome.RELAYED, "x")
        assert ledger.lookup(b"k") is not None
    assert (state / "ledger.sqlite3.damaged").exists()


def test_closed_ledger_raises(state: Path) -> None:
    ledger = Ledger(state / "ledger.sqlite3")
    ledger.close()
    with pytest.raises(LedgerError, match="closed"):
        ledger.lookup(b"k")


def _write_many(path: str, worker: int, count: int) -> None:
    ledger = Ledger(Path(path))
    for i in range(count):
        ledger.record(f"{worker}-{i}".encode(), Outcome.RELAYED, str(worker))
    ledger.close()


def test_several_processes_share_it(state: Path) -> None:
    path = state / "ledger.sqlite3"
    Ledger(path).close()
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_write_many, args=(str(path), w, 40)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    with Ledger(path) as ledger:
        for w in range(4):
            for i in range(40):
                assert ledger.lookup(f"{w}-{i}".encode()) is not None


def test_connection_is_not_used_across_fork(state: Path) -> None:
    ledger = Ledger(state / "ledger.sqlite3")
    ledger.record(b"parent", Outcome.RELAYED, "")
    pid = os.fork()
    if pid == 0:  # the child: its own connection, the parent's left alone
        try:
            ledger.record(b"child", Outcome.RELAYED, "")
            code = 0 if ledger.lookup(b"parent") is not None else 1
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ledger.lookup(b"child") is not None
    ledger.record(b"parent again", Outcome.RELAYED, "")
    ledger.close()


def test_a_record_survives_sigkill_right_after_it(state: Path) -> None:
    path = state / "ledger.sqlite3"
    pid = os.fork()
    if pid == 0:
        ledger = Ledger(path)
        ledger.record(b"k", Outcome.RELAYED, "queued")
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no atexit: the 250 would go now
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    with Ledger(path) as ledger:
        found = ledger.lookup(b"k")
    assert found is not None and found.ref == "queued"


def test_expiry_runs_at_most_once_a_minute(state: Path) -> None:
    statements: list[str] = []
    with Ledger(state / "ledger.sqlite3", window=10.0) as ledger:
        ledger.record(b"first", Outcome.RELAYED, "", now=999.0)
        assert ledger._writer.db is not None
        ledger._writer.db.set_trace_callback(statements.append)
        for i in range(5):
            ledger.record(str(i).encode(), Outcome.RELAYED, "", now=1000.0 + i)
        ledger.record(b"later", Outcome.RELAYED, "", now=999.0 + ledger_module._EXPIRE_EVERY)
    assert sum(s.startswith("DELETE") for s in statements) == 1


def _blocked_writers(ledger: Ledger, count: int) -> tuple[list[threading.Thread], list[object]]:
    """``count`` threads in ``record`` while the test holds the writer's lock."""
    results: list[object] = []

    def write(number: int) -> None:
        try:
            ledger.record(f"k{number}".encode(), Outcome.RELAYED, "")
            results.append(None)
        except LedgerError as exc:
            results.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(ledger._pending) < count:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return threads, results


def test_records_that_wait_are_committed_together(state: Path) -> None:
    statements: list[str] = []
    with Ledger(state / "ledger.sqlite3") as ledger:
        ledger.record(b"open", Outcome.RELAYED, "")
        assert ledger._writer.db is not None
        ledger._writer.db.set_trace_callback(statements.append)
        with ledger._writer.lock:  # a commit in progress
            threads, results = _blocked_writers(ledger, 5)
        for thread in threads:
            thread.join(10)
        assert results == [None] * 5
        assert statements.count("COMMIT") == 1  # one fsync for the five
        assert all(ledger.lookup(f"k{n}".encode()) for n in range(5))


def test_a_failed_group_commit_fails_every_record_in_it(state: Path) -> None:
    ledger = Ledger(state / "ledger.sqlite3")
    with ledger._writer.lock:
        threads, results = _blocked_writers(ledger, 3)
        state.chmod(0o777)  # the ledger cannot be opened now
    for thread in threads:
        thread.join(10)
    state.chmod(0o700)
    assert len(results) == 3 and all(isinstance(r, LedgerError) for r in results)
    assert ledger.lookup(b"k0") is None
    ledger.close()


def test_warm_after_the_first_lookup(state: Path) -> None:
    with Ledger(state / "ledger.sqlite3") as ledger:
        assert not ledger.warm
        ledger.lookup(b"k")
        assert ledger.warm
        pid = os.fork()
        if pid == 0:
            os._exit(0 if not ledger.warm else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0

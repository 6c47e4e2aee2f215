"""What `serve` does for the quarantine and its log: the daily purge when a retention is
set, and the verdict log file that logrotate can rotate (reopened on SIGHUP)."""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import logging
import os
import signal
import stat
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

import milter.service.server as server
from milter.config import Config, QuarantineSettings, load_config
from milter.errors import ConfigError
from milter.mail.envelope import Envelope
from milter.quarantine.store import QuarantineStore, Status
from milter.scan.verdict import Action, Verdict
from milter.service.server import Overrides, Server, VerdictLogFile, purge_daily
from tests.helpers.postfix_harness import free_port
from tests.helpers.serve_process import ServeProcess
from tests.helpers.word_rules import WORD_RULES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "test.yml").write_text(WORD_RULES, encoding="utf-8")
    return directory


def held(store: QuarantineStore) -> str:
    return store.put(
        b"Subject: x\r\n\r\nholdme\r\n",
        Envelope(mail_from="a@example.org", rcpt_to=("b@example.net",)),
        Verdict(Action.QUARANTINE, 12.0, ()),
        "x",
    ).id


# --- config ------------------------------------------------------------------------------------


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_reads_retention_and_verdict_log(tmp_path: Path) -> None:
    config = load_config(
        write_config(tmp_path, "quarantine: {retention: 30d}\nverdict_log: logs/v.log\n")
    )
    assert config.quarantine.retention == timedelta(days=30)
    assert config.verdict_log == str(tmp_path / "logs" / "v.log")  # relative to the file
    defaults = load_config(write_config(tmp_path, "{}\n"))
    assert (defaults.quarantine.retention, defaults.verdict_log) == (None, "stderr")
    assert load_config(write_config(tmp_path, "verdict_log: stdout\n")).verdict_log == "stdout"
    hours = load_config(write_config(tmp_path, "quarantine: {retention: 12h}\n"))
    assert hours.quarantine.retention == timedelta(hours=12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("quarantine: {retention: 30}\n", "quarantine.retention must be a non-empty string"),
        ("quarantine: {retention: 30 days}\n", "quarantine.retention must be a duration"),
        ("quarantine: {keep: 30d}\n", "quarantine: unknown key 'keep'"),
        ("verdict_log: 5\n", "verdict_log must be a non-empty string"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(write_config(tmp_path, text))


# --- the daily purge ---------------------------------------------------------------------------


def test_purge_daily_purges_and_outlives_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with QuarantineStore(tmp_path / "q") as store:
        entry_id = held(store)
        calls: list[timedelta] = []
        real = store.purge

        def flaky(older_than: timedelta) -> object:
            calls.append(older_than)
            if len(calls) == 1:
                raise RuntimeError("a bug in the first run")
            return real(older_than)

        monkeypatch.setattr(store, "purge", flaky)

        async def run() -> None:
            task = asyncio.create_task(
                purge_daily(store, timedelta(0), first_delay=0.01, interval=0.05)
            )
            deadline = time.monotonic() + 10
            while len(calls) < 3 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            task.cancel()

        asyncio.run(run())
        assert len(calls) >= 3  # the crash did not end the loop
        # Expired (the message is gone), and with a retention of 0 soon forgotten too.
        assert not (tmp_path / "q" / "msg" / f"{entry_id}.eml").exists()


@pytest.mark.parametrize("housekeeping", [True, False])
def test_server_purges_only_with_a_retention_and_in_one_worker(
    tmp_path: Path, rules: Path, monkeypatch: pytest.MonkeyPatch, housekeeping: bool
) -> None:
    qdir = tmp_path / "q"
    with QuarantineStore(qdir) as store:
        entry_id = held(store)
    # The first run after a second rather than five minutes; the rest as shipped.
    monkeypatch.setattr(server, "purge_daily", functools.partial(purge_daily, first_delay=0.2))
    config = replace(
        Config(),
        rule_paths=(rules,),
        listen=("127.0.0.1", 0),
        quarantine_dir=qdir,
        quarantine=QuarantineSettings(retention=timedelta(0)),
    )

    async def run() -> Status:
        instance = Server(config, None, Overrides(), ready=lambda: None, housekeeping=housekeeping)
        task = asyncio.create_task(instance.run())
        deadline = time.monotonic() + (10 if housekeeping else 1.0)
        status = Status.HELD
        while time.monotonic() < deadline and status is Status.HELD:
            await asyncio.sleep(0.05)
            with QuarantineStore(qdir, full_sync=False) as reader:
                status = reader.record(entry_id).entry.status
        instance.stopping.set()
        assert await task == 0
        return status

    status = asyncio.run(run())
    assert status is (Status.EXPIRED if housekeeping else Status.HELD)


# --- the verdict log file -------------------------------------------------------------------------


def emit(handler: logging.Handler, message: str) -> None:
    handler.handle(logging.LogRecord("scam_milter.verdict", logging.INFO, "", 0, message, (), None))


def test_verdict_log_file_appends_lines_and_reopens_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.log"
    handler = VerdictLogFile(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        emit(handler, '{"n": 1}')
        path.rename(tmp_path / "verdicts.log.1")  # logrotate's move
        emit(handler, '{"n": 2}')  # still to the old file, until the reopen
        handler.reopen()
        emit(handler, '{"n": 3, "from": "caf\udce9@example.org"}')
    finally:
        handler.close()
    assert (tmp_path / "verdicts.log.1").read_text() == '{"n": 1}\n{"n": 2}\n'
    # A lone surrogate (undecodable bytes in an address) is escaped, not a lost line.
    assert path.read_bytes() == b'{"n": 3, "from": "caf\\udce9@example.org"}\n'


class FullDisk:
    """os.write for the handler's descriptor: takes ``room`` more bytes, then ENOSPC."""

    def __init__(self, fd: int, room: int) -> None:
        self.fd, self.room, self.real = fd, room, os.write

    def __call__(self, fd: int, data: bytes) -> int:
        if fd != self.fd:
            return self.real(fd, data)
        if self.room == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        taken = self.real(fd, bytes(data[: self.room]))
        self.room -= taken
        return taken


@pytest.mark.parametrize("someone_appended", [False, True])
def test_verdict_log_on_a_full_disk_keeps_every_line_and_the_file_parsable(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    someone_appended: bool,
) -> None:
    caplog.set_level(logging.INFO, logger="scam_milter")
    path = tmp_path / "verdicts.log"
    handler = VerdictLogFile(path)
    try:
        emit(handler, '{"n": 1}')
        full = FullDisk(handler._fd, room=5)  # part of the next line fits
        monkeypatch.setattr(os, "write", full)
        if someone_appended:
            # Another worker's line lands after our fragment: it cannot be taken back.
            real_fstat = os.fstat

            def fstat(fd: int) -> os.stat_result:
                result = real_fstat(fd)
                if fd != handler._fd:
                    return result
                grown = list(result)
                grown[stat.ST_SIZE] += 1
                return os.stat_result(grown)

            monkeypatch.setattr(os, "fstat", fstat)
        emit(handler, '{"n": 2}')
        emit(handler, '{"n": 3}')
        full.room = 1000  # room again
        emit(handler, '{"n": 4}')
    finally:
        monkeypatch.undo()
        handler.close()
    # The lines the disk refused went to stderr; one error said so, not one per line.
    assert capfd.readouterr().err == '{"n": 2}\n{"n": 3}\n'
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "No space left on device" in errors[0].getMessage()
    assert "is written again" in caplog.text
    lines = path.read_text().splitlines()
    if someone_appended:
        # The fragment stays, but on a line of its own: the next line still parses.
        assert lines == ['{"n": 1}', '{"n":', '{"n": 4}']
    else:
        assert lines == ['{"n": 1}', '{"n": 4}']


def test_verdict_log_that_cannot_be_opened_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot open verdict log .*missing"):
        VerdictLogFile(tmp_path / "missing" / "verdicts.log")


# --- end to end: `serve` with two workers, a log file, logrotate's SIGHUP ------------------------


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 2.0.0 Ok: queued"


@pytest.fixture
def next_hop() -> Iterator[int]:
    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    # Only whole lines: a worker may be writing the next one right now.
    return [json.loads(line) for line in path.read_text().split("\n")[:-1]]


def test_serve_writes_verdicts_to_a_file_and_reopens_it_on_sighup(
    tmp_path: Path, rules: Path, next_hop: int
) -> None:
    log_file = tmp_path / "verdicts.log"
    served = ServeProcess(
        tmp_path,
        next_hop=next_hop,
        rules=[rules],
        extra_config=f"verdict_log: {log_file}\nsmtp: {{workers: 2}}\n",
        quarantine=tmp_path / "q",
    ).start()
    stderr = served.lines

    try:
        served.wait_line("workers listening")
        for body in ("hello", "holdme"):
            served.send(body)
        wait_for(lambda: len(lines(log_file)) == 2)
        first = lines(log_file)
        assert [v["action"] for v in first] == ["accept", "quarantine"]
        assert all(v["time"].endswith("Z") for v in first)
        assert not any(line.startswith("{") for line in stderr)  # not on stderr as well

        log_file.rename(tmp_path / "verdicts.log.1")  # logrotate: move away, then SIGHUP
        assert served.process is not None
        served.process.send_signal(signal.SIGHUP)
        served.wait_line("reloaded", count=2)  # both workers
        for _ in range(4):  # whichever worker takes them
            served.send("hello again")
        wait_for(lambda: len(lines(log_file)) == 4)
        assert [v["action"] for v in lines(log_file)] == ["accept"] * 4
        assert len(lines(tmp_path / "verdicts.log.1")) == 2
    finally:
        served.stop()

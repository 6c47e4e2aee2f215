"""A quarantine on a file system that is really full (a small tmpfs), through `serve`.

The unit tests make os.write fail with ENOSPC; here the kernel does, for the message
file, its metadata, SQLite's index and journal alike. Nothing may be lost: a scam that
cannot be stored is deferred (4xx), clean mail still flows, and once there is room again
the retried scam is held exactly once.
"""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from milter.errors import QuarantineError
from milter.mail.envelope import Envelope
from milter.quarantine.store import QuarantineStore
from milter.scan.verdict import Action, Verdict
from tests.helpers.postfix_harness import free_port
from tests.helpers.serve_process import ServeProcess, Sink
from tests.helpers.word_rules import WORD_RULES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs: mounting needs root and CAP_SYS_ADMIN, as the CI machine has."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write to a file until the file system refuses another byte."""
    filler = directory / "filler"
    with open(filler, "ab", buffering=0) as out:
        block = b"\0" * 65536
        try:
            while True:
                out.write(block)
        except OSError:
            pass
        try:
            while True:
                out.write(b"\0")
        except OSError:
            pass
    return filler


def send(port: int, body: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo("client.example.net")
        client.mail("alice@example.org")
        client.rcpt("bob@example.net")
        return client.data(f"From: alice@example.org\r\nSubject: t\r\n\r\n{body}\r\n".encode())


def listed(quarantine: Path) -> list[dict]:
    command = ["quarantine", "list", "--json", "--quarantine-dir", str(quarantine)]
    result = subprocess.run(
        [sys.executable, "-m", "milter.cli", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]  # JSON lines


def test_full_disk_defers_scams_passes_clean_mail_then_holds_once(
    tmp_path: Path, small_fs: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test.yml").write_text(WORD_RULES, encoding="utf-8")
    recorder = Sink()
    sink = Controller(recorder, hostname="127.0.0.1", port=free_port())
    sink.start()
    served = ServeProcess(
        tmp_path,
        next_hop=sink.port,
        rules=[rules],
        quarantine=small_fs / "quarantine",
        # The verdict log on the same full disk.
        extra_config=f"verdict_log: {small_fs / 'verdicts.log'}\n",
    ).start()
    try:
        assert served.quarantine.is_dir()
        # One message held while there is room: the index exists before the disk fills.
        assert send(served.port, "holdme first")[0] == 250
        filler = fill(small_fs)

        for attempt in range(3):
            code, reply = send(served.port, f"holdme attempt {attempt}")
            assert code == 451, reply
            assert reply.startswith(b"4.3.0"), reply
        # Mail that needs no quarantine is not held up by the full disk, nor by its
        # verdict lines that no longer fit (a page holds about ten).
        for _ in range(20):
            assert send(served.port, "hello")[0] == 250
        assert [b"hello" in m for m in recorder.messages] == [True] * 20

        filler.unlink()
        code, reply = send(served.port, "holdme retried")
        assert code == 250, reply
        held = listed(served.quarantine)
        assert sorted(entry["status"] for entry in held) == ["held", "held"]
        stored = [(served.quarantine / "msg" / f"{entry['id']}.eml").read_bytes() for entry in held]
        assert sorted(b"retried" in m for m in stored) == [False, True]
        # Nothing half-written left behind by the failed attempts.
        assert not list((served.quarantine / "tmp").iterdir())
        assert len(list((served.quarantine / "msg").iterdir())) == 2

        assert served.stop() == 0  # and every line of its stderr is read
        log = "".join(served.lines)
        assert "Traceback" not in log
        assert "cannot write verdict log" in log
        # Every verdict line is kept: in the file, or on stderr while the file could not
        # take it. A line the disk cut short is taken back, not joined to the next one.
        in_file = [
            json.loads(line) for line in (small_fs / "verdicts.log").read_text().splitlines()
        ]
        outcomes = sorted((v["action"], v["reply"][:3]) for v in in_file + served.verdicts())
        expected = [("quarantine", "250")] * 2 + [("quarantine", "451")] * 3
        assert outcomes == sorted(expected + [("accept", "250")] * 20)
    finally:
        served.stop()
        sink.stop()


PAGE = 4096  # tmpfs hands out whole pages


def test_room_for_the_files_but_not_the_index(
    small_fs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The files are the truth and the SQLite index a cache of them: when only the
    index cannot grow, the message is still stored (the 250 is kept) and the index
    is rebuilt from the files once there is room."""
    directory = small_fs / "quarantine"
    directory.mkdir(mode=0o700)
    store = QuarantineStore(directory)

    def put(word: str) -> str:
        return store.put(
            f"Subject: x\r\n\r\nholdme {word}\r\n".encode(),
            Envelope(mail_from="a@example.org", rcpt_to=("b@example.net",)),
            Verdict(Action.QUARANTINE, 12.0, ()),
            word,
        ).id

    try:
        first = put("first")
        filler = fill(small_fs)
        # One free page: not even the message fits. Refused, nothing left behind.
        os.truncate(filler, filler.stat().st_size - PAGE)
        with pytest.raises(QuarantineError, match="No space left on device"):
            put("one page")
        assert [e.id for e in store.entries()] == [first]
        assert not list((directory / "tmp").iterdir())
        # Two: the message and its meta file fit, the index's new WAL pages do not.
        fill(small_fs)
        os.truncate(filler, filler.stat().st_size - 2 * PAGE)
        second = put("two pages")
        assert f"index insert failed for {second}" in caplog.text
        assert (directory / "msg" / f"{second}.eml").read_bytes().endswith(b"two pages\r\n")
        filler.unlink()
        third = put("room again")
        assert sorted(e.id for e in store.entries()) == sorted([first, second, third])
        assert {e.subject for e in store.entries()} == {"first", "two pages", "room again"}
    finally:
        store.close()

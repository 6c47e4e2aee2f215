"""`scam-milter serve` as a process: readiness, reload on SIGHUP, drain on SIGTERM, bad starts."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.config import Config
from milter.service.server import Overrides, Supervisor
from tests.helpers.serve_process import ServeProcess, Sink, running_sink

ROOT = Path(__file__).resolve().parents[2]

RULE = """\
- id: TEST_HOLD_WORD
  description: holds a word
  score: 12
  matchers:
    word:
      target: body
      phrases: [{word}]
  condition: word
  examples:
    must_match: [{{body: {word}}}]
    must_not_match: [{{body: hello}}]
"""


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    with running_sink() as found:
        yield found


def start(
    tmp_path: Path,
    next_hop: int,
    rules: Path,
    extra_env: dict[str, str] | None = None,
    extra_config: str = "",
) -> ServeProcess:
    return ServeProcess(
        tmp_path,
        next_hop=next_hop,
        rules=[rules],
        extra_config=extra_config,
        extra_env=extra_env,
    ).start()


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "test.yml").write_text(RULE.format(word="holdme"), encoding="utf-8")
    return directory


def test_serves_reloads_and_stops(tmp_path: Path, sink: tuple[Sink, int], rules: Path) -> None:
    recorder, sink_port = sink
    served = start(tmp_path, sink_port, rules, extra_config="smtp: {workers: 2}\n")
    try:
        served.send("holdme")
        served.send("hello")
        assert len(recorder.messages) == 1
        verdicts = served.wait_verdicts(2)  # read from its stderr by a thread
        assert [v["action"] for v in verdicts] == ["quarantine", "accept"]

        # A broken rule file: the reload is refused, the old rules stay.
        (rules / "test.yml").write_text("- id: broken\n", encoding="utf-8")
        served.process.send_signal(signal.SIGHUP)
        line = served.wait_line(r"reload failed", count=2)  # both workers kept their rules
        assert "test.yml:1" in line
        served.send("holdme")
        assert len(recorder.messages) == 1

        # A good new rule file takes effect without a restart.
        (rules / "test.yml").write_text(RULE.format(word="newword"), encoding="utf-8")
        served.process.send_signal(signal.SIGHUP)
        served.wait_line(r"reloaded: 1 rules", count=2)
        served.send("holdme")
        served.send("newword")
        assert len(recorder.messages) == 2
        assert b"holdme" in recorder.messages[1]
    finally:
        code = served.stop()
    assert code == 0
    served.wait_line("stopped")


def test_sighup_keeps_open_sessions(tmp_path: Path, sink: tuple[Sink, int], rules: Path) -> None:
    recorder, sink_port = sink
    served = start(tmp_path, sink_port, rules, extra_config="smtp: {workers: 2}\n")
    try:
        idle = smtplib.SMTP("127.0.0.1", served.port, timeout=30)
        idle.ehlo()
        busy = smtplib.SMTP("127.0.0.1", served.port, timeout=30)
        busy.ehlo()
        busy.mail("alice@example.org")
        busy.rcpt("bob@example.net")
        (rules / "test.yml").write_text(RULE.format(word="newword"), encoding="utf-8")
        served.process.send_signal(signal.SIGHUP)
        served.wait_line(r"reloaded: 1 rules", count=2)
        # The transaction open across the reload ends under the new rules.
        code, reply = busy.data(b"Subject: s\r\n\r\nnewword, sent across a reload\r\n")
        assert code == 250 and b"held for review" in reply, reply
        busy.quit()
        # The session that was idle meanwhile carries on too.
        assert (
            idle.sendmail("alice@example.org", ["bob@example.net"], b"Subject: s\r\n\r\nholdme\r\n")
            == {}
        )
        idle.quit()
        assert [b"holdme" in m for m in recorder.messages] == [True]
    finally:
        assert served.stop() == 0


def start_and_reload_early(
    tmp_path: Path, next_hop: int, rules: Path, workers: int
) -> ServeProcess:
    """Start serve and ask for a reload (new rules) while the rules are still loading."""
    served = ServeProcess(
        tmp_path,
        next_hop=next_hop,
        rules=[rules],
        extra_config=f"smtp: {{workers: {workers}}}\n",
    ).start(wait=False)
    # Logged when the quarantine is opened: after SIGHUP is blocked, before any worker
    # (or the single process) has a handler for it.
    served.wait_line(r"quarantine index .* rebuilt")
    new = rules / "new.tmp"
    new.write_text(RULE.format(word="newword"), encoding="utf-8")
    new.replace(rules / "test.yml")  # whole: a worker may be reading it right now
    served.process.send_signal(signal.SIGHUP)
    return served


def test_sighup_while_starting_reloads_once_serving(
    tmp_path: Path, sink: tuple[Sink, int], rules: Path
) -> None:
    """A reload asked for while the rules load (logrotate, an admin) must not end the
    process: SIGHUP's default action is to exit. It is done once the loop can."""
    recorder, sink_port = sink
    served = start_and_reload_early(tmp_path, sink_port, rules, workers=1)
    try:
        served.wait_line(r"reloaded: 1 rules")
        served.send("newword")
        served.send("holdme")
        assert [b"holdme" in m for m in recorder.messages] == [True]
        assert served.process.poll() is None
    finally:
        assert served.stop() == 0


def test_sighup_while_workers_start_ends_none(
    tmp_path: Path, sink: tuple[Sink, int], rules: Path
) -> None:
    recorder, sink_port = sink
    served = start_and_reload_early(tmp_path, sink_port, rules, workers=2)
    try:
        # Forwarded to a worker still loading its rules, the SIGHUP waits for its loop;
        # a worker forked after it reads the new rules anyway. None may die of it (the
        # supervisor would log "1 of 2 workers listening", then "was killed by SIGHUP").
        served.wait_line(r"workers listening")
        served.send("hello")
        assert len(recorder.messages) == 1
    finally:
        assert served.stop() == 0
    assert not [line for line in served.lines if re.search(r"of 2 workers|killed by", line)]


def test_sigterm_lets_a_session_in_flight_finish(
    tmp_path: Path, sink: tuple[Sink, int], rules: Path
) -> None:
    recorder, sink_port = sink
    served = start(tmp_path, sink_port, rules)
    client = smtplib.SMTP("127.0.0.1", served.port, timeout=30)
    client.ehlo()
    client.mail("alice@example.org")
    client.rcpt("bob@example.net")
    served.process.send_signal(signal.SIGTERM)
    served.wait_line(r"stopping")
    # New connections are refused while the open session is still served.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", served.port), timeout=2).close()
    code, _ = client.data(b"Subject: late\r\n\r\nfinished while draining\r\n")
    assert code == 250
    client.quit()
    assert served.process.wait(timeout=60) == 0
    assert b"finished while draining" in recorder.messages[0]


@pytest.mark.parametrize("attempt", range(3))
def test_sigterm_at_the_first_listening_line_drains(
    tmp_path: Path, sink: tuple[Sink, int], rules: Path, attempt: int
) -> None:
    """Any "listening" line is a promise that SIGTERM drains: the supervisor and that
    worker must both handle it by then, even while another worker is still starting."""
    served = start(tmp_path, sink[1], rules, extra_config="smtp: {workers: 2}\n")
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    served.wait_line(r"^.*\bstopped")


def test_ready_notification(tmp_path: Path, sink: tuple[Sink, int], rules: Path) -> None:
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify.sock")
    notify.bind(address)
    notify.settimeout(30)
    served = start(tmp_path, sink[1], rules, {"NOTIFY_SOCKET": address})
    try:
        assert notify.recv(100) == b"READY=1"
    finally:
        served.stop()
        notify.close()


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "milter.cli", "serve", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_start_is_one_line(tmp_path: Path, rules: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        config = tmp_path / "c.yml"
        config.write_text(f"rules: [{rules}]\n", encoding="utf-8")
        quarantine = f"--quarantine-dir={tmp_path / 'q'}"
        cases = [
            (("--listen", "nowhere"), "--listen must be HOST:PORT"),
            (
                ("--config", str(config), "--listen", f"127.0.0.1:{port}", quarantine),
                "cannot listen",
            ),
            (("--config", str(tmp_path / "missing.yml")), "cannot read config file"),
        ]
        for args, words in cases:
            result = run_serve(*args)
            assert result.returncode == 2, result.stderr
            errors = [line for line in result.stderr.splitlines() if "error" in line]
            assert len(errors) == 1, result.stderr
            assert errors[0].startswith("scam-milter: error: ")
            assert words in errors[0]
            assert "Traceback" not in result.stderr
    finally:
        busy.close()


def children(pid: int) -> list[str]:
    """The pids whose parent is ``pid``, read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            found.append(stat.parent.name)
    return found


def test_workers_share_the_port_and_are_replaced(
    tmp_path: Path, sink: tuple[Sink, int], rules: Path
) -> None:
    recorder, sink_port = sink
    served = start(tmp_path, sink_port, rules, extra_config="smtp: {workers: 2}\n")
    process = served.process
    try:
        served.wait_line(r"2 workers listening")
        for _ in range(6):
            served.send("hello")
        served.send("holdme")
        assert len(recorder.messages) == 6
        # A worker that dies is replaced, and the service goes on meanwhile.
        workers = children(process.pid)
        assert len(workers) == 2
        os.kill(int(workers[0]), signal.SIGKILL)
        served.wait_line(r"worker \d \(pid \d+\) was killed by SIGKILL; starting another")
        for _ in range(4):
            served.send("hello")
        assert len(recorder.messages) == 10
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = children(process.pid)
            if len(now) == 2 and workers[0] not in now:
                break
            time.sleep(0.1)
        assert len(now) == 2 and workers[0] not in now
    finally:
        code = served.stop()
    assert code == 0


def test_sigterm_while_a_dead_worker_waits_for_its_replacement(
    tmp_path: Path, sink: tuple[Sink, int], rules: Path
) -> None:
    served = start(tmp_path, sink[1], rules, extra_config="smtp: {workers: 2}\n")
    assert served.process is not None
    served.wait_line(r"2 workers listening")
    os.kill(int(children(served.process.pid)[0]), signal.SIGKILL)
    served.wait_line(r"was killed by SIGKILL; starting another")
    # The supervisor pauses a second before the replacement; stop it meanwhile.
    assert served.stop() == 0
    # No replacement is started on the closed listening socket.
    assert not [line for line in served.lines if "cannot start" in line], served.lines


def test_workers_stop_when_the_supervisor_is_killed(
    tmp_path: Path, sink: tuple[Sink, int], rules: Path
) -> None:
    served = start(tmp_path, sink[1], rules, extra_config="smtp: {workers: 2}\n")
    port, process = served.port, served.process
    deadline = time.monotonic() + 30
    while len(children(process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = children(process.pid)
    assert len(workers) == 2
    process.kill()  # the supervisor alone, with no chance to clean up
    process.wait(timeout=10)
    # The workers follow it, so a restarted service can listen on the port again.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


def test_sigterm_let_in_after_a_fork_reaches_the_new_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The supervisor unblocks signals right after fork; a SIGTERM pending then runs
    forward_stop at once, and that must already know the new worker's pid, or the
    worker keeps running and the supervisor waits for it forever. No real fork here:
    the window is microseconds wide, so the test makes the signal land in it."""
    supervisor = Supervisor(Config(), None, Overrides())
    new_pid = 4_000_000  # above Linux's pid_max: no process to hit by mistake
    killed: list[tuple[int, int]] = []
    real_sigmask = signal.pthread_sigmask

    def sigmask(how: int, mask: object) -> set[signal.Signals]:
        if how == signal.SIG_SETMASK and signal.SIGTERM not in mask:
            # Signals are let in again: the pending SIGTERM's handler runs now.
            supervisor.forward_stop(signal.SIGTERM, None)
        return real_sigmask(how, mask)

    monkeypatch.setattr(os, "fork", lambda: new_pid)
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))
    monkeypatch.setattr(signal, "pthread_sigmask", sigmask)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    with socket.socket() as sock:
        ready = supervisor.spawn(0, sock)
        assert ready is not None
        os.close(ready)
        assert supervisor.workers == {new_pid: 0}
        assert killed == [(new_pid, signal.SIGTERM)]
        # Stopping now: no further worker is forked.
        assert supervisor.spawn(1, sock) is None
        assert supervisor.workers == {new_pid: 0}


@pytest.mark.parametrize("workers", [1, 2])
def test_milter_on_a_unix_socket_starts_and_cleans_up(
    tmp_path: Path, sink: tuple[Sink, int], workers: int
) -> None:
    # One process makes its own socket; with workers the supervisor makes it and the
    # workers share it. Either way SIGTERM takes the socket file away, and a SIGKILL's
    # leftover does not stop the next start.
    rules = tmp_path / "rules.yml"
    rules.write_text(RULE.format(word="holdme"), encoding="utf-8")
    path = tmp_path / "milter.sock"

    def serve() -> ServeProcess:
        # A new one each time: its log lines are its own (start() waits for "listening").
        return ServeProcess(
            tmp_path,
            next_hop=sink[1],
            rules=[rules],
            listen_socket=path,
            extra_config=f"protocol: milter\nsmtp: {{workers: {workers}}}\n",
        ).start()

    served = serve()
    assert oct(path.stat().st_mode & 0o777) == "0o660"
    assert served.stop() == 0
    assert not path.exists()
    serve().kill()
    assert path.exists()  # a SIGKILL leaves the file
    served = serve()
    served.wait_line(rf"listening on unix:{path} ")
    assert served.stop() == 0
    assert not path.exists()

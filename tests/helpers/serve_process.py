"""Run `scam-milter serve` as a child process for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.postfix_harness import free_port, wait_port, wait_unix_socket

ROOT = Path(__file__).resolve().parents[2]


class Sink:
    """An aiosmtpd handler for the next hop: records every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(envelope.original_content)
        return "250 2.0.0 Ok: queued"


@contextlib.contextmanager
def running_sink() -> Iterator[tuple[Sink, int]]:
    """A recording next hop on a free loopback port, for the tests' serve processes."""
    from aiosmtpd.controller import Controller

    handler = Sink()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


class ServeProcess:
    """One `scam-milter serve`; its stderr (logs, verdict lines) is collected in ``lines``."""

    def __init__(
        self,
        workdir: Path,
        *,
        next_hop: int,
        rules: list[Path],
        listen: int | None = None,  # None: a free port
        listen_socket: Path | None = None,  # a unix socket instead (protocol milter)
        mode: str = "after-queue",
        extra_config: str = "",
        extra_env: dict[str, str] | None = None,
        quarantine: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = free_port() if listen is None else listen
        self.listen_socket = listen_socket
        self.next_hop = next_hop
        self.quarantine = quarantine or workdir / "quarantine"
        self.config = workdir / "config.yml"
        self.config.write_text(
            f"rules: [{', '.join(str(r) for r in rules)}]\nmode: {mode}\n{extra_config}",
            encoding="utf-8",
        )
        self.extra_env = extra_env or {}
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self, *, wait: bool = True) -> ServeProcess:
        """Start the server; with ``wait``, return once a worker listens."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "milter.cli",
                "serve",
                "--config",
                str(self.config),
                "--listen",
                f"unix:{self.listen_socket}" if self.listen_socket else f"127.0.0.1:{self.port}",
                "--next-hop",
                f"127.0.0.1:{self.next_hop}",
                "--quarantine-dir",
                str(self.quarantine),
            ],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT), **self.extra_env),
            stderr=subprocess.PIPE,
            text=True,
            # Its own process group: kill() takes the supervisor and its workers together,
            # as systemd does with the service's control group.
            start_new_session=True,
        )
        stream = self.process.stderr
        assert stream is not None
        self._reader = threading.Thread(
            target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True
        )
        self._reader.start()
        if not wait:
            return self
        if self.listen_socket is not None:
            wait_unix_socket(self.listen_socket, timeout=30)
        else:
            wait_port(self.port, timeout=30)
        # The port answers as soon as the supervisor binds it, before the workers have
        # read their config and quarantine: a test that changes those must wait for this.
        self.wait_line(r"listening on ", timeout=30)
        return self

    def send(self, body: str) -> None:
        """One message with ``body`` from alice@example.org to bob@example.net."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            client.sendmail(
                "alice@example.org",
                ["bob@example.net"],
                f"From: alice@example.org\r\nSubject: t\r\n\r\n{body}\r\n".encode(),
            )

    def verdicts(self) -> list[dict]:
        return [json.loads(line) for line in list(self.lines) if line.startswith("{")]

    def wait_verdicts(self, n: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.verdicts()
            if len(found) >= n:
                return found
            time.sleep(0.05)
        raise AssertionError(f"fewer than {n} verdicts; log:\n" + "".join(self.lines))

    def wait_line(self, pattern: str, timeout: float = 20, count: int = 1) -> str:
        """The ``count``-th log line like ``pattern`` (each worker logs its own reload)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if re.search(pattern, line)]
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.05)
        raise AssertionError(
            f"fewer than {count} log lines like {pattern!r}; log:\n" + "".join(self.lines)
        )

    def stop(self) -> int | None:
        """SIGTERM, then the exit code once it ended; ``lines`` is complete then."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=10)  # every line up to the end of its stderr
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL to every process of the service at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

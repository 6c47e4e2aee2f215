"""Prometheus metrics for ``serve --metrics HOST:PORT`` (docs/metrics.md).

prometheus_client's multiprocess mode: each process (every worker, or the one process
of a single-process serve) writes its counts to memory-mapped files in a private
directory that ``prepare_directory`` makes before any worker starts, and the process
that answers ``GET /metrics`` (worker 0, or the single process) sums the files of all
of them at scrape time. So the counts are those of the whole service, and survive a
worker that dies (its files stay; its replacement writes new ones under its own pid).

The answering is done by worker 0 on its event loop rather than by a thread of the
supervisor: the supervisor forks replacement workers, and a fork while another thread
holds a lock can leave the child stuck on it. The supervisor only makes the directory,
binds the socket (a bad address is one line at start) and marks dead workers.

prometheus_client is imported only once the directory is set in the environment: the
library picks its way of storing values (in memory or in files) at import time. With
metrics off it is never imported, and ``Metrics(enabled=False)`` records nothing.

No global mutable state of ours: the metric objects live on a ``Metrics`` that the
server builds and hands to the proxy and the judge. prometheus_client keeps its own
(the values' files and their locks), which is what it needs to aggregate processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from milter.quarantine.store import QuarantineStore
from milter.scan.verdict import Verdict
from milter.service.sockets import tcp_socket

log = logging.getLogger("scam_milter")

ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "scam_milter"
# The latency histograms, by stage: seconds, from a cached DNS answer (sub-millisecond)
# to the message budget (limits.message_seconds, 60 s).
STAGES = ("scan", "auth", "ocr", "relay")
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
RELAY_STEPS = ("mail", "data")
# A scrape is "GET /metrics HTTP/1.x" and a few header lines; anything longer is not one.
MAX_REQUEST_BYTES = 8192
REQUEST_SECONDS = 10.0


def prepare_directory() -> Path:
    """A fresh directory (0700: mkdtemp) for the processes' metric files, named in the
    environment so that every worker forked after this writes there."""
    path = Path(tempfile.mkdtemp(prefix="scam-milter-metrics-"))
    os.environ[ENV] = str(path)
    return path


def remove_directory(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def listening_socket(address: tuple[str, int]) -> socket.socket:
    """The bound, listening socket for ``/metrics``; ConfigError (one line) if it cannot be."""
    sock = tcp_socket(address, backlog=16, purpose=" for metrics")
    sock.setblocking(False)
    return sock


def mark_dead(pid: int) -> None:
    """A worker ended: prometheus_client drops its live gauges (its counts stay)."""
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        multiprocess.mark_process_dead(pid)


class Metrics:
    """What the service records; with ``enabled`` false, every method does nothing."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        if not enabled:
            return
        from prometheus_client import Counter, Histogram

        # registry=None: the values go to the multiprocess files; the registry that is
        # scraped is built per scrape over those files (exposition).
        self._messages = Counter(
            f"{PREFIX}_messages",
            "Messages handled, by the scan's verdict and what was done (the verdict log)",
            ["verdict", "action"],
            registry=None,
        )
        self._rules = Counter(
            f"{PREFIX}_rule_hits", "Rule hits in the verdicts logged", ["rule"], registry=None
        )
        self._seconds = {
            stage: Histogram(
                f"{PREFIX}_{stage}_seconds",
                f"Seconds spent on {stage} per message",
                buckets=BUCKETS,
                registry=None,
            )
            for stage in STAGES
        }
        self._dns_hits = Counter(
            f"{PREFIX}_dns_cache_hits", "DNS answers served from the cache", registry=None
        )
        self._relay_failures = Counter(
            f"{PREFIX}_relay_failures",
            "Next hop unreachable, timed out, lost or answering 4xx, by SMTP step",
            ["step"],
            registry=None,
        )
        for step in RELAY_STEPS:
            # Shown as 0 from the start: an alert on increase() needs the series to exist.
            self._relay_failures.labels(step)

    def message(self, verdict: Verdict | None, action: str) -> None:
        """What one verdict log line says (log_verdict): the verdict's action, "none"
        for a message left unscanned, what was done, and the rules that hit."""
        if not self.enabled:
            return
        self._messages.labels(verdict.action.value if verdict else "none", action).inc()
        for hit in verdict.rules if verdict is not None else ():
            self._rules.labels(hit.id).inc()

    def observe(self, stage: str, seconds: float) -> None:
        if self.enabled:
            self._seconds[stage].observe(seconds)

    def relay_failure(self, step: str) -> None:
        if self.enabled:
            self._relay_failures.labels(step).inc()

    def dns_cache_hits(self, count: int) -> None:
        if self.enabled and count > 0:
            self._dns_hits.inc(count)


class _QuarantineCollector:
    """The quarantine's entries by status, read from its index at scrape time."""

    def __init__(self, store: QuarantineStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            f"{PREFIX}_quarantine_entries", "Quarantine entries by status", labels=["status"]
        )
        for status, count in sorted(self.store.stats().by_status.items()):
            family.add_metric([status], count)
        yield family


def exposition(store: QuarantineStore) -> bytes:
    """The text format for one scrape: every process's files summed, and the quarantine."""
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_QuarantineCollector(store))
    return generate_latest(registry)


async def start_http(sock: socket.socket, render: Callable[[], bytes]) -> asyncio.Server:
    """Answer ``GET /metrics`` on ``sock`` with ``render()`` (run in a thread: it reads
    files and the quarantine index). A plain HTTP/1.0 exchange, one request a connection:
    what a Prometheus scrape needs, without a web framework in the mail path."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
            status, body = await _answer(head, render)
            content_type = "text/plain; version=0.0.4; charset=utf-8"
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("ascii")
                + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a client that did not send a request, or went away: nothing to answer
        finally:
            writer.close()

    return await asyncio.start_server(handle, sock=sock, limit=MAX_REQUEST_BYTES)


async def _answer(head: bytes, render: Callable[[], bytes]) -> tuple[str, bytes]:
    method, _, rest = head.partition(b" ")
    path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
    if method != b"GET":
        return "405 Method Not Allowed", b"only GET\n"
    if path != b"/metrics":
        return "404 Not Found", b"metrics are at /metrics\n"
    try:
        return "200 OK", await asyncio.to_thread(render)
    except Exception:
        # A scrape must not take the worker down; the next one may well work.
        log.exception("metrics: the scrape failed")
        return "500 Internal Server Error", b"the scrape failed, see the log\n"

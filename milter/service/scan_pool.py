"""The threads that scan big messages for one event loop.

A message past ``INLINE_SCAN_BYTES`` is scanned in a thread so that the loop goes on
serving the other sessions (milter/service/proxy.py). Those threads are the proxy's own, not
the loop's default executor:

- A scan that overruns the message budget is abandoned (the message is answered 451)
  but cannot be stopped: Python has no way to interrupt a thread. In the default
  executor a few of them would hold every thread the quarantine, the ledger and the
  authenticator hand work to, and a message already judged could not be stored. Here
  they hold only scan threads; the next big message waits for one (within its own
  budget), small ones are scanned on the loop as always.
- The threads are daemon threads: an abandoned scan does not hold up the worker's exit
  after SIGTERM (concurrent.futures joins its threads at exit, whatever they do).
- A scan not started when its message is abandoned is never started.

No I/O; the scan's own limits (milter/mail/view.py) bound each scan, and the proxy
passes it the budget's deadline, so an abandoned scan ends soon after.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger("scam_milter.scan")

T = TypeVar("T")

# The scan is Python code holding the GIL: more threads than this add no speed, only
# room for scans that overran their budget.
DEFAULT_THREADS = 2


@dataclass
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    function: Callable[..., Any]
    args: tuple[Any, ...]


class ScanPool:
    """A fixed number of daemon threads taking jobs from one queue; started on first use
    (``serve`` forks its workers, and a thread does not cross a fork)."""

    def __init__(self, threads: int = DEFAULT_THREADS) -> None:
        if threads < 1:
            raise ValueError("a scan pool needs at least one thread")
        self.threads = threads
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._started: list[threading.Thread] = []
        self._pid = 0  # the process the threads run in
        self._lock = threading.Lock()
        self._closed = False
        self.busy = 0  # jobs running now, abandoned ones included

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in one of the pool's threads. Cancelling the caller
        abandons the job: not started if it was waiting, its result dropped if not."""
        if self._closed:
            raise RuntimeError("scan pool is closed")
        self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(loop, future, function, args))
        return await future

    def close(self) -> None:
        """Let each thread end after its current job; jobs still waiting are dropped."""
        self._closed = True
        with self._lock:
            for _ in self._started:
                self._jobs.put(None)

    def _start(self) -> None:
        with self._lock:
            if self._started and self._pid == os.getpid():
                return
            # First use, or first in a forked child: the parent's threads are not here.
            self._pid = os.getpid()
            self._jobs = queue.SimpleQueue()
            self._started = []
            self.busy = 0
            for number in range(self.threads):
                thread = threading.Thread(target=self._work, name=f"scan-{number}", daemon=True)
                thread.start()
                self._started.append(thread)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            if job.future.cancelled():
                continue  # abandoned before it started
            with self._lock:
                self.busy += 1
            try:
                result = job.function(*job.args)
            except BaseException as exc:  # handed to the awaiting task, as to_thread does
                _settle(job, None, exc)
            else:
                _settle(job, result, None)
            finally:
                with self._lock:
                    self.busy -= 1


def _settle(job: _Job, result: object, error: BaseException | None) -> None:
    def deliver() -> None:
        if job.future.done():
            return  # abandoned (its task was cancelled at the budget)
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    # A loop closed meanwhile (the worker is exiting) has nobody left to tell.
    with contextlib.suppress(RuntimeError):
        job.loop.call_soon_threadsafe(deliver)

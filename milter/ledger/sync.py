"""The ledger's writers: a process beside each event loop, and a lock for threads.

The event loop's records are written and synced by a process of its own (``main``),
one per loop. A thread in the worker did the same job first, and cost about three
times as much CPU under load as alone (130 us a batch instead of 45): it needed the GIL
after every wait and every write, and each time it took it from the busy loop, a round
of futex calls and context switches on both sides. The process shares no GIL: the loop
sends each batch as one datagram and reads one reply per batch, as it reads any socket.

The protocol, over a stream socket pair: the loop sends records (fixed-size, so they need
no framing); the writer takes all that has come in one read, writes and syncs them, and
replies with ``_REPLY``: how many records of this connection are settled in all, and
whether the last of them are on disk (1) or their write failed (0).

The writer ignores SIGTERM, SIGINT and SIGHUP: a stop sent to the whole process group
must not end it before the worker's last records, which the worker's own drain waits
for. It ends when the worker does (end of file on the socket), after writing what it
received. If it dies first, the loop starts another and sends it every record that was
not settled: a record whose write was not confirmed is never taken for written.

Threads (the quarantine stores in one) call ``ThreadWriter``: they write and sync the
segment of their own process themselves, one for all the records that came while the
previous sync ran.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from milter.ledger import journal

log = logging.getLogger("scam_milter.ledger")

_REPLY = struct.Struct("<QQ")
_READ = 256 * 1024  # bytes the writer takes at most in one read (2048 records)
# A record is sent again to a new writer at most this many times.
_ATTEMPTS = 3
_ROOT = str(Path(__file__).resolve().parents[2])
# -I: no PYTHONPATH, no user site; the package's own directory is put first instead.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from milter.ledger.sync import main; main(sys.argv[2:])"
)


@dataclass
class _Entry:
    data: bytes
    future: asyncio.Future[None]
    attempts: int = 0


class LoopWriter:
    """The writer process of one event loop, and the records that wait for it; used
    from that loop's thread only."""

    def __init__(self, dir_fd: int, window: float, loop: asyncio.AbstractEventLoop) -> None:
        self.pid = os.getpid()
        self.loop = loop
        self._dir_fd = dir_fd
        self._window = window
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._settled = 0  # records of the current connection settled so far
        self._sent: collections.deque[_Entry] = collections.deque()  # not yet settled
        self._outgoing: list[_Entry] = []  # not yet sent
        self._unsent = b""  # the part of a send the socket did not take
        self._replies = b""  # a reply not yet whole
        self._flushing = False
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._sent) + len(self._outgoing)

    def submit(self, data: bytes) -> asyncio.Future[None]:
        """``data`` (whole records) to write; the future is done once it is on disk."""
        if self._closed:
            raise journal.JournalError("the ledger is closed")
        future = self.loop.create_future()
        self._outgoing.append(_Entry(data, future))
        if not self._flushing:
            # Everything submitted in this turn of the loop goes in one datagram.
            self._flushing = True
            self.loop.call_soon(self._flush)
        return future

    def close(self) -> None:
        """End the writer (it writes what it has, then exits); unsettled records fail."""
        self._closed = True
        process = self._process
        self._disconnect()
        self._fail(self._take_unsettled(), journal.JournalError("the ledger is closed"))
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)

    def leave_inherited(self) -> None:
        """In a forked child: close our copy of the parent's socket, nothing else (the
        writer is the parent's child, and the loop the parent's)."""
        self._closed = True
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._process = subprocess.Popen(
                [
                    *(sys.executable, "-I", "-c", _BOOT, _ROOT),
                    *(str(self._dir_fd), str(theirs.fileno()), repr(self._window)),
                ],
                pass_fds=(self._dir_fd, theirs.fileno()),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._settled = 0
        self._unsent = self._replies = b""
        self.loop.add_reader(ours.fileno(), self._on_reply)

    def _flush(self) -> None:
        self._flushing = False
        if self._closed or not (self._outgoing or self._unsent):
            return
        if self._sock is None:
            try:
                self._start()
            except OSError as exc:
                self._fail(self._take_unsettled(), journal.JournalError(f"{exc}"))
                return
        assert self._sock is not None
        if self._outgoing:
            self._unsent += b"".join(entry.data for entry in self._outgoing)
            self._sent.extend(self._outgoing)
            self._outgoing = []
        try:
            sent = self._sock.send(self._unsent)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._lost()
            return
        self._unsent = self._unsent[sent:]
        if self._unsent:
            # The writer is a whole socket buffer behind: the rest waits for room.
            self.loop.add_writer(self._sock.fileno(), self._on_writable)

    def _on_writable(self) -> None:
        if self._sock is not None:
            self.loop.remove_writer(self._sock.fileno())
        self._flush()

    def _on_reply(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(64 * _REPLY.size)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._lost()  # the writer ended: another one
            return
        data = self._replies + data
        whole = len(data) - len(data) % _REPLY.size
        self._replies = data[whole:]
        for upto, ok in _REPLY.iter_unpack(data[:whole]):
            error = None if ok else journal.JournalError("the ledger's writer failed to write")
            settled: list[asyncio.Future[None]] = []
            while self._settled < upto and self._sent:
                settled.append(self._sent.popleft().future)
                self._settled += 1
            _resolve(settled, error)

    def _lost(self) -> None:
        """The writer is gone: what it did not confirm goes to a new one."""
        process = self._process
        self._disconnect()
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(1)  # reaped, not left a zombie
        unsettled = self._take_unsettled()
        if not unsettled:
            return
        for entry in unsettled:
            entry.attempts += 1
        retry = [entry for entry in unsettled if entry.attempts < _ATTEMPTS]
        self._fail(
            [entry for entry in unsettled if entry.attempts >= _ATTEMPTS],
            journal.JournalError("the ledger's writer keeps ending"),
        )
        log.warning(
            "ledger writer (pid %s) ended; sending %d records to a new one",
            process.pid if process else "?",
            len(retry),
        )
        self._outgoing = retry
        if retry and not self._flushing:
            self._flushing = True
            self.loop.call_soon(self._flush)

    def _disconnect(self) -> None:
        sock, self._sock = self._sock, None
        self._process = None
        if sock is None:
            return
        if not self.loop.is_closed():
            self.loop.remove_reader(sock.fileno())
            self.loop.remove_writer(sock.fileno())
        sock.close()

    def _take_unsettled(self) -> list[_Entry]:
        entries = [*self._sent, *self._outgoing]
        self._sent.clear()
        self._outgoing = []
        self._unsent = b""
        return entries

    def _fail(self, entries: list[_Entry], error: Exception) -> None:
        if entries:
            _resolve([entry.future for entry in entries], error)


def _resolve(futures: list[asyncio.Future[None]], error: Exception | None) -> None:
    for future in futures:
        if future.done():  # its caller was cancelled meanwhile; the record stands
            continue
        # RuntimeError: that future's loop is closed; nobody waits for it any more.
        with contextlib.suppress(RuntimeError):
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


@dataclass
class _Pending:
    data: bytes
    done: bool = False
    error: journal.JournalError | None = None


class ThreadWriter:
    """This process's own segment, written by the threads that wait for their records:
    the one holding the lock writes every record handed over meanwhile (one sync)."""

    def __init__(self, dir_fd: int, window: float) -> None:
        self.pid = os.getpid()
        self._segments = journal.SegmentWriter(dir_fd, window)
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._pending_lock = threading.Lock()

    def write(self, data: bytes) -> None:
        mine = _Pending(data)
        with self._pending_lock:
            self._pending.append(mine)
        with self._lock:
            if not mine.done:
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                error: journal.JournalError | None = None
                try:
                    self._segments.write(b"".join(pending.data for pending in batch))
                except OSError as exc:
                    error = journal.JournalError(f"{exc.strerror or exc}")
                for pending in batch:
                    pending.error = error
                    pending.done = True
        if mine.error is not None:
            raise mine.error

    def close(self) -> None:
        with self._lock:
            self._segments.close()

    def leave_inherited(self) -> None:
        """In a forked child: the parent's segment is the parent's to write."""
        self._segments.leave_inherited()


# --- the writer process -----------------------------------------------------------------


def main(argv: list[str]) -> None:
    """The writer: ``argv`` is the ledger directory's descriptor, the socket's, and the
    window. Writes what it receives, replies, and ends at end of file."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    dir_fd, sock_fd, window = int(argv[0]), int(argv[1]), float(argv[2])
    sock = socket.socket(fileno=sock_fd)
    segments = journal.SegmentWriter(dir_fd, window)
    settled = 0
    partial = b""
    try:
        while True:
            # Everything that came while the last write was syncing: one write for all.
            data = sock.recv(_READ)
            if not data:
                return  # the worker is gone; a record cut short was never confirmed
            data = partial + data
            whole = len(data) - len(data) % journal.RECORD
            partial = data[whole:]
            if not whole:
                continue
            ok = 1
            try:
                segments.write(data[:whole])
            except OSError as exc:
                ok = 0
                print(f"scam-milter ledger writer: {exc}", file=sys.stderr, flush=True)
            settled += whole // journal.RECORD
            sock.sendall(_REPLY.pack(settled, ok))
    except (BrokenPipeError, ConnectionResetError):
        return
    finally:
        segments.close()

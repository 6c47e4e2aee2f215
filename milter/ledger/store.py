"""What was already done with a message: a durable, short-lived ledger, for exactly once.

SMTP leaves a window where a message is handled twice: the next hop answered 250 (or
the quarantine fsync'd the message), and then our 250 never reached Postfix (a SIGKILL,
a dropped connection, Postfix's own timeout). Postfix retries and the message is
delivered or held a second time. The ledger closes that window: right after the next
hop's 250, and before our 250 goes out, the message's key is committed here; a retry
with the same key is answered 250 without relaying it again.

The key (``message_key``) is a SHA-256 over the envelope (MAIL FROM and the set of
recipients) and the message, without its leading trace fields when it has a Message-ID;
a message that does not start with a trace field gets no key (see ``dedupe_body``).

Storage: a directory of journals (milter/ledger/journal.py), one per writing process
so that writers never wait for each other or interleave, each record synced before the
caller goes on (it survives a power cut), every journal read by every process (a retry
lands on any worker). Records older than the window are never matched; their files are
deleted once all they hold has left it. The ledger is an optimisation of the duplicate
case only: when it cannot be read or written, the caller relays or stores as it would
without it (a duplicate at worst), never loses a message.

Whoever can write the ledger can make us answer 250 for mail we never delivered, so its
directory is made 0700 and its files 0600 by us, neither is followed through a symlink,
and either is refused when writable by group or others or owned by another user.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from milter.errors import ScamMilterError
from milter.ledger import journal, sync
from milter.mail.headers import header_end

log = logging.getLogger("scam_milter.ledger")

# A directory, beside the quarantine's.
LEDGER_NAME = "ledger"
# Postfix retries a deferred message after minimal_backoff_time (300 s) and backs off
# to maximal_backoff_time (4000 s): a day covers every retry that matters, and bounds
# how long two genuinely separate but identical messages could be taken for one.
DEFAULT_WINDOW = 24 * 3600.0
# Bumped when the key's input changes: old records then simply never match.
_KEY_VERSION = b"scam-milter ledger key 1\0"


class LedgerError(ScamMilterError):
    """The ledger cannot be read or written; the caller goes on without it."""


class Outcome(enum.Enum):
    RELAYED = "relayed"  # the next hop answered 2xx to the end of DATA
    QUARANTINED = "quarantined"  # the quarantine holds it; ref is the entry id


@dataclass(frozen=True)
class LedgerRecord:
    outcome: Outcome
    ref: str  # RELAYED: the next hop's reply text; QUARANTINED: the quarantine id
    time: float  # seconds since the epoch, when it was recorded


@dataclass(frozen=True)
class LedgerSettings:
    # None: the directory "ledger" in the quarantine directory (0700 and ours).
    path: Path | None = None
    # Seconds a record is matched; 0 turns the ledger off.
    window: float = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        if self.window < 0:
            raise ValueError("ledger window must not be negative")

    @property
    def enabled(self) -> bool:
        return self.window > 0


# --- the key ----------------------------------------------------------------------------

_TRACE_FIELD = re.compile(rb"(?i)(?:received|return-path)[ \t]*:")
_MESSAGE_ID = re.compile(rb"(?im)^message-id[ \t]*:[ \t]*\S")


def dedupe_body(raw: bytes) -> memoryview | None:
    """The part of ``raw`` the key covers; None when the message is not to be deduplicated.

    Only a message whose header block starts with a trace field (Received, Return-Path)
    is: Postfix prepends its own Received to everything it hands us, in both modes
    (smtpd, and pickup for local mail), and that field is what tells two submissions of
    identical bytes apart (its queue id). Without it (a test client, a benchmark's
    smtp-source, something that bypassed Postfix) nothing says that identical bytes are
    one message, so each is relayed.

    In before-queue mode (smtpd_proxy_filter) the smtpd's Received is new on every
    attempt (fresh queue id and time), so a key over the exact bytes would never match
    a retry. So when the message has a Message-ID, the leading Received and Return-Path
    fields (RFC 5321 4.4: what MTAs prepend in transit) are left out, and everything
    from the first other field on is covered byte for byte.

    The risk is a false match: two different messages taken for one, and the second
    never delivered. Without the trace, two messages with the same envelope differ only
    if their own header and body do; RFC 5322 3.6.4 makes the Message-ID unique per
    message, so same Message-ID, same envelope, same header and body is the same
    message sent again (a sender's retry after a lost reply, which is a duplicate too),
    and the match is only made within the ledger's window (a day). Without a Message-ID
    (a script's identical alert, sent twice) the trace fields stay in the key: an
    after-queue retry (the same queue file, byte for byte) still matches; a before-queue
    one is relayed twice, as before; no message is dropped for looking like another.
    """
    if _TRACE_FIELD.match(raw) is None:
        return None
    view = memoryview(raw)
    if _MESSAGE_ID.search(raw, 0, header_end(raw)) is None:
        return view
    return view[_trace_end(raw) :]


def _trace_end(raw: bytes) -> int:
    """Where the leading run of trace fields ends (0 when the first field is another)."""
    position = 0
    length = len(raw)
    while position < length and _TRACE_FIELD.match(raw, position):
        # The field's first line, then its folded continuation lines.
        while True:
            end = raw.find(b"\n", position)
            position = length if end == -1 else end + 1
            if raw[position : position + 1] not in (b" ", b"\t"):
                break
    return position


def message_key(mail_from: str | None, rcpt_to: Sequence[str], raw: bytes) -> bytes | None:
    """The ledger key: SHA-256 over the envelope and ``dedupe_body(raw)``; None when the
    message is not to be deduplicated (see ``dedupe_body``).

    Recipients are a set (sorted): the same delivery whatever order they came in. Every
    part is length-prefixed, so no two different envelopes hash the same input.
    ``mail_from`` None (unknown) and "" (the null sender) differ.
    """
    body = dedupe_body(raw)
    if body is None:
        return None
    digest = hashlib.sha256(_KEY_VERSION)

    def part(data: bytes | memoryview) -> None:
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    part(b"\x00" if mail_from is None else b"\x01" + _address_bytes(mail_from))
    recipients = sorted(_address_bytes(r) for r in rcpt_to)
    digest.update(len(recipients).to_bytes(8, "big"))
    for recipient in recipients:
        part(recipient)
    # hashlib drops the GIL for large inputs: a big message hashed in a thread does not
    # hold up the event loop.
    part(body)
    return digest.digest()


def _address_bytes(address: str) -> bytes:
    # Addresses may hold lone surrogates (undecodable bytes kept by the front).
    return address.encode("utf-8", "surrogatepass")


# --- the store --------------------------------------------------------------------------

_KINDS = {Outcome.RELAYED: journal.KIND_RELAYED, Outcome.QUARANTINED: journal.KIND_QUARANTINED}
_OUTCOMES = {kind: outcome for outcome, kind in _KINDS.items()}


class Ledger:
    """The ledger directory, shared by processes; thread-safe.

    Each process writes journal segments of its own: the event loop's records through a
    writer process, the threads' records itself (milter/ledger/sync.py), each syncing
    in one write all the records handed over meanwhile; each process reads every
    segment into an index in memory (milter/ledger/journal.py). A lookup on a warm
    ledger reads only what other processes added since, from shared mappings: quick
    enough for the event loop itself. Files are opened on first use, in the process
    using them: ``serve`` forks its workers, and a thread does not cross a fork.
    """

    def __init__(self, path: Path, window: float = DEFAULT_WINDOW) -> None:
        if window <= 0:
            raise ValueError("ledger window must be positive")
        self.path = Path(path)
        self.window = window
        self._files: _Files | None = None
        self._open_lock = threading.Lock()
        self._closed = False

    @property
    def warm(self) -> bool:
        """True when a lookup in this process opens nothing (only reads what is new)."""
        files = self._files
        return files is not None and files.pid == os.getpid() and files.index is not None

    def lookup(self, key: bytes, *, now: float | None = None) -> LedgerRecord | None:
        """The newest record of ``key`` within the window, or None."""
        now = time.time() if now is None else now
        files = self._here()
        try:
            with files.lock:
                if files.index is None:
                    # Read whole before it is published: ``warm`` tells the proxy that
                    # a lookup is quick enough for the event loop.
                    index = journal.Index(files.dir_fd, self.window)
                    try:
                        index.catch_up(now)
                    except BaseException:
                        index.close()
                        raise
                    files.index = index
                found = files.index.find(key, now)
        except (OSError, journal.JournalError) as exc:
            # Opened again on the next lookup; what it had read is read again.
            files.drop_index()
            raise _error(self.path, exc) from exc
        if found is None:
            return None
        outcome = _OUTCOMES.get(found.kind)
        if outcome is None:
            return None  # written by a newer version: not ours to interpret
        ref = found.ref.decode("utf-8", "replace")
        return LedgerRecord(outcome, ref, found.time_us / 1e6)

    def record(self, key: bytes, outcome: Outcome, ref: str, *, now: float | None = None) -> None:
        """Commit ``key`` durably (on disk when this returns); a later record of the same
        key replaces it. Blocks: not for the event loop (``record_async``)."""
        data = self._pack(key, outcome, ref, now)
        files = self._here()
        try:
            with files.lock:
                if files.threads is None:
                    files.threads = sync.ThreadWriter(files.dir_fd, self.window)
                writer = files.threads
            writer.write(data)
        except (OSError, journal.JournalError) as exc:
            raise _error(self.path, exc) from exc

    async def record_async(
        self, key: bytes, outcome: Outcome, ref: str, *, now: float | None = None
    ) -> None:
        """``record`` for the event loop: returns once the record is on disk, without
        blocking the loop meanwhile (a process of its own writes it: ledger_sync.py).

        Cancelling the caller does not withdraw the record: it is written all the same.
        """
        data = self._pack(key, outcome, ref, now)
        loop = asyncio.get_running_loop()
        files = self._here()
        try:
            with files.lock:
                writer = files.loop_writer
                if writer is not None and writer.loop is not loop:
                    if not writer.loop.is_closed() and writer.pending:
                        writer = None  # another loop, still busy with it: a thread then
                    else:
                        writer.close()
                        writer = files.loop_writer = sync.LoopWriter(
                            files.dir_fd, self.window, loop
                        )
                elif writer is None:
                    writer = files.loop_writer = sync.LoopWriter(files.dir_fd, self.window, loop)
            if writer is None:
                await asyncio.to_thread(self.record, key, outcome, ref, now=now)
                return
            await writer.submit(data)
        except (OSError, journal.JournalError) as exc:
            raise _error(self.path, exc) from exc

    def close(self) -> None:
        with self._open_lock:
            self._closed = True
            files, self._files = self._files, None
        if files is not None:
            if files.pid == os.getpid():
                files.close()
            else:
                files.leave_inherited()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _pack(self, key: bytes, outcome: Outcome, ref: str, now: float | None) -> bytes:
        now = time.time() if now is None else now
        # Cut to what a record holds, and never in the middle of a character.
        text = ref.encode("utf-8", "replace")[: journal.REF_BYTES]
        text = text.decode("utf-8", "ignore").encode("utf-8")
        return journal.pack(key, _KINDS[outcome], text, _micros(now))

    def _here(self) -> _Files:
        """This process's files (a fork leaves the parent's behind: they are closed
        here without a word to the parent, whose locks and processes they are)."""
        files = self._files
        pid = os.getpid()
        if files is not None and files.pid == pid:
            return files
        with self._open_lock:
            if self._closed:
                raise LedgerError(f"ledger {self.path} is closed.")
            files = self._files
            if files is None or files.pid != pid:
                if files is not None:
                    files.leave_inherited()
                try:
                    files = self._files = _Files(journal.open_directory(str(self.path)))
                except (OSError, journal.JournalError) as exc:
                    self._files = None
                    raise _error(self.path, exc) from exc
            return files


class _Files:
    """One process's descriptors: the directory, the index, the writers."""

    def __init__(self, dir_fd: int) -> None:
        self.pid = os.getpid()
        self.dir_fd = dir_fd
        self.lock = threading.Lock()
        self.index: journal.Index | None = None
        self.threads: sync.ThreadWriter | None = None
        self.loop_writer: sync.LoopWriter | None = None

    def drop_index(self) -> None:
        with self.lock:
            index, self.index = self.index, None
        if index is not None:
            with contextlib.suppress(OSError):
                index.close()

    def close(self) -> None:
        with self.lock:
            threads, self.threads = self.threads, None
            loop_writer, self.loop_writer = self.loop_writer, None
        if loop_writer is not None:
            loop_writer.close()
        if threads is not None:
            threads.close()
        self.drop_index()
        os.close(self.dir_fd)

    def leave_inherited(self) -> None:
        """In a forked child: close what the parent opened, and only that (its writer
        process, its locks and its segments are the parent's)."""
        if self.index is not None:
            with contextlib.suppress(OSError):
                self.index.close()
        if self.threads is not None:
            self.threads.leave_inherited()
        if self.loop_writer is not None:
            self.loop_writer.leave_inherited()
        with contextlib.suppress(OSError):
            os.close(self.dir_fd)


def _error(path: Path, exc: BaseException) -> LedgerError:
    if isinstance(exc, LedgerError):
        return exc
    if isinstance(exc, OSError):
        return LedgerError(f"ledger {path}: {exc.strerror or exc}.")
    return LedgerError(f"ledger {path}: {exc}")


def _micros(seconds: float) -> int:
    return int(seconds * 1_000_000)

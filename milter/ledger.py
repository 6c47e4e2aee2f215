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

Storage: one SQLite database in WAL mode with ``synchronous=FULL`` (a committed record
survives a power cut), shared by every ``serve`` worker; writers wait for each other
through SQLite's busy timeout. Records older than the window are never matched and are
deleted as new ones come. The ledger is an optimisation of the duplicate case only:
when it cannot be read or written, the caller relays or stores as it would without it
(a duplicate at worst), never loses a message.

Whoever can write the ledger can make us answer 250 for mail we never delivered, so the
file is made 0600 by us, never followed through a symlink, and refused when it (or its
directory) is writable by group or others or belongs to another user.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import logging
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from milter.errors import ScamMilterError

log = logging.getLogger("scam_milter.ledger")
_T = TypeVar("_T")

LEDGER_NAME = "ledger.sqlite3"
# Postfix retries a deferred message after minimal_backoff_time (300 s) and backs off
# to maximal_backoff_time (4000 s): a day covers every retry that matters, and bounds
# how long two genuinely separate but identical messages could be taken for one.
DEFAULT_WINDOW = 24 * 3600.0
# Expired records are deleted at most this often per process (one indexed DELETE).
_EXPIRE_EVERY = 60.0
# Bumped when the key's input changes: old records then simply never match.
_KEY_VERSION = b"scam-milter ledger key 1\0"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS handled (
    key BLOB PRIMARY KEY,
    outcome TEXT NOT NULL,
    ref TEXT NOT NULL,
    time_us INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS handled_time ON handled (time_us);
"""


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
    # None: ledger.sqlite3 in the quarantine directory (already 0700 and ours).
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
    if _MESSAGE_ID.search(raw, 0, _header_end(raw)) is None:
        return view
    return view[_trace_end(raw) :]


def _header_end(raw: bytes) -> int:
    """``len(headers.header_block(raw))``, without copying the header block or looking
    for a bare-LF blank line in the whole body of a CRLF message (a third of the key's
    cost for a few KB)."""
    crlf = raw.find(b"\n\r\n")
    # A "\n\n" that ends after the first "\n\r\n" starts does not come first.
    lf = raw.find(b"\n\n", 0, len(raw) if crlf < 0 else crlf + 1)
    if lf >= 0:
        return lf + 1
    return len(raw) if crlf < 0 else crlf + 1


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


class Ledger:
    """The ledger file, shared by processes; thread-safe.

    Two connections per process, each behind its own lock: lookups never wait for a
    commit's fsync (WAL readers do not block on the writer), so a lookup is quick
    enough for the event loop itself (see ``warm``). Commits are grouped: records that
    arrive while another is being synced go to disk together in the next transaction,
    one fsync for all of them.

    Connections are opened on first use, in the process using them: a SQLite connection
    must not cross a fork, and ``serve`` forks its workers.
    """

    def __init__(self, path: Path, window: float = DEFAULT_WINDOW) -> None:
        if window <= 0:
            raise ValueError("ledger window must be positive")
        self.path = Path(path)
        self.window = window
        self._reader = _Link()
        self._writer = _Link()
        self._pending: list[_Pending] = []
        self._pending_lock = threading.Lock()
        self._next_expiry = 0.0
        self._closed = False

    @property
    def warm(self) -> bool:
        """True when a lookup in this process needs no file opened (only a read)."""
        return self._reader.db is not None and self._reader.pid == os.getpid()

    def lookup(self, key: bytes, *, now: float | None = None) -> LedgerRecord | None:
        """The record of ``key`` within the window, or None."""
        now = time.time() if now is None else now
        since = _micros(now - self.window)
        row = self._run(
            self._reader,
            lambda db: db.execute(
                "SELECT outcome, ref, time_us FROM handled WHERE key = ? AND time_us >= ?",
                (key, since),
            ).fetchone(),
        )
        if row is None:
            return None
        try:
            outcome = Outcome(row[0])
        except ValueError:
            return None  # written by a newer version: not ours to interpret
        return LedgerRecord(outcome, str(row[1]), row[2] / 1e6)

    def record(self, key: bytes, outcome: Outcome, ref: str, *, now: float | None = None) -> None:
        """Commit ``key`` durably (fsync'd when this returns); replaces an older record."""
        self.record_many([(key, outcome, ref)], now=now)

    def record_many(
        self, records: Sequence[tuple[bytes, Outcome, str]], *, now: float | None = None
    ) -> None:
        """Commit every ``(key, outcome, ref)`` durably, in one transaction with whatever
        other threads are recording meanwhile; raises LedgerError if that fails."""
        now = time.time() if now is None else now
        mine = [_Pending(key, outcome.value, ref, _micros(now)) for key, outcome, ref in records]
        if not mine:
            return
        with self._pending_lock:
            self._pending.extend(mine)
        with self._writer.lock:
            if all(pending.done for pending in mine):
                # Committed by the thread that held the lock meanwhile (group commit).
                for pending in mine:
                    if pending.error is not None:
                        raise pending.error
                return
            with self._pending_lock:
                batch, self._pending = self._pending, []

            def write(db: sqlite3.Connection) -> None:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany(
                        "INSERT OR REPLACE INTO handled (key, outcome, ref, time_us) "
                        "VALUES (?, ?, ?, ?)",
                        [(p.key, p.outcome, p.ref, p.time_us) for p in batch],
                    )
                    if now >= self._next_expiry:
                        self._next_expiry = now + _EXPIRE_EVERY
                        db.execute(
                            "DELETE FROM handled WHERE time_us < ?", (_micros(now - self.window),)
                        )
                    db.execute("COMMIT")  # synchronous=FULL: the WAL is fsync'd here
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise

            try:
                self._run_locked(self._writer, write)
            except BaseException as exc:
                # Every record of the batch fails with it: the threads waiting for them
                # must not take their records for committed.
                error = exc if isinstance(exc, LedgerError) else LedgerError(f"{exc!r}")
                for pending in batch:
                    pending.error = error
                    pending.done = True
                raise
            for pending in batch:
                pending.done = True

    def forget(self, key: bytes) -> None:
        """Remove ``key``'s record (e.g. it named a quarantine entry that is gone)."""
        with self._writer.lock:
            self._run_locked(
                self._writer, lambda db: db.execute("DELETE FROM handled WHERE key = ?", (key,))
            )

    def close(self) -> None:
        self._closed = True
        for link in (self._reader, self._writer):
            with link.lock:
                link.drop()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, link: _Link, work: Callable[[sqlite3.Connection], _T]) -> _T:
        with link.lock:
            return self._run_locked(link, work)

    def _run_locked(self, link: _Link, work: Callable[[sqlite3.Connection], _T]) -> _T:
        """``work(db)`` with ``link``'s lock held; any failure becomes LedgerError."""
        if self._closed:
            raise LedgerError(f"ledger {self.path} is closed.")
        try:
            if link.db is None or link.pid != os.getpid():
                # None, or inherited across a fork: never touched (closing it could
                # release the parent's locks); this process opens its own.
                link.db = self._open()
                link.pid = os.getpid()
            return work(link.db)
        except sqlite3.Error as exc:
            # The next call reconnects: a damaged file is then moved aside (_open).
            link.drop()
            raise LedgerError(f"ledger {self.path}: {exc}.") from exc
        except OSError as exc:
            link.drop()
            raise LedgerError(f"ledger {self.path}: {exc.strerror or exc}.") from exc

    def _open(self) -> sqlite3.Connection:
        _check_private_file(self.path)
        db = _connect(self.path)
        try:
            try:
                _prepare(db)
            except sqlite3.DatabaseError as exc:
                if not _is_damaged(exc):
                    raise
                db.close()
                # Short-lived data: a damaged ledger is set aside and a new one started;
                # what it knew only costs possible duplicates for a day.
                log.error("ledger %s is damaged (%s); starting a new one", self.path, exc)
                self._set_aside()
                _check_private_file(self.path)
                db = _connect(self.path)
                _prepare(db)
        except BaseException:
            db.close()
            raise
        return db

    def _set_aside(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            with contextlib.suppress(FileNotFoundError):
                os.replace(source, Path(f"{self.path}.damaged{suffix}"))


class _Link:
    """One connection of this process, and the lock that serialises its users."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.db: sqlite3.Connection | None = None
        self.pid = 0

    def drop(self) -> None:
        db, self.db = self.db, None
        if db is not None and self.pid == os.getpid():
            with contextlib.suppress(sqlite3.Error):
                db.close()


@dataclass
class _Pending:
    """A record waiting for its commit; ``done`` once committed (or failed: ``error``)."""

    key: bytes
    outcome: str
    ref: str
    time_us: int
    done: bool = False
    error: LedgerError | None = None


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit with explicit BEGIN IMMEDIATE; a writer waits up to 10 s for another
    # worker's commit (SQLite's busy timeout) rather than failing.
    return sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)


def _prepare(db: sqlite3.Connection) -> None:
    _set_wal(db)
    # FULL: a record is on disk when record() returns, as the 250 that follows promises.
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(_SCHEMA)
    db.execute("SELECT count(*) FROM handled WHERE time_us < 0").fetchone()


def _check_private_file(path: Path) -> None:
    """Make ``path`` 0600 if missing; refuse one that others could have written."""
    parent = path.parent
    st = os.stat(parent)
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise LedgerError(
            f"ledger directory {parent} is writable by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); make it 0700."
        )
    # Made here, 0600, so SQLite never creates it with the umask's mode; its -wal and
    # -shm files take the database file's mode. O_NOFOLLOW: a planted symlink is refused.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(st.st_mode):
        raise LedgerError(f"ledger {path} is not a regular file.")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or st.st_uid != os.geteuid():
        raise LedgerError(
            f"ledger {path} must belong to this user and be writable by nobody else "
            f"(mode {stat.S_IMODE(st.st_mode):04o}, owner {st.st_uid})."
        )


def _set_wal(db: sqlite3.Connection) -> None:
    """WAL, waiting while another worker switches too: that takes an exclusive lock that
    SQLite's busy timeout does not wait for."""
    deadline = time.monotonic() + 10.0
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# SQLite result codes (sqlite3.h) that mean the file is not a usable database.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def _is_damaged(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _micros(seconds: float) -> int:
    return int(seconds * 1_000_000)

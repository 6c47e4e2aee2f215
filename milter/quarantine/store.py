"""The quarantine store: held messages on local disk, byte for byte, with an SQLite index.

Layout under the quarantine directory (every name is a constant or a validated id, never
message data)::

    tmp/<id>.eml, tmp/<id>.json   files being written; renamed away or removed
    msg/<id>.eml                  the raw message, exactly as received
    meta/<id>.json                envelope, client, verdict, auth, status and its history
    index.sqlite3                 the index for list/search/stats; derived, rebuildable

The files are the truth and the index is a cache. A ``meta/<id>.json`` is written last and
is the commit record: it only exists once ``msg/<id>.eml`` is durable, so a message is
stored exactly when its meta file is. The index can always be rebuilt from the meta files
(``rebuild_index``), and is resynchronised with them whenever a store is opened, so an
entry whose index insert never happened (a crash, a locked database) still shows up.

Durability of ``put`` (the proxy answers 250 only after it returns): each file is created
with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 in ``tmp/``, written, fsync'd, renamed into
``msg/`` or ``meta/``, and that directory fsync'd. Any OSError on that path removes what
was written and raises QuarantineError, so the proxy answers 4xx and the client retries.
A failing index insert after that point does not fail ``put``: the message is durable,
the error is logged and the index is resynchronised at the next call.

States and who changed them. Every entry has a status, and every change of it is an event
(time, Unix user, details) kept in the meta file itself, so a rebuilt index loses nothing:

    held ──release──▶ released ──release --force──▶ released
      │                  │
      ├──delete──▶ deleted      (the message file is removed; the meta file stays as a
      └──purge───▶ expired       tombstone, so list/show still say who did it and when)

A tombstone is forgotten (meta file and index rows removed) by a later ``purge`` once its
last change is older than the retention too: nothing about a message outlives twice the
retention. ``TRANSITIONS`` below is that table.

Several processes share one store (``serve`` workers, instances, the admin's CLI):

- a state change rewrites the meta file (a new file renamed over the old one, so a reader
  sees the old or the new file, never half of one) while holding an exclusive ``flock`` on
  the message file, so two admins cannot both release one message;
- the rename happens inside the index's write transaction. Before it, a marker
  ``tmp/<id>.sync`` is made, and removed once the index has the change: a change whose
  index update was lost (a crash, a locked index) leaves its marker, and whoever opens
  the store next re-reads that entry;
- the index keeps the inode number of the meta file each row was read from. A full
  resync compares those numbers with a directory listing (``scandir`` gives them without
  a ``stat``), so any difference at all is found; it runs when ``serve`` opens the store,
  before a purge, and after an index failure in this process. The CLI opens the store
  with a cheap check instead (the markers, and the number of meta files against the
  number of rows), so ``list`` stays fast on 100,000 entries.

The store is synchronous and thread-safe: the server calls ``put`` from worker threads.
File writes run in parallel; only the one SQLite connection is behind a lock.
"""

from __future__ import annotations

import builtins
import contextlib
import enum
import errno
import fcntl
import hashlib
import json
import logging
import os
import pwd
import re
import secrets
import sqlite3
import stat
import threading
import time as _time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from milter.errors import QuarantineError
from milter.mail.envelope import ClientInfo, Envelope
from milter.scan.verdict import Verdict

log = logging.getLogger("scam_milter.quarantine")

# 10 base-36 digits of milliseconds since the epoch (enough until the year 5000 and far
# beyond) then 16 random base-36 digits (~82 bits): ids sort by time as text, and two
# instances writing one directory cannot collide in practice. Only [0-9a-z], fixed
# length: an id can never be '', '.', '..' or contain '/', so it cannot name another path.
ID_LENGTH = 26
_TIME_DIGITS = 10
_RANDOM_DIGITS = ID_LENGTH - _TIME_DIGITS
_ID_RE = re.compile(r"[0-9a-z]{26}")
_TMP_RE = re.compile(r"[0-9a-z]{26}\.(eml|json)")
_MARKER = ".sync"  # tmp/<id>.sync: this entry's index row may lag its meta file
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

META_FORMAT = 1
# 2: status, its history (events), per-rule and per-recipient lookup tables.
SCHEMA_VERSION = 2

_DB_NAME = "index.sqlite3"
_SUBDIRS = ("tmp", "msg", "meta")
# A file left in tmp/ or msg/ by a crash is removed once it is this old; younger ones
# may belong to another instance writing the same directory right now.
_STALE_TMP_SECONDS = 3600


class Status(enum.Enum):
    """Where a quarantined message stands. Each change to a status is also an event."""

    HELD = "held"
    RELEASED = "released"
    DELETED = "deleted"
    EXPIRED = "expired"

    @property
    def has_message(self) -> bool:
        """True while the message file exists (it is removed on delete and expiry)."""
        return self in (Status.HELD, Status.RELEASED)


# The state machine as data: the statuses each status may change to. Releasing a released
# message again is allowed here; the caller asks for it explicitly (--force).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.HELD: frozenset({Status.RELEASED, Status.DELETED, Status.EXPIRED}),
    Status.RELEASED: frozenset({Status.RELEASED, Status.DELETED, Status.EXPIRED}),
    Status.DELETED: frozenset(),
    Status.EXPIRED: frozenset(),
}


class NoSuchEntry(QuarantineError):
    """No message with this id is in the quarantine (or it was forgotten)."""


class EntryStateError(QuarantineError):
    """The entry cannot do that now: already released, deleted, or busy in another process."""


_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE entries (
    id TEXT PRIMARY KEY,
    time_us INTEGER NOT NULL,
    mail_from TEXT NOT NULL,
    sender_lc TEXT NOT NULL,
    sender_domain TEXT NOT NULL,
    recipients TEXT NOT NULL,
    client_addr TEXT,
    client_helo TEXT,
    client_name TEXT,
    subject TEXT NOT NULL,
    score REAL NOT NULL,
    action TEXT NOT NULL,
    rules TEXT NOT NULL,
    size INTEGER NOT NULL,
    released_us INTEGER,
    status TEXT NOT NULL,
    status_us INTEGER NOT NULL,
    meta_ino INTEGER NOT NULL
);
CREATE INDEX entries_time ON entries (time_us, id);
CREATE INDEX entries_sender ON entries (sender_lc);
CREATE INDEX entries_sender_domain ON entries (sender_domain);
CREATE INDEX entries_status ON entries (status, status_us);
CREATE TABLE entry_rules (
    id TEXT NOT NULL,
    rule TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (id, rule)
) WITHOUT ROWID;
CREATE INDEX entry_rules_rule ON entry_rules (rule);
CREATE TABLE entry_rcpts (
    id TEXT NOT NULL,
    addr TEXT NOT NULL,
    domain TEXT NOT NULL,
    PRIMARY KEY (id, addr)
) WITHOUT ROWID;
CREATE INDEX entry_rcpts_addr ON entry_rcpts (addr);
CREATE INDEX entry_rcpts_domain ON entry_rcpts (domain);
CREATE TABLE events (
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time_us INTEGER NOT NULL,
    event TEXT NOT NULL,
    user TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (id, seq)
) WITHOUT ROWID;
CREATE INDEX events_time ON events (time_us);
"""

_COLUMNS = (
    "id, time_us, mail_from, recipients, client_addr, client_helo, client_name, "
    "subject, score, action, rules, size, released_us, status, status_us"
)
_INDEX_COLUMNS = f"{_COLUMNS}, sender_lc, sender_domain, meta_ino"
_TABLES = ("entries", "entry_rules", "entry_rcpts", "events")


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined message as listed: who sent it to whom, why it was held, its status.

    Text fields are for display: characters that cannot be encoded (lone surrogates from
    undecodable bytes) are replaced. The exact envelope stays in the meta file.
    ``mail_from`` is ``""`` both for the null sender and for an unknown one.
    """

    id: str
    time: datetime  # UTC, aware
    mail_from: str
    recipients: tuple[str, ...]
    client_addr: str | None
    client_helo: str | None
    client_name: str | None
    subject: str
    score: float
    # What the verdict said: 'quarantine', or 'reject' when the proxy held a message it
    # could not refuse (after-queue mode), so an admin sees how bad it was.
    action: str
    rules: tuple[dict[str, Any], ...]  # {"id", "score", "evidence": [...]}
    size: int
    released: datetime | None = None  # the last release
    status: Status = Status.HELD
    status_time: datetime | None = None  # when the status last changed


@dataclass(frozen=True)
class QuarantineEvent:
    """One change of status: what, when, by which Unix user, with what details."""

    status: Status
    time: datetime
    user: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QuarantineRecord:
    """Everything the meta file says about one entry: what ``show`` prints."""

    entry: QuarantineEntry
    envelope: Envelope  # exact, ESMTP parameters in their original case
    sha256: str
    notes: tuple[str, ...]
    auth: dict[str, Any] | None
    events: tuple[QuarantineEvent, ...]


@dataclass(frozen=True)
class PurgeResult:
    expired: int  # messages removed, their records kept as tombstones
    forgotten: int  # tombstones removed whole
    busy: int  # skipped: another process was releasing or deleting them
    orphans: int  # stray message files left by a crash, removed


@dataclass(frozen=True)
class QuarantineStats:
    since: datetime | None
    until: datetime | None
    total: int
    by_action: dict[str, int]
    by_status: dict[str, int]
    by_rule: tuple[tuple[str, int], ...]  # most frequent first
    # State changes within the window (releases, deletions...), by anyone.
    events: dict[str, int]


def is_valid_id(entry_id: object) -> bool:
    """True when ``entry_id`` has the shape of a quarantine id (and so names no path)."""
    return isinstance(entry_id, str) and _ID_RE.fullmatch(entry_id) is not None


def new_id(now: datetime) -> str:
    """A fresh id for a message quarantined at ``now``: time prefix, random suffix."""
    millis = int(now.timestamp() * 1000)
    return _base36(millis, _TIME_DIGITS) + _base36(
        secrets.randbelow(36**_RANDOM_DIGITS), _RANDOM_DIGITS
    )


def current_user() -> str:
    """The effective Unix user's name, as recorded in events (its uid when it has none)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        # A container or a systemd DynamicUser without a passwd entry.
        return f"uid {uid}"


def duration_text(duration: timedelta) -> str:
    """``30d``, ``12h``, ``90m`` or ``45s``: the largest unit that divides it."""
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 36)
        digits.append(_DIGITS[digit])
    if number:
        raise ValueError(f"{number} does not fit in {width} base-36 digits")
    return "".join(reversed(digits))


def _checked_id(entry_id: object) -> str:
    # Checked before the id is used for anything, so a crafted id ("../x", "a/b", "")
    # never reaches a file name or a query.
    if not is_valid_id(entry_id):
        shown = repr(entry_id)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        raise QuarantineError(f"{shown} is not a quarantine id.")
    assert isinstance(entry_id, str)
    return entry_id


def _display(text: str) -> str:
    # Headers decoded with surrogateescape can hold lone surrogates, which neither SQLite
    # nor a terminal accepts; the exact bytes are in the .eml file anyway.
    return text.encode("utf-8", "replace").decode("utf-8")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(moment: datetime) -> int:
    # Integer arithmetic: a float timestamp times 1e6 can come out a microsecond short,
    # and a listed entry must equal the same entry read from its meta file.
    return (moment - _EPOCH) // _MICROSECOND


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _set_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, waiting while another process does the same: the switch takes an
    exclusive lock that SQLite's busy timeout does not wait for."""
    deadline = _time.monotonic() + 10.0
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or _time.monotonic() > deadline:
                raise
            _time.sleep(0.02)


def address_key(address: str) -> tuple[str, str]:
    """An address as the index matches it: lower-cased, and its domain (lower-cased).

    Case-insensitive as a whole: RFC 5321 lets the local part be case-sensitive, but no
    admin searching for a scam's sender means that, and senders vary it.
    """
    lowered = _display(address).lower()
    return lowered, lowered.rpartition("@")[2] if "@" in lowered else ""


class QuarantineStore:
    """Held messages in one directory: files written durably, listed through an index."""

    # Inside this class ``list`` is the method below, so annotations say builtins.list.

    def __init__(self, directory: Path, *, create: bool = True, full_sync: bool = True) -> None:
        """Open (and with ``create``, make) the store in ``directory``.

        ``full_sync`` compares every meta file with the index (cheap, but proportional to
        the number of entries); without it only the markers and the counts are checked,
        which finds every lost update but an admin's hand edits (see the module doc).

        Raises QuarantineError when the directory is missing (and not to be created),
        cannot be read, or is writable by group or others: anyone who can write there can
        plant or swap held messages.
        """
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        # Set when the index may miss entries or hold stale ones; the next call resyncs.
        self._index_stale = False
        # Who this process is, for the events it records; the euid does not change.
        self.user = current_user()
        self._owner = self._prepare_directory(create)
        self._remove_stale_tmp()
        self._open_index(full_sync)

    # --- directory ---------------------------------------------------------------------

    def _prepare_directory(self, create: bool) -> tuple[int, int]:
        top = self.directory
        try:
            st = os.stat(top)
        except FileNotFoundError:
            if not create:
                raise QuarantineError(f"quarantine directory {top} does not exist.") from None
            # Only the last component: parents made by makedirs would get the umask's
            # mode, not 0700 (Python >= 3.7), and a missing parent is a config mistake.
            try:
                if _mkdir_private(top):
                    _fsync_dir(top.parent)
                st = os.stat(top)
            except OSError as exc:
                raise QuarantineError(
                    f"cannot create quarantine directory {top}: {_reason(exc)}."
                ) from exc
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantine directory {top}: {_reason(exc)}."
            ) from exc
        self._check_mode(top, st, follow=True)
        owner = (st.st_uid, st.st_gid)
        if not os.access(top, os.R_OK | os.X_OK):
            raise QuarantineError(f"cannot read quarantine directory {top}: Permission denied.")
        for name in _SUBDIRS:
            path = top / name
            try:
                sub = os.lstat(path)
            except FileNotFoundError:
                try:
                    if _mkdir_private(path):
                        self._chown(path, owner)
                        # put() fsyncs msg/ and meta/, not their entries in the top
                        # directory: make those durable once, here.
                        _fsync_dir(top)
                    sub = os.lstat(path)
                except OSError as exc:
                    raise QuarantineError(
                        f"cannot create quarantine directory {path}: {_reason(exc)}."
                    ) from exc
            except OSError as exc:
                raise QuarantineError(
                    f"cannot read quarantine directory {path}: {_reason(exc)}."
                ) from exc
            self._check_mode(path, sub, follow=False)
        return owner

    @staticmethod
    def _check_mode(path: Path, st: os.stat_result, *, follow: bool) -> None:
        if not stat.S_ISDIR(st.st_mode):
            # A symlinked subdirectory could point writes anywhere; the top directory may
            # be a symlink an admin made (it was followed), its subdirectories may not.
            what = "not a directory" if follow else "not a directory (or a symlink)"
            raise QuarantineError(f"quarantine directory {path} is {what}.")
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise QuarantineError(
                f"quarantine directory {path} is writable by group or others "
                f"(mode {stat.S_IMODE(st.st_mode):04o}); make it 0700."
            )

    def _chown(self, path: Path | int, owner: tuple[int, int]) -> None:
        # When root runs the CLI on the service's directory, files it creates (the index,
        # a rewritten meta file) must stay the service user's, or the service can no
        # longer write them.
        if os.geteuid() != 0 or owner == (0, 0):
            return
        if isinstance(path, int):
            os.fchown(path, *owner)
        else:
            os.chown(path, *owner, follow_symlinks=False)

    def _remove_stale_tmp(self) -> None:
        tmp = self.directory / "tmp"
        cutoff = _time.time() - _STALE_TMP_SECONDS
        try:
            with os.scandir(tmp) as it:
                for item in it:
                    if _TMP_RE.fullmatch(item.name) is None:
                        continue  # not ours: leave it to the admin
                    with contextlib.suppress(OSError):
                        if item.stat(follow_symlinks=False).st_mtime < cutoff:
                            os.unlink(item.path)
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantine directory {tmp}: {_reason(exc)}."
            ) from exc

    @contextlib.contextmanager
    def _dir_fds(self) -> Iterator[dict[str, int]]:
        # Opened per call, not kept: close() could otherwise close a descriptor that a
        # put() in another thread is still using, and the number could be reused.
        fds: dict[str, int] = {}
        try:
            for name in _SUBDIRS:
                fds[name] = os.open(
                    self.directory / name, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
                )
            yield fds
        finally:
            for fd in fds.values():
                os.close(fd)

    # --- put -----------------------------------------------------------------------------

    def put(
        self,
        raw: bytes,
        envelope: Envelope,
        verdict: Verdict,
        subject: str,
        *,
        auth: dict[str, Any] | None = None,
        before_commit: Callable[[str], None] | None = None,
    ) -> QuarantineEntry:
        """Store ``raw`` durably with its envelope, verdict and ``auth`` results.

        ``auth`` is the sender authentication as JSON-able data (shown by ``show``).
        When this returns, the message and its metadata are on disk (fsync'd). Raises
        QuarantineError when they could not be written; nothing is left behind then.
        ``before_commit(id)`` runs between the durable message and its commit (meta) file.
        """
        self._check_open()
        now = datetime.now(UTC)
        entry_id = new_id(now)
        meta = _meta(entry_id, now, raw, envelope, verdict, subject, auth, self.user)
        entry = _entry_from_meta(meta)
        meta_bytes = _meta_bytes(meta)
        eml, js = f"{entry_id}.eml", f"{entry_id}.json"
        written: builtins.list[tuple[int, str]] = []  # (dir fd, name) to remove if anything fails
        try:
            with self._dir_fds() as fds:
                try:
                    self._write_new(fds["tmp"], eml, raw, written)
                    ino = self._write_new(fds["tmp"], js, meta_bytes, written)
                    # The message first, the meta file last: a meta file is only ever
                    # visible next to a durable message, so it marks a complete entry.
                    os.rename(eml, eml, src_dir_fd=fds["tmp"], dst_dir_fd=fds["msg"])
                    written[0] = (fds["msg"], eml)
                    os.fsync(fds["msg"])
                    if before_commit is not None:
                        before_commit(entry_id)
                    os.rename(js, js, src_dir_fd=fds["tmp"], dst_dir_fd=fds["meta"])
                    written[1] = (fds["meta"], js)
                    os.fsync(fds["meta"])
                except BaseException:
                    for fd, name in reversed(written):
                        with contextlib.suppress(OSError):
                            os.unlink(name, dir_fd=fd)
                    raise
        except OSError as exc:
            raise QuarantineError(
                f"cannot store message in quarantine {self.directory}: {_reason(exc)}."
            ) from exc
        self._index_put(entry, _events_from_meta(meta), ino)
        return entry

    def _write_new(
        self, dir_fd: int, name: str, data: bytes, written: builtins.list[tuple[int, str]]
    ) -> int:
        """Write a new private file durably; returns its inode number."""
        # O_EXCL: never write into a file someone else made (or a planted symlink).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
        written.append((dir_fd, name))
        try:
            self._chown(fd, self._owner)
            view = memoryview(data)
            while view:
                # os.write may write less than asked (signals, large buffers).
                count = os.write(fd, view)
                view = view[count:]
            os.fsync(fd)
            return os.fstat(fd).st_ino
        finally:
            os.close(fd)

    # --- get, show and list ------------------------------------------------------------------

    def get(self, entry_id: str) -> tuple[QuarantineEntry, bytes]:
        """The entry and the raw message, read from the files (the truth, not the index)."""
        record = self.record(entry_id)
        return record.entry, self.raw(entry_id, record)

    def record(self, entry_id: str) -> QuarantineRecord:
        """What the meta file says about ``entry_id``: envelope, verdict, auth, history.

        Works for deleted and expired entries too (their meta file is a tombstone).
        """
        entry_id = _checked_id(entry_id)
        self._check_open()
        try:
            with self._dir_fds() as fds:
                meta, _ = self._load_meta(fds["meta"], entry_id)
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantined message {entry_id}: {_reason(exc)}."
            ) from exc
        return _record_from_meta(meta)

    def raw(self, entry_id: str, record: QuarantineRecord | None = None) -> bytes:
        """The original message bytes, checked against the recorded checksum."""
        entry_id = _checked_id(entry_id)
        if record is None:
            record = self.record(entry_id)
        _require_message(record)
        try:
            with self._dir_fds() as fds:
                raw = _read_file(fds["msg"], f"{entry_id}.eml")
        except FileNotFoundError:
            # Deleted since the record was read: say so, from the new record.
            _require_message(self.record(entry_id))
            raise QuarantineError(
                f"the message file of quarantined message {entry_id} is missing."
            ) from None
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantined message {entry_id}: {_reason(exc)}."
            ) from exc
        _check_sha(entry_id, raw, record.sha256)
        return raw

    def list(
        self,
        *,
        limit: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        rule: str | None = None,
        sender: str | None = None,
        rcpt: str | None = None,
        action: str | None = None,
        status: Status | None = None,
    ) -> builtins.list[QuarantineEntry]:
        """Entries from the index, newest first.

        ``since``/``until`` keep entries received at or after / before those times.
        ``rule`` is a rule id (case-insensitive; a trailing ``*`` matches a prefix).
        ``sender`` and ``rcpt`` are an address (case-insensitive) or ``@domain``.
        ``action`` is the verdict's action (quarantine, reject); ``status`` the status.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        where, params = _filters(since, until, rule, sender, rcpt, action, status)
        sql = f"SELECT {_COLUMNS} FROM entries{where} ORDER BY time_us DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._query(sql, params)
        return [_entry_from_row(row) for row in rows]

    def stats(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> QuarantineStats:
        """Counts of entries received in the window: by action, status and rule."""
        where, params = _filters(since, until, None, None, None, None, None)
        # One pass over the time index for both counts: grouped by status alone, SQLite
        # would walk the status index over every entry instead.
        by_action: dict[str, int] = {}
        by_status: dict[str, int] = {}
        for action, status, count in self._query(
            f"SELECT action, status, count(*) FROM entries{where} GROUP BY action, status",
            params,
        ):
            by_action[action] = by_action.get(action, 0) + count
            by_status[status] = by_status.get(status, 0) + count
        # CROSS JOIN makes SQLite go from the entries in the window (time index) to
        # their rules, not from every rule row of the whole index to its entry.
        by_rule = self._query(
            "SELECT r.rule, count(*) AS n FROM entries CROSS JOIN entry_rules r"
            f" ON r.id = entries.id{where} GROUP BY r.rule ORDER BY n DESC, r.rule",
            params,
        )
        events = self._query(f"SELECT event, count(*) FROM events{where} GROUP BY event", params)
        return QuarantineStats(
            since=since,
            until=until,
            total=sum(by_action.values()),
            by_action=by_action,
            by_status=by_status,
            by_rule=tuple((r, n) for r, n in by_rule),
            events=dict(events),
        )

    def _query(self, sql: str, params: Sequence[object]) -> builtins.list[tuple[Any, ...]]:
        with self._lock:
            db = self._connection()
            if self._index_stale:
                self._try_sync_locked()
            try:
                try:
                    return db.execute(sql, params).fetchall()
                except sqlite3.Error as exc:
                    if not _is_corrupt(exc):
                        raise
                    # The files are the truth, so start the index over from them.
                    log.error("quarantine index %s is corrupt (%s); rebuilding", self._db_path, exc)
                    self._recreate_index_locked()
                    return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise QuarantineError(
                    f"cannot read quarantine index {self._db_path}: {exc}."
                ) from exc

    # --- state changes -------------------------------------------------------------------------

    @contextlib.contextmanager
    def claim(self, entry_id: str) -> Iterator[Claim]:
        """Lock ``entry_id`` for a state change, across processes, for the ``with`` block.

        Raises NoSuchEntry for an unknown id and EntryStateError when the message is gone
        (deleted, expired) or another process holds it (a release in flight). Inside, the
        claim's record is the truth as of the lock; ``Claim.commit`` changes the status.
        """
        entry_id = _checked_id(entry_id)
        self._check_open()
        with contextlib.ExitStack() as stack:
            try:
                fds = stack.enter_context(self._dir_fds())
                meta, _ = self._load_meta(fds["meta"], entry_id)
                _require_message(_record_from_meta(meta))
                try:
                    fd = _open_no_follow(fds["msg"], f"{entry_id}.eml")
                except FileNotFoundError:
                    # Deleted between the two reads, or a broken entry.
                    meta, _ = self._load_meta(fds["meta"], entry_id)
                    _require_message(_record_from_meta(meta))
                    raise QuarantineError(
                        f"the message file of quarantined message {entry_id} is missing."
                    ) from None
                stack.callback(os.close, fd)
                try:
                    # flock, not fcntl locks: it belongs to this open file, so two
                    # claims in one process exclude each other too.
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise EntryStateError(
                        f"quarantined message {entry_id} is being released or deleted "
                        "by another process; try again."
                    ) from None
                # Re-read under the lock: another process may have changed it since.
                meta, _ = self._load_meta(fds["meta"], entry_id)
                record = _record_from_meta(meta)
                _require_message(record)
            except OSError as exc:
                raise QuarantineError(
                    f"cannot read quarantined message {entry_id}: {_reason(exc)}."
                ) from exc
            yield Claim(self, entry_id, meta, record, fd, fds)

    def delete(self, entry_id: str, *, user: str | None = None) -> QuarantineEntry:
        """Remove the message file; its record stays (status deleted) with who and when."""
        with self.claim(entry_id) as claim:
            return claim.commit(Status.DELETED, user=user)

    def purge(
        self,
        older_than: timedelta,
        *,
        now: datetime | None = None,
        user: str | None = None,
    ) -> PurgeResult:
        """Retention: expire messages received before ``now - older_than``.

        Their message files are removed and their records kept as tombstones (status
        expired). Tombstones whose last change is older than the cutoff are forgotten,
        and stray message files a crash left behind are removed.
        """
        if older_than < timedelta(0):
            raise ValueError("older_than must not be negative")
        now = now or datetime.now(UTC)
        cutoff = _micros(now - older_than)
        self._resync()
        held = [
            row[0]
            for row in self._query(
                "SELECT id FROM entries WHERE time_us < ? AND status IN (?, ?) ORDER BY time_us",
                (cutoff, Status.HELD.value, Status.RELEASED.value),
            )
        ]
        expired: builtins.list[str] = []
        busy = 0
        for entry_id in held:
            try:
                with self.claim(entry_id) as claim:
                    detail = {"older_than": duration_text(older_than)}
                    claim.commit(Status.EXPIRED, user=user, detail=detail)
                    expired.append(entry_id)
            except NoSuchEntry:
                pass  # forgotten by another purge meanwhile
            except EntryStateError:
                busy += 1  # in use now (or changed meanwhile): the next purge looks again
            except QuarantineError as exc:
                # One unreadable entry must not stop the retention for all the others.
                log.error("quarantine purge skipped %s: %s", entry_id, exc)
        # Never what this run just expired: its record is kept for one more retention.
        forgotten = self._forget(cutoff, keep=set(expired))
        orphans = self._remove_orphans()
        if expired or forgotten or orphans:
            log.info(
                "quarantine purge: %d expired, %d forgotten, %d orphan files removed",
                len(expired),
                forgotten,
                orphans,
            )
        return PurgeResult(expired=len(expired), forgotten=forgotten, busy=busy, orphans=orphans)

    def _forget(self, cutoff: int, keep: set[str]) -> int:
        candidates = [
            row
            for row in self._query(
                "SELECT id FROM entries WHERE status IN (?, ?) AND status_us < ?",
                (Status.DELETED.value, Status.EXPIRED.value, cutoff),
            )
            if row[0] not in keep
        ]
        if not candidates:
            return 0
        forgotten = 0
        with self._lock, self._dir_fds() as fds:
            db = self._connection()
            # In the write transaction: a resync in another process cannot re-add what
            # is being forgotten, and no state change renames a meta file meanwhile.
            with _transaction(db):
                for (entry_id,) in candidates:
                    try:
                        meta, _ = self._load_meta(fds["meta"], entry_id)
                    except NoSuchEntry:
                        meta = None
                    except (OSError, QuarantineError) as exc:
                        log.error("quarantine entry %s not forgotten: %s", entry_id, exc)
                        continue
                    if meta is not None:
                        record = _record_from_meta(meta)
                        last = record.events[-1].time if record.events else record.entry.time
                        if record.entry.status.has_message or _micros(last) >= cutoff:
                            continue
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(f"{entry_id}.json", dir_fd=fds["meta"])
                    for table in _TABLES:
                        db.execute(f"DELETE FROM {table} WHERE id = ?", (entry_id,))
                    forgotten += 1
                os.fsync(fds["meta"])
        return forgotten

    def _remove_orphans(self) -> int:
        """Message files with no live entry: a crash between writing the message and its
        meta file (put), or between the tombstone and the unlink (delete, expiry)."""
        removed = 0
        cutoff = _time.time() - _STALE_TMP_SECONDS
        # The index says which entries have a message, so only the odd ones are read.
        statuses = dict(self._query("SELECT id, status FROM entries", ()))
        with self._dir_fds() as fds:
            with os.scandir(fds["msg"]) as it:
                names = [(e.name, e) for e in it if e.name.endswith(".eml")]
            live = self._meta_inodes()
            for name, item in names:
                entry_id = name[:-4]
                status = statuses.get(entry_id)
                if status in (Status.HELD.value, Status.RELEASED.value):
                    continue
                if not is_valid_id(entry_id):
                    continue
                if entry_id in live:
                    # A tombstone by the index, or not indexed yet: the file decides.
                    try:
                        meta, _ = self._load_meta(fds["meta"], entry_id)
                    except (OSError, QuarantineError):
                        continue
                    if _record_from_meta(meta).entry.status.has_message:
                        continue
                else:
                    try:
                        # A young one may be a put() in flight whose meta file is next.
                        if item.stat(follow_symlinks=False).st_mtime >= cutoff:
                            continue
                    except OSError:
                        continue
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=fds["msg"])
                    removed += 1
            if removed:
                os.fsync(fds["msg"])
        return removed

    def _commit(
        self,
        entry_id: str,
        meta: dict[str, Any],
        status: Status,
        user: str | None,
        detail: dict[str, Any] | None,
        fds: dict[str, int],
    ) -> dict[str, Any]:
        """Write the meta file with the new status and event; update the index with it.

        The caller holds the entry's lock. Returns the new meta.
        """
        old = _record_from_meta(meta).entry.status
        if status not in TRANSITIONS[old]:
            raise EntryStateError(
                f"quarantined message {entry_id} is {old.value}; it cannot become {status.value}."
            )
        now = datetime.now(UTC)
        event: dict[str, Any] = {
            "time": now.isoformat(),
            "event": status.value,
            "user": user or self.user,
        }
        event.update(detail or {})
        new = dict(meta)
        new["events"] = [*_raw_events(meta), event]
        new["status"] = status.value
        if status is Status.RELEASED:
            new["released"] = now.isoformat()
        js = f"{entry_id}.json"
        written: builtins.list[tuple[int, str]] = []
        try:
            # A leftover from a crash in the middle of an earlier change (we hold the
            # lock, so nobody is writing it now).
            with contextlib.suppress(FileNotFoundError):
                os.unlink(js, dir_fd=fds["tmp"])
            ino = self._write_new(fds["tmp"], js, _meta_bytes(new), written)
            # The marker: until the index has this change, whoever opens the store
            # re-reads this entry. Durable before the rename (and the new meta file
            # with it), so even a power cut cannot lose the one without the other.
            marker = os.open(
                entry_id + _MARKER,
                os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=fds["tmp"],
            )
            written.append((fds["tmp"], entry_id + _MARKER))
            try:
                self._chown(marker, self._owner)
            finally:
                os.close(marker)
            os.fsync(fds["tmp"])
        except OSError as exc:
            for fd, name in written:
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=fd)
            raise QuarantineError(
                f"cannot update quarantined message {entry_id}: {_reason(exc)}."
            ) from exc
        entry = _entry_from_meta(new)
        with self._lock:
            db = self._connection()
            began = False
            try:
                db.execute("BEGIN IMMEDIATE")
                began = True
            except sqlite3.Error as exc:
                # The meta file is the truth: change it anyway; the marker brings the
                # index along at the next open (here or in any other process).
                self._index_stale = True
                log.error("quarantine index busy for %s (%s); resync later", entry_id, exc)
            try:
                os.rename(js, js, src_dir_fd=fds["tmp"], dst_dir_fd=fds["meta"])
                os.fsync(fds["meta"])
            except OSError as exc:
                if began:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                for fd, name in written:
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=fd)
                raise QuarantineError(
                    f"cannot update quarantined message {entry_id}: {_reason(exc)}."
                ) from exc
            if began:
                try:
                    _index_replace(db, entry, _events_from_meta(new), ino)
                    db.execute("COMMIT")
                except sqlite3.Error as exc:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    self._index_stale = True
                    log.error("quarantine index update failed for %s: %s", entry_id, exc)
                else:
                    # No fsync: should the removal be lost, the entry is re-read once.
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry_id + _MARKER, dir_fd=fds["tmp"])
        if not status.has_message:
            # After the tombstone: a crash in between leaves a stray file that purge
            # removes, never a live entry without its message.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{entry_id}.eml", dir_fd=fds["msg"])
            with contextlib.suppress(OSError):
                os.fsync(fds["msg"])
        return new

    # --- index -------------------------------------------------------------------------------

    @property
    def _db_path(self) -> Path:
        return self.directory / _DB_NAME

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise QuarantineError(f"quarantine store {self.directory} is closed.")
        return self._db

    def _check_open(self) -> None:
        if self._db is None:
            raise QuarantineError(f"quarantine store {self.directory} is closed.")

    def _open_index(self, full_sync: bool) -> None:
        with self._lock:
            try:
                try:
                    created = self._connect_locked()
                    if created:
                        self._rebuild_locked()
                    else:
                        self._sync_locked(full=full_sync)
                except sqlite3.Error as exc:
                    if not _is_corrupt(exc):
                        raise
                    log.error("quarantine index %s is corrupt (%s); rebuilding", self._db_path, exc)
                    self._recreate_index_locked()
            except sqlite3.Error as exc:
                self._close_locked()
                raise QuarantineError(
                    f"cannot open quarantine index {self._db_path}: {exc}."
                ) from exc
            except BaseException:
                self._close_locked()
                raise

    def _connect_locked(self) -> bool:
        """Connect and check the schema; True when the index was just created."""
        self._close_locked()
        path = self._db_path
        try:
            # Made here, 0600, so SQLite never creates it with the umask's mode; its
            # -wal and -shm files take the database file's mode and owner.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                self._chown(fd, self._owner)
            finally:
                os.close(fd)
        except OSError as exc:
            raise QuarantineError(f"cannot open quarantine index {path}: {_reason(exc)}.") from exc
        # Autocommit (isolation_level=None) with explicit BEGIN IMMEDIATE: a writer waits
        # for the lock (timeout) instead of failing mid-transaction. One connection shared
        # by the threads, serialised by self._lock.
        db = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        try:
            _set_wal(db)
            # FULL: a committed insert survives a power cut, like the files it indexes.
            db.execute("PRAGMA synchronous=FULL")
            # Looked at and created inside one write transaction: two instances starting
            # on a new directory must not both create the schema (the loser would see
            # "table exists" and take the index for a corrupt one).
            with _transaction(db):
                tables = {
                    row[0]
                    for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
                if not tables:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                    created = True
                else:
                    created = False
                    version = None
                    if "schema_version" in tables:
                        version = db.execute("SELECT max(version) FROM schema_version").fetchone()[
                            0
                        ]
                    if isinstance(version, int) and version > SCHEMA_VERSION:
                        # A newer scam-milter owns this index; rebuilding would downgrade it.
                        raise QuarantineError(
                            f"quarantine index {path} has schema version {version}, newer "
                            f"than this scam-milter supports ({SCHEMA_VERSION})."
                        )
                    if version != SCHEMA_VERSION:
                        # Older or foreign: the index is derived data, so build it anew.
                        raise sqlite3.DatabaseError(f"unknown index schema version {version!r}")
        except BaseException:
            db.close()
            raise
        self._db = db
        return created

    def _recreate_index_locked(self) -> None:
        """Move a corrupt index aside and build a new one from the meta files."""
        self._close_locked()
        for suffix in ("", "-wal", "-shm"):
            source = self.directory / (_DB_NAME + suffix)
            with contextlib.suppress(FileNotFoundError):
                # Kept, not deleted, for a post-mortem; the next corruption replaces it.
                os.replace(source, self.directory / (_DB_NAME + ".corrupt" + suffix))
        self._connect_locked()
        self._rebuild_locked()

    def _close_locked(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def rebuild_index(self) -> int:
        """Rebuild the whole index from the meta files; return the number of entries."""
        with self._lock:
            self._connection()
            try:
                return self._rebuild_locked()
            except sqlite3.Error as exc:
                raise QuarantineError(
                    f"cannot rebuild quarantine index {self._db_path}: {exc}."
                ) from exc

    def _rebuild_locked(self) -> int:
        db = self._connection()
        with _transaction(db):
            # Read inside the write transaction, as in _sync_locked: no state change can
            # rename a meta file between our read and our write.
            metas = self._read_metas(i for i in self._meta_inodes() if is_valid_id(i))
            for table in _TABLES:
                db.execute(f"DELETE FROM {table}")
            for meta, ino in metas:
                _index_replace(db, _entry_from_meta(meta), _events_from_meta(meta), ino)
            self._remove_markers(self._markers())
        self._index_stale = False
        log.info("quarantine index %s rebuilt: %d entries", self._db_path, len(metas))
        return len(metas)

    def _resync(self) -> None:
        with self._lock:
            self._connection()
            try:
                self._sync_locked()
            except sqlite3.Error as exc:
                raise QuarantineError(
                    f"cannot update quarantine index {self._db_path}: {exc}."
                ) from exc

    def _sync_locked(self, *, full: bool = True) -> None:
        """Make the index match the meta files: the same ids, each from its current file.

        Full: one directory listing and one query, no per-file stat. It adds entries whose
        insert was lost (a crash after the files were durable), re-reads entries whose
        meta file was replaced without the index following (its inode number differs),
        and drops entries whose files an admin removed by hand.

        Not full: only the entries with a marker, unless the number of meta files and of
        rows differ (a put whose insert was lost), which makes it full after all.
        """
        db = self._connection()
        markers = self._markers()
        if not full:
            rows = db.execute("SELECT count(*) FROM entries").fetchone()[0]
            full = rows != self._meta_count()
        if full:
            changed, gone = self._differences(db)
            if not changed and not gone and not markers:
                self._index_stale = False
                return
        elif not markers:
            return
        with _transaction(db):
            # Again inside the write transaction, which state changes also take to rename
            # a meta file: what is read here cannot be replaced before it is written.
            markers = self._markers()
            if full:
                changed, gone = self._differences(db)
            else:
                changed, gone = {}, set()
            fixed = self._unclaimed(markers)
            metas = self._read_metas(changed.keys() | fixed)
            found = {meta["id"] for meta, _ in metas}
            gone |= fixed - found  # a marker for an entry forgotten meanwhile
            for entry_id in gone:
                for table in _TABLES:
                    db.execute(f"DELETE FROM {table} WHERE id = ?", (entry_id,))
            for meta, ino in metas:
                _index_replace(db, _entry_from_meta(meta), _events_from_meta(meta), ino)
            self._remove_markers(fixed)
        if metas or gone:
            log.info(
                "quarantine index %s resynced: %d updated, %d removed",
                self._db_path,
                len(metas),
                len(gone),
            )
        if full:
            self._index_stale = False

    def _markers(self) -> set[str]:
        tmp = self.directory / "tmp"
        try:
            names = os.listdir(tmp)
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantine directory {tmp}: {_reason(exc)}."
            ) from exc
        return {
            n[: -len(_MARKER)]
            for n in names
            if n.endswith(_MARKER) and is_valid_id(n[: -len(_MARKER)])
        }

    def _unclaimed(self, ids: Iterable[str]) -> set[str]:
        """The ids among ``ids`` that no process has claimed: a claimed one's marker
        belongs to a change in flight, which updates the index itself."""
        free = set()
        with self._dir_fds() as fds:
            for entry_id in ids:
                try:
                    fd = _open_no_follow(fds["msg"], f"{entry_id}.eml")
                except FileNotFoundError:
                    free.add(entry_id)  # deleted or expired: nobody can claim it
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    free.add(entry_id)
                except BlockingIOError:
                    pass
                finally:
                    os.close(fd)
        return free

    def _remove_markers(self, ids: Iterable[str]) -> None:
        tmp = self.directory / "tmp"
        for entry_id in ids:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp / f"{entry_id}{_MARKER}")

    def _meta_count(self) -> int:
        meta = self.directory / "meta"
        try:
            # listdir, not scandir: only names, and no Python object per entry beyond them.
            return sum(1 for n in os.listdir(meta) if n.endswith(".json"))
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantine directory {meta}: {_reason(exc)}."
            ) from exc

    def _try_sync_locked(self) -> None:
        try:
            self._sync_locked()
        except sqlite3.Error as exc:
            log.error("quarantine index %s resync failed: %s", self._db_path, exc)

    def _differences(self, db: sqlite3.Connection) -> tuple[dict[str, int], set[str]]:
        """(id -> inode of meta files the index lacks or has from another file, ids gone)."""
        on_disk = self._meta_inodes()
        indexed = dict(db.execute("SELECT id, meta_ino FROM entries").fetchall())
        # Ids checked only where they differ: a regex per file is most of the cost.
        changed = {i: n for i, n in on_disk.items() if indexed.get(i) != n and is_valid_id(i)}
        gone = indexed.keys() - on_disk.keys()
        return changed, gone

    def _meta_inodes(self) -> dict[str, int]:
        meta = self.directory / "meta"
        try:
            with os.scandir(meta) as it:
                # Stem -> inode of every *.json; stems that are not ids (an editor's
                # backup, a stray file) are for the caller to skip. DirEntry.inode()
                # comes from readdir itself: no stat per file.
                return {e.name[:-5]: e.inode() for e in it if e.name.endswith(".json")}
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantine directory {meta}: {_reason(exc)}."
            ) from exc

    def _load_meta(self, meta_fd: int, entry_id: str) -> tuple[dict[str, Any], int]:
        try:
            data, ino = _read_file_ino(meta_fd, f"{entry_id}.json")
        except FileNotFoundError:
            raise NoSuchEntry(f"no quarantined message has id {entry_id}.") from None
        return _parse_meta(data, entry_id), ino

    def _read_metas(self, ids: Iterable[str]) -> builtins.list[tuple[dict[str, Any], int]]:
        metas = []
        with self._dir_fds() as fds:
            for entry_id in sorted(ids):
                try:
                    metas.append(self._load_meta(fds["meta"], entry_id))
                except NoSuchEntry:
                    pass  # forgotten since the listing
                except (OSError, QuarantineError) as exc:
                    # One unreadable file must not hide every other held message.
                    log.error("quarantine entry %s skipped in the index: %s", entry_id, exc)
        return metas

    def _index_put(
        self, entry: QuarantineEntry, events: Sequence[QuarantineEvent], ino: int
    ) -> None:
        with self._lock:
            db = self._db
            if db is None:
                # Closed while this put was writing: the files are durable, the next
                # open resyncs the index from them.
                return
            try:
                if self._index_stale:
                    self._sync_locked()  # includes this entry: its meta file is in place
                else:
                    with _transaction(db):
                        # Only if absent: another process's resync may already have
                        # indexed it, and an admin may even have deleted it since.
                        inserted = db.execute(
                            f"INSERT INTO entries ({_INDEX_COLUMNS}) VALUES "
                            f"({', '.join('?' * 18)}) ON CONFLICT (id) DO NOTHING",
                            _row(entry, ino),
                        ).rowcount
                        if inserted:
                            _index_details(db, entry, events)
            except sqlite3.Error as exc:
                # The message is durable on disk, which is what the 250 promises; the
                # index is only a cache of the meta files. Log and resync later rather
                # than make the client send it again (and store it twice).
                self._index_stale = True
                log.error(
                    "quarantine index insert failed for %s (the message is stored; the "
                    "index will be resynced): %s",
                    entry.id,
                    exc,
                )

    def close(self) -> None:
        """Close the index; the store cannot be used afterwards. Safe to call twice."""
        with self._lock:
            self._close_locked()

    def __enter__(self) -> QuarantineStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Claim:
    """A locked entry (``QuarantineStore.claim``): read it, then change its status once."""

    def __init__(
        self,
        store: QuarantineStore,
        entry_id: str,
        meta: dict[str, Any],
        record: QuarantineRecord,
        fd: int,
        fds: dict[str, int],
    ) -> None:
        self._store = store
        self.id = entry_id
        self._meta = meta
        self.record = record
        self._fd = fd  # the locked message file
        self._fds = fds

    def raw(self) -> bytes:
        """The original message, read from the locked file and checked."""
        chunks = []
        offset = 0
        try:
            if not stat.S_ISREG(os.fstat(self._fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            while chunk := os.pread(self._fd, 1 << 20, offset):
                chunks.append(chunk)
                offset += len(chunk)
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantined message {self.id}: {_reason(exc)}."
            ) from exc
        raw = b"".join(chunks)
        _check_sha(self.id, raw, self.record.sha256)
        return raw

    def commit(
        self, status: Status, *, user: str | None = None, detail: dict[str, Any] | None = None
    ) -> QuarantineEntry:
        """Change the status (recording who and ``detail``); the record follows."""
        self._meta = self._store._commit(self.id, self._meta, status, user, detail, self._fds)
        self.record = _record_from_meta(self._meta)
        return self.record.entry


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# SQLite primary result codes (sqlite3.h) that mean the index itself is damaged or not
# ours, so rebuilding it from the files is the cure. Busy, locked, I/O, full, read-only
# and permission errors are not: rebuilding would not help and could lose nothing but time.
_SQLITE_ERROR = 1
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def _is_corrupt(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        # Raised by this module (unknown schema version) or without a code: treat as damage.
        return not isinstance(exc, sqlite3.OperationalError)
    return code & 0xFF in (_SQLITE_ERROR, _SQLITE_CORRUPT, _SQLITE_NOTADB)


def _filters(
    since: datetime | None,
    until: datetime | None,
    rule: str | None,
    sender: str | None,
    rcpt: str | None,
    action: str | None,
    status: Status | None,
) -> tuple[str, builtins.list[object]]:
    """A WHERE clause (with its parameters) for the index's entries table."""
    clauses: builtins.list[str] = []
    params: builtins.list[object] = []
    for moment, clause in ((since, "time_us >= ?"), (until, "time_us < ?")):
        if moment is not None:
            if moment.tzinfo is None:
                raise ValueError("since and until must be aware datetimes")
            clauses.append(clause)
            params.append(_micros(moment))
    if rule:
        if rule.endswith("*"):
            # A prefix as a range, so the (NOCASE) index on rule serves it: LIKE would
            # need its own escaping of '_', which every rule id contains.
            prefix = rule[:-1]
            clauses.append("id IN (SELECT id FROM entry_rules WHERE rule >= ? AND rule < ?)")
            params += [prefix, prefix + "\U0010ffff"]
        else:
            clauses.append("id IN (SELECT id FROM entry_rules WHERE rule = ?)")
            params.append(rule)
    if sender is not None:
        key, _ = address_key("" if sender == "<>" else sender)  # <>: the null sender
        if key.startswith("@"):
            clauses.append("sender_domain = ?")
            params.append(key[1:])
        else:
            clauses.append("sender_lc = ?")
            params.append(key)
    if rcpt is not None:
        key, _ = address_key(rcpt)
        if key.startswith("@"):
            clauses.append("id IN (SELECT id FROM entry_rcpts WHERE domain = ?)")
            params.append(key[1:])
        else:
            clauses.append("id IN (SELECT id FROM entry_rcpts WHERE addr = ?)")
            params.append(key)
    if action is not None:
        clauses.append("action = ?")
        params.append(action)
    if status is not None:
        clauses.append("status = ?")
        params.append(status.value)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    return where, params


def _index_replace(
    db: sqlite3.Connection, entry: QuarantineEntry, events: Sequence[QuarantineEvent], ino: int
) -> None:
    """Index ``entry`` as its meta file (inode ``ino``) says, replacing what was there."""
    db.execute(
        f"INSERT OR REPLACE INTO entries ({_INDEX_COLUMNS}) VALUES ({', '.join('?' * 18)})",
        _row(entry, ino),
    )
    for table in ("entry_rules", "entry_rcpts", "events"):
        db.execute(f"DELETE FROM {table} WHERE id = ?", (entry.id,))
    _index_details(db, entry, events)


def _index_details(
    db: sqlite3.Connection, entry: QuarantineEntry, events: Sequence[QuarantineEvent]
) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO entry_rules (id, rule) VALUES (?, ?)",
        [(entry.id, r["id"]) for r in entry.rules],
    )
    db.executemany(
        "INSERT OR IGNORE INTO entry_rcpts (id, addr, domain) VALUES (?, ?, ?)",
        [(entry.id, *address_key(r)) for r in entry.recipients],
    )
    db.executemany(
        "INSERT INTO events (id, seq, time_us, event, user, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                entry.id,
                seq,
                _micros(e.time),
                e.status.value,
                _display(e.user),
                json.dumps(e.detail, ensure_ascii=True, default=str),
            )
            for seq, e in enumerate(events)
        ],
    )


def _mkdir_private(path: Path) -> bool:
    """Make ``path`` with mode 0700; False when it already exists (checked by the caller)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        # Another instance starting on the same directory made it first.
        return False
    os.chmod(path, 0o700)  # the umask may have removed bits we need
    return True


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_file(dir_fd: int, name: str) -> bytes:
    return _read_file_ino(dir_fd, name)[0]


def _open_no_follow(dir_fd: int, name: str) -> int:
    """``name`` in ``dir_fd``, opened for reading; a symlink planted in the store is
    refused (ELOOP), never followed to some other file."""
    return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def _read_file_ino(dir_fd: int, name: str) -> tuple[bytes, int]:
    # And a regular-file check: a fifo planted in the store must not make us read (and
    # show, or release) anything but a message.
    fd = _open_no_follow(dir_fd, name)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), st.st_ino
    finally:
        os.close(fd)


def _check_sha(entry_id: str, raw: bytes, sha256: str) -> None:
    if hashlib.sha256(raw).hexdigest() != sha256:
        # Never show or release a truncated or altered message as if it were intact.
        raise QuarantineError(
            f"quarantined message {entry_id} does not match its recorded checksum."
        )


def _require_message(record: QuarantineRecord) -> None:
    entry = record.entry
    if entry.status.has_message:
        return
    last = record.events[-1] if record.events else None
    when = f" at {_short_time(last.time)} by {last.user}" if last else ""
    raise EntryStateError(
        f"quarantined message {entry.id} was {entry.status.value}{when}; its content is gone."
    )


def _short_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta_bytes(meta: dict[str, Any]) -> bytes:
    # ensure_ascii keeps lone surrogates (from undecodable headers) as escapes, so nothing
    # is lost; default=str: auth results that are not JSON must never fail a put (4xx).
    return json.dumps(meta, ensure_ascii=True, indent=1, default=str).encode("ascii") + b"\n"


def _meta(
    entry_id: str,
    now: datetime,
    raw: bytes,
    envelope: Envelope,
    verdict: Verdict,
    subject: str,
    auth: dict[str, Any] | None,
    user: str,
) -> dict[str, Any]:
    """The meta file: everything needed to review and release the message, exactly."""
    client = envelope.client
    return {
        "format": META_FORMAT,
        "id": entry_id,
        "time": now.isoformat(),
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "subject": subject,
        # Exact, with ESMTP parameters in their original case: release re-sends with them.
        "envelope": {
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_to),
            "mail_params": [list(p) for p in envelope.mail_params],
            "rcpt_params": [[list(p) for p in params] for params in envelope.rcpt_params],
        },
        "client": {
            "name": client.name,
            "addr": client.addr,
            "port": client.port,
            "proto": client.proto,
            "helo": client.helo,
            "ident": client.ident,
            "source": client.source,
        },
        "verdict": {
            "action": verdict.action.value,
            "score": verdict.score,
            # Every reported rule with the original text that matched: what an admin
            # decides on, and what `show` prints.
            "rules": [
                {"id": h.id, "score": h.score, "evidence": list(h.evidence), "tags": list(h.tags)}
                for h in verdict.rules
            ],
            "notes": list(verdict.notes),
        },
        "auth": auth,
        "status": Status.HELD.value,
        "events": [{"time": now.isoformat(), "event": Status.HELD.value, "user": user}],
        "released": None,
    }


def _parse_meta(data: bytes, entry_id: str) -> dict[str, Any]:
    try:
        meta = json.loads(data)
        if not isinstance(meta, dict) or meta.get("id") != entry_id:
            raise ValueError("id does not match the file name")
        if meta.get("format") != META_FORMAT:
            raise ValueError(f"unknown format {meta.get('format')!r}")
        _record_from_meta(meta)  # every field present and of the right type
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise QuarantineError(
            f"metadata of quarantined message {entry_id} is unreadable: {exc}."
        ) from exc
    return meta


def _opt(value: object) -> str | None:
    return None if value is None else _display(str(value))


def _raw_events(meta: dict[str, Any]) -> builtins.list[dict[str, Any]]:
    events = meta.get("events")
    if events is not None:
        return builtins.list(events)
    # Written before statuses existed: it was held then, and maybe released.
    synthesized = [{"time": meta["time"], "event": Status.HELD.value, "user": "unknown"}]
    if meta.get("released"):
        synthesized.append(
            {"time": meta["released"], "event": Status.RELEASED.value, "user": "unknown"}
        )
    return synthesized


def _events_from_meta(meta: dict[str, Any]) -> tuple[QuarantineEvent, ...]:
    events = []
    for item in _raw_events(meta):
        detail = {k: v for k, v in item.items() if k not in ("time", "event", "user")}
        events.append(
            QuarantineEvent(
                status=Status(item["event"]),
                time=datetime.fromisoformat(item["time"]).astimezone(UTC),
                user=str(item["user"]),
                detail=detail,
            )
        )
    return tuple(events)


def _entry_from_meta(meta: dict[str, Any]) -> QuarantineEntry:
    envelope = meta["envelope"]
    client = meta["client"]
    verdict = meta["verdict"]
    time = datetime.fromisoformat(meta["time"]).astimezone(UTC)
    released = meta.get("released")
    events = _raw_events(meta)
    status = Status(meta.get("status") or events[-1]["event"])
    return QuarantineEntry(
        id=meta["id"],
        time=time,
        mail_from=_display(envelope["mail_from"] or ""),
        recipients=tuple(_display(r) for r in envelope["rcpt_to"]),
        client_addr=_opt(client.get("addr")),
        client_helo=_opt(client.get("helo")),
        client_name=_opt(client.get("name")),
        subject=_display(meta["subject"]),
        score=float(verdict["score"]),
        action=str(verdict["action"]),
        rules=tuple(
            {
                "id": _display(r["id"]),
                "score": float(r["score"]),
                "evidence": [_display(e) for e in r["evidence"]],
            }
            for r in verdict["rules"]
        ),
        size=int(meta["size"]),
        released=None if released is None else datetime.fromisoformat(released).astimezone(UTC),
        status=status,
        status_time=datetime.fromisoformat(events[-1]["time"]).astimezone(UTC),
    )


def _params(items: Iterable[Sequence[Any]]) -> tuple[tuple[str, str | None], ...]:
    return tuple((str(k), None if v is None else str(v)) for k, v in items)


def _record_from_meta(meta: dict[str, Any]) -> QuarantineRecord:
    env = meta["envelope"]
    client = meta["client"]
    port = client.get("port")
    envelope = Envelope(
        mail_from=env["mail_from"],
        rcpt_to=tuple(str(r) for r in env["rcpt_to"]),
        mail_params=_params(env.get("mail_params", ())),
        rcpt_params=tuple(_params(p) for p in env.get("rcpt_params", ())),
        client=ClientInfo(
            name=client.get("name"),
            addr=client.get("addr"),
            port=None if port is None else int(port),
            proto=client.get("proto"),
            helo=client.get("helo"),
            ident=client.get("ident"),
            source=client.get("source"),
        ),
    )
    auth = meta.get("auth")
    return QuarantineRecord(
        entry=_entry_from_meta(meta),
        envelope=envelope,
        sha256=str(meta["sha256"]),
        notes=tuple(str(n) for n in meta["verdict"].get("notes", ())),
        auth=auth if isinstance(auth, dict) else None,
        events=_events_from_meta(meta),
    )


def _row(entry: QuarantineEntry, ino: int) -> tuple[object, ...]:
    sender_lc, sender_domain = address_key(entry.mail_from)
    return (
        entry.id,
        _micros(entry.time),
        entry.mail_from,
        json.dumps(list(entry.recipients)),
        entry.client_addr,
        entry.client_helo,
        entry.client_name,
        entry.subject,
        entry.score,
        entry.action,
        json.dumps(list(entry.rules)),
        entry.size,
        None if entry.released is None else _micros(entry.released),
        entry.status.value,
        _micros(entry.status_time or entry.time),
        sender_lc,
        sender_domain,
        ino,
    )


def _entry_from_row(row: tuple[Any, ...]) -> QuarantineEntry:
    (id_, time_us, mail_from, recipients, addr, helo, name) = row[:7]
    (subject, score, action, rules, size, released_us, status, status_us) = row[7:]
    return QuarantineEntry(
        id=id_,
        time=_from_micros(time_us),
        mail_from=mail_from,
        recipients=tuple(json.loads(recipients)),
        client_addr=addr,
        client_helo=helo,
        client_name=name,
        subject=subject,
        score=score,
        action=action,
        rules=tuple(json.loads(rules)),
        size=size,
        released=None if released_us is None else _from_micros(released_us),
        status=Status(status),
        status_time=_from_micros(status_us),
    )

"""The quarantine store: held messages on local disk, byte for byte, with an SQLite index.

Layout under the quarantine directory (every name is a constant or a validated id, never
message data)::

    tmp/<id>.eml, tmp/<id>.json   files being written; renamed away or removed
    msg/<id>.eml                  the raw message, exactly as received
    meta/<id>.json                envelope, client, verdict, subject, size, sha256
    index.sqlite3                 the index for list/search; derived, rebuildable

The files are the truth and the index is a cache. A ``meta/<id>.json`` is written last and
is the commit record: it only exists once ``msg/<id>.eml`` is durable, so a message is
stored exactly when its meta file is. The index can always be rebuilt from the meta files
(``rebuild_index``), and is resynchronised with them at start, so an entry whose index
insert never happened (a crash, a locked database) still shows up.

Durability of ``put`` (the proxy answers 250 only after it returns): each file is created
with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 in ``tmp/``, written, fsync'd, renamed into
``msg/`` or ``meta/``, and that directory fsync'd. Any OSError on that path removes what
was written and raises QuarantineError, so the proxy answers 4xx and the client retries.
A failing index insert after that point does not fail ``put``: the message is durable,
the error is logged and the index is resynchronised at the next call.

The store is synchronous and thread-safe: the server calls ``put`` from worker threads.
File writes run in parallel; only the one SQLite connection is behind a lock.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import sqlite3
import stat
import threading
import time as _time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from milter.envelope import Envelope
from milter.errors import QuarantineError
from milter.verdict import Verdict

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
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

META_FORMAT = 1
SCHEMA_VERSION = 1

_DB_NAME = "index.sqlite3"
_SUBDIRS = ("tmp", "msg", "meta")
# A file left in tmp/ by a crash is removed at start once it is this old; younger ones
# may belong to another instance writing the same directory right now.
_STALE_TMP_SECONDS = 3600

_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE entries (
    id TEXT PRIMARY KEY,
    time_us INTEGER NOT NULL,
    mail_from TEXT NOT NULL,
    recipients TEXT NOT NULL,
    client_addr TEXT,
    client_helo TEXT,
    client_name TEXT,
    subject TEXT NOT NULL,
    score REAL NOT NULL,
    action TEXT NOT NULL,
    rules TEXT NOT NULL,
    size INTEGER NOT NULL,
    released_us INTEGER
);
CREATE INDEX entries_time ON entries (time_us);
"""

_COLUMNS = (
    "id, time_us, mail_from, recipients, client_addr, client_helo, client_name, "
    "subject, score, action, rules, size, released_us"
)


@dataclass(frozen=True)
class QuarantineEntry:
    """One held message as listed: who sent it to whom, and why it was held.

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
    released: datetime | None = None


def is_valid_id(entry_id: object) -> bool:
    """True when ``entry_id`` has the shape of a quarantine id (and so names no path)."""
    return isinstance(entry_id, str) and _ID_RE.fullmatch(entry_id) is not None


def new_id(now: datetime) -> str:
    """A fresh id for a message quarantined at ``now``: time prefix, random suffix."""
    millis = int(now.timestamp() * 1000)
    return _base36(millis, _TIME_DIGITS) + _base36(
        secrets.randbelow(36**_RANDOM_DIGITS), _RANDOM_DIGITS
    )


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


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, UTC)


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


class QuarantineStore:
    """Held messages in one directory: files written durably, listed through an index."""

    # Inside this class ``list`` is the method below, so annotations say builtins.list.

    def __init__(self, directory: Path, *, create: bool = True) -> None:
        """Open (and with ``create``, make) the store in ``directory``.

        Raises QuarantineError when the directory is missing (and not to be created),
        cannot be read, or is writable by group or others: anyone who can write there can
        plant or swap held messages.
        """
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        # Set when the index may miss entries or hold stale ones; the next call resyncs.
        self._index_stale = False
        self._owner = self._prepare_directory(create)
        self._remove_stale_tmp()
        self._open_index()

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
        # When root runs the CLI on the service's directory, files it creates (the index)
        # must stay the service user's, or the service can no longer write them.
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
        self, raw: bytes, envelope: Envelope, verdict: Verdict, subject: str
    ) -> QuarantineEntry:
        """Store ``raw`` durably with its envelope and verdict; return the new entry.

        When this returns, the message and its metadata are on disk (fsync'd). Raises
        QuarantineError when they could not be written; nothing is left behind then.
        """
        self._check_open()
        now = datetime.now(UTC)
        entry_id = new_id(now)
        meta = _meta(entry_id, now, raw, envelope, verdict, subject)
        entry = _entry_from_meta(meta)
        meta_bytes = json.dumps(meta, ensure_ascii=True, indent=1).encode("ascii") + b"\n"
        eml, js = f"{entry_id}.eml", f"{entry_id}.json"
        written: builtins.list[tuple[int, str]] = []  # (dir fd, name) to remove if anything fails
        try:
            with self._dir_fds() as fds:
                try:
                    self._write_new(fds["tmp"], eml, raw, written)
                    self._write_new(fds["tmp"], js, meta_bytes, written)
                    # The message first, the meta file last: a meta file is only ever
                    # visible next to a durable message, so it marks a complete entry.
                    os.rename(eml, eml, src_dir_fd=fds["tmp"], dst_dir_fd=fds["msg"])
                    written[0] = (fds["msg"], eml)
                    os.fsync(fds["msg"])
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
        self._index_put(entry)
        return entry

    def _write_new(
        self, dir_fd: int, name: str, data: bytes, written: builtins.list[tuple[int, str]]
    ) -> None:
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
        finally:
            os.close(fd)

    # --- get and list ----------------------------------------------------------------------

    def get(self, entry_id: str) -> tuple[QuarantineEntry, bytes]:
        """The entry and the raw message, read from the files (the truth, not the index)."""
        entry_id = _checked_id(entry_id)
        self._check_open()
        try:
            with self._dir_fds() as fds:
                meta_data = _read_file(fds["meta"], f"{entry_id}.json")
                raw = _read_file(fds["msg"], f"{entry_id}.eml")
        except FileNotFoundError:
            raise QuarantineError(f"no quarantined message has id {entry_id}.") from None
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantined message {entry_id}: {_reason(exc)}."
            ) from exc
        meta = _parse_meta(meta_data, entry_id)
        if hashlib.sha256(raw).hexdigest() != meta.get("sha256"):
            # Never show or release a truncated or altered message as if it were intact.
            raise QuarantineError(
                f"quarantined message {entry_id} does not match its recorded checksum."
            )
        return _entry_from_meta(meta), raw

    def list(
        self, *, limit: int | None = None, since: datetime | None = None
    ) -> builtins.list[QuarantineEntry]:
        """Entries from the index, newest first; ``since`` keeps those at or after it."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if since is not None and since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        sql = f"SELECT {_COLUMNS} FROM entries"
        params: builtins.list[object] = []
        if since is not None:
            sql += " WHERE time_us >= ?"
            params.append(_micros(since))
        sql += " ORDER BY time_us DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            db = self._connection()
            if self._index_stale:
                self._try_sync_locked()
            try:
                try:
                    rows = db.execute(sql, params).fetchall()
                except sqlite3.Error as exc:
                    if not _is_corrupt(exc):
                        raise
                    # The files are the truth, so start the index over from them.
                    log.error("quarantine index %s is corrupt (%s); rebuilding", self._db_path, exc)
                    self._recreate_index_locked()
                    rows = self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise QuarantineError(
                    f"cannot read quarantine index {self._db_path}: {exc}."
                ) from exc
        return [_entry_from_row(row) for row in rows]

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

    def _open_index(self) -> None:
        with self._lock:
            try:
                try:
                    created = self._connect_locked()
                    if created:
                        self._rebuild_locked()
                    else:
                        self._sync_locked()
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
        entries = [_entry_from_meta(meta) for meta in self._read_metas(self._meta_ids())]
        with _transaction(db):
            db.execute("DELETE FROM entries")
            db.executemany(_INSERT, [_row(e) for e in entries])
        self._index_stale = False
        log.info("quarantine index %s rebuilt: %d entries", self._db_path, len(entries))
        return len(entries)

    def _sync_locked(self) -> None:
        """Make the index hold exactly the entries that have a meta file.

        Cheap (one directory listing, one id query) so it runs at every start: it adds
        entries whose insert was lost (a crash after the files were durable) and drops
        entries whose files an admin removed by hand.
        """
        db = self._connection()
        on_disk = self._meta_ids()
        indexed = {row[0] for row in db.execute("SELECT id FROM entries")}
        missing = sorted(on_disk - indexed)
        gone = sorted(indexed - on_disk)
        if missing or gone:
            rows = [_row(_entry_from_meta(meta)) for meta in self._read_metas(missing)]
            with _transaction(db):
                db.executemany("DELETE FROM entries WHERE id = ?", [(i,) for i in gone])
                db.executemany(_INSERT, rows)
            log.info(
                "quarantine index %s resynced: %d added, %d removed",
                self._db_path,
                len(rows),
                len(gone),
            )
        self._index_stale = False

    def _try_sync_locked(self) -> None:
        try:
            self._sync_locked()
        except sqlite3.Error as exc:
            log.error("quarantine index %s resync failed: %s", self._db_path, exc)

    def _meta_ids(self) -> set[str]:
        meta = self.directory / "meta"
        try:
            names = os.listdir(meta)
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantine directory {meta}: {_reason(exc)}."
            ) from exc
        # Anything not named <id>.json is not ours (an editor's backup, a stray file).
        return {n[:-5] for n in names if n.endswith(".json") and is_valid_id(n[:-5])}

    def _read_metas(self, ids: Iterable[str]) -> builtins.list[dict[str, Any]]:
        metas = []
        with self._dir_fds() as fds:
            for entry_id in ids:
                try:
                    metas.append(_parse_meta(_read_file(fds["meta"], f"{entry_id}.json"), entry_id))
                except (OSError, QuarantineError) as exc:
                    # One unreadable file must not hide every other held message.
                    log.error("quarantine entry %s skipped in the index: %s", entry_id, exc)
        return metas

    def _index_put(self, entry: QuarantineEntry) -> None:
        with self._lock:
            db = self._db
            if db is None:
                # Closed while this put was writing: the files are durable, the next
                # start resyncs the index from them.
                return
            try:
                if self._index_stale:
                    self._sync_locked()  # includes this entry: its meta file is in place
                else:
                    db.execute(_INSERT, _row(entry))
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


_INSERT = f"INSERT OR REPLACE INTO entries ({_COLUMNS}) VALUES ({', '.join('?' * 13)})"


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
    # O_NOFOLLOW and a regular-file check: a symlink or fifo planted in the store must not
    # make us read (and show, or release) some other file.
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _meta(
    entry_id: str, now: datetime, raw: bytes, envelope: Envelope, verdict: Verdict, subject: str
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
        # JSON with ensure_ascii keeps lone surrogates, so nothing is lost here.
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
            "rules": [
                {"id": h.id, "score": h.score, "evidence": list(h.evidence), "tags": list(h.tags)}
                for h in verdict.rules
            ],
            "notes": list(verdict.notes),
        },
        "released": None,
    }


def _parse_meta(data: bytes, entry_id: str) -> dict[str, Any]:
    try:
        meta = json.loads(data)
        if not isinstance(meta, dict) or meta.get("id") != entry_id:
            raise ValueError("id does not match the file name")
        if meta.get("format") != META_FORMAT:
            raise ValueError(f"unknown format {meta.get('format')!r}")
        _entry_from_meta(meta)  # every field present and of the right type
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise QuarantineError(
            f"metadata of quarantined message {entry_id} is unreadable: {exc}."
        ) from exc
    return meta


def _opt(value: object) -> str | None:
    return None if value is None else _display(str(value))


def _entry_from_meta(meta: dict[str, Any]) -> QuarantineEntry:
    envelope = meta["envelope"]
    client = meta["client"]
    verdict = meta["verdict"]
    time = datetime.fromisoformat(meta["time"]).astimezone(UTC)
    released = meta.get("released")
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
    )


def _row(entry: QuarantineEntry) -> tuple[object, ...]:
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
    )


def _entry_from_row(row: tuple[Any, ...]) -> QuarantineEntry:
    (id_, time_us, mail_from, recipients, addr, helo, name) = row[:7]
    (subject, score, action, rules, size, released_us) = row[7:]
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
    )

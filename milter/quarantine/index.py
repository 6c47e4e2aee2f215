"""The quarantine's SQLite index: what ``list``, ``stats`` and ``purge`` query.

The meta files are the truth and the index is a cache of them (``index.sqlite3``, WAL,
synchronous=FULL). It can always be rebuilt from the meta files (``rebuild``, reached by
``scam-milter quarantine reindex``), and is resynchronised with them whenever a store is
opened, so an entry whose index insert never happened (a crash, a locked database) still
shows up:

- every row keeps the inode number of the meta file it was read from. A full resync
  compares those numbers with a directory listing (``scandir`` gives them without a
  ``stat``), so any difference at all is found; it runs when ``serve`` opens the store,
  before a purge, and after an index failure in this process. The CLI opens the store
  with a cheap check instead (the markers, and the number of meta files against the
  number of rows), so ``list`` stays fast on 100,000 entries;
- a state change renames its meta file inside the index's write transaction
  (``replace_during``), so no resync can read the file between the rename and the row;
- an index found corrupt is moved aside and rebuilt from the files.

One connection, shared by the store's threads and serialised by a lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time as _time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from milter.errors import QuarantineError
from milter.quarantine.files import StoreFiles, reason
from milter.quarantine.ids import is_valid_id
from milter.quarantine.records import (
    QuarantineEntry,
    QuarantineEvent,
    QuarantineStats,
    Status,
    display,
    entry_from_meta,
    events_from_meta,
    micros,
)
from milter.quarantine.schema import (
    COLUMNS,
    INDEX_COLUMNS,
    TABLES,
    EntryFilter,
    address_key,
    create_or_check_schema,
    entry_from_row,
    entry_row,
)

log = logging.getLogger("scam_milter.quarantine")

DB_NAME = "index.sqlite3"


class QuarantineIndex:
    """The index of one store's meta files: open, query, follow the files, rebuild."""

    def __init__(self, files: StoreFiles) -> None:
        self._files = files
        self.path = files.directory / DB_NAME
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        # Set when the index may miss entries or hold stale ones; the next call resyncs.
        self._stale = False

    # --- opening and closing ---------------------------------------------------------------

    def open(self, *, full_sync: bool) -> None:
        """Connect (creating the index, or rebuilding a corrupt one) and resync it.

        ``full_sync`` compares every meta file with the index; without it only the
        markers and the counts are checked (see the module doc).
        """
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
                    log.error("quarantine index %s is corrupt (%s); rebuilding", self.path, exc)
                    self._recreate_locked()
            except sqlite3.Error as exc:
                self._close_locked()
                raise QuarantineError(f"cannot open quarantine index {self.path}: {exc}.") from exc
            except BaseException:
                self._close_locked()
                raise

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            self._close_locked()

    def check_open(self) -> None:
        """QuarantineError once the index (and so its store) is closed."""
        self._connection()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise QuarantineError(f"quarantine store {self._files.directory} is closed.")
        return self._db

    def _connect_locked(self) -> bool:
        """Connect and check the schema; True when the index was just created."""
        self._close_locked()
        path = self.path
        try:
            # Made here, 0600, so SQLite never creates it with the umask's mode; its
            # -wal and -shm files take the database file's mode and owner.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                self._files.chown(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise QuarantineError(f"cannot open quarantine index {path}: {reason(exc)}.") from exc
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
                created = create_or_check_schema(db, path)
        except BaseException:
            db.close()
            raise
        self._db = db
        return created

    def _recreate_locked(self) -> None:
        """Move a corrupt index aside and build a new one from the meta files."""
        self._close_locked()
        directory = self._files.directory
        for suffix in ("", "-wal", "-shm"):
            source = directory / (DB_NAME + suffix)
            try:
                # Kept, not deleted, for a post-mortem; the next corruption replaces it.
                os.replace(source, directory / (DB_NAME + ".corrupt" + suffix))
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise QuarantineError(
                    f"cannot move the corrupt quarantine index {source} aside: {reason(exc)}."
                ) from exc
        self._connect_locked()
        self._rebuild_locked()

    def _close_locked(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    # --- following the files ---------------------------------------------------------------

    def rebuild(self) -> int:
        """Rebuild the whole index from the meta files; return the number of entries."""
        with self._lock:
            self._connection()
            try:
                return self._rebuild_locked()
            except sqlite3.Error as exc:
                raise QuarantineError(
                    f"cannot rebuild quarantine index {self.path}: {exc}."
                ) from exc

    def _rebuild_locked(self) -> int:
        db = self._connection()
        files = self._files
        with _transaction(db):
            # Read inside the write transaction, as in _sync_locked: no state change can
            # rename a meta file between our read and our write.
            metas = files.read_metas(i for i in files.meta_inodes() if is_valid_id(i))
            for table in TABLES:
                db.execute(f"DELETE FROM {table}")
            for meta, ino in metas:
                _index_replace(db, entry_from_meta(meta), events_from_meta(meta), ino)
            files.remove_markers(files.markers())
        self._stale = False
        log.info("quarantine index %s rebuilt: %d entries", self.path, len(metas))
        return len(metas)

    def resync(self) -> None:
        """Make the index match the meta files, comparing every one (a full sync)."""
        with self._lock:
            self._connection()
            try:
                self._sync_locked()
            except sqlite3.Error as exc:
                raise QuarantineError(
                    f"cannot update quarantine index {self.path}: {exc}."
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
        files = self._files
        markers = files.markers()
        if not full:
            rows = db.execute("SELECT count(*) FROM entries").fetchone()[0]
            full = rows != files.meta_count()
        if full:
            changed, gone = self._differences(db)
            if not changed and not gone and not markers:
                self._stale = False
                return
        elif not markers:
            return
        with _transaction(db):
            # Again inside the write transaction, which state changes also take to rename
            # a meta file: what is read here cannot be replaced before it is written.
            markers = files.markers()
            if full:
                changed, gone = self._differences(db)
            else:
                changed, gone = {}, set()
            fixed = files.unclaimed(markers)
            metas = files.read_metas(changed.keys() | fixed)
            found = {meta["id"] for meta, _ in metas}
            gone |= fixed - found  # a marker for an entry forgotten meanwhile
            for entry_id in gone:
                _delete_rows(db, entry_id)
            for meta, ino in metas:
                _index_replace(db, entry_from_meta(meta), events_from_meta(meta), ino)
            files.remove_markers(fixed)
        if metas or gone:
            log.info(
                "quarantine index %s resynced: %d updated, %d removed",
                self.path,
                len(metas),
                len(gone),
            )
        if full:
            self._stale = False

    def _try_sync_locked(self) -> None:
        try:
            self._sync_locked()
        except sqlite3.Error as exc:
            log.error("quarantine index %s resync failed: %s", self.path, exc)

    def _differences(self, db: sqlite3.Connection) -> tuple[dict[str, int], set[str]]:
        """(id -> inode of meta files the index lacks or has from another file, ids gone)."""
        on_disk = self._files.meta_inodes()
        indexed = dict(db.execute("SELECT id, meta_ino FROM entries").fetchall())
        # Ids checked only where they differ: a regex per file is most of the cost.
        changed = {i: n for i, n in on_disk.items() if indexed.get(i) != n and is_valid_id(i)}
        gone = indexed.keys() - on_disk.keys()
        return changed, gone

    # --- writing ---------------------------------------------------------------------------

    def put(self, entry: QuarantineEntry, events: Sequence[QuarantineEvent], ino: int) -> None:
        """Index a new entry whose files are durable; an index failure is only logged."""
        with self._lock:
            db = self._db
            if db is None:
                # Closed while this put was writing: the files are durable, the next
                # open resyncs the index from them.
                return
            try:
                if self._stale:
                    self._sync_locked()  # includes this entry: its meta file is in place
                else:
                    with _transaction(db):
                        # Only if absent: another process's resync may already have
                        # indexed it, and an admin may even have deleted it since.
                        inserted = db.execute(
                            f"INSERT INTO entries ({INDEX_COLUMNS}) VALUES "
                            f"({', '.join('?' * 18)}) ON CONFLICT (id) DO NOTHING",
                            entry_row(entry, ino),
                        ).rowcount
                        if inserted:
                            _index_details(db, entry, events)
            except sqlite3.Error as exc:
                # The message is durable on disk, which is what the 250 promises; the
                # index is only a cache of the meta files. Log and resync later rather
                # than make the client send it again (and store it twice).
                self._stale = True
                log.error(
                    "quarantine index insert failed for %s (the message is stored; the "
                    "index will be resynced): %s",
                    entry.id,
                    exc,
                )

    def replace_during(
        self,
        entry: QuarantineEntry,
        events: Sequence[QuarantineEvent],
        ino: int,
        rename: Callable[[], None],
    ) -> bool:
        """Run ``rename`` (a meta file's rename into place) inside the index's write
        transaction, and index ``entry`` as that file says in the same transaction.

        Returns True when the index has the change. False when the index was busy or
        failed: the file changed anyway (it is the truth), the index is marked stale and
        the caller's marker brings it along later. When ``rename`` raises, the
        transaction is rolled back and the exception propagates.
        """
        with self._lock:
            db = self._connection()
            began = False
            try:
                db.execute("BEGIN IMMEDIATE")
                began = True
            except sqlite3.Error as exc:
                self._stale = True
                log.error("quarantine index busy for %s (%s); resync later", entry.id, exc)
            try:
                rename()
            except BaseException:
                if began:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
            if not began:
                return False
            try:
                _index_replace(db, entry, events, ino)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                self._stale = True
                log.error("quarantine index update failed for %s: %s", entry.id, exc)
                return False
            return True

    @contextlib.contextmanager
    def removing(self) -> Iterator[Callable[[str], None]]:
        """Hold the write transaction for the ``with`` block; yields a function that
        drops one entry's rows. Committed at the end of the block, rolled back on error.

        In the write transaction, a resync in another process cannot re-add what is being
        removed, and no state change renames a meta file meanwhile.
        """
        with self._lock:
            db = self._connection()
            with _transaction(db):
                yield lambda entry_id: _delete_rows(db, entry_id)

    # --- reading ---------------------------------------------------------------------------

    def entries(self, *, limit: int | None, chosen: EntryFilter) -> list[QuarantineEntry]:
        """The ``chosen`` entries newest first, ``limit`` of them at the most."""
        where, params = chosen.where()
        sql = f"SELECT {COLUMNS} FROM entries{where} ORDER BY time_us DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [entry_from_row(row) for row in self._query(sql, params)]

    def stats(self, *, since: datetime | None, until: datetime | None) -> QuarantineStats:
        """Counts of entries received in the window: by action, status and rule."""
        where, params = EntryFilter(since=since, until=until).where()
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

    def with_message_before(self, cutoff: int) -> list[str]:
        """Ids of held and released entries received before ``cutoff`` (µs), oldest first."""
        rows = self._query(
            "SELECT id FROM entries WHERE time_us < ? AND status IN (?, ?) ORDER BY time_us",
            (cutoff, Status.HELD.value, Status.RELEASED.value),
        )
        return [row[0] for row in rows]

    def tombstones_before(self, cutoff: int) -> list[str]:
        """Ids of deleted and expired entries whose status changed before ``cutoff`` (µs)."""
        rows = self._query(
            "SELECT id FROM entries WHERE status IN (?, ?) AND status_us < ?",
            (Status.DELETED.value, Status.EXPIRED.value, cutoff),
        )
        return [row[0] for row in rows]

    def statuses(self) -> dict[str, str]:
        """Id -> status of every indexed entry."""
        return dict(self._query("SELECT id, status FROM entries", ()))

    def _query(self, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        with self._lock:
            db = self._connection()
            if self._stale:
                self._try_sync_locked()
            try:
                try:
                    return db.execute(sql, params).fetchall()
                except sqlite3.Error as exc:
                    if not _is_corrupt(exc):
                        raise
                    # The files are the truth, so start the index over from them.
                    log.error("quarantine index %s is corrupt (%s); rebuilding", self.path, exc)
                    self._recreate_locked()
                    return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise QuarantineError(f"cannot read quarantine index {self.path}: {exc}.") from exc


def _delete_rows(db: sqlite3.Connection, entry_id: str) -> None:
    for table in TABLES:
        db.execute(f"DELETE FROM {table} WHERE id = ?", (entry_id,))


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
        # Raised by create_or_check_schema (unknown schema version) or without a code:
        # treat as damage.
        return not isinstance(exc, sqlite3.OperationalError)
    return code & 0xFF in (_SQLITE_ERROR, _SQLITE_CORRUPT, _SQLITE_NOTADB)


def _index_replace(
    db: sqlite3.Connection, entry: QuarantineEntry, events: Sequence[QuarantineEvent], ino: int
) -> None:
    """Index ``entry`` as its meta file (inode ``ino``) says, replacing what was there."""
    db.execute(
        f"INSERT OR REPLACE INTO entries ({INDEX_COLUMNS}) VALUES ({', '.join('?' * 18)})",
        entry_row(entry, ino),
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
                micros(e.time),
                e.status.value,
                display(e.user),
                json.dumps(e.detail, ensure_ascii=True, default=str),
            )
            for seq, e in enumerate(events)
        ],
    )


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

"""The quarantine store: held messages on local disk, byte for byte, with an SQLite index.

Composed of ``files`` (the directory layout and durable file I/O), ``index`` (the SQLite
index, a cache of the meta files) and ``records`` (the meta format and its values); this
module decides in what order things are written, which is what makes the store
crash-safe. README's Quarantine section and docs/postfix.md describe the states for admins.

The files are the truth and the index is a cache. A ``meta/<id>.json`` is written last and
is the commit record: it only exists once ``msg/<id>.eml`` is durable, so a message is
stored exactly when its meta file is. The index can always be rebuilt from the meta files
(``rebuild_index``, ``scam-milter quarantine reindex``), and is resynchronised with them
whenever a store is opened, so an entry whose index insert never happened (a crash, a
locked database) still shows up.

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
retention. ``TRANSITIONS`` (records.py) is that table.

Several processes share one store (``serve`` workers, instances, the admin's CLI):

- a state change rewrites the meta file (a new file renamed over the old one, so a reader
  sees the old or the new file, never half of one) while holding an exclusive ``flock`` on
  the message file, so two admins cannot both release one message;
- the rename happens inside the index's write transaction. Before it, a marker
  ``tmp/<id>.sync`` is made, and removed once the index has the change: a change whose
  index update was lost (a crash, a locked index) leaves its marker, and whoever opens
  the store next re-reads that entry;
- the index keeps the inode number of the meta file each row was read from, so a full
  resync finds any difference at all (index.py says when it runs, and the CLI's cheaper
  check).

The store is synchronous and thread-safe: the server calls ``put`` from worker threads.
File writes run in parallel; only the one SQLite connection is behind a lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time as _time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from milter.errors import QuarantineError
from milter.mail.envelope import Envelope
from milter.quarantine.files import (
    MARKER,
    STALE_TMP_SECONDS,
    StoreFiles,
    check_sha,
    open_no_follow,
    read_file,
    read_open_file,
    reason,
)
from milter.quarantine.ids import ID_LENGTH, checked_id, is_valid_id, new_id
from milter.quarantine.index import QuarantineIndex
from milter.quarantine.records import (
    TRANSITIONS,
    EntryStateError,
    NoSuchEntry,
    PurgeResult,
    QuarantineEntry,
    QuarantineEvent,
    QuarantineRecord,
    QuarantineStats,
    Status,
    build_meta,
    changed_meta,
    current_user,
    duration_text,
    entry_from_meta,
    events_from_meta,
    meta_bytes,
    micros,
    record_from_meta,
    reported_meta,
    require_message,
    utc_text,
)
from milter.quarantine.schema import EntryFilter, address_key
from milter.scan.verdict import Verdict

# Importers name these from here; they live in the modules this store is made of.
__all__ = [
    "ID_LENGTH",
    "TRANSITIONS",
    "Claim",
    "EntryStateError",
    "NoSuchEntry",
    "PurgeResult",
    "QuarantineEntry",
    "QuarantineError",
    "QuarantineEvent",
    "QuarantineRecord",
    "QuarantineStats",
    "QuarantineStore",
    "Status",
    "address_key",
    "current_user",
    "duration_text",
    "is_valid_id",
    "new_id",
    "utc_text",
]

log = logging.getLogger("scam_milter.quarantine")


class QuarantineStore:
    """Held messages in one directory: files written durably, listed through an index."""

    def __init__(self, directory: Path, *, create: bool = True, full_sync: bool = True) -> None:
        """Open (and with ``create``, make) the store in ``directory``.

        ``full_sync`` compares every meta file with the index (cheap, but proportional to
        the number of entries); without it only the markers and the counts are checked,
        which finds every lost update but an admin's hand edits (see index.py's doc).

        Raises QuarantineError when the directory is missing (and not to be created),
        cannot be read, or is writable by group or others: anyone who can write there can
        plant or swap held messages.
        """
        self.directory = Path(directory)
        # Who this process is, for the events it records; the euid does not change.
        self.user = current_user()
        self._files = StoreFiles(self.directory, create=create)
        self._files.remove_stale_tmp()
        self._index = QuarantineIndex(self._files)
        self._index.open(full_sync=full_sync)

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
        self._index.check_open()
        now = datetime.now(UTC)
        entry_id = new_id(now)
        meta = build_meta(entry_id, now, raw, envelope, verdict, subject, auth, self.user)
        entry = entry_from_meta(meta)
        data = meta_bytes(meta)
        eml, js = f"{entry_id}.eml", f"{entry_id}.json"
        written: list[tuple[int, str]] = []  # (dir fd, name) to remove if anything fails
        try:
            with self._files.dir_fds() as fds:
                try:
                    self._files.write_new(fds["tmp"], eml, raw, written)
                    ino = self._files.write_new(fds["tmp"], js, data, written)
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
                f"cannot store message in quarantine {self.directory}: {reason(exc)}."
            ) from exc
        self._index.put(entry, events_from_meta(meta), ino)
        return entry

    # --- get, show and list ------------------------------------------------------------------

    def get(self, entry_id: str) -> tuple[QuarantineEntry, bytes]:
        """The entry and the raw message, read from the files (the truth, not the index)."""
        record = self.record(entry_id)
        return record.entry, self.raw(entry_id, record)

    def record(self, entry_id: str) -> QuarantineRecord:
        """What the meta file says about ``entry_id``: envelope, verdict, auth, history.

        Works for deleted and expired entries too (their meta file is a tombstone).
        """
        entry_id = checked_id(entry_id)
        self._index.check_open()
        try:
            with self._files.dir_fds() as fds:
                meta, _ = self._files.load_meta(fds["meta"], entry_id)
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantined message {entry_id}: {reason(exc)}."
            ) from exc
        return record_from_meta(meta)

    def raw(self, entry_id: str, record: QuarantineRecord | None = None) -> bytes:
        """The original message bytes, checked against the recorded checksum."""
        entry_id = checked_id(entry_id)
        if record is None:
            record = self.record(entry_id)
        require_message(record)
        try:
            with self._files.dir_fds() as fds:
                raw = read_file(fds["msg"], f"{entry_id}.eml")
        except FileNotFoundError:
            # Deleted since the record was read: say so, from the new record.
            require_message(self.record(entry_id))
            raise QuarantineError(
                f"the message file of quarantined message {entry_id} is missing."
            ) from None
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantined message {entry_id}: {reason(exc)}."
            ) from exc
        check_sha(entry_id, raw, record.sha256)
        return raw

    def entries(
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
    ) -> list[QuarantineEntry]:
        """Entries from the index, newest first.

        ``since``/``until`` keep entries received at or after / before those times.
        ``rule`` is a rule id (case-insensitive; a trailing ``*`` matches a prefix).
        ``sender`` and ``rcpt`` are an address (case-insensitive) or ``@domain``.
        ``action`` is the verdict's action (quarantine, reject); ``status`` the status.
        """
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        # By position: these parameters are EntryFilter's fields, in its order (a test
        # keeps them so); by keyword, the seven would be spelled out twice more.
        chosen = EntryFilter(since, until, rule, sender, rcpt, action, status)
        return self._index.entries(limit=limit, chosen=chosen)

    def stats(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> QuarantineStats:
        """Counts of entries received in the window: by action, status and rule."""
        return self._index.stats(since=since, until=until)

    # --- state changes -------------------------------------------------------------------------

    @contextlib.contextmanager
    def claim(self, entry_id: str) -> Iterator[Claim]:
        """Lock ``entry_id`` for a state change, across processes, for the ``with`` block.

        Raises NoSuchEntry for an unknown id and EntryStateError when the message is gone
        (deleted, expired) or another process holds it (a release in flight). Inside, the
        claim's record is the truth as of the lock; ``Claim.commit`` changes the status.
        """
        entry_id = checked_id(entry_id)
        self._index.check_open()
        files = self._files
        with contextlib.ExitStack() as stack:
            try:
                fds = stack.enter_context(files.dir_fds())
                meta, _ = files.load_meta(fds["meta"], entry_id)
                require_message(record_from_meta(meta))
                try:
                    fd = open_no_follow(fds["msg"], f"{entry_id}.eml")
                except FileNotFoundError:
                    # Deleted between the two reads, or a broken entry.
                    meta, _ = files.load_meta(fds["meta"], entry_id)
                    require_message(record_from_meta(meta))
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
                meta, _ = files.load_meta(fds["meta"], entry_id)
                record = record_from_meta(meta)
                require_message(record)
            except OSError as exc:
                raise QuarantineError(
                    f"cannot read quarantined message {entry_id}: {reason(exc)}."
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
        cutoff = micros(now - older_than)
        self._index.resync()
        held = self._index.with_message_before(cutoff)
        expired: list[str] = []
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
        candidates = [i for i in self._index.tombstones_before(cutoff) if i not in keep]
        if not candidates:
            return 0
        forgotten = 0
        files = self._files
        # In the index's write transaction: a resync in another process cannot re-add
        # what is being forgotten, and no state change renames a meta file meanwhile.
        with self._index.removing() as remove_rows, files.dir_fds() as fds:
            for entry_id in candidates:
                try:
                    meta, _ = files.load_meta(fds["meta"], entry_id)
                except NoSuchEntry:
                    meta = None
                except (OSError, QuarantineError) as exc:
                    log.error("quarantine entry %s not forgotten: %s", entry_id, exc)
                    continue
                if meta is not None:
                    record = record_from_meta(meta)
                    last = record.events[-1].time if record.events else record.entry.time
                    if record.entry.status.has_message or micros(last) >= cutoff:
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f"{entry_id}.json", dir_fd=fds["meta"])
                remove_rows(entry_id)
                forgotten += 1
            os.fsync(fds["meta"])
        return forgotten

    def _remove_orphans(self) -> int:
        """Message files with no live entry: a crash between writing the message and its
        meta file (put), or between the tombstone and the unlink (delete, expiry)."""
        removed = 0
        cutoff = _time.time() - STALE_TMP_SECONDS
        files = self._files
        # The index says which entries have a message, so only the odd ones are read.
        statuses = self._index.statuses()
        with files.dir_fds() as fds:
            with os.scandir(fds["msg"]) as it:
                names = [(e.name, e) for e in it if e.name.endswith(".eml")]
            live = files.meta_inodes()
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
                        meta, _ = files.load_meta(fds["meta"], entry_id)
                    except (OSError, QuarantineError):
                        continue
                    if record_from_meta(meta).entry.status.has_message:
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
        new = changed_meta(meta, status, user or self.user, detail, datetime.now(UTC))
        self._write_meta(entry_id, new, fds)
        if not status.has_message:
            # After the tombstone: a crash in between leaves a stray file that purge
            # removes, never a live entry without its message.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{entry_id}.eml", dir_fd=fds["msg"])
            with contextlib.suppress(OSError):
                os.fsync(fds["msg"])
        return new

    def _write_meta(self, entry_id: str, new: dict[str, Any], fds: dict[str, int]) -> None:
        """Put ``new`` in place of the entry's meta file, durably, and the index with it.
        The caller holds the entry's lock."""
        files = self._files
        js = f"{entry_id}.json"
        written: list[tuple[int, str]] = []

        def rename() -> None:
            os.rename(js, js, src_dir_fd=fds["tmp"], dst_dir_fd=fds["meta"])
            os.fsync(fds["meta"])

        try:
            # A leftover from a crash in the middle of an earlier change (we hold the
            # lock, so nobody is writing it now).
            with contextlib.suppress(FileNotFoundError):
                os.unlink(js, dir_fd=fds["tmp"])
            ino = files.write_new(fds["tmp"], js, meta_bytes(new), written)
            # The marker: until the index has this change, whoever opens the store
            # re-reads this entry. Durable before the rename (and the new meta file
            # with it), so even a power cut cannot lose the one without the other.
            files.write_marker(fds["tmp"], entry_id, written)
            os.fsync(fds["tmp"])
            # When the index is busy or fails, the meta file (the truth) changes anyway
            # and the marker brings the index along at the next open, in any process.
            indexed = self._index.replace_during(
                entry_from_meta(new), events_from_meta(new), ino, rename
            )
        except OSError as exc:
            for fd, name in written:
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=fd)
            raise QuarantineError(
                f"cannot update quarantined message {entry_id}: {reason(exc)}."
            ) from exc
        if indexed:
            # No fsync: should the removal be lost, the entry is re-read once. Another
            # thread's resync meanwhile leaves this entry alone: we hold its flock.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry_id + MARKER, dir_fd=fds["tmp"])

    # --- the index and the store itself ------------------------------------------------------

    def rebuild_index(self) -> int:
        """Rebuild the whole index from the meta files; return the number of entries."""
        return self._index.rebuild()

    def close(self) -> None:
        """Close the index; the store cannot be used afterwards. Safe to call twice."""
        self._index.close()

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
        try:
            raw = read_open_file(self._fd)
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantined message {self.id}: {reason(exc)}."
            ) from exc
        check_sha(self.id, raw, self.record.sha256)
        return raw

    def commit(
        self, status: Status, *, user: str | None = None, detail: dict[str, Any] | None = None
    ) -> QuarantineEntry:
        """Change the status (recording who and ``detail``); the record follows."""
        self._meta = self._store._commit(self.id, self._meta, status, user, detail, self._fds)
        self.record = record_from_meta(self._meta)
        return self.record.entry

    def add_report(self, to: str, reply: str, *, user: str | None = None) -> QuarantineRecord:
        """Record that the message was reported to ``to`` (the next hop said ``reply``);
        its status stays as it is."""
        new = reported_meta(self._meta, user or self._store.user, to, reply, datetime.now(UTC))
        self._store._write_meta(self.id, new, self._fds)
        self._meta = new
        self.record = record_from_meta(new)
        return self.record

"""The ledger's files: one journal per writing process, read by every process.

Why not SQLite: a commit there cost about 130 us of CPU per record (the statement, the
WAL frame, a file that grows, checkpoints) plus a thread hand-off per record, 18% of
the proxy's throughput (bench/ledger_cost.py). Here a record is one fixed-size write,
and a lookup one dictionary probe after reading the few bytes other processes added.

The directory (0700, ours) holds:

    generation                  8 bytes, rewritten whenever a segment is added: a
                                reader that sees them change lists the directory again
    <time>-<pid>-<random>.jnl   a segment: the records of one process, in order
    .new-<pid>-<random>         a segment being made (never read)

A segment is made whole before any reader can see it: created under a temporary name,
locked (flock, exclusive, for as long as its writer has it open), allocated to its full
size (``SEGMENT_BYTES``, zeros until written), synced, renamed into place, the directory
synced. Its records are written in order with ``O_DSYNC``: a write that returned is on
disk, the name and size that lead to it already were. A writer that moves to a new
segment ends the old one with a seal record; a writer that died mid-write leaves a torn
record, which its checksum tells from a whole one. Either way nothing follows it, so a
reader stops at the first record that is not whole, and tries again from there.

A record (``RECORD`` bytes, little-endian): magic, kind, the length of ``ref``, the time
in microseconds, the 32-byte key, ``ref`` (at most ``REF_BYTES``), and a CRC-32 of all
that. Nothing in a file name comes from a message.

Readers map each segment (mmap, shared: the page cache makes a write visible to every
mapping at once), so a lookup that finds nothing new makes no system call at all. What
they read goes into an index in memory: a dict per slice of time, dropped whole when the
slice has left the window. It holds the key and where the record is (about 140 bytes a
record): on a hit the record itself is read again.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import logging
import mmap
import os
import re
import secrets
import stat
import struct
import time
import zlib
from dataclasses import dataclass, field

log = logging.getLogger("scam_milter.ledger")

RECORD = 128
KEY_BYTES = 32
MAGIC = b"SMJ1"
_BODY = struct.Struct("<4sBBxxq32s76s")  # everything but the trailing CRC
_CRC = struct.Struct("<I")
REF_BYTES = _BODY.size - 48
assert _BODY.size + _CRC.size == RECORD

# Kinds of record; unknown kinds (a newer version) are skipped, never taken for a match.
KIND_RELAYED = 1
KIND_QUARANTINED = 2
KIND_SEAL = 0x7F  # the writer moved on: nothing follows in this segment

# 4 MB: 32768 records. Allocated when made (without writing it: the filesystem reads
# zeros where nothing was written), so a record's write never grows the file and its
# sync does not have to commit a new size.
SEGMENT_RECORDS = 32768
SEGMENT_BYTES = RECORD * SEGMENT_RECORDS
GENERATION = "generation"
SEGMENT_NAME = re.compile(r"[0-9a-f]{16}-[0-9]{1,10}-[0-9a-f]{8}\.jnl")
NEW_PREFIX = ".new-"
# A segment not written for this long is checked for a writer (its lock): a writer
# killed without sealing it leaves it unsealed, and unread to the end.
IDLE_CHECK = 10.0
# Maintenance (listing, expiry, deletion) at most this often, from lookups.
MAINTAIN_EVERY = 60.0
# A segment being made that is older than this has lost its writer.
STALE_NEW = 3600.0
_SLICES = 8  # the index is kept in window / _SLICES slices of time


class JournalError(Exception):
    """A file of the ledger cannot be made, read or written."""


def pack(key: bytes, kind: int, ref: bytes, time_us: int) -> bytes:
    """One record; ``ref`` is cut to ``REF_BYTES``."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"a ledger key is {KEY_BYTES} bytes, not {len(key)}")
    ref = ref[:REF_BYTES]
    body = _BODY.pack(MAGIC, kind, len(ref), time_us, key, ref)
    return body + _CRC.pack(zlib.crc32(body))


@dataclass(frozen=True)
class Unpacked:
    kind: int
    time_us: int
    key: bytes
    ref: bytes


def unpack(data: bytes | mmap.mmap, offset: int = 0) -> Unpacked | None:
    """The record at ``offset``, or None when it is not whole (unwritten, torn, garbage)."""
    if len(data) - offset < RECORD:
        return None
    record = data[offset : offset + RECORD]
    body = record[: _BODY.size]
    if zlib.crc32(body) != _CRC.unpack_from(record, _BODY.size)[0]:
        return None
    magic, kind, length, time_us, key, ref = _BODY.unpack(body)
    if magic != MAGIC or length > REF_BYTES:
        return None
    return Unpacked(kind, time_us, key, ref[:length])


# --- the directory ----------------------------------------------------------------------


def open_directory(path: str) -> int:
    """The ledger directory's descriptor: made 0700 if missing; refused when it, or the
    directory holding it, can be written by anyone else, or when it is a symlink."""
    parent = os.path.dirname(os.path.abspath(path))
    st = os.stat(parent)
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise JournalError(
            f"ledger directory {parent} is writable by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); make it 0700."
        )
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    # O_NOFOLLOW: a symlink planted in place of the directory is refused; every file
    # below is then reached through this descriptor, never through the path again.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise JournalError(
                f"ledger directory {path} must belong to this user and be writable by "
                f"nobody else (mode {stat.S_IMODE(st.st_mode):04o}, owner {st.st_uid})."
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private(dir_fd: int, name: str, flags: int) -> int:
    """``name`` in the directory, refused unless a regular file of ours that nobody else
    can write (whoever writes the ledger decides which retries we answer 250)."""
    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != os.geteuid()
            or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        ):
            raise JournalError(
                f"ledger file {name} is not a regular file of this user that nobody else "
                f"can write (mode {stat.S_IMODE(st.st_mode):04o}, owner {st.st_uid})."
            )
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_generation(dir_fd: int) -> int:
    """The generation file (made whole, with a first value, if missing), read-write."""
    try:
        return open_private(dir_fd, GENERATION, os.O_RDWR)
    except FileNotFoundError:
        pass
    # Made aside and linked in: a reader never sees it empty, and two processes making
    # it at once cannot overwrite a change one of them already announced.
    temporary = f"{NEW_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    fd = open_private(dir_fd, temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL)
    try:
        os.pwrite(fd, secrets.token_bytes(8), 0)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, GENERATION, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    finally:
        os.close(fd)
        os.unlink(temporary, dir_fd=dir_fd)
    return open_private(dir_fd, GENERATION, os.O_RDWR)


def writer_gone(dir_fd: int, name: str, fd: int | None = None) -> bool:
    """True when no process holds ``name`` as its writer (its lock is free)."""
    own = fd is None
    if own:
        try:
            fd = open_private(dir_fd, name, os.O_RDONLY)
        except FileNotFoundError:
            return True
    assert fd is not None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        if own:
            os.close(fd)


# --- reading ----------------------------------------------------------------------------


@dataclass
class _Segment:
    serial: int
    name: str
    fd: int = -1
    view: mmap.mmap | None = None
    offset: int = 0  # where the first record not yet read is
    done: bool = False  # sealed, full, or its writer gone: read to the end
    progress: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        if self.view is not None:
            self.view.close()
            self.view = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class Index:
    """What every process recorded, read from the segments; not thread-safe (the caller
    holds a lock)."""

    def __init__(self, dir_fd: int, window: float) -> None:
        self.dir_fd = dir_fd
        self.window_us = int(window * 1_000_000)
        self._span_us = max(1, self.window_us // _SLICES)
        # Slice number -> {key: time_us << 40 | serial << 20 | record number}.
        self._slices: dict[int, dict[bytes, int]] = {}
        self._order: list[int] = []  # slice numbers, oldest first
        self._live: list[_Segment] = []  # segments that may still grow
        self._names: dict[int, str] = {}  # serial -> name, of every segment listed
        self._by_name: dict[str, int] = {}
        self._ignored: set[str] = set()  # names of files refused (see _add)
        self._serial = 0
        self._generation_fd = open_generation(dir_fd)
        try:
            if os.fstat(self._generation_fd).st_size < 8:
                raise JournalError(f"ledger file {GENERATION} is shorter than 8 bytes.")
            self._generation = mmap.mmap(self._generation_fd, 8, prot=mmap.PROT_READ)
        except BaseException:
            os.close(self._generation_fd)
            raise
        self._seen_generation = b""
        self._next_maintenance = 0.0

    def close(self) -> None:
        for segment in self._live:
            segment.close()
        self._live = []
        self._generation.close()
        os.close(self._generation_fd)

    def find(self, key: bytes, now: float) -> Unpacked | None:
        """The newest record of ``key`` within the window, after reading what is new."""
        self.catch_up(now)
        since = int(now * 1_000_000) - self.window_us
        for number in reversed(self._order):
            if (number + 1) * self._span_us <= since:
                break  # this slice and every older one are past the window
            where = self._slices[number].get(key)
            if where is None:
                continue
            if where >> 40 < since:
                return None  # the newest record is past the window: so are the others
            return self._reread(key, where)
        return None

    def catch_up(self, now: float) -> None:
        if time.monotonic() >= self._next_maintenance:
            self.maintain(now)
        elif self._generation[:8] != self._seen_generation:
            self._list()
        for segment in self._live:
            view = segment.view
            # The hot path: the next record's first byte is still zero (nothing new).
            if view is not None and segment.offset < len(view) and view[segment.offset]:
                self._read(segment)

    def maintain(self, now: float) -> None:
        """List the directory; finish segments whose writer is gone; forget the slices,
        and delete the segments, that have left the window; remove abandoned files."""
        self._next_maintenance = time.monotonic() + MAINTAIN_EVERY
        names = self._list()
        idle = time.monotonic() - IDLE_CHECK
        for segment in self._live:
            if segment.progress < idle and writer_gone(self.dir_fd, segment.name, segment.fd):
                self._read(segment)  # whatever it wrote before it went
                segment.done = True
        self._drop_done()
        since = int(now * 1_000_000) - self.window_us
        while self._order and (self._order[0] + 1) * self._span_us <= since:
            del self._slices[self._order.pop(0)]
        for name in names:
            self._delete_if_old(name, now)

    def _list(self) -> list[str]:
        self._seen_generation = self._generation[:8]
        names = os.listdir(self.dir_fd)
        present = set(names)
        for name in [n for n in self._by_name if n not in present]:
            self._forget(name)
        self._ignored &= present
        for name in sorted(names):  # oldest first: their names start with their time
            if (
                SEGMENT_NAME.fullmatch(name)
                and name not in self._by_name
                and name not in self._ignored
            ):
                self._add(name)
        return names

    def _add(self, name: str) -> None:
        self._serial += 1
        segment = _Segment(self._serial, name)
        try:
            segment.fd = open_private(self.dir_fd, name, os.O_RDONLY)
            size = os.fstat(segment.fd).st_size // RECORD * RECORD
            if size:
                segment.view = mmap.mmap(segment.fd, size, prot=mmap.PROT_READ)
        except FileNotFoundError:
            segment.close()
            return  # deleted meanwhile
        except (OSError, JournalError) as exc:
            # Not ours to read (a symlink, another owner, open to others): one line,
            # and never again while it is there.
            segment.close()
            self._ignored.add(name)
            log.error("ledger file %s ignored: %s", name, exc)
            return
        except BaseException:
            segment.close()
            raise
        self._names[segment.serial] = name
        self._by_name[name] = segment.serial
        self._live.append(segment)
        self._read(segment)
        self._drop_done()

    def _forget(self, name: str) -> None:
        serial = self._by_name.pop(name)
        del self._names[serial]
        for segment in [s for s in self._live if s.serial == serial]:
            segment.close()
            self._live.remove(segment)

    def _drop_done(self) -> None:
        for segment in [s for s in self._live if s.done]:
            segment.close()  # its records stay in the index; a hit opens it again
            self._live.remove(segment)

    def _read(self, segment: _Segment) -> None:
        view = segment.view
        if view is None:
            segment.done = True
            return
        offset, end = segment.offset, len(view)
        serial = segment.serial << 20
        while offset < end:
            record = unpack(view, offset)
            if record is None:
                break  # not written yet, being written, or torn: tried again later
            offset += RECORD
            if record.kind == KIND_SEAL:
                segment.done = True
                break
            if record.kind in (KIND_RELAYED, KIND_QUARANTINED) and record.time_us >= 0:
                self._note(record.key, record.time_us, serial | (offset // RECORD - 1))
        if offset != segment.offset:
            segment.offset = offset
            segment.progress = time.monotonic()
        if offset >= end:
            segment.done = True

    def _note(self, key: bytes, time_us: int, where: int) -> None:
        number = time_us // self._span_us
        entries = self._slices.get(number)
        if entries is None:
            entries = self._slices[number] = {}
            bisect.insort(self._order, number)
        packed = time_us << 40 | where
        old = entries.get(key)
        if old is None or old >> 40 <= time_us:
            entries[key] = packed

    def _reread(self, key: bytes, where: int) -> Unpacked | None:
        serial, number = where >> 20 & 0xFFFFF, where & 0xFFFFF
        name = self._names.get(serial)
        if name is None:
            return None  # deleted since: it had left the window
        for segment in self._live:
            if segment.serial == serial and segment.view is not None:
                record = unpack(segment.view, number * RECORD)
                break
        else:
            try:
                fd = open_private(self.dir_fd, name, os.O_RDONLY)
            except FileNotFoundError:
                return None
            try:
                record = unpack(os.pread(fd, RECORD, number * RECORD))
            finally:
                os.close(fd)
        if record is None or record.key != key:
            return None
        return record

    def _delete_if_old(self, name: str, now: float) -> None:
        """Delete a segment past the window, or a segment being made that was given up,
        once no writer holds it."""
        if name in self._ignored:
            return  # not ours to delete either
        if SEGMENT_NAME.fullmatch(name):
            age = self.window_us / 1_000_000
        elif name.startswith(NEW_PREFIX):
            age = STALE_NEW
        else:
            return
        try:
            st = os.stat(name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        try:
            if st.st_mtime >= now - age or not writer_gone(self.dir_fd, name):
                return
        except (OSError, JournalError):
            return  # not a file of ours (see _add)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self.dir_fd)
        if name in self._by_name:
            self._forget(name)


# --- writing ----------------------------------------------------------------------------


class SegmentWriter:
    """The segments of one writer (milter/ledger/sync.py's process): ``write`` puts
    records on disk, moving to a new segment when the current one is full or old."""

    def __init__(self, dir_fd: int, window: float) -> None:
        self.dir_fd = dir_fd
        self.window = window
        self._generation_fd = open_generation(dir_fd)
        self._fd = -1
        self._offset = 0
        self._started = 0.0

    def write(self, data: bytes) -> None:
        """``data`` (whole records) on disk when this returns; after an error the
        segment is given up (its state is unknown) and the next write starts another."""
        try:
            if self._fd < 0 or self._offset + len(data) > SEGMENT_BYTES - RECORD:
                self._new_segment()
            elif time.time() - self._started > self.window / _SLICES:
                # Segments end within a slice of time of each other, so the old ones
                # can be deleted soon after they have left the window.
                self._new_segment()
            view = memoryview(data)
            while view:
                # O_DSYNC: on disk when the write returns.
                written = os.pwrite(self._fd, view, self._offset)
                self._offset += written
                view = view[written:]
        except BaseException:
            self._abandon()
            raise

    def close(self) -> None:
        self._seal()
        if self._generation_fd >= 0:
            os.close(self._generation_fd)
            self._generation_fd = -1

    def leave_inherited(self) -> None:
        """In a forked child: close the parent's descriptors and write nothing (the
        segment's lock stays with the parent's copy)."""
        for fd in (self._fd, self._generation_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._generation_fd = -1

    def _new_segment(self) -> None:
        self._seal()
        self._started = time.time()
        name = f"{int(self._started * 1e6):016x}-{os.getpid()}-{secrets.token_hex(4)}.jnl"
        temporary = f"{NEW_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_DSYNC
        fd = open_private(self.dir_fd, temporary, flags)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held while this process has it open
            os.posix_fallocate(fd, 0, SEGMENT_BYTES)
            os.fsync(fd)
            os.rename(temporary, name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=self.dir_fd)
            raise
        self._fd, self._offset = fd, 0
        # The name is durable before any record in it counts as durable.
        os.fsync(self.dir_fd)
        os.pwrite(self._generation_fd, secrets.token_bytes(8), 0)

    def _seal(self) -> None:
        """End the current segment: readers stop looking at it."""
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            os.pwrite(self._fd, pack(bytes(KEY_BYTES), KIND_SEAL, b"", 0), self._offset)
        self._abandon()

    def _abandon(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)  # releases the lock: readers finish it once idle

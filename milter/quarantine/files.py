"""The quarantine's files: its directory layout, private modes, durable writes, safe reads.

Layout under the quarantine directory (every name is a constant or a validated id, never
message data)::

    tmp/<id>.eml, tmp/<id>.json   files being written; renamed away or removed
    tmp/<id>.sync                 marker: this entry's index row may lag its meta file
    msg/<id>.eml                  the raw message, exactly as received
    meta/<id>.json                envelope, client, verdict, auth, status and its history
    index.sqlite3                 the index (``index.py``); derived, rebuildable

Directories are 0700 and files 0600, owned by the directory's owner even when root writes
them. Files are created with O_CREAT|O_EXCL|O_NOFOLLOW and fsync'd; every open refuses a
symlink and every read a file that is not a regular one. In what order they are written,
and why that order is crash-safe, is ``store.py``'s doc.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from milter.errors import QuarantineError
from milter.quarantine.ids import is_valid_id
from milter.quarantine.records import NoSuchEntry, parse_meta

log = logging.getLogger("scam_milter.quarantine")

SUBDIRS = ("tmp", "msg", "meta")
_TMP_RE = re.compile(r"[0-9a-z]{26}\.(eml|json)")
MARKER = ".sync"  # tmp/<id>.sync: this entry's index row may lag its meta file
# A file left in tmp/ or msg/ by a crash is removed once it is this old; younger ones
# may belong to another instance writing the same directory right now.
STALE_TMP_SECONDS = 3600


class StoreFiles:
    """One quarantine directory: made private, checked, and read and written safely."""

    def __init__(self, directory: Path, *, create: bool) -> None:
        """Check (and with ``create``, make) ``directory`` and its subdirectories.

        Raises QuarantineError when the directory is missing (and not to be created),
        cannot be read, or is writable by group or others: anyone who can write there can
        plant or swap held messages.
        """
        self.directory = Path(directory)
        self.owner = self._prepare(create)

    # --- the directory ---------------------------------------------------------------------

    def _prepare(self, create: bool) -> tuple[int, int]:
        top = self.directory
        # Only the last component is made: parents made by makedirs would get the umask's
        # mode, not 0700 (Python >= 3.7), and a missing parent is a config mistake.
        st = _stat_or_make(top, create=create, follow=True, made=lambda _: fsync_dir(top.parent))
        check_mode(top, st, follow=True)
        owner = (st.st_uid, st.st_gid)
        if not os.access(top, os.R_OK | os.X_OK):
            raise QuarantineError(f"cannot read quarantine directory {top}: Permission denied.")

        def made_sub(path: Path) -> None:
            _chown(path, owner)
            # put() fsyncs msg/ and meta/, not their entries in the top directory: make
            # those durable once, here.
            fsync_dir(top)

        for name in SUBDIRS:
            path = top / name
            sub = _stat_or_make(path, create=True, follow=False, made=made_sub)
            check_mode(path, sub, follow=False)
        return owner

    def chown(self, path: Path | int) -> None:
        """Give ``path`` (or an open descriptor) to the directory's owner (when root)."""
        _chown(path, self.owner)

    def remove_stale_tmp(self) -> None:
        """Remove what crashed writers left in tmp/ more than an hour ago."""
        tmp = self.directory / "tmp"
        cutoff = time.time() - STALE_TMP_SECONDS
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
                f"cannot read quarantine directory {tmp}: {reason(exc)}."
            ) from exc

    @contextlib.contextmanager
    def dir_fds(self) -> Iterator[dict[str, int]]:
        """Descriptors of tmp/, msg/ and meta/ for the ``with`` block."""
        # Opened per call, not kept: close() could otherwise close a descriptor that a
        # put() in another thread is still using, and the number could be reused.
        fds: dict[str, int] = {}
        try:
            for name in SUBDIRS:
                fds[name] = os.open(
                    self.directory / name, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
                )
            yield fds
        finally:
            for fd in fds.values():
                os.close(fd)

    # --- writing ---------------------------------------------------------------------------

    def write_new(self, dir_fd: int, name: str, data: bytes, written: list[tuple[int, str]]) -> int:
        """Write a new private file durably; returns its inode number.

        ``(dir_fd, name)`` is appended to ``written`` as soon as the file exists, so the
        caller can remove it if anything later fails.
        """
        # O_EXCL: never write into a file someone else made (or a planted symlink).
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
        written.append((dir_fd, name))
        try:
            self.chown(fd)
            view = memoryview(data)
            while view:
                # os.write may write less than asked (signals, large buffers).
                count = os.write(fd, view)
                view = view[count:]
            os.fsync(fd)
            return os.fstat(fd).st_ino
        finally:
            os.close(fd)

    def write_marker(self, tmp_fd: int, entry_id: str, written: list[tuple[int, str]]) -> None:
        """Make ``tmp/<id>.sync`` (not fsync'd: the caller fsyncs tmp/ when it needs to)."""
        marker = os.open(
            entry_id + MARKER,
            os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=tmp_fd,
        )
        written.append((tmp_fd, entry_id + MARKER))
        try:
            self.chown(marker)
        finally:
            os.close(marker)

    # --- markers ---------------------------------------------------------------------------

    def markers(self) -> set[str]:
        """The ids whose marker is in tmp/."""
        tmp = self.directory / "tmp"
        try:
            names = os.listdir(tmp)
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantine directory {tmp}: {reason(exc)}."
            ) from exc
        stems = (n[: -len(MARKER)] for n in names if n.endswith(MARKER))
        return {stem for stem in stems if is_valid_id(stem)}

    def remove_markers(self, ids: Iterable[str]) -> None:
        tmp = self.directory / "tmp"
        for entry_id in ids:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp / f"{entry_id}{MARKER}")

    def unclaimed(self, ids: Iterable[str]) -> set[str]:
        """The ids among ``ids`` that no process has claimed: a claimed one's marker
        belongs to a change in flight, which updates the index itself."""
        free = set()
        with self.dir_fds() as fds:
            for entry_id in ids:
                try:
                    fd = open_no_follow(fds["msg"], f"{entry_id}.eml")
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

    # --- meta files ------------------------------------------------------------------------

    def meta_count(self) -> int:
        """The number of meta files."""
        meta = self.directory / "meta"
        try:
            # listdir, not scandir: only names, and no Python object per entry beyond them.
            return sum(1 for n in os.listdir(meta) if n.endswith(".json"))
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantine directory {meta}: {reason(exc)}."
            ) from exc

    def meta_inodes(self) -> dict[str, int]:
        """Stem -> inode number of every meta/*.json."""
        meta = self.directory / "meta"
        try:
            with os.scandir(meta) as it:
                # Stems that are not ids (an editor's backup, a stray file) are for the
                # caller to skip. DirEntry.inode() comes from readdir itself: no stat
                # per file.
                return {e.name[:-5]: e.inode() for e in it if e.name.endswith(".json")}
        except OSError as exc:
            raise QuarantineError(
                f"cannot read quarantine directory {meta}: {reason(exc)}."
            ) from exc

    def load_meta(self, meta_fd: int, entry_id: str) -> tuple[dict[str, Any], int]:
        """The checked meta file of ``entry_id`` and its inode number; NoSuchEntry."""
        try:
            data, ino = read_file_ino(meta_fd, f"{entry_id}.json")
        except FileNotFoundError:
            raise NoSuchEntry(f"no quarantined message has id {entry_id}.") from None
        return parse_meta(data, entry_id), ino

    def read_metas(self, ids: Iterable[str]) -> list[tuple[dict[str, Any], int]]:
        """The meta files of ``ids`` that can be read; the others are logged and skipped."""
        metas = []
        with self.dir_fds() as fds:
            for entry_id in sorted(ids):
                try:
                    metas.append(self.load_meta(fds["meta"], entry_id))
                except NoSuchEntry:
                    pass  # forgotten since the listing
                except (OSError, QuarantineError) as exc:
                    # One unreadable file must not hide every other held message.
                    log.error("quarantine entry %s skipped in the index: %s", entry_id, exc)
        return metas


# --- helpers -------------------------------------------------------------------------------


def reason(exc: OSError) -> str:
    """The error's text for a one-line message."""
    return exc.strerror or str(exc)


def check_mode(path: Path, st: os.stat_result, *, follow: bool) -> None:
    """QuarantineError unless ``st`` is a directory no group or other can write."""
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


def _stat_or_make(
    path: Path, *, create: bool, follow: bool, made: Callable[[Path], None]
) -> os.stat_result:
    """The stat of the quarantine directory ``path``; when it is missing and ``create``,
    it is made (mode 0700) first and ``made(path)`` runs. Errors become QuarantineError."""
    look = os.stat if follow else os.lstat
    try:
        return look(path)
    except FileNotFoundError:
        if not create:
            raise QuarantineError(f"quarantine directory {path} does not exist.") from None
        try:
            if mkdir_private(path):
                made(path)
            return look(path)
        except OSError as exc:
            raise QuarantineError(
                f"cannot create quarantine directory {path}: {reason(exc)}."
            ) from exc
    except OSError as exc:
        raise QuarantineError(f"cannot read quarantine directory {path}: {reason(exc)}.") from exc


def _chown(path: Path | int, owner: tuple[int, int]) -> None:
    # When root runs the CLI on the service's directory, files it creates (the index,
    # a rewritten meta file) must stay the service user's, or the service can no
    # longer write them.
    if os.geteuid() != 0 or owner == (0, 0):
        return
    if isinstance(path, int):
        os.fchown(path, *owner)
    else:
        os.chown(path, *owner, follow_symlinks=False)


def mkdir_private(path: Path) -> bool:
    """Make ``path`` with mode 0700; False when it already exists (checked by the caller)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        # Another instance starting on the same directory made it first.
        return False
    os.chmod(path, 0o700)  # the umask may have removed bits we need
    return True


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_file(dir_fd: int, name: str) -> bytes:
    """The content of regular file ``name`` in ``dir_fd`` (no symlink followed)."""
    return read_file_ino(dir_fd, name)[0]


def open_no_follow(dir_fd: int, name: str) -> int:
    """``name`` in ``dir_fd``, opened for reading; a symlink planted in the store is
    refused (ELOOP), never followed to some other file."""
    return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


def read_file_ino(dir_fd: int, name: str) -> tuple[bytes, int]:
    """The content of regular file ``name`` in ``dir_fd`` and its inode number."""
    # And a regular-file check: a fifo planted in the store must not make us read (and
    # show, or release) anything but a message.
    fd = open_no_follow(dir_fd, name)
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


def read_open_file(fd: int) -> bytes:
    """The whole content of the open regular file ``fd``, from its start."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def check_sha(entry_id: str, raw: bytes, sha256: str) -> None:
    """QuarantineError unless ``raw`` is what was stored (its recorded SHA-256)."""
    if hashlib.sha256(raw).hexdigest() != sha256:
        # Never show or release a truncated or altered message as if it were intact.
        raise QuarantineError(
            f"quarantined message {entry_id} does not match its recorded checksum."
        )

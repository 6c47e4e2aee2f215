"""OCR results by the image's SHA-256: a wave sends one image to thousands of recipients.

In memory, bounded (least recently used goes first), per worker; optionally also in a
directory shared by the workers and kept across restarts. The directory holds text read
from strangers' images, so it is private: 0700 (made so if looser; refused if another
user owns it), files 0600. File names come from the digest only (64 hex digits), never
from a file name or anything else in the message. A file is written beside its final
name and renamed into place, so a reader sees a whole entry or none.

An entry records the languages it was read with; read with others it is a miss.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

_DIGEST = re.compile(r"[0-9a-f]{64}")
_FORMAT = 1


@dataclass(frozen=True)
class CachedText:
    text: str
    languages: str
    timed_out: bool = False
    codes: tuple[str, ...] = ()  # QR codes and barcodes (codes.py)


# The directory is trimmed after this many writes of a process (listing it costs a
# stat per file): a wave of distinct images cannot fill the disk between two trims.
TRIM_EVERY: Final = 256


class OcrCache:
    def __init__(
        self,
        max_entries: int = 4096,
        directory: Path | str | None = None,
        max_disk_entries: int = 50_000,
    ) -> None:
        self.max_entries = max_entries
        # Files kept in the directory (a letter's text is a few KB): past it, the least
        # recently written go first.
        self.max_disk_entries = max_disk_entries
        self._writes = 0
        self._memory: OrderedDict[str, CachedText] = OrderedDict()
        self._lock = threading.Lock()
        self.directory = Path(directory) if directory else None
        if self.directory is not None:
            _private_directory(self.directory)

    def get(self, digest: str, languages: str) -> CachedText | None:
        _check(digest)
        with self._lock:
            found = self._memory.get(digest)
            if found is not None:
                self._memory.move_to_end(digest)
        if found is None and self.directory is not None:
            found = self._read(digest)
            if found is not None:
                self._remember(digest, found)
        if found is None or found.languages != languages:
            return None
        return found

    def put(self, digest: str, entry: CachedText) -> None:
        _check(digest)
        self._remember(digest, entry)
        # A timeout is remembered in memory only: a restart, or another worker, may
        # have the time to read the image.
        if self.directory is not None and not entry.timed_out:
            self._write(digest, entry)

    def __len__(self) -> int:
        with self._lock:
            return len(self._memory)

    def _remember(self, digest: str, entry: CachedText) -> None:
        with self._lock:
            self._memory[digest] = entry
            self._memory.move_to_end(digest)
            while len(self._memory) > self.max_entries:
                self._memory.popitem(last=False)

    def _read(self, digest: str) -> CachedText | None:
        assert self.directory is not None
        try:
            with open(self.directory / digest, "rb") as handle:
                record = json.loads(handle.read(4_000_000))
            if record.get("v") != _FORMAT:
                return None
            codes = tuple(str(code) for code in record.get("codes", ()))
            return CachedText(str(record["text"]), str(record["languages"]), codes=codes)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing, half-written by an old version, or foreign: a miss

    def _write(self, digest: str, entry: CachedText) -> None:
        assert self.directory is not None
        final = self.directory / digest
        partial = self.directory / f"{digest}.{os.getpid()}.{threading.get_ident()}.tmp"
        body = json.dumps(
            {
                "v": _FORMAT,
                "languages": entry.languages,
                "text": entry.text,
                "codes": list(entry.codes),
            }
        )
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(body)
            os.replace(partial, final)
        except OSError:
            # A full disk costs the shared cache an entry, never the message its verdict.
            partial.unlink(missing_ok=True)
            return
        with self._lock:
            self._writes += 1
            due = self._writes % TRIM_EVERY == 0
        if due:
            self.trim()

    def trim(self) -> int:
        """Remove the oldest files past ``max_disk_entries`` (and leftovers of writes cut
        short); returns how many went. Workers may trim at once: a file another one
        removed first is simply gone."""
        assert self.directory is not None
        entries: list[tuple[float, Path]] = []
        removed = 0
        try:
            with os.scandir(self.directory) as listing:
                for entry in listing:
                    try:
                        written = entry.stat(follow_symlinks=False).st_mtime
                    except OSError:
                        continue
                    if _DIGEST.fullmatch(entry.name):
                        entries.append((written, Path(entry.path)))
                    elif entry.name.endswith(".tmp") and written < time.time() - 3600:
                        Path(entry.path).unlink(missing_ok=True)
                        removed += 1
        except OSError:
            return removed
        excess = len(entries) - self.max_disk_entries
        if excess > 0:
            entries.sort()
            for _, path in entries[:excess]:
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
        return removed


def _check(digest: str) -> None:
    if not _DIGEST.fullmatch(digest):
        raise ValueError("cache keys are SHA-256 hex digests")


def _private_directory(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise ValueError(f"OCR cache {directory} is not a directory")
    if info.st_uid != os.getuid():
        raise ValueError(f"OCR cache {directory} belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        # Created by us with a umask or by hand: made private rather than refused,
        # as it is ours.
        os.chmod(directory, 0o700)

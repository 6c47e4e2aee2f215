"""gzip and tar attachments opened within the archive limits (issue 12, "Containers").

The standard library reads both, so they cost no dependency: "Vorladung.pdf.gz",
"akte.tar.gz", "scan.tgz". The limits are ZIP's (archives.py), and the budget of
uncompressed bytes is the same one all the archives of a message share:

- gzip has no trustworthy size header, so it is inflated a chunk at a time with
  ``max_length`` and stopped at the ratio limit (past ``GZIP_RATIO_FLOOR``) or the budget: a
  bomb is refused after inflating at most what the limits allow, never unpacked whole;
- a tar is read from those bytes (already within the budget): its member headers give
  the sizes, the member count is capped, and nested tarballs or ZIPs are not opened (a
  note says so; the ZIP path handles nesting for ZIPs).

Members are then read like a ZIP's (archives.read_members).
"""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Callable
from typing import Final

from milter.mail.archives import (
    CHUNK,
    ArchiveBudget,
    ArchiveLimits,
    Found,
    is_zip,
    read_members,
)

_GZIP_MAGIC: Final = b"\x1f\x8b"
GZIP_RATIO_FLOOR: Final = 1_000_000
_TAR_MAGIC_AT: Final = 257  # "ustar" in every POSIX and GNU tar header
_NAMES: Final = (".tar", ".tgz", ".tar.gz", ".gz")
TARBALL_TYPES: Final = frozenset(
    {"application/gzip", "application/x-gzip", "application/x-tar", "application/x-gtar"}
)


def is_tarball(content_type: str, filename: str, head: bytes) -> bool:
    """A gzip or tar attachment: typed or named so, and starting like one."""
    named = filename.lower().endswith(_NAMES) or content_type in TARBALL_TYPES
    return named and (head.startswith(_GZIP_MAGIC) or _is_tar(head))


def _is_tar(head: bytes) -> bool:
    return head[_TAR_MAGIC_AT : _TAR_MAGIC_AT + 5] == b"ustar"


def read_tarball(
    data: bytes,
    name: str,
    limits: ArchiveLimits,
    budget: ArchiveBudget,
    read_pdf: Callable[[bytes, str], str],
) -> Found:
    """The members of a gzip or tar attachment, read like attachments, and notes on
    what the limits left unread."""
    if budget.bytes_left is None:
        budget.bytes_left = limits.archive_max_bytes
    name = name or "archive.gz"
    notes: list[str] = []
    payload = data
    inner = name
    if data.startswith(_GZIP_MAGIC):
        payload, note = _gunzip(data, name, limits, budget, notes)
        if note:
            return Found(notes=(note,))
        inner = name[: -len(".gz")] if name.lower().endswith(".gz") else name
        if name.lower().endswith(".tgz"):
            inner = name[: -len(".tgz")] + ".tar"
    # A tar, or a single gzipped file ("Vorladung.pdf.gz").
    is_tar = _is_tar(payload[:512])
    members = _untar(payload, name, limits, notes) if is_tar else [(inner, payload)]
    return read_members(members, notes, limits, read_pdf)


def _gunzip(
    data: bytes, name: str, limits: ArchiveLimits, budget: ArchiveBudget, notes: list[str]
) -> tuple[bytes, str]:
    """The inflated bytes (what there is of a cut file, noted), or a note on why they
    were refused."""
    left = budget.bytes_left or 0
    # The ratio counts past a megabyte: a tar of small files is mostly zero padding and
    # compresses past 100:1 without being a bomb; the budget is the hard cap.
    allowed = min(left, max(len(data) * limits.archive_max_ratio, GZIP_RATIO_FLOOR))
    inflater = zlib.decompressobj(wbits=31)  # a gzip header and trailer
    out: list[bytes] = []
    size = 0
    pending = data
    try:
        while pending and not inflater.eof:
            chunk = inflater.decompress(pending, CHUNK)
            pending = inflater.unconsumed_tail
            size += len(chunk)
            if size > allowed:
                return b"", (
                    f"archive {name!r} not read (gzip bomb?): it unpacks to more than "
                    f"the limits allow ({size:,} bytes so far)"
                )
            out.append(chunk)
    except zlib.error as exc:
        return b"", f"archive {name!r} not read: damaged ({exc})"
    budget.bytes_left = left - size
    if not inflater.eof:
        notes.append(f"archive {name!r} read in part: damaged (it ends early)")
    return b"".join(out), ""


def _untar(
    payload: bytes, name: str, limits: ArchiveLimits, notes: list[str]
) -> list[tuple[str, bytes]]:
    members: list[tuple[str, bytes]] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as archive:
            for count, info in enumerate(archive):
                if count >= limits.archive_max_members:
                    notes.append(
                        f"archive {name!r}: more than {limits.archive_max_members} members, "
                        f"only the first {limits.archive_max_members} read"
                    )
                    break
                if not info.isfile():
                    continue  # directories, links, devices: nothing to read
                path = f"{name}/{info.name[:200]}"
                handle = archive.extractfile(info)
                member = handle.read(info.size) if handle is not None else b""
                if is_zip("", info.name, member[:4]) or is_tarball("", info.name, member[:512]):
                    notes.append(f"archive {path!r} not read: an archive inside a tarball")
                    continue
                members.append((path, member))
    except (tarfile.TarError, OSError, EOFError) as exc:
        notes.append(f"archive {name!r} read in part: damaged ({type(exc).__name__})")
    return members

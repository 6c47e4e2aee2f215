"""ZIP attachments opened within limits, in memory (issue 12, "Containers").

Scams hide their text in a ZIP, and a ZIP can be a bomb: a few kilobytes that claim (or
hide) gigabytes. So an archive is judged from its central directory BEFORE anything is
decompressed (member count, total uncompressed size, each member's compression ratio,
nesting depth), and the same limits are enforced again while reading, in bounded chunks:
a header that lies about a size cannot get past. A bomb is refused with a note and never
unpacked. What a limit leaves unread comes back as a note, which the view records as a
partial read (structure.py), so the verdict says so (docs/architecture.md, "nothing
unread").

Encrypted archives are opened with a password written in the message text ("password:
4711"): attackers do this to hide from scanners. ZipCrypto by the stdlib; WinZip AES
(what 7-Zip and WinZip write when asked for AES-256) by pyzipper, whose AES runs in C
(pycryptodomex): the stdlib has no AES at all. Only stored and deflated members are
read: other methods (bzip2, lzma) are rare in mail and their decompressors take no output
bound in the stdlib's zipfile.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

import pyzipper

from milter.mail.clip import head_and_tail
from milter.mail.images import image_type, looks_like_image
from milter.mail.mime_decode import decode_bytes

CHUNK: Final = 64 * 1024
ZIP_TYPES: Final = frozenset(
    {"application/zip", "application/x-zip-compressed", "application/x-zip", "multipart/x-zip"}
)
_ZIP_MAGIC: Final = b"PK\x03\x04"
_AES_METHOD: Final = 99  # WinZip AES (APPNOTE 4.4.5, method 99)
_READABLE_METHODS: Final = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# Small members can have absurd ratios (a file of blanks); only members past this size
# count against the ratio limit. Many small ones are bounded by the total size limit.
RATIO_FLOOR: Final = 64 * 1024
# The stdlib decrypts ZipCrypto in Python, 0.4 s per MB here: every try (a wrong password
# passes the check byte once in 256) counts against this many bytes per message.
MAX_ENCRYPTED_BYTES: Final = 2_000_000
MAX_PASSWORDS: Final = 8
# Where a password is searched: the start and the end of the message text.
PASSWORD_SCAN_CHARS: Final = 50_000
_PASSWORD: Final = re.compile(
    r"(?:password|passwort|kennwort|mot de passe|wachtwoord|senha|contrase[ñn]a|parola"
    r"|has[łl]o|heslo|pass)\s{0,3}(?:[:=：]|is|ist|est|é|es)\s{0,3}[\"'«„“]?"
    r"([^\s\"'«»“”„]{1,64})",
    re.IGNORECASE,
)
_TEXT_NAMES: Final = (".txt", ".text", ".htm", ".html", ".eml", ".csv", ".xml", ".rtf", ".md")
_PDF_MAGIC: Final = b"%PDF-"


class ArchiveLimits(Protocol):
    """The ViewLimits fields this module reads (view.py owns them)."""

    @property
    def archive_max_depth(self) -> int: ...

    @property
    def archive_max_members(self) -> int: ...

    @property
    def archive_max_bytes(self) -> int: ...

    @property
    def archive_max_ratio(self) -> int: ...

    @property
    def max_text_chars(self) -> int: ...


@dataclass
class ArchiveBudget:
    """Uncompressed bytes left for all archives of one message (None until first use),
    and encrypted bytes left to decrypt."""

    bytes_left: int | None = None
    encrypted_left: int = MAX_ENCRYPTED_BYTES


@dataclass(frozen=True)
class Found:
    """Members read from one archive (nested ones flattened): (name, content type, size,
    text), names as "archive.zip/member.pdf"; ``notes`` say what was not read."""

    members: tuple[tuple[str, str, int, str], ...] = ()
    notes: tuple[str, ...] = ()
    images: tuple[tuple[str, bytes], ...] = ()  # image members, for OCR


@dataclass
class _Opening:
    limits: ArchiveLimits
    budget: ArchiveBudget
    passwords: tuple[bytes, ...]
    members: list[tuple[str, bytes]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Refused(Exception):
    """An archive (or a member) not read; the message is the note."""


def is_zip(content_type: str, filename: str, head: bytes) -> bool:
    """A ZIP attachment: named or typed so, and starting like one. Office documents are
    ZIPs too, but their parts are no attachments: they are left alone."""
    named = filename.lower().endswith(".zip") or content_type in ZIP_TYPES
    return named and head.startswith(_ZIP_MAGIC)


def passwords_in(text: str) -> tuple[bytes, ...]:
    """Passwords written in ``text`` ("password: 4711", "Passwort: 4711", ...)."""
    if len(text) > 2 * PASSWORD_SCAN_CHARS:
        text = text[:PASSWORD_SCAN_CHARS] + "\n" + text[-PASSWORD_SCAN_CHARS:]
    found: dict[bytes, None] = {}
    for match in _PASSWORD.finditer(text):
        word = match.group(1)
        for candidate in (word, word.rstrip(".,;:!?)]")):
            if candidate:
                found[candidate.encode("utf-8")] = None
        if len(found) >= MAX_PASSWORDS:
            break
    return tuple(found)[:MAX_PASSWORDS]


def open_zip(
    data: bytes, name: str, limits: ArchiveLimits, budget: ArchiveBudget, text: str = ""
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The members of the ZIP in ``data`` as (name, bytes), nested archives opened within
    the same limits, and notes on what was not read. ``text`` is the message text, where
    a password may be written."""
    if budget.bytes_left is None:
        budget.bytes_left = limits.archive_max_bytes
    opening = _Opening(limits, budget, passwords_in(text) if text else ())
    _open(opening, data, name or "archive.zip", 1)
    return opening.members, opening.notes


def read_zip(
    data: bytes,
    name: str,
    limits: ArchiveLimits,
    budget: ArchiveBudget,
    text: str,
    read_pdf: Callable[[bytes, str], str],
) -> Found:
    """The members of a ZIP attachment read like attachments: PDFs by ``read_pdf``, text
    members as text, others listed by name."""
    members, notes = open_zip(data, name, limits, budget, text)
    return read_members(members, notes, limits, read_pdf)


def read_members(
    members: list[tuple[str, bytes]],
    notes: list[str],
    limits: ArchiveLimits,
    read_pdf: Callable[[bytes, str], str],
) -> Found:
    """Archive members (of a ZIP or a tarball) read like attachments: PDFs by
    ``read_pdf``, text members as text, images kept for OCR, others listed by name."""
    read: list[tuple[str, str, int, str]] = []
    images: list[tuple[str, bytes]] = []
    for member_name, member in members:
        lower = member_name.lower()
        content = ""
        if lower.endswith(".pdf") or member[:1024].find(_PDF_MAGIC) >= 0:
            kind, content = "application/pdf", read_pdf(member, member_name)
        elif lower.endswith(_TEXT_NAMES):
            kind = "text/html" if lower.endswith((".htm", ".html")) else "text/plain"
            decoded, _unknown = decode_bytes(member, None)
            head, tail = head_and_tail(decoded, limits.max_text_chars)
            content = head + "\n" + tail if tail else head
            if tail:
                notes.append(f"{member_name!r}: its middle not read")
        elif looks_like_image("", member_name, member[:16]):
            kind = image_type(member[:16])
            images.append((member_name, member))
        else:
            kind = "application/octet-stream"
        read.append((member_name, kind, len(member), content))
    return Found(tuple(read), tuple(notes), tuple(images))


def _open(opening: _Opening, data: bytes, name: str, depth: int) -> None:
    limits = opening.limits
    if depth > limits.archive_max_depth:
        opening.notes.append(
            f"archive {name!r} not read: nested deeper than {limits.archive_max_depth} archives"
        )
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except Exception as exc:  # any damage: zipfile raises many kinds
        opening.notes.append(
            f"archive {name!r} not read: not a readable ZIP ({type(exc).__name__})"
        )
        return
    if len(infos) > limits.archive_max_members:
        opening.notes.append(
            f"archive {name!r}: {len(infos)} members, only the first "
            f"{limits.archive_max_members} read"
        )
        infos = infos[: limits.archive_max_members]
    try:
        _check_directory(opening, infos, name)
    except _Refused as refused:
        opening.notes.append(str(refused))
        return
    # AES members are read through pyzipper's view of the same bytes, which knows their
    # real compression method; the limits above were checked on the stdlib's.
    aes = _aes_members(data) if any(i.compress_type == _AES_METHOD for i in infos) else {}
    with archive:
        for info in infos:
            path = f"{name}/{info.filename[:200]}"
            reader, entry = aes.get(info.header_offset, (archive, info))
            try:
                member = _read_member(opening, reader, entry, path)
            except _Refused as refused:
                opening.notes.append(str(refused))
                if "bomb" in str(refused):
                    return  # a lying header: nothing more of this archive is trusted
                continue
            if is_zip("", info.filename, member[:4]):
                _open(opening, member, path, depth + 1)
            else:
                opening.members.append((path, member))


def _aes_members(data: bytes) -> dict[int, tuple[zipfile.ZipFile, zipfile.ZipInfo]]:
    """Each AES-encrypted member by its header offset, as pyzipper reads it."""
    try:
        archive = pyzipper.AESZipFile(io.BytesIO(data))
        return {
            info.header_offset: (archive, info)
            for info in archive.infolist()
            if isinstance(info, pyzipper.zipfile_aes.AESZipInfo)
        }
    except Exception:  # damaged: the members stay unread, with the note below
        return {}


def _check_directory(opening: _Opening, infos: list[zipfile.ZipInfo], name: str) -> None:
    """Refuse a bomb from what the central directory claims, before decompressing."""
    limits = opening.limits
    claimed = sum(info.file_size for info in infos)
    left = opening.budget.bytes_left or 0
    if claimed > left:
        raise _Refused(
            f"archive {name!r} not read (zip bomb?): its members claim {claimed:,} bytes, "
            f"over the limit of {limits.archive_max_bytes:,} for the message"
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > limits.archive_max_ratio:
            raise _Refused(
                f"archive {name!r} not read (zip bomb?): {info.filename[:200]!r} compressed "
                f"{ratio:,.0f}:1, over the limit of {limits.archive_max_ratio}:1"
            )


def _read_member(
    opening: _Opening, archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str
) -> bytes:
    """One member, read in chunks and stopped as soon as it outgrows its own header, the
    ratio limit or the budget of the message."""
    encrypted = bool(info.flag_bits & 0x1)
    if info.compress_type == _AES_METHOD:  # pyzipper could not make sense of it
        raise _Refused(f"encrypted archive not read: {path!r} has a damaged AES header")
    if info.compress_type not in _READABLE_METHODS:
        raise _Refused(f"{path!r} not read: compression method {info.compress_type}")
    passwords: tuple[bytes | None, ...] = opening.passwords if encrypted else (None,)
    for password in passwords:
        if encrypted and info.compress_size > opening.budget.encrypted_left:
            raise _Refused(
                f"encrypted archive not read: {path!r} is past the {MAX_ENCRYPTED_BYTES:,} "
                "bytes the message may have decrypted"
            )
        opening.budget.encrypted_left -= info.compress_size if encrypted else 0
        try:
            return _read_chunks(opening, archive, info, path, password)
        except (
            RuntimeError,
            ValueError,
            zlib.error,
            zipfile.BadZipFile,
            pyzipper.BadZipFile,
        ) as exc:
            if not encrypted:
                raise _Refused(
                    f"{path!r} not read: damaged, or its header lies ({exc.__class__.__name__})"
                ) from None
    raise _Refused(f"encrypted archive not read: no password in the message opens {path!r}")


def _read_chunks(
    opening: _Opening,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    path: str,
    password: bytes | None,
) -> bytes:
    limits = opening.limits
    left = opening.budget.bytes_left or 0
    # Past what its header says, past the ratio limit, or past the budget: a lie or a bomb.
    allowed = min(info.file_size, max(info.compress_size, 1) * limits.archive_max_ratio)
    allowed = max(allowed, min(info.file_size, RATIO_FLOOR))
    chunks: list[bytes] = []
    size = 0
    with archive.open(info, pwd=password) as stream:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > allowed or size > left:
                raise _Refused(
                    f"archive member {path!r} not read (zip bomb?): it unpacks to more "
                    f"than its header says or the limits allow ({size:,} bytes so far)"
                )
            chunks.append(chunk)
    opening.budget.bytes_left = left - size
    return b"".join(chunks)

"""DATA as the SMTP front reads it: framing, dot-unstuffing, the size limit, and the
bound on how many big messages a worker holds in memory at once.

Split from ``milter.smtp.front`` (which calls ``receive_data`` for every DATA) so that
the front keeps to commands and sessions. Memory: a message costs its worker a few
times its size while it is read, scanned and relayed (bench/memory_peak.py), so past
``big_message_size`` a message needs one of a few slots; one that must wait for its
slot waits in a nameless spool file on disk, not in memory (docs/postfix.md, "Limits
that protect the filter").
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from milter.smtp.replies import Reply

log = logging.getLogger("scam_milter.smtp")

TOO_BIG = Reply(552, "5.3.4 Message size exceeds fixed maximum message size")
NO_STORAGE = Reply(452, "4.3.1 Insufficient system storage")


@dataclass
class BigMessages:
    """A worker's slots for big messages, and where those that wait are spooled."""

    size: int  # past this many bytes a message needs a slot
    at_once: int
    spool_dir: Path | None  # None: the system's temp folder
    slots: asyncio.Semaphore = field(init=False)
    spooled: int = 0  # big messages that waited for their slot in a spool file

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.at_once)

    def ticket(self) -> SlotTicket:
        return SlotTicket(self)

    def open_spool(self, chunks: list[bytes]) -> tuple[BinaryIO | None, Reply | None]:
        """A nameless spool file (O_TMPFILE: gone with the process, whatever happens)
        holding ``chunks``; or the reply that refuses the message if there is no room."""
        try:
            # Closed by receive_data, which keeps it past this call.
            spool = tempfile.TemporaryFile(dir=self.spool_dir)  # noqa: SIM115
        except OSError as exc:
            log.error("cannot spool a big message: %s", exc)
            return None, NO_STORAGE
        self.spooled += 1
        for chunk in chunks:
            refusal = _spool_write(spool, chunk)
            if refusal is not None:
                spool.close()
                return None, refusal
        return spool, None


@dataclass
class SlotTicket:
    """One DATA's claim on a slot: taken at most once, released once."""

    big: BigMessages
    held: bool = False

    async def acquire(self) -> None:
        await self.big.slots.acquire()
        self.held = True  # no await between: a cancel cannot leave a slot unowned

    def release(self) -> None:
        if self.held:
            self.held = False
            self.big.slots.release()


async def receive_data(reader: asyncio.StreamReader, limit: int, slot: SlotTicket) -> bytes | Reply:
    """The message up to CRLF "." CRLF, un-dot-stuffed; or the reply that refuses it
    (over the size limit, or no room to spool it), once all of it was read.

    Only CRLF counts as a line end (RFC 5321 2.3.8): a bare LF or CR is message data,
    so "\\n.\\r\\n" does not end the message (the SMTP smuggling attack relies on
    servers that take it as the end). Bytes arrive exactly as sent, CRLF kept, with
    the first "." of each line that starts with one removed (RFC 5321 4.5.2). The size
    limit applies to the bytes received (dot-stuffed).

    Past ``big_message_size`` the message needs one of the front's big slots. With
    one free it goes on in memory and ``slot`` keeps it; otherwise the rest goes to a
    spool file (no name, 0600, in ``spool_dir``) and the slot is awaited once the
    message is complete, so a message waiting for its turn holds no memory. The
    caller releases the slot once the message is answered.
    """
    big = slot.big
    chunks: list[bytes] = []
    spool: BinaryIO | None = None
    refusal: Reply | None = None  # once set, the rest is read and dropped
    size = 0
    tail = b"\r\n"  # the line end before the first line: DATA's own
    try:
        while True:
            last = False  # this piece ends the message (its "." line cut off)
            try:
                if tail == b"\r\n" and _starts_other_than_dot(reader):
                    # The next line is not ".", so any end of the message ahead has
                    # all of its CRLF "." CRLF still unread: one read takes all up to
                    # it, however many lines end with a full stop.
                    piece = (await reader.readuntil(b"\r\n.\r\n"))[:-3]
                    last = True
                else:
                    # Scanning for ".\r\n" instead of every line end cuts the number
                    # of reads; whether it ends the message depends on what precedes.
                    piece = await reader.readuntil(b".\r\n")
                    before = piece[:-3]
                    if (tail + before[-2:])[-2:] == b"\r\n":
                        piece, last = before, True  # "." alone on a line
            except asyncio.LimitOverrunError as exc:
                # No ".\r\n" within the buffer limit: take what was scanned and go
                # on. (The reader keeps the last two bytes: a ".\r\n" is never split.)
                piece = await reader.readexactly(exc.consumed)
            except asyncio.IncompleteReadError as exc:
                raise ConnectionResetError("connection closed during DATA") from exc
            size += len(piece)
            tail = (tail + piece[-2:])[-2:]
            if refusal is None and size > limit:
                # Keep reading to the end (RFC 5321 4.2.5) but keep nothing.
                refusal = TOO_BIG
            if refusal is not None:
                chunks.clear()
                if last:
                    return refusal
                continue
            if spool is None and not slot.held and size > big.size:
                if not big.slots.locked():
                    await slot.acquire()  # one is free: returns at once
                else:
                    spool, refusal = big.open_spool(chunks)
                    chunks.clear()
            if spool is not None and refusal is None:
                refusal = _spool_write(spool, piece)
            elif refusal is None:
                chunks.append(piece)
            if last:
                break
        if refusal is not None:
            return refusal
        if spool is not None:
            # Complete: now wait for a slot, holding nothing but the file.
            await slot.acquire()
            spool.seek(0)
            data = spool.read()
        else:
            data = b"".join(chunks)
            chunks.clear()
    finally:
        if spool is not None:
            spool.close()
    if data.startswith(b"."):
        data = data[1:]
    # Every line start is the message start or follows a CRLF; "\r\n." cannot
    # overlap itself, so one replace un-stuffs every line.
    return data.replace(b"\r\n.", b"\r\n")


def _spool_write(spool: BinaryIO, piece: bytes) -> Reply | None:
    # A blocking write, but into the page cache: far faster than the client sends.
    try:
        spool.write(piece)
    except OSError as exc:
        log.error("cannot spool a big message: %s", exc)
        return NO_STORAGE
    return None


def _starts_other_than_dot(reader: asyncio.StreamReader) -> bool:
    """True when the bytes already received show that the next line is not ".".

    StreamReader has no peek; its buffer (``_buffer``, a bytearray in every CPython
    since 3.4) is read here, never changed. Fewer than three bytes received, or a
    StreamReader without that buffer: unknown, and DATA is read the slower way.
    """
    buffered = getattr(reader, "_buffer", b"")
    return len(buffered) >= 3 and buffered[:3] != b".\r\n"

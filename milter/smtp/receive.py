"""DATA as the SMTP front reads it: the reading (the framing is milter/smtp/data.py's,
without I/O), and the bound on how many big messages a worker holds in memory at once.

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

from milter.smtp.data import DataFramer
from milter.smtp.replies import Reply
from milter.smtp.session import TOO_BIG

log = logging.getLogger("scam_milter.smtp")

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

    The framing (the terminator, dot-stuffing, the size limit) is ``DataFramer``'s
    (milter/smtp/data.py); this reads what it asks for and nothing past the terminator,
    so a command pipelined behind it stays in the reader for the front.

    Past ``big_message_size`` the message needs one of the front's big slots. With
    one free it goes on in memory and ``slot`` keeps it; otherwise the rest goes to a
    spool file (no name, 0600, in ``spool_dir``) and the slot is awaited once the
    message is complete, so a message waiting for its turn holds no memory. The
    caller releases the slot once the message is answered.
    """
    big = slot.big
    framer = DataFramer(limit)
    spool: BinaryIO | None = None
    refusal: Reply | None = None  # once set, the rest is read and dropped
    try:
        while not framer.ended:
            wanted = framer.next_read()
            try:
                if isinstance(wanted, int):
                    piece = await reader.readexactly(wanted)
                else:
                    piece = await reader.readuntil(wanted)
            except asyncio.LimitOverrunError as exc:
                # No delimiter within the buffer limit: take what was scanned and go on.
                # (The reader keeps the bytes a delimiter split there could start with.)
                piece = await reader.readexactly(exc.consumed)
            except asyncio.IncompleteReadError as exc:
                raise ConnectionResetError("connection closed during DATA") from exc
            framer.feed(piece)
            if refusal is None and framer.over_limit:
                refusal = TOO_BIG
            if refusal is not None:
                framer.take_pieces()  # read on to the end, keeping nothing
                continue
            if spool is None and not slot.held and framer.size > big.size:
                if not big.slots.locked():
                    await slot.acquire()  # one is free: returns at once
                else:
                    spool, refusal = big.open_spool(framer.take_pieces())
            elif spool is not None:
                for kept in framer.take_pieces():
                    refusal = refusal or _spool_write(spool, kept)
        if refusal is not None:
            return refusal
        spooled = b""
        if spool is not None:
            # Complete: now wait for a slot, holding nothing but the file.
            await slot.acquire()
            spool.seek(0)
            spooled = spool.read()
    finally:
        if spool is not None:
            spool.close()
    return framer.message(spooled)


def _spool_write(spool: BinaryIO, piece: bytes) -> Reply | None:
    # A blocking write, but into the page cache: far faster than the client sends.
    try:
        spool.write(piece)
    except OSError as exc:
        log.error("cannot spool a big message: %s", exc)
        return NO_STORAGE
    return None

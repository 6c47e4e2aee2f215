"""DATA framing, without I/O (h11's discipline; the reading is in receive.py).

What a server must get exactly right about DATA (RFC 5321 4.1.1.4, 4.5.2, 2.3.8):

- The message ends at CRLF "." CRLF, where the first CRLF may be the one that ended the
  DATA command itself (an empty message). Only CRLF counts as a line end: a bare LF or
  CR is message data, so "\\n.\\r\\n" does not end the message (SMTP smuggling relies on
  servers that take it as the end).
- The first "." of every line that starts with one is removed (dot-stuffing).
- The size limit applies to the bytes received (dot-stuffed), and a message over it is
  still read to its end before the refusal (4.2.5).
- Nothing after the terminator is message data: a client may pipeline its next command
  behind it, and it must be read as a command.

The framer never asks for more than it needs: ``next_read`` tells the reader what to
read next, taking into account the part of the terminator the bytes so far may already
end with: up to a delimiter (``StreamReader.readuntil``), or, at the start of a line,
exactly three bytes (``readexactly``), which are "." CRLF if the message ends there and
otherwise let the rest be read up to the whole terminator in one go, however many of
its lines end with a full stop. So the reader never reads past the terminator and never
needs to look into its buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TERMINATOR = b"\r\n.\r\n"
# The longest part of the terminator that received bytes can end with without the
# message having ended.
_KEEP = len(TERMINATOR) - 1
_TERMINATOR_BYTES = (b"\r", b"\n", b".")


@dataclass
class DataFramer:
    """One DATA in progress: feed it what was read, in pieces cut anywhere."""

    limit: int  # bytes of message (dot-stuffed) allowed
    # The bytes received so far, as far as the terminator needs them; DATA's own CRLF
    # counts as received, so that "." CRLF right away ends an empty message.
    _tail: bytes = b"\r\n"
    received: int = 0  # bytes fed, the terminator included once it came
    ended: bool = False
    _pieces: list[bytes] = field(default_factory=list)

    def next_read(self) -> bytes | int:
        """What to read next: bytes up to and including a delimiter (the rest of the
        terminator after the longest part of it the bytes so far end with; the whole
        terminator if none), or, at the start of a line, a number of bytes (3: at
        least "." CRLF is still to come there, so this never reads past the end)."""
        tail = self._tail
        if tail[-1:] not in _TERMINATOR_BYTES:
            return TERMINATOR  # most reads end within a line: nothing of it yet
        for overlap in range(min(_KEEP, len(tail)), 0, -1):
            if tail.endswith(TERMINATOR[:overlap]):
                if overlap == 2:
                    return 3
                return TERMINATOR[overlap:]
        return TERMINATOR

    def feed(self, piece: bytes) -> bool:
        """Take the next bytes read; True when they end the message. Pieces need not
        end at a delimiter (a read may stop at a buffer limit), but must not run past
        the terminator: read what ``next_read()`` says and this holds."""
        if self.ended:
            raise ValueError("DATA already ended")
        self.received += len(piece)
        if len(piece) >= len(TERMINATOR):
            # No copy of a big piece: its own end holds all the terminator can need.
            self.ended = piece.endswith(TERMINATOR)
            self._tail = piece[-_KEEP:]
        else:
            joined = self._tail + piece
            self.ended = joined.endswith(TERMINATOR)
            self._tail = joined[-_KEEP:]
        if self.over_limit:
            # Read on to the end (RFC 5321 4.2.5) but keep nothing.
            self._pieces.clear()
        elif piece:
            self._pieces.append(piece)
        return self.ended

    @property
    def size(self) -> int:
        """Bytes of message received (dot-stuffed), the terminator's "." CRLF not
        counted once it came."""
        return self.received - 3 if self.ended else self.received

    @property
    def over_limit(self) -> bool:
        # The terminator's "." CRLF is not message; before the end, the last three bytes
        # may yet be it. (Once over, always over: nothing is kept from then on.)
        return self.received - 3 > self.limit

    def take_pieces(self) -> list[bytes]:
        """Hand over the pieces kept so far (to spool them), keeping none."""
        pieces, self._pieces = self._pieces, []
        return pieces

    def message(self, spooled: bytes = b"") -> bytes:
        """The message, un-dot-stuffed, once ended and within the limit; ``spooled``: the
        pieces handed over by ``take_pieces``, read back, which come first."""
        if not self.ended or self.over_limit:
            raise ValueError("no message: DATA has not ended, or was over the limit")
        data = spooled + b"".join(self._pieces)
        self._pieces.clear()
        # Everything before the terminator's "." CRLF (its CRLF ends the last line).
        data = data[:-3]
        if data.startswith(b"."):
            data = data[1:]
        # Every line start is the message start or follows a CRLF; "\r\n." cannot
        # overlap itself, so one replace un-stuffs every line.
        return data.replace(b"\r\n.", b"\r\n")

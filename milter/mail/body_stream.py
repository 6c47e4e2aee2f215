"""Decoding a part's body from slices of the message, a bounded chunk at a time.

A big part's body is left in the raw message as slices (mime_raw.py). For an attachment
the reader does not read it needs only the decoded size, whether it is blank, its first
bytes and the decoding defects; for text, the start and the end (clip.py); for a PDF,
all of it. ``LazyBody`` gives each from one pass over chunks of CHUNK bytes, with the
bytes and the defects that ``Message.get_payload(decode=True)`` gives for the whole body
(quoted-printable, base64 with its four fallbacks, or as is), so that a big part reads
exactly as a small one does.
"""

from __future__ import annotations

import binascii
import codecs
import re
from collections.abc import Iterable, Iterator
from email import errors
from email.message import Message
from typing import Final

# Small enough that the few copies one chunk goes through cost nothing beside a big body.
CHUNK: Final = 1 << 18
HEAD: Final = 1024  # the decoded bytes kept for sniffing (message_view._is_pdf)

_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Bytes a non-strict base64 decode skips: all but the alphabet and "=".
_SKIPPED: Final = bytes(sorted(set(range(256)) - set(_ALPHABET) - {ord("=")}))
_NOT_ALPHABET: Final = re.compile(rb"[^A-Za-z0-9+/]")
# Whole groups of four that a non-strict decode reads without stopping: "=" is skipped
# before the first and second character of a group, and once (no more) after the
# second; two after the second, or one after the third, end the data.
_QUADS: Final = re.compile(rb"(?:=*[A-Za-z0-9+/]=*[A-Za-z0-9+/]=?[A-Za-z0-9+/][A-Za-z0-9+/])*+")
_PADS: Final = re.compile(rb"=+")
_EQUALS: Final = ord("=")


def chunks(pieces: Iterable[bytes | memoryview]) -> Iterator[bytes]:
    for piece in pieces:
        for start in range(0, len(piece), CHUNK):
            yield bytes(piece[start : start + CHUNK])


def _quoted_printable(data: Iterable[bytes]) -> Iterator[bytes]:
    """binascii.a2b_qp of the whole, a piece at a time.

    An escape reads at most the two bytes after its "=", except "=\\r", which skips to
    the next \\n: a piece may end after a line break, or anywhere on a line without
    "=\\r" where neither of the two bytes before is "=". A line is held whole only
    when it has "=\\r" (a2b_qp's own skip) and no end in sight.
    """
    held: list[bytes] = []  # the start of a line: no \n in it
    skipping = False  # ... and "=\r" in it
    for chunk in data:
        if not chunk:
            continue
        last = held[-1][-1:] if held else b""
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            skipping = skipping or b"=\r" in chunk or (last == b"=" and chunk[:1] == b"\r")
            if not skipping:
                cut = _qp_cut(chunk)
        if not cut:
            held.append(chunk)
            continue
        yield binascii.a2b_qp(b"".join((*held, chunk[:cut])) if held else chunk[:cut])
        rest = chunk[cut:]
        held = [rest] if rest else []
        skipping = b"=\r" in rest
    if held:
        yield binascii.a2b_qp(b"".join(held))


def _qp_cut(chunk: bytes) -> int:
    """The last place in ``chunk`` after which no escape reaches back (0: none)."""
    cut = len(chunk)
    while cut >= 2 and b"=" in chunk[cut - 2 : cut]:
        cut -= 1
    return cut if cut >= 2 else 0


class _Base64:
    """email._encoded_words.decode_b on the body with its line breaks removed (what
    get_payload(decode=True) does), as a stream:

    1. strict decode, "=" padding added if the length is not a multiple of 4;
    2. else non-strict: bytes outside the alphabet skipped, stop at a complete padding;
    3. else non-strict with "==" added;
    4. else the undecoded text itself.
    Cases 1-3 all give the alphabet characters up to where padding ends the data,
    decoded; this follows case 2's reading and tells at the end which case it was.
    """

    def __init__(self) -> None:
        self.length = 0  # characters of the text without line breaks
        self.pure = 0  # leading alphabet characters
        self.impure = False  # something else came after them ...
        self.rest_length = 0  # ... this many characters ...
        self.rest_pads = True  # ... all of them "="
        self.quad = 0  # alphabet characters read, modulo 4
        self.pads = 0  # "=" read since the last alphabet character, counted at quad >= 2
        self.stopped = False
        self.held = b""  # alphabet characters not decoded yet (less than a group)

    def feed(self, chunk: bytes) -> tuple[bytes, bytes]:
        """(the decoded bytes of ``chunk``, ``chunk`` without line breaks)."""
        text = chunk.translate(None, b"\r\n")
        self.length += len(text)
        self._follow_strict(text)
        if self.stopped:
            return b"", text
        data = text.translate(None, _SKIPPED)
        if b"=" not in data:
            characters = data
            if data:
                self.quad = (self.quad + len(data)) % 4
                self.pads = 0
        else:
            characters = self._read_padded(data)
        return self._decode(characters), text

    def _follow_strict(self, text: bytes) -> None:
        if not self.impure:
            match = _NOT_ALPHABET.search(text)
            self.pure += len(text) if match is None else match.start()
            if match is None:
                return
            self.impure = True
            text = text[match.start() :]
        self.rest_length += len(text)
        self.rest_pads = self.rest_pads and not text.strip(b"=")

    def _read_padded(self, data: bytes) -> bytes:
        """The alphabet characters of ``data`` read before padding ends it."""
        out: list[bytes] = []
        position, size = 0, len(data)
        while position < size:
            if self.quad == 0:
                end = _QUADS.match(data, position).end()  # type: ignore[union-attr]
                if end > position:
                    out.append(data[position:end].replace(b"=", b""))
                    self.pads = 0
                    position = end
                    if position >= size:
                        break
            if data[position] == _EQUALS:
                if self.quad < 2:
                    position = _PADS.match(data, position).end()  # type: ignore[union-attr]
                    continue
                self.pads += 1
                position += 1
                if self.quad + self.pads >= 4:
                    self.stopped = True
                    break
            else:
                out.append(data[position : position + 1])
                self.quad = (self.quad + 1) % 4
                self.pads = 0
                position += 1
        return b"".join(out)

    def _decode(self, characters: bytes) -> bytes:
        if self.held:
            characters = self.held + characters
        whole = len(characters) - len(characters) % 4
        self.held = characters[whole:]
        return binascii.a2b_base64(characters[:whole]) if whole else b""

    def finish(self) -> tuple[bytes, bool, list[errors.MessageDefect]]:
        """(the last decoded bytes, whether the result is the undecoded text, defects)."""
        missing = -self.length % 4
        if self._strict_ok(missing):
            return self._flush(), False, [errors.InvalidBase64PaddingDefect()] if missing else []
        if self.stopped or self.quad == 0:
            return self._flush(), False, [errors.InvalidBase64CharactersDefect()]
        if self.quad in (2, 3):
            defects = [errors.InvalidBase64CharactersDefect(), errors.InvalidBase64PaddingDefect()]
            return self._flush(), False, defects
        return b"", True, [errors.InvalidBase64LengthDefect()]

    def _strict_ok(self, missing: int) -> bool:
        """Whether binascii.a2b_base64(text + missing "=", strict_mode=True) succeeds.

        It fails on a byte outside the alphabet, on "=" first, on a character after
        "=", and unless the padding ends the data exactly: "==" after a group's second
        character, "=" after its third; after a whole group, "=" are let through.
        """
        if not self.rest_pads:
            return False
        pads = self.rest_length + missing
        if pads and not self.pure:
            return False
        return (self.pure % 4, pads) in ((2, 2), (3, 1)) or self.pure % 4 == 0

    def _flush(self) -> bytes:
        held, self.held = self.held, b""
        if not held:
            return b""
        return binascii.a2b_base64(held + b"=" * (-len(held) % 4))


class LazyBody:
    """The decoded body of a part held as slices of the message (see the module doc).

    Made once per part; like get_payload(decode=True) it adds the decoding defects to
    the part. ``size``, ``blank`` (empty or all ASCII whitespace, as ``not data or
    data.isspace()``) and ``head`` are known from then on.
    """

    def __init__(self, pieces: list[bytes | memoryview], encoding: str, part: Message) -> None:
        self._pieces = pieces
        self._encoding = encoding
        self._encoded = False  # base64 case 4: the "decoded" body is its text
        self._clean = False  # base64 that a single non-strict decode reads right
        size, blank, head = 0, True, b""
        if encoding == "base64":
            base64 = _Base64()
            text_size, text_blank, text_head = 0, True, b""
            for chunk in chunks(pieces):
                out, text = base64.feed(chunk)
                size, blank, head = _count(out, size, blank, head)
                text_size, text_blank, text_head = _count(text, text_size, text_blank, text_head)
            out, self._encoded, defects = base64.finish()
            if self._encoded:
                size, blank, head = text_size, text_blank, text_head
            else:
                size, blank, head = _count(out, size, blank, head)
            self._clean = not defects and not self._encoded
            for defect in defects:
                part.policy.handle_defect(part, defect)  # type: ignore[union-attr]
        else:
            for out in self.chunks():
                size, blank, head = _count(out, size, blank, head)
        self.size = size
        self.blank = blank
        self.head = head

    def chunks(self) -> Iterator[bytes]:
        """The decoded body, a chunk at a time."""
        data = chunks(self._pieces)
        if self._encoding == "quoted-printable":
            yield from _quoted_printable(data)
        elif self._encoding == "base64":
            base64 = _Base64()
            for chunk in data:
                out, text = base64.feed(chunk)
                if self._encoded:
                    yield text
                elif out:
                    yield out
            if not self._encoded:
                yield base64.finish()[0]
        else:
            yield from data

    def data(self) -> bytes:
        """The whole decoded body (a PDF, an attached message), made without a second
        copy where one decode of one slice gives it."""
        pieces = self._pieces
        if self._encoding == "quoted-printable":
            if len(pieces) == 1:
                return binascii.a2b_qp(pieces[0])
        elif self._encoding == "base64":
            if len(pieces) == 1 and self._clean:
                # Strictly valid: the line breaks a non-strict decode skips are all
                # that is not base64.
                return binascii.a2b_base64(pieces[0])
        else:
            return b"".join(pieces)
        return b"".join(self.chunks())


def _count(out: bytes, size: int, blank: bool, head: bytes) -> tuple[int, bool, bytes]:
    """Add ``out`` to a running size, blankness and head."""
    if out:
        size += len(out)
        blank = blank and out.isspace()
        if len(head) < HEAD:
            head += out[: HEAD - len(head)]
    return size, blank, head


def text_is_blank(pieces: list[bytes | memoryview], part: Message) -> bool:
    """``part.get_payload().isspace()`` for a payload held as pieces (message_view's
    count of empty parts): the payload as text, 8-bit bytes decoded in its charset."""
    if all(chunk.isascii() for chunk in chunks(pieces)):
        return all(chunk.decode("ascii").isspace() for chunk in chunks(pieces) if chunk)
    charset = part.get_param("charset", "ascii")
    try:
        if not isinstance(charset, str) or not codecs.lookup(charset)._is_text_encoding:
            raise LookupError(charset)
        decoder = codecs.getincrementaldecoder(charset)(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("ascii")(errors="replace")
    blank = True
    for chunk in chunks(pieces):
        text = decoder.decode(chunk)
        blank = blank and (not text or text.isspace())
    text = decoder.decode(b"", final=True)
    return blank and (not text or text.isspace())

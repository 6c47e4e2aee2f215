"""Parsing a big message without copying its bodies: the stdlib parser, fed by reference.

The standard library's parser turns the message into one str, reads it as lines and
joins each part's lines into its payload: for a 50 MB attachment that is several copies
of it, one of them as a million small objects, before anything is decoded. Here the same
parser (``email.feedparser.FeedParser``: its state machine, its defects) reads from
``RawLines`` instead of its own line buffer. Where a long stretch of lines cannot change
what the parser does, RawLines hands it one short stand-in line, a token, for the whole
stretch. A part's payload then holds tokens where its body was, and ``RawBodies`` gives
that body back as slices of the message, for the reader to decode only what it reads
(body_stream.py). Messages under ``BIG_MESSAGE`` are parsed by the stdlib as they are.

What makes a stretch safe to stand in for is what the parser tests its lines for:
- a boundary line of a multipart it is reading (its own, or one of the enclosing ones:
  RFC 2046 section 5.1.2): a stretch ends before any line that is one;
- a blank line, while it reads the header blocks of message/delivery-status;
- the first line of a header block: a token never starts a block with a header line or
  a blank line, since the parser would read the stretch's first line as a header. (A
  part is known to be past its header block once it has headers, or once the parser
  has read a line that ends one.)
These depend on where the parser is when it reads the token, which can be later than
when it was made (the parser reads a line, then pushes it back), so a token is checked
again each time it is read, and read as the lines it stands for when it no longer fits.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
from collections.abc import Callable
from email.feedparser import NLCRE, FeedParser, headerRE
from email.message import Message
from email.parser import BytesParser
from email.policy import Policy
from typing import Final

# Messages from this size on are parsed here: below it the copies cost little, and the
# stdlib's own buffer is faster on many short lines.
BIG_MESSAGE: Final = 1 << 20
# Stretches from this size on become a token; shorter ones are read as lines.
MIN_RUN: Final = 64 * 1024
# Lines read at once when no token may be made (an end-of-block test we do not know).
_LINE_BATCH: Final = 64 * 1024
# Distinct sets of boundaries searched for; more are searched for anew each time.
_MAX_SEARCHES: Final = 64

_EOL: Final = re.compile(rb"\r\n|\r|\n")
_BLANK_LINE: Final = rb"(?<![^\n])[\r\n]|(?<=\r)\r"  # a line start whose line is empty


class RawBodies:
    """The bytes behind the tokens of the messages one reader parsed.

    A token is NUL, a random per-reader nonce, a number and NUL: a message cannot make
    one up, and a line holding one never looks like a header, a boundary or a blank.
    """

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self._spans: list[tuple[bytes, int, int]] = []
        self._token = re.compile("\x00" + self.nonce + "([0-9a-f]+)\x00")

    def token(self, raw: bytes, start: int, end: int) -> str:
        self._spans.append((raw, start, end))
        return f"\x00{self.nonce}{len(self._spans) - 1:x}\x00"

    def pieces(self, part: Message) -> list[bytes | memoryview] | None:
        """The undecoded body of ``part`` as pieces (memoryviews of the message where
        tokens were), or None when its payload holds no token."""
        payload = getattr(part, "_payload", None)
        if not isinstance(payload, str) or "\x00" not in payload:
            return None
        pieces: list[bytes | memoryview] = []
        position = 0
        for match in self._token.finditer(payload):
            if match.start() > position:
                text = payload[position : match.start()]
                pieces.append(text.encode("ascii", "surrogateescape"))
            raw, start, end = self._spans[int(match.group(1), 16)]
            pieces.append(memoryview(raw)[start:end])
            position = match.end()
        if not position:
            return None
        if position < len(payload):
            pieces.append(payload[position:].encode("ascii", "surrogateescape"))
        return pieces

    def expand(self, part: Message) -> None:
        """Put back in ``part``'s payload the text its tokens stand for: the payload the
        stdlib parser would have made, for the rare reads that need all of it as text."""
        payload = getattr(part, "_payload", None)
        if isinstance(payload, str) and "\x00" in payload:
            part._payload = self._token.sub(self._text, payload)  # type: ignore[attr-defined]

    def _text(self, match: re.Match[str]) -> str:
        raw, start, end = self._spans[int(match.group(1), 16)]
        return raw[start:end].decode("ascii", "surrogateescape")


def parse(
    raw: bytes, policy: Policy, bodies: RawBodies | None, *, headersonly: bool = False
) -> Message:
    """``BytesParser(policy=policy).parsebytes(raw, headersonly)``, with the bodies of a
    big message left in ``raw`` behind tokens of ``bodies`` (None: always the stdlib)."""
    if bodies is None or len(raw) < BIG_MESSAGE:
        return BytesParser(policy=policy).parsebytes(raw, headersonly)
    parser = FeedParser(policy=policy)
    if not all(hasattr(parser, name) for name in ("_input", "_msgstack", "_call_parse")):
        # Another Python's parser: its internals are not the ones read here.
        return BytesParser(policy=policy).parsebytes(raw, headersonly)
    parser._input = RawLines(raw, parser, bodies)  # type: ignore[assignment]
    if headersonly:
        parser._set_headersonly()  # type: ignore[attr-defined]
    parser._call_parse()  # type: ignore[attr-defined]
    return parser.close()


class _Search:
    """The next line that would end a stretch, for one set of boundaries."""

    def __init__(self, raw: bytes, boundaries: tuple[str, ...], blank: bool) -> None:
        self._raw = raw
        alternatives = []
        encoded = set()
        for boundary in boundaries:
            # One that is not a byte string cannot be on any line of the message.
            with contextlib.suppress(UnicodeEncodeError):
                encoded.add(boundary.encode("ascii", "surrogateescape"))
        if encoded:
            # As the parser's boundaryre matches a whole line: "--", the boundary, an
            # optional "--", blanks, the line's end.
            names = b"|".join(re.escape(name) for name in sorted(encoded))
            # "--" first, then what precedes it: a literal prefix makes the search fast.
            alternatives.append(rb"--(?<![^\r\n]--)(?:" + names + rb")(?:--)?[ \t]*(?=[\r\n]|\Z)")
        if blank:
            alternatives.append(_BLANK_LINE)
        self._pattern = re.compile(b"|".join(alternatives)) if alternatives else None
        self._from = -1  # the last search started here ...
        self._found = -1  # ... and found this line start (len(raw) for none)

    def next(self, start: int) -> int:
        """The start of the first line at or after ``start`` (a line start) that ends a
        stretch, or len(raw)."""
        if self._pattern is None:
            return len(self._raw)
        if 0 <= self._from <= start <= self._found:
            return self._found
        match = self._pattern.search(self._raw, start)
        self._from = start
        self._found = match.start() if match else len(self._raw)
        return self._found


class RawLines:
    """What FeedParser reads its lines from (the interface of its BufferedSubFile), over
    the bytes of a whole message, with tokens for the long stretches."""

    def __init__(self, raw: bytes, parser: FeedParser, bodies: RawBodies) -> None:
        self._raw = raw
        self._stack: list[Message] = parser._msgstack  # type: ignore[attr-defined]
        self._bodies = bodies
        self._min_run = max(1, MIN_RUN)
        # A stack: lines and tokens pushed back, and spans of the message not yet read.
        self._items: list[str | tuple[int, int]] = [(0, len(raw))] if raw else []
        self._eofstack: list[Callable[[str], object]] = []
        # What each of those tests a line for: a boundary, a blank, or something else.
        self._eofkinds: list[str] = []
        self._tokens: dict[str, tuple[int, int]] = {}
        self._searches: dict[tuple[tuple[str, ...], bool], _Search] = {}
        self._boundaries: dict[int, str | None] = {}
        # Parts without headers whose header block is over (ids: the parse keeps every
        # message alive); a part with headers is past its block too.
        self._in_body: set[int] = set()

    # -- BufferedSubFile's interface, as FeedParser uses it --

    def push_eof_matcher(self, pred: Callable[[str], object]) -> None:
        self._eofstack.append(pred)
        if pred == NLCRE.match:
            self._eofkinds.append("blank")
        else:
            # The parser's boundaryre; any other test is unknown here.
            pattern = getattr(getattr(pred, "__self__", None), "pattern", "")
            known = isinstance(pattern, str) and pattern.startswith("(?P<sep>")
            self._eofkinds.append("boundary" if known else "other")

    def pop_eof_matcher(self) -> Callable[[str], object]:
        self._eofkinds.pop()
        return self._eofstack.pop()

    def close(self) -> None:
        pass  # all the data is there from the start

    def unreadline(self, line: str) -> None:
        self._items.append(line)

    def __iter__(self) -> RawLines:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if line == "":
            raise StopIteration
        return line

    def readline(self) -> str:
        items = self._items
        line = items.pop() if items else ""
        if line.__class__ is not str:
            line = self._lex(*line)  # type: ignore[misc]
        elif line[:1] == "\x00" and line in self._tokens:
            line = self._token(line)
        if line:
            # RFC 2046 section 5.1.2: outer boundaries end inner parts too, innermost first.
            for ateof in reversed(self._eofstack):
                if ateof(line):
                    items.append(line)
                    return ""
            # A part without headers (yet): a line that cannot be a header ends its
            # header block, if the parser was reading one; from then on it reads the
            # part's body.
            stack = self._stack
            if (
                stack
                and not len(stack[-1])
                and id(stack[-1]) not in self._in_body
                and (NLCRE.match(line) or not headerRE.match(line))
            ):
                self._in_body.add(id(stack[-1]))
        return line

    # -- lines and tokens --

    def _token(self, token: str) -> str:
        """``token`` if it still fits where the parser is, else the first of its lines."""
        start, stop = self._tokens[token]
        search = self._search()
        if search is not None and self._fits(start, stop, search):
            return token
        return self._lex(start, stop)

    def _lex(self, start: int, end: int) -> str:
        """The next line or token of the unread span [start, end); the rest is pushed."""
        search = self._search()
        if search is None:
            stop = self._line_end(min(end, start + _LINE_BATCH) - 1, end)
            return self._lines(start, stop, end)
        stop = min(search.next(start), end)
        if stop == start:  # a boundary line, or a blank that ends a block: a line alone
            return self._lines(start, self._line_end(start, end), end)
        if stop - start < self._min_run:
            return self._lines(start, stop, end)
        if not self._fits(start, stop, None):
            # A header block may be starting: its lines go to the parser one by one
            # until one cannot be a header; the token starts there.
            return self._lines(start, self._line_end(start, end), end)
        if stop < end:
            self._items.append((stop, end))
        eol = _eol_before(self._raw, stop)
        token = self._bodies.token(self._raw, start, stop - len(eol)) + eol
        self._tokens[token] = (start, stop)
        return token

    def _fits(self, start: int, stop: int, search: _Search | None) -> bool:
        """Whether the lines of [start, stop) may be read as one token now."""
        if search is not None and search.next(start) < stop:
            return False
        stack = self._stack
        if stack and (len(stack[-1]) or id(stack[-1]) in self._in_body):
            return True  # the parser reads the current part's body
        first = self._raw[start : self._line_end(start, stop)].decode("ascii", "surrogateescape")
        return not (headerRE.match(first) or NLCRE.match(first))

    def _lines(self, start: int, stop: int, end: int) -> str:
        """The lines of [start, stop) as str, the first returned, the others pushed."""
        if stop < end:
            self._items.append((stop, end))
        text = self._raw[start:stop].decode("ascii", "surrogateescape")
        # Split as BufferedSubFile does: at \r\n, \r and \n only.
        lines = io.StringIO(text, newline="").readlines()
        self._items.extend(reversed(lines[1:]))
        return lines[0]

    def _line_end(self, position: int, end: int) -> int:
        """The end of the line that holds ``position``, its line break included."""
        # Spans end at line starts, never between \r and \n.
        match = _EOL.search(self._raw, position, end)
        return end if match is None else match.end()

    def _search(self) -> _Search | None:
        """The search for the lines that end a stretch where the parser is now, or None
        when the parser tests lines for something this module does not know."""
        kinds = self._eofkinds
        if "other" in kinds:
            return None
        blank = "blank" in kinds
        boundaries: list[str] = []
        for message in self._stack:
            boundary = self._boundary(message)
            if boundary is not None:
                boundaries.append(boundary)
        key = (tuple(boundaries), blank)
        search = self._searches.get(key)
        if search is None:
            if len(self._searches) >= _MAX_SEARCHES:
                self._searches.clear()
            search = self._searches[key] = _Search(self._raw, key[0], blank)
        return search

    def _boundary(self, message: Message) -> str | None:
        """The boundary the parser reads ``message``'s parts with, if it is a multipart.
        A part gets its headers all at once, when its header block has been read."""
        if not len(message):
            return None  # no headers (yet): text/plain or message/rfc822 by default
        key = id(message)  # the parse keeps every message alive: ids stay unique
        if key not in self._boundaries:
            # Most parts are not multiparts: the word itself is in the raw field value
            # of those that are (a type is a token: nothing can be folded into it).
            if not any(
                name.lower() == "content-type" and "multipart" in str(value).lower()
                for name, value in message.raw_items()
            ):
                self._boundaries[key] = None
                return None
            try:
                multipart = message.get_content_maintype() == "multipart"
                self._boundaries[key] = message.get_boundary() if multipart else None
            except Exception:  # the parser meets the same error and says so
                self._boundaries[key] = None
        return self._boundaries[key]


def _eol_before(raw: bytes, stop: int) -> str:
    """The line break that ends the line before ``stop`` ("" at the end of the data)."""
    if raw[stop - 2 : stop] == b"\r\n":
        return "\r\n"
    last = raw[stop - 1 : stop]
    return last.decode("ascii") if last in (b"\r", b"\n") else ""

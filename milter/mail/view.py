"""One parse of a message into what rules look at: the message view (stage 3).

The raw bytes are parsed once with the standard library's ``email`` package (modern
policy) and reduced to plain values: decoded headers, the From display name and
address, Reply-To, To/Cc, the text of every body part, HTML rendered to visible and
hidden text, URLs, attachments with their names, types and (for PDFs and text) text.
Normalisation is not done here: the scanner normalises each target once. A big message
is parsed with its long bodies left in its bytes (mime_raw.py), and each body is decoded
a chunk at a time, only as far as it is read (body_stream.py): an attachment that is not
read costs its size in nothing but the raw bytes.

Mail from strangers is hostile or just broken. ``parse_message`` never raises: every
header is decoded on its own with fallbacks, unknown charsets fall back to UTF-8 and
then Windows-1252, and what went wrong is listed in ``defects``. Bytes that are not a
message at all become the body text of an empty-headed one.

No limit is a hiding place: past each one the end of what it skips is still read (the
last parts, the end of a long text, the parts below the depth limit, read flat), and
``structure`` records how the message is built and what was left unread (structure.py).
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from typing import Final

from milter.mail import mime_raw
from milter.mail.archives import ArchiveBudget, Found, is_zip, passwords_in, read_zip
from milter.mail.body_stream import LazyBody, text_is_blank
from milter.mail.clip import (
    head_and_tail,
    head_and_tail_bytes,
    squeeze,
    squeeze_bytes,
    squeeze_clip_count,
)
from milter.mail.envelope import Envelope
from milter.mail.html import HtmlText, find_urls, html_to_text, join_html, start_at_tag
from milter.mail.images import ImagePart, ImageText, looks_like_image
from milter.mail.mime_decode import (
    LINE_BREAK,
    decode_bytes,
    decode_encoded_words,
    decode_header_value,
    fix_8bit,
    guess_decode,
)
from milter.mail.mime_part import (
    CrCount,
    clean_address,
    encoded_message_bytes,
    part_charset,
    part_disposition,
    part_encoding,
    part_filename,
    part_type,
    payload_bytes,
)
from milter.mail.mime_policy import MimeHeaderCache, _ReusingPolicy
from milter.mail.mime_raw import RawBodies
from milter.mail.pdf import PdfBudget, looks_like_pdf, read_pdf
from milter.mail.structure import Structure, plain_structure
from milter.mail.tarballs import is_tarball, read_tarball

_POLICY: Final = _ReusingPolicy()
MAX_HEADERS: Final = 5_000
MAX_URLS: Final = 2_000
MAX_DEFECTS: Final = 100
# Past max_parts (or the time budget), this many of the last parts are still read: a
# scam padded with hundreds of empty parts puts itself last.
TAIL_PARTS: Final = 20
# Time the tail may take after the time budget ran out, as a share of max_seconds.
TAIL_TIME_SHARE: Final = 0.25


_ARCHIVE: Final = tuple(f"archive_max_{name}" for name in ("depth", "members", "bytes", "ratio"))


@dataclass(frozen=True)
class ViewLimits:
    """Bounds on the work spent on one message.

    ``max_text_chars`` applies to each text part and attachment text: past it, blank
    runs are squeezed and then the start and the end are kept. ``max_parts`` and
    ``max_seconds`` stop reading parts in order; the last TAIL_PARTS are read even so.
    Below ``max_depth`` parts are read flat. The PDF limits apply to each PDF (a file
    over ``pdf_max_bytes`` is read within the budgets all the same), and
    ``pdf_max_seconds`` also to all PDFs of a message together, so a message with a
    hundred PDFs cannot take a hundred times as long.
    """

    max_parts: int = 500
    max_depth: int = 30
    max_text_chars: int = 2_000_000
    pdf_max_pages: int = 10
    pdf_max_seconds: float = 2.0
    pdf_max_bytes: int = 10_000_000
    # For the whole message: each part is bounded, but hundreds of hostile parts (slow
    # HTML) could still add up to minutes. After the budget only the last parts are
    # read, in TAIL_TIME_SHARE of it more.
    max_seconds: float = 20.0
    # ZIP attachments (archives.py): nesting, members, bytes unpacked per message, ratio.
    archive_max_depth: int = 2
    archive_max_members: int = 100
    archive_max_bytes: int = 20_000_000
    archive_max_ratio: int = 100
    # Images kept for OCR (milter/ocr): attachments, inline images, ZIP members and the
    # images of scanned PDF pages; past the count or the size, noted "not read".
    max_images: int = 50
    image_max_bytes: int = 20_000_000
    pdf_max_images: int = 4

    def __post_init__(self) -> None:
        for name in ("max_parts", "max_depth", "max_text_chars", "pdf_max_pages", *_ARCHIVE):
            if getattr(self, name) < 0:
                raise ValueError(f"View limit {name} must be 0 or more.")
        if self.pdf_max_seconds < 0 or self.pdf_max_bytes < 0:
            raise ValueError("PDF limits must be 0 or more.")
        if self.max_seconds < 0:
            raise ValueError("View limit max_seconds must be 0 or more.")


@dataclass(frozen=True)
class Attachment:
    """A part that is not body text.

    ``filename`` is decoded (RFC 2231, RFC 2047), "" if none; ``content_type`` is lower
    case; ``size`` is the decoded payload in bytes; ``text`` is the extracted text (PDF
    text, the text of text/* attachments), "" otherwise.
    """

    filename: str
    content_type: str
    size: int
    text: str


@dataclass(frozen=True)
class MessageView:
    """What the rules look at in one message (see docs/rules.md, "Targets")."""

    subject: str
    headers: tuple[tuple[str, str], ...]  # (lower-case name, decoded unfolded value)
    from_name: str
    from_address: str  # lower case, "" when missing
    from_domain: str  # lower case, "" when missing
    reply_to: tuple[str, ...]  # lower-case addresses
    to: tuple[str, ...]  # To and Cc addresses, lower case
    envelope: Envelope
    text_parts: tuple[str, ...]  # decoded text/plain body parts
    html_parts: tuple[HtmlText, ...]  # rendered text/html body parts
    attachments: tuple[Attachment, ...]
    urls: tuple[str, ...]  # from text and HTML, deduplicated, in order
    defects: tuple[str, ...]  # short descriptions of parse problems
    # How the message is built and what the limits left unread (structure.py).
    structure: Structure = field(default_factory=Structure)
    # The top-level fields as received (name, value with its folding; what the
    # compat32 parser gives), for the sender authentication, which must see exactly what
    # came: one parse per message serves both. None: the header block could not be
    # parsed as such (the message was read as text), and whoever needs it parses it.
    raw_headers: tuple[tuple[str, str], ...] | None = None
    # Images to read (in order met); their text once OCR has read them (milter/ocr):
    # the parse itself reads no pixels.
    images: tuple[ImagePart, ...] = ()
    image_texts: tuple[ImageText, ...] = ()
    # Per text_parts and html_parts entry: True when it is inside an attached message
    # (message/rfc822, a forward as attachment): the sender's own words are elsewhere.
    text_attached: tuple[bool, ...] = ()
    html_attached: tuple[bool, ...] = ()

    def attached_flags(self) -> tuple[tuple[bool, ...], tuple[bool, ...]]:
        """``text_attached`` and ``html_attached``, all False for a view made by hand
        without them."""
        text, html = self.text_attached, self.html_attached
        if len(text) != len(self.text_parts):
            text = (False,) * len(self.text_parts)
        if len(html) != len(self.html_parts):
            html = (False,) * len(self.html_parts)
        return text, html

    def header(self, name: str) -> tuple[str, ...]:
        """Every decoded value of header ``name`` (any case), in message order."""
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key == wanted)


# --- the builder ------------------------------------------------------------------------

_UUENCODE: Final = ("x-uuencode", "uuencode", "uue", "x-uue")
_SINGLE_ANGLE: Final = re.compile(
    r"\s*([^<>]*?)\s*<\s*([^<>\s]*@[^<>\s]*)\s*>\s*(?:\([^()]*\)\s*)?$"
)
# One plain dot-atom address with only ASCII blanks around it (the stdlib's address
# parser does not skip other whitespace).
_BARE_ADDRESS: Final = re.compile(
    r"[ \t\r\n]*([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)[ \t\r\n]*"
)


@dataclass
class _Builder:
    limits: ViewLimits
    subject: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw_headers: tuple[tuple[str, str], ...] | None = None
    from_name: str = ""
    from_address: str = ""
    reply_to: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)
    html_parts: list[HtmlText] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    images: list[ImagePart] = field(default_factory=list)
    # Per text and HTML part: inside an attached message (a forward as attachment)?
    text_attached: list[bool] = field(default_factory=list)
    html_attached: list[bool] = field(default_factory=list)
    attached: int = 0  # message/* parts the walk is inside now
    urls: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    parts: int = 0
    decoded_bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    # Reading past the limits (see "MIME structure" below, and structure.py).
    part_budget: int = 0
    deadline: float = 0.0
    stop_reason: str = ""  # why parts stopped being read in order; "" while they are
    tail: deque[tuple[Message, int]] | None = None  # made when a part is first skipped
    skipped: int = 0  # parts walked but not read in order
    skipped_leaves: int = 0
    reading_tail: bool = False
    deepest: int = 0
    empty_parts: int = 0
    blank_padding: int = 0
    padded_pdfs: int = 0
    partial: list[str] = field(default_factory=list)
    pdf_budget: PdfBudget | None = None  # made for the message's first PDF
    archive_budget: ArchiveBudget = field(default_factory=ArchiveBudget)
    # The policy with this message's own header cache (see _ReusingPolicy).
    policy: _ReusingPolicy = field(default_factory=_POLICY.for_message)
    # The bodies a big message left in its bytes (mime_raw.py), made for the first.
    bodies: RawBodies | None = None

    def defect(self, text: str) -> None:
        if len(self.defects) < MAX_DEFECTS and text not in self.defects:
            self.defects.append(text)

    # -- whole message --

    def __post_init__(self) -> None:
        self.part_budget = self.limits.max_parts
        self.deadline = self.started + self.limits.max_seconds

    def run(self, raw: bytes) -> None:
        try:
            message = self._parse(raw)
        except Exception as exc:  # RecursionError on absurd nesting, parser bugs
            self.defect(f"message could not be parsed ({type(exc).__name__}); read as text")
            self._run_unparsed(raw)
            return
        self._read_headers(message)
        self._walk(message, 0)
        self._read_tail()
        if not (self.headers or self.text_parts or self.html_parts or self.attachments):
            # Nothing looked like a message: keep every byte as body text.
            text = self._raw_text(raw)
            if text.strip():
                self.defect("no headers and no body found; whole input read as text")
                self._add_text(text)

    def _run_unparsed(self, raw: bytes) -> None:
        try:
            message = self._parse(raw, headersonly=True)
            self._read_headers(message)
        except Exception as exc:
            self.defect(f"headers could not be parsed ({type(exc).__name__})")
        head, separator, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
        self._add_text(self._raw_text(body if separator else head))

    def _parse(self, raw: bytes, headersonly: bool = False) -> Message:
        """The stdlib parse of ``raw``; a big message's bodies are left in it."""
        if self.bodies is None and len(raw) >= mime_raw.BIG_MESSAGE:
            self.bodies = RawBodies()
        return mime_raw.parse(raw, self.policy, self.bodies, headersonly=headersonly)

    def _raw_text(self, data: bytes) -> str:
        """Bytes of no known structure as text, start and end within the limit."""
        limit = self.limits.max_text_chars
        if len(data) > limit:
            data = head_and_tail_bytes(squeeze_bytes(data, None), limit * 4)
        text = guess_decode(data)
        if len(text) > limit:
            self.partial.append(f"a text of {len(text):,} characters: its middle not read")
            head, tail = head_and_tail(squeeze(text), limit)
            text = head + "\n" + tail if tail else head
        return text

    # -- headers --

    def _read_headers(self, message: Message) -> None:
        items = tuple((str(name), str(value)) for name, value in message.raw_items())
        if self.raw_headers is None:  # the top level: its fields as they came, all of them
            self.raw_headers = items
        for count, (name, raw_value) in enumerate(items):
            if count >= MAX_HEADERS:
                self.defect(f"more than {MAX_HEADERS} headers; the rest ignored")
                break
            key = fix_8bit(str(name)).strip().lower()
            try:
                value = decode_header_value(str(raw_value))
            except Exception as exc:
                self.defect(f"header {key} undecodable ({type(exc).__name__})")
                value = str(raw_value).encode("utf-8", "replace").decode("utf-8", "replace")
            self.headers.append((key, value))
            if key == "subject" and not self.subject and value:
                self.subject = value
            elif key == "from" and not self.from_address and not self.from_name:
                addresses = self._addresses(key, str(raw_value), value)
                if addresses:
                    self.from_name, self.from_address = addresses[0]
            elif key in ("to", "cc"):
                self.to.extend(a for _, a in self._addresses(key, str(raw_value), value) if a)
            elif key == "reply-to":
                self.reply_to.extend(a for _, a in self._addresses(key, str(raw_value), value) if a)

    def _addresses(self, name: str, raw: str, decoded: str) -> list[tuple[str, str]]:
        """(display name, lower-case address) pairs of an address header.

        The old parser (``getaddresses``) comes first: it is forgiving and several
        times faster than the modern one, which is the fallback when it finds nothing.
        """
        text = fix_8bit(raw)
        if "@" not in text:
            # No address at all ("From: Police Federale", "undisclosed-recipients:;"):
            # what there is, is a name.
            name = decoded.strip().strip("<>").strip()
            return [(name, "")] if name else []
        single = _SINGLE_ANGLE.match(LINE_BREAK.sub(" ", text))
        if single:
            # One <addr-spec>: that is the address, whatever precedes it is the name,
            # even when it looks like an address ("police@justice.be <x@example.com>",
            # which both stdlib parsers read as two addresses, the first one fake).
            display = decode_header_value(single.group(1)).strip()
            if len(display) >= 2 and display[0] == display[-1] == '"':
                display = display[1:-1].replace('\\"', '"').strip()
            return [(display, clean_address(single.group(2)))]
        bare = _BARE_ADDRESS.fullmatch(text)
        if bare:
            # Just an address, the form most headers that get here have: getaddresses
            # returns it as it is, with no name, at many times the cost.
            return [("", clean_address(bare.group(1)))]
        try:
            pairs = [(d, a) for d, a in getaddresses([text]) if d or a]
        except Exception:
            pairs = []
        if any("@" in address for _, address in pairs):
            return [(decode_header_value(d), clean_address(a)) for d, a in pairs]
        try:
            header = self.policy.header_fetch_parse(name, text)
            found: list[tuple[str, str]] = []
            for address in header.addresses:
                display = str(address.display_name or "")
                if "=?" in display:
                    display = decode_encoded_words(display)
                found.append((display.strip(), clean_address(str(address.addr_spec))))
            if found:
                return found
        except Exception as exc:
            self.defect(f"header {name}: address parse failed ({type(exc).__name__})")
        return [(decode_header_value(d), clean_address(a)) for d, a in pairs]

    # -- MIME structure --
    #
    # Parts are read in order up to max_parts and the time budget. Past either, the
    # rest of the tree is only walked (no decoding) to count it and to remember its last
    # TAIL_PARTS leaves, which are read at the end: padding goes first, the scam last.
    # Past max_depth, the parts below are read flat, without recursion.

    def _admit(self, part: Message, depth: int) -> bool:
        """Whether ``part`` may be read now; if not, it is walked for the tail."""
        if self.parts < self.part_budget and (not self.parts or time.monotonic() <= self.deadline):
            return True
        if not self.stop_reason:
            if self.parts >= self.part_budget:
                self.stop_reason = f"more than {self.limits.max_parts} MIME parts"
                self.defect(f"more than {self.limits.max_parts} MIME parts; the rest not read")
            else:
                self.stop_reason = f"reading took over {self.limits.max_seconds:g} s"
                self.defect(
                    f"reading the message took over {self.limits.max_seconds:g} s; "
                    f"parts after the first {self.parts} not read"
                )
        self._skip(part, depth)
        return False

    def _enter(self, part: Message, depth: int) -> None:
        self.parts += 1
        self.deepest = max(self.deepest, depth)
        self._read_defects(part)

    def _skip(self, part: Message, depth: int) -> None:
        """Walk a part that is not read: count it, keep its leaves for the tail."""
        if self.tail is None:
            self.tail = deque(maxlen=TAIL_PARTS)
        stack = [(part, depth)]
        while stack:
            node, level = stack.pop()
            self.skipped += 1
            self.deepest = max(self.deepest, level)
            payload = node.get_payload()
            if isinstance(payload, list):
                stack.extend((c, level + 1) for c in reversed(payload) if isinstance(c, Message))
                continue
            self.skipped_leaves += 1
            pieces = self.bodies.pieces(node) if self.bodies is not None else None
            if pieces is not None:
                if text_is_blank(pieces, node):
                    self.empty_parts += 1
            elif not payload or (isinstance(payload, str) and payload.isspace()):
                self.empty_parts += 1
            self.tail.append((node, level))

    def _read_tail(self) -> None:
        """Read the last leaves that the part or time limit kept from being read."""
        if not self.stop_reason or self.tail is None:
            return
        tail = list(self.tail)
        self.tail.clear()
        # Leaves can open into messages of their own (message/rfc822): room for some.
        self.part_budget = self.parts + 2 * len(tail)
        now = time.monotonic()
        if now > self.deadline:
            self.deadline = now + self.limits.max_seconds * TAIL_TIME_SHARE
        # These leaves were counted (and their emptiness) when they were skipped.
        self.reading_tail = True
        read = 0
        for part, depth in tail:
            before = self.parts
            self._walk(part, depth)
            read += self.parts > before
        self.skipped -= read
        unread = self.skipped_leaves - read
        if unread > 0:
            self.partial.append(
                f"{unread} MIME parts not read: {self.stop_reason} (the last {read} read)"
            )

    def _walk(self, part: Message, depth: int) -> None:
        if depth >= self.limits.max_depth:
            self._walk_flat(part, depth)
            return
        opened = self._open(part, depth)
        if opened is None:
            return
        content_type, children = opened
        before = self.decoded_bytes
        inside = content_type.startswith("message/")
        self.attached += inside
        for child in children:
            self._walk(child, depth + 1)
        self.attached -= inside
        if inside:
            self._message_attachment(part, content_type, self.decoded_bytes - before)

    def _walk_flat(self, part: Message, depth: int) -> None:
        """Read the parts under ``part`` one after the other, with no recursion: nesting
        this deep is not mail, but the text in it may be a scam."""
        self.defect(f"MIME nesting deeper than {self.limits.max_depth}; the parts below read flat")
        stack = [(part, depth)]
        while stack:
            node, level = stack.pop()
            opened = self._open(node, level)
            if opened is not None:
                stack.extend((child, level + 1) for child in reversed(opened[1]))

    def _open(self, part: Message, depth: int) -> tuple[str, list[Message]] | None:
        """Read ``part`` if it may be read now: its content type and the parts inside it
        (a multipart's, or the message a leaf turned out to hold); None when it was not
        read or is a leaf with nothing inside."""
        if not self._admit(part, depth):
            return None
        self._enter(part, depth)
        content_type = part_type(part)
        children = self._children(part, content_type)
        if children is None:
            inner = self._leaf(part, content_type)
            if inner is None:
                return None
            children = [inner]
        return content_type, children

    def _children(self, part: Message, content_type: str) -> list[Message] | None:
        """The parts inside a multipart or an opened message/*; None for a leaf."""
        if not part.is_multipart():
            return None
        payload = part.get_payload()
        encoded = part_encoding(part)
        if content_type.startswith("message/") and encoded in ("base64", "quoted-printable"):
            # Against RFC 2046 section 5.2.1, but it happens: the parser read the
            # encoded text as a message. Decode it and read the message inside.
            inner = payload[0] if isinstance(payload, list) and payload else None
            if inner is not None and self.bodies is not None:
                self.bodies.expand(inner)  # rare enough to be read whole, as text
            data = encoded_message_bytes(inner, encoded) if inner is not None else b""
            return [self._parse(data)]
        if not isinstance(payload, list):
            return []
        return [sub for sub in payload if isinstance(sub, Message)]

    def _leaf(self, part: Message, content_type: str) -> Message | None:
        """Read a part that holds content; a message/rfc822 part the parser left closed
        is returned parsed, for the caller to walk."""
        body = self._body(part)
        lazy = body if isinstance(body, LazyBody) else None
        data = body if isinstance(body, bytes) else b""
        blank = (not data or data.isspace()) if lazy is None else lazy.blank
        size = len(data) if lazy is None else lazy.size
        self.decoded_bytes += size
        if blank and not self.reading_tail:
            self.empty_parts += 1
        self._read_defects(part)  # decoding adds base64 defects to the part
        if content_type == "message/rfc822" and not blank:
            return self._parse(data if lazy is None else lazy.data())
        disposition = part_disposition(part)
        if content_type.startswith("multipart/"):
            self.defect(f"{content_type} without a usable boundary; read as text")
            content_type = "text/plain"
        if content_type in ("text/plain", "text/html") and disposition != "attachment":
            head, tail = self._text(body, part)
            if content_type == "text/html":
                html = html_to_text(head)
                if tail:
                    html = join_html(html, html_to_text(start_at_tag(tail)))
                self.html_parts.append(html)
                self.html_attached.append(self.attached > 0)
                self._add_urls(html.urls)
            elif head:
                self._add_text(head + "\n" + tail if tail else head)
            return None
        filename = part_filename(part)
        text = ""
        if looks_like_pdf(content_type, filename, data if lazy is None else lazy.head):
            text = self._pdf(data if lazy is None else lazy.data(), filename)
        elif is_zip(content_type, filename, data if lazy is None else lazy.head):
            self._zip(data if lazy is None else lazy.data(), filename)
        elif is_tarball(content_type, filename, data[:1024] if lazy is None else lazy.head):
            self._archive_found(
                read_tarball(
                    data if lazy is None else lazy.data(),
                    filename,
                    self.limits,
                    self.archive_budget,
                    self._pdf,
                )
            )
        elif looks_like_image(content_type, filename, data[:16] if lazy is None else lazy.head):
            if size > self.limits.image_max_bytes:
                self._add_image(filename, b"", f"not read: {size:,} bytes, over the limit")
            else:
                self._add_image(filename, data if lazy is None else lazy.data())
        elif content_type.startswith("text/"):
            head, tail = self._text(body, part)
            text = head + "\n" + tail if tail else head
        self.attachments.append(Attachment(filename, content_type, size, text))
        return None

    def _body(self, part: Message) -> bytes | LazyBody:
        """What get_payload(decode=True) gives; for a body a big message left in its
        bytes, a LazyBody that decodes it as it is read."""
        pieces = self.bodies.pieces(part) if self.bodies is not None else None
        if pieces is not None:
            try:
                encoding = str(part.get("content-transfer-encoding", "")).lower()
            except Exception:  # the stdlib meets the same error and is answered below
                encoding = "uue"
            if encoding not in _UUENCODE:
                return LazyBody(pieces, encoding, part)
            self.bodies.expand(part)  # uuencode: rare, and read whole by the stdlib
        return payload_bytes(part)

    def _message_attachment(self, part: Message, content_type: str, size: int) -> None:
        """List an attached message (its text was read as body text)."""
        filename = part_filename(part)
        if filename or part_disposition(part) == "attachment":
            self.attachments.append(Attachment(filename, content_type, size, ""))

    def _read_defects(self, part: Message) -> None:
        for defect in getattr(part, "defects", ()):
            self.defect(type(defect).__name__)

    def _add_text(self, text: str) -> None:
        self.text_parts.append(text)
        self.text_attached.append(self.attached > 0)
        self._add_urls(find_urls(text))

    def _add_urls(self, urls: list[str] | tuple[str, ...]) -> None:
        room = MAX_URLS - len(self.urls)
        if room > 0:
            self.urls.extend(urls[:room])

    def _text(self, body: bytes | LazyBody, part: Message) -> tuple[str, str]:
        """The decoded text of a part: all of it, or its start and end when it is over
        max_text_chars even with its blank runs squeezed (clip.py)."""
        limit = self.limits.max_text_chars
        charset = part_charset(part)
        cut = ""
        size = len(body) if isinstance(body, bytes) else body.size
        if size > limit:
            crs = CrCount()
            chunks = crs.of(body) if isinstance(body, bytes) else crs.each(body.chunks())
            data, squeezed, squeezed_crs = squeeze_clip_count(chunks, charset, limit * 4)
            # CRs left out of CRLF paragraph breaks are no padding: ordinary text has one
            # per line pair, and megabytes of it would otherwise look padded.
            padding = (size - crs.count) - (squeezed - squeezed_crs)
            self.blank_padding = max(self.blank_padding, padding)
            if squeezed > limit * 4:
                cut = f"a text part of {squeezed:,} bytes"
        else:
            data = body if isinstance(body, bytes) else body.data()
        text, unknown = decode_bytes(data, charset)
        if unknown:
            self.defect(f"unknown charset {charset!r}")
        if len(text) > limit:
            squeezed_text = squeeze(text)
            padding = (len(text) - text.count("\r")) - (
                len(squeezed_text) - squeezed_text.count("\r")
            )
            self.blank_padding = max(self.blank_padding, padding)
            text = squeezed_text
        if len(text) <= limit:
            if cut:  # the bytes cut dropped text (the decoded start and end fit)
                self.partial.append(f"{cut}: its middle not read")
            return text, ""
        self.defect(f"text part longer than {limit} characters; its start and end read")
        self.partial.append(
            f"{cut or f'a text part of {len(text):,} characters'}: "
            f"its middle not read (over {limit:,} characters)"
        )
        return head_and_tail(text, limit)

    def _pdf(self, data: bytes, filename: str) -> str:
        limits = self.limits
        name = f"PDF {filename!r}" if filename else "a PDF"
        if self.pdf_budget is None:
            self.pdf_budget = PdfBudget(seconds=limits.pdf_max_seconds)
        if self.pdf_budget.spent():
            self.defect("PDF time budget spent; later PDFs not read")
            self.partial.append(f"{name} not read: the PDF budget of the message was spent")
            return ""
        result = read_pdf(
            data,
            max_pages=limits.pdf_max_pages,
            max_bytes=limits.pdf_max_bytes,
            budget=self.pdf_budget,
            passwords=lambda: passwords_in(self._text_so_far()),  # only when encrypted
            max_images=max(0, min(limits.pdf_max_images, limits.max_images - len(self.images))),
        )
        for page, image in result.images:
            self._add_image(f"{filename or 'PDF'} page {page}", image)
        if result.oversize:
            self.defect(f"{name} larger than {limits.pdf_max_bytes} bytes; read within the budgets")
        self.padded_pdfs += result.padded
        if result.partial:
            if result.ends_read:
                # A long document whose first and last pages were read: ordinary mail.
                self.defect(f"{name}: {result.partial}; its first and last pages read")
            else:
                self.partial.append(f"{name}: {result.partial}")
        head, tail = head_and_tail(result.text, limits.max_text_chars)
        return head + "\n" + tail if tail else head

    def _add_image(self, name: str, data: bytes, note: str = "") -> None:
        name = name or f"image {len(self.images) + 1}"
        if len(self.images) >= self.limits.max_images and not note:
            data, note = b"", f"not read: over {self.limits.max_images} images in the message"
        self.images.append(ImagePart(name, data, note))

    def _text_so_far(self) -> str:
        return "\n".join([*self.text_parts, *(html.visible for html in self.html_parts)])

    def _zip(self, data: bytes, filename: str) -> None:
        text = self._text_so_far()
        self._archive_found(
            read_zip(data, filename, self.limits, self.archive_budget, text, self._pdf)
        )

    def _archive_found(self, found: Found) -> None:
        self.partial.extend(found.notes)
        self.attachments.extend(Attachment(*member) for member in found.members)
        for member_name, member in found.images:
            self._add_image(member_name, member)

    # -- result --

    def view(self, envelope: Envelope) -> MessageView:
        address = self.from_address
        domain = address.rpartition("@")[2].strip(".[] ") if "@" in address else ""
        return MessageView(
            subject=self.subject,
            headers=tuple(self.headers),
            from_name=self.from_name,
            from_address=address,
            from_domain=domain,
            reply_to=tuple(dict.fromkeys(self.reply_to)),
            to=tuple(dict.fromkeys(self.to)),
            envelope=envelope,
            text_parts=tuple(self.text_parts),
            html_parts=tuple(self.html_parts),
            attachments=tuple(self.attachments),
            urls=tuple(dict.fromkeys(self.urls)),
            defects=tuple(self.defects),
            structure=self._structure(),
            raw_headers=self.raw_headers,
            images=tuple(self.images),
            text_attached=tuple(self.text_attached),
            html_attached=tuple(self.html_attached),
        )

    def _structure(self) -> Structure:
        hidden = sum(len(part.hidden) for part in self.html_parts) if self.html_parts else 0
        parts = self.parts + self.skipped
        notable = self.empty_parts or hidden or self.blank_padding or self.padded_pdfs
        if not (notable or self.partial):
            return plain_structure(parts, self.deepest)
        return Structure(
            parts=parts,
            empty_parts=self.empty_parts,
            depth=self.deepest,
            hidden_chars=hidden,
            blank_padding=self.blank_padding,
            padded_pdfs=self.padded_pdfs,
            partial=tuple(dict.fromkeys(self.partial)),
        )


def parse_message(
    raw: bytes,
    envelope: Envelope | None = None,
    limits: ViewLimits = ViewLimits(),
    mime_headers: MimeHeaderCache | None = None,
    deadline: float | None = None,
) -> MessageView:
    """Parse ``raw`` into a :class:`MessageView`; never raises.

    Problems are listed in ``defects``; on an internal error (a bug) the view holds
    what was read before it, with a defect naming the exception. ``mime_headers`` lets
    messages share parsed MIME fields (a scanner keeps one). ``deadline`` (a
    ``time.monotonic()`` value) brings the time budget of ``limits.max_seconds``
    forward: the proxy's budget for the whole message may end first.
    """
    builder = _Builder(limits, policy=_POLICY.for_message(mime_headers))
    if deadline is not None:
        builder.deadline = min(builder.deadline, deadline)
    try:
        builder.run(bytes(raw))
    except Exception as exc:  # a bug: keep the partial view, say so
        builder.defect(f"internal error while reading the message: {type(exc).__name__}")
    return builder.view(envelope if envelope is not None else Envelope())

"""One parse of a message into what rules look at: the message view (stage 3).

The raw bytes are parsed once with the standard library's ``email`` package (modern
policy) and reduced to plain values: decoded headers, the From display name and
address, Reply-To, To/Cc, the text of every body part, HTML rendered to visible and
hidden text, URLs, attachments with their names, types and (for PDFs and text) text.
Normalisation is not done here: the scanner normalises each target once.

Mail from strangers is hostile or just broken. ``parse_message`` never raises: every
header is decoded on its own with fallbacks, unknown charsets fall back to UTF-8 and
then Windows-1252, MIME structure is read up to the depth and part limits, and what
went wrong is listed in ``defects``. Bytes that are not a message at all become the
body text of an empty-headed one.
"""

from __future__ import annotations

import binascii
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import BaseHeader
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses
from typing import Final

from milter.envelope import Envelope
from milter.html_text import HtmlText, find_urls, html_to_text
from milter.mime_decode import (
    LINE_BREAK,
    decode_bytes,
    decode_encoded_words,
    decode_header_value,
    encoded_word_bytes,
    fix_8bit,
    guess_decode,
)
from milter.pdf_text import pdf_text


class _ReusingPolicy(EmailPolicy):
    """``email.policy.default``, except that a header value it has parsed is reused
    within one message.

    The modern policy parses a header again on every access, and the parser itself reads
    Content-Type four or five times per part (get_content_type, get_content_maintype,
    get_boundary): that was half the cost of parsing a plain message. A header object
    depends only on its name and value and nobody here modifies one, so equal inputs can
    share it. The cache belongs to one message (``for_message``), not to the process;
    long values are not kept (a hostile message could fill it with megabytes), they are
    parsed as before.
    """

    # Set per message by for_message(); None: parse every time, as the default policy.
    header_cache: dict[tuple[str, str], BaseHeader] | None = None
    # Shared by the messages one scanner reads (see MimeHeaderCache), or None.
    mime_headers: MimeHeaderCache | None = None

    def for_message(self, mime_headers: MimeHeaderCache | None = None) -> _ReusingPolicy:
        return self.clone(header_cache={}, mime_headers=mime_headers)

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name"):
            return value
        # As EmailPolicy.header_fetch_parse: line breaks removed, nothing else.
        value = value.replace("\r", "").replace("\n", "")
        cache = self.header_cache
        if cache is None or len(value) > _MAX_REUSED_HEADER:
            return self.header_factory(name, value)
        key = (name, value)
        header = cache.get(key)
        if header is None:
            shared = self.mime_headers
            if shared is not None and name.lower() in MimeHeaderCache.NAMES:
                header = shared.get(key, self.header_factory)
            else:
                header = self.header_factory(name, value)
            cache[key] = header
        return header


class MimeHeaderCache:
    """Parsed MIME structure fields shared between messages.

    "Content-Type: text/plain; charset=utf-8" and a few dozen other values make up most
    of these fields in real mail, and parsing one with the modern policy costs about as
    much as the rest of a small message's headers. Only these fields are shared (Subject
    or From repeat far less), at most ``MAX_ENTRIES`` of them; a header object depends
    only on its name and value, and nothing modifies one. One cache per scanner.
    """

    NAMES: Final = frozenset(
        {"content-type", "content-transfer-encoding", "content-disposition", "mime-version"}
    )
    MAX_ENTRIES: Final = 512

    def __init__(self) -> None:
        self._headers: dict[tuple[str, str], BaseHeader] = {}

    def get(self, key: tuple[str, str], parse: Callable[[str, str], BaseHeader]) -> BaseHeader:
        header = self._headers.get(key)
        if header is None:
            header = parse(*key)
            if len(self._headers) >= self.MAX_ENTRIES:
                self._headers.clear()  # boundaries make many values unique: start over
            self._headers[key] = header
        return header


_MAX_REUSED_HEADER: Final = 500
_POLICY: Final = _ReusingPolicy()
MAX_HEADERS: Final = 5_000
MAX_URLS: Final = 2_000
MAX_DEFECTS: Final = 100


@dataclass(frozen=True)
class ViewLimits:
    """Bounds on the work spent on one message.

    ``max_text_chars`` applies to each text part and attachment text. The PDF limits
    apply to each PDF, and ``pdf_max_seconds`` also to all PDFs of a message together,
    so a message with a hundred PDFs cannot take a hundred times as long.
    """

    max_parts: int = 500
    max_depth: int = 30
    max_text_chars: int = 2_000_000
    pdf_max_pages: int = 10
    pdf_max_seconds: float = 2.0
    pdf_max_bytes: int = 10_000_000
    # For the whole message: each part is bounded, but hundreds of hostile parts (slow
    # HTML) could still add up to minutes. Parts after the budget are not read.
    max_seconds: float = 20.0

    def __post_init__(self) -> None:
        for name in ("max_parts", "max_depth", "max_text_chars", "pdf_max_pages"):
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

    def header(self, name: str) -> tuple[str, ...]:
        """Every decoded value of header ``name`` (any case), in message order."""
        wanted = name.lower()
        return tuple(value for key, value in self.headers if key == wanted)


# --- the builder ------------------------------------------------------------------------

_PDF_MAGIC: Final = b"%PDF-"
_SINGLE_ANGLE: Final = re.compile(
    r"\s*([^<>]*?)\s*<\s*([^<>\s]*@[^<>\s]*)\s*>\s*(?:\([^()]*\)\s*)?$"
)
# One plain dot-atom address with only ASCII blanks around it (the stdlib's address
# parser does not skip other whitespace).
_BARE_ADDRESS: Final = re.compile(
    r"[ \t\r\n]*([A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)[ \t\r\n]*"
)
_TYPE_IN_RAW: Final = re.compile(r"\s*([A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+)")
_NAME_IN_RAW: Final = re.compile(r"""(?:file)?name\*?(?:\*\d+\*?)?\s*=\s*("[^"]*"|[^;\s]+)""", re.I)


@dataclass
class _Builder:
    limits: ViewLimits
    subject: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    from_name: str = ""
    from_address: str = ""
    reply_to: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)
    html_parts: list[HtmlText] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    parts: int = 0
    decoded_bytes: int = 0
    pdf_seconds: float = 0.0
    stopped_parts: bool = False
    started: float = field(default_factory=time.monotonic)
    # The policy with this message's own header cache (see _ReusingPolicy).
    policy: _ReusingPolicy = field(default_factory=_POLICY.for_message)

    def defect(self, text: str) -> None:
        if len(self.defects) < MAX_DEFECTS and text not in self.defects:
            self.defects.append(text)

    # -- whole message --

    def run(self, raw: bytes) -> None:
        try:
            message = BytesParser(policy=self.policy).parsebytes(raw)
        except Exception as exc:  # RecursionError on absurd nesting, parser bugs
            self.defect(f"message could not be parsed ({type(exc).__name__}); read as text")
            self._run_unparsed(raw)
            return
        self._read_headers(message)
        self._walk(message, 0)
        if not (self.headers or self.text_parts or self.html_parts or self.attachments):
            # Nothing looked like a message: keep every byte as body text.
            text = guess_decode(raw[: self.limits.max_text_chars * 4])
            if text.strip():
                self.defect("no headers and no body found; whole input read as text")
                self._add_text(text[: self.limits.max_text_chars])

    def _run_unparsed(self, raw: bytes) -> None:
        try:
            message = BytesParser(policy=self.policy).parsebytes(raw, headersonly=True)
            self._read_headers(message)
        except Exception as exc:
            self.defect(f"headers could not be parsed ({type(exc).__name__})")
        head, separator, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
        text = guess_decode((body if separator else head)[: self.limits.max_text_chars * 4])
        self._add_text(text[: self.limits.max_text_chars])

    # -- headers --

    def _read_headers(self, message: Message) -> None:
        items = message.raw_items()
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
            return [(display, _clean_address(single.group(2)))]
        bare = _BARE_ADDRESS.fullmatch(text)
        if bare:
            # Just an address, the form most headers that get here have: getaddresses
            # returns it as it is, with no name, at many times the cost.
            return [("", _clean_address(bare.group(1)))]
        try:
            pairs = [(d, a) for d, a in getaddresses([text]) if d or a]
        except Exception:
            pairs = []
        if any("@" in address for _, address in pairs):
            return [(decode_header_value(d), _clean_address(a)) for d, a in pairs]
        try:
            header = self.policy.header_fetch_parse(name, text)
            found: list[tuple[str, str]] = []
            for address in header.addresses:
                display = str(address.display_name or "")
                if "=?" in display:
                    display = decode_encoded_words(display)
                found.append((display.strip(), _clean_address(str(address.addr_spec))))
            if found:
                return found
        except Exception as exc:
            self.defect(f"header {name}: address parse failed ({type(exc).__name__})")
        return [(decode_header_value(d), _clean_address(a)) for d, a in pairs]

    # -- MIME structure --

    def _walk(self, part: Message, depth: int) -> None:
        if self.parts >= self.limits.max_parts:
            if not self.stopped_parts:
                self.stopped_parts = True
                self.defect(f"more than {self.limits.max_parts} MIME parts; the rest not read")
            return
        if self.parts and time.monotonic() - self.started > self.limits.max_seconds:
            if not self.stopped_parts:
                self.stopped_parts = True
                self.defect(
                    f"reading the message took over {self.limits.max_seconds:g} s; "
                    f"parts after the first {self.parts} not read"
                )
            return
        self.parts += 1
        self._read_defects(part)
        content_type = _content_type(part)
        if part.is_multipart():
            if depth >= self.limits.max_depth:
                self.defect(f"MIME nesting deeper than {self.limits.max_depth}; not read")
                return
            payload = part.get_payload()
            encoded = _transfer_encoding(part)
            if content_type.startswith("message/") and encoded in ("base64", "quoted-printable"):
                # Against RFC 2046 section 5.2.1, but it happens: the parser read the
                # encoded text as a message. Decode it and read the message inside.
                inner = payload[0] if isinstance(payload, list) and payload else None
                data = _encoded_message_bytes(inner, encoded) if inner is not None else b""
                before = self.decoded_bytes
                self._walk(BytesParser(policy=self.policy).parsebytes(data), depth + 1)
                self._message_attachment(part, content_type, self.decoded_bytes - before)
                return
            if content_type.startswith("message/"):
                before = self.decoded_bytes
                for sub in payload if isinstance(payload, list) else []:
                    if isinstance(sub, Message):
                        self._walk(sub, depth + 1)
                self._message_attachment(part, content_type, self.decoded_bytes - before)
            else:
                for sub in payload if isinstance(payload, list) else []:
                    if isinstance(sub, Message):
                        self._walk(sub, depth + 1)
            return
        data = _payload_bytes(part)
        self.decoded_bytes += len(data)
        self._read_defects(part)  # decoding adds base64 defects to the part
        if content_type == "message/rfc822" and data.strip():
            # A message/rfc822 part the parser left closed: open it ourselves.
            if depth >= self.limits.max_depth:
                self.defect(f"MIME nesting deeper than {self.limits.max_depth}; not read")
                return
            before = self.decoded_bytes
            inner = BytesParser(policy=self.policy).parsebytes(data)
            self._walk(inner, depth + 1)
            self._message_attachment(part, content_type, self.decoded_bytes - before)
            return
        disposition = _disposition(part)
        if content_type.startswith("multipart/"):
            self.defect(f"{content_type} without a usable boundary; read as text")
            content_type = "text/plain"
        if content_type in ("text/plain", "text/html") and disposition != "attachment":
            text = self._text(data, part)
            if content_type == "text/html":
                html = html_to_text(text)
                self.html_parts.append(html)
                self._add_urls(html.urls)
            elif text:
                self._add_text(text)
            return
        filename = _filename(part)
        text = ""
        if _is_pdf(content_type, filename, data):
            text = self._pdf(data)
        elif content_type.startswith("text/"):
            text = self._text(data, part)
        self.attachments.append(Attachment(filename, content_type, len(data), text))

    def _message_attachment(self, part: Message, content_type: str, size: int) -> None:
        """List an attached message (its text was read as body text)."""
        filename = _filename(part)
        if filename or _disposition(part) == "attachment":
            self.attachments.append(Attachment(filename, content_type, size, ""))

    def _read_defects(self, part: Message) -> None:
        for defect in getattr(part, "defects", ()):
            self.defect(type(defect).__name__)

    def _add_text(self, text: str) -> None:
        self.text_parts.append(text)
        self._add_urls(find_urls(text))

    def _add_urls(self, urls: list[str] | tuple[str, ...]) -> None:
        room = MAX_URLS - len(self.urls)
        if room > 0:
            self.urls.extend(urls[:room])

    def _text(self, data: bytes, part: Message) -> str:
        limit = self.limits.max_text_chars
        if len(data) > limit * 4:
            data = data[: limit * 4]
        charset = _charset(part)
        text, unknown = decode_bytes(data, charset)
        if unknown:
            self.defect(f"unknown charset {charset!r}")
        if len(text) > limit:
            self.defect(f"text part longer than {limit} characters; truncated")
            text = text[:limit]
        return text

    def _pdf(self, data: bytes) -> str:
        limits = self.limits
        remaining = limits.pdf_max_seconds - self.pdf_seconds
        if remaining <= 0:
            self.defect("PDF time budget spent; later PDFs not read")
            return ""
        if len(data) > limits.pdf_max_bytes:
            self.defect(f"PDF larger than {limits.pdf_max_bytes} bytes; not read")
            return ""
        started = time.monotonic()
        text = pdf_text(
            data,
            max_pages=limits.pdf_max_pages,
            max_seconds=remaining,
            max_bytes=limits.pdf_max_bytes,
        )
        self.pdf_seconds += time.monotonic() - started
        return text[: limits.max_text_chars]

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
        )


def _clean_address(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


def _raw_header(part: Message, name: str) -> str:
    for key, value in part.raw_items():
        if key.lower() == name:
            return fix_8bit(str(value))
    return ""


# The structural headers are read with regexes on the raw value: the modern policy
# re-parses a header on every access, which made Content-Type alone cost as much as
# parsing the message. The parser has already used them to split the parts.
_CHARSET_PARAM: Final = re.compile(r"""[;\s]charset\*?\s*=\s*(?:"([^"]*)"|([^;\s]+))""", re.I)


def _content_type(part: Message) -> str:
    # RFC 2045 section 5.2: a missing or invalid type is the default (text/plain, or
    # message/rfc822 inside multipart/digest). A missing ";" leaves the parameters in
    # the value ("multipart/mixed\tboundary=…"): the type is the first token.
    match = _TYPE_IN_RAW.match(_raw_header(part, "content-type"))
    if match:
        return match.group(1).lower()
    try:
        return part.get_default_type()
    except Exception:
        return "text/plain"


def _charset(part: Message) -> str | None:
    match = _CHARSET_PARAM.search(_raw_header(part, "content-type"))
    if not match:
        return None
    charset = match.group(1) if match.group(1) is not None else match.group(2)
    if "'" in charset:  # RFC 2231 form: charset'language'value
        charset = charset.split("'", 1)[0]
    return charset.strip() or None


def _disposition(part: Message) -> str | None:
    raw = _raw_header(part, "content-disposition").strip().lower()
    return raw.split(";", 1)[0].strip() or None


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
        for header in ("content-disposition", "content-type"):
            match = _NAME_IN_RAW.search(_raw_header(part, header))
            if match:
                name = match.group(1).strip('"')
                break
    name = fix_8bit(str(name))
    if "=?" in name:
        name = decode_encoded_words(name)
    return name.strip()


def _transfer_encoding(part: Message) -> str:
    return _raw_header(part, "content-transfer-encoding").strip().lower()


def _encoded_message_bytes(inner: Message, encoding: str) -> bytes:
    """The bytes of a message that arrived base64- or quoted-printable-encoded."""
    # Base64 has no ":" so the parser put it all in the body; quoted-printable may have
    # been split into "headers" at its first colon: put them back together.
    head = "".join(f"{name}: {value}\n" for name, value in inner.raw_items())
    body = inner.get_payload()
    text = (head + ("\n" if head else "") + body) if isinstance(body, str) else head
    data = text.encode("utf-8", "surrogateescape")
    if encoding == "base64":
        return encoded_word_bytes("b", text)
    try:
        return binascii.a2b_qp(data)
    except (binascii.Error, ValueError):
        return data


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    return data if isinstance(data, bytes) else b""


def _is_pdf(content_type: str, filename: str, data: bytes) -> bool:
    if content_type == "application/pdf" or filename.lower().endswith(".pdf"):
        return True
    # Scam PDFs also come as application/octet-stream with odd names.
    return _PDF_MAGIC in data[:1024]


def parse_message(
    raw: bytes,
    envelope: Envelope | None = None,
    limits: ViewLimits = ViewLimits(),
    mime_headers: MimeHeaderCache | None = None,
) -> MessageView:
    """Parse ``raw`` into a :class:`MessageView`; never raises.

    Problems are listed in ``defects``; on an internal error (a bug) the view holds
    what was read before it, with a defect naming the exception. ``mime_headers`` lets
    messages share parsed MIME fields (a scanner keeps one).
    """
    builder = _Builder(limits, policy=_POLICY.for_message(mime_headers))
    try:
        builder.run(bytes(raw))
    except Exception as exc:  # a bug: keep the partial view, say so
        builder.defect(f"internal error while reading the message: {type(exc).__name__}")
    return builder.view(envelope if envelope is not None else Envelope())

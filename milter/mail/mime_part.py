"""One MIME part's structural fields and bytes, read robustly (for view.py).

The structural headers are read with regexes on the raw value: the modern policy
re-parses a header on every access, which made Content-Type alone cost as much as
parsing the message. The parser has already used them to split the parts. Nothing here
raises for a broken part: each answers the default a reader would assume.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator
from email.message import Message
from typing import Final

from milter.mail.mime_decode import decode_encoded_words, encoded_word_bytes, fix_8bit

_TYPE_IN_RAW: Final = re.compile(r"\s*([A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+)")
_NAME_IN_RAW: Final = re.compile(r"""(?:file)?name\*?(?:\*\d+\*?)?\s*=\s*("[^"]*"|[^;\s]+)""", re.I)


def clean_address(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


def raw_field(part: Message, name: str) -> str:
    for key, value in part.raw_items():
        if key.lower() == name:
            return fix_8bit(str(value))
    return ""


_CHARSET_PARAM: Final = re.compile(r"""[;\s]charset\*?\s*=\s*(?:"([^"]*)"|([^;\s]+))""", re.I)


def part_type(part: Message) -> str:
    # RFC 2045 section 5.2: a missing or invalid type is the default (text/plain, or
    # message/rfc822 inside multipart/digest). A missing ";" leaves the parameters in
    # the value ("multipart/mixed\tboundary=…"): the type is the first token.
    match = _TYPE_IN_RAW.match(raw_field(part, "content-type"))
    if match:
        return match.group(1).lower()
    try:
        return part.get_default_type()
    except Exception:
        return "text/plain"


class CrCount:
    """Counts the CRs of a body as it is read, chunk by chunk or whole."""

    def __init__(self) -> None:
        self.count = 0

    def of(self, data: bytes) -> bytes:
        self.count += data.count(b"\r")
        return data

    def each(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.count += chunk.count(b"\r")
            yield chunk


def part_charset(part: Message) -> str | None:
    match = _CHARSET_PARAM.search(raw_field(part, "content-type"))
    if not match:
        return None
    charset = match.group(1) if match.group(1) is not None else match.group(2)
    if "'" in charset:  # RFC 2231 form: charset'language'value
        charset = charset.split("'", 1)[0]
    return charset.strip() or None


def part_disposition(part: Message) -> str | None:
    raw = raw_field(part, "content-disposition").strip().lower()
    return raw.split(";", 1)[0].strip() or None


def part_filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
        for header in ("content-disposition", "content-type"):
            match = _NAME_IN_RAW.search(raw_field(part, header))
            if match:
                name = match.group(1).strip('"')
                break
    name = fix_8bit(str(name))
    if "=?" in name:
        name = decode_encoded_words(name)
    return name.strip()


def part_encoding(part: Message) -> str:
    return raw_field(part, "content-transfer-encoding").strip().lower()


def encoded_message_bytes(inner: Message, encoding: str) -> bytes:
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


def payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        payload = part.get_payload()
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    return data if isinstance(data, bytes) else b""

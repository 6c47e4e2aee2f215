"""Decoding what mail carries as bytes into text: body charsets and RFC 2047 header words.

Mail from strangers mislabels its charsets, splits characters across encoded words and
puts raw 8-bit bytes in headers. Everything here is lenient and never raises: an unknown
charset falls back to UTF-8 and then Windows-1252.
"""

from __future__ import annotations

import binascii
import codecs
import re
from typing import Final

# Charset names seen in real mail that Python does not know by that name.
_CHARSET_ALIASES: Final = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "x-sjis": "shift_jis",
    "x-gbk": "gbk",
    "x-euc-jp": "euc_jp",
    "x-euc": "euc_jp",
    "utf8mb4": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode-2-0-utf-8": "utf-8",
    "x-mac-roman": "mac_roman",
    "ansi_x3.4-1968": "ascii",
    "us": "ascii",
    "cp-850": "cp850",
    "windows-874": "cp874",
}
# Codecs that are text encodings to Python but not charsets of mail; decoding a body
# with them would turn backslashes or "xn--" into something else.
_NOT_CHARSETS: Final = frozenset(
    ("unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined")
)
_ASCII_NAMES: Final = frozenset(("", "us-ascii", "ascii", "us_ascii", "646"))


def guess_decode(data: bytes) -> str:
    """Bytes of unknown charset: UTF-8 if they are valid UTF-8, else Windows-1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Windows-1252 rather than Latin-1: it is what "8-bit, unlabelled" usually is,
        # and it maps 0x80-0x9f to the curly quotes and euro sign they stood for.
        return data.decode("cp1252", errors="replace")


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode ``data`` in ``charset``; also say whether the charset was unknown."""
    name = (charset or "").strip().strip("\"'").lower()
    if name in _ASCII_NAMES:
        if data.isascii():
            return data.decode("ascii"), False
        return guess_decode(data), False
    name = _CHARSET_ALIASES.get(name, name)
    try:
        info = codecs.lookup(name)
        if info.name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
            raise LookupError(name)
        return data.decode(info.name, errors="replace"), False
    except (LookupError, UnicodeError, ValueError, TypeError):
        return guess_decode(data), True


def fix_8bit(value: str) -> str:
    """Undo the parser's surrogate escapes of raw 8-bit header bytes."""
    if value.isascii():
        return value
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeError:
        return value.encode("utf-8", "replace").decode("utf-8", "replace")
    return guess_decode(data)


# RFC 2047 encoded words, leniently: spaces inside are tolerated (broken mailers put
# them there), the charset may carry an RFC 2231 language ("utf-8*en").
_ENCODED_WORD: Final = re.compile(r"=\?([^?\s]{1,80})\?([bBqQ])\?([^?]*?)\?=")
_NOT_BASE64: Final = re.compile(r"[^A-Za-z0-9+/]")


def encoded_word_bytes(encoding: str, text: str) -> bytes:
    data = text.encode("utf-8", "surrogateescape")
    if encoding in "bB":
        clean = _NOT_BASE64.sub("", text)
        if len(clean) % 4 == 1:
            clean = clean[:-1]  # a lone trailing sextet carries no whole byte
        clean += "=" * (-len(clean) % 4)
        try:
            return binascii.a2b_base64(clean)
        except (binascii.Error, ValueError):
            return b""
    try:
        return binascii.a2b_qp(data, header=True)
    except (binascii.Error, ValueError):
        return data


def decode_encoded_words(value: str) -> str:
    """Decode the RFC 2047 encoded words in ``value`` (leniently; never raises).

    Whitespace between adjacent encoded words is dropped (RFC 2047 section 6.2), and
    adjacent words in one charset are decoded together, so a character split across
    two words (as some mailers do) comes out whole.
    """
    pieces: list[tuple[str | None, str | bytes]] = []  # (charset, bytes) or (None, text)
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[position : match.start()]
        if gap and not (gap.isspace() and pieces and pieces[-1][0] is not None):
            pieces.append((None, gap))
        charset = match.group(1).split("*", 1)[0]
        data = encoded_word_bytes(match.group(2), match.group(3))
        if pieces and pieces[-1][0] is not None and pieces[-1][0].lower() == charset.lower():
            previous = pieces[-1][1]
            assert isinstance(previous, bytes)
            pieces[-1] = (charset, previous + data)
        else:
            pieces.append((charset, data))
        position = match.end()
    if not pieces:
        return value
    tail = value[position:]
    out: list[str] = []
    for charset, content in pieces:
        if charset is None:
            assert isinstance(content, str)
            out.append(content)
        else:
            assert isinstance(content, bytes)
            out.append(decode_bytes(content, charset)[0])
    out.append(tail)
    return "".join(out)


LINE_BREAK: Final = re.compile(r"\r?\n(?=[ \t])|\r\n|[\r\n]")


def decode_header_value(raw: str) -> str:
    """A raw header value as text: 8-bit fixed, unfolded, encoded words decoded."""
    value = fix_8bit(raw)
    if "\n" in value or "\r" in value:
        # Unfold: a CRLF or LF goes, a lone CR is a space. The same as substituting
        # LINE_BREAK with "" for matches that end in LF and " " for the others, without
        # a Python call per line break.
        value = value.replace("\r\n", "").replace("\n", "").replace("\r", " ")
    if "=?" in value:
        value = decode_encoded_words(value)
    return value.strip()

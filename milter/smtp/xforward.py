"""Postfix's XFORWARD command, both ways, without I/O.

The SMTP front reads ``XFORWARD NAME=… ADDR=…`` from the Postfix in front of us, which
carries the real client (after-queue mode has no other way to learn it, and SPF needs its
address and HELO). The relay writes the same command to the next hop, so Postfix behind
us logs the real client too. The rules come from Postfix's XFORWARD_README:

- attribute names are case-insensitive; values are xtext (RFC 3461 section 4, which
  replaced RFC 1891 cited by the README);
- ``[UNAVAILABLE]`` (any case) means unknown; ``[TEMPUNAVAIL]`` is XCLIENT's "lookup
  failed for now", which for us is just as unknown;
- an attribute value is at most 255 characters and a command line at most 512 bytes;
- Postfix writes an IPv6 ADDR with an ``IPv6:`` prefix, as in an RFC 5321 address
  literal; ``ClientInfo.addr`` holds the bare address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import replace

from milter.errors import ScamMilterError
from milter.mail.display import Fit, safe_text
from milter.mail.envelope import ClientInfo
from milter.smtp.replies import Reply

__all__ = [
    "ATTRIBUTES",
    "XForwardError",
    "neuter",
    "parse_xforward",
    "shown",
    "xforward_lines",
    "xtext_decode",
    "xtext_encode",
]

# The order Postfix announces and sends them in; also the order we write them.
ATTRIBUTES: tuple[str, ...] = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE")

UNAVAILABLE = "[UNAVAILABLE]"
_UNKNOWN_VALUES = frozenset({"[UNAVAILABLE]", "[TEMPUNAVAIL]"})
_IPV6_PREFIX = "IPv6:"

# XFORWARD_README note 1: "an attribute-value element must not be longer than 255
# characters"; Postfix's smtpd answers 501 to a longer one, so we never send one.
MAX_VALUE = 255
# PROTO is "an SMTP or non-SMTP protocol name of up to 64 characters" (XFORWARD_README).
MAX_PROTO = 64
# RFC 5321 4.5.3.1.4: a command line is at most 512 octets, CRLF included.
MAX_LINE = 512
_CRLF = 2

_HEX = "0123456789ABCDEFabcdef"


def shown(text: str, limit: int = 64) -> str:
    """``text`` made safe for a reply line: ASCII only, escapes for the rest, shortened."""
    # Replies are sent as bytes; a lone surrogate (invalid UTF-8 from the peer) or a
    # control character must never reach them.
    return safe_text(text, Fit.ASCII, escape=True, limit=limit)


class XForwardError(ScamMilterError):
    """An XFORWARD command the front cannot accept; ``reply`` is what to answer."""

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply or Reply(501, f"5.5.4 {message}")


def xtext_encode(value: str) -> str:
    """Encode ``value`` as xtext (RFC 3461 section 4): ``+HH`` for "+", "=", SP, controls.

    Non-ASCII text is encoded as its UTF-8 bytes, each as ``+HH``.
    """
    out: list[str] = []
    for byte in value.encode("utf-8", "surrogateescape"):
        # xchar = %d33-42 / %d44-60 / %d62-126: printable ASCII except "+" and "=".
        if 33 <= byte <= 126 and byte not in (0x2B, 0x3D):
            out.append(chr(byte))
        else:
            out.append(f"+{byte:02X}")
    return "".join(out)


def xtext_decode(text: str) -> str:
    """Decode xtext. Raises ``XForwardError`` on a bare "+" or a non-xtext character.

    RFC 3461 asks for upper-case hex digits; lower case is accepted as Postfix's own
    decoder does. Bytes that are not UTF-8 are kept as surrogate escapes, so nothing the
    peer sent is silently lost.
    """
    raw = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "+":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                raise XForwardError(f"Bad xtext escape in {shown(text)}")
            raw.append(int(pair, 16))
            i += 3
            continue
        code = ord(char)
        if not 33 <= code <= 126 or char == "=":
            raise XForwardError(f"Bad xtext character in {shown(text)}")
        raw.append(code)
        i += 1
    return raw.decode("utf-8", "surrogateescape")


def neuter(value: str) -> str:
    """``value`` with control characters, whitespace and non-UTF-8 bytes as "?"."""
    # XFORWARD_README note 1: decoded values must not hold control characters or
    # whitespace. Postfix's own smtpd replaces them with "?" rather than refusing, and
    # so do we: a 501 here would make the Postfix in front fail (or bounce) a message
    # over a log attribute. Replacing CR and LF also keeps them out of headers we write.
    # Bytes that were not UTF-8 (surrogate escapes) become "?" too: they cannot be
    # written to a log line or a header as they are.
    return safe_text(value, Fit.LINE, whitespace="unsafe")


def _parse_addr(value: str) -> str:
    if value[:5].lower() == _IPV6_PREFIX.lower():
        bare = value[5:]
        try:
            ipaddress.IPv6Address(bare)
        except ValueError as exc:
            raise XForwardError(f"Bad XFORWARD ADDR syntax: {shown(value)}") from exc
        return bare
    # "The address may be a non-IP address" (XFORWARD_README): a name such as a socket's
    # is kept as given. But a value written like an IP address must be one: 999.1.1.1 or
    # 1:2:3 would reach SPF and the logs as if it were the client's address.
    if value.replace(".", "").isdigit() or ":" in value:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError as exc:
            raise XForwardError(f"Bad XFORWARD ADDR syntax: {shown(value)}") from exc
    return value


def _parse_port(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) > 65535:
        raise XForwardError(f"Bad XFORWARD PORT syntax: {shown(value)}")
    return int(value)


def parse_xforward(argument: str, current: ClientInfo) -> ClientInfo:
    """Apply one XFORWARD command's ``NAME=value …`` to ``current``.

    Attributes not named keep their value in ``current``. The caller passes an empty
    ``ClientInfo()`` for the first XFORWARD of a transaction, never the connection's own
    data: the README's server "initializes all XFORWARD attributes to [UNAVAILABLE]", and
    note 4 forbids mixing the forwarding session with the forwarded one.

    Raises ``XForwardError`` (reply 501 5.5.4) for an empty command, an element without
    "=", an empty or too long value, bad xtext, an unknown attribute, a bad PORT or PROTO,
    or a malformed "IPv6:" ADDR. Nothing is applied then.
    """
    elements = argument.split()
    if not elements:
        raise XForwardError("Syntax: XFORWARD attribute=value...")
    changes: dict[str, str | int | None] = {}
    for element in elements:
        name, eq, encoded = element.partition("=")
        if not eq or not name or not encoded:
            raise XForwardError(f"Bad XFORWARD element, attribute=value expected: {shown(element)}")
        upper = name.upper()
        if upper not in ATTRIBUTES:
            raise XForwardError(f"Bad XFORWARD attribute name: {shown(name)}")
        if len(encoded) > MAX_VALUE:
            raise XForwardError(f"XFORWARD {upper} value too long")
        value = xtext_decode(encoded)
        if value.upper() in _UNKNOWN_VALUES:
            changes[upper.lower()] = None
            continue
        value = neuter(value)
        if upper == "ADDR":
            changes["addr"] = _parse_addr(value)
        elif upper == "PORT":
            changes["port"] = _parse_port(value)
        elif upper == "PROTO" and len(value) > MAX_PROTO:
            raise XForwardError(f"Bad XFORWARD PROTO syntax: {shown(value)}")
        else:
            changes[upper.lower()] = value
    return replace(current, **changes)  # type: ignore[arg-type]


def _encoded_value(attribute: str, info: ClientInfo) -> str:
    value = getattr(info, attribute.lower())
    if value is None or value == "":
        # An empty value is a syntax error to Postfix ("attribute=value expected").
        return UNAVAILABLE
    text = str(value)
    if attribute == "ADDR":
        try:
            if ipaddress.ip_address(text).version == 6:
                # Postfix's smtpd strips this prefix and only then checks the address.
                text = _IPV6_PREFIX + text
        except ValueError:
            pass  # not an IP address: sent as given, as the README allows
    encoded = xtext_encode(text)
    if len(encoded) > MAX_VALUE:
        # Postfix would answer 501 to the whole command and fail the delivery; losing
        # one log attribute is the smaller harm.
        return UNAVAILABLE
    return encoded


def xforward_lines(info: ClientInfo, supported: Collection[str]) -> list[str]:
    """The XFORWARD command lines (without CRLF) that pass ``info`` to the next hop.

    Only the attributes in ``supported`` (the names the next hop listed after XFORWARD in
    its EHLO reply, any case) are sent, in Postfix's order. Unknown values go as
    ``[UNAVAILABLE]``, so the next hop never mixes our connection into the forwarded
    data. Attributes are packed into as few lines as fit 512 bytes with CRLF. An empty
    list means the next hop takes none of them.
    """
    wanted = {name.upper() for name in supported}
    lines: list[str] = []
    current = "XFORWARD"
    for attribute in ATTRIBUTES:
        if attribute not in wanted:
            continue
        element = f" {attribute}={_encoded_value(attribute, info)}"
        # Every element is ASCII after xtext encoding, so characters are bytes here.
        if current != "XFORWARD" and len(current) + len(element) + _CRLF > MAX_LINE:
            lines.append(current)
            current = "XFORWARD"
        current += element
    if current != "XFORWARD":
        lines.append(current)
    return lines

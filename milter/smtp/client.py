"""The client side of SMTP with no I/O: reply parsing, command and DATA framing.

The relay (milter/smtp/relay.py) owns the sockets; this module only turns bytes into
replies and values into bytes, so it is tested with tables and no event loop (h11's discipline;
docs/architecture.md, "What may import what").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from milter.mail.envelope import Param
from milter.smtp.replies import Reply

# RFC 5321 4.5.3.1.5 allows 512 octets per reply line. Postfix stays within it; a peer that
# sends far more without a line end is not speaking SMTP, and must not make us buffer
# without bound. Generous, so an odd but honest server still gets through.
MAX_REPLY_LINE = 8192
# A multi-line reply longer than this is garbage too (an EHLO reply has ~15 lines).
MAX_REPLY_LINES = 200


class ReplyError(Exception):
    """The peer sent something that is not an SMTP reply."""


@dataclass
class ReplyParser:
    """Turns received bytes into ``Reply`` values.

    Feed whatever the socket gave with ``feed``; ``next_reply`` returns each complete
    reply (``None`` until one is complete) and raises ``ReplyError`` on garbage. Bytes
    past a reply stay buffered for the next one, so pipelined replies work.

    Multi-line replies (RFC 5321 4.2.1, ``250-first`` … ``250 last``) become one
    ``Reply`` whose text joins the lines' texts with ``"\\n"``; the enhanced status code
    (RFC 3463) stays in the text, as ``Reply`` expects.
    """

    _buffer: bytearray = field(default_factory=bytearray)
    _lines: list[str] = field(default_factory=list)
    _code: int = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> bool:
        """True when bytes are buffered that belong to no reply returned yet."""
        return bool(self._buffer) or bool(self._lines)

    def next_reply(self) -> Reply | None:
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_REPLY_LINE:
                    raise ReplyError("reply line too long")
                return None
            if end > MAX_REPLY_LINE:
                raise ReplyError("reply line too long")
            line = bytes(self._buffer[:end]).rstrip(b"\r")
            del self._buffer[: end + 1]
            reply = self._line(line)
            if reply is not None:
                return reply

    def _line(self, line: bytes) -> Reply | None:
        if len(line) < 3 or not line[:3].isdigit() or (len(line) > 3 and line[3:4] not in b" -"):
            raise ReplyError(f"not an SMTP reply line: {line[:80]!r}")
        code = int(line[:3])
        if self._lines and code != self._code:
            # RFC 5321 4.2.1: every line of a multi-line reply carries the same code.
            raise ReplyError(f"reply code changed within a reply: {self._code} then {code}")
        if not 200 <= code <= 599:
            raise ReplyError(f"reply code out of range: {code}")
        self._code = code
        # Reply texts are ASCII in practice; Postfix echoes a UTF-8 address now and then.
        self._lines.append(line[4:].decode("utf-8", errors="replace"))
        if len(self._lines) > MAX_REPLY_LINES:
            raise ReplyError("reply has too many lines")
        if line[3:4] == b"-":
            return None
        text = "\n".join(self._lines)
        self._lines = []
        return Reply(code, text)


def ehlo_extensions(reply: Reply) -> dict[str, str]:
    """The service extensions of an EHLO reply: upper-case keyword -> its parameters.

    The first line is the greeting (RFC 5321 4.1.1.1), not an extension.
    """
    extensions: dict[str, str] = {}
    for line in reply.text.split("\n")[1:]:
        keyword, _, params = line.strip().partition(" ")
        if keyword:
            extensions[keyword.upper()] = params.strip()
    return extensions


def command(verb: str, argument: str = "") -> bytes:
    """One command line, CRLF-terminated.

    Raises ``ValueError`` on CR or LF in the argument: an address or parameter that
    carries a line end would smuggle a second command to the next hop. The SMTP front
    never passes one; reaching this is a bug.
    """
    line = f"{verb} {argument}" if argument else verb
    if "\r" in line or "\n" in line:
        raise ValueError(f"line end inside an SMTP command: {line[:80]!r}")
    # UTF-8: addresses may be internationalised (RFC 6531); ASCII is a subset.
    return line.encode("utf-8") + b"\r\n"


def format_params(params: tuple[Param, ...]) -> str:
    """ESMTP parameters exactly as the client gave them (keyword case and value kept)."""
    return " ".join(key if value is None else f"{key}={value}" for key, value in params)


def mail_command(address: str, params: tuple[Param, ...]) -> bytes:
    argument = f"FROM:<{address}>"
    if params:
        argument = f"{argument} {format_params(params)}"
    return command("MAIL", argument)


def rcpt_command(address: str, params: tuple[Param, ...]) -> bytes:
    argument = f"TO:<{address}>"
    if params:
        argument = f"{argument} {format_params(params)}"
    return command("RCPT", argument)


def data_frame(raw: bytes) -> bytes:
    """What follows DATA's 354: the message dot-stuffed, then the "." line.

    RFC 5321 4.5.2: a line that starts with "." gets one more. One ``bytes.replace``
    does it for the whole message: a Python loop over lines would cost more than the
    network. Replacing after every LF, not only after CRLF, also stuffs a line that
    follows a bare LF, which Postfix's smtpd takes as a line end: otherwise "\\n.\\r\\n"
    inside a message would end DATA early there (SMTP smuggling).

    A final CRLF is added only when missing, so the last line is complete before ".".
    The result is one bytes object, so it goes out in one write (one system call for a
    small message, where a second write of the "." line would cost as much again).
    """
    stuffed = raw.replace(b"\n.", b"\n..")
    if stuffed[:1] == b".":
        stuffed = b"." + stuffed
    if not stuffed or stuffed.endswith(b"\r\n"):
        return stuffed + b".\r\n"
    return stuffed + b"\r\n.\r\n"

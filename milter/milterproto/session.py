"""One milter connection's state, without I/O: what the MTA told it, and what to answer.

Postfix opens one milter connection per SMTP session and may run several messages
through it (an ABORT or the end of a message starts the next). The filter decides only
at the end of a message, so it negotiates no reply for every step before (SMFIP_NR_*)
and skips the steps it does not use (unknown commands, DATA): Postfix then sends each
packet without waiting, one round trip per message instead of one per header.

``Session.receive`` takes an event of packets.py and returns the bytes to send now (for
OPTNEG and the steps whose reply was not waived) or, at the end of a message, a
``Message`` for the caller to judge; the caller sends its reply (packets.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from milter.milterproto import packets as p

# What the filter does: add headers (Authentication-Results, X-Scam-*) and change them
# (remove forged ones, prefix the Subject). A held message is stored by the filter and
# discarded, which needs no action flag.
ACTIONS = p.ADD_HEADERS | p.CHANGE_HEADERS
# Steps skipped, and steps that need no reply, if the MTA offers to.
WANTED_PROTOCOL = (
    p.NO_UNKNOWN
    | p.NO_DATA
    | p.NR_CONNECT
    | p.NR_HELO
    | p.NR_MAIL
    | p.NR_RCPT
    | p.NR_HEADER
    | p.NR_EOH
    | p.NR_BODY
    | p.HEADER_LEADING_SPACE
)
# Replies the MTA waits for unless negotiated away: step -> the flag that waives it.
_NO_REPLY = {
    p.Connect: p.NR_CONNECT,
    p.Helo: p.NR_HELO,
    p.MailFrom: p.NR_MAIL,
    p.Recipient: p.NR_RCPT,
    p.Header: p.NR_HEADER,
    p.EndOfHeaders: p.NR_EOH,
    p.BodyChunk: p.NR_BODY,
    p.DataCommand: p.NR_DATA,
    p.UnknownCommand: p.NR_UNKNOWN,
}


@dataclass(frozen=True)
class Client:
    """Who connected to the MTA (the connect step and its macros)."""

    address: str = ""
    hostname: str = ""
    helo: str = ""
    port: int = 0
    authenticated: str = ""  # {auth_authen}: a submission user, "" for MX traffic
    queue_id: str = ""  # {i}


@dataclass(frozen=True)
class Message:
    """One message, whole: what the end-of-message reply is decided on."""

    client: Client
    mail_from: str
    recipients: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]  # as received (value with its leading space)
    body: bytes
    over_limit: bool  # the body passed ``max_message`` and was not kept whole

    def raw(self) -> bytes:
        """The message as the scanner and the quarantine see it: the header fields as
        the MTA passed them, a blank line, the body (CRLF line ends, as sent)."""
        head = b"".join(
            p.wire_bytes(name) + b":" + p.wire_bytes(value) + b"\r\n"
            for name, value in self.headers
        )
        return head + b"\r\n" + self.body


@dataclass
class Session:
    max_message: int = 50 * 1024 * 1024
    protocol: int = 0  # the negotiated SMFIP_* flags
    client: Client = field(default_factory=Client)
    _mail_from: str = ""
    _recipients: list[str] = field(default_factory=list)
    _headers: list[tuple[str, str]] = field(default_factory=list)
    _body: bytearray = field(default_factory=bytearray)
    _size: int = 0
    _in_message: bool = False

    def receive(self, event: p.Event) -> bytes | Message | None:
        """What to send for ``event`` (bytes), a whole ``Message`` to judge, or None."""
        if isinstance(event, p.OptionsOffered):
            if event.version < 2:
                raise p.ProtocolError(f"milter protocol version {event.version} too old")
            self.protocol = WANTED_PROTOCOL & event.protocol
            return p.options(ACTIONS & event.actions, self.protocol, min(event.version, 6))
        if isinstance(event, p.Macros):
            self._macros(event)
            return None
        if isinstance(event, p.Connect):
            self.client = Client(address=event.address, hostname=event.hostname, port=event.port)
        elif isinstance(event, p.Helo):
            self.client = _with(self.client, helo=event.name)
        elif isinstance(event, p.MailFrom):
            # The message state was cleared at the last one's end; the macros that came
            # just before (auth, queue id) belong to this one.
            self._in_message = True
            self._mail_from = event.address.strip("<>")
        elif isinstance(event, p.Recipient):
            self._recipients.append(event.address.strip("<>"))
        elif isinstance(event, p.Header):
            self._count(len(event.name) + len(event.value) + 3)
            if not self._over:
                self._headers.append((event.name, self._leading_space(event.value)))
        elif isinstance(event, p.BodyChunk):
            self._add_body(event.data)
        elif isinstance(event, p.EndOfMessage):
            self._add_body(event.data)
            message = Message(
                self.client,
                self._mail_from,
                tuple(self._recipients),
                tuple(self._headers),
                bytes(self._body),
                self._over,
            )
            self._reset()
            return message
        elif isinstance(event, p.Abort):
            self._reset()
            return None
        elif isinstance(event, p.Quit):
            self._reset()
            if event.new_connection:
                self.client = Client()
            return None
        flag = _NO_REPLY.get(type(event))
        if flag is not None and not self.protocol & flag:
            return p.continue_()
        return None

    @property
    def _over(self) -> bool:
        return self._size > self.max_message

    def _count(self, size: int) -> None:
        self._size += size

    def _add_body(self, data: bytes) -> None:
        self._count(len(data))
        if data and not self._over:
            self._body += data

    def _leading_space(self, value: str) -> str:
        # Without HEADER_LEADING_SPACE the MTA strips the space after the colon.
        if self.protocol & p.HEADER_LEADING_SPACE:
            return value
        return " " + value

    def _macros(self, event: p.Macros) -> None:
        values = event.values
        changes: dict[str, str] = {}
        if values.get("{client_addr}") and not self.client.address:
            changes["address"] = values["{client_addr}"]
        if values.get("{client_name}") and not self.client.hostname:
            changes["hostname"] = values["{client_name}"]
        if "{auth_authen}" in values:
            changes["authenticated"] = values["{auth_authen}"]
        if values.get("i"):
            changes["queue_id"] = values["i"]
        if changes:
            self.client = _with(self.client, **changes)

    def _reset(self) -> None:
        self._mail_from = ""
        self._recipients = []
        self._headers = []
        self._body = bytearray()
        self._size = 0
        self._in_message = False
        if self.client.authenticated or self.client.queue_id:
            self.client = _with(self.client, authenticated="", queue_id="")


def _with(client: Client, **changes: str) -> Client:
    return replace(client, **changes)  # type: ignore[arg-type]

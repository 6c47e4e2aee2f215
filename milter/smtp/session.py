"""The command state of one SMTP server session, without I/O (h11's discipline).

Which command may come when, and what it changes: a greeting (EHLO or HELO) before any
mail; XFORWARD only from an authorised peer and only outside a transaction; MAIL, then
RCPT, then DATA; EHLO, HELO and RSET end the transaction (RFC 5321 4.1.4). Each method
takes what the client sent and returns either the refusal to send or what the front
goes on with; the front (milter/smtp/front.py) does the I/O, calls the transaction
handler and sends the replies. docs/architecture.md, "One message".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from milter.mail.envelope import ClientInfo, Envelope, Param
from milter.smtp.params import ParamError, parse_mail, parse_rcpt, size_param
from milter.smtp.replies import SHUTTING_DOWN, Reply
from milter.smtp.xforward import XForwardError, neuter, parse_xforward

OK = Reply(250, "2.0.0 Ok")
NEED_HELO = Reply(503, "5.5.1 Error: send HELO/EHLO first")
NEED_MAIL = Reply(503, "5.5.1 Error: need MAIL command")
NEED_RCPT = Reply(503, "5.5.1 Error: need RCPT command")
NESTED_MAIL = Reply(503, "5.5.1 Error: nested MAIL command")
IN_TRANSACTION = Reply(503, "5.5.1 Error: MAIL transaction in progress")
NO_EXTENSIONS = Reply(501, "5.5.4 Parameters need EHLO, not HELO")
XFORWARD_DENIED = Reply(550, "5.7.0 Error: insufficient authorization")
TOO_BIG = Reply(552, "5.3.4 Message size exceeds fixed maximum message size")


@dataclass
class Transaction:
    """One mail transaction, from MAIL to the DATA result; mutable while it runs."""

    # XFORWARD attributes when an authorised peer sent them, else the TCP peer and HELO.
    client: ClientInfo
    mail_from: str = ""  # "" is the null sender <>
    mail_params: tuple[Param, ...] = ()
    # Only the recipients the handler accepted (2xx), each with its RCPT parameters.
    recipients: list[tuple[str, tuple[Param, ...]]] = field(default_factory=list)
    state: object | None = None  # the handler's own (the proxy keeps its downstream here)

    def envelope(self) -> Envelope:
        """The transaction as the scanner and the quarantine see it."""
        return Envelope(
            mail_from=self.mail_from,
            rcpt_to=tuple(address for address, _ in self.recipients),
            mail_params=self.mail_params,
            rcpt_params=tuple(params for _, params in self.recipients),
            client=self.client,
        )


@dataclass
class CommandState:
    """What one session has said so far, and the transaction it has open."""

    max_message_size: int
    xforward_allowed: bool = False  # the peer is one of the front's xforward_hosts
    peer_addr: str | None = None
    peer_port: int | None = None
    helo: str | None = None  # the EHLO/HELO name, as typed
    extended: bool = False  # EHLO rather than HELO
    xforward: ClientInfo | None = None  # XFORWARD data for the next transaction
    tx: Transaction | None = None

    def end(self, *, keep_xforward: bool = False) -> Transaction | None:
        """End the open transaction (if any) and return it, for the handler to abort.
        XFORWARD data lasts one transaction (XFORWARD_README: reset at RSET or DOT),
        unless the transaction never started (``keep_xforward``: MAIL was refused)."""
        tx, self.tx = self.tx, None
        if not keep_xforward:
            self.xforward = None
        return tx

    def greet(self, verb: str, hostname: str | None) -> Reply | None:
        """EHLO or HELO: a refusal, or None once greeted. The caller ends the open
        transaction first (RFC 5321 4.1.4: a greeting resets the session as RSET)."""
        if not hostname:
            return Reply(501, f"5.5.4 Syntax: {verb} hostname")
        self.helo = hostname
        self.extended = verb == "EHLO"
        return None

    def xforward_command(self, argument: str | None) -> Reply:
        """XFORWARD: OK, or the refusal; the attributes apply to the next transaction."""
        if not self.xforward_allowed:
            return XFORWARD_DENIED
        if self.tx is not None:
            return IN_TRANSACTION  # XFORWARD_README: not "between MAIL and RSET or DOT"
        try:
            # The first XFORWARD of a transaction starts from nothing, not from our
            # connection (XFORWARD_README, note 4 and "Server operation").
            self.xforward = parse_xforward(argument or "", self.xforward or ClientInfo())
        except XForwardError as exc:
            return exc.reply
        return OK

    def mail(self, argument: str | None, *, draining: bool = False) -> Reply | Transaction:
        """MAIL FROM: the transaction it opens, or the refusal (SHUTTING_DOWN while the
        server drains: the front closes the session after sending it)."""
        if not self.helo:
            return NEED_HELO
        if self.tx is not None:
            return NESTED_MAIL
        if draining:
            return SHUTTING_DOWN
        parsed = self._address_and_params(parse_mail, argument)
        if isinstance(parsed, Reply):
            return parsed
        address, params = parsed
        size = size_param(params)
        if size is not None and size > self.max_message_size:
            # RFC 1870 6.2: refuse at MAIL what cannot fit, rather than after DATA.
            return TOO_BIG
        self.tx = Transaction(client=self.client_info(), mail_from=address, mail_params=params)
        return self.tx

    def rcpt(self, argument: str | None) -> Reply | tuple[Transaction, str, tuple[Param, ...]]:
        """RCPT TO: the transaction, address and parameters to hand on, or the refusal."""
        tx = self._open()
        if isinstance(tx, Reply):
            return tx
        parsed = self._address_and_params(parse_rcpt, argument)
        if isinstance(parsed, Reply):
            return parsed
        return tx, *parsed

    def accepted(self, tx: Transaction, address: str, params: tuple[Param, ...]) -> None:
        """The handler accepted this recipient (if the transaction is still the open one:
        a RSET may have come meanwhile)."""
        if self.tx is tx:
            tx.recipients.append((address, params))

    def data(self, argument: str | None) -> Reply | Transaction:
        """DATA: the transaction whose message comes now, or the refusal."""
        tx = self._open()
        if isinstance(tx, Reply):
            return tx
        if not tx.recipients:
            return NEED_RCPT
        if argument:
            return Reply(501, "5.5.4 Syntax: DATA")
        return tx

    def client_info(self) -> ClientInfo:
        """The client as the transaction records it: XFORWARD's, else the TCP peer."""
        if self.xforward is not None:
            return self.xforward
        return ClientInfo(
            addr=self.peer_addr,
            port=self.peer_port,
            proto="ESMTP" if self.extended else "SMTP",
            # The HELO name is whatever the client typed; it ends up in headers and logs.
            helo=neuter(self.helo) if self.helo else None,
        )

    def _open(self) -> Reply | Transaction:
        if not self.helo:
            return NEED_HELO
        if self.tx is None:
            return NEED_MAIL
        return self.tx

    def _address_and_params(
        self,
        parse: Callable[[str | None], tuple[str, tuple[Param, ...]]],
        argument: str | None,
    ) -> Reply | tuple[str, tuple[Param, ...]]:
        try:
            address, params = parse(argument)
        except ParamError as exc:
            return exc.reply
        if params and not self.extended:
            return NO_EXTENSIONS
        return address, params

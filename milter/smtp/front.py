"""The SMTP front: the server Postfix talks to. The only module that imports aiosmtpd.

aiosmtpd 1.4.6 (pinned) provides the command loop, pipelining and the command timeout;
a subclass replaces what a proxy cannot use as it is (docs/architecture.md, "One message"):

- ``smtp_MAIL``/``smtp_RCPT``: aiosmtpd upper-cases parameters, drops DSN ones and
  refuses every RCPT parameter; ours keep them as sent (``milter.smtp.params``).
- ``smtp_DATA``: aiosmtpd answers "500 Line too long" past 1001 bytes and reads line by
  line; ours takes lines of any length, keeps bytes exact, enforces the size limit with
  RFC 3463's 552 5.3.4, bounds the whole DATA phase in time and aborts the transaction on
  every way out.
- ``smtp_EHLO``/``smtp_HELO``/``smtp_RSET``/``smtp_QUIT`` and the new ``smtp_XFORWARD``:
  our extensions, and the points where a transaction ends.
- ``handle_exception``: aiosmtpd's default answers "500 Error: (Exc) msg", a permanent
  failure that leaks internals; ours logs and answers 451 4.3.0 (nothing is lost).
- ``connection_made``/``connection_lost``/``eof_received``/``_timeout_cb``: the connection
  limit, session tracking for drain, and a 421 before a timeout closes the connection.

The proxy sees none of this: it implements ``TransactionHandler`` and gets one
``Transaction`` per MAIL. For every transaction passed to ``mail()``, exactly one of these
follows: ``data()`` returns (or raises), or ``abort()`` is called.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import AnyStr, Protocol, cast

from aiosmtpd.smtp import SMTP, login_always_fail, syntax

from milter.errors import ConfigError
from milter.mail.envelope import Param
from milter.smtp.receive import BigMessages, receive_data
from milter.smtp.replies import LOCAL_ERROR, SHUTTING_DOWN, TIMEOUT, TOO_BUSY, Reply
from milter.smtp.session import CommandState, Transaction
from milter.smtp.xforward import ATTRIBUTES

__all__ = [
    "FrontServer",
    "FrontSettings",
    "Transaction",
    "TransactionHandler",
    "start_front",
]

log = logging.getLogger("scam_milter.smtp")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Our own replies. RFC 2034: with ENHANCEDSTATUSCODES announced, every reply but the
# greeting and the EHLO/HELO reply carries an enhanced code.
READY = "250 2.0.0 Ok"
BYE = Reply(221, "2.0.0 Bye")
START_DATA = Reply(354, "End data with <CR><LF>.<CR><LF>")
UNKNOWN_COMMAND = Reply(500, "5.5.2 Error: command not recognized")

# Postfix may pass long lines (smtpd_proxy_filter forwards what its client sent). This is
# the StreamReader's buffer limit; DATA lines may be longer still (read in pieces), and a
# command line longer than this gets "500 Command line too long".
LINE_LIMIT = 64 * 1024
# RFC 5321 4.5.3.1.4 allows 512 octets per command, but extensions enlarge MAIL and RCPT:
# RFC 3461 (DSN) adds up to 100 + 500 characters (ENVID, ORCPT), RFC 1870 26, RFC 6531
# 10, and UTF-8 addresses take more bytes than characters. Postfix's smtpd allows 2048.
MAIL_RCPT_LIMIT = 2048
# After drain's deadline, sessions get 421 and are closed; this long more is allowed for
# their aborts before the connections are cut without a word.
CLOSE_GRACE = 5.0


class TransactionHandler(Protocol):
    """What the front calls. A handler's reply goes to the client as it is.

    An exception (other than cancellation) is logged and answered 451 4.3.0. Handler
    coroutines are cancelled when the client goes away or drain's deadline passes.
    """

    async def mail(self, tx: Transaction) -> Reply:
        """MAIL FROM; a reply other than 2xx ends the transaction (``abort`` follows)."""
        ...

    async def rcpt(self, tx: Transaction, address: str, params: tuple[Param, ...]) -> Reply:
        """RCPT TO; a 2xx reply appends the recipient to ``tx.recipients``."""
        ...

    async def data(self, tx: Transaction, raw: bytes) -> Reply:
        """The message, byte for byte as sent (dot-stuffing undone, CRLF kept)."""
        ...

    async def abort(self, tx: Transaction) -> None:
        """The transaction ended without a DATA result.

        RSET, HELO/EHLO, QUIT, a refused or failed MAIL, a message over the size limit,
        a timeout, a lost connection, drain; also when ``data()`` was cancelled.
        """
        ...


def _default_networks() -> tuple[IPNetwork, ...]:
    return (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True)
class FrontSettings:
    hostname: str = "scam-milter"
    max_message_size: int = 50 * 1024 * 1024
    # Peers allowed to send XFORWARD: it rewrites the client SPF judges, so only the
    # Postfix in front of us may use it (XFORWARD_README, "Security").
    xforward_networks: tuple[IPNetwork, ...] = field(default_factory=_default_networks)
    command_timeout: float = 300.0  # idle time between commands (RFC 5321 4.5.3.2)
    data_timeout: float = 600.0  # for receiving the whole DATA
    max_connections: int = 100
    # Memory: a message costs its worker several times its size while it is read,
    # scanned and relayed (bench/memory_peak.py: about 9x for 50 MB). Past this size a
    # message needs one of ``big_messages_at_once`` slots to go on; the others wait with
    # their bytes so far, and TCP slows their clients meanwhile. Small mail never waits.
    big_message_size: int = 10 * 1024 * 1024
    big_messages_at_once: int = 1
    # Where a big message waiting for its slot is spooled (None: the system's temp
    # folder). On disk, not tmpfs, or the spool saves no memory: serve puts it in the
    # quarantine's folder.
    spool_dir: Path | None = None

    def __post_init__(self) -> None:
        if not self.hostname or any(c.isspace() for c in self.hostname):
            raise ConfigError(f"The SMTP host name must be one word, not {self.hostname!r}.")
        if self.max_message_size <= 0:
            raise ConfigError("The maximum message size must be a positive number of bytes.")
        if self.command_timeout <= 0 or self.data_timeout <= 0:
            raise ConfigError("The SMTP command and DATA timeouts must be positive.")
        if self.max_connections < 1:
            raise ConfigError("The SMTP connection limit must be at least 1.")
        if self.big_message_size < 1 or self.big_messages_at_once < 1:
            raise ConfigError("The big message size and slots must be at least 1.")


class FrontServer:
    """The listening front; made by ``start_front``."""

    def __init__(
        self, handler: TransactionHandler, settings: FrontSettings, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.handler = handler
        self.settings = settings
        self.loop = loop
        self._server: asyncio.Server | None = None
        self._port = 0
        self._sessions: set[_FrontSMTP] = set()
        self._empty = asyncio.Event()
        self._empty.set()
        self._accepting = True
        self.draining = False
        # Client address as the socket gives it -> (address, may send XFORWARD). Postfix
        # connects from a few addresses; parsing and testing each one per connection
        # was a measurable part of a short session.
        self._peers: dict[str, tuple[str, bool]] = {}
        self.big = BigMessages(
            settings.big_message_size, settings.big_messages_at_once, settings.spool_dir
        )

    def peer(self, host: str) -> tuple[str, bool] | None:
        """The client address ``host`` (a socket's peer) as we report it, and whether
        it may send XFORWARD; ``None`` for something that is not an IP address."""
        known = self._peers.get(host)
        if known is not None:
            return known
        ip = _ip(host)
        if ip is None:
            return None
        known = (
            str(ip),
            any(ip.version == net.version and ip in net for net in self.settings.xforward_networks),
        )
        if len(self._peers) >= MAX_KNOWN_PEERS:
            self._peers.clear()  # many distinct clients: a direct MX, not behind Postfix
        self._peers[host] = known
        return known

    @property
    def port(self) -> int:
        """The port actually bound (useful after listening on port 0)."""
        return self._port

    @property
    def active_sessions(self) -> int:
        """Connections being served, counting those whose transaction is still aborting."""
        return len(self._sessions)

    async def stop_accepting(self) -> None:
        """Close the listening sockets; sessions in flight carry on."""
        self._accepting = False
        if self._server is not None:
            # Not wait_closed(): from Python 3.12 on it also waits for every connection.
            self._server.close()

    async def drain(self, timeout: float) -> None:
        """Stop accepting, let transactions in flight finish, then close what is left.

        Idle sessions are closed at once with 421; a session in a transaction is closed
        with 421 when its transaction ends, or when ``timeout`` seconds have passed.
        """
        await self.stop_accepting()
        self.draining = True
        for session in list(self._sessions):
            session.close_if_idle()
        if await self._wait_empty(timeout):
            return
        log.warning(
            "drain: %d sessions still busy after %gs, closing", len(self._sessions), timeout
        )
        self.close()
        if not await self._wait_empty(CLOSE_GRACE):
            log.warning("drain: %d sessions did not end, cutting them", len(self._sessions))
            for session in list(self._sessions):
                session.kill()

    def close(self) -> None:
        """Stop accepting and close every session now with 421 (their transactions abort)."""
        self._accepting = False
        self.draining = True
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.shut_down()

    async def wait_closed(self) -> None:
        """Wait until every session has ended (after ``close`` or ``drain``)."""
        await self._empty.wait()

    async def _wait_empty(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._empty.wait()
        except TimeoutError:
            return False
        return True

    def _admission(self) -> Reply | None:
        """Why a new connection is turned away, or ``None`` to serve it."""
        if not self._accepting or self.draining:
            return SHUTTING_DOWN
        if len(self._sessions) >= self.settings.max_connections:
            return TOO_BUSY
        return None

    def _started(self, session: _FrontSMTP) -> None:
        self._sessions.add(session)
        self._empty.clear()

    def _finished(self, session: _FrontSMTP) -> None:
        self._sessions.discard(session)
        if not self._sessions:
            self._empty.set()


async def start_front(
    handler: TransactionHandler,
    settings: FrontSettings,
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
) -> FrontServer:
    """Listen on ``host``:``port`` (0 picks a free port, see ``FrontServer.port``), or
    accept on ``sock``, a listening socket shared by several worker processes."""
    loop = asyncio.get_running_loop()
    front = FrontServer(handler, settings, loop)
    # A plain asyncio server, not aiosmtpd's Controller: the Controller runs its own
    # loop in a thread, and we want the front in the proxy's loop.
    if sock is not None:
        front._server = await loop.create_server(lambda: _FrontSMTP(front), sock=sock)
    else:
        front._server = await loop.create_server(lambda: _FrontSMTP(front), host, port)
    # Kept now: after stop_accepting the server has no sockets left to ask.
    front._port = int(front._server.sockets[0].getsockname()[1])
    return front


class _NoHooks:
    """aiosmtpd's handler: no ``handle_*`` hooks, so every command runs our code."""


AIOSMTPD_IDENT = "ESMTP scam-milter"


MAX_KNOWN_PEERS = 1024


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; the networks in
        # the config (127.0.0.0/8) and SPF both want the IPv4 address.
        ip = ip.ipv4_mapped
    return ip


class _FrontSMTP(SMTP):
    """One client connection."""

    line_length_limit = LINE_LIMIT

    def __init__(self, front: FrontServer) -> None:
        settings = front.settings
        self._init_aiosmtpd(front.loop, settings)
        # aiosmtpd keeps these limits in a dict shared by the class and grows it on
        # every EHLO; ours is per session and fixed.
        self.command_size_limits = defaultdict(
            lambda: SMTP.command_size_limit, {"MAIL": MAIL_RCPT_LIMIT, "RCPT": MAIL_RCPT_LIMIT}
        )
        self._front = front
        self._refused = False
        # Which command may come when (no I/O: milter/smtp/session.py).
        self._state = CommandState(settings.max_message_size)
        self._peer_addr: str | None = None
        self._peer_port: int | None = None
        self._in_data = False
        self._client_ended = False
        self._registered = False
        self._pending: set[asyncio.Task[None]] = set()

    def _init_aiosmtpd(self, loop: asyncio.AbstractEventLoop, settings: FrontSettings) -> None:
        """The state ``SMTP.__init__`` (aiosmtpd 1.4.6, pinned) sets up, for the one set of
        arguments the front uses, written out instead of called.

        ``SMTP.__init__`` looks up every ``auth_*``, ``handle_*`` and ``smtp_*`` attribute
        with ``inspect.getmembers`` and ``dir`` on each connection: about an eighth of a
        worker's time when smtp-source opens a connection per message. The names come
        from the class here, once. The arguments it stands for: ``_NoHooks()`` as handler,
        no TLS, no AUTH (the LOGIN and PLAIN mechanisms excluded: Postfix in front did
        any AUTH already), SMTPUTF8 on, raw bytes. tests/smtp/test_smtp_front.py compares the
        result with what ``SMTP.__init__`` builds, so an aiosmtpd upgrade that changes
        it fails there.
        """
        asyncio.StreamReaderProtocol.__init__(
            self,
            asyncio.StreamReader(loop=loop, limit=self.line_length_limit),
            client_connected_cb=self._cb_client_connected,
            loop=loop,
        )
        self.__ident__ = AIOSMTPD_IDENT
        self.loop = loop
        self.event_handler = _NoHooks()
        self.data_size_limit = settings.max_message_size
        self.enable_SMTPUTF8 = True
        self._decode_data = False
        self.hostname = settings.hostname
        self.tls_context = None
        self.require_starttls = None
        self._timeout_duration = settings.command_timeout
        self._timeout_handle = None
        self._tls_handshake_okay = True
        self._tls_protocol = None
        self._original_transport = None
        self.session = None
        self.envelope = None
        self.transport = None
        self._handler_coroutine = None
        self._auth_require_tls = True
        self._proxy_timeout = None
        self._authenticator = None
        self._auth_callback = login_always_fail
        self._auth_required = False
        self._auth_methods = {}
        self._handle_hooks = {}
        self._ehlo_hook_ver = None
        self._smtp_methods = {verb: getattr(self, f"smtp_{verb}") for verb in _SMTP_VERBS}
        self._enforce_call_limit = False

    # -- connection life ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        refusal = self._front._admission()
        if refusal is not None:
            # Refused before aiosmtpd sees the connection: it gets no greeting and no
            # session, only the 421 (RFC 5321 3.1 allows 421 in place of the 220).
            self._refused = True
            log.warning(
                "refusing connection from %s: %s", transport.get_extra_info("peername"), refusal
            )
            _say_and_close(transport, refusal)
            return
        peername = transport.get_extra_info("peername")
        if isinstance(peername, tuple) and len(peername) >= 2:  # else not an IP socket
            known = self._front.peer(peername[0])
            if known is not None:
                self._peer_addr, self._state.xforward_allowed = known
                self._peer_port = int(peername[1])
                self._state.peer_addr, self._state.peer_port = self._peer_addr, self._peer_port
        self._registered = True
        self._front._started(self)
        super().connection_made(transport)
        assert self._handler_coroutine is not None
        self._handler_coroutine.add_done_callback(self._client_done)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if self._refused:
            return False
        return super().eof_received()

    def _client_done(self, task: asyncio.Task[None]) -> None:
        # aiosmtpd's command loop has ended: connection lost, QUIT, timeout, or an error
        # it let through. Whatever transaction is open ends here without a DATA result.
        if not task.cancelled():
            error = task.exception()
            if isinstance(error, ConnectionError):
                log.info("connection from %s lost: %s", self._peer_addr, error)
            elif error is not None:
                log.error("SMTP session with %s failed", self._peer_addr, exc_info=error)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self._client_ended = True
        tx = self._state.end()
        if tx is not None:
            self._spawn_abort(tx)
        self._maybe_finished()

    def _spawn_abort(self, tx: Transaction) -> asyncio.Task[None]:
        # A task of its own: the session's task may be cancelled (connection lost) and
        # a second cancel must not cut the handler's clean-up short.
        task = self.loop.create_task(self._run_abort(tx))
        self._pending.add(task)
        task.add_done_callback(self._abort_done)
        return task

    async def _run_abort(self, tx: Transaction) -> None:
        try:
            await self._front.handler.abort(tx)
        except Exception:
            log.exception("transaction abort failed for %s", self._peer_addr)

    def _abort_done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        self._maybe_finished()

    def _maybe_finished(self) -> None:
        if self._client_ended and not self._pending and self._registered:
            self._registered = False
            self._front._finished(self)

    def close_if_idle(self) -> None:
        """For drain: a session outside a transaction is told 421 and closed now."""
        if self._state.tx is None:
            self.shut_down()

    def shut_down(self) -> None:
        """421 and close; an open transaction aborts when the session task ends."""
        if self.transport is not None and not self.transport.is_closing():
            _say_and_close(self.transport, SHUTTING_DOWN)

    def kill(self) -> None:
        """Cut the connection without a word and cancel pending aborts (last resort)."""
        if self.transport is not None:
            self.transport.abort()
        for task in list(self._pending):
            task.cancel()

    def _timeout_cb(self) -> None:
        # aiosmtpd closes silently; RFC 5321 4.5.3.2 lets the server close after a
        # timeout, and Postfix says why first. The transaction aborts in _client_done.
        if self.transport is None or self.transport.is_closing():
            return
        log.info("timeout, closing connection from %s", self._peer_addr)
        _say_and_close(self.transport, TIMEOUT)

    async def handle_exception(self, error: Exception) -> str:
        # Called by aiosmtpd for an exception from a command (our handler calls catch
        # their own, so this is a bug of ours). 451: the client keeps the message.
        log.error("unexpected error in SMTP session with %s", self._peer_addr, exc_info=error)
        if self._in_data and self.transport is not None:
            # The rest of the message may still be coming; it must not be read as commands.
            self.loop.call_soon(self.transport.close)
        return str(LOCAL_ERROR)

    # -- helpers -------------------------------------------------------------------------

    async def push(self, status: AnyStr) -> None:
        # aiosmtpd answers an unknown verb with 'command "<VERB>" not recognized',
        # echoing the client's bytes, NUL and terminal escapes included. Postfix's
        # smtpd names nothing; neither do we.
        if isinstance(status, str) and status.startswith('500 Error: command "'):
            status = str(UNKNOWN_COMMAND)  # type: ignore[assignment]
        await super().push(status)

    async def _send(self, reply: Reply) -> None:
        # A reply mirrored from the next hop may hold anything; a stray CR must not
        # split it into two replies, nor a lone surrogate stop it from being sent.
        clean = Reply(reply.code, reply.text.replace("\r", ""))
        # aiosmtpd's own push: our replies never need the unknown-command check above,
        # and this runs for every reply of every message.
        await SMTP.push(self, str(clean).encode("utf-8", "replace"))

    async def _call(self, what: str, *args: object) -> Reply:
        """Run handler method ``what`` with the idle timer stopped; exceptions become 451."""
        # The client waits for our reply while the next hop works; that time is ours,
        # not the client's idleness (the next hop's own timeouts bound it).
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
        try:
            reply = await getattr(self._front.handler, what)(*args)
            if not isinstance(reply, Reply):
                raise TypeError(f"handler {what}() returned {reply!r}, not a Reply")
        except Exception:
            log.exception("handler %s() failed for %s", what, self._peer_addr)
            reply = LOCAL_ERROR
        finally:
            if self.transport is not None and not self.transport.is_closing():
                self._reset_timeout()
        return reply

    async def _abort_transaction(self, *, keep_xforward: bool = False) -> None:
        # XFORWARD data lasts one transaction; a MAIL the handler refused keeps it.
        tx = self._state.end(keep_xforward=keep_xforward)
        if tx is not None:
            await asyncio.shield(self._spawn_abort(tx))

    async def _after_transaction(self) -> None:
        # While draining, a session that finished its transaction is let go at once
        # rather than kept waiting for a next MAIL that would be refused anyway.
        if self._front.draining and self.transport is not None:
            self.shut_down()

    # -- commands ------------------------------------------------------------------------

    @property
    def _xforward_ok(self) -> bool:
        # aiosmtpd's HELP lists XFORWARD only when this is true (``syntax(when=...)``).
        return self._state.xforward_allowed

    async def _greeted(self, verb: str, hostname: str | None) -> bool:
        """Common to EHLO and HELO; False (after a 501) when the name is missing."""
        refusal = self._state.greet(verb, hostname)
        if refusal is not None:
            await self._send(refusal)
            return False
        # RFC 5321 4.1.4: EHLO or HELO in a session resets it as RSET does.
        await self._abort_transaction()
        assert self.session is not None
        # aiosmtpd's own commands read its session.
        self.session.host_name = hostname
        self.session.extended_smtp = self._state.extended
        return True

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str | None) -> None:
        if not await self._greeted("EHLO", hostname):
            return
        lines = [
            self.hostname,
            "PIPELINING",
            f"SIZE {self._front.settings.max_message_size}",
            "8BITMIME",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",
            "DSN",
        ]
        if self._state.xforward_allowed:
            lines.append("XFORWARD " + " ".join(ATTRIBUTES))
        await self._send(Reply(250, "\n".join(lines)))

    @syntax("HELO hostname")
    async def smtp_HELO(self, hostname: str | None) -> None:
        if await self._greeted("HELO", hostname):
            await self.push(f"250 {self.hostname}")

    @syntax("XFORWARD attribute=value ...", when="_xforward_ok")
    async def smtp_XFORWARD(self, arg: str | None) -> None:
        await self._send(self._state.xforward_command(arg))

    @syntax("MAIL FROM:<address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        tx = self._state.mail(arg, draining=self._front.draining)
        if isinstance(tx, Reply):
            await self._send(tx)
            if tx is SHUTTING_DOWN:
                self.shut_down()
            return
        reply = await self._call("mail", tx)
        if not 200 <= reply.code < 300:
            # Not started: the XFORWARD data stays for the client's next MAIL.
            await self._abort_transaction(keep_xforward=True)
        await self._send(reply)

    @syntax("RCPT TO:<address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        parsed = self._state.rcpt(arg)
        if isinstance(parsed, Reply):
            await self._send(parsed)
            return
        tx, address, params = parsed
        # A failing rcpt() costs this recipient a 451 and leaves the transaction open:
        # aborting it would turn the next RCPTs' replies into 503, which Postfix bounces.
        reply = await self._call("rcpt", tx, address, params)
        if 200 <= reply.code < 300:
            self._state.accepted(tx, address, params)
        await self._send(reply)

    @syntax("RSET")
    async def smtp_RSET(self, arg: str | None) -> None:
        if arg:
            await self._send(Reply(501, "5.5.4 Syntax: RSET"))
            return
        # XFORWARD_README: attributes are reset at the end of the transaction (RSET or
        # DOT), also when the RSET comes before any MAIL.
        await self._abort_transaction()
        await self.push(READY)
        await self._after_transaction()

    @syntax("QUIT")
    async def smtp_QUIT(self, arg: str | None) -> None:
        if arg:
            await self._send(Reply(501, "5.5.4 Syntax: QUIT"))
            return
        await self._abort_transaction()
        await self._send(BYE)
        # As aiosmtpd's QUIT: end the command loop, then the connection.
        assert self._handler_coroutine is not None and self.transport is not None
        self._handler_coroutine.cancel()
        self.transport.close()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str | None) -> None:
        tx = self._state.data(arg)
        if isinstance(tx, Reply):
            await self._send(tx)
            return
        await self._send(START_DATA)
        # One deadline for the whole message (the idle timer's callback closes with
        # 421 4.4.2; the session task is cancelled and the transaction aborted).
        self._reset_timeout(self._front.settings.data_timeout)
        # Left set if the read fails, so handle_exception knows the stream is mid-message.
        self._in_data = True
        slot = self._front.big.ticket()
        try:
            raw = await receive_data(self._reader, self._front.settings.max_message_size, slot)
            self._in_data = False
            if isinstance(raw, Reply):
                # RFC 5321 4.2.5: the reply comes after the whole message was read.
                await self._abort_transaction()
                self._reset_timeout()
                await self._send(raw)
                await self._after_transaction()
                return
            reply = await self._call("data", tx, raw)
            del raw  # the slot below bounds memory: nothing of the message outlives it
        finally:
            slot.release()
        # data() returned: the transaction is over and needs no abort. (Cancelled
        # instead, it stays in self._state.tx and _client_done aborts it.)
        self._state.end()
        await self._send(reply)
        await self._after_transaction()


def _say_and_close(transport: asyncio.BaseTransport, reply: Reply) -> None:
    """Write one last reply and close. No ``isinstance(transport, WriteTransport)``: uvloop,
    the loop ``serve`` runs on, has Cython transports outside asyncio's class hierarchy
    that write all the same (an assert on the class broke timeouts, the connection limit
    and drain there). The cast is for the type checker alone."""
    writer = cast(asyncio.WriteTransport, transport)
    writer.write(f"{reply}\r\n".encode("ascii"))
    writer.close()


# The commands _FrontSMTP implements (its smtp_* methods), read once from the class.
# AUTH is aiosmtpd's, and never offered here (a filter behind Postfix takes no logins):
# left in, HELP would list it and the client would get aiosmtpd's AUTH replies.
_SMTP_VERBS = tuple(
    name[len("smtp_") :]
    for name in dir(_FrontSMTP)
    if name.startswith("smtp_") and name != "smtp_AUTH"
)

"""The SMTP client to the next hop (DESIGN.md stage 2, "Relay").

The proxy mirrors each step of a transaction to the next hop as it happens: ``begin``
(XFORWARD and MAIL), ``Downstream.rcpt`` per recipient, then ``Downstream.data`` or
``Downstream.abort``. Every reply the next hop gives to MAIL, RCPT and DATA comes back as
it is, for the proxy to mirror; trouble with the network never raises but comes back as
a 4xx named reply, so Postfix keeps the message and retries (DESIGN.md: nothing is lost).

Connections are reused: after a transaction the connection waits in a small pool, which
saves the connect, greeting and EHLO round trips of the next message.

Protocol parsing and framing live in milter/smtp/client.py (no I/O); this module owns
the sockets, the timeouts and the pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from milter.mail.envelope import ClientInfo, Param
from milter.smtp.client import (
    ReplyError,
    ReplyParser,
    command,
    data_frame,
    ehlo_extensions,
    mail_command,
    rcpt_command,
)
from milter.smtp.replies import NEXT_HOP_DOWN, NEXT_HOP_LOST, NEXT_HOP_TIMEOUT, Reply
from milter.smtp.xforward import xforward_lines

log = logging.getLogger("scam_milter.relay")

# Replies the relay decides itself. They sit here, next to the decisions, rather than in
# replies.py, because only the relay gives them.

# RFC 6531 3.4: a message that needs SMTPUTF8 must not go to a server without it, and
# must not be downgraded silently. Postfix's smtp client bounces it with 5.6.7; in
# before-queue mode the sender hears it at once, in after-queue mode Postfix bounces.
SMTPUTF8_REQUIRED = Reply(550, "5.6.7 SMTPUTF8 is required, but was not offered by the next hop")
# What Postfix's smtpd answers to DATA when no RCPT was accepted (RFC 5321 3.3: 554).
NO_VALID_RECIPIENTS = Reply(554, "5.5.1 Error: no valid recipients")
# A 5xx greeting, EHLO/HELO or XFORWARD refusal says our setup is wrong (e.g. the next
# hop does not list us in smtpd_authorized_xforward_hosts), not that the message is bad:
# mirroring the 5xx would bounce good mail. 4.3.5 is "system incorrectly configured".
NEXT_HOP_REFUSED = Reply(451, "4.3.5 Next hop refused the session, try again later")

# A pooled connection idle longer than this gets a NOOP before reuse: on loopback a dead
# peer shows as EOF (checked for free), but a peer that vanished without a FIN would
# otherwise cost a whole command timeout on the first real command.
PROBE_AFTER = 5.0

# Called with the next hop's reply to the end of DATA when it comes after we gave up on
# it (a timeout, or our client went away): see Downstream.data.
LateReply = Callable[[Reply], Awaitable[None]]
# Connections kept open for a late reply at once; past this they are dropped as before.
# Each one also holds a process of the next hop's smtpd, which is busy with the message
# anyway until it replies.
MAX_LATE_WATCHERS = 64


@dataclass(frozen=True)
class RelaySettings:
    host: str = "127.0.0.1"
    port: int = 10026
    helo_name: str = "scam-milter"
    connect_timeout: float = 30.0
    # Postfix's smtp client waits 300 s for most replies (smtp_*_timeout) and 600 s for
    # the reply to the end of DATA (smtp_data_done_timeout); the same here. RFC 5321
    # 4.5.3.2 asks for at least 5 minutes per command and 10 for the end of DATA: a slow
    # next hop is waited for, not retried over (a retry over a queued message is a
    # duplicate).
    command_timeout: float = 300.0
    data_timeout: float = 600.0
    # After giving up on the reply to the end of DATA, keep listening this long: a 250
    # that comes late is handed to the caller (which records it in the ledger, so the
    # retry is not delivered again). 0: drop the connection at once.
    late_reply_timeout: float = 600.0
    pool_size: int = 8  # idle connections kept for reuse
    # Postfix's smtpd drops an idle client after smtpd_timeout (300 s by default, often
    # less on a reinjection port); closing ours well before avoids reusing a connection
    # the server is just closing.
    idle_timeout: float = 60.0

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "command_timeout", "data_timeout", "idle_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"relay setting {name} must be positive")
        if self.pool_size < 0:
            raise ValueError("relay setting pool_size must not be negative")
        if self.late_reply_timeout < 0:
            raise ValueError("relay setting late_reply_timeout must not be negative")


class _LinkFailed(Exception):
    """The connection broke; ``reply`` is what the client gets. Never leaves this module."""

    def __init__(self, reply: Reply, reason: str) -> None:
        super().__init__(reason)
        self.reply = reply


class _Connection:
    """One TCP connection to the next hop, with what its EHLO announced."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = ReplyParser()
        self.extensions: dict[str, str] = {}
        self.closed = False
        self.idle_since = 0.0
        self.expiry: asyncio.TimerHandle | None = None

    @property
    def xforward_attributes(self) -> frozenset[str]:
        """Attribute names of the EHLO line "XFORWARD NAME ADDR …"; empty if absent."""
        params = self.extensions.get("XFORWARD")
        return frozenset() if params is None else frozenset(params.upper().split())

    def usable(self) -> bool:
        # A peer that closed shows as EOF without any I/O. Bytes read past the last
        # reply would be taken for the reply to our next command. (An unasked 421 that
        # Postfix sends before it drops an idle client, still unread, is caught when it
        # comes back as the first reply on reuse: see Relay._start.)
        return not (
            self.closed
            or self.reader.at_eof()
            or self.writer.transport.is_closing()
            or self.parser.pending
        )

    async def reply(self, timeout: float, *, keep: bool = False) -> Reply:
        """The next reply; raises ``_LinkFailed`` (connection closed) on any trouble.

        With ``keep``, a timeout or a cancellation leaves the connection open (and the
        reply still owed): the caller hands it to ``Relay._watch_late``.
        """
        try:
            # Pipelined replies often come in one read: those need no timer.
            reply = self.parser.next_reply()
            if reply is None:
                async with asyncio.timeout(timeout):
                    while (reply := self.parser.next_reply()) is None:
                        data = await self.reader.read(65536)
                        if not data:
                            raise _LinkFailed(NEXT_HOP_LOST, "connection closed by the next hop")
                        self.parser.feed(data)
        except TimeoutError:
            if not keep:
                self.abort()
            raise _LinkFailed(NEXT_HOP_TIMEOUT, "no reply within the timeout") from None
        except ReplyError as exc:
            self.abort()
            raise _LinkFailed(NEXT_HOP_LOST, f"garbage reply: {exc}") from exc
        except OSError as exc:
            self.abort()
            raise _LinkFailed(NEXT_HOP_LOST, f"connection lost: {exc}") from exc
        except asyncio.CancelledError:
            # The caller cancelled (its client went away): a reply is still owed on this
            # connection, so it can never be used again.
            if not keep:
                self.abort()
            raise
        except BaseException:
            self.abort()
            raise
        if reply.code == 421:
            # RFC 5321 3.8: 421 means the server is closing the channel.
            self.abort()
        return reply

    async def exchange(self, line: bytes, timeout: float) -> Reply:
        """Send one command and return its reply."""
        self.send(line)
        return await self.reply(timeout)

    async def send_message(self, frame: bytes, timeout: float) -> None:
        """The framed message (``data_frame``); raises ``_LinkFailed``."""
        try:
            async with asyncio.timeout(timeout):
                self.writer.write(frame)
                await self.writer.drain()
        except TimeoutError:
            self.abort()
            raise _LinkFailed(NEXT_HOP_TIMEOUT, "message not taken within the timeout") from None
        except OSError as exc:
            self.abort()
            raise _LinkFailed(NEXT_HOP_LOST, f"connection lost: {exc}") from exc
        except BaseException:
            self.abort()
            raise

    def send(self, data: bytes) -> None:
        # No drain for commands: a few bytes never fill the transport's buffer, and a
        # broken connection shows up as EOF or an error when reading the reply.
        self.writer.write(data)

    def abort(self) -> None:
        """Drop the connection at once: its state is unknown, so it must not be reused."""
        if not self.closed:
            self.closed = True
            self.cancel_expiry()
            self.writer.transport.abort()

    def quit(self) -> None:
        """Close politely: QUIT, then close once the write buffer is flushed.

        The 221 is not waited for; Postfix logs a clean disconnect either way.
        """
        if not self.closed:
            self.closed = True
            self.cancel_expiry()
            if not self.writer.transport.is_closing():
                self.writer.write(b"QUIT\r\n")
            self.writer.close()

    def cancel_expiry(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None


class Relay:
    """The next hop, with a pool of idle connections."""

    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self._idle: list[_Connection] = []  # a stack: the most recently used on top
        self._closed = False
        self._watchers: set[asyncio.Task[None]] = set()  # waiting for late replies

    async def begin(
        self, client: ClientInfo, mail_from: str, mail_params: tuple[Param, ...]
    ) -> tuple[Reply, Downstream | None]:
        """Start a transaction: XFORWARD (when announced), then MAIL FROM.

        Returns the next hop's reply to MAIL (or a named reply of ours) and, when MAIL
        was accepted, the ``Downstream`` that carries on the transaction.
        """
        # Raises ValueError for a line end in an address or parameter (a bug of the
        # caller) before any connection is taken, so none is left half-used.
        mail_command(mail_from, mail_params)
        conn = self._take_idle()
        if conn is not None:
            started = await self._start(conn, client, mail_from, mail_params, reused=True)
            if started is not None:
                return started
            # The pooled connection was dead. Nothing of the transaction reached the
            # next hop, so a fresh connection starts it again; once, so a next hop that
            # fails every connection costs one wasted try, not a loop.
        fresh = await self._connect()
        if isinstance(fresh, Reply):
            return fresh, None
        started = await self._start(fresh, client, mail_from, mail_params, reused=False)
        assert started is not None  # only a reused connection can turn out stale
        return started

    async def close(self) -> None:
        """Close the pooled connections; transactions in flight close theirs when done.

        Connections still waiting for a late reply are dropped: such a reply can no
        longer be recorded, so the message may be delivered again, as without the wait.
        """
        self._closed = True
        watchers = list(self._watchers)
        for task in watchers:
            task.cancel()
        if watchers:
            log.warning("next hop: %d late replies no longer awaited (stopping)", len(watchers))
            await asyncio.gather(*watchers, return_exceptions=True)
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.quit()
        for conn in idle:
            try:
                async with asyncio.timeout(1.0):
                    await conn.writer.wait_closed()
            except (TimeoutError, OSError):
                pass

    async def _connect(self) -> _Connection | Reply:
        s = self.settings
        try:
            async with asyncio.timeout(s.connect_timeout):
                reader, writer = await asyncio.open_connection(s.host, s.port)
        except TimeoutError:
            # RFC 3463 X.4.1 "No answer from host" is the connect that is never
            # answered; X.4.2 (NEXT_HOP_TIMEOUT) is for a session that stalls later.
            log.warning("next hop %s:%d: no answer to connect", s.host, s.port)
            return NEXT_HOP_DOWN
        except OSError as exc:
            log.warning("next hop %s:%d: cannot connect: %s", s.host, s.port, exc)
            return NEXT_HOP_DOWN
        conn = _Connection(reader, writer)
        try:
            greeting = await conn.reply(s.command_timeout)
            if greeting.code != 220:
                conn.abort()
                return self._refused("greeting", greeting)
            ehlo = await conn.exchange(command("EHLO", s.helo_name), s.command_timeout)
            if 500 <= ehlo.code < 600:
                # RFC 5321 4.1.4: a server that does not know EHLO still knows HELO.
                ehlo = await conn.exchange(command("HELO", s.helo_name), s.command_timeout)
            else:
                conn.extensions = ehlo_extensions(ehlo)
            if ehlo.code != 250:
                conn.abort()
                return self._refused("EHLO", ehlo)
        except _LinkFailed as exc:
            log.warning("next hop %s:%d: %s while opening the session", s.host, s.port, exc)
            return exc.reply
        return conn

    def _refused(self, step: str, reply: Reply) -> Reply:
        s = self.settings
        log.warning(
            "next hop %s:%d refused %s: %d %s", s.host, s.port, step, reply.code, reply.text
        )
        # A 4xx is already "try again later" and carries the next hop's own reason.
        return reply if reply.temporary else NEXT_HOP_REFUSED

    async def _start(
        self,
        conn: _Connection,
        client: ClientInfo,
        mail_from: str,
        mail_params: tuple[Param, ...],
        *,
        reused: bool,
    ) -> tuple[Reply, Downstream | None] | None:
        """XFORWARD and MAIL on ``conn``; ``None`` when a reused connection was dead."""
        s = self.settings
        wants_utf8 = any(key.upper() == "SMTPUTF8" for key, _ in mail_params)
        if wants_utf8 and "SMTPUTF8" not in conn.extensions:
            # Decided before anything is sent, so the connection stays clean for reuse.
            self._release(conn)
            return SMTPUTF8_REQUIRED, None
        if "8BITMIME" not in conn.extensions:
            # BODY= is unknown to a server without 8BITMIME (RFC 6152) and would be
            # refused with 555. The body goes as it is, which is what Postfix does
            # when it may not convert 8-bit mail to quoted-printable.
            mail_params = tuple(p for p in mail_params if p[0].upper() != "BODY")

        commands: list[bytes] = []
        attributes = conn.xforward_attributes
        if attributes:
            # Every transaction: Postfix's smtpd forgets XFORWARD attributes when a
            # transaction ends (smtpd.c, mail_reset), so a reused connection needs them
            # again.
            commands += [command(line) for line in xforward_lines(client, attributes)]
        commands.append(mail_command(mail_from, mail_params))

        if reused and asyncio.get_running_loop().time() - conn.idle_since > PROBE_AFTER:
            try:
                probe = await conn.exchange(b"NOOP\r\n", min(s.command_timeout, s.connect_timeout))
            except _LinkFailed:
                return None
            if probe.code != 250:
                conn.abort()
                return None
        try:
            replies = await self._send_commands(conn, commands)
        except _LinkFailed as exc:
            if reused and exc.reply is NEXT_HOP_LOST:
                return None
            log.warning("next hop: %s at MAIL", exc)
            return exc.reply, None
        if reused and replies[0].code == 421:
            # Postfix says 421 before it drops an idle client; the server never saw
            # this transaction.
            return None
        refused = next((r for r in replies[:-1] if not r.positive), None)
        if refused is None and len(replies) < len(commands):
            refused = replies[-1]  # the last XFORWARD reply ended the exchange
        if refused is not None:
            if len(replies) == len(commands) and replies[-1].positive:
                # Pipelined: MAIL was accepted after all; end that transaction.
                await self._reset(conn)
            else:
                self._release(conn)
            return self._refused("XFORWARD", refused), None
        mail = replies[-1]
        if not mail.positive:
            self._release(conn)
            return mail, None
        return mail, Downstream(self, conn)

    async def _send_commands(self, conn: _Connection, commands: list[bytes]) -> list[Reply]:
        """Send XFORWARD… and MAIL; their replies in order.

        Fewer replies than commands when one ended the exchange: a 421 (the connection
        is gone) or, without pipelining, a refused XFORWARD (MAIL is not sent then).
        """
        timeout = self.settings.command_timeout
        replies: list[Reply] = []
        if "PIPELINING" in conn.extensions:
            # RFC 2920: XFORWARD and MAIL go in one write, saving a round trip per
            # transaction; the replies come back in order.
            conn.send(b"".join(commands))
            for _ in commands:
                replies.append(await conn.reply(timeout))
                if conn.closed:
                    break
        else:
            for line in commands:
                replies.append(await conn.exchange(line, timeout))
                if conn.closed or not replies[-1].positive:
                    break
        return replies

    def _take_idle(self) -> _Connection | None:
        now = asyncio.get_running_loop().time()
        while self._idle:
            conn = self._idle.pop()
            conn.cancel_expiry()
            if conn.usable() and now - conn.idle_since < self.settings.idle_timeout:
                return conn
            conn.abort()
        return None

    def _release(self, conn: _Connection) -> None:
        """A connection between transactions: back to the pool, or closed."""
        if conn.closed:
            return
        if self._closed or len(self._idle) >= self.settings.pool_size or not conn.usable():
            conn.quit()
            return
        loop = asyncio.get_running_loop()
        conn.idle_since = loop.time()
        conn.expiry = loop.call_later(self.settings.idle_timeout, self._expire, conn)
        self._idle.append(conn)

    async def _reset(self, conn: _Connection) -> None:
        """RSET, and back to the pool when it worked; closed on any trouble."""
        try:
            reply = await conn.exchange(b"RSET\r\n", self.settings.command_timeout)
        except _LinkFailed as exc:
            log.info("next hop: %s at RSET", exc)
            return
        if reply.code == 250:
            self._release(conn)
        else:
            conn.abort()

    def _watch_late(self, conn: _Connection, on_late: LateReply | None) -> None:
        """Keep listening on ``conn`` for the reply to the end of DATA we gave up on."""
        if (
            on_late is None
            or conn.closed
            or self._closed
            or not self.settings.late_reply_timeout
            or len(self._watchers) >= MAX_LATE_WATCHERS
        ):
            conn.abort()
            return
        task = asyncio.get_running_loop().create_task(self._await_late(conn, on_late))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _await_late(self, conn: _Connection, on_late: LateReply) -> None:
        try:
            reply = await conn.reply(self.settings.late_reply_timeout)
        except _LinkFailed as exc:
            log.warning("next hop: no late reply to the end of DATA either: %s", exc)
            return
        # The transaction is over either way; the connection is not pooled again (its
        # history is odd enough), just closed politely.
        conn.quit()
        log.warning(
            "next hop answered the end of DATA after we gave up: %d %s", reply.code, reply.text
        )
        try:
            await on_late(reply)
        except Exception:
            # A bug in the caller's hook must not end up as an unretrieved task error.
            log.exception("handling the late reply of the next hop failed")

    def _expire(self, conn: _Connection) -> None:
        conn.expiry = None
        if conn in self._idle:
            self._idle.remove(conn)
        conn.quit()


class Downstream:
    """One transaction at the next hop, after MAIL was accepted.

    Call ``rcpt`` per recipient, then ``data`` or ``abort``. After ``data`` or ``abort``
    the connection is back in the pool (or closed) and the object is spent.
    """

    def __init__(self, relay: Relay, conn: _Connection) -> None:
        self._relay = relay
        self._conn = conn
        self._accepted = 0
        self._done = False
        # Once the connection broke, every later step gets the same answer.
        self._failure: Reply | None = None

    async def rcpt(self, address: str, params: tuple[Param, ...]) -> Reply:
        """RCPT TO with the parameters as given; the next hop's reply for this recipient."""
        if blocked := self._blocked():
            return blocked
        try:
            reply = await self._conn.exchange(
                rcpt_command(address, params), self._relay.settings.command_timeout
            )
        except _LinkFailed as exc:
            return self._fail(exc, "RCPT")
        if self._conn.closed:  # 421
            self._failure = reply
            self._done = True
        elif reply.positive:
            self._accepted += 1
        return reply

    async def data(self, raw: bytes, on_late_reply: LateReply | None = None) -> Reply:
        """DATA: the message as CRLF lines, dot-stuffed, then "."; the next hop's reply.

        The reply to the end of data concludes the transaction whatever it is (RFC 5321
        4.1.1.4), so the connection goes back to the pool unless it broke.

        Once the whole message is sent the next hop may queue it at any moment. If its
        reply does not come in time (we answer 451), or this call is cancelled (our
        client went away), the connection is kept open for ``late_reply_timeout`` and a
        reply that comes then is given to ``on_late_reply``, in a task of its own.
        """
        if blocked := self._blocked():
            return blocked
        if not self._accepted:
            # Sending DATA would only earn a 554 from the next hop, one round trip later.
            return NO_VALID_RECIPIENTS
        s = self._relay.settings
        conn = self._conn
        try:
            reply = await conn.exchange(b"DATA\r\n", s.command_timeout)
            if reply.code != 354:
                # DATA refused: the transaction is still open at the next hop.
                await self._finish(reset=True)
                return reply
            await conn.send_message(data_frame(raw), s.data_timeout)
        except _LinkFailed as exc:
            return self._fail(exc, "DATA")
        keep = on_late_reply is not None
        try:
            reply = await conn.reply(s.data_timeout, keep=keep)
        except _LinkFailed as exc:
            self._relay._watch_late(conn, on_late_reply)
            return self._fail(exc, "the end of DATA")
        except asyncio.CancelledError:
            self._failure = NEXT_HOP_LOST
            self._done = True
            self._relay._watch_late(conn, on_late_reply)
            raise
        await self._finish(reset=False)
        return reply

    async def abort(self) -> None:
        """End the transaction without a message: RSET and back to the pool. Idempotent."""
        if not self._done:
            await self._finish(reset=True)

    def _blocked(self) -> Reply | None:
        if self._conn.closed and not self._done:
            # Broken under a cancelled call (the proxy's client went away).
            self._failure = NEXT_HOP_LOST
            self._done = True
        if self._failure is not None:
            return self._failure
        if self._done:
            raise RuntimeError("the transaction at the next hop is already over")
        return None

    def _fail(self, exc: _LinkFailed, step: str) -> Reply:
        log.warning("next hop: %s at %s", exc, step)
        self._failure = exc.reply
        self._done = True
        return exc.reply

    async def _finish(self, *, reset: bool) -> None:
        self._done = True
        if self._conn.closed:
            return
        if reset:
            await self._relay._reset(self._conn)
        else:
            self._relay._release(self._conn)

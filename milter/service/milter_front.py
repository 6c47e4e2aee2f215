"""The milter front door (issue 14): Postfix's smtpd_milters talks to this, and Postfix
keeps the message. The protocol is milter/milterproto (no I/O); the judgement is the
proxy's (judge.py); the quarantine is the same store. docs/postfix.md has the main.cf.

One connection per SMTP session, bounded in number and in idle time. At the end of each
message the filter authenticates and scans, then answers:

- accept or tag: header edits (our Authentication-Results, X-Scam-* when tagging, forged
  fields of ours removed), then continue;
- quarantine: the message is stored durably with the real client first, then DISCARD;
- reject: a 5xx with the rule's reason;
- any failure (store, scan, budget, DNS when so configured): TEMPFAIL, and Postfix
  defers: nothing is accepted unscanned, nothing lost.

A connection that breaks the protocol (a malformed or oversized packet) is closed; the
worker goes on. Mail of an authenticated submission ({auth_authen} set) is accepted
unscanned with ``submission: skip``; with ``outbound`` it is scanned for outbound abuse
and leaves unchanged or is refused (see _outbound).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from milter.auth.results import AuthResults
from milter.errors import QuarantineError
from milter.mail.envelope import ClientInfo, Envelope
from milter.mail.headers import HeaderNames
from milter.milterproto import packets as p
from milter.milterproto.edits import end_of_message
from milter.milterproto.session import Message, Session
from milter.quarantine.store import QuarantineStore
from milter.scan.verdict import Action, Verdict
from milter.service.judge import Judge
from milter.service.proxy import log_verdict, subject_for_list
from milter.service.settings import MessageLimits

log = logging.getLogger("scam_milter")
verdict_log = logging.getLogger("scam_milter.verdict")

READ_SIZE = 65536


@dataclass(frozen=True)
class MilterSettings:
    headers: HeaderNames = field(default_factory=HeaderNames)
    subject_prefix: str = ""
    authserv_id: str = "scam-milter"
    tempfail_on_dns_failure: bool = False
    limits: MessageLimits = field(default_factory=MessageLimits)
    max_message_size: int = 50 * 1024 * 1024
    max_connections: int = 100
    # Postfix waits milter_command_timeout (30 s) for a reply and keeps an idle session's
    # connection; past this without a packet the connection is closed.
    idle_timeout: float = 600.0
    submission: str = "skip"  # or "outbound" (see _outbound)


def _quick_ack(writer: asyncio.StreamWriter) -> Callable[[], None]:
    """What to call after each read of a TCP connection: acknowledge at once.

    Postfix writes the steps of a message as separate small packets and, as negotiated
    (session.py), expects no reply to them; Nagle's algorithm on its side holds each
    one back until the one before is acknowledged, and Linux delays a bare ACK up to
    40 ms. Measured: 47 ms a message on one session, against 2 ms for Postfix alone.
    TCP_QUICKACK (Linux, tcp(7)) is reset by the kernel, so it is set after every read.
    A unix socket has neither Nagle nor delayed ACKs: nothing to do.
    """
    sock = writer.get_extra_info("socket")
    option = getattr(socket, "TCP_QUICKACK", None)
    if sock is None or option is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return lambda: None

    def acknowledge() -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, option, 1)

    return acknowledge


class MilterFront:
    """Serves milter connections for one worker."""

    def __init__(self, judge: Judge, store: QuarantineStore, settings: MilterSettings) -> None:
        self.judge = judge
        self.store = store
        self.settings = settings
        self.connections = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(
        self,
        host: str | None = None,
        port: int = 0,
        *,
        path: Path | None = None,
        sock: socket.socket | None = None,
    ) -> int:
        """Listen on ``host:port`` (the port chosen, for port 0), the unix ``path``, or
        accept on ``sock``, a listening socket shared by several worker processes."""
        if path is not None:
            path.unlink(missing_ok=True)
            self._server = await asyncio.start_unix_server(self._connection, path=str(path))
            return 0
        if sock is not None and sock.family == socket.AF_UNIX:
            self._server = await asyncio.start_unix_server(self._connection, sock=sock)
            return 0
        if sock is not None:
            self._server = await asyncio.start_server(self._connection, sock=sock)
        else:
            self._server = await asyncio.start_server(self._connection, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self, drain: float) -> None:
        """Stop accepting, give the connections in flight ``drain`` seconds."""
        if self._server is not None:
            self._server.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=drain)
        for task in list(self._tasks):
            task.cancel()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if self.connections >= self.settings.max_connections:
            # Postfix applies milter_default_action (tempfail, as docs/postfix.md says).
            log.warning("milter: %d connections already, one refused", self.connections)
            writer.close()
            return
        self.connections += 1
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except p.ProtocolError as error:
            log.warning("milter: closing a connection that broke the protocol: %s", error)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the MTA went away (mid-message too): nothing was accepted
        except TimeoutError:
            log.info("milter: closing a connection idle for %gs", self.settings.idle_timeout)
        finally:
            self.connections -= 1
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(max_message=self.settings.max_message_size)
        packets = p.PacketReader()
        started = time.monotonic()
        quick_ack = _quick_ack(writer)
        while True:
            async with asyncio.timeout(self.settings.idle_timeout):
                data = await reader.read(READ_SIZE)
            if not data:
                return
            quick_ack()
            for event in packets.feed(data):
                if isinstance(event, p.MailFrom):
                    started = time.monotonic()
                out = session.receive(event)
                if isinstance(out, bytes):
                    writer.write(out)
                elif isinstance(out, Message):
                    writer.write(b"".join(await self._finish(out, session.protocol, started)))
                if isinstance(event, p.Quit) and not event.new_connection:
                    await writer.drain()
                    return
            await writer.drain()

    async def _finish(self, message: Message, protocol: int, started: float) -> list[bytes]:
        settings = self.settings
        client = message.client
        envelope = Envelope(
            mail_from=message.mail_from,
            rcpt_to=message.recipients,
            client=ClientInfo(
                name=client.hostname or None,
                addr=client.address or None,
                port=client.port or None,
                helo=client.helo or None,
                ident=client.queue_id or None,
            ),
        )
        if client.authenticated and settings.submission == "skip":
            self._log(envelope, "accept", "submission", None, None, started)
            return [p.continue_()]
        if message.over_limit:
            self._log(envelope, "reject", "size", None, None, started)
            return [p.reply_code(552, "5.3.4 Message too big for this filter")]
        raw = message.raw()
        judged = await self.judge.judge(
            raw,
            envelope,
            settings.limits.message_seconds,
            tempfail_on_dns_failure=settings.tempfail_on_dns_failure,
            authenticate=not client.authenticated,
        )
        verdict, auth = judged.verdict, judged.auth
        if verdict is None:
            self._log(envelope, "tempfail", judged.reason, None, auth, started)
            return [p.tempfail()]
        if client.authenticated:
            return await self._outbound(raw, envelope, verdict, started)
        action = verdict.action
        if action is Action.QUARANTINE:
            held = await self._quarantine(raw, envelope, verdict)
            self._log(envelope, "quarantine" if held else "tempfail", "", verdict, auth, started)
            return [p.discard() if held else p.tempfail()]
        results = auth.header_value(settings.authserv_id) if isinstance(auth, AuthResults) else None
        out = end_of_message(
            message.headers,
            verdict,
            action,
            settings.headers,
            settings.authserv_id,
            results,
            settings.subject_prefix,
            leading_space=bool(protocol & p.HEADER_LEADING_SPACE),
        )
        self._log(envelope, action.value, "", verdict, auth, started)
        return out

    async def _outbound(
        self, raw: bytes, envelope: Envelope, verdict: Verdict, started: float
    ) -> list[bytes]:
        """An authenticated user's own mail, scanned for outbound abuse (a hijacked
        account sending sextortion): it leaves unchanged (no header of ours goes out to
        other domains), or it is refused in the user's session, held for review first
        when the verdict is quarantine, so an administrator can release a false hold."""
        action = verdict.action
        if action is Action.QUARANTINE:
            if not await self._quarantine(raw, envelope, verdict):
                self._log(envelope, "tempfail", "outbound", verdict, None, started)
                return [p.tempfail()]
            self._log(envelope, "quarantine", "outbound", verdict, None, started)
            return [
                p.reply_code(
                    550, "5.7.1 Held for review as a likely scam; ask your mail administrator"
                )
            ]
        if action is Action.REJECT:
            self._log(envelope, "reject", "outbound", verdict, None, started)
            refused = "5.7.1 Refused as a likely scam; ask your mail administrator"
            return [p.reply_code(550, refused)]
        self._log(envelope, "accept", "outbound", verdict, None, started)
        return [p.continue_()]

    async def _quarantine(self, raw: bytes, envelope: Envelope, verdict: Verdict) -> bool:
        """Stored durably (True), or not (logged; the caller answers TEMPFAIL)."""
        auth = verdict.auth.to_json() if isinstance(verdict.auth, AuthResults) else None
        limits = self.settings.limits
        subject = subject_for_list(raw, limits.max_header_bytes, limits.max_header_lines)
        try:
            await asyncio.to_thread(self.store.put, raw, envelope, verdict, subject, auth=auth)
        except QuarantineError as exc:
            log.error("quarantine failed, answering TEMPFAIL: %s", exc)
            return False
        return True

    def _log(
        self,
        envelope: Envelope,
        action: str,
        reason: str,
        verdict: Verdict | None,
        auth: AuthResults | None,
        started: float,
    ) -> None:
        """The proxy's verdict line; the reply is the milter's answer, not SMTP's."""
        self.judge.metrics.message(verdict, action)  # first, as the proxy does
        log_verdict(
            envelope.client, envelope, action, verdict, auth, reason or None, "milter", started
        )

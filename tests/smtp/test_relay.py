"""The relay against real SMTP servers on 127.0.0.1, plus the sans-I/O parts as tables.

``NextHop`` is a small scripted server: it gives exact replies (default ones, or those a
test sets per command), records every command line per connection and every message as
it arrives after un-stuffing, and counts connections. Each test runs its own event loop
with ``asyncio.run``; timeouts are a fraction of a second so the suite stays fast.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

from milter.config import RelayLimits
from milter.mail.envelope import ClientInfo, Param
from milter.smtp import relay as relay_module
from milter.smtp.client import (
    ReplyError,
    ReplyParser,
    command,
    data_frame,
    ehlo_extensions,
    mail_command,
    rcpt_command,
)
from milter.smtp.relay import (
    MAX_LATE_WATCHERS,
    NEXT_HOP_REFUSED,
    NO_VALID_RECIPIENTS,
    SMTPUTF8_REQUIRED,
    Downstream,
    Relay,
    RelaySettings,
)
from milter.smtp.replies import NEXT_HOP_DOWN, NEXT_HOP_LOST, NEXT_HOP_TIMEOUT, Reply

# The relay is the client side of serve's I/O: every test on both loops, production's
# (uvloop) and asyncio's own.
pytestmark = pytest.mark.usefixtures("event_loop_kind")

CLIENT = ClientInfo(
    name="mail.example.net",
    addr="192.0.2.7",
    port=40123,
    proto="ESMTP",
    helo="mail.example.net",
    ident="4QxYzB0abc",
    source="REMOTE",
)
POSTFIX_EXTENSIONS = (
    "PIPELINING",
    "SIZE 10240000",
    "ETRN",
    "ENHANCEDSTATUSCODES",
    "8BITMIME",
    "DSN",
    "SMTPUTF8",
    "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT",
)
MESSAGE = b"From: a@example.net\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"

# Reply values with a meaning of their own in NextHop.replies.
CLOSE = "CLOSE"  # drop the connection instead of replying
SILENT = "SILENT"  # never reply


@dataclass
class NextHop:
    """A scripted SMTP server on an ephemeral loopback port."""

    extensions: tuple[str, ...] = POSTFIX_EXTENSIONS
    greeting: str = "220 next-hop.example ESMTP Postfix"
    # Keyed by the whole command line or by its verb ("." is the end of DATA). A list
    # gives one reply per use, in order, then the default.
    replies: dict[str, str | list[str]] = field(default_factory=dict)
    drop_in_data: bool = False  # 354, then close after the first line of the message
    final_delay: float = 0.0  # seconds between a message's final "." and its reply
    connections: int = 0
    sessions: list[list[str]] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> NextHop:
        # A large limit: the tests send lines far longer than 64 KiB.
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0, limit=1 << 22)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        # Sessions end when the client quits or closes; wait for that, so a test sees
        # the last command of each session.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1.0)
        for task in self._tasks:
            task.cancel()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def commands(self) -> list[str]:
        return [line for session in self.sessions for line in session]

    async def hang_up(self) -> None:
        """Close every connection, as Postfix's smtpd does after its idle timeout."""
        for writer in self._writers:
            writer.close()
        await asyncio.sleep(0.05)  # let the client's loop see the EOF

    def _reply_for(self, line: str, verb: str) -> str | None:
        for key in (line, verb):
            if key in self.replies:
                reply = self.replies[key]
                if isinstance(reply, str):
                    return reply
                if reply:
                    return reply.pop(0)
        return None

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        self.connections += 1
        commands: list[str] = []
        self.sessions.append(commands)

        async def say(reply: str) -> bool:
            """Send a reply; False when the session is to end."""
            if reply == SILENT:
                await reader.read()  # until the client gives up and closes
            if reply == CLOSE:
                return False
            writer.write(reply.encode("utf-8") + b"\r\n")
            await writer.drain()
            return not reply.startswith("421")

        try:
            if not await say(self.greeting):
                return
            while line := await reader.readline():
                text = line.decode("utf-8", errors="replace").rstrip("\r\n")
                commands.append(text)
                verb = text.split(" ", 1)[0].upper()
                reply = self._reply_for(text, verb) or self._default(verb)
                if not await say(reply):
                    return
                if verb == "QUIT":
                    return
                if verb == "DATA" and reply.startswith("354"):
                    message = await self._receive_message(reader)
                    if message is None:
                        return
                    self.messages.append(message)
                    # Queued, and the reply is late: what a busy next hop does.
                    await asyncio.sleep(self.final_delay)
                    if not await say(self._reply_for(".", ".") or "250 2.0.0 Ok: queued as 4Q1"):
                        return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _receive_message(self, reader: asyncio.StreamReader) -> bytes | None:
        lines: list[bytes] = []
        while True:
            line = await reader.readline()
            if not line.endswith(b"\r\n"):
                return None  # the client went away mid-message
            if self.drop_in_data:
                return None
            if line == b".\r\n":
                return b"".join(lines)
            # RFC 5321 4.5.2: the receiver drops the first of a line's leading dots.
            lines.append(line[1:] if line.startswith(b".") else line)

    def _default(self, verb: str) -> str:
        if verb == "EHLO":
            lines = ["next-hop.example", *self.extensions]
            return "\r\n".join(
                f"250{'-' if i < len(lines) - 1 else ' '}{text}" for i, text in enumerate(lines)
            )
        return {
            "HELO": "250 next-hop.example",
            "XFORWARD": "250 2.0.0 Ok",
            "MAIL": "250 2.1.0 Ok",
            "RCPT": "250 2.1.5 Ok",
            "DATA": "354 End data with <CR><LF>.<CR><LF>",
            "RSET": "250 2.0.0 Ok",
            "NOOP": "250 2.0.0 Ok",
            "QUIT": "221 2.0.0 Bye",
        }.get(verb, "502 5.5.2 Error: command not recognized")


def settings(hop: NextHop, **overrides: Any) -> RelaySettings:
    values: dict[str, Any] = {
        "port": hop.port,
        "connect_timeout": 1.0,
        "command_timeout": 0.3,
        "data_timeout": 0.5,
    }
    values.update(overrides)
    return RelaySettings(**values)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


async def send(
    relay: Relay,
    raw: bytes = MESSAGE,
    rcpts: tuple[str, ...] = ("b@example.org",),
    mail_from: str = "a@example.net",
) -> Reply:
    """One whole transaction; the reply to MAIL if refused, else to the end of DATA."""
    reply, downstream = await relay.begin(CLIENT, mail_from, ())
    if downstream is None:
        return reply
    for rcpt in rcpts:
        await downstream.rcpt(rcpt, ())
    return await downstream.data(raw)


async def begin(relay: Relay, params: tuple[Param, ...] = ()) -> Downstream:
    reply, downstream = await relay.begin(CLIENT, "a@example.net", params)
    assert reply.code == 250, reply
    assert downstream is not None
    return downstream


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The message, byte for byte ------------------------------------------------------------

LONG_LINE = b"x" * 100_000
MESSAGES = {
    "dots": b"Subject: dots\r\n\r\n.leading\r\n..two\r\n.\r\n...\r\nlast\r\n",
    "starts with a dot": b".X-Odd: header\r\n\r\nbody\r\n",
    "long line": b"Subject: long\r\n\r\n" + LONG_LINE + b"\r\n.after\r\n",
    "8-bit": "Subject: café\r\n\r\nÄrger über Straße €\r\n".encode() + b"\xff\xfe\x80\r\n",
    "no final CRLF": b"Subject: x\r\n\r\nno line end",
    "ends with a dot line": b"Subject: x\r\n\r\nend\r\n.",
    "empty": b"",
}


@pytest.mark.parametrize("raw", MESSAGES.values(), ids=MESSAGES.keys())
def test_message_arrives_byte_for_byte(raw: bytes) -> None:
    async def scenario() -> None:
        async with NextHop() as hop:
            relay = Relay(settings(hop))
            reply = await send(relay, raw)
            await relay.close()
        assert reply == Reply(250, "2.0.0 Ok: queued as 4Q1")
        expected = raw if not raw or raw.endswith(b"\r\n") else raw + b"\r\n"
        assert hop.messages == [expected]

    run(scenario)


def test_parameters_pass_in_their_original_case() -> None:
    mail_params: tuple[Param, ...] = (
        ("BODY", "8BITMIME"),
        ("SMTPUTF8", None),
        ("RET", "hdrs"),
        ("ENVID", "QQ+2B314"),
        ("size", "1234"),
    )
    rcpt_params: tuple[Param, ...] = (
        ("NOTIFY", "SUCCESS,delay"),
        ("ORCPT", "rfc822;Bob+2B@Example.ORG"),
    )

    async def scenario() -> None:
        async with NextHop() as hop:
            relay = Relay(settings(hop))
            reply, downstream = await relay.begin(CLIENT, "Jörg@Example.NET", mail_params)
            assert reply.code == 250 and downstream is not None
            assert (await downstream.rcpt("Bob@Example.ORG", rcpt_params)).code == 250
            assert (await downstream.data(MESSAGE)).code == 250
            await relay.close()
        assert (
            "MAIL FROM:<Jörg@Example.NET> BODY=8BITMIME SMTPUTF8 RET=hdrs ENVID=QQ+2B314 size=1234"
            in hop.commands
        )
        assert (
            "RCPT TO:<Bob@Example.ORG> NOTIFY=SUCCESS,delay ORCPT=rfc822;Bob+2B@Example.ORG"
            in hop.commands
        )

    run(scenario)


def test_null_sender() -> None:
    async def scenario() -> None:
        async with NextHop() as hop:
            relay = Relay(settings(hop))
            assert (await send(relay, mail_from="")).code == 250
            await relay.close()
        assert "MAIL FROM:<>" in hop.commands

    run(scenario)


# Replies mirrored ----------------------------------------------------------------------


def test_each_recipient_gets_the_next_hops_own_reply() -> None:
    unknown = "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"

    async def scenario() -> None:
        async with NextHop(replies={"RCPT TO:<nobody@example.org>": unknown}) as hop:
            relay = Relay(settings(hop))
            downstream = await begin(relay)
            assert await downstream.rcpt("nobody@example.org", ()) == Reply(
                550, "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"
            )
            assert await downstream.rcpt("b@example.org", ()) == Reply(250, "2.1.5 Ok")
            assert (await downstream.data(MESSAGE)).code == 250
            await relay.close()
        assert hop.messages == [MESSAGE]

    run(scenario)


@pytest.mark.parametrize(
    ("step", "line"),
    [
        ("MAIL", "452 4.3.1 Insufficient system storage"),
        ("MAIL", "553 5.7.1 <a@example.net>: Sender address rejected: not owned by user"),
        ("RCPT", "450 4.2.0 <b@example.org>: Recipient address rejected: Greylisted"),
        ("RCPT", "552 5.2.2 <b@example.org>: Mailbox full"),
        ("DATA", "451 4.3.0 Error: queue file write error"),
        ("DATA", "554 5.5.1 Error: no valid recipients"),
        (".", "451 4.3.0 Error: queue file write error"),
        (".", "554 5.7.1 Message content rejected"),
        (".", "552 5.3.4 Message size exceeds fixed limit"),
    ],
)
def test_refusals_of_the_next_hop_are_mirrored(step: str, line: str) -> None:
    expected = Reply(int(line[:3]), line[4:])

    async def scenario() -> None:
        async with NextHop(replies={step: [line]}) as hop:
            relay = Relay(settings(hop))
            reply, downstream = await relay.begin(CLIENT, "a@example.net", ())
            if step == "MAIL":
                assert (reply, downstream) == (expected, None)
            else:
                assert downstream is not None
                rcpt = await downstream.rcpt("b@example.org", ())
                if step == "RCPT":
                    assert rcpt == expected
                    await downstream.abort()
                else:
                    assert await downstream.data(MESSAGE) == expected
            # The connection is still good: the next transaction reuses it.
            await send(relay)
            await relay.close()
        assert hop.connections == 1

    run(scenario)


def test_multi_line_reply_is_kept_whole() -> None:
    multi = "250-2.0.0 Ok: queued as 4Q1\r\n250-second line\r\n250 2.0.0 third"

    async def scenario() -> None:
        async with NextHop(replies={".": multi}) as hop:
            relay = Relay(settings(hop))
            reply = await send(relay)
            await relay.close()
        assert reply == Reply(250, "2.0.0 Ok: queued as 4Q1\nsecond line\n2.0.0 third")
        assert str(reply) == multi

    run(scenario)


def test_421_closes_the_connection() -> None:
    async def scenario() -> None:
        shutdown = "421 4.3.2 Service shutting down"
        async with NextHop(replies={"RCPT": [shutdown]}) as hop:
            relay = Relay(settings(hop))
            downstream = await begin(relay)
            assert await downstream.rcpt("b@example.org", ()) == Reply(421, shutdown[4:])
            # The transaction is over: every later step gets the same answer.
            assert (await downstream.data(MESSAGE)).code == 421
            await downstream.abort()
            assert (await send(relay)).code == 250
            await relay.close()
        assert hop.connections == 2
        assert "RSET" not in hop.sessions[0]

    run(scenario)


# Our own decisions ---------------------------------------------------------------------


def test_no_data_without_an_accepted_recipient() -> None:
    async def scenario() -> None:
        async with NextHop(replies={"RCPT": "550 5.1.1 User unknown"}) as hop:
            relay = Relay(settings(hop))
            downstream = await begin(relay)
            assert (await downstream.rcpt("x@example.org", ())).code == 550
            assert await downstream.data(MESSAGE) == NO_VALID_RECIPIENTS
            await downstream.abort()
            await relay.close()
        assert NO_VALID_RECIPIENTS.code == 554 and NO_VALID_RECIPIENTS.text.startswith("5.5.1")
        assert "DATA" not in hop.commands
        assert hop.commands[-2:] == ["RSET", "QUIT"]

    run(scenario)


def test_smtputf8_the_next_hop_lacks_is_refused_before_mail() -> None:
    extensions = tuple(e for e in POSTFIX_EXTENSIONS if e != "SMTPUTF8")

    async def scenario() -> None:
        async with NextHop(extensions=extensions) as hop:
            relay = Relay(settings(hop))
            reply, downstream = await relay.begin(CLIENT, "Jörg@example.net", (("SMTPUTF8", None),))
            assert (reply, downstream) == (SMTPUTF8_REQUIRED, None)
            assert (await send(relay)).code == 250  # the connection stayed usable
            await relay.close()
        assert (SMTPUTF8_REQUIRED.code, SMTPUTF8_REQUIRED.text[:5]) == (550, "5.6.7")
        assert [c for c in hop.commands if c.startswith("MAIL")] == ["MAIL FROM:<a@example.net>"]
        assert hop.connections == 1

    run(scenario)


def test_body_parameter_dropped_when_8bitmime_is_not_announced() -> None:
    extensions = tuple(e for e in POSTFIX_EXTENSIONS if e != "8BITMIME")

    async def scenario() -> None:
        async with NextHop(extensions=extensions) as hop:
            relay = Relay(settings(hop))
            downstream = await begin(relay, (("BODY", "8BITMIME"), ("RET", "FULL")))
            await downstream.abort()
            await relay.close()
        assert "MAIL FROM:<a@example.net> RET=FULL" in hop.commands

    run(scenario)


# XFORWARD ------------------------------------------------------------------------------


def test_xforward_on_every_transaction_when_announced() -> None:
    async def scenario() -> None:
        async with NextHop() as hop:
            relay = Relay(settings(hop))
            for _ in range(2):
                assert (await send(relay)).code == 250
            await relay.close()
        assert hop.connections == 1
        session = hop.sessions[0]
        xforward = [i for i, line in enumerate(session) if line.startswith("XFORWARD ")]
        mail = [i for i, line in enumerate(session) if line.startswith("MAIL ")]
        # Sent again on the reused connection, each time before MAIL.
        assert len(xforward) >= 2 and len(mail) == 2
        assert xforward[0] < mail[0] < xforward[-1] < mail[1]
        sent = " ".join(session[i] for i in xforward)
        assert "ADDR=192.0.2.7" in sent and "HELO=mail.example.net" in sent

    run(scenario)


@pytest.mark.parametrize("pipelining", [True, False])
def test_no_xforward_when_not_announced(pipelining: bool) -> None:
    extensions = tuple(
        e
        for e in POSTFIX_EXTENSIONS
        if not e.startswith("XFORWARD") and (pipelining or e != "PIPELINING")
    )

    async def scenario() -> None:
        async with NextHop(extensions=extensions) as hop:
            relay = Relay(settings(hop))
            assert (await send(relay)).code == 250
            await relay.close()
        assert not [line for line in hop.commands if line.upper().startswith("XFORWARD")]

    run(scenario)


@pytest.mark.parametrize("pipelining", [True, False])
def test_xforward_refused_is_a_temporary_failure(pipelining: bool) -> None:
    extensions = tuple(e for e in POSTFIX_EXTENSIONS if pipelining or e != "PIPELINING")

    async def scenario() -> None:
        refusal = ["550 5.7.0 Error: insufficient authorization"]
        async with NextHop(extensions=extensions, replies={"XFORWARD": refusal}) as hop:
            relay = Relay(settings(hop))
            reply, downstream = await relay.begin(CLIENT, "a@example.net", ())
            assert (reply, downstream) == (NEXT_HOP_REFUSED, None)
            assert (await send(relay)).code == 250
            await relay.close()
        assert NEXT_HOP_REFUSED.temporary
        assert hop.connections == 1
        if pipelining:
            # MAIL went with XFORWARD and was accepted; RSET ends that transaction.
            assert hop.sessions[0][:4] == [
                "EHLO scam-milter",
                hop.sessions[0][1],
                "MAIL FROM:<a@example.net>",
                "RSET",
            ]
        else:
            assert hop.sessions[0][2].startswith("XFORWARD ")  # not MAIL: it was not sent

    run(scenario)


# Network trouble -----------------------------------------------------------------------


def test_next_hop_down() -> None:
    async def scenario() -> None:
        relay = Relay(RelaySettings(port=closed_port(), connect_timeout=1.0))
        assert await relay.begin(CLIENT, "a@example.net", ()) == (NEXT_HOP_DOWN, None)
        await relay.close()

    run(scenario)
    assert (NEXT_HOP_DOWN.code, NEXT_HOP_DOWN.text[:5]) == (451, "4.4.1")


def test_silent_next_hop_times_out() -> None:
    async def scenario() -> None:
        async with NextHop(greeting=SILENT) as hop:
            relay = Relay(settings(hop, command_timeout=0.2))
            started = time.monotonic()
            assert await relay.begin(CLIENT, "a@example.net", ()) == (NEXT_HOP_TIMEOUT, None)
            assert time.monotonic() - started < 1.0
            await relay.close()

    run(scenario)
    assert (NEXT_HOP_TIMEOUT.code, NEXT_HOP_TIMEOUT.text[:5]) == (451, "4.4.2")


@pytest.mark.parametrize("step", ["EHLO", "MAIL", "RCPT", "DATA", "."])
def test_stall_at_any_step_times_out(step: str) -> None:
    async def scenario() -> None:
        async with NextHop(replies={step: SILENT}) as hop:
            relay = Relay(settings(hop, command_timeout=0.2, data_timeout=0.2))
            reply, downstream = await relay.begin(CLIENT, "a@example.net", ())
            if downstream is not None:
                reply = await downstream.rcpt("b@example.org", ())
                if reply.positive:
                    reply = await downstream.data(MESSAGE)
                await downstream.abort()  # idempotent, and harmless on a dead link
            assert reply == NEXT_HOP_TIMEOUT
            # Not pooled: the next transaction opens a new connection.
            hop.replies.clear()
            assert (await send(relay)).code == 250
            await relay.close()
        assert hop.connections == 2

    run(scenario)


@pytest.mark.parametrize("how", ["before the reply", "while the message arrives"])
def test_next_hop_closing_mid_data(how: str) -> None:
    async def scenario() -> None:
        if how == "before the reply":
            hop = NextHop(replies={".": [CLOSE]})
        else:
            hop = NextHop(drop_in_data=True)
        async with hop:
            relay = Relay(settings(hop))
            big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 5000
            assert await send(relay, big) == NEXT_HOP_LOST
            hop.drop_in_data = False
            assert (await send(relay)).code == 250
            await relay.close()
        assert hop.connections == 2

    run(scenario)


@pytest.mark.parametrize(
    "garbage",
    ["hello there", "25", "250x Ok", "099 too low", "250-2.1.0 Ok\r\n354 changed code"],
)
def test_garbage_reply_is_a_lost_connection(garbage: str) -> None:
    async def scenario() -> None:
        async with NextHop(replies={"MAIL": [garbage]}) as hop:
            relay = Relay(settings(hop))
            assert await relay.begin(CLIENT, "a@example.net", ()) == (NEXT_HOP_LOST, None)
            assert (await send(relay)).code == 250
            await relay.close()
        assert hop.connections == 2

    run(scenario)


@pytest.mark.parametrize(
    ("greeting", "expected"),
    [
        ("421 4.3.2 All server ports are busy", Reply(421, "4.3.2 All server ports are busy")),
        ("554 5.7.1 No SMTP service here", NEXT_HOP_REFUSED),
    ],
)
def test_greeting_refusal_is_temporary(greeting: str, expected: Reply) -> None:
    async def scenario() -> None:
        async with NextHop(greeting=greeting) as hop:
            relay = Relay(settings(hop))
            assert await relay.begin(CLIENT, "a@example.net", ()) == (expected, None)
            await relay.close()

    run(scenario)


def test_helo_when_ehlo_is_unknown() -> None:
    async def scenario() -> None:
        async with NextHop(replies={"EHLO": "502 5.5.2 Error: command not recognized"}) as hop:
            relay = Relay(settings(hop))
            assert (await send(relay)).code == 250
            await relay.close()
        assert hop.sessions[0][:3] == [
            "EHLO scam-milter",
            "HELO scam-milter",
            "MAIL FROM:<a@example.net>",
        ]

    run(scenario)


def test_cancelled_transaction_is_not_pooled() -> None:
    async def scenario() -> None:
        async with NextHop(replies={"RCPT": [SILENT]}) as hop:
            relay = Relay(settings(hop, command_timeout=5.0))
            downstream = await begin(relay)
            task = asyncio.create_task(downstream.rcpt("b@example.org", ()))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await downstream.rcpt("c@example.org", ()) == NEXT_HOP_LOST
            await downstream.abort()
            assert (await send(relay)).code == 250
            await relay.close()
        assert hop.connections == 2

    run(scenario)


# Connection reuse ----------------------------------------------------------------------


def test_transactions_share_one_connection() -> None:
    async def scenario() -> None:
        async with NextHop() as hop:
            relay = Relay(settings(hop))
            assert (await send(relay)).code == 250
            downstream = await begin(relay)
            await downstream.abort()
            await downstream.abort()  # idempotent
            assert (await send(relay, rcpts=("c@example.org", "d@example.org"))).code == 250
            await relay.close()
        assert hop.connections == 1
        assert hop.commands.count("RSET") == 1
        assert len(hop.messages) == 2
        assert hop.commands[-1] == "QUIT"

    run(scenario)


def test_concurrent_transactions_use_separate_connections() -> None:
    async def scenario() -> None:
        async with NextHop() as hop:
            relay = Relay(settings(hop, pool_size=2))
            replies = await asyncio.gather(*(send(relay) for _ in range(3)))
            assert [r.code for r in replies] == [250] * 3
            assert hop.connections == 3
            # Two stay pooled (pool_size); the third is closed with QUIT.
            await asyncio.gather(*(send(relay) for _ in range(2)))
            assert hop.connections == 3
            await relay.close()
        assert hop.commands.count("QUIT") == 3

    run(scenario)


def test_pool_size_zero_keeps_nothing() -> None:
    async def scenario() -> None:
        async with NextHop() as hop:
            relay = Relay(settings(hop, pool_size=0))
            for _ in range(2):
                assert (await send(relay)).code == 250
            await relay.close()
        assert hop.connections == 2
        assert [s[-1] for s in hop.sessions] == ["QUIT", "QUIT"]

    run(scenario)


@pytest.mark.parametrize(
    "stale",
    ["closed while idle", "421 at reuse", "closed at reuse", "421 at reuse, no pipelining"],
)
def test_stale_pooled_connection_reconnects(stale: str) -> None:
    extensions = POSTFIX_EXTENSIONS
    if "no pipelining" in stale:
        extensions = tuple(e for e in POSTFIX_EXTENSIONS if e != "PIPELINING")
    timeout = "421 4.4.2 next-hop.example Error: timeout exceeded"
    replies: dict[str, str | list[str]] = {}
    if stale.startswith("421"):
        replies = {"XFORWARD": ["250 2.0.0 Ok", timeout]}
    elif stale == "closed at reuse":
        replies = {"XFORWARD": ["250 2.0.0 Ok", CLOSE]}

    async def scenario() -> None:
        async with NextHop(extensions=extensions, replies=replies) as hop:
            relay = Relay(settings(hop))
            assert (await send(relay)).code == 250
            if stale == "closed while idle":
                await hop.hang_up()
            assert (await send(relay)).code == 250
            await relay.close()
        assert hop.connections == 2
        assert len(hop.messages) == 2

    run(scenario)


def test_stale_fresh_connection_is_not_retried_again() -> None:
    async def scenario() -> None:
        # The pooled connection gets a 421 on reuse, and so does the fresh one: its
        # 421 is the answer, with no third connection.
        shutdown = "421 4.3.2 Service shutting down"
        async with NextHop(replies={"XFORWARD": ["250 2.0.0 Ok", shutdown, shutdown]}) as hop:
            relay = Relay(settings(hop))
            assert (await send(relay)).code == 250
            assert (await send(relay)) == Reply(421, shutdown[4:])
            await relay.close()
        assert hop.connections == 2

    run(scenario)


def test_idle_connections_expire() -> None:
    async def scenario() -> None:
        async with NextHop() as hop:
            relay = Relay(settings(hop, idle_timeout=0.1))
            assert (await send(relay)).code == 250
            await asyncio.sleep(0.3)
            assert hop.sessions[0][-1] == "QUIT"
            assert (await send(relay)).code == 250
            await relay.close()
        assert hop.connections == 2

    run(scenario)


def test_long_idle_connection_is_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Below zero: probe every reuse. (0.0 is not enough on uvloop, whose clock moves in
    # whole milliseconds: a connection reused within one reads as idle for 0 s.)
    monkeypatch.setattr(relay_module, "PROBE_AFTER", -1.0)

    async def scenario() -> None:
        async with NextHop(replies={"NOOP": ["250 2.0.0 Ok", timeout]}) as hop:
            relay = Relay(settings(hop))
            for _ in range(3):
                assert (await send(relay)).code == 250
            await relay.close()
        assert hop.connections == 2
        assert [s.count("NOOP") for s in hop.sessions] == [2, 0]

    timeout = "421 4.4.2 Error: timeout exceeded"
    run(scenario)


def test_settings_validate_themselves() -> None:
    with pytest.raises(ValueError, match="command_timeout"):
        RelaySettings(command_timeout=0)
    with pytest.raises(ValueError, match="pool_size"):
        RelaySettings(pool_size=-1)


# Sans-I/O: replies, framing ------------------------------------------------------------

REPLIES = [
    (b"250 2.1.0 Ok\r\n", Reply(250, "2.1.0 Ok")),
    (b"250\r\n", Reply(250, "")),
    (b"220 host ESMTP\n", Reply(220, "host ESMTP")),  # a bare LF is tolerated
    (b"250-host\r\n250-PIPELINING\r\n250 8BITMIME\r\n", Reply(250, "host\nPIPELINING\n8BITMIME")),
    (b"550-5.1.1 first\r\n550 5.1.1 second\r\n", Reply(550, "5.1.1 first\n5.1.1 second")),
    (
        "554 5.7.1 <jörg@example.net>: refusé\r\n".encode(),
        Reply(554, "5.7.1 <jörg@example.net>: refusé"),
    ),
]


@pytest.mark.parametrize(("data", "expected"), REPLIES)
def test_reply_parser(data: bytes, expected: Reply) -> None:
    whole = ReplyParser()
    whole.feed(data)
    assert whole.next_reply() == expected
    assert whole.next_reply() is None and not whole.pending
    # The same bytes one at a time: a reply is complete only with its last line.
    trickle = ReplyParser()
    for i in range(len(data)):
        trickle.feed(data[i : i + 1])
        reply = trickle.next_reply()
        assert reply == (expected if i == len(data) - 1 else None)


def test_reply_parser_keeps_pipelined_replies_apart() -> None:
    parser = ReplyParser()
    parser.feed(b"250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n354 go")
    assert parser.next_reply() == Reply(250, "2.0.0 Ok")
    assert parser.next_reply() == Reply(250, "2.1.0 Ok")
    assert parser.next_reply() is None and parser.pending
    parser.feed(b" ahead\r\n")
    assert parser.next_reply() == Reply(354, "go ahead")


@pytest.mark.parametrize(
    "data",
    [
        b"hello\r\n",
        b"25\r\n",
        b"250x\r\n",
        b"099 low\r\n",
        b"600 high\r\n",
        b"250-a\r\n550 b\r\n",
        b"2" * 10_000,
        b"250-x\r\n" * 300,
    ],
)
def test_reply_parser_refuses_garbage(data: bytes) -> None:
    parser = ReplyParser()
    parser.feed(data)
    with pytest.raises(ReplyError):
        parser.next_reply()


def test_ehlo_extensions() -> None:
    reply = Reply(250, "host greets you\npipelining\nSIZE 1000\nXFORWARD NAME ADDR\n8BITMIME")
    assert ehlo_extensions(reply) == {
        "PIPELINING": "",
        "SIZE": "1000",
        "XFORWARD": "NAME ADDR",
        "8BITMIME": "",
    }


@pytest.mark.parametrize(
    ("raw", "framed"),
    [
        (b"", b".\r\n"),
        (b"a\r\n", b"a\r\n.\r\n"),
        (b"a", b"a\r\n.\r\n"),
        (b".a\r\n", b"..a\r\n.\r\n"),
        (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r\n..b\r\n", b"a\r\n...b\r\n.\r\n"),
        (b"a.b\r\n.", b"a.b\r\n..\r\n.\r\n"),
        # A bare LF followed by "." is stuffed too: Postfix takes the LF as a line end.
        (b"a\n.\r\nb\r\n", b"a\n..\r\nb\r\n.\r\n"),
    ],
)
def test_data_frame(raw: bytes, framed: bytes) -> None:
    assert data_frame(raw) == framed


def test_commands() -> None:
    assert mail_command("", ()) == b"MAIL FROM:<>\r\n"
    assert mail_command("a@b", (("BODY", "8BITMIME"), ("SMTPUTF8", None))) == (
        b"MAIL FROM:<a@b> BODY=8BITMIME SMTPUTF8\r\n"
    )
    assert rcpt_command("ü@b", (("NOTIFY", "NEVER"),)) == "RCPT TO:<ü@b> NOTIFY=NEVER\r\n".encode()
    with pytest.raises(ValueError, match="line end"):
        rcpt_command("a@b>\r\nRCPT TO:<evil@x", ())
    with pytest.raises(ValueError, match="line end"):
        command("XFORWARD", "NAME=a\nb")


def test_line_end_in_an_address_takes_no_connection() -> None:
    async def scenario() -> None:
        async with NextHop() as hop:
            relay = Relay(settings(hop))
            with pytest.raises(ValueError, match="line end"):
                await relay.begin(CLIENT, "a@b>\r\nRSET", ())
            await relay.close()
        assert hop.connections == 0

    run(scenario)


# A reply that comes after we gave up --------------------------------------------------


class LateReplies:
    """The ``on_late_reply`` hook: collects what it is given, and says when."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.event = asyncio.Event()

    async def __call__(self, reply: Reply) -> None:
        self.replies.append(reply)
        self.event.set()


def test_timeouts_default_to_rfc_5321() -> None:
    # RFC 5321 4.5.3.2: 5 minutes for MAIL, RCPT and the like, 10 for the reply to the
    # end of DATA. Shorter, a slow next hop that queues the message gets it again.
    for limits in (RelaySettings(), RelayLimits()):
        assert limits.command_timeout >= 300
        assert limits.data_timeout >= 600
    assert RelaySettings().late_reply_timeout > 0


def test_late_250_after_the_timeout_is_handed_over() -> None:
    async def scenario() -> None:
        async with NextHop(final_delay=0.6) as hop:
            relay = Relay(settings(hop, data_timeout=0.2, late_reply_timeout=5.0))
            late = LateReplies()
            started = time.monotonic()
            assert await send_late(relay, late) == NEXT_HOP_TIMEOUT
            assert time.monotonic() - started < 0.5  # our own reply is not held up
            assert late.replies == []
            await asyncio.wait_for(late.event.wait(), 3.0)
            assert [r.code for r in late.replies] == [250]
            assert late.replies[0].text == "2.0.0 Ok: queued as 4Q1"
            # The next message takes a new connection: the watched one is not pooled.
            hop.final_delay = 0
            assert (await send(relay)).code == 250
            await relay.close()
        assert len(hop.messages) == 2
        assert hop.connections == 2
        assert hop.sessions[0][-1] == "QUIT"  # closed politely once the reply came

    run(scenario)


def test_no_hook_drops_the_connection_at_the_timeout() -> None:
    async def scenario() -> None:
        async with NextHop(final_delay=0.6) as hop:
            relay = Relay(settings(hop, data_timeout=0.2, late_reply_timeout=5.0))
            assert await send(relay) == NEXT_HOP_TIMEOUT
            await asyncio.sleep(0.1)
            assert hop.sessions[0][-1] == "DATA"  # no QUIT: aborted, as before
            assert relay._watchers == set()
            await relay.close()

    run(scenario)


def test_late_reply_wait_is_bounded() -> None:
    async def scenario() -> None:
        async with NextHop(final_delay=30.0) as hop:
            relay = Relay(settings(hop, data_timeout=0.1, late_reply_timeout=0.3))
            late = LateReplies()
            assert await send_late(relay, late) == NEXT_HOP_TIMEOUT
            assert len(relay._watchers) == 1
            await asyncio.sleep(0.6)
            assert relay._watchers == set()
            assert late.replies == []
            await relay.close()

    run(scenario)


def test_late_reply_after_our_client_went_away() -> None:
    # Before-queue Postfix drops us after smtpd_proxy_timeout (100 s) while the next hop
    # may still queue the message: the 250 that follows is still heard.
    async def scenario() -> None:
        async with NextHop(final_delay=0.5) as hop:
            relay = Relay(settings(hop, data_timeout=5.0, late_reply_timeout=5.0))
            late = LateReplies()
            task = asyncio.create_task(send_late(relay, late))
            while not hop.messages:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.wait_for(late.event.wait(), 3.0)
            assert [r.code for r in late.replies] == [250]
            await relay.close()

    run(scenario)


def test_late_refusal_is_handed_over_too() -> None:
    async def scenario() -> None:
        async with NextHop(final_delay=0.4, replies={".": "554 5.7.1 no"}) as hop:
            relay = Relay(settings(hop, data_timeout=0.1, late_reply_timeout=5.0))
            late = LateReplies()
            assert await send_late(relay, late) == NEXT_HOP_TIMEOUT
            await asyncio.wait_for(late.event.wait(), 3.0)
            assert late.replies == [Reply(554, "5.7.1 no")]
            await relay.close()

    run(scenario)


def test_close_stops_waiting_for_late_replies() -> None:
    async def scenario() -> None:
        async with NextHop(final_delay=1.0) as hop:
            relay = Relay(settings(hop, data_timeout=0.1, late_reply_timeout=5.0))
            late = LateReplies()
            assert await send_late(relay, late) == NEXT_HOP_TIMEOUT
            started = time.monotonic()
            await relay.close()
            assert time.monotonic() - started < 0.5
            assert relay._watchers == set()
            await asyncio.sleep(1.2)
            assert late.replies == []

    run(scenario)


def test_late_watchers_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay_module, "MAX_LATE_WATCHERS", 2)

    async def scenario() -> None:
        async with NextHop(final_delay=1.0) as hop:
            relay = Relay(settings(hop, data_timeout=0.1, late_reply_timeout=5.0))
            late = LateReplies()
            replies = await asyncio.gather(*(send_late(relay, late) for _ in range(3)))
            assert replies == [NEXT_HOP_TIMEOUT] * 3
            assert len(relay._watchers) == 2
            await asyncio.sleep(1.3)
            assert [r.code for r in late.replies] == [250, 250]
            await relay.close()

    run(scenario)
    assert MAX_LATE_WATCHERS >= 2


async def send_late(relay: Relay, late: LateReplies) -> Reply:
    reply, downstream = await relay.begin(CLIENT, "a@example.net", ())
    assert downstream is not None, reply
    await downstream.rcpt("b@example.org", ())
    return await downstream.data(MESSAGE, on_late_reply=late)

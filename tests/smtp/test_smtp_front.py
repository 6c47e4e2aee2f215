"""The SMTP front over real sockets on 127.0.0.1, with a handler that records its calls.

Each test runs its own event loop (``asyncio.run``) and front on an ephemeral port; the
client is a raw asyncio stream, so the bytes on the wire are exactly the test's. Timeouts
are fractions of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import smtplib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import ClassVar

import pytest

from milter.mail.envelope import ClientInfo, Param
from milter.smtp.front import FrontServer, FrontSettings, Transaction, start_front
from milter.smtp.replies import OK, Reply

# Every test runs on both loops: production's (uvloop) and asyncio's own.
pytestmark = pytest.mark.usefixtures("event_loop_kind")

SETTINGS = FrontSettings(hostname="front.test", command_timeout=5.0, data_timeout=5.0)
TEST_TIMEOUT = 10.0


@dataclass
class Call:
    name: str
    tx: Transaction
    args: tuple[object, ...] = ()


class Recorder:
    """A TransactionHandler that records every call and answers as told."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.mail_reply = OK
        self.rcpt_reply = OK
        self.data_reply = Reply(250, "2.0.0 Ok: queued as TEST")
        self.fail: set[str] = set()  # names of methods that raise
        self.data_gate: asyncio.Event | None = None  # data() waits for it when set
        self.changed = asyncio.Event()

    def _record(self, name: str, tx: Transaction, *args: object) -> None:
        self.calls.append(Call(name, tx, args))
        self.changed.set()
        if name in self.fail:
            raise RuntimeError(f"{name} exploded")

    async def mail(self, tx: Transaction) -> Reply:
        self._record("mail", tx)
        return self.mail_reply

    async def rcpt(self, tx: Transaction, address: str, params: tuple[Param, ...]) -> Reply:
        self._record("rcpt", tx, address, params)
        return self.rcpt_reply

    async def data(self, tx: Transaction, raw: bytes) -> Reply:
        self._record("data", tx, raw)
        if self.data_gate is not None:
            await self.data_gate.wait()
        return self.data_reply

    async def abort(self, tx: Transaction) -> None:
        self._record("abort", tx)

    def names(self) -> list[str]:
        return [c.name for c in self.calls]

    def last(self, name: str) -> Call:
        return [c for c in self.calls if c.name == name][-1]

    async def wait_for(self, name: str, count: int = 1) -> None:
        while self.names().count(name) < count:
            self.changed.clear()
            await self.changed.wait()


class Client:
    """A raw SMTP client: lines in, replies out, nothing changed on the way."""

    opened: ClassVar[list[Client]] = []  # closed by run() at the end of each test

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        Client.opened.append(self)

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def reply(self) -> tuple[int, str]:
        """One reply: its code and its lines' texts joined with "\\n"."""
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("connection closed")
            assert line.endswith(b"\r\n"), line
            text = line[:-2].decode("utf-8")
            lines.append(text[4:])
            if text[3:4] == " ":
                return int(text[:3]), "\n".join(lines)

    def send(self, data: bytes | str) -> None:
        self.writer.write(data.encode("utf-8") if isinstance(data, str) else data)

    async def cmd(self, line: str) -> tuple[int, str]:
        self.send(line + "\r\n")
        return await self.reply()

    async def hello(self) -> tuple[int, str]:
        code, _ = await self.reply()
        assert code == 220
        return await self.cmd("EHLO client.test")

    async def closed(self) -> bool:
        # A server that closes with client bytes still unread makes the kernel send a
        # reset (RFC 1122 4.2.2.13); uvloop reports it where asyncio's loop may see EOF.
        try:
            return await self.reader.read() == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.writer.close()


Test = Callable[[FrontServer, Recorder], Awaitable[None]]


class LogRecords(logging.Handler):
    """The front's log records, caught on its own logger (caplog relies on propagation,
    which ``scam-milter serve``'s logging setup turns off for "scam_milter")."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> LogRecords:
        logger = logging.getLogger("scam_milter.smtp")
        self.old_level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("scam_milter.smtp")
        logger.removeHandler(self)
        logger.setLevel(self.old_level)

    def errors_with(self, text: str) -> bool:
        return any(
            r.levelno >= logging.ERROR and r.exc_info and text in str(r.exc_info[1])
            for r in self.records
        )


def run(test: Test, settings: FrontSettings = SETTINGS) -> Recorder:
    async def main() -> Recorder:
        handler = Recorder()
        front = await start_front(handler, settings, "127.0.0.1", 0)
        try:
            async with asyncio.timeout(TEST_TIMEOUT):
                await test(front, handler)
        finally:
            for client in Client.opened:
                client.close()
                with contextlib.suppress(OSError):
                    await client.writer.wait_closed()
            Client.opened.clear()
            front.close()
            async with asyncio.timeout(TEST_TIMEOUT):
                await front.wait_closed()
        return handler

    return asyncio.run(main())


async def transaction(
    client: Client, message: bytes = b"Subject: t\r\n\r\nbody\r\n"
) -> tuple[int, str]:
    assert (await client.cmd("MAIL FROM:<alice@example.com>"))[0] == 250
    assert (await client.cmd("RCPT TO:<bob@example.com>"))[0] == 250
    assert (await client.cmd("DATA"))[0] == 354
    client.send(message + b".\r\n")
    return await client.reply()


# -- XFORWARD ------------------------------------------------------------------------------


def test_xforward_from_authorised_peer_reaches_transaction() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        code, ehlo = await client.hello()
        assert code == 250
        assert "XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE" in ehlo.split("\n")
        # The README's example: two commands, attributes given incrementally.
        assert await client.cmd(
            "XFORWARD NAME=spike.porcupine.org ADDR=IPv6:2001:db8::1 PORT=4711 PROTO=ESMTP"
        ) == (250, "2.0.0 Ok")
        assert (
            await client.cmd("XFORWARD HELO=spike.porcupine.org IDENT=3CF6B2AAE8 SOURCE=REMOTE")
        )[0] == 250
        assert (await transaction(client))[0] == 250
        assert handler.last("data").tx.client == ClientInfo(
            name="spike.porcupine.org",
            addr="2001:db8::1",
            port=4711,
            proto="ESMTP",
            helo="spike.porcupine.org",
            ident="3CF6B2AAE8",
            source="REMOTE",
        )
        client.close()

    run(test)


def test_xforward_refused_outside_authorised_networks() -> None:
    settings = replace(SETTINGS, xforward_networks=(ipaddress.ip_network("10.0.0.0/8"),))

    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        _, ehlo = await client.hello()
        assert "XFORWARD" not in ehlo
        code, text = await client.cmd("XFORWARD ADDR=192.0.2.66 HELO=forged.example")
        assert (code, text[:5]) == (550, "5.7.0")
        assert (await transaction(client))[0] == 250
        client_info = handler.last("data").tx.client
        # The connection's own data, never the refused XFORWARD.
        assert client_info.addr == "127.0.0.1"
        assert client_info.helo == "client.test"
        assert client_info.proto == "ESMTP"
        assert isinstance(client_info.port, int) and client_info.port > 0
        client.close()

    run(test, settings)


def test_xforward_reset_after_each_transaction_and_rset() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("XFORWARD ADDR=192.0.2.1 HELO=one.example"))[0] == 250
        assert (await transaction(client))[0] == 250
        # Second transaction without XFORWARD: back to the connection.
        assert (await transaction(client))[0] == 250
        # XFORWARD then RSET: gone as well.
        assert (await client.cmd("XFORWARD ADDR=192.0.2.3"))[0] == 250
        assert (await client.cmd("RSET"))[0] == 250
        assert (await transaction(client))[0] == 250
        first, second, third = (c.tx.client for c in handler.calls if c.name == "data")
        assert (first.addr, first.helo) == ("192.0.2.1", "one.example")
        assert (second.addr, second.helo) == ("127.0.0.1", "client.test")
        assert third.addr == "127.0.0.1"
        # A second XFORWARD does not inherit the first transaction's attributes.
        assert (await client.cmd("XFORWARD ADDR=192.0.2.4"))[0] == 250
        assert (await transaction(client))[0] == 250
        fourth = handler.last("data").tx.client
        assert fourth == ClientInfo(addr="192.0.2.4")
        client.close()

    run(test)


def test_xforward_inside_a_transaction_and_bad_syntax() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        code, text = await client.cmd("XFORWARD LOGIN=someone")
        assert (code, text[:5]) == (501, "5.5.4")
        assert (await client.cmd("XFORWARD"))[0] == 501
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        code, text = await client.cmd("XFORWARD ADDR=192.0.2.1")
        assert (code, text[:5]) == (503, "5.5.1")
        client.close()

    run(test)


# -- parameters and addresses --------------------------------------------------------------


def test_dsn_and_unknown_parameters_reach_the_handler_unchanged() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        mail = (
            "MAIL FROM:<Alice@Example.org> SIZE=100 BODY=8BITMIME ENVID=QQ314159 RET=HDRS X-Foo=Bar"
        )
        assert (await client.cmd(mail))[0] == 250
        rcpt = "RCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@Example.COM"
        assert (await client.cmd(rcpt))[0] == 250
        assert (await client.cmd("DATA"))[0] == 354
        client.send(b"x\r\n.\r\n")
        assert (await client.reply())[0] == 250
        tx = handler.last("data").tx
        envelope = tx.envelope()
        assert envelope.mail_from == "Alice@Example.org"
        assert envelope.mail_params == (
            ("SIZE", "100"),
            ("BODY", "8BITMIME"),
            ("ENVID", "QQ314159"),
            ("RET", "HDRS"),
            ("X-Foo", "Bar"),
        )
        assert envelope.rcpt_to == ("bob@example.com",)
        assert envelope.rcpt_params == (
            (("NOTIFY", "SUCCESS,FAILURE"), ("ORCPT", "rfc822;Bob@Example.COM")),
        )
        assert handler.last("rcpt").args == (
            "bob@example.com",
            (("NOTIFY", "SUCCESS,FAILURE"), ("ORCPT", "rfc822;Bob@Example.COM")),
        )
        client.close()

    run(test)


def test_smtputf8_and_quoted_addresses() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        _, ehlo = await client.hello()
        assert "SMTPUTF8" in ehlo.split("\n")
        assert (await client.cmd("MAIL FROM:<jöran@bücher.example> SMTPUTF8"))[0] == 250
        assert (await client.cmd('RCPT TO:<"john doe"@example.com>'))[0] == 250
        assert (await client.cmd("RCPT TO:<用户@例子.广告>"))[0] == 250
        code, text = await client.cmd("RCPT TO:<bad address@example.com>")
        assert (code, text[:5]) == (501, "5.1.3")
        tx = handler.last("mail").tx
        assert tx.mail_from == "jöran@bücher.example"
        assert [r for r, _ in tx.recipients] == ['"john doe"@example.com', "用户@例子.广告"]
        client.close()

    run(test)


def test_only_accepted_recipients_are_kept() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        assert (await client.cmd("RCPT TO:<one@example.com>"))[0] == 250
        handler.rcpt_reply = Reply(550, "5.1.1 No such user")
        assert await client.cmd("RCPT TO:<two@example.com>") == (550, "5.1.1 No such user")
        handler.rcpt_reply = OK
        assert (await client.cmd("RCPT TO:<three@example.com>"))[0] == 250
        tx = handler.last("mail").tx
        assert [r for r, _ in tx.recipients] == ["one@example.com", "three@example.com"]
        client.close()

    run(test)


def test_ehlo_announces_the_extensions() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        code, ehlo = await client.hello()
        assert code == 250
        lines = ehlo.split("\n")
        assert lines[0] == "front.test"
        for keyword in ("PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN"):
            assert keyword in lines
        assert f"SIZE {SETTINGS.max_message_size}" in lines
        assert not any(line.startswith(("AUTH", "STARTTLS")) for line in lines)
        client.close()

    run(test)


def test_smtplib_round_trip_with_dsn() -> None:
    # A standard client as a cross-check of the raw one.
    async def test(front: FrontServer, handler: Recorder) -> None:
        def send() -> dict[str, tuple[int, bytes]]:
            with smtplib.SMTP("127.0.0.1", front.port, timeout=5) as smtp:
                return smtp.sendmail(
                    "alice@example.com",
                    ["bob@example.com"],
                    b"Subject: hi\r\n\r\nhello\r\n",
                    mail_options=["ENVID=QQ314159", "RET=HDRS"],
                    rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Bob@Example.COM"],
                )

        assert await asyncio.to_thread(send) == {}
        call = handler.last("data")
        assert call.args == (b"Subject: hi\r\n\r\nhello\r\n",)
        assert ("ENVID", "QQ314159") in call.tx.mail_params
        await handler.wait_for("data")

    handler = run(test)
    assert handler.names() == ["mail", "rcpt", "data"]


# -- DATA ----------------------------------------------------------------------------------


def test_message_arrives_byte_for_byte() -> None:
    # What the handler must see, and how it travels dot-stuffed (RFC 5321 4.5.2).
    # A bare LF or CR is data, not a line end: "\n.\r\n" and "\n.\n" do not end the
    # message (SMTP smuggling), and a "." after a bare LF is not un-stuffed.
    message = (
        b"Subject: dots\r\n"
        b"\r\n"
        b".leading dot\r\n"
        b"..two dots\r\n"
        b".\tdot tab\r\n"
        b"bare LF\n.\nafter bare LF\r\n"
        b"smuggle\n.\r\nMAIL FROM:<evil@example.com>\r\n"
        b"bare CR\r.\r\n"
        b"8bit \xc3\xa9 \xff\x00 binary-ish\r\n"
        b"no final text"
        b"\r\n"
        b"\r\n"
    )
    stuffed = message.replace(b"\r\n.", b"\r\n..")  # the message never starts with "."

    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await transaction(client, stuffed))[0] == 250
        assert handler.last("data").args == (message,)
        client.close()

    run(test)


def test_first_line_dot_and_empty_message() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await transaction(client, b"..first\r\n"))[0] == 250
        assert handler.last("data").args == (b".first\r\n",)
        assert (await transaction(client, b""))[0] == 250
        assert handler.last("data").args == (b"",)
        client.close()

    run(test)


def test_dot_crlf_split_across_writes() -> None:
    # The terminator in pieces, a byte at a time, must still be found exactly once.
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
        assert (await client.cmd("DATA"))[0] == 354
        for byte in b"line one.\r\n..\r\nend\r\n.\r\n":
            client.send(bytes([byte]))
            await client.writer.drain()
            await asyncio.sleep(0)
        assert (await client.reply())[0] == 250
        assert handler.last("data").args == (b"line one.\r\n.\r\nend\r\n",)
        client.close()

    run(test)


def test_random_messages_in_random_pieces_end_exactly_at_their_terminator() -> None:
    # Lines that end with a full stop, lone dots, bare CR and LF, empty lines, in writes
    # cut anywhere and with the next command pipelined behind the terminator: each
    # message arrives whole and un-stuffed, and nothing after it is taken as data.
    rng = random.Random(20261127)
    atoms = [b"word", b".", b"..", b" ", b"\r\n", b"\n", b"\r", b"end.", b"\r\n.", b"x"]
    messages = []
    for _ in range(150):
        body = b"".join(rng.choice(atoms) for _ in range(rng.randrange(0, 40)))
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        messages.append(b"" if rng.random() < 0.05 else body)

    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        for message in messages:
            stuffed = (b"\r\n" + message).replace(b"\r\n.", b"\r\n..")[2:]
            assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
            assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
            assert (await client.cmd("DATA"))[0] == 354
            wire = stuffed + b".\r\nNOOP\r\n"
            cuts = sorted(rng.sample(range(1, len(wire)), min(3, len(wire) - 1)))
            for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
                client.send(wire[start:end])
                await client.writer.drain()
                await asyncio.sleep(0)
            assert (await client.reply())[0] == 250
            assert (await client.reply())[0] == 250  # the NOOP, read as a command
            assert handler.last("data").args == (message,)
        client.close()

    run(test)


def test_long_lines_pass_through() -> None:
    # RFC 5322 caps lines at 998 characters, but mail breaks it and Postfix passes it
    # on; aiosmtpd would answer "500 Line too long". Even past the 64 KiB buffer.
    long_1 = b"A" * 5000
    long_2 = b"B" * (200 * 1024)
    message = b"Subject: long\r\n\r\n" + long_1 + b"\r\n" + long_2 + b".\r\nend\r\n"

    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await transaction(client, message))[0] == 250
        assert handler.last("data").args == (message,)
        client.close()

    run(test)


def test_pipelined_commands_after_the_message_are_not_eaten() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        client.send("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        assert [(await client.reply())[0] for _ in range(3)] == [250, 250, 354]
        client.send(
            b"one\r\n.\r\nMAIL FROM:<c@example.com>\r\nRCPT TO:<d@example.com>\r\nRSET\r\nQUIT\r\n"
        )
        assert [(await client.reply())[0] for _ in range(5)] == [250, 250, 250, 250, 221]
        assert await client.closed()
        await handler.wait_for("abort")
        assert handler.names() == ["mail", "rcpt", "data", "mail", "rcpt", "abort"]
        assert handler.calls[2].args == (b"one\r\n",)

    run(test)


def test_oversized_message_gets_552_and_aborts() -> None:
    settings = replace(SETTINGS, max_message_size=1000)

    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        _, ehlo = await client.hello()
        assert "SIZE 1000" in ehlo.split("\n")
        code, text = await transaction(client, b"x" * 2000 + b"\r\n")
        assert (code, text) == (552, "5.3.4 Message size exceeds fixed maximum message size")
        await handler.wait_for("abort")
        assert handler.names() == ["mail", "rcpt", "abort"]
        # The session goes on: a message that fits is taken.
        assert (await transaction(client, b"y" * 900 + b"\r\n"))[0] == 250
        # A declared SIZE over the limit is refused at MAIL, before any handler call.
        code, text = await client.cmd("MAIL FROM:<a@example.com> SIZE=1001")
        assert (code, text[:5]) == (552, "5.3.4")
        assert handler.names() == ["mail", "rcpt", "abort", "mail", "rcpt", "data"]
        client.close()

    run(test, settings)


def test_message_exactly_at_the_limit_is_taken() -> None:
    settings = replace(SETTINGS, max_message_size=100)

    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await transaction(client, b"z" * 98 + b"\r\n"))[0] == 250
        assert (await transaction(client, b"z" * 99 + b"\r\n"))[0] == 552
        client.close()

    run(test, settings)


# -- failures and ends of transactions -----------------------------------------------------


@pytest.mark.parametrize("method", ["mail", "rcpt", "data"])
def test_handler_exception_answers_451(method: str) -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        handler.fail = {method}
        client = await Client.connect(front.port)
        await client.hello()
        replies = [await client.cmd("MAIL FROM:<a@example.com>")]
        if method != "mail":
            replies.append(await client.cmd("RCPT TO:<b@example.com>"))
        if method == "data":
            replies.append(await client.cmd("DATA"))
            client.send(b"x\r\n.\r\n")
            replies.append(await client.reply())
        code, text = replies[-1]
        assert (code, text[:5]) == (451, "4.3.0")
        assert "exploded" not in text and "RuntimeError" not in text
        assert await client.cmd("NOOP") == (250, "OK")  # the session lives on
        client.close()

    with LogRecords() as logs:
        handler = run(test)
    assert logs.errors_with("exploded")  # logged with its traceback
    # A failed MAIL ends its transaction with abort; a failed data() is its end.
    expected = {
        "mail": ["mail", "abort"],
        "rcpt": ["mail", "rcpt", "abort"],
        "data": ["mail", "rcpt", "data"],
    }
    assert handler.names() == expected[method]


def test_refused_mail_is_aborted_and_keeps_xforward() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("XFORWARD ADDR=192.0.2.9"))[0] == 250
        handler.mail_reply = Reply(451, "4.4.1 Next hop unavailable")
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 451
        assert handler.names() == ["mail", "abort"]
        handler.mail_reply = OK
        assert (await transaction(client))[0] == 250
        assert handler.last("data").tx.client.addr == "192.0.2.9"
        client.close()

    run(test)


def test_rset_quit_and_ehlo_abort_the_transaction() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        for ender in ("RSET", "EHLO again.test", "QUIT"):
            assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
            assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
            code, _ = await client.cmd(ender)
            assert code in (250, 221)
        assert await client.closed()
        await handler.wait_for("abort", 3)
        assert handler.names() == ["mail", "rcpt", "abort"] * 3

    run(test)


def test_disconnect_mid_data_aborts_once() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
        assert (await client.cmd("DATA"))[0] == 354
        client.send(b"Subject: half\r\n\r\nhalf a mess")
        await client.writer.drain()
        client.close()
        await handler.wait_for("abort")
        await asyncio.sleep(0.1)  # room for a wrong second abort or data()
        assert handler.names() == ["mail", "rcpt", "abort"]

    run(test)


def test_disconnect_while_data_runs_aborts_after_cancel() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        handler.data_gate = asyncio.Event()  # data() never returns by itself
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
        assert (await client.cmd("DATA"))[0] == 354
        client.send(b"x\r\n.\r\n")
        await handler.wait_for("data")
        client.close()
        await handler.wait_for("abort")
        assert handler.names() == ["mail", "rcpt", "data", "abort"]

    run(test)


def test_quit_or_disconnect_without_data_aborts() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        client.close()
        await handler.wait_for("abort")
        assert handler.names() == ["mail", "abort"]
        while front.active_sessions:
            await asyncio.sleep(0.01)

    run(test)


def test_data_timeout_answers_421_and_aborts() -> None:
    settings = replace(SETTINGS, data_timeout=0.3)

    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
        assert (await client.cmd("DATA"))[0] == 354
        client.send(b"Subject: slow\r\n")  # and then nothing
        code, text = await client.reply()
        assert (code, text[:5]) == (421, "4.4.2")
        assert await client.closed()
        await handler.wait_for("abort")
        assert handler.names() == ["mail", "rcpt", "abort"]

    run(test, settings)


def test_command_timeout_answers_421() -> None:
    settings = replace(SETTINGS, command_timeout=0.3)

    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        code, text = await client.reply()  # nothing sent: the server speaks first
        assert (code, text[:5]) == (421, "4.4.2")
        assert await client.closed()
        await handler.wait_for("abort")

    run(test, settings)


def test_slow_handler_is_not_a_client_timeout() -> None:
    # The idle timer stops while the handler works (e.g. waits for the next hop).
    settings = replace(SETTINGS, command_timeout=0.2)

    async def test(front: FrontServer, handler: Recorder) -> None:
        handler.data_gate = asyncio.Event()
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
        assert (await client.cmd("DATA"))[0] == 354
        client.send(b"x\r\n.\r\n")
        await handler.wait_for("data")
        await asyncio.sleep(0.5)
        handler.data_gate.set()
        assert (await client.reply())[0] == 250
        client.close()

    run(test, settings)


# -- connections, drain ----------------------------------------------------------------------


def test_too_many_connections_get_421() -> None:
    settings = replace(SETTINGS, max_connections=2)

    async def test(front: FrontServer, handler: Recorder) -> None:
        first = await Client.connect(front.port)
        second = await Client.connect(front.port)
        assert (await first.reply())[0] == 220
        assert (await second.reply())[0] == 220
        third = await Client.connect(front.port)
        assert await third.reply() == (421, "4.3.2 Too many connections, try again later")
        assert await third.closed()
        assert front.active_sessions == 2
        # A place frees up when a session ends.
        assert (await first.cmd("QUIT"))[0] == 221
        assert await first.closed()
        while front.active_sessions > 1:
            await asyncio.sleep(0.01)
        fourth = await Client.connect(front.port)
        assert (await fourth.reply())[0] == 220
        second.close()
        fourth.close()

    run(test, settings)


def test_drain_finishes_the_session_in_flight_then_closes() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        busy = await Client.connect(front.port)
        await busy.hello()
        idle = await Client.connect(front.port)
        await idle.hello()
        assert (await busy.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        assert (await busy.cmd("RCPT TO:<b@example.com>"))[0] == 250

        drain = asyncio.create_task(front.drain(5.0))
        # The idle session is let go at once.
        code, text = await idle.reply()
        assert (code, text[:5]) == (421, "4.3.2")
        assert await idle.closed()
        # No new connections.
        with pytest.raises(OSError):
            await Client.connect(front.port)
        # The session in flight completes its message, then is closed.
        assert (await busy.cmd("DATA"))[0] == 354
        busy.send(b"last one\r\n.\r\n")
        assert (await busy.reply())[0] == 250
        code, text = await busy.reply()
        assert (code, text[:5]) == (421, "4.3.2")
        assert await busy.closed()
        await drain
        assert front.active_sessions == 0
        assert handler.names() == ["mail", "rcpt", "data"]

    run(test)


def test_drain_deadline_closes_a_stuck_session_and_aborts() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        await front.drain(0.2)
        code, text = await client.reply()
        assert (code, text[:5]) == (421, "4.3.2")
        assert await client.closed()
        assert front.active_sessions == 0
        assert handler.names() == ["mail", "abort"]

    run(test)


def test_handler_returning_a_non_reply_answers_451() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        handler.rcpt_reply = "250 OK"  # type: ignore[assignment]
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        code, text = await client.cmd("RCPT TO:<b@example.com>")
        assert (code, text[:5]) == (451, "4.3.0")
        client.close()

    run(test)


def test_our_own_bug_is_answered_451_not_aiosmtpd_500(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without handle_exception, aiosmtpd answers "500 Error: (Exc) msg": permanent, and
    # it shows our internals. An exception outside the handler calls takes that path.
    def broken(argument: str | None) -> tuple[str, tuple[Param, ...]]:
        raise KeyError("internal detail")

    monkeypatch.setattr("milter.smtp.session.parse_rcpt", broken)

    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        code, text = await client.cmd("RCPT TO:<b@example.com>")
        assert (code, text[:5]) == (451, "4.3.0")
        assert "internal detail" not in text
        assert await client.cmd("RSET") == (250, "2.0.0 Ok")
        client.close()

    with LogRecords() as logs:
        handler = run(test)
    assert logs.errors_with("internal detail")
    assert handler.names() == ["mail", "abort"]


def test_our_bug_while_reading_data_closes_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    # The rest of the message must not be taken for commands: 451, then close.
    async def broken(*args: object) -> bytes | None:
        raise ValueError("reader bug")

    monkeypatch.setattr("milter.smtp.front.receive_data", broken)

    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
        assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
        assert (await client.cmd("DATA"))[0] == 354
        client.send(b"MAIL FROM:<smuggled@example.com>\r\n")
        code, text = await client.reply()
        assert (code, text[:5]) == (451, "4.3.0")
        assert await client.closed()
        await handler.wait_for("abort")
        assert handler.names() == ["mail", "rcpt", "abort"]

    with LogRecords() as logs:
        run(test)
    assert logs.errors_with("reader bug")


def test_helo_session() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        assert (await client.reply())[0] == 220
        assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 503  # HELO first
        assert await client.cmd("HELO old\x01client") == (250, "front.test")
        code, text = await client.cmd("MAIL FROM:<a@example.com> SIZE=10")
        assert (code, text[:5]) == (501, "5.5.4")  # no extensions without EHLO
        assert (await transaction(client))[0] == 250
        info = handler.last("data").tx.client
        assert (info.proto, info.helo, info.addr) == ("SMTP", "old?client", "127.0.0.1")
        client.close()

    run(test)


def test_session_state_is_what_aiosmtpd_itself_builds() -> None:
    """_FrontSMTP writes out aiosmtpd's SMTP.__init__ for its arguments (to skip the
    per-connection introspection): the result must equal what SMTP.__init__ makes."""
    from aiosmtpd.smtp import SMTP

    from milter.smtp.front import AIOSMTPD_IDENT, _FrontSMTP, _NoHooks

    async def build() -> tuple[dict, dict, _FrontSMTP]:
        loop = asyncio.get_running_loop()
        settings = FrontSettings(max_message_size=12345, command_timeout=77)
        front = FrontServer(_NoHooks(), settings, loop)
        ours = _FrontSMTP(front)
        reference = _FrontSMTP.__new__(_FrontSMTP)
        SMTP.__init__(
            reference,
            _NoHooks(),
            data_size_limit=settings.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=settings.hostname,
            ident=AIOSMTPD_IDENT,
            timeout=settings.command_timeout,
            auth_exclude_mechanism=["LOGIN", "PLAIN"],
            loop=loop,
        )
        return vars(reference), vars(ours), ours

    reference, ours, session = asyncio.run(build())
    assert set(reference) <= set(ours)
    skip = {"_stream_reader", "_stream_reader_wr", "_strong_reader", "event_handler", "_loop"}
    skip |= {"_smtp_methods", "_over_ssl", "_closed", "_task", "_source_traceback"}
    for name in set(reference) - skip:
        assert ours[name] == reference[name] or callable(reference[name]), name
    assert set(ours["_smtp_methods"]) == set(reference["_smtp_methods"]) - {"AUTH"}
    assert ours["_smtp_methods"]["XFORWARD"] == session.smtp_XFORWARD
    assert ours["_auth_methods"] == reference["_auth_methods"] == {}


def test_peer_addresses_are_known_once_and_bounded() -> None:
    settings = replace(SETTINGS, xforward_networks=(ipaddress.ip_network("192.0.2.0/24"),))
    loop = asyncio.new_event_loop()
    front = FrontServer(Recorder(), settings, loop)
    # A dual-stack listener's IPv4 client is reported, and authorised, as IPv4.
    assert front.peer("::ffff:192.0.2.9") == ("192.0.2.9", True)
    assert front.peer("198.51.100.1") == ("198.51.100.1", False)
    assert front.peer("2001:db8::1") == ("2001:db8::1", False)
    assert front.peer("/run/socket") is None
    for n in range(3000):
        assert front.peer(f"10.{n // 256}.{n % 256}.1") == (f"10.{n // 256}.{n % 256}.1", False)
    assert len(front._peers) <= 1024
    assert front.peer("::ffff:192.0.2.9") == ("192.0.2.9", True)
    loop.close()


def test_replies_never_echo_client_bytes_and_help_lists_what_is_offered() -> None:
    async def test(front: FrontServer, handler: Recorder) -> None:
        client = await Client.connect(front.port)
        await client.hello()
        # An unknown verb with NUL, ESC and DEL: aiosmtpd would quote it back.
        code, text = await client.cmd("FOO\x00BAR\x1b[31m\x7f")
        assert (code, text) == (500, "5.5.2 Error: command not recognized")
        # AUTH is not offered (no AUTH in EHLO): unknown, and not in HELP.
        assert (await client.cmd("AUTH PLAIN AGFAYg=="))[0] == 500
        code, text = await client.cmd("HELP")
        assert code == 250
        assert "AUTH" not in text.split() and {"MAIL", "XFORWARD"} <= set(text.split())
        # The session still works afterwards.
        assert (await transaction(client))[0] == 250

    run(test)


def test_big_messages_wait_for_a_slot_and_small_ones_never_do() -> None:
    """Memory is bounded by how many big messages are worked on at once: past
    ``big_message_size`` a message waits for a slot, and gets it when the one before
    is answered; mail under the size passes meanwhile."""
    settings = replace(SETTINGS, big_message_size=2000, big_messages_at_once=1)
    big = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 60
    small = b"Subject: small\r\n\r\nhello\r\n"

    async def test(front: FrontServer, handler: Recorder) -> None:
        gate = handler.data_gate = asyncio.Event()  # every data() waits until it is set
        clients = [await Client.connect(front.port) for _ in range(3)]
        for client in clients:
            await client.hello()
            assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
            assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
            assert (await client.cmd("DATA"))[0] == 354
        first, second, third = clients
        first.send(big + b".\r\n")
        await handler.wait_for("data")
        second.send(big + b".\r\n")
        await asyncio.sleep(0.3)  # time enough to reach data(), were it not waiting
        assert handler.names().count("data") == 1
        third.send(small + b".\r\n")
        await handler.wait_for("data", 2)
        assert handler.last("data").args[0] == small
        gate.set()
        for client in clients:
            assert (await client.reply())[0] == 250
        assert [c.args[0] for c in handler.calls if c.name == "data"] == [big, small, big]
        assert not front.big.slots.locked()

    run(test, settings)


def test_a_big_message_that_must_wait_is_spooled_not_held_in_memory(tmp_path) -> None:
    """While the one slot is taken, a second big message is read to its end into a
    spool file (dot-stuffing undone as usual) and handed on, exact, once it has a slot."""
    settings = replace(SETTINGS, big_message_size=2000, big_messages_at_once=1, spool_dir=tmp_path)
    big = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 60
    stuffed = b"Subject: dots\r\n\r\n" + (b"..a line with a dot\r\n" + b"z" * 70 + b"\r\n") * 60
    unstuffed = stuffed.replace(b"\r\n..", b"\r\n.")

    async def test(front: FrontServer, handler: Recorder) -> None:
        gate = handler.data_gate = asyncio.Event()
        clients = [await Client.connect(front.port) for _ in range(2)]
        for client in clients:
            await client.hello()
            assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
            assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
            assert (await client.cmd("DATA"))[0] == 354
        first, second = clients
        first.send(big + b".\r\n")
        await handler.wait_for("data")
        second.send(stuffed + b".\r\n")
        for _ in range(100):  # read to its end while the slot is still taken
            if front.big.spooled:
                break
            await asyncio.sleep(0.01)
        assert front.big.spooled == 1 and handler.names().count("data") == 1
        gate.set()
        assert (await first.reply())[0] == 250
        assert (await second.reply())[0] == 250
        assert handler.last("data").args[0] == unstuffed
        assert list(tmp_path.iterdir()) == []  # the spool file has no name at all

    run(test, settings)


def test_no_room_to_spool_answers_452_and_keeps_the_session(tmp_path) -> None:
    settings = replace(
        SETTINGS,
        big_message_size=2000,
        big_messages_at_once=1,
        spool_dir=tmp_path / "missing",  # cannot be written: as a full disk
    )
    big = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 60

    async def test(front: FrontServer, handler: Recorder) -> None:
        gate = handler.data_gate = asyncio.Event()
        first, second = [await Client.connect(front.port) for _ in range(2)]
        for client in (first, second):
            await client.hello()
            assert (await client.cmd("MAIL FROM:<a@example.com>"))[0] == 250
            assert (await client.cmd("RCPT TO:<b@example.com>"))[0] == 250
            assert (await client.cmd("DATA"))[0] == 354
        first.send(big + b".\r\n")
        await handler.wait_for("data")
        second.send(big + b".\r\n")
        assert await second.reply() == (452, "4.3.1 Insufficient system storage")
        await handler.wait_for("abort")
        gate.set()
        assert (await first.reply())[0] == 250
        assert handler.names().count("data") == 1
        # The session goes on: the next transaction is served.
        assert (await transaction(second))[0] == 250

    run(test, settings)

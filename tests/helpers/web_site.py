"""A review site to test: a temp quarantine with messages, two accounts, a next hop.

Shared by the HTTP tests (Starlette's TestClient) and the browser tests (a real uvicorn
on a free loopback port). Passwords are set with the library, not the CLI, so the
fixtures cost one scrypt hash per account.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from milter.mail.envelope import ClientInfo, Envelope
from milter.quarantine.store import QuarantineStore
from milter.scan.verdict import Action, RuleHit, Verdict
from milter.web.accounts import Role, UsersFile

PASSWORD = "correct horse battery"
REVIEWER = "alice"
VIEWER = "victor"

RAW = (
    b"From: Anon <anon@example.org>\r\n"
    b"To: victim@example.net\r\n"
    b"Subject: Ik heb je gefilmd\r\n"
    b"Message-ID: <1@example.org>\r\n"
    b"\r\n"
    b"Ik heb je gefilmd via je webcam. Betaal 1200 EUR in bitcoin.\r\n"
)
ENVELOPE = Envelope(
    mail_from="anon@example.org",
    rcpt_to=("victim@example.net",),
    client=ClientInfo(addr="192.0.2.1", helo="mx.example.org"),
)
VERDICT = Verdict(
    Action.QUARANTINE,
    13.0,
    (
        RuleHit("SEXTORT_WEBCAM_NL", 8.0, ("gefilmd via je webcam",)),
        RuleHit("PAY_BTC", 5.0, ("bitcoin",)),
    ),
)
AUTH = {"spf": "softfail", "dmarc": {"result": "fail", "domain": "example.org"}}


def hold(
    store: QuarantineStore,
    raw: bytes = RAW,
    subject: str = "Ik heb je gefilmd",
    envelope: Envelope = ENVELOPE,
    verdict: Verdict = VERDICT,
) -> str:
    return store.put(raw, envelope, verdict, subject, auth=AUTH).id


def make_users(path: Path) -> UsersFile:
    users = UsersFile(path)
    users.add(REVIEWER, Role.REVIEWER, PASSWORD)
    users.add(VIEWER, Role.VIEWER, PASSWORD)
    return users


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes


@dataclass
class _Collect:
    messages: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 2.0.0 Ok: queued as TEST"


@dataclass
class NextHop:
    port: int
    messages: list[Received]


def next_hop() -> Iterator[NextHop]:
    """An SMTP server on a free loopback port that keeps every message it accepts."""
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()  # returns once the server answers: no polling needed here
    try:
        yield NextHop(controller.port, handler.messages)
    finally:
        controller.stop()

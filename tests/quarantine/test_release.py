"""milter.quarantine.release without the CLI: relay settings from the config, the released
envelope, Releaser's outcomes, and the CLI's independence from the service."""

from __future__ import annotations

import ast
import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.config import Config, RelayLimits, relay_settings
from milter.hostport import host_port_text as hop_text
from milter.mail.envelope import ClientInfo, Envelope
from milter.quarantine.release import (
    ReleaseError,
    Releaser,
    release_envelope,
)
from milter.quarantine.store import EntryStateError, QuarantineStore, Status
from milter.scan.verdict import Action, RuleHit, Verdict

MILTER = Path(__file__).resolve().parents[2] / "milter"
RAW = b"From: a@example.org\r\nSubject: pay\r\n\r\nsend bitcoin\r\n"
ENVELOPE = Envelope(
    mail_from="a@example.org",
    rcpt_to=("victim@example.net", "other@example.net"),
    mail_params=(("SIZE", "52"), ("BODY", "8BITMIME")),
    rcpt_params=((("NOTIFY", "NEVER"),), ()),
    client=ClientInfo(addr="192.0.2.1", helo="mx.example.org"),
)
VERDICT = Verdict(Action.QUARANTINE, 12.0, (RuleHit("PAY_BTC", 12.0, ("bitcoin",)),))


def test_relay_settings_come_from_the_config() -> None:
    config = Config(
        next_hop=("192.0.2.7", 2525),
        hostname="mx.example.net",
        relay=RelayLimits(
            connect_timeout=3.0,
            command_timeout=4.0,
            data_timeout=5.0,
            late_reply_timeout=6.0,
            pool_size=2,
        ),
    )
    settings = relay_settings(config)
    assert (settings.host, settings.port, settings.helo_name) == (
        "192.0.2.7",
        2525,
        "mx.example.net",
    )
    assert (
        settings.connect_timeout,
        settings.command_timeout,
        settings.data_timeout,
        settings.late_reply_timeout,
        settings.pool_size,
    ) == (3.0, 4.0, 5.0, 6.0, 2)


def test_hop_text_brackets_ipv6() -> None:
    assert hop_text("127.0.0.1", 10026) == "127.0.0.1:10026"
    assert hop_text("::1", 10026) == "[::1]:10026"


def test_release_envelope_keeps_parameters_and_updates_size() -> None:
    same = release_envelope(ENVELOPE, None, 99)
    assert same.mail_params == (("SIZE", "99"), ("BODY", "8BITMIME"))
    assert same.rcpt_to == ENVELOPE.rcpt_to
    assert same.rcpt_params == ENVELOPE.rcpt_params
    other = release_envelope(ENVELOPE, ["admin@example.net"], 99)
    assert other.rcpt_to == ("admin@example.net",)
    assert other.rcpt_params == ((),)  # the original DSN parameters were for others
    assert other.mail_from == "a@example.org"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[QuarantineStore]:
    with QuarantineStore(tmp_path / "q") as s:
        yield s


def release(store: QuarantineStore, entry_id: str, port: int, force: bool = False) -> object:
    async def run() -> object:
        async with Releaser(Config(), next_hop=("127.0.0.1", port), force=force) as releaser:
            return await releaser.release(store, entry_id)

    return asyncio.run(run())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_next_hop_is_a_release_error_and_the_message_stays_held(
    store: QuarantineStore,
) -> None:
    entry_id = store.put(RAW, ENVELOPE, VERDICT, "pay").id
    with pytest.raises(ReleaseError, match="the message stays held"):
        release(store, entry_id, closed_port())
    assert store.record(entry_id).entry.status is Status.HELD


def test_a_deleted_message_is_an_entry_state_error(store: QuarantineStore) -> None:
    entry_id = store.put(RAW, ENVELOPE, VERDICT, "pay").id
    store.delete(entry_id)
    with pytest.raises(EntryStateError, match="deleted"):
        release(store, entry_id, closed_port())


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize(
    "module", ["cli/quarantine.py", *(p.name for p in (MILTER / "quarantine").glob("*.py"))]
)
def test_the_quarantine_and_its_cli_do_not_import_the_service(module: str) -> None:
    path = MILTER / module if "/" in module else MILTER / "quarantine" / module
    assert not {m for m in _imports(path) if m.startswith("milter.service")}

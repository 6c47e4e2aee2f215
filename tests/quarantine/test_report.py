"""Reporting a held scam to a reporting desk (milter/quarantine/report.py and
`scam-milter quarantine report`): the message goes whole as a message/rfc822 attachment
through the next hop, once; the entry records who, to whom and when; its status stays."""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from milter.config import Config, ReportSettings, config_from_mapping
from milter.errors import ConfigError
from milter.mail.envelope import ClientInfo, Envelope
from milter.quarantine.report import Reporter, ReportError
from milter.quarantine.store import EntryStateError, QuarantineStore, Status
from milter.scan.verdict import Action, RuleHit, Verdict
from tests.helpers.serve_process import Sink, running_sink

ROOT = Path(__file__).resolve().parents[2]
# A scam as it arrived: 8-bit text, its own Received field, a subject with a control.
RAW = (
    b"Received: from mx.scam.example (mx.scam.example [198.51.100.7])\r\n"
    b"From: Politie <pf.politie@mail.example>\r\n"
    b"Subject: Dagvaarding\x07 nr. 1234\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    b"U wordt verdacht van kinderpornografie. Antwoord binnen 72 uur.\r\n"
)
ENVELOPE = Envelope(
    mail_from="pf.politie@mail.example",
    rcpt_to=("an@example.be",),
    client=ClientInfo(addr="198.51.100.7", helo="mx.scam.example"),
)
VERDICT = Verdict(Action.REJECT, 18.0, (RuleHit("GOVSPOOF_CSAM_ACCUSATION", 4.0, ("kinder",)),))
DESK = "verdacht@safeonweb.example"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[QuarantineStore]:
    with QuarantineStore(tmp_path / "q") as s:
        yield s


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    with running_sink() as found:
        yield found


def report(store: QuarantineStore, entry_id: str, port: int, *, force: bool = False) -> object:
    async def run() -> object:
        config = Config(report=ReportSettings(to=DESK, sender="abuse@example.be"))
        async with Reporter(config, next_hop=("127.0.0.1", port), force=force) as reporter:
            return await reporter.report(store, entry_id, user="marie")

    return asyncio.run(run())


def test_the_scam_goes_whole_as_an_attachment_once(
    store: QuarantineStore, sink: tuple[Sink, int]
) -> None:
    recorder, port = sink
    entry_id = store.put(RAW, ENVELOPE, VERDICT, "Dagvaarding nr. 1234").id
    done = report(store, entry_id, port)
    assert done.to == DESK  # type: ignore[attr-defined]
    (sent,) = recorder.messages
    message = message_from_bytes(sent, policy=policy.default)
    assert message["To"] == DESK and message["From"] == "abuse@example.be"
    assert message["Subject"] == "Scam report: Dagvaarding nr. 1234"
    text, attached = list(message.iter_parts())
    assert "198.51.100.7" in text.get_content() and "GOVSPOOF_CSAM_ACCUSATION" in text.get_content()
    assert attached.get_content_type() == "message/rfc822"
    # Byte for byte: the desk sees the headers as they arrived (smtplib's CRLF aside).
    assert RAW in sent  # the 8-bit attachment, unchanged
    record = store.record(entry_id)
    assert record.entry.status is Status.HELD  # a report changes no status
    (reported,) = record.reports
    assert (reported.user, reported.to) == ("marie", DESK)
    assert reported.reply.startswith("250")
    # Once: a second report is refused and nothing more is sent...
    with pytest.raises(ReportError, match=r"already reported to verdacht@safeonweb\.example"):
        report(store, entry_id, port)
    assert len(recorder.messages) == 1
    # ...unless forced; both are on record, and the record survives a rebuilt index.
    report(store, entry_id, port, force=True)
    assert len(recorder.messages) == 2
    store.rebuild_index()
    assert len(store.record(entry_id).reports) == 2


def test_a_refusing_or_missing_next_hop_records_nothing(store: QuarantineStore) -> None:
    entry_id = store.put(RAW, ENVELOPE, VERDICT, "x").id
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with pytest.raises(ReportError, match="nothing was sent"):
        report(store, entry_id, closed)
    assert store.record(entry_id).reports == ()


def test_a_deleted_message_cannot_be_reported(
    store: QuarantineStore, sink: tuple[Sink, int]
) -> None:
    entry_id = store.put(RAW, ENVELOPE, VERDICT, "x").id
    store.delete(entry_id)
    with pytest.raises(EntryStateError, match="deleted"):
        report(store, entry_id, sink[1])
    assert sink[0].messages == []


def test_no_desk_configured_is_one_clear_error() -> None:
    with pytest.raises(ReportError, match=r"set report\.to in the config"):
        Reporter(Config())


def test_the_report_section_of_the_config(tmp_path: Path) -> None:
    read = config_from_mapping(
        {"report": {"to": DESK, "from": "abuse@example.be"}}, "config.yml", tmp_path
    )
    assert read.report == ReportSettings(to=DESK, sender="abuse@example.be")
    with pytest.raises(ConfigError, match=r"report\.to: not a mail address"):
        config_from_mapping({"report": {"to": "desk at example"}}, "config.yml", tmp_path)
    with pytest.raises(ConfigError, match=r"unknown key"):
        config_from_mapping({"report": {"cc": DESK}}, "config.yml", tmp_path)


def scam_milter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "milter", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_the_cli_reports_and_show_lists_it(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    recorder, port = sink
    with QuarantineStore(tmp_path / "q") as store:
        entry_id = store.put(RAW, ENVELOPE, VERDICT, "Dagvaarding").id
    where = ["--quarantine-dir", str(tmp_path / "q")]
    hop = ["--next-hop", f"127.0.0.1:{port}"]
    done = scam_milter("quarantine", "report", entry_id, "--to", DESK, *hop, *where)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"reported {entry_id} to {DESK} via 127.0.0.1:{port}: 250")
    again = scam_milter("quarantine", "report", entry_id, "--to", DESK, *hop, *where)
    assert again.returncode != 0 and "already reported" in again.stderr
    assert "Traceback" not in again.stderr and len(again.stderr.strip().splitlines()) == 1
    shown = scam_milter("quarantine", "show", entry_id, *where)
    assert "reported  by " in shown.stdout and DESK in shown.stdout
    nowhere = scam_milter("quarantine", "report", entry_id, *hop, *where)
    assert nowhere.returncode != 0 and "set report.to" in nowhere.stderr
    assert len(recorder.messages) == 1
    assert io.BytesIO(recorder.messages[0]).read().count(b"message/rfc822") == 1

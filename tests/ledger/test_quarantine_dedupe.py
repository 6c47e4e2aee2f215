"""Exactly once in the quarantine: a retry of a held message is recognised, a key whose
message never got stored is not, and a broken ledger never costs a message."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import milter.quarantine.store as quarantine
from milter.errors import QuarantineError
from milter.ledger.dedupe import Dedupe
from milter.ledger.store import LEDGER_NAME, Ledger, Outcome
from milter.mail.envelope import ClientInfo, Envelope
from milter.quarantine.store import QuarantineStore
from milter.scan.verdict import Action, RuleHit, Verdict
from milter.smtp.replies import Reply

RAW = (
    b"Received: from mx.example.org by mail.example.net (Postfix) id 4QAAA1; "
    b"Mon, 3 Jun 2024 10:00:00 +0200\r\n"
    b"From: a@example.org\r\nMessage-ID: <1@example.org>\r\nSubject: pay\r\n\r\nbitcoin\r\n"
)
ENVELOPE = Envelope(
    mail_from="a@example.org",
    rcpt_to=("victim@example.net",),
    rcpt_params=((),),
    client=ClientInfo(addr="192.0.2.1"),
)
VERDICT = Verdict(action=Action.QUARANTINE, score=12.0, rules=(RuleHit("SCAM", 12.0, ("x",)),))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[QuarantineStore]:
    with QuarantineStore(tmp_path / "q") as s:
        yield s


@pytest.fixture
def dedupe(store: QuarantineStore) -> Iterator[Dedupe]:
    ledger = Ledger(store.directory / LEDGER_NAME)
    yield Dedupe(ledger, store)
    ledger.close()


def entries(store: QuarantineStore) -> int:
    return len(os.listdir(store.directory / "meta"))


def test_before_commit_sees_a_durable_message_and_no_meta_file(store: QuarantineStore) -> None:
    seen: list[tuple[str, bool, bool]] = []

    def hook(entry_id: str) -> None:
        seen.append(
            (
                entry_id,
                (store.directory / "msg" / f"{entry_id}.eml").read_bytes() == RAW,
                (store.directory / "meta" / f"{entry_id}.json").exists(),
            )
        )

    entry = store.put(RAW, ENVELOPE, VERDICT, "pay", before_commit=hook)
    assert seen == [(entry.id, True, False)]


def test_a_failing_hook_stores_nothing(store: QuarantineStore) -> None:
    def hook(entry_id: str) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.put(RAW, ENVELOPE, VERDICT, "pay", before_commit=hook)
    for sub in ("msg", "meta", "tmp"):
        assert os.listdir(store.directory / sub) == []


def test_retry_of_a_held_message_is_recognised(dedupe: Dedupe, store: QuarantineStore) -> None:
    key = dedupe.key(ENVELOPE, RAW)
    assert dedupe.seen(key) is None
    entry = dedupe.quarantine(key, RAW, ENVELOPE, VERDICT, "pay")
    seen = dedupe.seen(dedupe.key(ENVELOPE, RAW))
    assert seen is not None
    assert seen.outcome is Outcome.QUARANTINED
    assert seen.reply == Reply(250, f"2.0.0 OK: held for review as {entry.id}")
    assert entries(store) == 1


def test_different_envelope_or_body_is_new(dedupe: Dedupe) -> None:
    key = dedupe.key(ENVELOPE, RAW)
    dedupe.quarantine(key, RAW, ENVELOPE, VERDICT, "pay")
    other = Envelope(mail_from="a@example.org", rcpt_to=("other@example.net",))
    assert dedupe.seen(dedupe.key(other, RAW)) is None
    assert dedupe.seen(dedupe.key(ENVELOPE, RAW + b"more\r\n")) is None


def test_key_without_its_message_is_not_a_retry(dedupe: Dedupe, store: QuarantineStore) -> None:
    # A crash between the key's commit and the meta file's: the key is there, the entry
    # is not. Answering 250 would lose the message; it is stored again instead.
    key = dedupe.key(ENVELOPE, RAW)

    def crash(entry_id: str) -> None:
        assert dedupe.ledger is not None
        dedupe.ledger.record(key, Outcome.QUARANTINED, entry_id)
        raise KeyboardInterrupt  # stands for the SIGKILL

    with pytest.raises(KeyboardInterrupt):
        store.put(RAW, ENVELOPE, VERDICT, "pay", before_commit=crash)
    assert dedupe.ledger is not None
    assert dedupe.ledger.lookup(key) is not None
    assert dedupe.seen(key) is None
    dedupe.quarantine(key, RAW, ENVELOPE, VERDICT, "pay")
    assert entries(store) == 1
    assert dedupe.seen(key) is not None


def test_a_key_naming_no_valid_id_is_not_a_retry(dedupe: Dedupe) -> None:
    assert dedupe.ledger is not None
    key = bytes(32)
    dedupe.ledger.record(key, Outcome.QUARANTINED, "../../etc/passwd")
    assert dedupe.seen(key) is None


def test_deleted_entry_still_counts(dedupe: Dedupe, store: QuarantineStore) -> None:
    # The admin already dealt with it: a retry must not bring it back.
    key = dedupe.key(ENVELOPE, RAW)
    entry = dedupe.quarantine(key, RAW, ENVELOPE, VERDICT, "pay")
    store.delete(entry.id)
    assert dedupe.seen(key) is not None


def test_relayed_is_answered_with_the_next_hops_words(dedupe: Dedupe) -> None:
    key = dedupe.key(ENVELOPE, RAW)
    dedupe.relayed(key, Reply(250, "2.0.0 Ok: queued as 4QxYz\nsecond line"))
    seen = dedupe.seen(key)
    assert seen is not None and seen.outcome is Outcome.RELAYED
    assert seen.reply == Reply(250, "2.0.0 OK: delivered before (Ok: queued as 4QxYz)")


def test_broken_ledger_costs_no_message(
    store: QuarantineStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Its directory is open to others: every use fails, loudly but once.
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    dedupe = Dedupe(Ledger(shared / LEDGER_NAME), store)
    key = dedupe.key(ENVELOPE, RAW)
    assert dedupe.seen(key) is None
    dedupe.quarantine(key, RAW, ENVELOPE, VERDICT, "pay")
    dedupe.relayed(key, Reply(250, "ok"))
    assert entries(store) == 1
    assert dedupe.seen(key) is None
    assert len([r for r in caplog.records if "ledger" in r.getMessage()]) == 1


def test_no_ledger_sees_nothing(store: QuarantineStore) -> None:
    dedupe = Dedupe(None, store)
    key = dedupe.key(ENVELOPE, RAW)
    dedupe.quarantine(key, RAW, ENVELOPE, VERDICT, "pay")
    dedupe.relayed(key, Reply(250, "ok"))
    assert dedupe.seen(key) is None
    assert entries(store) == 1


def test_quarantine_failure_after_the_key_still_raises(
    dedupe: Dedupe, store: QuarantineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The meta file cannot be committed (after the key was): 4xx, and no retry is
    # taken for stored.
    real_rename = os.rename

    def rename(src: str, dst: str, **kwargs: object) -> None:
        if str(src).endswith(".json"):
            raise OSError(28, "No space left on device")
        real_rename(src, dst, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(quarantine.os, "rename", rename)
    key = dedupe.key(ENVELOPE, RAW)
    with pytest.raises(QuarantineError, match="No space"):
        dedupe.quarantine(key, RAW, ENVELOPE, VERDICT, "pay")
    monkeypatch.undo()
    assert dedupe.ledger is not None and dedupe.ledger.lookup(key) is not None
    assert dedupe.seen(key) is None
    assert entries(store) == 0


def test_message_without_trace_is_stored_each_time(dedupe: Dedupe, store: QuarantineStore) -> None:
    # Not from Postfix (no Received first): identical bytes may be two messages.
    raw = RAW.split(b"\r\n", 1)[1]
    assert raw.startswith(b"From:")
    key = dedupe.key(ENVELOPE, raw)
    assert key is None
    for _ in range(2):
        assert dedupe.seen(key) is None
        dedupe.quarantine(key, raw, ENVELOPE, VERDICT, "pay")
    assert entries(store) == 2

"""The quarantine store's states: held, released, deleted, expired; their history; the
index that follows the files (rebuild, resync by inode), purge, filters and stats."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import milter.quarantine.index as quarantine_index
import milter.quarantine.store as quarantine
from milter.mail.envelope import ClientInfo, Envelope
from milter.quarantine.schema import EntryFilter
from milter.quarantine.store import (
    TRANSITIONS,
    EntryStateError,
    NoSuchEntry,
    QuarantineStore,
    Status,
    current_user,
)
from milter.scan.verdict import Action, RuleHit, Verdict

RAW = b"From: a@example.org\r\nSubject: pay\r\n\r\nsend bitcoin\r\n"
AUTH = {"spf": {"result": "fail", "domain": "example.org"}, "dmarc": "fail"}


def envelope(sender: str = "Anon@Example.ORG", *rcpts: str) -> Envelope:
    rcpt_to = rcpts or ("victim@example.net",)
    return Envelope(
        mail_from=sender,
        rcpt_to=rcpt_to,
        rcpt_params=tuple(() for _ in rcpt_to),
        client=ClientInfo(addr="192.0.2.1", helo="mx.example.org"),
    )


def verdict(*rules: str, action: Action = Action.QUARANTINE) -> Verdict:
    hits = tuple(RuleHit(r, 5.0 + i, (f"evidence of {r}",)) for i, r in enumerate(rules))
    return Verdict(action=action, score=sum(h.score for h in hits), rules=hits)


@pytest.fixture
def qdir(tmp_path: Path) -> Path:
    return tmp_path / "q"


@pytest.fixture
def store(qdir: Path) -> Iterator[QuarantineStore]:
    with QuarantineStore(qdir) as s:
        yield s


def put(store: QuarantineStore, *rules: str, **kwargs: object) -> str:
    env = kwargs.pop("env", envelope())
    raw = kwargs.pop("raw", RAW)
    action = kwargs.pop("action", Action.QUARANTINE)
    assert not kwargs
    return store.put(raw, env, verdict(*rules or ("RULE_A",), action=action), "pay", auth=AUTH).id


def meta_of(qdir: Path, entry_id: str) -> dict:
    return json.loads((qdir / "meta" / f"{entry_id}.json").read_text())


# --- what is stored ---------------------------------------------------------------------------


def test_put_keeps_rules_with_evidence_auth_and_a_held_event(qdir: Path, store: QuarantineStore):
    entry_id = put(store, "SEXTORT_X", "PAY_BTC")
    meta = meta_of(qdir, entry_id)
    assert meta["verdict"]["rules"][1] == {
        "id": "PAY_BTC",
        "score": 6.0,
        "evidence": ["evidence of PAY_BTC"],
        "tags": [],
    }
    assert meta["auth"] == AUTH
    assert meta["status"] == "held"
    (event,) = meta["events"]
    assert (event["event"], event["user"]) == ("held", current_user())
    record = store.record(entry_id)
    assert record.auth == AUTH
    assert record.entry.status is Status.HELD
    assert record.entry.rules[0]["evidence"] == ["evidence of SEXTORT_X"]
    assert [e.status for e in record.events] == [Status.HELD]
    assert record.envelope.mail_from == "Anon@Example.ORG"  # exact, not lower-cased


def test_auth_that_is_not_json_never_fails_a_put(store: QuarantineStore) -> None:
    # A put that raises means a 4xx for the client: an odd auth value must not cause one.
    entry = store.put(RAW, envelope(), verdict("R"), "s", auth={"when": datetime.now(UTC)})
    assert isinstance(store.record(entry.id).auth["when"], str)


def test_current_user_is_the_effective_users_name() -> None:
    import pwd

    assert current_user() == pwd.getpwuid(os.geteuid()).pw_name


# --- state changes --------------------------------------------------------------------------------


def test_delete_removes_the_message_and_keeps_a_tombstone(qdir: Path, store: QuarantineStore):
    entry_id = put(store)
    entry = store.delete(entry_id, user="alice")
    assert entry.status is Status.DELETED
    assert not (qdir / "msg" / f"{entry_id}.eml").exists()
    meta = meta_of(qdir, entry_id)
    assert meta["status"] == "deleted"
    assert [(e["event"], e["user"]) for e in meta["events"]] == [
        ("held", current_user()),
        ("deleted", "alice"),
    ]
    (listed,) = store.entries(status=Status.DELETED)
    assert listed.id == entry_id
    assert store.entries(status=Status.HELD) == []
    with pytest.raises(EntryStateError, match=r"was deleted at .* by alice; its content is gone"):
        store.raw(entry_id)
    with pytest.raises(EntryStateError, match="was deleted"):
        store.delete(entry_id)
    with pytest.raises(EntryStateError, match="was deleted"), store.claim(entry_id):
        pass


def test_released_entry_records_the_release_and_may_be_released_again(
    qdir: Path, store: QuarantineStore
) -> None:
    entry_id = put(store)
    with store.claim(entry_id) as claim:
        assert claim.raw() == RAW
        claim.commit(Status.RELEASED, user="bob", detail={"to": ["x@example.net"]})
    with store.claim(entry_id) as claim:
        claim.commit(Status.RELEASED, user="carol")
    record = store.record(entry_id)
    assert record.entry.status is Status.RELEASED
    assert record.entry.released is not None
    assert [(e.status.value, e.user) for e in record.events] == [
        ("held", current_user()),
        ("released", "bob"),
        ("released", "carol"),
    ]
    assert record.events[1].detail == {"to": ["x@example.net"]}
    assert store.raw(entry_id) == RAW  # still there after a release
    assert store.entries()[0].status is Status.RELEASED


def test_transition_table_refuses_changes_out_of_a_tombstone() -> None:
    assert TRANSITIONS[Status.DELETED] == frozenset()
    assert TRANSITIONS[Status.EXPIRED] == frozenset()
    assert Status.HELD not in TRANSITIONS[Status.RELEASED]  # nothing goes back to held


def test_a_claim_excludes_a_second_claim(store: QuarantineStore) -> None:
    # flock on the message file: also across processes (see test_quarantine_concurrency).
    entry_id = put(store)
    with (
        store.claim(entry_id),
        pytest.raises(EntryStateError, match="being released or deleted by another"),
    ):
        store.delete(entry_id)
    store.delete(entry_id)  # free again once the first claim ended


def test_unknown_and_crafted_ids(store: QuarantineStore) -> None:
    with pytest.raises(NoSuchEntry, match="no quarantined message has id"):
        store.record("0" * 26)
    with pytest.raises(NoSuchEntry):
        store.delete("0" * 26)
    with pytest.raises(quarantine.QuarantineError, match="is not a quarantine id"):
        store.delete("../../etc/passwd")


def test_changed_meta_files_stay_private(qdir: Path, store: QuarantineStore) -> None:
    a, b = put(store), put(store)
    store.delete(a)
    with store.claim(b) as claim:
        claim.commit(Status.RELEASED)
    for entry_id in (a, b):
        assert stat.S_IMODE(os.stat(qdir / "meta" / f"{entry_id}.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(qdir / "msg" / f"{b}.eml").st_mode) == 0o600
    assert list((qdir / "tmp").iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_root_changing_the_services_store_keeps_its_owner(qdir: Path) -> None:
    # An admin runs the CLI as root on the directory of the service user (nobody here):
    # files root writes must stay the service's, or it could not change them any more.
    import pwd

    nobody = pwd.getpwnam("nobody")
    with QuarantineStore(qdir) as store:
        entry_id = put(store)
    for path in [qdir, *qdir.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    with QuarantineStore(qdir) as store:
        store.delete(entry_id)
    assert os.stat(qdir / "meta" / f"{entry_id}.json").st_uid == nobody.pw_uid


# --- the index follows the files ----------------------------------------------------------------


def test_rebuilt_index_keeps_statuses_and_history(qdir: Path) -> None:
    with QuarantineStore(qdir) as store:
        held, released, deleted = put(store), put(store), put(store)
        with store.claim(released) as claim:
            claim.commit(Status.RELEASED, user="bob")
        store.delete(deleted, user="alice")
    for f in qdir.glob("index.sqlite3*"):
        f.unlink()
    with QuarantineStore(qdir) as store:
        statuses = {e.id: e.status for e in store.entries()}
        assert statuses == {
            held: Status.HELD,
            released: Status.RELEASED,
            deleted: Status.DELETED,
        }
        assert store.rebuild_index() == 3
        assert {e.id: e.status for e in store.entries()} == statuses
    db = sqlite3.connect(qdir / "index.sqlite3")
    rows = db.execute("SELECT id, event, user FROM events ORDER BY id, seq").fetchall()
    db.close()
    assert (deleted, "deleted", "alice") in rows
    assert (released, "released", "bob") in rows
    assert len(rows) == 5


def test_a_change_whose_index_update_was_lost_is_found_by_the_next_open(
    qdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with QuarantineStore(qdir) as store:
        entry_id = put(store)

        def broken(*args: object) -> None:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(quarantine_index, "_index_replace", broken)
        store.delete(entry_id)  # the file changed, the index did not
        monkeypatch.undo()
    db = sqlite3.connect(qdir / "index.sqlite3")
    assert db.execute("SELECT status FROM entries").fetchall() == [("held",)]
    db.close()
    # Another process opening the store compares inode numbers and re-reads the file.
    with QuarantineStore(qdir) as store:
        (entry,) = store.entries()
        assert entry.status is Status.DELETED


def test_the_clis_quick_open_finds_a_lost_change_by_its_marker(
    qdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with QuarantineStore(qdir) as store:
        entry_id, other = put(store), put(store)

        def broken(*args: object) -> None:
            raise sqlite3.OperationalError("database is locked")

        monkeypatch.setattr(quarantine_index, "_index_replace", broken)
        store.delete(entry_id)
        monkeypatch.undo()
    assert (qdir / "tmp" / f"{entry_id}.sync").exists()  # the change's marker stayed
    with QuarantineStore(qdir, full_sync=False) as store:
        assert {e.id: e.status for e in store.entries()} == {
            entry_id: Status.DELETED,
            other: Status.HELD,
        }
    assert list((qdir / "tmp").iterdir()) == []


def test_the_clis_quick_open_finds_a_put_whose_insert_was_lost(qdir: Path) -> None:
    with QuarantineStore(qdir) as store:
        kept, lost = put(store), put(store)
    db = sqlite3.connect(qdir / "index.sqlite3")
    db.execute("DELETE FROM entries WHERE id = ?", (lost,))  # as if it crashed before
    db.commit()
    db.close()
    with QuarantineStore(qdir, full_sync=False) as store:
        assert {e.id for e in store.entries()} == {kept, lost}


def test_a_marker_of_a_change_in_flight_is_left_to_its_owner(qdir: Path) -> None:
    # Another process is between its marker and its index update: not ours to clear.
    with QuarantineStore(qdir) as store:
        entry_id = put(store)
        marker = qdir / "tmp" / f"{entry_id}.sync"
        with store.claim(entry_id):
            marker.touch()
            with QuarantineStore(qdir, full_sync=False):
                assert marker.exists()
        with QuarantineStore(qdir, full_sync=False):
            assert not marker.exists()


def test_an_index_of_the_previous_schema_is_rebuilt(qdir: Path) -> None:
    with QuarantineStore(qdir) as store:
        entry_id = put(store)
    for f in qdir.glob("index.sqlite3*"):
        f.unlink()
    db = sqlite3.connect(qdir / "index.sqlite3")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("CREATE TABLE entries (id TEXT PRIMARY KEY)")
    db.commit()
    db.close()
    with QuarantineStore(qdir) as store:
        assert [e.id for e in store.entries()] == [entry_id]


def test_meta_files_from_before_statuses_read_as_held(qdir: Path) -> None:
    with QuarantineStore(qdir) as store:
        entry_id = put(store)
    path = qdir / "meta" / f"{entry_id}.json"
    meta = json.loads(path.read_text())
    for key in ("status", "events", "auth"):
        del meta[key]
    path.write_text(json.dumps(meta))
    with QuarantineStore(qdir) as store:
        store.rebuild_index()
        (entry,) = store.entries()
        assert entry.status is Status.HELD
        store.delete(entry_id)  # and it can change state like any other
        assert [e.status for e in store.record(entry_id).events] == [
            Status.HELD,
            Status.DELETED,
        ]


# --- purge ----------------------------------------------------------------------------------------


def test_purge_expires_old_messages_then_forgets_their_records(
    qdir: Path, store: QuarantineStore
) -> None:
    old, deleted = put(store), put(store)
    store.delete(deleted)
    now = datetime.now(UTC)
    # Nothing is older than 30 days yet.
    result = store.purge(timedelta(days=30), now=now)
    assert (result.expired, result.forgotten) == (0, 0)
    assert {e.id for e in store.entries()} == {old, deleted}

    # 31 days on: the held one expires (its record stays, as a tombstone), and the record
    # of the deletion, now 31 days old, is forgotten.
    later = now + timedelta(days=31)
    result = store.purge(timedelta(days=30), now=later)
    assert (result.expired, result.forgotten) == (1, 1)
    assert not (qdir / "msg" / f"{old}.eml").exists()
    assert store.record(old).entry.status is Status.EXPIRED
    assert store.record(old).events[-1].detail == {"older_than": "30d"}
    assert [e.id for e in store.entries()] == [old]

    # A record without a message is kept for the retention after its last change.
    result = store.purge(timedelta(days=30), now=later + timedelta(days=31))
    assert result.forgotten == 1
    assert store.entries() == []
    assert list((qdir / "meta").iterdir()) == []
    with pytest.raises(NoSuchEntry):
        store.record(old)


def test_purge_skips_a_message_being_released(store: QuarantineStore) -> None:
    entry_id = put(store)
    later = datetime.now(UTC) + timedelta(days=2)
    with store.claim(entry_id):
        result = store.purge(timedelta(days=1), now=later)
    assert (result.expired, result.busy) == (0, 1)
    assert store.purge(timedelta(days=1), now=later).expired == 1


def test_purge_removes_stray_message_files_only_when_old(qdir: Path, store: QuarantineStore):
    # A crash between the message and its meta file (put), or after a tombstone.
    stray_old = qdir / "msg" / f"{'1' * 26}.eml"
    stray_young = qdir / "msg" / f"{'2' * 26}.eml"  # maybe a put in flight
    stray_old.write_bytes(b"x")
    stray_young.write_bytes(b"y")
    os.utime(stray_old, (0, 0))
    deleted = put(store)
    store.delete(deleted)
    leftover = qdir / "msg" / f"{deleted}.eml"
    leftover.write_bytes(RAW)  # as if the unlink after the tombstone never happened
    kept = put(store)
    result = store.purge(timedelta(days=365))
    assert result.orphans == 2
    assert not stray_old.exists() and not leftover.exists()
    assert stray_young.exists()
    assert store.raw(kept) == RAW


def test_negative_retention_is_refused(store: QuarantineStore) -> None:
    with pytest.raises(ValueError):
        store.purge(timedelta(days=-1))


# --- filters and stats ---------------------------------------------------------------------------


def test_list_filters(store: QuarantineStore) -> None:
    a = put(store, "SEXTORT_A", "PAY_BTC", env=envelope("x@Scam.example", "Bob@Corp.example"))
    b = put(store, "GOV_POLICE", env=envelope("", "alice@corp.example", "eve@other.example"))
    c = put(store, "SEXTORT_B", env=envelope("y@else.example"), action=Action.REJECT)
    store.delete(c)

    def ids(**kwargs: object) -> set[str]:
        return {e.id for e in store.entries(**kwargs)}

    assert ids(rule="PAY_BTC") == {a}
    assert ids(rule="pay_btc") == {a}  # rule ids are matched case-insensitively
    assert ids(rule="SEXTORT_*") == {a, c}
    assert ids(rule="SEXTORT") == set()
    assert ids(sender="X@scam.EXAMPLE") == {a}
    assert ids(sender="@scam.example") == {a}
    assert ids(sender="<>") == {b}  # the null sender
    assert ids(rcpt="bob@corp.example") == {a}
    assert ids(rcpt="@corp.example") == {a, b}
    assert ids(rcpt="@other.example") == {b}
    assert ids(action="reject") == {c}
    assert ids(status=Status.HELD) == {a, b}
    now = datetime.now(UTC)
    assert ids(since=now - timedelta(minutes=5), until=now + timedelta(minutes=5)) == {a, b, c}
    assert ids(until=now - timedelta(minutes=5)) == set()
    assert ids(rule="PAY_BTC", status=Status.DELETED) == set()


def test_entry_filter_where_clause() -> None:
    # One clause per filter given, ANDed, each with its parameter; no filter, no WHERE.
    assert EntryFilter().where() == ("", [])
    where, params = EntryFilter(sender="<>", rcpt="@Corp.example", status=Status.HELD).where()
    assert where == (
        " WHERE sender_lc = ? AND id IN (SELECT id FROM entry_rcpts WHERE domain = ?)"
        " AND status = ?"
    )
    assert params == ["", "corp.example", "held"]
    with pytest.raises(ValueError, match="aware datetimes"):
        EntryFilter(since=datetime(2024, 1, 1)).where()


def test_store_entries_takes_the_entry_filter_fields_in_order() -> None:
    # QuarantineStore.entries builds its EntryFilter by position.
    parameters = list(inspect.signature(QuarantineStore.entries).parameters)
    assert parameters == ["self", "limit", *(f.name for f in dataclasses.fields(EntryFilter))]


def test_stats_count_by_action_status_and_rule(store: QuarantineStore) -> None:
    put(store, "SEXTORT_A", "PAY_BTC")
    put(store, "PAY_BTC")
    c = put(store, "GOV_POLICE", action=Action.REJECT)
    store.delete(c)
    stats = store.stats(since=datetime.now(UTC) - timedelta(days=7))
    assert stats.total == 3
    assert stats.by_action == {"quarantine": 2, "reject": 1}
    assert stats.by_status == {"held": 2, "deleted": 1}
    assert stats.by_rule == (("PAY_BTC", 2), ("GOV_POLICE", 1), ("SEXTORT_A", 1))
    assert stats.events == {"held": 3, "deleted": 1}
    assert store.stats(since=datetime.now(UTC) + timedelta(hours=1)).total == 0

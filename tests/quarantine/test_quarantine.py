"""The quarantine store: exact bytes, private files, safe ids, durable writes, index, CLI."""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

import milter.quarantine.files as quarantine_files
from milter.cli.quarantine import add_quarantine_commands, run_quarantine
from milter.errors import QuarantineError
from milter.mail.envelope import ClientInfo, Envelope
from milter.quarantine.store import QuarantineEntry, QuarantineStore, is_valid_id, new_id
from milter.scan.verdict import Action, RuleHit, Verdict

# 8-bit body, CRLF line ends, a bare LF and a trailing space: all must survive unchanged.
RAW = (
    b"From: Anon <anon@example.org>\r\n"
    b"To: victim@example.net\r\n"
    b"Subject: =?utf-8?q?Je_g=C3=A9heim?=\r\n"
    b"Content-Type: text/plain; charset=latin-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"J'ai pirat\xe9 votre appareil. Payez 1300 \x80 en bitcoin.\r\n"
    b"bare lf\nend \r\n"
)

ENVELOPE = Envelope(
    mail_from="anon@example.org",
    rcpt_to=("victim@example.net", "other@example.net"),
    mail_params=(("SIZE", "1234"), ("BODY", "8BITMIME"), ("ENVID", "QuEuE-1")),
    rcpt_params=((("NOTIFY", "NEVER"),), (("ORCPT", "rfc822;Other@example.net"),)),
    client=ClientInfo(name="mx.example.org", addr="192.0.2.7", helo="mx.example.org"),
)

T = TypeVar("T")

VERDICT = Verdict(
    action=Action.REJECT,
    score=17.5,
    rules=(
        RuleHit("SEXTORT_DEVICE_HACKED", 9.0, ("piraté votre appareil",), ("sextortion",)),
        RuleHit("PAY_BTC", 8.5, ("bitcoin",)),
    ),
)


def put(store: QuarantineStore, subject: str = "Je géheim", raw: bytes = RAW) -> QuarantineEntry:
    return store.put(raw, ENVELOPE, VERDICT, subject)


def files(directory: Path) -> set[str]:
    return {
        str(p.relative_to(directory))
        for sub in ("tmp", "msg", "meta")
        for p in (directory / sub).iterdir()
    }


@pytest.fixture
def qdir(tmp_path: Path) -> Path:
    return tmp_path / "quarantine"


@pytest.fixture
def store(qdir: Path) -> Iterator[QuarantineStore]:
    with QuarantineStore(qdir) as s:
        yield s


# --- round trip ---------------------------------------------------------------------------


def test_put_then_get_returns_identical_bytes_and_metadata(store: QuarantineStore) -> None:
    entry = put(store)
    got, raw = store.get(entry.id)
    assert raw == RAW
    assert got == entry
    assert entry.mail_from == "anon@example.org"
    assert entry.recipients == ("victim@example.net", "other@example.net")
    assert (entry.client_addr, entry.client_helo, entry.client_name) == (
        "192.0.2.7",
        "mx.example.org",
        "mx.example.org",
    )
    assert entry.subject == "Je géheim"
    assert entry.score == 17.5
    assert entry.action == "reject"  # what the verdict said, even though it was held
    assert entry.rules[0] == {
        "id": "SEXTORT_DEVICE_HACKED",
        "score": 9.0,
        "evidence": ["piraté votre appareil"],
    }
    assert entry.size == len(RAW)
    assert entry.released is None
    assert entry.time.tzinfo is not None
    assert abs(entry.time - datetime.now(UTC)) < timedelta(minutes=1)


def test_list_returns_what_was_put_newest_first(store: QuarantineStore) -> None:
    ids = [put(store, subject=f"s{i}").id for i in range(5)]
    listed = store.entries()
    assert {e.id for e in listed} == set(ids)
    # By time; ids agree to the millisecond (their prefix), not within one.
    assert [e.time for e in listed] == sorted((e.time for e in listed), reverse=True)
    assert [e.id[:10] for e in listed] == sorted((i[:10] for i in ids), reverse=True)
    assert listed[0] == store.get(listed[0].id)[0]
    assert [e.id for e in store.entries(limit=2)] == [e.id for e in listed[:2]]
    assert store.entries(limit=0) == []
    assert store.entries(since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert len(store.entries(since=datetime.now(UTC) - timedelta(hours=1))) == 5


def test_meta_file_keeps_the_exact_envelope_and_verdict(qdir: Path, store: QuarantineStore) -> None:
    entry = put(store)
    meta = json.loads((qdir / "meta" / f"{entry.id}.json").read_text())
    params = [["SIZE", "1234"], ["BODY", "8BITMIME"], ["ENVID", "QuEuE-1"]]
    assert meta["envelope"]["mail_params"] == params
    assert meta["envelope"]["rcpt_params"][1] == [["ORCPT", "rfc822;Other@example.net"]]
    assert meta["client"]["addr"] == "192.0.2.7"
    assert meta["verdict"]["rules"][0]["tags"] == ["sextortion"]
    assert (qdir / "msg" / f"{entry.id}.eml").read_bytes() == RAW


def test_undecodable_subject_is_stored_and_listed(store: QuarantineStore) -> None:
    # A header decoded with surrogateescape carries lone surrogates; SQLite refuses them.
    entry = put(store, subject="caf\udce9")
    assert store.entries()[0].id == entry.id
    assert entry.subject == "caf?"


# --- permissions and ids -------------------------------------------------------------------


def test_directories_are_0700_and_files_0600(qdir: Path, store: QuarantineStore) -> None:
    entry = put(store)
    for d in (qdir, qdir / "tmp", qdir / "msg", qdir / "meta"):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    for f in (qdir / "msg" / f"{entry.id}.eml", qdir / "meta" / f"{entry.id}.json"):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    for f in qdir.glob("index.sqlite3*"):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f


def test_directory_writable_by_others_is_refused(qdir: Path) -> None:
    qdir.mkdir(mode=0o700)
    os.chmod(qdir, 0o777)
    with pytest.raises(QuarantineError, match="writable by group or others"):
        QuarantineStore(qdir)


def test_symlinked_subdirectory_is_refused(qdir: Path, tmp_path: Path) -> None:
    qdir.mkdir(mode=0o700)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (qdir / "msg").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(QuarantineError, match="not a directory"):
        QuarantineStore(qdir)


def test_missing_directory_is_an_error_without_create(qdir: Path) -> None:
    with pytest.raises(QuarantineError, match="does not exist"):
        QuarantineStore(qdir, create=False)
    assert not qdir.exists()


@pytest.mark.parametrize("missing", ["", "msg"])
def test_directory_that_cannot_be_made_is_an_error(
    qdir: Path, missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The top directory and each subdirectory are made when missing; a failure names
    # the directory and the reason, and is a QuarantineError, not an OSError.
    if missing:
        QuarantineStore(qdir).close()
        (qdir / missing).rmdir()

    def refuse(path: Path) -> bool:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(quarantine_files, "mkdir_private", refuse)
    with pytest.raises(QuarantineError) as caught:
        QuarantineStore(qdir)
    assert str(caught.value) == (
        f"cannot create quarantine directory {qdir / missing if missing else qdir}:"
        " No space left on device."
    )


def test_ids_are_fixed_length_lowercase_alphanumerics(store: QuarantineStore) -> None:
    ids = [put(store).id for _ in range(20)]
    ids += [new_id(datetime.now(UTC)) for _ in range(1000)]
    assert len(set(ids)) == len(ids)
    for entry_id in ids:
        assert len(entry_id) == 26
        assert is_valid_id(entry_id)
        assert "/" not in entry_id and ".." not in entry_id


def test_ids_sort_by_time() -> None:
    early = new_id(datetime(2024, 1, 1, tzinfo=UTC))
    late = new_id(datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert early < late


@pytest.mark.parametrize(
    "crafted",
    [
        "../../../../etc/passwd",
        "..",
        "",
        "a/b",
        "0" * 25 + "/",
        "0" * 26 + "\n",
        "0" * 27,
        "0" * 25 + "A",
        "/etc/passwd",
        "0" * 24 + "..",
    ],
)
def test_crafted_ids_are_refused_before_any_file_access(
    store: QuarantineStore, crafted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_open(*args: object, **kwargs: object) -> int:
        raise AssertionError("a crafted id reached os.open")

    monkeypatch.setattr(os, "open", no_open)
    with pytest.raises(QuarantineError, match="is not a quarantine id"):
        store.get(crafted)


def test_unknown_id_is_a_clear_error(store: QuarantineStore) -> None:
    with pytest.raises(QuarantineError, match="no quarantined message has id"):
        store.get("0" * 26)


def test_altered_message_file_is_refused(qdir: Path, store: QuarantineStore) -> None:
    entry = put(store)
    (qdir / "msg" / f"{entry.id}.eml").write_bytes(RAW[:-10])
    with pytest.raises(QuarantineError, match="checksum"):
        store.get(entry.id)


# --- concurrency -----------------------------------------------------------------------------


def test_concurrent_puts_from_eight_threads_are_all_listed(store: QuarantineStore) -> None:
    per_thread = 10
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        start.wait()
        try:
            for i in range(per_thread):
                raw = RAW + f"thread {n} message {i}\r\n".encode()
                results.append(put(store, raw=raw).id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 8 * per_thread
    assert {e.id for e in store.entries()} == set(results)
    for entry_id in results[:5]:
        assert store.get(entry_id)[1].startswith(RAW)


def test_two_instances_share_one_directory(qdir: Path) -> None:
    # Several processes on one host may use the same quarantine (DESIGN.md).
    stores: list[QuarantineStore] = []
    start = threading.Barrier(2)

    def open_store() -> None:
        start.wait()
        stores.append(QuarantineStore(qdir))

    threads = [threading.Thread(target=open_store) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stores) == 2
    a, b = stores
    ids = {put(a).id, put(b).id}
    assert {e.id for e in a.entries()} == {e.id for e in b.entries()} == ids
    a.close()
    b.close()
    assert not (qdir / "index.sqlite3.corrupt").exists()


# --- the index is derived from the files -------------------------------------------------------


def test_deleted_index_is_rebuilt_from_files(qdir: Path) -> None:
    with QuarantineStore(qdir) as store:
        ids = {put(store).id for _ in range(3)}
    for f in qdir.glob("index.sqlite3*"):
        f.unlink()
    with QuarantineStore(qdir) as store:
        assert {e.id for e in store.entries()} == ids


def test_corrupt_index_is_rebuilt_from_files(qdir: Path) -> None:
    with QuarantineStore(qdir) as store:
        ids = {put(store).id for _ in range(3)}
    for f in qdir.glob("index.sqlite3*"):
        f.unlink()
    (qdir / "index.sqlite3").write_bytes(b"this is not an sqlite database" * 200)
    with QuarantineStore(qdir) as store:
        assert {e.id for e in store.entries()} == ids
    assert (qdir / "index.sqlite3.corrupt").exists()


def test_rebuild_index_returns_the_count(store: QuarantineStore) -> None:
    for _ in range(4):
        put(store)
    assert store.rebuild_index() == 4
    assert len(store.entries()) == 4


def test_start_resyncs_entries_the_index_missed(qdir: Path) -> None:
    # A crash between the durable files and the index insert: the entry must still show.
    with QuarantineStore(qdir) as store:
        kept = put(store)
        lost = put(store)
        gone = put(store)
    db = sqlite3.connect(qdir / "index.sqlite3")
    db.execute("DELETE FROM entries WHERE id = ?", (lost.id,))
    db.commit()
    db.close()
    (qdir / "meta" / f"{gone.id}.json").unlink()  # removed by hand
    with QuarantineStore(qdir) as store:
        assert {e.id for e in store.entries()} == {kept.id, lost.id}


def test_schema_version_is_recorded(qdir: Path, store: QuarantineStore) -> None:
    db = sqlite3.connect(qdir / "index.sqlite3")
    # 2 since statuses and their history are indexed (an older index is rebuilt).
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_newer_index_schema_is_refused_not_downgraded(qdir: Path) -> None:
    QuarantineStore(qdir).close()
    db = sqlite3.connect(qdir / "index.sqlite3")
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(QuarantineError, match="schema version 99"):
        QuarantineStore(qdir)


def test_stale_temp_files_are_removed_at_start(qdir: Path) -> None:
    QuarantineStore(qdir).close()
    stale = qdir / "tmp" / f"{'0' * 26}.eml"
    stale.write_bytes(b"half a message")
    os.utime(stale, (0, 0))
    fresh = qdir / "tmp" / f"{'1' * 26}.eml"
    fresh.write_bytes(b"being written by another instance")
    QuarantineStore(qdir).close()
    assert not stale.exists()
    assert fresh.exists()


# --- failures: 4xx and nothing left behind, or stored and said so ---------------------------


def _failing_after(real: Callable[..., T], calls: int, err: int) -> Callable[..., T]:
    count = {"n": 0}

    def fake(*args: Any, **kwargs: Any) -> T:
        count["n"] += 1
        if count["n"] > calls:
            raise OSError(err, os.strerror(err))
        return real(*args, **kwargs)

    return fake


def test_disk_full_while_writing_raises_and_leaves_nothing(
    qdir: Path, store: QuarantineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "write", _failing_after(os.write, 0, errno.ENOSPC))
    with pytest.raises(QuarantineError, match="No space left on device"):
        put(store)
    monkeypatch.undo()
    assert files(qdir) == set()
    assert store.entries() == []


@pytest.mark.parametrize("fsync_ok", range(4))  # message, meta, msg dir, meta dir
def test_failed_fsync_at_any_step_raises_and_leaves_nothing(
    qdir: Path, store: QuarantineStore, monkeypatch: pytest.MonkeyPatch, fsync_ok: int
) -> None:
    monkeypatch.setattr(os, "fsync", _failing_after(os.fsync, fsync_ok, errno.EIO))
    with pytest.raises(QuarantineError, match="cannot store message in quarantine"):
        put(store)
    monkeypatch.undo()
    assert files(qdir) == set()
    assert store.entries() == []
    # And the store still works afterwards.
    entry = put(store)
    assert store.get(entry.id)[1] == RAW


@pytest.mark.parametrize("renames_ok", range(2))
def test_failed_rename_raises_and_leaves_nothing(
    qdir: Path, store: QuarantineStore, monkeypatch: pytest.MonkeyPatch, renames_ok: int
) -> None:
    monkeypatch.setattr(os, "rename", _failing_after(os.rename, renames_ok, errno.EACCES))
    with pytest.raises(QuarantineError, match="Permission denied"):
        put(store)
    monkeypatch.undo()
    assert files(qdir) == set()


def test_index_failure_after_durable_files_still_stores(
    qdir: Path, store: QuarantineStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store._index._db
    assert real is not None

    class Broken:
        def execute(self, *args: object) -> None:
            raise sqlite3.OperationalError("database is locked")

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    monkeypatch.setattr(store._index, "_db", Broken())
    entry = put(store)  # no exception: the files are the truth
    assert (qdir / "meta" / f"{entry.id}.json").exists()
    monkeypatch.undo()
    # The next call resyncs the index from the files.
    assert [e.id for e in store.entries()] == [entry.id]


def test_closed_store_refuses_work(store: QuarantineStore) -> None:
    store.close()
    store.close()
    with pytest.raises(QuarantineError, match="closed"):
        put(store)
    with pytest.raises(QuarantineError, match="closed"):
        store.entries()


# --- CLI ---------------------------------------------------------------------------------------


def _run(argv: list[str]) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="scam-milter")
    add_quarantine_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    code = run_quarantine(args, out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_list_json_one_object_a_line(qdir: Path, store: QuarantineStore) -> None:
    first = put(store, subject="first")
    second = put(store, subject="second \x1b[31m red")
    code, out, _ = _run(["quarantine", "list", "--json", "--quarantine-dir", str(qdir)])
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    objects = [json.loads(line) for line in lines]
    assert [o["id"] for o in objects] == [second.id, first.id]
    top = objects[0]
    assert top["sender"] == "anon@example.org"
    assert top["recipients"] == ["victim@example.net", "other@example.net"]
    assert top["subject"] == "second \x1b[31m red"
    assert top["score"] == 17.5
    assert top["rules"] == [
        {"id": "SEXTORT_DEVICE_HACKED", "score": 9.0},
        {"id": "PAY_BTC", "score": 8.5},
    ]
    assert datetime.fromisoformat(top["time"]).tzinfo is not None
    assert top["time"].endswith("Z")
    assert "\x1b" not in out  # escaped in the JSON text


def test_cli_list_limit(qdir: Path, store: QuarantineStore) -> None:
    for _ in range(3):
        put(store)
    _, out, _ = _run(
        ["quarantine", "list", "--json", "--limit", "2", "--quarantine-dir", str(qdir)]
    )
    assert len(out.splitlines()) == 2


def test_cli_list_table_is_aligned_and_escapes_control_characters(
    qdir: Path, store: QuarantineStore
) -> None:
    put(store, subject="hello")
    put(store, subject="evil \x1b]0;owned\x07 \u202etxt.exe")
    code, out, _ = _run(["quarantine", "list", "--quarantine-dir", str(qdir)])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("ID")
    assert len(lines) == 3
    column = lines[0].index("SUBJECT")
    assert all(line[column - 2 : column] == "  " for line in lines)
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b" in out and "\\u202e" in out


def test_cli_missing_directory_raises_quarantine_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(QuarantineError, match="does not exist"):
        _run(["quarantine", "list", "--quarantine-dir", str(missing)])
    assert not missing.exists()


@pytest.mark.parametrize("bad", ["0", "-1", "x"])
def test_cli_bad_limit_is_usage_error(qdir: Path, bad: str) -> None:
    with pytest.raises(SystemExit) as exc:
        _run(["quarantine", "list", "--limit", bad, "--quarantine-dir", str(qdir)])
    assert exc.value.code == 2

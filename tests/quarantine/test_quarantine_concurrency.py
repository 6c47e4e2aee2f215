"""Several processes on one quarantine at once: two writers (as two `serve` processes
would put held mail) and the admin's CLI listing, reading, deleting and purging, for a
few seconds. Nothing may be lost, broken, or left half-written."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from milter.quarantine.store import EntryStateError, QuarantineStore, Status

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 4.0

# A writer: QuarantineStore.put in a loop, as the proxy calls it for every held message.
# Prints "<id> <sha256>" per stored message; the messages vary in size and hold NUL
# bytes and bare LFs.
WRITER = """
import hashlib, sys, time
from pathlib import Path
from milter.mail.envelope import ClientInfo, Envelope
from milter.quarantine.store import QuarantineStore
from milter.scan.verdict import Action, RuleHit, Verdict

directory, name, seconds = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
verdict = Verdict(Action.QUARANTINE, 12.0, (RuleHit("RACE_RULE", 12.0, ("race",)),))
envelope = Envelope(
    mail_from=f"{name}@example.org",
    rcpt_to=("victim@example.net",),
    rcpt_params=((),),
    client=ClientInfo(addr="192.0.2.9"),
)
with QuarantineStore(directory) as store:
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        raw = (
            f"From: {name}@example.org\\r\\nSubject: {name} {n}\\r\\n\\r\\n".encode()
            + bytes([n % 256]) * (n * 37 % 5000)
            + b"\\nbare lf\\x00nul\\r\\nend"
        )
        entry = store.put(raw, envelope, verdict, f"{name} {n}")
        print(entry.id, hashlib.sha256(raw).hexdigest(), flush=True)
        n += 1
"""

# The admin: the CLI's entry point in a loop (list, show, show --raw, delete, stats,
# purge). Prints "deleted <id>" for what it deleted, "ERROR …" for anything wrong.
ADMIN = """
import io, json, random, sys, time
from milter.cli.main import main

directory, seconds = sys.argv[1], float(sys.argv[2])

def run(*argv):
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = main(["quarantine", *argv, "--quarantine-dir", directory])
    finally:
        sys.stdout, sys.stderr = saved
    out.flush()
    return code, out.buffer.getvalue(), err.getvalue()

deadline = time.monotonic() + seconds
rounds = 0
while time.monotonic() < deadline:
    code, out, err = run("list", "--json", "--limit", "all")
    if code == 2 and "does not exist" in err:
        time.sleep(0.01)  # the writers have not made the store yet
        continue
    if code != 0:
        print("ERROR list", code, err, flush=True)
        break
    held = []
    for line in out.decode().splitlines():
        entry = json.loads(line)
        if entry["status"] == "held":
            held.append(entry["id"])
    for entry_id in random.sample(held, min(3, len(held))):
        code, raw, err = run("show", "--raw", entry_id)
        if code == 1 and "was deleted" in err:
            continue
        if code != 0 or not raw.startswith(b"From: ") or not raw.endswith(b"\\r\\nend"):
            print("ERROR show --raw", entry_id, code, err, raw[:40], flush=True)
        code, text, err = run("show", entry_id)
        if code != 0 or b"RACE_RULE +12" not in text:
            print("ERROR show", entry_id, code, err, flush=True)
    if held and rounds % 2 == 0:
        victim = random.choice(held)
        code, out, err = run("delete", victim)
        if code == 0:
            print("deleted", victim, flush=True)
        else:
            print("ERROR delete", victim, code, err, flush=True)
    for command in (["stats", "--json"], ["purge", "--older-than", "3650d"]):
        code, out, err = run(*command)
        if code != 0:
            print("ERROR", command, code, err, flush=True)
    rounds += 1
print("rounds", rounds, flush=True)
"""


def python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_writers_and_the_cli_at_once_lose_and_break_nothing(tmp_path: Path) -> None:
    qdir = tmp_path / "q"  # made by whichever process comes first
    writers = [python(WRITER, str(qdir), name, str(SECONDS)) for name in ("one", "two")]
    admin = python(ADMIN, str(qdir), str(SECONDS + 0.5))
    # And the real command, as a separate process, while all that runs.
    listings = []
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline and len(listings) < 2:
        if (qdir / "meta").is_dir():
            result = subprocess.run(
                [
                    *(sys.executable, "-m", "milter.cli", "quarantine", "list", "--json"),
                    *("--limit", "all", "--quarantine-dir", str(qdir)),
                ],
                cwd=ROOT,
                env=dict(os.environ, PYTHONPATH=str(ROOT)),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.returncode == 0, result.stderr
            listings.append([json.loads(line) for line in result.stdout.splitlines()])
        time.sleep(0.2)

    stored: dict[str, str] = {}
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        lines = out.splitlines()
        assert len(lines) >= 10, "a writer stored too little to mean anything"
        stored.update(line.split() for line in lines)
    out, err = admin.communicate(timeout=120)
    assert admin.returncode == 0, err
    assert "ERROR" not in out, out
    assert "rounds" in out
    deleted = {line.split()[1] for line in out.splitlines() if line.startswith("deleted ")}
    assert deleted, "the admin deleted nothing while the writers ran"
    assert listings and all(e["id"] in stored for listing in listings for e in listing)

    with QuarantineStore(qdir, create=False) as store:
        listed = {e.id: e for e in store.entries()}
        # Nothing lost, nothing extra, every status as the admin left it.
        assert listed.keys() == stored.keys()
        assert {i for i, e in listed.items() if e.status is Status.DELETED} == deleted
        assert all(e.status is Status.HELD for i, e in listed.items() if i not in deleted)
        # Nothing broken: every held message is intact, byte for byte.
        for entry_id, sha in stored.items():
            if entry_id not in deleted:
                assert hashlib.sha256(store.raw(entry_id)).hexdigest() == sha
        # The index is what a rebuild from the files gives.
        before = store.entries()
        assert store.rebuild_index() == len(stored)
        assert store.entries() == before
    assert list((qdir / "tmp").iterdir()) == []
    assert len(list((qdir / "meta").iterdir())) == len(stored)
    assert len(list((qdir / "msg").iterdir())) == len(stored) - len(deleted)
    db = sqlite3.connect(qdir / "index.sqlite3")
    events = dict(db.execute("SELECT event, count(*) FROM events GROUP BY event").fetchall())
    db.close()
    assert events == {"held": len(stored), "deleted": len(deleted)}


HOLDER = """
import sys, time
from pathlib import Path
from milter.quarantine.store import QuarantineStore

with QuarantineStore(Path(sys.argv[1])) as store, store.claim(sys.argv[2]):
    print("claimed", flush=True)
    sys.stdin.readline()
"""


def test_a_claim_in_one_process_blocks_changes_from_another(tmp_path: Path) -> None:
    # The lock that makes a release happen once: held across processes, gone with them.
    qdir = tmp_path / "q"
    with QuarantineStore(qdir) as store:
        from milter.mail.envelope import Envelope
        from milter.scan.verdict import Action, Verdict

        entry_id = store.put(
            b"Subject: x\r\n\r\nx\r\n",
            Envelope(mail_from="a@example.org", rcpt_to=("b@example.net",)),
            Verdict(Action.QUARANTINE, 10.0, ()),
            "x",
        ).id
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(qdir), entry_id],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "claimed\n"
            with pytest.raises(EntryStateError, match="by another process"):
                store.delete(entry_id)
        finally:
            holder.communicate("\n", timeout=30)
        store.delete(entry_id)
        assert store.record(entry_id).entry.status is Status.DELETED

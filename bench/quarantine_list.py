"""`scam-milter quarantine list` on a store of 100,000 entries: time per call.

    python bench/quarantine_list.py [--entries N] [--calls N] [--dir DIR]

Builds a store of N held messages (default 100,000) spread over 90 days, with 1 to 3 of
30 rules each, senders from 2,000 domains, and some released and deleted. Then times the
CLI's own entry point, ``milter.cli.main.main(["quarantine", "list", ...])``, as an admin
runs it: each call opens the store (which resyncs the index with the meta files: one
directory listing and one query, no per-file stat), queries, formats and prints. Output
goes to /dev/null. Reported as milliseconds per call (median, best, worst).

How the store is built fast: ``put`` fsyncs four times per message (what makes a 250
safe), which would take an hour for 100,000. Here the message and meta files are written
in the store's own format (``milter.quarantine.records.build_meta``) without fsync, and the index is
built by the store itself, with ``rebuild_index`` (the recovery path, reading every
meta file). ``--dir`` keeps the store, to time again without building it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from milter.cli.main import main  # noqa: E402
from milter.mail.envelope import ClientInfo, Envelope  # noqa: E402
from milter.quarantine import records  # noqa: E402
from milter.quarantine.store import QuarantineStore, Status, new_id  # noqa: E402
from milter.scan.verdict import Action, RuleHit, Verdict  # noqa: E402

RULES = [f"SEXTORT_RULE_{i:02d}" for i in range(20)] + [f"GOV_RULE_{i:02d}" for i in range(10)]
RAW = (
    b"From: Anon <anon@example.org>\r\nTo: victim@example.net\r\nSubject: I recorded you\r\n"
    b"\r\nI hacked your device. Pay 1300 EUR in bitcoin within 48 hours.\r\n"
)


def build(directory: Path, entries: int) -> float:
    """Write ``entries`` messages in the store's format; index them; return seconds."""
    started = time.perf_counter()
    directory.parent.mkdir(parents=True, exist_ok=True)
    QuarantineStore(directory).close()  # the layout: private directories, empty index
    rng = random.Random(5)
    now = datetime.now(UTC)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    msg_fd = os.open(directory / "msg", os.O_RDONLY | os.O_DIRECTORY)
    meta_fd = os.open(directory / "meta", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for n in range(entries):
            when = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
            entry_id = new_id(when)
            domain = f"d{rng.randrange(2000)}.example"
            envelope = Envelope(
                mail_from=f"user{n}@{domain}",
                rcpt_to=(f"victim{rng.randrange(500)}@corp.example",),
                rcpt_params=((),),
                client=ClientInfo(addr=f"192.0.2.{n % 250}", helo=f"mx.{domain}"),
            )
            hits = tuple(
                RuleHit(rule, 5.0, ("evidence",)) for rule in rng.sample(RULES, rng.randint(1, 3))
            )
            verdict = Verdict(Action.QUARANTINE, 5.0 * len(hits), hits)
            meta = records.build_meta(
                entry_id, when, RAW, envelope, verdict, f"subject {n}", None, "bench"
            )
            roll = rng.random()
            if roll < 0.05:
                meta["status"] = Status.RELEASED.value
                meta["released"] = when.isoformat()
                meta["events"].append({"time": when.isoformat(), "event": "released", "user": "a"})
            elif roll < 0.10:
                meta["status"] = Status.DELETED.value
                meta["events"].append({"time": when.isoformat(), "event": "deleted", "user": "a"})
            if meta["status"] != Status.DELETED.value:
                _write(msg_fd, f"{entry_id}.eml", RAW, flags)
            _write(meta_fd, f"{entry_id}.json", records.meta_bytes(meta), flags)
    finally:
        os.close(msg_fd)
        os.close(meta_fd)
    os.sync()  # once, for all of them
    with QuarantineStore(directory) as store:
        count = store.rebuild_index()
    assert count == entries, count
    return time.perf_counter() - started


def _write(dir_fd: int, name: str, data: bytes, flags: int) -> None:
    fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def time_calls(argv: list[str], calls: int) -> list[float]:
    times = []
    with open(os.devnull, "w") as devnull:
        for _ in range(calls + 1):  # the first, unmeasured, warms the page cache
            saved = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = devnull, io.StringIO()
            try:
                started = time.perf_counter()
                code = main(argv)
                elapsed = time.perf_counter() - started
            finally:
                sys.stdout, sys.stderr = saved
            if code != 0:
                raise SystemExit(f"{' '.join(argv)} exited {code}")
            times.append(elapsed * 1000)
    return times[1:]


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--dir", type=Path, help="keep (or reuse) the store here")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        if args.dir is None:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qbench-")))
            directory = base / "quarantine"
        else:
            directory = args.dir
        if (directory / "meta").is_dir():
            print(f"reusing the store in {directory}")
        else:
            seconds = build(directory, args.entries)
            print(f"built {args.entries:,} entries in {seconds:.1f} s")
        q = ["quarantine", "list", "--quarantine-dir", str(directory)]
        cases = [
            ("list (default: newest 50, table)", q),
            ("list --json", [*q, "--json"]),
            ("list --limit 1000", [*q, "--limit", "1000"]),
            ("list --since 24h", [*q, "--since", "24h"]),
            ("list --rule GOV_RULE_03", [*q, "--rule", "GOV_RULE_03"]),
            ("list --sender @d42.example", [*q, "--sender", "@d42.example"]),
            ("list --rcpt victim7@corp.example", [*q, "--rcpt", "victim7@corp.example"]),
            ("list --status deleted", [*q, "--status", "deleted"]),
            ("stats (7 days)", ["quarantine", "stats", "--quarantine-dir", str(directory)]),
        ]
        print(f"ms per call over {args.calls} calls (median / best / worst):")
        for label, argv in cases:
            times = time_calls(argv, args.calls)
            print(
                f"  {label:<36} {statistics.median(times):7.1f} / "
                f"{min(times):7.1f} / {max(times):7.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())

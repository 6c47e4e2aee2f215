"""What the exactly-once ledger costs per message, with and without it in one run.

    python bench/ledger_cost.py [--messages 2000] [--sessions 8] [--size 5000]
                                [--rounds 3] [--dir DIR] [--only ops|proxy]

Two measures, each with the ledger on and off, round after round so both see the same
machine state:

- ``ledger ops``: the ledger alone: the key (SHA-256 of the message), the lookup and the
  durable record (a commit, so an fsync) of every message, from ``--sessions`` threads
  at once.
- ``proxy``: whole messages through the proxy in this process, on uvloop (SMTP front,
  scan with the tests' word rules, relay) into a next hop that accepts everything, sent
  by a client process over ``--sessions`` parallel SMTP sessions. Every message has its
  own Message-ID and a Received field first, as Postfix hands them over, so every one
  is looked up and recorded.

The files go to ``--dir`` (default /var/tmp, a disk rather than a tmpfs: the cost is
the fsync). Prints, per round and as medians, messages per second and the CPU time
spent per message: by the measuring process and by the ledger's writer processes
(milter/ledger/sync.py), which do the event loop's writes and syncs; for ``proxy`` the
client's process is apart. One message goes through before the clock starts, so that
what is started once per worker (the writer process, the scanner's first use) is not
counted.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import shutil
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from milter.ledger.dedupe import Dedupe  # noqa: E402
from milter.ledger.store import LEDGER_NAME, Ledger, LedgerSettings  # noqa: E402
from milter.mail.envelope import Envelope  # noqa: E402
from milter.quarantine.store import QuarantineStore  # noqa: E402
from milter.scan.scanner import Scanner  # noqa: E402
from milter.service.proxy import Proxy, ProxySettings  # noqa: E402
from milter.smtp.front import FrontSettings, Transaction, start_front  # noqa: E402
from milter.smtp.relay import Relay, RelaySettings  # noqa: E402
from milter.smtp.replies import OK, Reply  # noqa: E402
from tests.helpers.word_rules import WORD_RULES  # noqa: E402


def message(number: int, size: int) -> bytes:
    head = (
        f"Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n"
        f"\tby mail.example.net (Postfix) with ESMTP id 4Q{number:08d}\r\n"
        f"\tfor <bob@example.net>; Mon, 3 Jun 2024 10:00:00 +0200\r\n"
        f"From: Alice Example <alice@example.org>\r\n"
        f"To: Bob Example <bob@example.net>\r\n"
        f"Subject: Quarterly figures\r\n"
        f"Message-ID: <bench-{number}@example.org>\r\n"
        f"\r\n"
    )
    line = "The figures for the third quarter are attached to the shared folder.\r\n"
    return (head + line * max(1, (size - len(head)) // len(line))).encode()


def writers_cpu() -> float:
    """CPU seconds spent so far by the ledger's writer processes among our children
    (RUSAGE_SELF does not see them, RUSAGE_CHILDREN only once they are reaped)."""
    total = 0.0
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and b"milter.ledger.sync" in cmdline:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + writers_cpu()


# --- the ledger alone --------------------------------------------------------------------


def ledger_ops(
    directory: Path, messages: list[bytes], sessions: int, on: bool
) -> tuple[float, float]:
    """Seconds for key + lookup + record of every message, from ``sessions`` threads, and
    the CPU seconds spent."""
    store = QuarantineStore(directory / "q")
    ledger = Ledger(store.directory / LEDGER_NAME) if on else None
    dedupe = Dedupe(ledger, store)
    envelope = Envelope(mail_from="alice@example.org", rcpt_to=("bob@example.net",))
    accepted = Reply(250, "2.0.0 Ok: queued as 4QxYz")

    def one(raw: bytes) -> None:
        key = dedupe.key(envelope, raw)
        if dedupe.seen(key) is None:
            dedupe.relayed(key, accepted)

    one(message(-1, 1000))  # opens the ledger
    before = cpu_now()
    started = time.perf_counter()
    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(one, messages))
    elapsed = time.perf_counter() - started
    cpu = cpu_now() - before
    if ledger is not None:
        ledger.close()
    store.close()
    return elapsed, cpu


# --- the whole proxy ---------------------------------------------------------------------


class Sink:
    """A next hop that accepts everything and keeps nothing."""

    async def mail(self, tx: Transaction) -> Reply:
        return OK

    async def rcpt(self, tx: Transaction, address: str, params: object) -> Reply:
        return OK

    async def data(self, tx: Transaction, raw: bytes) -> Reply:
        return Reply(250, "2.0.0 Ok: queued")

    async def abort(self, tx: Transaction) -> None:
        pass


def send_all(port: int, messages: list[bytes], sessions: int) -> float:
    """In the client process: every message over ``sessions`` SMTP sessions; seconds."""
    chunks = [messages[i::sessions] for i in range(sessions)]

    def session(chunk: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            for raw in chunk:
                client.sendmail("alice@example.org", ["bob@example.net"], raw)

    started = time.perf_counter()
    with ThreadPoolExecutor(sessions) as pool:
        list(pool.map(session, chunks))
    return time.perf_counter() - started


def through_proxy(
    directory: Path, messages: list[bytes], sessions: int, on: bool
) -> tuple[float, float]:
    """Seconds for all messages, and the CPU seconds the proxy's process spent on them."""
    rules = directory / "rules.yml"
    rules.write_text(WORD_RULES, encoding="utf-8")
    scanner = Scanner.from_rule_paths([rules])
    loop = uvloop.new_event_loop()  # serve's loop
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=120)

    store = QuarantineStore(directory / "q")
    sink = run(start_front(Sink(), FrontSettings(), "127.0.0.1", 0))
    relay = Relay(RelaySettings(port=sink.port, pool_size=sessions))
    ledger = LedgerSettings() if on else LedgerSettings(window=0)
    proxy = Proxy(lambda: scanner, relay, store, ProxySettings(ledger=ledger))
    front = run(start_front(proxy, FrontSettings(), "127.0.0.1", 0))
    # The clients in a process of their own, as Postfix is: threads sending here would
    # take the GIL from the proxy's loop and inflate every thread hand-off it makes.
    with multiprocessing.get_context("spawn").Pool(1) as clients:
        # Started, and one message through, before the clock starts.
        clients.apply(send_all, (front.port, [message(-1, 1000)], 1))
        before = cpu_now()
        elapsed = clients.apply(send_all, (front.port, messages, sessions))
        cpu = cpu_now() - before
    for server in (front, sink):
        run(server.stop_accepting())
        run(server.drain(5))
    run(relay.close())
    if proxy.dedupe.ledger is not None:
        run(_close_ledger(proxy.dedupe.ledger))
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    store.close()
    return elapsed, cpu


async def _close_ledger(ledger: Ledger) -> None:
    ledger.close()  # on the loop: its writer process is watched from there


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"))
    parser.add_argument("--only", choices=("ops", "proxy"))
    args = parser.parse_args()
    measures = [("ledger ops", ledger_ops), ("proxy", through_proxy)]
    if args.only:
        measures = [measures[args.only == "proxy"]]
    messages = [message(n, args.size) for n in range(args.messages)]
    rates: dict[tuple[str, bool], list[float]] = {}
    cpus: dict[tuple[str, bool], list[float]] = {}
    for number in range(args.rounds):
        for name, measure in measures:
            for on in (False, True):
                work = Path(tempfile.mkdtemp(prefix="ledger-bench-", dir=args.dir))
                try:
                    seconds, cpu = measure(work, messages, args.sessions, on)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
                rate = args.messages / seconds
                cpu_us = cpu / args.messages * 1e6
                rates.setdefault((name, on), []).append(rate)
                cpus.setdefault((name, on), []).append(cpu_us)
                print(
                    f"round {number + 1}  {name:10}  ledger {'on ' if on else 'off'}  "
                    f"{rate:7.0f} msg/s  {1e6 / rate:7.1f} us/msg wall  {cpu_us:7.1f} us/msg CPU",
                    flush=True,
                )
    print(
        f"\nmedian of {args.rounds} rounds, {args.messages} messages of {args.size} bytes, "
        f"{args.sessions} sessions, files in {args.dir}:"
    )
    for name, _ in measures:
        off, on = (statistics.median(rates[(name, flag)]) for flag in (False, True))
        cpu_off, cpu_on = (statistics.median(cpus[(name, flag)]) for flag in (False, True))
        print(
            f"  {name:10}  off {off:6.0f} msg/s  on {on:6.0f} msg/s "
            f"({(1 - on / off) * 100:4.1f}% fewer);  CPU off {cpu_off:6.1f} us/msg  "
            f"on {cpu_on:6.1f} us/msg (+{cpu_on - cpu_off:.1f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

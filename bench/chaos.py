"""Exactly once under faults: a seeded chaos run against a real `scam-milter serve`.

    python bench/chaos.py [--seed 1] [--messages 2000] [--senders 6] [--seconds 600]

A retrying client, like Postfix's queue manager, sends numbered messages (every fifth a
scam that the test rule holds) through `serve` (two workers, after-queue mode) to a
recording next hop, and retries each one until it gets a 2xx or a 5xx. Meanwhile a
seeded schedule of faults runs:

- a worker killed with SIGKILL (the supervisor replaces it),
- the whole service killed with SIGKILL and started again, or stopped with SIGTERM
  (drain) and started again,
- the next hop stopped and started again, made slow (its reply to the end of DATA
  comes late), or made to refuse (451) for a while.

The next hop records a message when it answers 250 (as an MTA commits to its queue
before it replies), so a next hop killed in between has not taken the message. At the
end the ledger check counts, for each number, its deliveries plus its quarantine
entries: exactly one each is the goal. Prints messages, faults by kind, lost (a number
answered 2xx and found nowhere), duplicated (found more than once), and never accepted
(still refused when the run ended: not lost, Postfix would still hold it).

One window no proxy can close: a SIGKILL between the next hop's commit and ours (its
250 on the wire, our ledger not yet on disk) leaves a message the next hop has and we
never knew of; the retry delivers it again. RFC 1047 describes the same window between
any two MTAs. Such duplicates (a SIGKILL within ``KILL_WINDOW`` of the moment the next
hop took the message) are counted apart, and each duplicate's story (attempts, deliveries,
faults, in time) is printed.

tests/service/test_chaos.py runs a short version of the same run in the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]

RULE = """\
- id: CHAOS_HOLD
  description: holds the chaos run's scams
  score: 20
  matchers:
    word:
      target: body
      phrases: [chaosscam]
  condition: word
  examples:
    must_match: [{body: chaosscam}]
    must_not_match: [{body: hello}]
"""


# How close to the moment the next hop took a message a SIGKILL of serve counts as
# having hit the window between the next hop's commit and ours: just before it (our
# "." sent, we die, the next hop commits all the same) or just after (its 250 on the
# wire, our ledger being written). The stories show a few milliseconds; this is generous.
KILL_WINDOW = 0.1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------- next hop


class RecordingHop:
    """The next hop's handler; its behaviour is switched by the fault schedule."""

    def __init__(self) -> None:
        self.delivered: list[str] = []  # the X-Chaos-Id of every message taken
        self.times: dict[str, list[float]] = {}  # when each was taken (monotonic)
        self.lock = threading.Lock()
        self.delay = 0.0  # seconds before the reply to the end of DATA
        self.refusing = False

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refusing:
            return "451 4.3.0 Chaos: try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        # Recorded and answered with no await in between: killed before this line, the
        # message was not taken (no reply went out either).
        with self.lock:
            number = _chaos_id(envelope.original_content)
            self.delivered.append(number)
            self.times.setdefault(number, []).append(time.monotonic())
        return "250 2.0.0 Ok: queued"


def _chaos_id(message: bytes) -> str:
    for line in message.split(b"\r\n"):
        if line.lower().startswith(b"x-chaos-id:"):
            return line.split(b":", 1)[1].strip().decode()
        if not line:
            break
    return "?"


class NextHop:
    def __init__(self, handler: RecordingHop) -> None:
        self.handler = handler
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, data_size_limit=0
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop(no_assert=True)
            self.controller = None


# --------------------------------------------------------------------------- the service


class Service:
    """`scam-milter serve` with two workers, started and killed as the schedule says."""

    def __init__(self, work: Path, next_hop: int) -> None:
        self.work = work
        self.port = free_port()
        rules = work / "rules"
        rules.mkdir(exist_ok=True)
        (rules / "chaos.yml").write_text(RULE, encoding="utf-8")
        self.config = work / "config.yml"
        self.config.write_text(
            f"rules: [{rules}]\nmode: after-queue\nauth: {{enabled: false}}\n"
            "smtp: {workers: 2, drain_timeout: 10}\n",
            encoding="utf-8",
        )
        self.next_hop = next_hop
        self.quarantine = work / "quarantine"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = open(work / "serve.log", "ab")  # noqa: SIM115 (kept open for the run)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "milter.cli", "serve", "--config", str(self.config)),
                *("--listen", f"127.0.0.1:{self.port}"),
                *("--next-hop", f"127.0.0.1:{self.next_hop}"),
                *("--quarantine-dir", str(self.quarantine)),
            ],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not listening(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not start; see serve.log")
            time.sleep(0.05)

    def workers(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        if self.process is not None:
            with _suppress_lookup():
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    def quarantined(self) -> list[str]:
        """The X-Chaos-Id of every message the quarantine holds, read from its files."""
        from milter.quarantine.store import QuarantineStore

        store = QuarantineStore(self.quarantine, create=False)
        try:
            return [_chaos_id(store.raw(entry.id)) for entry in store.entries()]
        finally:
            store.close()


class _suppress_lookup:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *rest: object) -> bool:
        return kind is ProcessLookupError


# --------------------------------------------------------------------------- the client


@dataclass
class Outcome:
    accepted: set[str] = field(default_factory=set)  # answered 2xx at last
    rejected: set[str] = field(default_factory=set)  # answered 5xx
    pending: set[str] = field(default_factory=set)  # still refused at the end
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # number -> (started, ended, what came back) of every attempt, to explain a duplicate
    history: dict[str, list[tuple[float, float, str]]] = field(default_factory=dict)


def message(number: int, scam: bool) -> bytes:
    body = "chaosscam pay now" if scam else "an ordinary message"
    # As Postfix's queue file has it: its smtpd's Received field first, the same bytes
    # on every retry (after-queue mode sends the queue file as it is).
    return (
        f"Received: from client.example.org (client.example.org [192.0.2.7])\r\n"
        f"\tby mx.example.net (Postfix) with ESMTP id 4Q{number:08X}\r\n"
        f"\tfor <rcpt@example.net>; Sat,  5 Dec 2026 01:00:00 +0000 (UTC)\r\n"
        f"From: sender{number}@example.org\r\nTo: rcpt@example.net\r\n"
        f"Subject: chaos {number}\r\nX-Chaos-Id: {number}\r\n"
        f"Message-ID: <chaos-{number}@example.org>\r\n\r\n{body} {number}\r\n"
    ).encode()


def sender(
    port: int, numbers: list[int], outcome: Outcome, stop_at: float, gap: float = 0.0
) -> None:
    """Send each message until it is answered 2xx or 5xx, as Postfix's queue would,
    ``gap`` seconds apart."""
    for number in numbers:
        time.sleep(gap)
        data = message(number, scam=number % 5 == 0)
        while True:
            with outcome.lock:
                outcome.attempts += 1
            started = time.monotonic()
            code, what = _attempt(port, data)
            with outcome.lock:
                outcome.history.setdefault(str(number), []).append(
                    (started, time.monotonic(), what)
                )
            if code is not None and code < 400:
                with outcome.lock:
                    outcome.accepted.add(str(number))
                break
            if code is not None and code >= 500:
                with outcome.lock:
                    outcome.rejected.add(str(number))
                break
            if time.monotonic() > stop_at:
                with outcome.lock:
                    outcome.pending.add(str(number))
                break
            time.sleep(0.2)


def _attempt(port: int, data: bytes) -> tuple[int | None, str]:
    """The reply code to the end of DATA and what happened, in words; code None for a
    lost connection or a refusal before it (a 4xx to MAIL or RCPT is retried the same)."""
    try:
        client = smtplib.SMTP("127.0.0.1", port, timeout=60)
    except OSError as exc:
        return None, f"connect: {exc}"
    try:
        client.ehlo()
        for step, reply in (
            ("MAIL", lambda: client.mail("sender@example.org")),
            ("RCPT", lambda: client.rcpt("rcpt@example.net")),
        ):
            code, text = reply()
            if code != 250:
                return (code if code >= 500 else None), f"{step} {code} {text[:60]!r}"
        code, text = client.data(data)
        return code, f"DATA {code} {text[:60]!r}"
    except smtplib.SMTPDataError as exc:
        return exc.smtp_code, f"DATA {exc.smtp_code} {exc.smtp_error[:60]!r}"
    except (OSError, smtplib.SMTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        client.close()


# --------------------------------------------------------------------------- the run


@dataclass
class Report:
    messages: int
    faults: Counter[str]
    lost: list[str]
    duplicated: list[str]
    pending: list[str]
    attempts: int
    delivered: int
    quarantined: int
    # For each duplicate delivered at least once: the last fault before its first
    # delivery (where the reply was lost), to tell our windows from the next hop's.
    causes: Counter[str] = field(default_factory=Counter)
    # Duplicates whose first copy the next hop took within KILL_WINDOW of a SIGKILL of
    # serve: the kill came between our "." and our ledger's commit (the next hop was
    # committing, its 250 was in flight, or the ledger was not yet on disk). SMTP itself
    # leaves that window open (RFC 1047); it is counted apart from ``duplicated``.
    kill_window: list[str] = field(default_factory=list)
    kill_window_copies: int = 0  # the extra copies of those (one kill each)
    explained: list[str] = field(default_factory=list)  # each duplicate's story

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items()))
        return [
            f"messages {self.messages}, attempts {self.attempts} (retries "
            f"{self.attempts - self.messages}), delivered {self.delivered}, "
            f"quarantined {self.quarantined}",
            f"faults {sum(self.faults.values())}: {kinds}",
            f"lost {len(self.lost)}, duplicated {len(self.duplicated)}, "
            f"never accepted {len(self.pending)}; besides, duplicated by a SIGKILL within "
            f"{KILL_WINDOW * 1000:.0f} ms of the next hop taking the message "
            f"{len(self.kill_window)} ({self.kill_window_copies} extra copies)",
            *(
                [f"last fault before each duplicate's first delivery: {dict(self.causes)}"]
                if self.causes
                else []
            ),
        ]


def run_chaos(
    work: Path,
    *,
    seed: int,
    messages: int,
    senders: int,
    seconds: float,
    pause: float = 0.5,
    gap: float = 0.0,
) -> Report:
    rng = random.Random(seed)
    hop_handler = RecordingHop()
    hop = NextHop(hop_handler)
    hop.start()
    service = Service(work, hop.port)
    service.start()
    outcome = Outcome()
    numbers = list(range(1, messages + 1))
    stop_at = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=sender, args=(service.port, numbers[i::senders], outcome, stop_at, gap)
        )
        for i in range(senders)
    ]
    for thread in threads:
        thread.start()
    faults: Counter[str] = Counter()
    timeline: list[tuple[float, str]] = []
    try:
        while any(t.is_alive() for t in threads) and time.monotonic() < stop_at:
            time.sleep(rng.uniform(pause / 2, pause * 1.5))
            kind = rng.choice(
                ["kill-worker", "kill-worker", "kill-service", "restart-service",
                 "restart-next-hop", "slow-next-hop", "refusing-next-hop"]
            )  # fmt: skip
            faults[kind] += 1
            timeline.append((time.monotonic(), kind))
            if kind == "kill-worker":
                workers = service.workers()
                if workers:
                    with _suppress_lookup():
                        os.kill(rng.choice(workers), signal.SIGKILL)
            elif kind == "kill-service":
                service.kill()
                service.start()
            elif kind == "restart-service":
                service.stop()
                service.start()
            elif kind == "restart-next-hop":
                hop.stop()
                time.sleep(rng.uniform(0, pause))
                hop.start()
            elif kind == "slow-next-hop":
                hop_handler.delay = rng.uniform(0.5, 2.0)
                time.sleep(pause)
                hop_handler.delay = 0.0
            else:
                hop_handler.refusing = True
                time.sleep(rng.uniform(0, pause))
                hop_handler.refusing = False
        for thread in threads:
            thread.join()
    finally:
        service.stop()
        hop.stop()
    delivered = Counter(hop_handler.delivered)
    held = Counter(service.quarantined())
    found = delivered + held
    twice = sorted(n for n, count in found.items() if count > 1)
    kills = [at for at, kind in timeline if kind in ("kill-worker", "kill-service")]
    in_window = sorted(
        n for n in twice if _all_in_kill_window(hop_handler.times.get(n, []), found[n], kills)
    )
    return Report(
        messages=messages,
        faults=faults,
        lost=sorted(n for n in outcome.accepted if found[n] == 0),
        duplicated=sorted(set(twice) - set(in_window)),
        kill_window=in_window,
        kill_window_copies=sum(found[n] - 1 for n in in_window),
        causes=Counter(
            _last_fault(timeline, hop_handler.times[n][0])
            for n, count in found.items()
            if count > 1 and n in hop_handler.times
        ),
        explained=[
            _story(n, outcome.history.get(n, []), hop_handler.times.get(n, []), timeline)
            for n in sorted(n for n, count in found.items() if count > 1)
        ],
        pending=sorted(outcome.pending),
        attempts=outcome.attempts,
        delivered=sum(delivered.values()),
        quarantined=sum(held.values()),
    )


def _all_in_kill_window(deliveries: list[float], copies: int, kills: list[float]) -> bool:
    """Every copy but the last one delivered within KILL_WINDOW of a SIGKILL of serve.

    A message can be caught by that window more than once (a worker killed as the next
    hop took it, the retry's worker killed the same way): each extra copy needs its own
    kill, next to the delivery that we never recorded.
    """
    if len(deliveries) != copies:  # a copy in quarantine: not the next hop's window
        return False
    return all(any(abs(at - taken) <= KILL_WINDOW for at in kills) for taken in deliveries[:-1])


def _story(
    number: str,
    attempts: list[tuple[float, float, str]],
    deliveries: list[float],
    timeline: list[tuple[float, str]],
) -> str:
    """One duplicate: its attempts, its deliveries and the faults meanwhile, in time."""
    if not attempts:
        return f"{number}: no attempts recorded"
    start = attempts[0][0]
    end = attempts[-1][1]
    events = [(a, f"attempt until {b - start:+.3f}: {what}") for a, b, what in attempts]
    events += [(t, "delivered") for t in deliveries]
    events += [(t, f"fault {kind}") for t, kind in timeline if start - 2 <= t <= end + 1]
    return f"{number}: " + "; ".join(f"{t - start:+.3f} {e}" for t, e in sorted(events))


def _last_fault(timeline: list[tuple[float, str]], moment: float) -> str:
    before = [kind for at, kind in timeline if at <= moment + 1.0]
    return before[-1] if before else "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--pause", type=float, default=0.5, help="mean seconds between faults")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between messages")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chaos-"))
    report = run_chaos(
        work,
        seed=args.seed,
        messages=args.messages,
        senders=args.senders,
        seconds=args.seconds,
        pause=args.pause,
        gap=args.gap,
    )
    print(f"seed {args.seed}, work folder {work}")
    for line in report.lines():
        print(line)
    if report.duplicated:
        print("duplicated:", " ".join(report.duplicated[:50]))
        for story in report.explained[:20]:
            print("  ", story)
    if report.lost:
        print("lost:", " ".join(report.lost[:50]))
    return 1 if report.lost or report.duplicated else 0


if __name__ == "__main__":
    sys.exit(main())

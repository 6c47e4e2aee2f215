"""What scam-milter costs a real Postfix, as a milter and as a proxy, in one run.

    python bench/milter_throughput.py [--messages 1000] [--sessions 10] [--size 5000]
                                      [--rounds 3]

Three Postfix instances, each its own config dir and queue (tests/helpers/
postfix_harness.py, configured from docs/postfix.md), all relaying example.org to
Postfix's smtp-sink:

- alone: no filter at all (the milter lines with smtpd_milters emptied);
- milter: smtpd_milters pointing at `scam-milter serve --protocol milter`;
- proxy: the after-queue content filter through `scam-milter serve` and back.

Round after round, smtp-source sends N messages of about --size bytes (a plain business
mail, the shipped rules read it whole) over S sessions to each instance in turn, and
the round ends when smtp-sink has taken all N (Postfix's log says status=sent). Prints
each rate and the median ratio to Postfix alone. Issue 14's goal: the milter costs
Postfix at most half of its throughput on 5 KB messages (ratio >= 0.5). Ratios, not
rates, compare across machines; on this 2-core machine smtp-source, Postfix, smtp-sink
and scam-milter share the cores, so a ratio is what the filter costs there.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from smtp_throughput import make_message  # noqa: E402

from milter.config import shipped_rules_dir  # noqa: E402
from tests.helpers.postfix_harness import PostfixInstance, ensure_postfix  # noqa: E402
from tests.helpers.serve_process import ServeProcess  # noqa: E402


def sent(postfix: PostfixInstance) -> int:
    """Messages smtp-sink has taken from this Postfix so far."""
    marker = f":{postfix.sink_port},"
    return sum(1 for line in postfix.log().splitlines() if "status=sent" in line and marker in line)


def one_round(postfix: PostfixInstance, args: argparse.Namespace, message: Path) -> float:
    """Messages a second, from smtp-source's start until smtp-sink has them all."""
    before = sent(postfix)
    start = time.perf_counter()
    subprocess.run(
        [
            "smtp-source",
            "-s",
            str(args.sessions),
            "-m",
            str(args.messages),
            "-F",
            str(message),
            "-f",
            "alice@example.net",
            "-t",
            "bob@example.org",
            f"127.0.0.1:{postfix.smtp_port}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )
    deadline = time.monotonic() + 120
    while sent(postfix) - before < args.messages:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{postfix}: not all delivered\n{postfix.queue_listing()}")
        time.sleep(0.05)
    return args.messages / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="scam-milter's workers")
    args = parser.parse_args()
    ensure_postfix()
    work = Path(tempfile.mkdtemp(prefix="milter-bench-"))
    work.chmod(0o755)  # Postfix's own users reach the queues
    # smtp-source -F appends CRLF to each line: the file has bare LF lines.
    message = work / "message.eml"
    message.write_bytes(make_message(args.size).replace(b"\r\n", b"\n"))
    quiet = {"smtpd_client_connection_count_limit": "0", "smtpd_client_connection_rate_limit": "0"}
    alone = PostfixInstance(
        work,
        "milter",
        delivery="sink",
        main_extra={"smtpd_milters": "", "non_smtpd_milters": "", **quiet},
    )
    milter = PostfixInstance(work, "milter", delivery="sink", main_extra=quiet)
    proxy = PostfixInstance(work, "after-queue", delivery="sink", main_extra=quiet)
    config = f"smtp: {{workers: {args.workers}}}\nauth: {{enabled: false}}\n"
    for folder in ("milter-serve", "proxy-serve"):
        (work / folder).mkdir()
    serves = [
        ServeProcess(
            work / "milter-serve",
            listen=milter.filter_port,
            next_hop=milter.reinject_port,
            rules=[shipped_rules_dir()],
            extra_config="protocol: milter\n" + config,
        ),
        ServeProcess(
            work / "proxy-serve",
            listen=proxy.filter_port,
            next_hop=proxy.reinject_port,
            rules=[shipped_rules_dir()],
            # smtp-source sends the same bytes every time: the duplicate ledger would
            # rightly answer the copies "delivered before" (bench/ledger_cost.py
            # measures it with distinct messages). The milter relays nothing: no ledger.
            extra_config=config + "ledger: {window: 0}\n",
        ),
    ]
    instances = {"postfix alone": alone, "postfix + milter": milter, "postfix + proxy": proxy}
    rates: dict[str, list[float]] = {name: [] for name in instances}
    try:
        for served in serves:
            served.start()
        for instance in instances.values():
            instance.start()
        for instance in instances.values():  # warm up: caches, processes, pools
            one_round(instance, argparse.Namespace(**{**vars(args), "messages": 50}), message)
        for number in range(1, args.rounds + 1):
            for name, instance in instances.items():
                rates[name].append(one_round(instance, args, message))
            print(
                f"round {number}: "
                + ", ".join(f"{name} {rates[name][-1]:.0f} msg/s" for name in instances)
            )
    finally:
        for instance in instances.values():
            instance.stop()
        for served in serves:
            served.stop()
    base = statistics.median(rates["postfix alone"])
    print(
        f"{args.messages} messages of {args.size} bytes over {args.sessions} sessions, "
        f"{args.rounds} rounds, scam-milter with {args.workers} workers, shipped rules"
    )
    for name in instances:
        median = statistics.median(rates[name])
        print(f"{name:18} median {median:6.0f} msg/s   ratio to Postfix alone {median / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

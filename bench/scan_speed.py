"""Scanner throughput against a bare stdlib parse, and how it grows with the rule count.

    python bench/scan_speed.py [--corpus DIR] [--rounds N]

Reads every message of the ham corpus into memory, then in one run times:
  - parse:        email.parser.BytesParser(policy=default).parsebytes(raw)
  - parse+decode: the same plus get_content() of every text part (what any filter must do)
  - scan:         Scanner.scan(raw) with the shipped rules
  - scan x10, x100: with 10 and 100 times the rules, generated as variants of the shipped
    ones (each variant has its own vocabulary, as rules about other scams would), and
    with 10 identical copies (the worst case for the prefilter: every copy's literals
    are present whenever the original's are).
Reports messages per second and ratios. Ratios, not absolute times, are what compare
across machines.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import email.parser
import email.policy
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from milter.config import shipped_rules_dir  # noqa: E402
from milter.scan.rules.loader import IDENTITIES_FILE, load_rules, rule_files  # noqa: E402
from milter.scan.scanner import Scanner  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "ham-spamassassin"


def bare_parse(raw: bytes) -> None:
    email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)


def parse_and_decode(raw: bytes) -> None:
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    for part in message.walk():
        if part.get_content_maintype() == "text":
            # A bare baseline: undecodable parts are skipped.
            with contextlib.suppress(Exception):
                part.get_content()


def timed(work: Callable[[bytes], object], messages: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in messages:
            work(raw)
        best = min(best, time.perf_counter() - start)
    return best


def _variant_word(number: int) -> str:
    letters = "bcdfghjklmnpqrstvwxz"
    word = ""
    n = number + 1
    while n:
        n, digit = divmod(n, len(letters))
        word += letters[digit] + "ao"[digit % 2]
    return "zq" + word


def variant_rules(rules_dir: Path, copies: int, out: Path, *, identical: bool) -> None:
    """Write ``copies`` variants of every shipped rule file into ``out`` (and the
    identity registry as it is: the variants' identity rules need it)."""
    shutil.copy(rules_dir / IDENTITIES_FILE, out / IDENTITIES_FILE)
    for file in rule_files([rules_dir]):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or []
        generated = []
        for number in range(copies):
            suffix = f"_V{number}"
            word = _variant_word(number)
            for rule in data:
                rule = copy.deepcopy(rule)
                rule["id"] = rule["id"] + suffix
                for matcher in rule["matchers"].values():
                    if "rule" in matcher:
                        matcher["rule"] = matcher["rule"] + suffix
                    elif identical:
                        continue
                    elif "phrases" in matcher:
                        matcher["phrases"] = [f"{p} {word}" for p in matcher["phrases"]]
                    elif "regex" in matcher:
                        patterns = matcher["regex"]
                        patterns = [patterns] if isinstance(patterns, str) else patterns
                        matcher["regex"] = [f"(?:{p}) {word}" for p in patterns]
                generated.append(rule)
        (out / file.name).write_text(yaml.safe_dump(generated, sort_keys=False), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=3, help="best of N passes (default 3)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N messages")
    args = parser.parse_args()
    files = sorted(p for p in args.corpus.rglob("*") if p.is_file())
    if args.limit:
        files = files[: args.limit]
    if not files:
        print(f"no messages under {args.corpus}", file=sys.stderr)
        return 2
    messages = [f.read_bytes() for f in files]
    size = sum(map(len, messages))
    print(
        f"corpus: {args.corpus} ({len(messages)} messages, {size / 1e6:.1f} MB), "
        f"best of {args.rounds}"
    )

    rules_dir = shipped_rules_dir()
    shipped = load_rules([rules_dir])
    results: list[tuple[str, int, float]] = []
    results.append(("parse", 0, timed(bare_parse, messages, args.rounds)))
    results.append(("parse+decode", 0, timed(parse_and_decode, messages, args.rounds)))
    scanner = Scanner.from_rule_paths([rules_dir])
    results.append(("scan", len(shipped), timed(scanner.scan, messages, args.rounds)))
    with tempfile.TemporaryDirectory() as tmp:
        for label, copies, identical in (
            ("scan x10 variants", 10, False),
            ("scan x100 variants", 100, False),
            ("scan x10 identical", 10, True),
        ):
            out = Path(tmp) / label.replace(" ", "_")
            out.mkdir()
            variant_rules(rules_dir, copies, out, identical=identical)
            start = time.perf_counter()
            big = Scanner.from_rule_paths([out])
            compile_time = time.perf_counter() - start
            elapsed = timed(big.scan, messages, args.rounds)
            results.append((f"{label} (compiled in {compile_time:.1f}s)", len(big.rules), elapsed))

    parse_time = results[0][2]
    decode_time = results[1][2]
    scan_time = results[2][2]
    print(f"{'what':44} {'rules':>6} {'msg/s':>9} {'/parse':>7} {'/decode':>8} {'/scan':>6}")
    for label, count, elapsed in results:
        print(
            f"{label:44} {count or '':>6} {len(messages) / elapsed:9.0f} "
            f"{elapsed / parse_time:7.2f} {elapsed / decode_time:8.2f} {elapsed / scan_time:6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

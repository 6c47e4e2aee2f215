"""Scan every message under ../shared/mime-samples: none may raise, each gets a verdict.

    python bench/mime_survival.py [--samples DIR]

Prints the verdict counts, the slowest messages and any exception (with its traceback,
since an exception here is a bug). Exits 1 when any message raised.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from milter.config import shipped_rules_dir  # noqa: E402
from milter.scan.scanner import Scanner  # noqa: E402

DEFAULT_SAMPLES = ROOT.parent / "shared" / "mime-samples"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    args = parser.parse_args()
    files = sorted(p for p in args.samples.rglob("*") if p.is_file() and "LICENSES" not in p.parts)
    scanner = Scanner.from_rule_paths([shipped_rules_dir()])
    verdicts: collections.Counter[str] = collections.Counter()
    failures = 0
    timings: list[tuple[float, Path]] = []
    for file in files:
        raw = file.read_bytes()
        start = time.perf_counter()
        try:
            verdict = scanner.scan(raw)
        except Exception:
            failures += 1
            print(f"EXCEPTION {file}", file=sys.stderr)
            traceback.print_exc()
            continue
        timings.append((time.perf_counter() - start, file))
        verdicts[verdict.action.value] += 1
    print(f"{len(files)} files, {failures} raised; verdicts: {dict(verdicts)}")
    for elapsed, file in sorted(timings, reverse=True)[:5]:
        print(f"  slowest: {elapsed * 1000:7.1f} ms  {file.relative_to(args.samples)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

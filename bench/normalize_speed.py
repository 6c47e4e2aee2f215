"""normalize() over the ham corpus: the current fold against the one of an earlier commit.

    python3 bench/normalize_speed.py [--corpus DIR ...] [--rounds N] [--rev REV]

Scans every message of the ham folders once with the shipped rules and records the texts
the scanner hands to ``normalize`` (milter.scan.targets), then loads
milter/scan/normalize.py as it was at REV (``git show``) beside the current one and, in one
run, turns alternating, times ``normalize`` over all those texts with each. Prints the
best of N rounds, the ratio, the time each module takes to build its table at import, and
how many texts fold differently. Without --rev, REV is the last commit whose fold did not
use the table generated from Unicode's confusables (milter/scan/confusables.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from earlier_module import before_change, module_at  # noqa: E402

from milter.mail.envelope import Envelope  # noqa: E402
from milter.scan import targets  # noqa: E402
from milter.scan.normalize import normalize  # noqa: E402
from milter.scan.scanner import Scanner  # noqa: E402

SOURCE = "milter/scan/normalize.py"
MARKER = "from milter.scan.confusables import"
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"


def current_import_seconds() -> float:
    """A fresh import of the current module (its table build), in this interpreter."""
    spec = importlib.util.spec_from_file_location("normalize_now", ROOT / SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    start = time.perf_counter()
    spec.loader.exec_module(module)
    return time.perf_counter() - start


def ham_texts(folders: list[Path]) -> list[str]:
    """Every text the scanner normalises while scanning the ham folders, in order."""
    seen: list[str] = []

    def recording(text: str):
        seen.append(text)
        return normalize(text)

    scanner = Scanner.from_rule_paths([ROOT / "rules"])
    with mock.patch.object(targets, "normalize", recording):
        for folder in folders:
            for path in sorted(p for p in folder.iterdir() if p.is_file()):
                scanner.scan(path.read_bytes(), Envelope())
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--rev", default=None, help="the commit to compare with")
    args = parser.parse_args()
    rev = args.rev or before_change(SOURCE, MARKER, added=True)
    old, old_import = module_at(SOURCE, rev, "normalize_at_rev")
    new_import = current_import_seconds()
    folders = sorted(p for p in args.corpus.iterdir() if p.is_dir() and p.name.startswith("ham"))
    texts = ham_texts(folders)
    chars = sum(map(len, texts))
    non_ascii = sum(1 for t in texts if not t.isascii())
    changed = sum(1 for t in texts if old.normalize(t).text != normalize(t).text)

    # All texts, then the non-ASCII ones alone: ASCII text takes a path the table does not
    # touch, so a cost of the table would show in the second line first.
    sets = {"all texts": texts, "non-ASCII texts": [t for t in texts if not t.isascii()]}
    best = {(label, name): float("inf") for label in sets for name in ("old", "new")}
    pair = [("old", old.normalize), ("new", normalize)]
    for _ in range(args.rounds):
        pair.reverse()  # each goes first in every other round
        for label, chosen in sets.items():
            for name, fold in pair:
                start = time.perf_counter()
                for text in chosen:
                    fold(text)
                best[label, name] = min(best[label, name], time.perf_counter() - start)
    print(f"ham texts: {len(texts)} ({chars / 1e6:.1f} M characters, {non_ascii} not ASCII)")
    print(f"old = {SOURCE} at {rev}; best of {args.rounds} rounds, turns alternating")
    for label in sets:
        old_ms, new_ms = best[label, "old"] * 1000, best[label, "new"] * 1000
        print(
            f"normalize, {label:<16} old {old_ms:8.1f} ms  new {new_ms:8.1f} ms"
            f"  new/old {new_ms / old_ms:.3f}"
        )
    print(f"import (table build)  old {old_import * 1000:.1f} ms  new {new_import * 1000:.1f} ms")
    print(f"texts whose folded text differs: {changed} of {len(texts)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

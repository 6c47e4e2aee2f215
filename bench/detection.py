"""Detection benchmark: scan the shared corpus with the shipped rules, folder by folder.

For each corpus folder it prints the number of messages, the count per action
(accept / tag / quarantine / reject), how many were held (quarantine + reject) and
tagged, and what a rule writer needs to tune: for scam folders the files that were not
held, for ham folders the files that were held or tagged, each with its score and rules.

    python bench/detection.py [--corpus DIR] [--rules DIR ...] [--no-ocr]

Images are read by OCR as `serve` reads them (milter/ocr), when Tesseract is installed;
``--no-ocr`` gives the figures without it (how a host without Tesseract does).

The corpus lives beside the project in ../shared/corpus. Folders whose name starts with
"ham" are legitimate mail; every other folder holds scams. The goals (issue 2): every
scam folder held except at most one message; over all ham at most 2 held and at most 1%
tagged. The script reports; it exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
DEFAULT_RULES = REPO / "rules"
ACTIONS = ("accept", "tag", "quarantine", "reject")

sys.path.insert(0, str(REPO))

from milter.mail.envelope import Envelope  # noqa: E402
from milter.ocr.reader import OcrReader, open_reader  # noqa: E402
from milter.ocr.settings import OcrSettings  # noqa: E402
from milter.scan.scanner import Scanner  # noqa: E402


def is_ham(folder: Path) -> bool:
    return folder.name.startswith("ham")


def describe(verdict) -> str:
    rules = ", ".join(f"{hit.id}({hit.score:g})" for hit in verdict.rules) or "-"
    return f"score {verdict.score:g}: {rules}"


def run_folder(
    scanner: Scanner, folder: Path, ocr: OcrReader | None, *, show_all: bool
) -> tuple[Counter, int]:
    counts: Counter = Counter()
    notes: list[str] = []
    files = sorted(p for p in folder.iterdir() if p.is_file())
    for path in files:
        view = scanner.view(path.read_bytes(), Envelope())
        if ocr is not None:
            view = ocr.read_view(view)
        verdict = scanner.scan_view(view)
        action = verdict.action.value
        counts[action] += 1
        held = action in ("quarantine", "reject")
        # Ham: anything but accept is worth a look; scams: anything not held.
        interesting = action != "accept" if is_ham(folder) else not held
        if interesting or show_all:
            notes.append(f"    {action:<10} {path.name}  {describe(verdict)}")
    held_count = counts["quarantine"] + counts["reject"]
    per_action = " ".join(f"{a}={counts[a]}" for a in ACTIONS)
    tagged = counts["tag"]
    print(f"{folder.name}: messages={len(files)} {per_action} held={held_count} tagged={tagged}")
    if notes:
        label = "held or tagged" if is_ham(folder) else "not held"
        if show_all:
            label = "all"
        print(f"  {label}:")
        print("\n".join(notes))
    return counts, len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Scan the shared corpus and print detection figures."
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="corpus directory (default: %(default)s)",
    )
    parser.add_argument(
        "--rules",
        type=Path,
        action="append",
        help="rule file or directory (default: the repository's rules/)",
    )
    parser.add_argument("--no-ocr", action="store_true", help="do not read images")
    parser.add_argument(
        "--all", action="store_true", help="list every message, not only the ones to look at"
    )
    args = parser.parse_args(argv)

    if not args.corpus.is_dir():
        print(f"detection: no corpus directory at {args.corpus}", file=sys.stderr)
        return 0
    started = time.monotonic()
    scanner = Scanner.from_rule_paths(args.rules or [DEFAULT_RULES])
    loaded = time.monotonic() - started
    ocr, status = (None, None) if args.no_ocr else open_reader(OcrSettings())
    print(status.text if status is not None else "ocr: off (--no-ocr)")

    totals = {"ham": Counter(), "scam": Counter()}
    sizes = {"ham": 0, "scam": 0}
    started = time.monotonic()
    for folder in sorted(p for p in args.corpus.iterdir() if p.is_dir()):
        counts, size = run_folder(scanner, folder, ocr, show_all=args.all)
        kind = "ham" if is_ham(folder) else "scam"
        totals[kind].update(counts)
        sizes[kind] += size
    scanned = time.monotonic() - started

    ham, scam = totals["ham"], totals["scam"]
    ham_held = ham["quarantine"] + ham["reject"]
    scam_held = scam["quarantine"] + scam["reject"]
    print()
    if sizes["scam"]:
        print(f"scam: {scam_held}/{sizes['scam']} held ({100 * scam_held / sizes['scam']:.1f}%)")
    if sizes["ham"]:
        print(
            f"ham: {ham_held}/{sizes['ham']} held, {ham['tag']}/{sizes['ham']} tagged "
            f"({100 * ham['tag'] / sizes['ham']:.2f}%)"
        )
    total = sizes["ham"] + sizes["scam"]
    if total:
        print(f"rules loaded in {loaded:.2f}s; {total} messages scanned in {scanned:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

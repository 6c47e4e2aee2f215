"""Look-alike check speed: the edit distance from rapidfuzz against the hand-written one it
replaced (kept in tests/scan/test_identities_distance.py as the tests' oracle).

    python bench/identity_speed.py [--rounds N] [--mutations N] [--corpus DIR]

The domains: every host name found in the corpus (../shared/corpus) plus --mutations
random edits of the shipped registry's protected domains (letters changed, added,
dropped or swapped, suffixes added), from a fixed seed. It times, in one run, with
turns alternating and the best of --rounds kept:

1. ``IdentityRegistry.lookalike`` over all the domains, each answered afresh (a new
   registry per round, so its memo holds nothing), with each distance;
2. the distance alone, on the pairs the check compared (after its cheaper filters).

It checks that both give the same answers. Figures vary with the machine; compare the
ratios (old / new).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from milter.config import shipped_rules_dir  # noqa: E402
from milter.scan.identities import domains, lookalikes  # noqa: E402
from milter.scan.identities.registry import IdentityRegistry  # noqa: E402
from tests.scan.test_identities_distance import reference_edit_distance  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
_HOST = re.compile(rb"[\w.-]+\.[a-zA-Z]{2,}")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0-."

Distance = Callable[[str, str, int], int]


def corpus_domains(corpus: Path) -> set[str]:
    found: set[str] = set()
    if corpus.is_dir():
        for path in sorted(corpus.rglob("*")):
            if path.is_file():
                found.update(m.decode("ascii", "replace") for m in _HOST.findall(path.read_bytes()))
    return found


def mutations(protected: list[str], count: int) -> set[str]:
    rng = random.Random(1)
    found: set[str] = set()
    for _ in range(count):
        chars = list(rng.choice(protected) + rng.choice(["", ".com", "-be.com", ".eu", ".org"]))
        for _ in range(rng.randint(0, 3)):
            at = rng.randrange(len(chars))
            edit = rng.randrange(4)
            if edit == 0:
                chars[at] = rng.choice(_ALPHABET)
            elif edit == 1:
                chars.insert(at, rng.choice(_ALPHABET))
            elif edit == 2 and len(chars) > 3:
                del chars[at]
            elif at + 1 < len(chars):
                chars[at], chars[at + 1] = chars[at + 1], chars[at]
        found.add("".join(chars))
    return found


def check_all(names: list[str], distance: Distance) -> tuple[float, list[object]]:
    """Seconds for one look-alike check of every name with ``distance``, and answers."""
    lookalikes.edit_distance = distance
    registry = IdentityRegistry.load([shipped_rules_dir()])
    began = time.perf_counter()
    answers = [registry.lookalike(name) for name in names]
    return time.perf_counter() - began, answers


def compared_pairs(names: list[str]) -> list[tuple[str, str, int]]:
    """The (window, target, bound) triples the check hands to the distance."""
    pairs: list[tuple[str, str, int]] = []

    def recording(a: str, b: str, bound: int) -> int:
        pairs.append((a, b, bound))
        return domains.edit_distance(a, b, bound)

    check_all(names, recording)
    return pairs


def time_pairs(pairs: list[tuple[str, str, int]], distance: Distance) -> float:
    began = time.perf_counter()
    for a, b, bound in pairs:
        distance(a, b, bound)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mutations", type=int, default=20000)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()

    registry = IdentityRegistry.load([shipped_rules_dir()])
    protected = [domain for identity in registry.identities for domain in identity.domains]
    names = sorted(corpus_domains(args.corpus) | mutations(protected, args.mutations))
    current = domains.edit_distance
    contenders: dict[str, Distance] = {"old": reference_edit_distance, "new": current}
    try:
        pairs = compared_pairs(names)
        best = {label: float("inf") for label in contenders}
        best_pairs = dict(best)
        answers: dict[str, list[object]] = {}
        for _ in range(args.rounds):
            for label, distance in contenders.items():
                seconds, answers[label] = check_all(names, distance)
                best[label] = min(best[label], seconds)
                best_pairs[label] = min(best_pairs[label], time_pairs(pairs, distance))
    finally:
        lookalikes.edit_distance = current

    found = sum(answer is not None for answer in answers["new"])
    print(f"{len(names)} domains, {found} look-alikes, {len(pairs)} distances computed")
    print(f"same answers with both distances: {answers['old'] == answers['new']}")
    for label in contenders:
        print(
            f"{label}: lookalike {best[label] * 1e6 / len(names):.1f} us a domain, "
            f"distance {best_pairs[label] * 1e6 / max(1, len(pairs)):.2f} us a pair"
        )
    print(
        f"ratio old/new: lookalike {best['old'] / best['new']:.2f}x, "
        f"distance {best_pairs['old'] / best_pairs['new']:.2f}x"
    )


if __name__ == "__main__":
    main()

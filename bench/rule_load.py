"""Rule loading time: the current YAML reader against the one of an earlier commit.

    python bench/rule_load.py [--rules DIR] [--rounds N] [--rev REV]

Loads milter/scan/rules/yaml_source.py as it was at REV (``git show``) beside the current
one, then in one run, turns alternating, times:
  - read_yaml: every .yml file of the rules directory (rule files and identities.yml)
    read with positions, the step issue 11 measured at 145 ms;
  - load_rules: the whole load a start or SIGHUP does (read, validate, compile every
    pattern), once with each reader.
Prints the best of N rounds in milliseconds and the ratio. Without --rev, REV is the
last commit whose reader still parsed twice (``yaml.safe_load`` plus ``yaml.compose``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from earlier_module import before_change, git, module_at  # noqa: E402

from milter.scan.rules import loader  # noqa: E402
from milter.scan.rules import yaml_source as current  # noqa: E402

SOURCE = "milter/scan/rules/yaml_source.py"
TWO_PASSES = "yaml.safe_load(text)"


def once_ms(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, default=ROOT / "rules")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--rev", default=None, help="the commit to compare with")
    args = parser.parse_args()
    rev = args.rev or before_change(SOURCE, TWO_PASSES, added=False)
    old, _ = module_at(SOURCE, rev, "yaml_source_at_rev")
    files = sorted(args.rules.glob("*.yml"))
    for file in files:  # both readers must agree before their times mean anything
        assert old.read_yaml(file, "x")[0] == current.read_yaml(file, "x")[0], file

    def read_all(module: ModuleType) -> Callable[[], None]:
        def run() -> None:
            for file in files:
                module.read_yaml(file, "rule file")

        return run

    def load_all(module: ModuleType) -> Callable[[], None]:
        def run() -> None:
            with mock.patch.object(loader, "read_yaml", module.read_yaml):
                loader.load_rules([args.rules])

        return run

    print(f"{len(files)} files in {args.rules}; old = {SOURCE} at {git('rev-parse', rev)[:7]}")
    for label, make in (("read_yaml", read_all), ("load_rules", load_all)):
        times = {"old": float("inf"), "new": float("inf")}
        for _ in range(args.rounds):  # alternate, so that load on the machine hits both
            times["old"] = min(times["old"], once_ms(make(old)))
            times["new"] = min(times["new"], once_ms(make(current)))
        print(
            f"{label:10} old {times['old']:7.1f} ms  new {times['new']:7.1f} ms"
            f"  ratio {times['old'] / times['new']:.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

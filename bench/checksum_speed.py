"""Checksum speed: Keccak-256 in pure Python against pycryptodome's, and what it costs
to scan texts stuffed with address look-alikes.

    python bench/checksum_speed.py [--seconds S] [--stuffed-kb KB]

1. Hashes per second of the pure-Python Keccak the validators used before (kept in
   tests/scan/test_detectors_addresses.py as the tests' oracle) and of the one they use
   now (milter/scan/detectors/addresses.py), on the inputs the validators hash: the 40
   hex digits of an Ethereum address (EIP-55) and the 65 bytes of a Monero address
   before its checksum.
2. Texts of about --stuffed-kb KB made so that as many chunks as possible begin a
   candidate whose checksum must be computed (the worst case of the address scan in
   milter/scan/detectors/crypto.py), with a valid address at the end: candidates
   checked, seconds, seconds per MB, and whether the valid address was found. The
   Monero text is scanned with the current Keccak and with the old one.

Figures vary with the machine; compare the ratios, measured in one run.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from milter.scan.detectors import addresses, crypto  # noqa: E402
from tests.scan.test_detectors_addresses import reference_keccak_256  # noqa: E402

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
ETH_DIGITS = b"5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"  # what EIP-55 hashes
XMR = (
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVG"
    "QBEP3A"
)
GENESIS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


def hashes_per_second(
    hash_function: Callable[[bytes], bytes], data: bytes, seconds: float
) -> float:
    count = 0
    began = time.perf_counter()
    deadline = began + seconds
    while (now := time.perf_counter()) < deadline:
        for _ in range(10):
            hash_function(data)
        count += 10
    return count / (now - began)


def _decodes_as_monero(candidate: str) -> bool:
    raw = addresses._monero_base58_decode(candidate)
    return raw is not None and addresses._MONERO_PREFIXES.get(raw[0]) == len(raw)


def monero_stuffing(size: int) -> str:
    """About ``size`` characters in which every chunk begins a 95-character Monero
    candidate that decodes with a mainnet prefix, so each one costs a Keccak.

    Fifteen chunks of six characters and one of five repeat: from any chunk, sixteen
    chunks (the most a candidate joins) make 95 characters. The chunks themselves are
    searched for, from a fixed seed, until every such candidate decodes.
    """
    rng = random.Random(3)
    while True:
        six = "4" + "".join(rng.choice(B58) for _ in range(5))
        five = "4" + "".join(rng.choice(B58) for _ in range(4))
        cycle = [six] * 15 + [five]
        joins = ["".join((cycle * 2)[k : k + 16]) for k in range(16)]
        if all(_decodes_as_monero(join) for join in joins):
            break
    period = " ".join(cycle)
    return " ".join([period] * max(1, size // (len(period) + 1)))


def bitcoin_stuffing(size: int) -> str:
    """About ``size`` characters of two-character chunks that begin with '1': every
    join of up to sixteen is a Base58Check candidate (tests/scan/test_detectors_crypto.py,
    test_adversarial_chunks_stay_bounded)."""
    return " ".join("1" + B58[i % 58] for i in range(size // 3))


def scan(text: str, kinds: frozenset[str]) -> tuple[int, int, float]:
    """(hits, candidates checked, seconds) of one address scan of ``text``."""
    began = time.perf_counter()
    hits, checked = crypto._scan_addresses(text, kinds)
    return len(hits), checked, time.perf_counter() - began


def report_scan(label: str, text: str, kinds: frozenset[str]) -> None:
    hits, checked, seconds = scan(text, kinds)
    print(
        f"{label}: {len(text) / 1000:.0f} KB, {checked} candidates checked, {seconds:.3f} s, "
        f"{seconds / len(text) * 1e6:.2f} s/MB, valid address at the end found: {hits == 1}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per hash measurement")
    parser.add_argument("--stuffed-kb", type=int, default=100, help="size of stuffed texts")
    args = parser.parse_args()

    for label, data in (("ethereum 40 B", ETH_DIGITS), ("monero 65 B", bytes(range(65)))):
        old = hashes_per_second(reference_keccak_256, data, args.seconds)
        new = hashes_per_second(addresses.keccak_256, data, args.seconds)
        print(
            f"keccak-256 {label}: pure Python {old:,.0f}/s ({1e6 / old:.1f} us), "
            f"pycryptodome {new:,.0f}/s ({1e6 / new:.2f} us), ratio {new / old:.1f}x"
        )

    size = args.stuffed_kb * 1000
    monero = monero_stuffing(size) + " " + XMR
    bitcoin = bitcoin_stuffing(size) + " " + GENESIS
    report_scan("monero stuffing, pycryptodome keccak", monero, frozenset({"monero"}))
    current = addresses.keccak_256
    addresses.keccak_256 = reference_keccak_256  # the old Keccak, for this one scan
    try:
        report_scan("monero stuffing, pure-Python keccak", monero, frozenset({"monero"}))
    finally:
        addresses.keccak_256 = current
    report_scan("bitcoin stuffing", bitcoin, frozenset({"bitcoin"}))


if __name__ == "__main__":
    main()

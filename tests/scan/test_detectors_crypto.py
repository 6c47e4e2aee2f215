"""bitcoin_address and crypto_address (milter/scan/detectors/crypto.py): whole and
split addresses found, look-alikes rejected, and the work bounded."""

from __future__ import annotations

import random
import time

import pytest

from milter.scan.detectors import DETECTORS, DetectorContext
from milter.scan.detectors.crypto import _MAX_CHUNKS, _scan_addresses
from milter.scan.normalize import normalize
from tests.scan.test_detectors import detect

GENESIS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
BECH32 = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
TAPROOT = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
XMR = (
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVG"
    "QBEP3A"
)
XMR_INTEGRATED = (
    "4LL9oSLmtpccfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2"
    "bYXZKKQePHES9khPK"
)
B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def groups(text: str, size: int, sep: str) -> str:
    return sep.join(text[i : i + size] for i in range(0, len(text), size))


# --- bitcoin_address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Send the bitcoin to {GENESIS} today.", [(GENESIS, GENESIS)]),
        (f"BTC:{P2SH}", [(P2SH, P2SH)]),
        (f"({BECH32})", [(BECH32, BECH32)]),
        (f"wallet {BECH32.upper()}", [(BECH32, BECH32.upper())]),
        (f"taproot {TAPROOT}", [(TAPROOT, TAPROOT)]),
        (f"two: {GENESIS} and {P2SH}", [(GENESIS, GENESIS), (P2SH, P2SH)]),
        # Split by the sender to defeat pattern matching.
        (groups(GENESIS, 5, " "), [(GENESIS, groups(GENESIS, 5, " "))]),
        (groups(GENESIS, 4, "-"), [(GENESIS, groups(GENESIS, 4, "-"))]),
        (groups(GENESIS, 7, "."), [(GENESIS, groups(GENESIS, 7, "."))]),
        (groups(P2SH, 6, "_"), [(P2SH, groups(P2SH, 6, "_"))]),
        (groups(P2SH, 9, " - "), [(P2SH, groups(P2SH, 9, " - "))]),
        (
            f"to: {GENESIS[:17]}\n{GENESIS[17:]}\nThanks",
            [(GENESIS, f"{GENESIS[:17]}\n{GENESIS[17:]}")],
        ),
        (
            f"to {GENESIS[:10]}\r\n   {GENESIS[10:]}",
            [(GENESIS, f"{GENESIS[:10]}\r\n   {GENESIS[10:]}")],
        ),
        (groups(BECH32, 4, "-"), [(BECH32, groups(BECH32, 4, "-"))]),
        ("bc1q-ar0s-rrr7", []),
        (f"bc {BECH32[2:]}", [(BECH32, f"bc {BECH32[2:]}")]),
        (groups(TAPROOT, 8, " "), [(TAPROOT, groups(TAPROOT, 8, " "))]),
        # Invisible characters are removed by normalisation; evidence keeps them.
        (f"{GENESIS[:9]}\u200b{GENESIS[9:]}", [(GENESIS, f"{GENESIS[:9]}\u200b{GENESIS[9:]}")]),
        # Full-width letters and digits fold to ASCII (NFKC).
        (
            "".join(chr(ord(c) + 0xFEE0) for c in GENESIS),
            [(GENESIS, "".join(chr(ord(c) + 0xFEE0) for c in GENESIS))],
        ),
    ],
)
def test_bitcoin_address_finds(text: str, expected: list[tuple[str, str]]) -> None:
    assert detect("bitcoin_address", text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",  # checksum broken
        "1XCoeLDyoTqnqHbGhupYPTaogELbnNa5or",  # random Base58
        GENESIS.lower(),  # Base58 is case-sensitive
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",  # testnet
        f"x{GENESIS}",  # inside a longer word
        f"{GENESIS}x",
        groups(GENESIS, 5, ", "),  # a list, not one address
        groups(GENESIS, 5, " / "),
        groups(GENESIS, 2, " "),  # 17 pieces: more than a join tries
        "BTC",
        "Pay 0.1 BTC in bitcoin",
        ETH,
        XMR,
        "",
    ],
)
def test_bitcoin_address_rejects(text: str) -> None:
    assert detect("bitcoin_address", text) == []


def test_address_at_the_end_of_a_join_window_is_found() -> None:
    # A valid address after a run of Base58-looking chunks that start with '1'.
    filler = " ".join(["1abc"] * 30)
    assert detect("bitcoin_address", f"{filler} {groups(GENESIS, 5, ' ')} end") == [
        (GENESIS, groups(GENESIS, 5, " "))
    ]


def test_bitcoin_address_work_is_linear() -> None:
    rng = random.Random(7)
    tokens = []
    size = 0
    while size < 200_000:
        token = "".join(rng.choice(B58_ALPHABET) for _ in range(rng.randint(3, 12)))
        tokens.append(token)
        size += len(token) + 1
    tokens.insert(len(tokens) // 2, groups(GENESIS, 5, " "))
    text = " ".join(tokens)
    began = time.perf_counter()
    hits = DETECTORS["bitcoin_address"](normalize(text), DetectorContext())
    elapsed = time.perf_counter() - began
    assert [hit.value for hit in hits] == [GENESIS]
    # The scan validates at most one candidate per join of a chunk with its successors.
    _hits, checked = _scan_addresses(text, frozenset({"bitcoin"}))
    assert checked <= _MAX_CHUNKS * len(tokens)
    assert elapsed < 5  # generous: the scan itself takes a fraction of a second


def test_adversarial_chunks_stay_bounded() -> None:
    # Every chunk may start an address and every join stays plausible: the worst case.
    text = " ".join("1" + B58_ALPHABET[i % 58] for i in range(20_000))
    hits, checked = _scan_addresses(text, frozenset({"bitcoin", "ethereum", "monero"}))
    assert hits == []
    assert checked <= _MAX_CHUNKS * 20_000


def test_a_monero_address_after_many_look_alikes_is_found() -> None:
    # Each look-alike decodes to a mainnet prefix and fails only its checksum, so each
    # costs a Keccak hash. A cap of 200 such checks a text once let a real address hide
    # behind them; every one is checked now, and the work stays one check per candidate.
    look_alike = XMR[:-1] + "B"
    text = " ".join([look_alike] * 1_000 + [XMR])
    hits, checked = _scan_addresses(text, frozenset({"monero"}))
    assert [hit.value for hit in hits] == [XMR]
    assert checked == 1_001


# --- crypto_address ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"send {GENESIS}", [(GENESIS, GENESIS)]),
        (f"eth {ETH}.", [(ETH, ETH)]),
        (f"eth {ETH.lower()}", [(ETH, ETH.lower())]),  # value in EIP-55 spelling
        (f"eth {groups(ETH, 10, ' ')}", [(ETH, groups(ETH, 10, " "))]),
        (f"XMR: {XMR}", [(XMR, XMR)]),
        (f"XMR: {XMR[:60]}\n{XMR[60:]}", [(XMR, f"{XMR[:60]}\n{XMR[60:]}")]),
        (f"XMR: {XMR_INTEGRATED}", [(XMR_INTEGRATED, XMR_INTEGRATED)]),
        (f"{ETH} or {BECH32}", [(ETH, ETH), (BECH32, BECH32)]),
    ],
)
def test_crypto_address_finds(text: str, expected: list[tuple[str, str]]) -> None:
    assert detect("crypto_address", text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # EIP-55 checksum broken
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00",  # 42 digits
        "tx 0x" + "ab" * 32,  # a transaction hash
        XMR[:-1] + "B",
        "4" * 95,
    ],
)
def test_crypto_address_rejects(text: str) -> None:
    assert detect("crypto_address", text) == []

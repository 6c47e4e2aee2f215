"""The other coins of extortion mail (issue 13): Tron (USDT-TRC20), Litecoin, Dogecoin and
Bitcoin Cash addresses, valid by their checksums, found whole or split, and ordinary
words that start like them cost no check."""

from __future__ import annotations

import hashlib

import pytest

from milter.scan.detectors import DETECTORS
from milter.scan.detectors.altcoins import (
    is_cashaddr,
    is_dogecoin_address,
    is_litecoin_address,
    is_solana_key,
    is_tron_address,
)
from milter.scan.detectors.base import DetectorContext
from milter.scan.detectors.crypto import (
    ALTCOINS,
    BITCOIN,
    SOLANA,
    _scan_addresses,
    _start_pattern,
    address_detector,
)
from milter.scan.normalize import normalize

# Public addresses: the USDT contract on Tron, Litecoin's and Dogecoin's documentation
# examples, the cashaddr spec's test vector.
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
LTC = "LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9"
LTC_P2SH = "MGxNPPB7eBoWPUaprtX9v9CXJZoD2465zN"
LTC_SEGWIT = "ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea"
DOGE = "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"
BCH = "qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"


def flip(address: str, at: int = 10) -> str:
    """The address with one character changed: its checksum no longer verifies."""
    char = address[at]
    return address[:at] + ("2" if char != "2" else "3") + address[at + 1 :]


@pytest.mark.parametrize(
    ("check", "good"),
    [
        (is_tron_address, TRON),
        (is_litecoin_address, LTC),
        (is_litecoin_address, LTC_P2SH),
        (is_litecoin_address, LTC_SEGWIT),
        (is_dogecoin_address, DOGE),
        (is_cashaddr, BCH),
        (is_cashaddr, "bitcoincash:" + BCH),
        (is_cashaddr, BCH.upper()),
    ],
)
def test_valid_addresses_pass_and_one_changed_character_fails(check, good: str) -> None:
    assert check(good)
    assert not check(flip(good, len(good) - 5))


def test_a_coin_is_not_another() -> None:
    assert not is_tron_address(DOGE) and not is_dogecoin_address(TRON)
    assert not is_litecoin_address("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")


def found(text: str, *kinds: str) -> list[str]:
    detect = address_detector(*kinds)
    return [hit.value for hit in detect(normalize(text), DetectorContext())]


def test_the_detector_finds_each_coin_whole_and_split() -> None:
    text = f"USDT (TRC20): {TRON}. LTC {LTC} or {LTC_SEGWIT}; DOGE {DOGE}; BCH {BCH}."
    assert found(text, *ALTCOINS) == [TRON, LTC, LTC_SEGWIT, DOGE, BCH]
    split = " ".join(TRON[i : i + 5] for i in range(0, len(TRON), 5))
    assert found(f"send USDT to {split} now", *ALTCOINS) == [TRON]
    assert found(text, BITCOIN) == []  # only the kinds asked for


def test_words_that_start_like_an_address_start_no_candidate() -> None:
    prose = (
        "The Team Leader Mark Dave met Lisa and Mike. Quick quiet people plan the "
        "March meeting in Düsseldorf; Tuesday Tom, Monday Lena. " * 200
    )
    starts = _start_pattern(frozenset(ALTCOINS))
    hits, checked = _scan_addresses(prose, frozenset(ALTCOINS), starts)
    assert hits == [] and checked == 0


def test_crypto_address_includes_the_other_coins() -> None:
    text = f"Pay 500 USDT (TRC20) to {TRON} or BTC to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    hits = DETECTORS["crypto_address"](normalize(text), DetectorContext())
    assert [hit.value for hit in hits] == [TRON, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]


# -- Solana: no checksum; 32 bytes in Base58, after the coin's name --

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58(data: bytes) -> str:
    value = int.from_bytes(data, "big")
    out = ""
    while value:
        value, digit = divmod(value, 58)
        out = _B58[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


# The System Program's address (32 zero bytes) is all '1's: the key of a real wallet
# looks like this one, made from 32 bytes of a SHA-256.
SOL = base58(hashlib.sha256(b"scam-milter test wallet").digest())


def test_solana_keys_are_32_bytes_of_base58() -> None:
    assert is_solana_key(SOL)
    assert is_solana_key(base58(b"\0" + hashlib.sha256(b"x").digest()[1:]))  # a leading 0
    assert not is_solana_key(base58(hashlib.sha256(b"x").digest()[:31]))  # 31 bytes
    assert not is_solana_key(base58(hashlib.sha512(b"x").digest()[:33]))  # 33 bytes
    assert not is_solana_key("Thequickbrownfoxjumpsoverthelazydogs")  # no digit
    assert not is_solana_key("0" + SOL[1:])  # '0' is no Base58 letter


def test_a_solana_key_counts_after_the_coins_name_only() -> None:
    assert found(f"Send 2 SOL to this wallet: {SOL}", SOLANA) == [SOL]
    assert found(f"Solana address {SOL} within 48 hours", SOLANA) == [SOL]
    # The same token as an order number, a file id: no coin named, no address.
    assert found(f"Order reference {SOL} shipped today", SOLANA) == []
    # Named in another sentence: not this token's coin.
    assert found(f"We accept SOL. Your ticket is {SOL}", SOLANA) == []
    # "solution", "console": the word, not letters inside a word.
    assert found(f"The solution is in ticket {SOL}", SOLANA) == []
    hits = DETECTORS["crypto_address"](normalize(f"Pay in SOL: {SOL}"), DetectorContext())
    assert [hit.value for hit in hits] == [SOL]

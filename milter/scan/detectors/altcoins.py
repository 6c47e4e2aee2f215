"""Checksums of the other coins extortion mail asks for (issue 13): Tron (USDT-TRC20),
Litecoin, Dogecoin and Bitcoin Cash; and Solana's keys, which have none. Bitcoin,
Ethereum and Monero are in addresses.py.

Tron, Litecoin and Dogecoin addresses are Base58Check like Bitcoin's legacy ones, told
apart by their version byte; Litecoin's segwit addresses are bech32 with "ltc"; Bitcoin
Cash's are cashaddr, a bech32 cousin with a 40-bit checksum over the "bitcoincash"
prefix (the spec: github.com/bitcoincashorg/bitcoincash.org, spec/cashaddr.md).
"""

from __future__ import annotations

from typing import Final

from milter.scan.detectors.addresses import (
    base58_int,
    base58check_version,
    decode_segwit_address,
)

__all__ = [
    "DOGECOIN_VERSIONS",
    "LITECOIN_VERSIONS",
    "TRON_VERSIONS",
    "is_cashaddr",
    "is_dogecoin_address",
    "is_litecoin_address",
    "is_solana_key",
    "is_tron_address",
]

TRON_VERSIONS: Final = frozenset({0x41})  # 'T...'
LITECOIN_VERSIONS: Final = frozenset({0x30, 0x32})  # 'L...' P2PKH, 'M...' P2SH
DOGECOIN_VERSIONS: Final = frozenset({0x1E})  # 'D...' P2PKH


def _base58check(text: str, versions: frozenset[int]) -> bool:
    if not 25 <= len(text) <= 35:
        return False
    value = base58_int(text)
    if value is None:
        return False
    return base58check_version(value, len(text) - len(text.lstrip("1")), versions) is not None


def is_tron_address(text: str) -> bool:
    return _base58check(text, TRON_VERSIONS)


def is_litecoin_address(text: str) -> bool:
    if text[:4].lower() == "ltc1":
        return decode_segwit_address(text, "ltc") is not None
    return _base58check(text, LITECOIN_VERSIONS)


def is_dogecoin_address(text: str) -> bool:
    return _base58check(text, DOGECOIN_VERSIONS)


# --- cashaddr ------------------------------------------------------------------------

_CHARSET: Final = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_INDEX: Final = {char: value for value, char in enumerate(_CHARSET)}
_GENERATOR: Final = (0x98F2BC8E61, 0x79B76D99E2, 0xF33E5FB3C4, 0xAE2EABE2A8, 0x1E4F43E470)
_PREFIX: Final = "bitcoincash"


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 35
        checksum = ((checksum & 0x07FFFFFFFF) << 5) ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                checksum ^= generator
    return checksum ^ 1


def is_cashaddr(text: str) -> bool:
    """A Bitcoin Cash address, with or without its "bitcoincash:" prefix: P2PKH ('q')
    or P2SH ('p') with a 160-bit hash, 42 characters after the prefix."""
    if text != text.lower() and text != text.upper():
        return False
    body = text.lower()
    if body.startswith(_PREFIX + ":"):
        body = body[len(_PREFIX) + 1 :]
    if len(body) != 42 or body[0] not in "qp":
        return False
    data = [_INDEX.get(char, -1) for char in body]
    if -1 in data:
        return False
    prefix = [ord(char) & 31 for char in _PREFIX]
    return _polymod([*prefix, 0, *data]) == 0


# --- Solana --------------------------------------------------------------------------


def is_solana_key(text: str) -> bool:
    """A Solana address: an ed25519 public key, 32 bytes in Base58 (32 to 44 characters).

    It has no checksum, so this says only that the text could be one: 32 bytes exactly,
    letters of both cases and a digit (what 32 random bytes in Base58 nearly always
    show, and long words, product codes and hex never do). The detector asks for the
    coin's name next to it as well (crypto.py).
    """
    if not 32 <= len(text) <= 44:
        return False
    if text.isdigit() or text.isupper() or text.islower() or text.isalpha():
        return False
    value = base58_int(text)
    if value is None:
        return False
    zeros = len(text) - len(text.lstrip("1"))  # each leading '1' is a zero byte
    return (value.bit_length() + 7) // 8 + zeros == 32

"""Checksum validation of cryptocurrency addresses (Bitcoin, Ethereum, Monero).

Extortion mail names a wallet to pay into. A string that merely looks like an address
proves little; one whose checksum verifies is almost certainly a real address (a random
string passes a 32-bit checksum once in four billion tries), so rules can weigh it heavily.

Ethereum and Monero checksums need Keccak-256, which is not in hashlib:
``hashlib.sha3_256`` is the FIPS 202 variant, whose padding differs. pycryptodome's
``Crypto.Hash.keccak`` is the original Keccak (the tests check it against EIP-55's own
addresses and Monero's published ones).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container

from Crypto.Hash import keccak

__all__ = [
    "address_kind",
    "base58_int",
    "base58check_version",
    "decode_segwit_address",
    "ethereum_checksum_address",
    "is_bitcoin_address",
    "is_bitcoin_base58_address",
    "is_bitcoin_base58_value",
    "is_bitcoin_segwit_address",
    "is_ethereum_address",
    "is_monero_address",
    "keccak_256",
]

# --- Keccak-256 -------------------------------------------------------------------------


def keccak_256(data: bytes) -> bytes:
    """Keccak-256 as used by Ethereum and Monero (not FIPS 202 SHA3-256)."""
    # pycryptodome's C Keccak: about 3 us a hash where the pure-Python permutation it
    # replaces took about 250 (bench/checksum_speed.py).
    return keccak.new(data=data, digest_bits=256).digest()


# --- Bitcoin Base58Check ----------------------------------------------------------------

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: value for value, char in enumerate(_BASE58)}
_BASE58CHECK_VERSIONS = (0x00, 0x05)  # P2PKH ('1...'), P2SH ('3...') on mainnet


def base58_int(text: str) -> int | None:
    """The number a Base58 string spells (Bitcoin's alphabet), None for a foreign
    character."""
    value = 0
    for char in text:
        digit = _BASE58_INDEX.get(char)
        if digit is None:
            return None
        value = value * 58 + digit
    return value


def is_bitcoin_base58_value(value: int, leading_ones: int) -> bool:
    """``is_bitcoin_base58_address`` for a string already decoded to ``value``, which
    began with ``leading_ones`` '1' characters.

    A caller that assembles candidates piece by piece (a split address) can extend the
    number instead of decoding every candidate again.
    """
    return base58check_version(value, leading_ones, _BASE58CHECK_VERSIONS) is not None


def base58check_version(
    value: int, leading_ones: int, versions: Container[int] | None = None
) -> int | None:
    """The version byte of a 25-byte Base58Check string (decoded to ``value``, which
    began with ``leading_ones`` '1' characters) whose checksum verifies, else None.
    Bitcoin, Litecoin, Dogecoin and Tron addresses are all this, told apart by it; with
    ``versions``, others are refused before the hash."""
    # Leading '1's stand for leading zero bytes and the rest decodes without a zero byte
    # in front, so the decoding is one-to-one: "11A1z..." is not "1A1z..." respelled.
    body = 25 - leading_ones
    if body <= 0 or not 8 * (body - 1) < value.bit_length() <= 8 * body:
        return None
    raw = b"\0" * leading_ones + value.to_bytes(body, "big")
    if versions is not None and raw[0] not in versions:
        return None
    payload, checksum = raw[:21], raw[21:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return None
    return raw[0]


def is_bitcoin_base58_address(text: str) -> bool:
    """True for a mainnet P2PKH or P2SH address whose Base58Check checksum verifies."""
    # 25 bytes never need more than 35 characters; the bound also caps the big-int work.
    if not 25 <= len(text) <= 35:
        return False
    value = base58_int(text)
    if value is None:
        return False
    return is_bitcoin_base58_value(value, len(text) - len(text.lstrip("1")))


# --- Bitcoin bech32 / bech32m (BIP-173, BIP-350) ---------------------------------------

_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {char: value for value, char in enumerate(_BECH32_CHARSET)}
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _bech32_polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_BECH32_GENERATOR):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum


def _five_to_eight_bits(data: list[int]) -> bytes | None:
    acc = 0
    bits = 0
    out = bytearray()
    for value in data:
        acc = ((acc << 5) | value) & 0xFFF
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    # BIP-173: at most 4 bits of padding, and they must be zero.
    if bits >= 5 or (acc << (8 - bits)) & 0xFF:
        return None
    return bytes(out)


def decode_segwit_address(text: str, hrp: str = "bc") -> tuple[int, bytes] | None:
    """(witness version, witness program) of a valid segwit address for ``hrp``, else None.

    Witness version 0 must carry a bech32 checksum and versions 1-16 a bech32m one
    (BIP-350); this is what stops a v0 address with a bech32m checksum from passing.
    """
    if len(text) > 90 or (text != text.lower() and text != text.upper()):
        return None
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or sep + 7 > len(text) or text[:sep] != hrp:
        return None
    data = []
    for char in text[sep + 1 :]:
        value = _BECH32_INDEX.get(char)
        if value is None:
            return None
        data.append(value)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _bech32_polymod(expanded + data)
    if len(data) < 7:  # checksum only: no witness version at all
        return None
    version = data[0]
    if version > 16 or constant != (_BECH32_CONST if version == 0 else _BECH32M_CONST):
        return None
    program = _five_to_eight_bits(data[1:-6])
    if program is None or not 2 <= len(program) <= 40:
        return None
    if version == 0 and len(program) not in (20, 32):
        return None
    return version, program


def is_bitcoin_segwit_address(text: str) -> bool:
    """True for a valid mainnet ('bc') bech32 or bech32m segwit address."""
    return decode_segwit_address(text, "bc") is not None


def is_bitcoin_address(text: str) -> bool:
    """True for a checksum-valid mainnet Bitcoin address (Base58Check or segwit)."""
    if text[:3].lower() == "bc1":
        return is_bitcoin_segwit_address(text)
    return is_bitcoin_base58_address(text)


# --- Ethereum (EIP-55) -------------------------------------------------------------------

_ETHEREUM = re.compile(r"0x[0-9a-fA-F]{40}")


def ethereum_checksum_address(text: str) -> str:
    """The EIP-55 mixed-case spelling of a '0x' + 40 hex address."""
    digits = text[2:].lower()
    digest = keccak_256(digits.encode("ascii")).hex()
    return "0x" + "".join(
        char.upper() if char.isalpha() and int(digest[i], 16) >= 8 else char
        for i, char in enumerate(digits)
    )


def is_ethereum_address(text: str) -> bool:
    """True for '0x' + 40 hex digits; a mixed-case one must pass its EIP-55 checksum.

    All-lower and all-upper spellings carry no checksum (EIP-55), so they are accepted
    on their shape alone.
    """
    if not _ETHEREUM.fullmatch(text):
        return False
    digits = text[2:]
    if digits == digits.lower() or digits == digits.upper():
        return True
    return ethereum_checksum_address(text) == text


# --- Monero -----------------------------------------------------------------------------

# Monero's Base58 encodes 8-byte blocks into 11 characters each, and a short last block
# of n bytes into _MONERO_BLOCK_CHARS[n] characters.
_MONERO_BLOCK_CHARS = (0, 2, 3, 5, 6, 7, 9, 10, 11)
# Mainnet network bytes (one-byte varints) and the decoded length each implies:
# prefix + spend key + view key (+ 8-byte payment id) + 4-byte checksum.
_MONERO_PREFIXES = {18: 69, 42: 69, 19: 77}  # standard '4', subaddress '8', integrated '4'


def _monero_base58_decode(text: str) -> bytes | None:
    full_blocks, rest = divmod(len(text), 11)
    if rest not in _MONERO_BLOCK_CHARS:
        return None
    blocks = [(text[11 * i : 11 * i + 11], 8) for i in range(full_blocks)]
    if rest:
        blocks.append((text[11 * full_blocks :], _MONERO_BLOCK_CHARS.index(rest)))
    out = bytearray()
    for chars, size in blocks:
        value = base58_int(chars)
        if value is None or value >> (8 * size):
            return None
        out += value.to_bytes(size, "big")
    return bytes(out)


def is_monero_address(text: str) -> bool:
    """True for a mainnet Monero standard, subaddress or integrated address.

    Standard and subaddresses are 95 characters ('4...', '8...'), integrated ones 106;
    the checksum is the first 4 bytes of Keccak-256 over the rest.
    """
    if len(text) not in (95, 106) or text[0] not in "48":
        return False
    raw = _monero_base58_decode(text)
    if raw is None or _MONERO_PREFIXES.get(raw[0]) != len(raw):
        return False
    return keccak_256(raw[:-4])[:4] == raw[-4:]


def address_kind(text: str) -> str | None:
    """'bitcoin', 'ethereum' or 'monero' when ``text`` is a valid address of that kind."""
    if is_bitcoin_address(text):
        return "bitcoin"
    if is_ethereum_address(text):
        return "ethereum"
    if is_monero_address(text):
        return "monero"
    return None

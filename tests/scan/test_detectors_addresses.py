"""Address validation against published vectors and against addresses built here.

The encoders below are written for the tests, independently of the validators in
milter.scan.detectors.addresses, so a payload encoded here and accepted there checks both
sides.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from milter.scan.detectors.addresses import (
    address_kind,
    decode_segwit_address,
    ethereum_checksum_address,
    is_bitcoin_address,
    is_bitcoin_base58_address,
    is_bitcoin_segwit_address,
    is_ethereum_address,
    is_monero_address,
    keccak_256,
)

# --- A test-side Keccak ------------------------------------------------------------------
#
# The pure-Python Keccak the validators used before pycryptodome's, kept as the oracle:
# checked here against hashlib's SHA-3 (the same permutation with FIPS 202 padding), and
# timed against pycryptodome by bench/checksum_speed.py.

_MASK64 = (1 << 64) - 1


def _round_constants() -> tuple[int, ...]:
    # Derived from the spec's LFSR rather than typed in: 24 hex literals are easy to
    # mistype and hard to review.
    constants = []
    lfsr = 1
    for _ in range(24):
        value = 0
        for j in range(7):
            if lfsr & 1:
                value |= 1 << ((1 << j) - 1)
            lfsr = ((lfsr << 1) ^ 0x171) if lfsr & 0x80 else (lfsr << 1)
        constants.append(value)
    return tuple(constants)


def _rho_pi() -> tuple[tuple[int, int, int], ...]:
    # (source lane, destination lane, rotation) for the combined rho and pi steps;
    # lane (x, y) lives at index x + 5 * y.
    steps = [(0, 0, 0)]
    x, y = 1, 0
    for t in range(24):
        steps.append((x + 5 * y, y + 5 * ((2 * x + 3 * y) % 5), ((t + 1) * (t + 2) // 2) % 64))
        x, y = y, (2 * x + 3 * y) % 5
    return tuple(steps)


_ROUND_CONSTANTS = _round_constants()
_RHO_PI = _rho_pi()


def _rotate(lane: int, shift: int) -> int:
    return ((lane << shift) | (lane >> (64 - shift))) & _MASK64


def _keccak_f1600(state: list[int]) -> list[int]:
    lanes = state
    for constant in _ROUND_CONSTANTS:
        parity = [
            lanes[x] ^ lanes[x + 5] ^ lanes[x + 10] ^ lanes[x + 15] ^ lanes[x + 20]
            for x in range(5)
        ]
        theta = [parity[(x - 1) % 5] ^ _rotate(parity[(x + 1) % 5], 1) for x in range(5)]
        lanes = [lane ^ theta[i % 5] for i, lane in enumerate(lanes)]
        moved = [0] * 25
        for source, dest, shift in _RHO_PI:
            moved[dest] = _rotate(lanes[source], shift)
        lanes = [
            moved[i] ^ (~moved[(i + 1) % 5 + i - i % 5] & moved[(i + 2) % 5 + i - i % 5])
            for i in range(25)
        ]
        lanes[0] ^= constant
    return lanes


def sponge(data: bytes, *, rate: int, pad: int, out_len: int) -> bytes:
    # Keccak (as Ethereum and Monero use it) pads with 0x01; SHA-3 with 0x06.
    padded = bytearray(data)
    padded.append(pad)
    padded.extend(b"\0" * (-len(padded) % rate))
    padded[-1] |= 0x80
    state = [0] * 25
    for offset in range(0, len(padded), rate):
        block = padded[offset : offset + rate]
        for i in range(rate // 8):
            state[i] ^= int.from_bytes(block[8 * i : 8 * i + 8], "little")
        state = _keccak_f1600(state)
    out = b"".join(lane.to_bytes(8, "little") for lane in state[: rate // 8])
    return out[:out_len]


def reference_keccak_256(data: bytes) -> bytes:
    """Keccak-256 with Ethereum's and Monero's padding, in pure Python."""
    return sponge(data, rate=136, pad=0x01, out_len=32)


# --- Test-side encoders ------------------------------------------------------------------

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, digit = divmod(number, 58)
        out = B58[digit] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def base58check(version: int, payload: bytes) -> str:
    body = bytes([version]) + payload
    return b58encode(body + hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4])


def bech32_polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if ((top >> i) & 1) else 0
    return chk


def segwit_encode(hrp: str, version: int, program: bytes, const: int | None = None) -> str:
    bits = "".join(f"{byte:08b}" for byte in program)
    bits += "0" * (-len(bits) % 5)
    data = [version] + [int(bits[i : i + 5], 2) for i in range(0, len(bits), 5)]
    if const is None:
        const = 1 if version == 0 else 0x2BC830A3
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = bech32_polymod(expanded + data + [0] * 6) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32[d] for d in data + checksum)


def monero_encode(data: bytes) -> str:
    sizes = [0, 2, 3, 5, 6, 7, 9, 10, 11]
    out = []
    for offset in range(0, len(data), 8):
        block = data[offset : offset + 8]
        number = int.from_bytes(block, "big")
        chars = ""
        for _ in range(sizes[len(block)]):
            number, digit = divmod(number, 58)
            chars = B58[digit] + chars
        out.append(chars)
    return "".join(out)


def monero_address(prefix: int, body: bytes) -> str:
    payload = bytes([prefix]) + body
    return monero_encode(payload + reference_keccak_256(payload)[:4])


def replace_char(text: str, index: int, alphabet: str) -> str:
    """``text`` with the character at ``index`` changed to another one of ``alphabet``."""
    old = text[index]
    new = alphabet[(alphabet.index(old) + 1) % len(alphabet)]
    return text[:index] + new + text[index + 1 :]


# --- Keccak ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "digest"),
    [
        (b"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"),
        (b"abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
    ],
)
def test_keccak_256_known_digests(data: bytes, digest: str) -> None:
    assert keccak_256(data).hex() == digest


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=400))
def test_the_sponge_with_sha3_padding_is_hashlib_sha3(data: bytes) -> None:
    # Same permutation, FIPS 202 padding: a cross-check of keccak-f[1600] against a
    # trusted implementation, including inputs longer than one 136-byte block.
    assert sponge(data, rate=136, pad=0x06, out_len=32) == hashlib.sha3_256(data).digest()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_keccak_256_is_the_reference_keccak(data: bytes) -> None:
    # pycryptodome's Keccak against the pure-Python one it replaced, over one and
    # several 136-byte blocks: the same padding (0x01), so the same digests.
    assert keccak_256(data) == reference_keccak_256(data)


def test_keccak_256_is_not_sha3_256() -> None:
    # The mistake this module's docstring warns of: hashlib's SHA3-256 pads differently.
    assert keccak_256(b"abc") != hashlib.sha3_256(b"abc").digest()


# --- Bitcoin Base58Check -----------------------------------------------------------------

VALID_BASE58 = [
    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",  # genesis block
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH",
    "3LRW7jeCvQCRdPF8S3yUCfRAx4eqXFmdcr",
    "1111111111111111111114oLvT2",  # hash160 of all zeros: many leading '1's
]


@pytest.mark.parametrize("address", VALID_BASE58)
def test_valid_base58_addresses(address: str) -> None:
    assert is_bitcoin_base58_address(address)
    assert is_bitcoin_address(address)
    assert address_kind(address) == "bitcoin"


@pytest.mark.parametrize(
    "address",
    [
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",  # last character changed
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0",  # '0' is not Base58
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNaa",  # one character too many
        "11A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",  # an extra leading zero byte
        "mrCDrCybB6J1vRfbwM5hemdJz73FwDBC8r",  # testnet P2PKH
        "2NByiBUaEXrhmqAsg7BbLpcQSAQs1EDwt5w",  # testnet P2SH
        "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLY",
        "1XCoeLDyoTqnqHbGhupYPTaogELbnNa5or",  # random Base58, so a bad checksum
        "",
        "1",
    ],
)
def test_invalid_base58_addresses(address: str) -> None:
    assert not is_bitcoin_base58_address(address)
    assert not is_bitcoin_address(address)


def test_wrong_version_byte_is_rejected() -> None:
    # A correct checksum over version 0x6f (testnet) is still not a mainnet address.
    assert not is_bitcoin_base58_address(base58check(0x6F, bytes(range(20))))
    assert not is_bitcoin_base58_address(base58check(0x01, bytes(range(20))))


@settings(max_examples=100)
@given(
    version=st.sampled_from([0x00, 0x05]),
    payload=st.binary(min_size=20, max_size=20),
    where=st.integers(min_value=0),
)
def test_encoded_base58_addresses_validate_and_mutants_fail(
    version: int, payload: bytes, where: int
) -> None:
    address = base58check(version, payload)
    assert address[0] == ("1" if version == 0 else "3")
    assert is_bitcoin_base58_address(address)
    assert not is_bitcoin_base58_address(replace_char(address, where % len(address), B58))


# --- Bitcoin segwit ----------------------------------------------------------------------

VALID_SEGWIT = [
    # BIP-173 / BIP-350 mainnet vectors
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
    "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
    "BC1SW50QGDZ25J",
    "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
]


@pytest.mark.parametrize("address", VALID_SEGWIT)
def test_valid_segwit_addresses(address: str) -> None:
    assert is_bitcoin_segwit_address(address)
    assert is_bitcoin_address(address)


def test_segwit_decoding_returns_version_and_program() -> None:
    assert decode_segwit_address("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4") == (
        0,
        bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6"),
    )
    version, program = decode_segwit_address(
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
    ) or (None, b"")
    assert version == 1
    assert program.hex() == "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"


@pytest.mark.parametrize(
    "address",
    [
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
    ],
)
def test_testnet_addresses_are_valid_for_tb_only(address: str) -> None:
    assert decode_segwit_address(address, "tb") is not None
    assert not is_bitcoin_address(address)


@pytest.mark.parametrize(
    "address",
    [
        # BIP-350 invalid vectors
        "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",  # unknown HRP
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # v1 with bech32
        "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",  # v16 with bech32
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",  # v0 with bech32m
        "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",  # 'o' in data
        "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",  # version 17
        "bc1pw5dgrnzv",  # 1-byte program
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",  # 41
        "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",  # v0 with a 16-byte program
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",  # padding > 4 bits
        "bc1gmk9yu",  # empty data section
        # BIP-173
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # bad checksum
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kV8F3T4",  # mixed case
        "",
        "bc1",
    ],
)
def test_invalid_segwit_addresses(address: str) -> None:
    assert not is_bitcoin_segwit_address(address)
    assert not is_bitcoin_address(address)


def test_non_zero_padding_is_rejected() -> None:
    # BIP-350 vector, on testnet: bits left over after the 5-to-8 conversion must be 0.
    address = "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j"
    assert decode_segwit_address(address, "tb") is None


@settings(max_examples=100)
@given(
    program=st.one_of(
        st.tuples(st.just(0), st.binary(min_size=20, max_size=20)),
        st.tuples(st.just(0), st.binary(min_size=32, max_size=32)),
        st.tuples(st.integers(1, 16), st.binary(min_size=2, max_size=40)),
    ),
    where=st.integers(min_value=0),
)
def test_encoded_segwit_addresses_validate_and_mutants_fail(
    program: tuple[int, bytes], where: int
) -> None:
    version, data = program
    address = segwit_encode("bc", version, data)
    assert decode_segwit_address(address) == (version, data)
    assert is_bitcoin_segwit_address(address.upper())
    # Mutate the data part only: a changed HRP is a different network, not a typo.
    index = 3 + where % (len(address) - 3)
    assert not is_bitcoin_segwit_address(replace_char(address, index, BECH32))
    # The other checksum constant for the same data is the BIP-350 mistake.
    wrong = 0x2BC830A3 if version == 0 else 1
    assert not is_bitcoin_segwit_address(segwit_encode("bc", version, data, wrong))


# --- Ethereum ----------------------------------------------------------------------------

EIP55 = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", EIP55)
def test_eip55_vectors(address: str) -> None:
    assert is_ethereum_address(address)
    assert ethereum_checksum_address(address.lower()) == address
    assert address_kind(address) == "ethereum"


@pytest.mark.parametrize(
    "address",
    [
        "0x52908400098527886E0F7030069857D2E4169EE7",  # all caps: no checksum
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77",  # all lower: no checksum
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
    ],
)
def test_single_case_ethereum_addresses_are_accepted(address: str) -> None:
    assert is_ethereum_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # one letter's case flipped
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",  # 39 digits
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd",  # 41 digits
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # no 0x
        "0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED",  # upper-case X
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg",  # not hex
    ],
)
def test_invalid_ethereum_addresses(address: str) -> None:
    assert not is_ethereum_address(address)


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.integers(min_value=0))
def test_checksummed_ethereum_addresses_and_case_flips(raw: bytes, where: int) -> None:
    address = ethereum_checksum_address("0x" + raw.hex())
    assert is_ethereum_address(address)
    letters = [i for i, char in enumerate(address) if i >= 2 and char.isalpha()]
    if len(letters) >= 2:  # with one letter, flipping it makes the address single-case
        i = letters[where % len(letters)]
        assert not is_ethereum_address(address[:i] + address[i].swapcase() + address[i + 1 :])


# --- Monero ------------------------------------------------------------------------------

VALID_MONERO = [
    # Monero General Fund donation address
    "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A",
    # docs.getmonero.org: standard and integrated, then a subaddress
    "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge",
    "4LL9oSLmtpccfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2bYXZKKQePHES9khPK",
    "87XWTP9tBECHXCwbyMK1KENoy4GeXkRviNzmhNc5Pvo5ExZ1QXjtRRyFeXPuHf7fNiS7KzBZNJeGweJhMbFB647171y66id",
]


@pytest.mark.parametrize("address", VALID_MONERO)
def test_valid_monero_addresses(address: str) -> None:
    assert is_monero_address(address)
    assert address_kind(address) == "monero"


@pytest.mark.parametrize(
    "address",
    [
        VALID_MONERO[0][:-1] + "B",  # checksum broken
        VALID_MONERO[0][:-1],  # one character short
        VALID_MONERO[0] + "A",
        "5" + VALID_MONERO[0][1:],
        VALID_MONERO[0][:40] + "0" + VALID_MONERO[0][41:],  # '0' is not Base58
        "4" * 95,
        "",
    ],
)
def test_invalid_monero_addresses(address: str) -> None:
    assert not is_monero_address(address)


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from([(18, 64, "4"), (42, 64, "8"), (19, 72, "4")]),
    body=st.binary(min_size=72, max_size=72),
    where=st.integers(min_value=0),
)
def test_encoded_monero_addresses_validate_and_mutants_fail(
    kind: tuple[int, int, str], body: bytes, where: int
) -> None:
    prefix, size, first = kind
    address = monero_address(prefix, body[:size])
    assert len(address) == (95 if size == 64 else 106)
    assert address[0] == first
    assert is_monero_address(address)
    assert not is_monero_address(replace_char(address, where % len(address), B58))


def test_monero_testnet_prefix_is_rejected() -> None:
    # 53 is the testnet network byte: a valid checksum, the wrong network.
    assert not is_monero_address(monero_address(53, bytes(64)))


def test_address_kind_of_garbage_is_none() -> None:
    assert address_kind("hello") is None
    assert address_kind("") is None

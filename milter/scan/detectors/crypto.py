"""The ``bitcoin_address`` and ``crypto_address`` detectors: checksum-valid Bitcoin,
Ethereum and Monero addresses, and those of the other coins extortion asks for (Tron for
USDT, Litecoin, Dogecoin, Bitcoin Cash), also when split into pieces (the checksums
themselves are in addresses.py and altcoins.py); and Solana keys next to the coin's
name, whole (with no checksum, a join of pieces would prove nothing)."""

from __future__ import annotations

import itertools
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass

from milter.scan.detectors.addresses import (
    base58_int,
    ethereum_checksum_address,
    is_bitcoin_base58_value,
    is_bitcoin_segwit_address,
    is_ethereum_address,
    is_monero_address,
)
from milter.scan.detectors.altcoins import (
    is_cashaddr,
    is_dogecoin_address,
    is_litecoin_address,
    is_solana_key,
    is_tron_address,
)
from milter.scan.detectors.base import Detector, DetectorContext, Hit
from milter.scan.normalize import NormalizedText

__all__ = [
    "ALTCOINS",
    "BITCOIN",
    "BITCOIN_CASH",
    "DOGECOIN",
    "ETHEREUM",
    "LITECOIN",
    "MONERO",
    "SOLANA",
    "TRON",
    "address_detector",
]

# Scammers split addresses so that no regex sees them whole: "1J9mG ro5tq DNje8 ...",
# "bc1q-xxxx-yyyy", or a line break in the middle. The scan looks at runs of ASCII letters
# and digits (chunks): from each chunk that can begin an address, it tries that chunk
# joined with the next ones. Only checksum-valid joins count, so a false join needs a
# checksum collision. The work is bounded per chunk (at most _MAX_CHUNKS pieces, no longer
# than the longest address of the kind), so the scan is linear in the text.
#
# Almost no chunk of ordinary text can begin an address, so one regex finds the chunks
# that can (at C speed), and chunks are only cut out from there on: cutting every word of
# every message into chunks in Python was most of the cost of a scan.

# Enough for a 62-character bech32 address in groups of four.
_MAX_CHUNKS = 16
# Monero candidates are checked however many a text holds. With a pure-Python Keccak
# (about 250 us a hash) they were capped at 200 a text, and a real address after 200
# look-alikes (about 1.4 KB of text) went unseen; with pycryptodome's (about 3 us), a text
# made so that every chunk costs a Monero check scans no slower than the Bitcoin worst
# case, which was never capped (bench/checksum_speed.py).

BITCOIN = "bitcoin"
ETHEREUM = "ethereum"
MONERO = "monero"
TRON = "tron"
LITECOIN = "litecoin"
DOGECOIN = "dogecoin"
BITCOIN_CASH = "bitcoin_cash"
SOLANA = "solana"
# A Solana key is taken only after the coin's name ("SOL", "Solana") in the same sentence:
# without a checksum, a 32-byte Base58 token alone could be any identifier.
_SOLANA = re.compile(
    r"(?i:(?<![0-9A-Za-z])(?:sol|solana)(?![0-9A-Za-z]))[^.!?]{0,80}?"
    r"(?<![0-9A-Za-z])([1-9A-HJ-NP-Za-km-z]{32,44})(?![0-9A-Za-z])"
)
_KINDS = (BITCOIN, ETHEREUM, MONERO)
# The coins whose addresses start with a capital letter or a lower-case one that many
# words start with ('T', 'L', 'M', 'D', 'q', 'p'): their first piece must hold a digit,
# which ordinary words do not, so that the words of a text start no candidate. An
# address split before its first digit is missed; a split one is rare in these coins.
ALTCOINS = (TRON, LITECOIN, DOGECOIN, BITCOIN_CASH)
_ALL_KINDS = frozenset((*_KINDS, *ALTCOINS))

_B58_CLASS = "[1-9A-HJ-NP-Za-km-z]"
_HEX_CLASS = "[0-9a-fA-F]"
_BECH32_DATA = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH_DATA_CLASS = f"[{_BECH32_DATA}{_BECH32_DATA.upper()}]"
# Later bech32 pieces may hold a '1' too, so that "bc" + "1q..." can be joined (the
# checksum rejects a stray '1').
_BECH_PIECE_CLASS = f"[1{_BECH32_DATA}{_BECH32_DATA.upper()}]"
# Not preceded / followed by an ASCII letter or digit: a whole chunk.
_CHUNK_START = "(?<![0-9A-Za-z].)"  # placed after the chunk's first character
_CHUNK_END = "(?![0-9A-Za-z])"


def _link(piece_class: str) -> re.Pattern[str]:
    """The next piece of an address: a joiner, then a whole chunk of ``piece_class``
    (a chunk with any other character ends the candidate).

    What may stand between two pieces: up to three of space, hyphen, dot, underscore
    (" - " included); newlines are already single spaces after normalisation.
    """
    return re.compile(rf"[ ._-]{{1,3}}({piece_class}+){_CHUNK_END}")


# Lengths worth checking, by what the candidate starts with: Base58Check needs 25-35
# characters; segwit 14 (v1-16 with a 2-byte program) to 74 (a 40-byte program after
# "bc1"); Ethereum 42; Monero 95, or 106 for an integrated address.
_BASE58CHECK_LENGTHS = frozenset(range(25, 36))
_CASHADDR_LENGTHS = frozenset({42})
_SEGWIT_LENGTHS = frozenset(range(14, 75))
_ETHEREUM_LENGTHS = frozenset({42})
_MONERO_LENGTHS = frozenset({95, 106})


@dataclass(frozen=True)
class _Start:
    """How an address of ``kind`` begins with the character it is keyed by."""

    kind: str
    rest: str  # a regex for the rest of the first chunk
    link: re.Pattern[str]  # the next piece, see _link
    lengths: frozenset[int]


_B58_LINK = _link(_B58_CLASS)
# The rest of a first piece that holds a digit (see ALTCOINS).
_WITH_DIGIT = f"(?=[A-HJ-NP-Za-km-z]*[1-9]){_B58_CLASS}*"
_CASH_WITH_DIGIT = f"(?=[a-z]*[02-9]){_BECH_DATA_CLASS}*"
_BECH_LINK = _link(_BECH_PIECE_CLASS)
_STARTS: Mapping[str, _Start] = types.MappingProxyType(
    {
        "1": _Start(BITCOIN, f"{_B58_CLASS}*", _B58_LINK, _BASE58CHECK_LENGTHS),
        "3": _Start(BITCOIN, f"{_B58_CLASS}*", _B58_LINK, _BASE58CHECK_LENGTHS),
        "b": _Start(BITCOIN, f"[cC](?:1{_BECH_DATA_CLASS}*)?", _BECH_LINK, _SEGWIT_LENGTHS),
        "B": _Start(BITCOIN, f"[cC](?:1{_BECH_DATA_CLASS}*)?", _BECH_LINK, _SEGWIT_LENGTHS),
        "4": _Start(MONERO, f"{_B58_CLASS}*", _B58_LINK, _MONERO_LENGTHS),
        "8": _Start(MONERO, f"{_B58_CLASS}*", _B58_LINK, _MONERO_LENGTHS),
        "0": _Start(ETHEREUM, f"x{_HEX_CLASS}*", _link(_HEX_CLASS), _ETHEREUM_LENGTHS),
        "T": _Start(TRON, _WITH_DIGIT, _B58_LINK, _BASE58CHECK_LENGTHS),
        "L": _Start(LITECOIN, _WITH_DIGIT, _B58_LINK, _BASE58CHECK_LENGTHS),
        "M": _Start(LITECOIN, _WITH_DIGIT, _B58_LINK, _BASE58CHECK_LENGTHS),
        "l": _Start(LITECOIN, f"[tT][cC]1{_BECH_DATA_CLASS}*", _BECH_LINK, _SEGWIT_LENGTHS),
        "D": _Start(DOGECOIN, _WITH_DIGIT, _B58_LINK, _BASE58CHECK_LENGTHS),
        "q": _Start(BITCOIN_CASH, _CASH_WITH_DIGIT, _BECH_LINK, _CASHADDR_LENGTHS),
        "p": _Start(BITCOIN_CASH, _CASH_WITH_DIGIT, _BECH_LINK, _CASHADDR_LENGTHS),
    }
)


def _start_pattern(kinds: frozenset[str]) -> re.Pattern[str]:
    """The first chunks of addresses of ``kinds``.

    Each alternative opens with its literal first character (the chunk-start check comes
    after it), so the engine can skip ahead to those characters instead of trying every
    position of the text.
    """
    alternatives = [
        f"{re.escape(first)}{_CHUNK_START}{start.rest}"
        for first, start in _STARTS.items()
        if start.kind in kinds
    ]
    if not alternatives:
        return re.compile("(?!)")  # matches nothing
    return re.compile(f"(?:{'|'.join(alternatives)}){_CHUNK_END}")


# One pattern for every combination of the first kinds, built once; the detectors that
# ask for altcoins build theirs (address_detector).
_START_PATTERNS: Mapping[frozenset[str], re.Pattern[str]] = types.MappingProxyType(
    {
        frozenset(kinds): _start_pattern(frozenset(kinds))
        for size in range(len(_KINDS) + 1)
        for kinds in itertools.combinations(_KINDS, size)
    }
)
_ALTCOIN_CHECKS = types.MappingProxyType(
    {
        TRON: is_tron_address,
        LITECOIN: is_litecoin_address,
        DOGECOIN: is_dogecoin_address,
        BITCOIN_CASH: is_cashaddr,
    }
)


def _address_value(candidate: str, b58: int | None) -> str | None:
    """The canonical spelling of ``candidate`` if it is a valid address, else None.

    ``b58`` is the Base58 value of a candidate that starts with '1' or '3'. The caller
    has already checked that the kind the first character implies is wanted, that the
    candidate is in that kind's alphabet, and that its length fits the kind.
    """
    first = candidate[0]
    kind = _STARTS[first].kind
    if kind in ALTCOINS:
        return candidate if _ALTCOIN_CHECKS[kind](candidate) else None
    if first in "13":
        ones = len(candidate) - len(candidate.lstrip("1"))
        return candidate if b58 is not None and is_bitcoin_base58_value(b58, ones) else None
    if first in "bB":
        # BIP-173: lower case is the canonical form.
        return candidate.lower() if is_bitcoin_segwit_address(candidate) else None
    if first == "0":
        return ethereum_checksum_address(candidate) if is_ethereum_address(candidate) else None
    return candidate if is_monero_address(candidate) else None


def _scan_addresses(
    text: str, kinds: frozenset[str], starts: re.Pattern[str] | None = None
) -> tuple[list[Hit], int]:
    """Hits for addresses of ``kinds`` in ``text`` (a ``cased`` text), and the number of
    candidates validated (the tests use it to show that the work stays linear)."""
    if starts is None:
        starts = _START_PATTERNS.get(kinds & _ALL_KINDS) or _start_pattern(kinds & _ALL_KINDS)
    hits: list[Hit] = []
    checked = 0
    position = 0
    while (first := starts.search(text, position)) is not None:
        start, end = first.span()
        position = end
        how = _STARTS[text[start]]
        lengths = how.lengths
        longest = max(lengths)
        candidate = first.group()
        # The Base58 value of candidate[:decoded], for a Base58Check candidate ('1', '3').
        b58 = 0 if candidate[0] in "13" else None
        decoded = 0
        pieces = 1
        while True:
            size = len(candidate)
            if size in lengths:
                checked += 1
                if b58 is not None and decoded < size:
                    # Decoded only once a length fits, and only what was not decoded
                    # for a shorter length: most candidates never fit any.
                    rest = base58_int(candidate[decoded:])
                    b58 = None if rest is None else b58 * 58 ** (size - decoded) + rest
                    decoded = size
                value = _address_value(candidate, b58)
                if value is not None:
                    hits.append(Hit(start, end, value, cased=True))
                    position = end  # the address's later pieces begin nothing
                    break
            if pieces == _MAX_CHUNKS:
                break
            link = how.link.match(text, end)
            if link is None or size + len(link[1]) > longest:
                break
            candidate += link[1]
            end = link.end()
            pieces += 1
    return hits, checked


def _solana_keys(text: str) -> list[Hit]:
    if "sol" not in text and "SOL" not in text and "Sol" not in text:
        return []
    return [
        Hit(match.start(1), match.end(1), match[1], cased=True)
        for match in _SOLANA.finditer(text)
        if is_solana_key(match[1])
    ]


def address_detector(*kinds: str) -> Detector:
    """A detector of valid addresses of ``kinds`` (BITCOIN, ETHEREUM, MONERO, and the
    ALTCOINS)."""
    wanted = frozenset(kinds)
    starts = _start_pattern(wanted & _ALL_KINDS)

    solana = SOLANA in wanted

    def detect(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
        # Base58 is case-sensitive, so addresses are searched in the cased text.
        hits = _scan_addresses(normalized.cased, wanted, starts)[0]
        if solana:
            hits.extend(_solana_keys(normalized.cased))
        return hits

    return detect

"""Built-in detectors, used by rules as ``detector: NAME``.

A detector looks at one normalised text and returns hits: where it found something and
the canonical value it found. Regexes in rules cannot verify a checksum or read "1.300,-
euro" as 1300 EUR; these can. Everything here is pure: no I/O and no mutable state.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from milter.crypto_address import (
    base58_int,
    ethereum_checksum_address,
    is_bitcoin_base58_value,
    is_bitcoin_segwit_address,
    is_ethereum_address,
    is_monero_address,
)
from milter.normalize import NormalizedText

__all__ = ["DETECTORS", "Detector", "DetectorContext", "Hit"]


@dataclass(frozen=True)
class Hit:
    """One finding. ``start``/``end`` index ``NormalizedText.cased`` when ``cased`` is
    true, else ``NormalizedText.text``."""

    start: int
    end: int
    value: str
    cased: bool


@dataclass(frozen=True)
class DetectorContext:
    """What a detector may know about the message besides its text."""

    recipients: tuple[str, ...] = ()  # lower-case addresses of the message's recipients


Detector = Callable[[NormalizedText, DetectorContext], list[Hit]]


# --- Addresses --------------------------------------------------------------------------
#
# Scammers split addresses so that no regex sees them whole: "1J9mG ro5tq DNje8 ...",
# "bc1q-xxxx-yyyy", or a line break in the middle. The scan cuts the text into runs of
# ASCII letters and digits (chunks) and, from each chunk that can begin an address, tries
# that chunk joined with the next ones. Only checksum-valid joins count, so a false join
# needs a checksum collision. The work is bounded per chunk (at most _MAX_CHUNKS pieces,
# no longer than the longest address of the kind), so the scan is linear in the text.

_CHUNK = re.compile(r"[0-9A-Za-z]+")
# What may stand between two pieces of one address: up to three of space, hyphen, dot,
# underscore (" - " included). Newlines are already single spaces after normalisation.
_JOINER = re.compile(r"[ ._-]{1,3}")
# Enough for a 62-character bech32 address in groups of four.
_MAX_CHUNKS = 16
# A Monero check can cost a Keccak permutation in pure Python (about half a millisecond):
# past this many candidates in one text, Monero look-alikes are no longer checked, so a
# text stuffed with them cannot make the scan slow.
_MAX_MONERO_CHECKS = 200

_B58, _HEX, _BECH = 1, 2, 4
_B58_CHUNK = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")
_HEX_CHUNK = re.compile(r"[0-9a-fA-F]+")
# The bech32 data alphabet, either case, plus '1' so that "bc" + "1q..." can be joined
# (the checksum rejects a stray '1').
_BECH_CHUNK = re.compile(r"[qpzry9x8gf2tvdw0s3jn54khce6mua7l1]+", re.IGNORECASE | re.ASCII)
_BECH_START = re.compile(r"bc(?:1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]*)?", re.IGNORECASE | re.ASCII)
_ETH_START = re.compile(r"0x[0-9a-fA-F]*")

_BITCOIN = "bitcoin"
_ETHEREUM = "ethereum"
_MONERO = "monero"


def _chunk_classes(chunk: str) -> int:
    classes = 0
    if _B58_CHUNK.fullmatch(chunk):
        classes |= _B58
    if _HEX_CHUNK.fullmatch(chunk):
        classes |= _HEX
    if _BECH_CHUNK.fullmatch(chunk):
        classes |= _BECH
    return classes


# Lengths worth checking, by what the candidate starts with: Base58Check needs 25-35
# characters; segwit 14 (v1-16 with a 2-byte program) to 74 (a 40-byte program after
# "bc1"); Ethereum 42; Monero 95, or 106 for an integrated address.
_BASE58CHECK_LENGTHS = frozenset(range(25, 36))
_SEGWIT_LENGTHS = frozenset(range(14, 75))
_ETHEREUM_LENGTHS = frozenset({42})
_MONERO_LENGTHS = frozenset({95, 106})
_NOTHING: tuple[int, frozenset[int]] = (0, frozenset())
_START_CHARS = frozenset("13bB480")


def _start(chunk: str, kinds: frozenset[str]) -> tuple[int, frozenset[int]]:
    """The alphabets an address beginning with ``chunk`` continues in, and its lengths."""
    first = chunk[0]
    if first in "13" and _BITCOIN in kinds and _B58_CHUNK.fullmatch(chunk):
        return _B58, _BASE58CHECK_LENGTHS
    if first in "bB" and _BITCOIN in kinds and _BECH_START.fullmatch(chunk):
        return _BECH, _SEGWIT_LENGTHS
    if first in "48" and _MONERO in kinds and _B58_CHUNK.fullmatch(chunk):
        return _B58, _MONERO_LENGTHS
    if first == "0" and _ETHEREUM in kinds and _ETH_START.fullmatch(chunk):
        return _HEX, _ETHEREUM_LENGTHS
    return _NOTHING


def _address_value(candidate: str, b58: int | None, ones: int) -> str | None:
    """The canonical spelling of ``candidate`` if it is a valid address, else None.

    ``b58`` is the candidate's Base58 value when all of it is Base58 (else None) and
    ``ones`` its count of leading '1's. The caller has already checked that the kind
    the first character implies is wanted and that the length fits it.
    """
    first = candidate[0]
    if first in "13":
        return candidate if b58 is not None and is_bitcoin_base58_value(b58, ones) else None
    if first in "bB":
        # BIP-173: lower case is the canonical form.
        return candidate.lower() if is_bitcoin_segwit_address(candidate) else None
    if first == "0":
        return ethereum_checksum_address(candidate) if is_ethereum_address(candidate) else None
    return candidate if is_monero_address(candidate) else None


def _scan_addresses(text: str, kinds: frozenset[str]) -> tuple[list[Hit], int]:
    """Hits for addresses of ``kinds`` in ``text`` (a ``cased`` text), and the number of
    candidates validated (the tests use it to show that the work stays linear)."""
    spans = [m.span() for m in _CHUNK.finditer(text)]
    pieces = [text[start:end] for start, end in spans]
    count = len(spans)
    # Computed the first time a join reaches a chunk: whether a joiner links it to the
    # previous chunk, its alphabets, and its Base58 value.
    linked: list[bool | None] = [None] * count
    classes_of: list[int | None] = [None] * count
    value_of: dict[int, int | None] = {}
    hits: list[Hit] = []
    checked = 0
    monero_checks = 0
    found_until = 0
    for i in range(count):
        start = spans[i][0]
        if start < found_until:
            continue  # part of an address already reported
        candidate = pieces[i]
        if candidate[0] not in _START_CHARS:
            continue  # most words: no address starts this way, skip the full check
        classes, lengths = _start(candidate, kinds)
        if not classes:
            continue
        longest = max(lengths)
        b58 = base58_int(candidate) if classes & _B58 else None
        ones = len(candidate) - len(candidate.lstrip("1"))
        j = i
        limit = min(i + _MAX_CHUNKS, count)
        while True:
            size = len(candidate)
            if size in lengths:
                if lengths is _MONERO_LENGTHS:
                    monero_checks += 1
                    if monero_checks > _MAX_MONERO_CHECKS:
                        break
                checked += 1
                value = _address_value(candidate, b58, ones)
                if value is not None:
                    hits.append(Hit(start, spans[j][1], value, cased=True))
                    found_until = spans[j][1]
                    break
            j += 1
            if j >= limit:
                break
            if linked[j] is None:
                linked[j] = _JOINER.fullmatch(text, spans[j - 1][1], spans[j][0]) is not None
            piece = pieces[j]
            if not linked[j] or size + len(piece) > longest:
                break
            piece_classes = classes_of[j]
            if piece_classes is None:
                piece_classes = classes_of[j] = _chunk_classes(piece)
            classes &= piece_classes
            if not classes:
                break
            if b58 is not None:
                if j not in value_of:
                    value_of[j] = base58_int(piece)
                piece_value = value_of[j]
                b58 = None if piece_value is None else b58 * 58 ** len(piece) + piece_value
                if ones == size:
                    ones += len(piece) - len(piece.lstrip("1"))
            candidate += piece
    return hits, checked


def _address_detector(*kinds: str) -> Detector:
    wanted = frozenset(kinds)

    def detect(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
        # Base58 is case-sensitive, so addresses are searched in the cased text.
        return _scan_addresses(normalized.cased, wanted)[0]

    return detect


# --- Money amounts -----------------------------------------------------------------------

_CURRENCIES: Mapping[str, str] = types.MappingProxyType(
    {
        "€": "EUR",
        "eur": "EUR",
        "euro": "EUR",
        "euros": "EUR",
        "euro's": "EUR",
        "euro’s": "EUR",
        "$": "USD",
        "us$": "USD",
        "usd": "USD",
        "dollar": "USD",
        "dollars": "USD",
        "dollar's": "USD",
        "dollar’s": "USD",
        "us dollars": "USD",
        "£": "GBP",
        "gbp": "GBP",
        "chf": "CHF",
        "₿": "BTC",
        "btc": "BTC",
        "xbt": "BTC",
        "bitcoin": "BTC",
        "bitcoins": "BTC",
        "eth": "ETH",
        "ether": "ETH",
        "ethereum": "ETH",
        "xmr": "XMR",
        "monero": "XMR",
        "ltc": "LTC",
        "litecoin": "LTC",
        "usdt": "USDT",
    }
)
_CRYPTO = frozenset({"BTC", "ETH", "XMR", "LTC"})
# Before a number only symbols and codes: "usd 1300" is an amount, but "bitcoin 2024" is
# more often a name than a price, and "eth 2.0" is a version.
_PREFIX_CURRENCIES = ("€", "$", "us$", "£", "₿", "eur", "usd", "gbp", "chf", "btc", "xbt", "xmr")
_SYMBOLS = [c for c in _CURRENCIES if not c[-1].isalpha()]
_WORDS = [c for c in _CURRENCIES if c[-1].isalpha()]


def _alternation(words: Iterable[str]) -> str:
    # Longest first, so "euros" is not cut to "euro" + "s".
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# Thousands grouped by '.', ',', space or apostrophe ("1.300", "1 300", "1'300"), then an
# optional decimal part; which mark is the decimal one is decided in _parse_amount.
_NUMBER = r"(?:[0-9]{1,3}(?:[.,' ’][0-9]{3})+|[0-9]{1,12})(?:[.,][0-9]{1,8})?"
_MONEY = re.compile(
    rf"""
    (?:
        (?<![0-9a-z])(?P<pre>{_alternation(_PREFIX_CURRENCIES)})\ ?
        (?P<pre_number>{_NUMBER})(?:[.,]-{{1,2}})?(?![0-9])
    |
        (?<![0-9a-z.,])(?P<number>{_NUMBER})
        (?:[.,]-{{1,2}})?          # Dutch and German "1.300,- euro"
        \ ?(?P<post>{_alternation(_SYMBOLS)}|(?:{_alternation(_WORDS)})(?![0-9a-z]))
    )
    """,
    re.VERBOSE,
)


def _parse_amount(number: str, crypto: bool) -> Decimal | None:
    """Read ``number`` with either convention: "1.300,50" and "1,300.50" are both 1300.5.

    A single mark followed by exactly three digits is ambiguous. It is read as thousands
    ("1.300 euro" is 1300), except after a lone 0 ("0.100") or for cryptocurrencies,
    whose amounts are small ("1.500 btc" is 1.5).
    """
    digits = number.replace(" ", "").replace("'", "").replace("’", "")
    marks = [i for i, char in enumerate(digits) if char in ".,"]
    if marks:
        last = marks[-1]
        tail = digits[last + 1 :]
        whole = digits[:last]
        decimal = (
            len({digits[i] for i in marks}) == 2
            or len(tail) != 3
            or (len(marks) == 1 and (crypto or whole == "0"))
        )
        if decimal:
            digits = whole.replace(".", "").replace(",", "") + "." + tail
        else:
            digits = digits.replace(".", "").replace(",", "")
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def _format_amount(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def _money_amount(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """Amounts with a currency, valued as "1300 EUR" or "0.1 BTC"."""
    hits = []
    for match in _MONEY.finditer(normalized.text):
        currency = _CURRENCIES[match["pre"] or match["post"]]
        number = match["pre_number"] or match["number"]
        amount = _parse_amount(number, currency in _CRYPTO)
        if amount is None or amount <= 0:
            continue
        hits.append(
            Hit(match.start(), match.end(), f"{_format_amount(amount)} {currency}", cased=False)
        )
    return hits


# --- Deadlines ---------------------------------------------------------------------------

_NUMBER_WORDS: Mapping[str, int] = types.MappingProxyType(
    {
        # English
        "a": 1,
        "an": 1,
        "one": 1,
        "two": 2,
        "three": 3,
        "four": 4,
        "five": 5,
        "six": 6,
        "seven": 7,
        "eight": 8,
        "nine": 9,
        "ten": 10,
        "twelve": 12,
        "twenty-four": 24,
        "twenty four": 24,
        "forty-eight": 48,
        "forty eight": 48,
        "seventy-two": 72,
        "seventy two": 72,
        # Dutch
        "een": 1,
        "één": 1,
        "twee": 2,
        "drie": 3,
        "vier": 4,
        "vijf": 5,
        "zes": 6,
        "zeven": 7,
        "acht": 8,
        "negen": 9,
        "tien": 10,
        "twaalf": 12,
        "vierentwintig": 24,
        "achtenveertig": 48,
        "tweeënzeventig": 72,
        "tweeenzeventig": 72,
        # French
        "un": 1,
        "une": 1,
        "deux": 2,
        "trois": 3,
        "quatre": 4,
        "cinq": 5,
        "sept": 7,
        "huit": 8,
        "neuf": 9,
        "dix": 10,
        "douze": 12,
        "vingt-quatre": 24,
        "quarante-huit": 48,
        "soixante-douze": 72,
        # German ("vier", "acht" as in Dutch)
        "ein": 1,
        "eine": 1,
        "einem": 1,
        "einer": 1,
        "zwei": 2,
        "drei": 3,
        "fünf": 5,
        "funf": 5,
        "sechs": 6,
        "sieben": 7,
        "neun": 9,
        "zehn": 10,
        "zwölf": 12,
        "zwolf": 12,
        "vierundzwanzig": 24,
        "achtundvierzig": 48,
        "zweiundsiebzig": 72,
        # Spanish
        "una": 1,
        "dos": 2,
        "tres": 3,
        "cinco": 5,
        "diez": 10,
        "veinticuatro": 24,
        "cuarenta y ocho": 48,
        "setenta y dos": 72,
    }
)
# Words that are also articles count only after a preposition ("within a day", "binnen
# een dag"): alone, "a day" or "un jour" is everywhere in ordinary prose.
_ARTICLE_NUMBERS = frozenset(
    {"a", "an", "een", "un", "une", "ein", "eine", "einem", "einer", "una"}
)
_HOURS = (
    "hours", "hour", "hrs", "hr", "h", "uur", "uren", "heures", "heure",
    "stunden", "stunde", "std", "horas", "hora",
)  # fmt: skip
_DAYS = (
    "days", "day", "business days", "working days", "dagen", "dag", "werkdagen",
    "jours", "jour", "jours ouvrables", "tagen", "tage", "tages", "tag", "werktage",
    "werktagen", "días", "dias", "día", "dia",
)  # fmt: skip
_PREPOSITIONS = (
    "within", "within the next", "in", "in the next", "binnen", "binnen de", "binnen de komende",
    "in de komende", "sous", "dans", "dans les", "d'ici", "d’ici", "en moins de",
    "innerhalb", "innerhalb von", "innerhalb der nächsten", "innerhalb der nachsten",
    "in den nächsten", "in den nachsten", "en", "en las próximas", "en los próximos",
    "dentro de",
)  # fmt: skip
_DEADLINE = re.compile(
    rf"""
    (?<![\w.,])
    (?:(?P<prep>{_alternation(_PREPOSITIONS)})\ )?
    (?P<number>[0-9]{{1,3}}|{_alternation(_NUMBER_WORDS)})
    [ -]?
    (?:(?P<hours>{_alternation(_HOURS)})|(?P<days>{_alternation(_DAYS)}))
    (?![\w])
    (?!\ (?:ago|geleden)\b)        # "2 hours ago" is the past, not a limit
    """,
    re.VERBOSE,
)
# "10 h 30", "18h30": a time of day, not a duration.
_CLOCK_TIME = re.compile(r" ?[0-9]")
_MAX_HOURS = 240
_MAX_DAYS = 30


def _deadline(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """Time limits ("within 48 hours", "binnen 2 dagen"), valued as "48 hours", "2 days"."""
    hits = []
    for match in _DEADLINE.finditer(normalized.text):
        word = match["number"]
        if match["hours"] == "h" and _CLOCK_TIME.match(normalized.text, match.end()):
            continue
        if word.isdigit():
            count = int(word)
        else:
            if match["hours"] == "h" or (word in _ARTICLE_NUMBERS and not match["prep"]):
                continue  # "one h" is not a time; "a day" alone is not a deadline
            count = _NUMBER_WORDS[word]
        if match["hours"]:
            if not 1 <= count <= _MAX_HOURS:
                continue
            value = f"{count} hour" if count == 1 else f"{count} hours"
        else:
            if not 1 <= count <= _MAX_DAYS:
                continue
            value = f"{count} day" if count == 1 else f"{count} days"
        hits.append(Hit(match.start(), match.end(), value, cased=False))
    return hits


# --- The recipient's own address ---------------------------------------------------------

# Role and system mailboxes: their names are ordinary words, so finding one in the text
# says nothing about the recipient.
_GENERIC_LOCAL_PARTS = frozenset(
    {
        "info", "admin", "administrator", "contact", "mail", "email", "user", "test",
        "support", "sales", "office", "postmaster", "hostmaster", "webmaster", "hello",
        "noreply", "no-reply", "donotreply", "do-not-reply", "abuse", "billing", "help",
        "service", "team", "news", "newsletter", "marketing", "finance", "accounts",
        "jobs", "careers", "privacy", "security", "root", "mailer-daemon", "enquiries",
        "inquiries", "reply",
    }
)  # fmt: skip


def _recipient_address(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """The recipient's address, or its distinctive local part, valued as the address.

    Extortion mail quotes the victim's address (or name) to look personal and informed.
    """
    text = normalized.text
    hits: list[Hit] = []
    for address in dict.fromkeys(r.strip().lower() for r in context.recipients):
        local, at, _domain = address.rpartition("@")
        if not at or not local:
            continue
        # Not inside a longer address: no address character before it, and not followed
        # by more domain ("...@example.com.evil.org").
        for match in re.finditer(rf"(?<![\w.+-]){re.escape(address)}(?![\w-]|\.\w)", text):
            hits.append(Hit(match.start(), match.end(), address, cased=False))
        if len(local) < 4 or local in _GENERIC_LOCAL_PARTS or not re.search(r"[^\W\d_]", local):
            continue
        # A whole word, and not the local part of an address (the recipient's own was
        # found above; another domain's is someone else).
        for match in re.finditer(rf"(?<![\w.+-]){re.escape(local)}(?![\w@-]|[.+]\w)", text):
            hits.append(Hit(match.start(), match.end(), address, cased=False))
    hits.sort(key=lambda hit: hit.start)
    return hits


DETECTORS: Mapping[str, Detector] = types.MappingProxyType(
    {
        "bitcoin_address": _address_detector(_BITCOIN),
        "crypto_address": _address_detector(_BITCOIN, _ETHEREUM, _MONERO),
        "money_amount": _money_amount,
        "deadline": _deadline,
        "recipient_address": _recipient_address,
    }
)

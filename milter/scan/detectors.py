"""Built-in detectors, used by rules as ``detector: NAME``.

A detector looks at one normalised text and returns hits: where it found something and
the canonical value it found. Regexes in rules cannot verify a checksum or read "1.300,-
euro" as 1300 EUR; these can. Everything here is pure: no I/O and no mutable state.
"""

from __future__ import annotations

import itertools
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import ahocorasick

from milter.mail.structure import Structure, anomalies
from milter.scan.crypto_address import (
    base58_int,
    ethereum_checksum_address,
    is_bitcoin_base58_value,
    is_bitcoin_segwit_address,
    is_ethereum_address,
    is_monero_address,
)
from milter.scan.identities.registry import IdentityRegistry
from milter.scan.normalize import NormalizedText

__all__ = ["DETECTORS", "Detector", "DetectorContext", "Hit"]


@dataclass(frozen=True)
class Hit:
    """One finding. ``start``/``end`` index ``NormalizedText.cased`` when ``cased`` is
    true, else ``NormalizedText.text``."""

    start: int
    end: int
    value: str
    cased: bool
    # A quote to show instead of the text at start:end (detectors that judge a text
    # as a whole, such as a domain, quote what they found there).
    evidence: str | None = None


@dataclass(frozen=True)
class DetectorContext:
    """What a detector may know about the message besides its text."""

    recipients: tuple[str, ...] = ()  # lower-case addresses of the message's recipients
    identities: IdentityRegistry | None = None  # the protected identities (identities.py)
    from_domain: str = ""  # the From header's domain
    structure: Structure | None = None  # how the message is built (structure.py)


Detector = Callable[[NormalizedText, DetectorContext], list[Hit]]


# --- Addresses --------------------------------------------------------------------------
#
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
# A Monero check can cost a Keccak permutation in pure Python (about half a millisecond):
# past this many candidates in one text, Monero look-alikes are no longer checked, so a
# text stuffed with them cannot make the scan slow.
_MAX_MONERO_CHECKS = 200

_BITCOIN = "bitcoin"
_ETHEREUM = "ethereum"
_MONERO = "monero"
_KINDS = (_BITCOIN, _ETHEREUM, _MONERO)
_ALL_KINDS = frozenset(_KINDS)

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
_BECH_LINK = _link(_BECH_PIECE_CLASS)
_STARTS: Mapping[str, _Start] = types.MappingProxyType(
    {
        "1": _Start(_BITCOIN, f"{_B58_CLASS}*", _B58_LINK, _BASE58CHECK_LENGTHS),
        "3": _Start(_BITCOIN, f"{_B58_CLASS}*", _B58_LINK, _BASE58CHECK_LENGTHS),
        "b": _Start(_BITCOIN, f"[cC](?:1{_BECH_DATA_CLASS}*)?", _BECH_LINK, _SEGWIT_LENGTHS),
        "B": _Start(_BITCOIN, f"[cC](?:1{_BECH_DATA_CLASS}*)?", _BECH_LINK, _SEGWIT_LENGTHS),
        "4": _Start(_MONERO, f"{_B58_CLASS}*", _B58_LINK, _MONERO_LENGTHS),
        "8": _Start(_MONERO, f"{_B58_CLASS}*", _B58_LINK, _MONERO_LENGTHS),
        "0": _Start(_ETHEREUM, f"x{_HEX_CLASS}*", _link(_HEX_CLASS), _ETHEREUM_LENGTHS),
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


# One pattern for every combination of kinds, built once.
_START_PATTERNS: Mapping[frozenset[str], re.Pattern[str]] = types.MappingProxyType(
    {
        frozenset(kinds): _start_pattern(frozenset(kinds))
        for size in range(len(_KINDS) + 1)
        for kinds in itertools.combinations(_KINDS, size)
    }
)


def _address_value(candidate: str, b58: int | None) -> str | None:
    """The canonical spelling of ``candidate`` if it is a valid address, else None.

    ``b58`` is the Base58 value of a candidate that starts with '1' or '3'. The caller
    has already checked that the kind the first character implies is wanted, that the
    candidate is in that kind's alphabet, and that its length fits the kind.
    """
    first = candidate[0]
    if first in "13":
        ones = len(candidate) - len(candidate.lstrip("1"))
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
    starts = _START_PATTERNS[kinds & _ALL_KINDS]
    hits: list[Hit] = []
    checked = 0
    monero_checks = 0
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
                if lengths is _MONERO_LENGTHS:
                    monero_checks += 1
                    if monero_checks > _MAX_MONERO_CHECKS:
                        break
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
# optional decimal part; which mark is the decimal one is decided in _parse_amount. Written
# as a first digit and the rest, so that _MONEY_ANCHOR can continue a number it has begun.
# At most five groups (below 10^18): an unbounded "+" made long runs like "000 000 000 …"
# quadratic, since a match is tried from every group; no ransom needs more.
_NUMBER_REST = r"(?:[0-9]{0,2}(?:[.,' ’][0-9]{3}){1,5}|[0-9]{0,11})(?:[.,][0-9]{1,8})?"
_NUMBER = rf"[0-9]{_NUMBER_REST}"
_POST_CURRENCY = rf"{_alternation(_SYMBOLS)}|(?:{_alternation(_WORDS)})(?![0-9a-z])"
_MONEY = re.compile(
    rf"""
    (?:
        (?<![0-9a-z])(?P<pre>{_alternation(_PREFIX_CURRENCIES)})\ ?
        (?P<pre_number>{_NUMBER})(?:[.,]-{{1,2}})?(?![0-9])
    |
        (?<![0-9a-z.,])(?P<number>{_NUMBER})
        (?:[.,]-{{1,2}})?          # Dutch and German "1.300,- euro"
        \ ?(?P<post>{_POST_CURRENCY})
    )
    """,
    re.VERBOSE,
)

# Every amount has a number, whose first digit begins a run of digits, and an amount with
# a currency in front begins at most _MAX_PREFIX characters before that digit ("us$ 5").
# finditer tries _MONEY at every position of the text, which was nearly all of the
# detector's cost; _money_matches tries it only near the digits _MONEY_ANCHOR finds. That
# pattern opens with a character class, so the engine skips ahead to digits, and it only
# looks around the digit (consuming nothing else), so no digit is passed over.
_MAX_PREFIX = max(map(len, _PREFIX_CURRENCIES)) + 1  # and a space
_PREFIX_FIRST = frozenset(prefix[0] for prefix in _PREFIX_CURRENCIES)
# One look-behind per length (a look-behind must have a fixed width).
_PREFIX_BEHIND = "|".join(
    f"(?<=(?:{_alternation(p for p in _PREFIX_CURRENCIES if len(p) == size)}){space}.)"
    for size in sorted({len(p) for p in _PREFIX_CURRENCIES})
    for space in ("", "\\ ")
)
_MONEY_ANCHOR = re.compile(
    rf"""
    [0-9](?<![0-9].)                    # the first digit of a run
    (?:
        {_PREFIX_BEHIND}                # a currency in front
    |
        (?<![0-9a-z.,].)                # or a currency after the number
        (?={_NUMBER_REST}(?:[.,]-{{1,2}})?\ ?(?:{_POST_CURRENCY}))
    )
    """,
    re.VERBOSE,
)


def _money_matches(text: str) -> Iterator[re.Match[str]]:
    """What ``_MONEY.finditer(text)`` finds, trying only where an amount can begin."""
    done = 0  # the end of the last match: matches do not overlap
    for anchor in _MONEY_ANCHOR.finditer(text):
        digit = anchor.start()
        if digit < done:
            continue
        match = None
        # Positions in increasing order, as finditer tries them: a currency in front
        # first, then the number itself. (A position before two close digits may be
        # tried for each; it fails alike both times.)
        for start in range(max(done, digit - _MAX_PREFIX), digit):
            if text[start] in _PREFIX_FIRST and (match := _MONEY.match(text, start)):
                break
        else:
            match = _MONEY.match(text, digit)
        if match is not None:
            done = match.end()
            yield match


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
    for match in _money_matches(normalized.text):
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
    "hours", "hour", "hrs", "hr", "h", "uur", "uren", "u", "heures", "heure",
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


# Every deadline has a number right before its unit: "48 hours", "48-hours", "48hours".
# finditer tries _DEADLINE at every position of the text, which was nearly all of the
# detector's cost; _deadline_matches tries it only a little before such a pair. One
# Aho-Corasick pass (in C) over all pairs finds them, overlapping ones included; for a
# number in digits a pair holds only its last digit. The automaton is complete before
# use and only read afterwards.
def _number_unit_automaton() -> ahocorasick.Automaton:
    """Every number word or digit, then nothing, a space or a hyphen, then a unit."""
    automaton = ahocorasick.Automaton(ahocorasick.STORE_LENGTH)
    for number in (*_NUMBER_WORDS, *"0123456789"):
        for separator in ("", " ", "-"):
            for unit in (*_HOURS, *_DAYS):
                automaton.add_word(number + separator + unit)
    automaton.make_automaton()
    return automaton


_NUMBER_UNIT = _number_unit_automaton()
# How far before its pair a deadline can begin: the longest preposition and its space,
# and the two digits of a number in digits that its pair leaves out.
_DEADLINE_LEAD = max(map(len, _PREPOSITIONS)) + 1 + 2
_WORD_CHAR = re.compile(r"\w")


def _deadline_matches(text: str) -> Iterator[re.Match[str]]:
    """What ``_DEADLINE.finditer(text)`` finds, trying only where a deadline can begin."""
    pairs = sorted(
        {
            end + 1 - length
            for end, length in _NUMBER_UNIT.iter(text)
            if not _WORD_CHAR.match(text, end + 1)  # the unit must end a word
        }
    )
    done = 0  # the end of the last match: matches do not overlap
    tried = 0  # no position before this one is left to try
    for pair in pairs:
        for start in range(max(done, tried, pair - _DEADLINE_LEAD), pair + 1):
            if start >= done and (match := _DEADLINE.match(text, start)):
                done = match.end()
                yield match
        tried = pair + 1


# "10 h 30", "18h30": a time of day, not a duration.
_CLOCK_TIME = re.compile(r" ?[0-9]")
_MAX_HOURS = 240
_MAX_DAYS = 30


def _deadline(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """Time limits ("within 48 hours", "binnen 2 dagen"), valued as "48 hours", "2 days"."""
    hits = []
    for match in _deadline_matches(normalized.text):
        word = match["number"]
        if match["hours"] in ("h", "u") and _CLOCK_TIME.match(normalized.text, match.end()):
            continue  # "18h30", the Belgian "14u30": a time of day
        if match["hours"] == "u" and (
            not match["prep"] or not word.isdigit() or match.end("number") != match.start("hours")
        ):
            # Flemish "72u" for hours, but only as "binnen 72u": "u" alone is also the
            # Dutch "you", and "4u" is "for you".
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
        # Both patterns below contain the local part literally. Most texts lack it, and
        # `in` says so far faster than a pattern that opens with a look-behind, which the
        # engine tries at every position.
        if local not in text:
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


# --- Protected identities ----------------------------------------------------------------
#
# These judge a domain or a claim against the registry of authorities (identities.py).
# Domains are read from the original text: normalisation folds look-alike characters, and
# "pоlice.be" with a Cyrillic "о" must not become the real police.be.


def _domain_in(normalized: NormalizedText) -> str:
    value = normalized.original.strip().strip("<>")
    return value.rpartition("@")[2] if "@" in value else value


def _whole(normalized: NormalizedText, value: str, evidence: str) -> Hit:
    return Hit(0, len(normalized.text), value, cased=False, evidence=evidence)


def _protected_domain(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """A domain (or address) of a protected authority, or under one."""
    registry = context.identities
    domain = _domain_in(normalized)
    identity = registry.owner(domain) if registry is not None and domain else None
    if identity is None:
        return []
    return [_whole(normalized, identity.id, domain)]


def _lookalike_domain(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """A domain (or address) made to look like a protected authority's."""
    registry = context.identities
    domain = _domain_in(normalized)
    match = registry.lookalike(domain) if registry is not None and domain else None
    if match is None:
        return []
    # The quote is the domain as written; what it imitates is in the value, which keeps
    # two look-alikes of different authorities apart.
    return [_whole(normalized, f"{match.domain}~{match.protected}", domain)]


def _identity_claim(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """The text presents the sender as an authority the From domain does not belong to.

    Mail from the authority's own domain is left to the DMARC rules: a claim is only
    suspect here when it comes from somewhere else (freemail, a look-alike, any domain).
    """
    registry = context.identities
    if registry is None or not registry.may_claim(normalized.text):
        return []
    owner = registry.owner(context.from_domain) if context.from_domain else None
    # The claim's offsets are in the original text, not in the normalised one a Hit
    # indexes: the hit spans the text and quotes the claim itself.
    return [
        _whole(normalized, claim.identity.id, claim.evidence)
        for claim in registry.claims(normalized.original)
        if claim.identity != owner
    ]


def _structure_anomaly(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """Structure no mail client produces (structure.anomalies), one hit each, named by
    its kind ("mime-depth", "empty-parts", "hidden-text", "blank-padding", "pdf-padding").

    A fact of the whole message, not of the text it is given: any target with text
    (``text``) reports the same hits, and ``min_count`` counts distinct kinds.
    """
    if context.structure is None:
        return []
    return [_whole(normalized, a.name, a.evidence) for a in anomalies(context.structure)]


DETECTORS: Mapping[str, Detector] = types.MappingProxyType(
    {
        "bitcoin_address": _address_detector(_BITCOIN),
        "crypto_address": _address_detector(_BITCOIN, _ETHEREUM, _MONERO),
        "money_amount": _money_amount,
        "deadline": _deadline,
        "recipient_address": _recipient_address,
        "protected_domain": _protected_domain,
        "lookalike_domain": _lookalike_domain,
        "identity_claim": _identity_claim,
        "structure_anomaly": _structure_anomaly,
    }
)

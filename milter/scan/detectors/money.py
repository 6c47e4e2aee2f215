"""The ``money_amount`` detector: amounts with a currency, read with either decimal
convention ("1.300,- euro" and "$1,300" are both 1300)."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation

from milter.scan.detectors.base import DetectorContext, Hit, alternation
from milter.scan.normalize import NormalizedText

__all__ = ["find_money_amounts"]


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


# Thousands grouped by '.', ',', space or apostrophe ("1.300", "1 300", "1'300"), then an
# optional decimal part; which mark is the decimal one is decided in _parse_amount. Written
# as a first digit and the rest, so that _MONEY_ANCHOR can continue a number it has begun.
# At most five groups (below 10^18): an unbounded "+" made long runs like "000 000 000 …"
# quadratic, since a match is tried from every group; no ransom needs more.
_NUMBER_REST = r"(?:[0-9]{0,2}(?:[.,' ’][0-9]{3}){1,5}|[0-9]{0,11})(?:[.,][0-9]{1,8})?"
_NUMBER = rf"[0-9]{_NUMBER_REST}"
_POST_CURRENCY = rf"{alternation(_SYMBOLS)}|(?:{alternation(_WORDS)})(?![0-9a-z])"
_MONEY = re.compile(
    rf"""
    (?:
        (?<![0-9a-z])(?P<pre>{alternation(_PREFIX_CURRENCIES)})\ ?
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
    f"(?<=(?:{alternation(p for p in _PREFIX_CURRENCIES if len(p) == size)}){space}.)"
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


def find_money_amounts(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
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

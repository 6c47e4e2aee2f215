"""money_amount (milter/scan/detectors/money.py): amounts read with either convention."""

from __future__ import annotations

import time

import pytest

from milter.scan.detectors import DETECTORS, DetectorContext
from milter.scan.normalize import normalize
from tests.scan.test_detectors import detect

# --- money_amount ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.300 euro", "1300 EUR"),
        ("1300€", "1300 EUR"),
        ("€1300", "1300 EUR"),
        ("$1,300", "1300 USD"),
        ("1 300 eur", "1300 EUR"),
        ("1\u00a0300\u00a0€", "1300 EUR"),
        ("1300 usd", "1300 USD"),
        ("USD 1300", "1300 USD"),
        ("0.1 btc", "0.1 BTC"),
        ("0.1 BTC", "0.1 BTC"),
        ("0,05 bitcoin", "0.05 BTC"),
        ("1.500 dollars", "1500 USD"),
        ("500 $", "500 USD"),
        ("2000 euros", "2000 EUR"),
        ("1300 EUR", "1300 EUR"),
        ("1.300,- euro", "1300 EUR"),
        ("1 300 €", "1300 EUR"),
        ("1300 euro's", "1300 EUR"),
        ("€ 1.300,-", "1300 EUR"),
        ("€1.300,50", "1300.5 EUR"),
        ("US$1,300.50", "1300.5 USD"),
        ("$1.300", "1300 USD"),
        ("1.000.000 €", "1000000 EUR"),
        ("£500", "500 GBP"),
        ("1'300 CHF", "1300 CHF"),
        ("1,5 btc", "1.5 BTC"),
        ("1.500 BTC", "1.5 BTC"),  # crypto amounts are small: a mark is a decimal point
        ("0.100 btc", "0.1 BTC"),
        ("2 XMR", "2 XMR"),
        ("0.5 ETH", "0.5 ETH"),
    ],
)
def test_money_amount_finds(text: str, value: str) -> None:
    assert detect("money_amount", f"Pay {text} now") == [(value, text)]


@pytest.mark.parametrize(
    "text",
    [
        "in 2024",
        "version 1.300",
        "BTC",
        "bitcoin 2024",  # a name, not a price
        "eth 2.0",
        "0 eur",
        "room 12 at 14:00",
        "europe 2024",
        "eurovision 300",
        "hours of work",
        "A1300 euro",
    ],
)
def test_money_amount_rejects(text: str) -> None:
    assert detect("money_amount", text) == []


def test_money_amount_finds_every_amount() -> None:
    found = detect("money_amount", "Send 1.300 euro (or $1,450, about 0,05 BTC).")
    assert [value for value, _ in found] == ["1300 EUR", "1450 USD", "0.05 BTC"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The detector tries its pattern only near digits; where amounts meet or overlap
        # it must still find what a scan of every position finds.
        ("100 eur 200", [("100 EUR", "100 eur")]),
        ("5 $ 10", [("5 USD", "5 $")]),
        ("€ 1 300 000 usd 5", [("1300000 EUR", "€ 1 300 000"), ("5 USD", "usd 5")]),
        ("a$5, $6", [("6 USD", "$6")]),
        ("€5€6", [("5 EUR", "€5")]),
        ("us$5 and 7$", [("5 USD", "us$5"), ("7 USD", "7$")]),
        ("1.000.0000 euro", [("1000 EUR", "1.000.0000 euro")]),
    ],
)
def test_money_amount_where_amounts_meet(text: str, expected: list[tuple[str, str]]) -> None:
    assert detect("money_amount", text) == expected


def test_money_amount_is_linear_on_long_digit_groups() -> None:
    # Unbounded thousands groups once made this quadratic: 100 KB took about 90 s.
    text = normalize("000 " * 25_000 + "euro")
    start = time.monotonic()
    DETECTORS["money_amount"](text, DetectorContext())
    assert time.monotonic() - start < 10

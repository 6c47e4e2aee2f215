"""Case tables for the built-in detectors, run through normalize() as rules see text."""

from __future__ import annotations

import dataclasses
import random
import time

import pytest

from milter.mail.structure import (
    MAX_PLAUSIBLE_BLANK_PADDING,
    MAX_PLAUSIBLE_DEPTH,
    MAX_PLAUSIBLE_EMPTY_PARTS,
    MAX_PLAUSIBLE_HIDDEN_CHARS,
    Structure,
)
from milter.scan.detectors import _MAX_CHUNKS, DETECTORS, DetectorContext, Hit, _scan_addresses
from milter.scan.normalize import normalize

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


def detect(name: str, original: str, recipients: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(value, evidence) for every hit; the evidence must be a slice of the original."""
    normalized = normalize(original)
    hits = DETECTORS[name](normalized, DetectorContext(recipients=recipients))
    found = []
    for hit in hits:
        evidence = normalized.evidence(hit.start, hit.end, cased=hit.cased)
        assert evidence in original
        found.append((hit.value, evidence))
    return found


def groups(text: str, size: int, sep: str) -> str:
    return sep.join(text[i : i + size] for i in range(0, len(text), size))


# --- The registry ------------------------------------------------------------------------


def test_registry_names_and_read_only() -> None:
    assert set(DETECTORS) == {
        "bitcoin_address",
        "crypto_address",
        "money_amount",
        "deadline",
        "recipient_address",
        "protected_domain",
        "lookalike_domain",
        "identity_claim",
        "structure_anomaly",
    }
    with pytest.raises(TypeError):
        DETECTORS["x"] = DETECTORS["deadline"]  # type: ignore[index]


def test_hits_are_frozen() -> None:
    hit = Hit(0, 1, "x", cased=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hit.start = 2  # type: ignore[misc]
    assert DetectorContext().recipients == ()


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


# --- deadline ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("48 hours", "48 hours"),
        ("within 2 days", "2 days"),
        ("24h", "24 hours"),
        ("48 hrs", "48 hours"),
        ("binnen 72 uur", "72 hours"),
        ("binnen 72u", "72 hours"),  # Flemish shorthand
        ("binnen 2 dagen", "2 days"),
        ("48 uur", "48 hours"),
        ("sous 48 heures", "48 hours"),
        ("dans les 72 heures", "72 hours"),
        ("48h", "48 hours"),
        ("innerhalb von 48 Stunden", "48 hours"),
        ("48 Stunden", "48 hours"),
        ("2 Tage", "2 days"),
        ("en 48 horas", "48 hours"),
        ("one day", "1 day"),
        ("two days", "2 days"),
        ("twee dagen", "2 days"),
        ("deux jours", "2 days"),
        ("zwei Tage", "2 days"),
        ("50 hours", "50 hours"),
        ("forty-eight hours", "48 hours"),
        ("1 hour", "1 hour"),
        ("within an hour", "1 hour"),
        ("binnen een dag", "1 day"),
        ("innerhalb von einem Tag", "1 day"),
        ("48-hour", "48 hours"),
        ("240 hours", "240 hours"),
        ("30 days", "30 days"),
        ("WITHIN 48 HOURS", "48 hours"),
    ],
)
def test_deadline_finds(text: str, value: str) -> None:
    assert detect("deadline", f"Pay {text}!") == [(value, text)]


@pytest.mark.parametrize(
    "text",
    [
        "hours of work",
        "a day at the beach",
        "om 14u30",  # a time of day
        "thanks 4u",
        "ik geef u 72 u",
        "binnen 14u30",
        "un jour, peut-être",
        "2 hours ago",
        "241 hours",
        "45 days",
        "0 hours",
        "at 10 h 30",
        "à 18h30",
        "2.5 hours",
        "day one",
        "48",
        "in 2024",
    ],
)
def test_deadline_rejects(text: str) -> None:
    assert detect("deadline", text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The detector tries its pattern only a little before a number and unit; the
        # longest prepositions must still fit, and neighbours must not hide each other.
        (
            "innerhalb der nächsten 48 Stunden",
            [("48 hours", "innerhalb der nächsten 48 Stunden")],
        ),
        (
            "binnen de komende vierentwintig uur",
            [("24 hours", "binnen de komende vierentwintig uur")],
        ),
        ("in 2 days 3 hours", [("2 days", "in 2 days"), ("3 hours", "3 hours")]),
        ("a h 5 h", [("5 hours", "5 h")]),
        ("within one h 2 days", [("2 days", "2 days")]),
        ("24 hours ago, 12 hours", [("12 hours", "12 hours")]),
        ("within 1234 hours", []),
    ],
)
def test_deadline_where_phrases_meet(text: str, expected: list[tuple[str, str]]) -> None:
    assert detect("deadline", text) == expected


# --- recipient_address -------------------------------------------------------------------

ME = ("john.smith@example.com",)


@pytest.mark.parametrize(
    ("text", "recipients", "expected"),
    [
        (
            "Your password for john.smith@example.com is known.",
            ME,
            [(ME[0], "john.smith@example.com")],
        ),
        ("JOHN.SMITH@EXAMPLE.COM", ME, [(ME[0], "JOHN.SMITH@EXAMPLE.COM")]),
        ("Hello John.Smith,", ME, [(ME[0], "John.Smith")]),
        (
            "john.smith@example.com, dear john.smith",
            ME,
            [(ME[0], "john.smith@example.com"), (ME[0], "john.smith")],
        ),
        # A generic mailbox: the full address counts, its local part does not.
        (
            "Write to info@example.org for info.",
            ("info@example.org",),
            [("info@example.org", "info@example.org")],
        ),
        ("Hi a.b", ("a.b@example.org",), []),  # local part too short
        ("Hi 1234", ("1234@example.org",), []),  # no letter: just a number
        ("Hi support, Hi sales", ("support@example.org", "sales@example.org"), []),
    ],
)
def test_recipient_address_finds(
    text: str, recipients: tuple[str, ...], expected: list[tuple[str, str]]
) -> None:
    assert detect("recipient_address", text, recipients) == expected


@pytest.mark.parametrize(
    "text",
    [
        "john.smith@example.com.evil.org",
        "xjohn.smith@example.com",
        "john.smithson",
        "john.smith@other.org",
        "nothing here",
    ],
)
def test_recipient_address_rejects(text: str) -> None:
    assert detect("recipient_address", text, ME) == []


def test_recipient_address_without_recipients() -> None:
    assert detect("recipient_address", "john.smith@example.com") == []


def test_money_amount_is_linear_on_long_digit_groups() -> None:
    # Unbounded thousands groups once made this quadratic: 100 KB took about 90 s.
    text = normalize("000 " * 25_000 + "euro")
    start = time.monotonic()
    DETECTORS["money_amount"](text, DetectorContext())
    assert time.monotonic() - start < 10


# --- structure_anomaly ---------------------------------------------------------------------


def structure_hits(structure: Structure | None) -> list[tuple[str, str | None]]:
    text = normalize("any text: the detector reads the message, not the text")
    hits = DETECTORS["structure_anomaly"](text, DetectorContext(structure=structure))
    return [(hit.value, hit.evidence) for hit in hits]


def test_structure_anomaly_reports_what_no_client_builds() -> None:
    padded = Structure(
        depth=31, empty_parts=500, hidden_chars=1_500_000, blank_padding=2_200_000, padded_pdfs=1
    )
    assert structure_hits(padded) == [
        ("mime-depth", "MIME parts nested 31 deep"),
        ("empty-parts", "500 empty MIME parts"),
        ("hidden-text", "1,500,000 characters of hidden HTML text"),
        ("blank-padding", "2,200,000 blank characters of padding"),
        ("pdf-padding", "a PDF past the size limit, mostly bytes its pages do not use"),
    ]


def test_structure_anomaly_leaves_ordinary_structure_alone() -> None:
    assert structure_hits(None) == []
    # Just under each threshold: a deep forward chain, a few empty parts, a preheader.
    ordinary = Structure(
        parts=400,
        depth=MAX_PLAUSIBLE_DEPTH,
        empty_parts=MAX_PLAUSIBLE_EMPTY_PARTS - 1,
        hidden_chars=MAX_PLAUSIBLE_HIDDEN_CHARS - 1,
        blank_padding=MAX_PLAUSIBLE_BLANK_PADDING - 1,
        partial=("a part not read",),  # scored by the scanner, not by this detector
    )
    assert structure_hits(ordinary) == []

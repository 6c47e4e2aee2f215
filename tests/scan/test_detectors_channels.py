"""contact_channel and payment_channel (milter/scan/detectors/channels.py): where an
extortion mail says to write or pay, as canonical values; ordinary mentions of the same
brands without a handle, number or PIN are still found as channels (rules weigh them),
and numbers that are not near a channel word are not PINs or phones."""

from __future__ import annotations

import pytest

from milter.scan.detectors.base import DetectorContext
from milter.scan.detectors.channels import find_contact_channels, find_payment_channels
from milter.scan.normalize import normalize

SESSION = "05" + "ab12" * 16


def contacts(text: str) -> list[str]:
    return [hit.value for hit in find_contact_channels(normalize(text), DetectorContext())]


def payments(text: str) -> list[str]:
    return [hit.value for hit in find_payment_channels(normalize(text), DetectorContext())]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Write to me on Telegram: @Private_Video77", ["telegram:@private_video77"]),
        ("contact me https://t.me/secretcam_01 now", ["telegram:@secretcam_01"]),
        ("Mijn telegram is @viewer_nl", ["telegram:@viewer_nl"]),
        ("@darkroom_22 (Telegram) within 24h", ["telegram:@darkroom_22"]),
        ("WhatsApp: +31 6 1234 5678", ["whatsapp:+31612345678"]),
        ("écrivez sur wa.me/33612345678", ["whatsapp:+33612345678"]),
        ("+49 151 2345 6789 (Signal)", ["signal:+4915123456789"]),
        (f"Session ID {SESSION}", [f"session:{SESSION}"]),
    ],
)
def test_contact_channels(text: str, expected: list[str]) -> None:
    assert contacts(text) == expected


def test_no_channel_in_ordinary_text() -> None:
    text = (
        "Call us on +31 20 123 4567 or mail support@example.org. Follow @company on "
        "social media. Our Telegram channel has news. Order 1234 5678 9012 3456 shipped."
    )
    assert contacts(text) == []
    assert payments(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Buy a Steam gift card of 500 EUR", ["gift card:steam"]),
        ("send me Google Play cards codes", ["gift card:google play"]),
        ("achetez des cartes cadeaux Apple", ["gift card:apple"]),
        ("compra tarjetas de regalo de Steam", ["gift card:steam"]),
        ("Amazon gutscheine im Wert von 300 Euro", ["gift card:amazon"]),
        (
            "Paysafecard PIN: 1234-5678-9012-3456",
            ["paysafecard", "paysafecard pin:1234567890123456"],
        ),
        (
            "via Western Union, MTCN 1234567890",
            ["money transfer:western union", "transfer number:1234567890"],
        ),
        ("pay by moneygram", ["money transfer:moneygram"]),
    ],
)
def test_payment_channels(text: str, expected: list[str]) -> None:
    assert payments(text) == expected

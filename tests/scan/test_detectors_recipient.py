"""recipient_address (milter/scan/detectors/recipient.py): the recipient quoted."""

from __future__ import annotations

import pytest

from tests.scan.test_detectors import detect

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

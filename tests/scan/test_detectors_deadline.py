"""deadline (milter/scan/detectors/deadline.py): time limits, not times of day."""

from __future__ import annotations

import pytest

from tests.scan.test_detectors import detect

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

"""The one helper that makes untrusted text safe to show (milter/mail/display.py)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from milter.mail.display import Fit, safe_text, utc_text

CASES = [
    # (text, fit, options, expected)
    # Safe text comes back as it is, at every fit.
    ("Ihr Paket wartet", Fit.TERMINAL, {}, "Ihr Paket wartet"),
    ("café ☕", Fit.LINE, {}, "café ☕"),
    ("plain", Fit.ASCII, {}, "plain"),
    # Lone surrogates (bytes that were not UTF-8) go at every fit, STORAGE included...
    ("a\udcffb", Fit.STORAGE, {}, "a?b"),
    ("a\udcffb", Fit.TERMINAL, {"escape": True}, "a\\udcffb"),
    # ... and STORAGE keeps everything else: the CLI escapes it where it shows it.
    ("a\x1b[31m\u202eb", Fit.STORAGE, {}, "a\x1b[31m\u202eb"),
    # C0 controls and DEL from LINE on; C1 and bidi still pass LINE.
    ("a\r\nX-Evil: 1\x7f", Fit.LINE, {}, "a??X-Evil: 1?"),
    ("a\x85\u202eb", Fit.LINE, {}, "a\x85\u202eb"),
    # TERMINAL: every "other" character (C1, bidi overrides and isolates, zero-width,
    # BOM, private use, unassigned) and the line/paragraph separators.
    ("evil \x1b]0;owned\x07", Fit.TERMINAL, {"escape": True}, "evil \\x1b]0;owned\\x07"),
    ("\u202etxt.exe", Fit.TERMINAL, {"escape": True}, "\\u202etxt.exe"),
    ("a\u2066b\u2069", Fit.TERMINAL, {}, "a?b?"),
    ("pay\u200bpal\ufeff", Fit.TERMINAL, {}, "pay?pal?"),
    ("\x9b31m", Fit.TERMINAL, {}, "?31m"),
    ("a\u2028b\u2029", Fit.TERMINAL, {}, "a?b?"),
    ("\ue000\U000e0041\U0010ffff", Fit.TERMINAL, {"escape": True}, "\\ue000\\U000e0041\\U0010ffff"),
    # ... while printable Unicode, a no-break space included, stays.
    ("Ελλάδα\u00a0日本", Fit.TERMINAL, {}, "Ελλάδα\u00a0日本"),
    # ASCII: only printable ASCII is left.
    ("café", Fit.ASCII, {}, "caf?"),
    ("café\x00", Fit.ASCII, {"escape": True}, "caf\\xe9\\x00"),
    # Whitespace: kept (the space; a tab is a control), collapsed, or unsafe.
    ("a \tb", Fit.LINE, {}, "a ?b"),
    ("  a \r\n\t b\u00a0 ", Fit.ASCII, {"whitespace": "collapse"}, "a b"),
    ("a b\tc", Fit.LINE, {"whitespace": "unsafe"}, "a?b?c"),
    ("a\tb", Fit.STORAGE, {"whitespace": "unsafe"}, "a?b"),
    # The length cap counts the ellipsis; text within it is not touched.
    ("x" * 10, Fit.TERMINAL, {"limit": 10}, "x" * 10),
    ("x" * 11, Fit.TERMINAL, {"limit": 10}, "x" * 7 + "..."),
    ("x" * 11, Fit.TERMINAL, {"limit": 10, "ellipsis": "…"}, "x" * 9 + "…"),
    ("x" * 11, Fit.TERMINAL, {"limit": 2}, "xx"),
    # The cap applies to the escaped text: the result is what fits on the line.
    ("\x00" * 4, Fit.ASCII, {"escape": True, "limit": 8}, "\\x00\\..."),
]


@pytest.mark.parametrize(("text", "fit", "options", "expected"), CASES)
def test_safe_text(text: str, fit: Fit, options: dict, expected: str) -> None:
    assert safe_text(text, fit, **options) == expected


@given(st.text(), st.sampled_from(list(Fit)), st.booleans(), st.integers(3, 80))
def test_every_fit_keeps_its_promise(text: str, fit: Fit, escape: bool, limit: int) -> None:
    shown = safe_text(text, fit, escape=escape, limit=limit)
    assert len(shown) <= limit
    shown.encode("utf-8")  # no lone surrogate, whatever the fit
    if fit is not Fit.STORAGE:
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in shown)
    if fit is Fit.TERMINAL:
        kinds = {unicodedata.category(c) for c in shown}
        assert not any(kind[0] == "C" or kind in ("Zl", "Zp") for kind in kinds)
    if fit is Fit.ASCII:
        assert all(" " <= c <= "~" for c in shown)


@given(st.text())
def test_collapsed_text_is_one_line_without_edges(text: str) -> None:
    shown = safe_text(text, Fit.ASCII, whitespace="collapse")
    assert "  " not in shown and shown == shown.strip()
    assert "\n" not in shown and "\r" not in shown


def test_utc_text_is_whole_seconds_in_utc() -> None:
    moment = datetime(2025, 1, 31, 11, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=1)))
    assert utc_text(moment) == "2025-01-31T10:00:00Z"
    assert utc_text(datetime(2025, 1, 31, 10, 0, tzinfo=UTC)) == "2025-01-31T10:00:00Z"

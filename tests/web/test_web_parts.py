"""The review page's pure parts, as tables: filters, forms, highlighting, the login
limiter, signed sessions and the chart geometry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from milter.quarantine.store import Status
from milter.web.forms import MAX_FORM_BYTES, FormError, list_query, parse_form
from milter.web.message import Segment, highlight, shown, shown_block
from milter.web.ratelimit import LoginLimiter
from milter.web.sessions import Session, Signer, csrf_ok, new_session
from milter.web.stats import BAR_WIDTH, MAX_BARS, chart, sender_domain

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "expected", "problems"),
    [
        ({}, {}, ()),
        ({"since": "24h"}, {"since": NOW - timedelta(hours=24)}, ()),
        ({"since": "2026-01-31"}, {"since": datetime(2026, 1, 31, tzinfo=UTC)}, ()),
        ({"until": "2026-01-31T10:00+01:00"}, {"until": datetime(2026, 1, 31, 9, tzinfo=UTC)}, ()),
        ({"since": "soon"}, {}, ("since: not a duration",)),
        ({"status": "held"}, {"status": Status.HELD}, ()),
        ({"status": "lost"}, {}, ("status: unknown",)),
        ({"rule": " SEXTORT_* "}, {"rule": "SEXTORT_*"}, ()),
        ({"sender": "@example.org", "rcpt": "a@b.example"},
         {"sender": "@example.org", "rcpt": "a@b.example"}, ()),
        ({"page": "3"}, {"page": 3}, ()),
        ({"page": "-4"}, {"page": 1}, ()),
        ({"page": "x"}, {"page": 1}, ("page: not a number",)),
    ],
)  # fmt: skip
def test_list_query(params: dict[str, str], expected: dict[str, object], problems: tuple) -> None:
    query = list_query(params, NOW)
    defaults = {"since": None, "until": None, "rule": None, "sender": None, "rcpt": None}
    for name, value in (defaults | {"status": None, "page": 1} | expected).items():
        assert getattr(query, name) == value, name
    assert len(query.problems) == len(problems)
    for problem, words in zip(query.problems, problems, strict=True):
        assert problem.startswith(words)


def test_list_query_links_keep_the_filters_and_change_the_page() -> None:
    query = list_query({"sender": "@x.example", "page": "2", "rule": ""}, NOW)
    assert query.link(page=3) == "?sender=%40x.example&page=3"


@pytest.mark.parametrize(
    ("body", "form"),
    [
        (b"csrf=abc&to=a%40b.example", {"csrf": "abc", "to": "a@b.example"}),
        (b"csrf=one&csrf=two", {"csrf": "one"}),  # the first value counts
        (b"", {}),
        (b"csrf=", {"csrf": ""}),
    ],
)
def test_parse_form(body: bytes, form: dict[str, str]) -> None:
    assert parse_form(body) == form


@pytest.mark.parametrize("body", [b"x" * (MAX_FORM_BYTES + 1), "a=é".encode(), b"a=1&" * 30])
def test_parse_form_refuses_what_is_not_our_form(body: bytes) -> None:
    with pytest.raises(FormError):
        parse_form(body)


@pytest.mark.parametrize(
    ("text", "quotes", "marked"),
    [
        ("pay in Bitcoin now", ["bitcoin"], ["Bitcoin"]),
        ("btc btc", ["btc"], ["btc", "btc"]),
        ("webcam video", ["webcam video", "video"], ["webcam video"]),  # overlap: one mark
        ("abcdef", ["bcd", "cde"], ["bcd", "e"]),  # overlapping quotes merge, none lost
        ("nothing here", ["bitcoin", "x"], []),  # one-letter quotes mark nothing
        ("", ["a"], []),
    ],
)
def test_highlight(text: str, quotes: list[str], marked: list[str]) -> None:
    segments = highlight(text, quotes)
    assert "".join(s.text for s in segments) == text
    assert [s.text for s in segments if s.marked] == marked
    assert all(isinstance(s, Segment) for s in segments)


def test_shown_escapes_controls_and_bidi_and_keeps_line_breaks() -> None:
    assert shown("invoice\u202etxt.exe") == "invoice\\u202etxt.exe"
    assert shown("a\x1b[31mb") == "a\\x1b[31mb"
    assert shown_block("one\r\ntwo\x00\nthree") == "one\ntwo\\x00\nthree"


def test_limiter_counts_failures_per_address_and_per_user() -> None:
    now = [0.0]
    limiter = LoginLimiter(per_address=3, per_user=2, window_seconds=10, clock=lambda: now[0])
    limiter.failed("192.0.2.1", "alice")
    assert not limiter.blocked("192.0.2.1", "alice")
    limiter.failed("192.0.2.2", "Alice")  # names count case-insensitively
    assert limiter.blocked("192.0.2.3", "alice")
    assert not limiter.blocked("192.0.2.1", "bob")
    limiter.failed("192.0.2.1", "carol")
    limiter.failed("192.0.2.1", "dave")
    assert limiter.blocked("192.0.2.1", "erin")  # the address: 3 failures
    now[0] = 10.5
    assert not limiter.blocked("192.0.2.1", "alice")


def test_sessions_are_signed_and_expire() -> None:
    signer = Signer(b"k" * 32)
    session = new_session("alice", "fp", now=100)
    value = signer.dump(session)
    assert signer.load(value, now=101) == session
    assert signer.load(value, now=session.expires) is None
    assert Signer(b"j" * 32).load(value, now=101) is None
    body, _, mac = value.partition(".")
    forged = Session("mallory", session.csrf, session.expires, "fp")
    forged_body = signer.dump(forged).partition(".")[0]
    assert signer.load(f"{forged_body}.{mac}", now=101) is None
    for junk in ("", ".", "abc", "a.b", body, "x" * 5000):
        assert signer.load(junk, now=101) is None
    assert csrf_ok(session, session.csrf)
    assert not csrf_ok(session, "") and not csrf_ok(session, None) and not csrf_ok(None, "x")
    assert not csrf_ok(session, session.csrf + "x")


def test_chart_bars_are_proportional_and_capped() -> None:
    counts = [(f"rule{i:02}", i + 1) for i in range(MAX_BARS + 3)]
    drawn = chart("Per rule", counts)
    assert len(drawn.bars) == MAX_BARS
    assert drawn.bars[0].label == f"rule{MAX_BARS + 2:02}" and drawn.bars[0].width == BAR_WIDTH
    assert drawn.others == 1 + 2 + 3
    assert [b.y for b in drawn.bars] == sorted(b.y for b in drawn.bars)
    days = chart("Per day", [("2026-12-01", 1), ("2026-12-02", 4)], keep_order=True)
    assert [b.label for b in days.bars] == ["2026-12-01", "2026-12-02"]
    assert days.bars[0].width == round(BAR_WIDTH / 4)
    assert chart("empty", []).bars == ()


@pytest.mark.parametrize(
    ("address", "domain"),
    [("a@Example.ORG", "example.org"), ("", "(null sender)"), ("x@b\u202ec", "b\\u202ec")],
)
def test_sender_domain(address: str, domain: str) -> None:
    assert sender_domain(address) == domain

"""Shortcuts in the scanner give exactly what the longer way gives.

Each cheaper path in parsing, normalising and matching is checked against the path it
replaced: the stdlib parse with ``email.policy.default``, the regex unfolding of header
values, ``getaddresses``, the regex whitespace collapse, maps built eagerly, URL search
without a prefilter, and a regex search run again for every matcher that needs it.
"""

from __future__ import annotations

import functools
import re
import tempfile
import textwrap
from email import policy as email_policy
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from milter.config import shipped_rules_dir
from milter.mail import view as message_view
from milter.mail.html import _URL_IN_TEXT, _URL_TRAILING, find_urls
from milter.mail.view import (
    _BARE_ADDRESS,
    MimeHeaderCache,
    decode_header_value,
    parse_message,
)
from milter.scan.detectors import DETECTORS, DetectorContext
from milter.scan.normalize import (
    _FOLD,
    NormalizedText,
    _collapse_ascii_blanks,
    _fold_general,
    _fold_simple,
    normalize,
)
from milter.scan.rules import engine as rule_engine
from milter.scan.rules.engine import MatchOutcome, RuleSet
from milter.scan.rules.loader import Rule, load_rule_file
from milter.scan.scanner import Scanner

MESSAGES = sorted(p for p in (Path(__file__).parents[1] / "messages").rglob("*.eml"))

MULTIPART = (
    b"From: a@example.org\r\n"
    b"Content-Type: multipart/mixed;\r\n"
    b'\tboundary="XYZ"\r\n'
    b"\r\n"
    b"--XYZ\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=C3=A9\r\n"
    b"--XYZ\r\n"
    b"Content-Type: application/octet-stream;\r\n"
    b" name*=utf-8''r%C3%A9sum%C3%A9.bin\r\n"
    b'Content-Disposition: attachment; filename="=?utf-8?q?caf=C3=A9?=.bin"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"aGVsbG8=\r\n"
    b"--XYZ--\r\n"
)


# --- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [MULTIPART, *(p.read_bytes() for p in MESSAGES)], ids=["multipart", *map(str, MESSAGES)]
)
def test_reused_headers_give_the_default_policys_view(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = parse_message(raw)
    shared = MimeHeaderCache()
    first = parse_message(raw, mime_headers=shared)
    again = parse_message(raw, mime_headers=shared)  # MIME fields from the shared cache
    monkeypatch.setattr(message_view, "_POLICY", _DefaultPolicy())
    assert view == first == again == parse_message(raw)


class _DefaultPolicy:
    """Stands in for message_view's policy: the stdlib's, nothing reused."""

    def for_message(self, mime_headers: MimeHeaderCache | None = None) -> object:
        return email_policy.default


def test_reused_headers_answer_like_fresh_ones() -> None:
    fresh = BytesParser(policy=email_policy.default).parsebytes(MULTIPART)
    for _ in range(2):
        reused = BytesParser(policy=message_view._POLICY).parsebytes(MULTIPART)
        pairs = list(zip(fresh.walk(), reused.walk(), strict=True))
        for a, b in pairs:
            assert a.get_content_type() == b.get_content_type()
            assert a.get_boundary() == b.get_boundary()
            assert a.get_filename() == b.get_filename()
            assert a.get_content_charset() == b.get_content_charset()
            assert a.get_payload(decode=True) == b.get_payload(decode=True)
            for name in a:
                assert str(a[name]) == str(b[name])
                assert type(a[name]).__mro__[1:] == type(b[name]).__mro__[1:]


_LINE_BREAK = re.compile(r"\r?\n(?=[ \t])|\r\n|[\r\n]")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="\r\n \tab=?", max_size=30))
def test_unfolding_is_the_regex_substitution(raw: str) -> None:
    unfolded = _LINE_BREAK.sub(lambda m: "" if m.group().endswith("\n") else " ", raw)
    expected = unfolded.strip() if "=?" not in unfolded else None
    if expected is not None:
        assert decode_header_value(raw) == expected


_ATOM = st.text(alphabet="abcXYZ0189_+-", min_size=1, max_size=6)
_LABEL = st.text(alphabet="abZ09-", min_size=1, max_size=6)
_BLANKS = st.text(alphabet=" \t\r\n", max_size=3)


@settings(max_examples=500, deadline=None)
@given(
    _BLANKS,
    st.lists(_ATOM, min_size=1, max_size=3),
    st.lists(_LABEL, min_size=2, max_size=4),
    _BLANKS,
)
def test_bare_address_is_what_getaddresses_finds(
    before: str, local: list[str], domain: list[str], after: str
) -> None:
    text = before + ".".join(local) + "@" + ".".join(domain) + after
    match = _BARE_ADDRESS.fullmatch(text)
    assert match is not None
    assert [(d, a) for d, a in getaddresses([text]) if d or a] == [("", match.group(1))]


@pytest.mark.parametrize("text", ["a@b.c\u00a0", "a b@c.d", "a@b", "a..b@c.d", "<a@b.c>", "a@b.c,"])
def test_not_bare_addresses(text: str) -> None:
    assert _BARE_ADDRESS.fullmatch(text) is None


# --- normalising ------------------------------------------------------------------------


def test_every_whitespace_character_folds_to_a_space() -> None:
    # The fast fold collapses blanks with str.split(), which splits on every str.isspace()
    # character: that is only the ASCII collapse when the fold leaves no other.
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace() and not chr(c).isascii()]
    assert spaces
    assert all(_FOLD.get(c) == " " for c in spaces)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=" \t\r\n\x0b\x0c\x1c\x1f\x00\x7f\u00a0\u2009\u3000\u2028ab.é\u0430"))
def test_lazy_maps_are_the_eager_ones(original: str) -> None:
    result = normalize(original)
    general, cmap = _fold_general(original)
    assert result.cased == general
    assert result.cased_map == (*cmap, len(original))
    simple = _fold_simple(original)
    if simple is not None:
        assert simple == (general, cmap)


# --- URLs -------------------------------------------------------------------------------


def _find_urls_unfiltered(text: str) -> list[str]:
    """find_urls as it was before the prefilter."""
    urls: list[str] = []
    for match in _URL_IN_TEXT.finditer(text):
        url = match.group().rstrip(_URL_TRAILING)
        if url.count("(") > url.count(")") and match.group()[len(url) : len(url) + 1] == ")":
            url += ")"
        if len(url) > 4 and not url.lower().endswith(("://", "www.")):
            urls.append(url)
    return urls


@pytest.mark.parametrize(
    "text",
    [
        "see WwW.Example.org/a.",
        "HTTPS://x.example/(a)",
        "httpſ://odd.example",  # long s: an "s" under re.IGNORECASE
        "no link here",
        "mail me at www dot example",
        "ftp://host/file",
    ],
)
def test_url_prefilter_misses_nothing(text: str) -> None:
    assert find_urls(text) == _find_urls_unfiltered(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="wW.:/hHtTpPsSſx ", max_size=24))
def test_url_prefilter_misses_nothing_in_any_text(text: str) -> None:
    assert find_urls(text) == _find_urls_unfiltered(text)


# --- matching ---------------------------------------------------------------------------

SHARED = textwrap.dedent(
    """\
    - id: TWO_MARKS
      description: two marks
      score: 1
      matchers:
        marks:
          target: body
          min_count: 2
          regex: ['\\bfund\\b', '\\b[0-9]+ ?million\\b']
      condition: marks
      examples:
        must_match: [{body: fund of 10 million}]
        must_not_match: [{body: fund}]
    - id: THREE_MARKS
      description: three marks
      score: 1
      matchers:
        marks:
          target: body
          min_count: 3
          regex: ['\\bfund\\b', '\\b[0-9]+ ?million\\b']
      condition: marks
      examples:
        must_match: [{body: fund of 10 million or 20 million}]
        must_not_match: [{body: fund of 10 million}]
    """
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("the fund of 10 million", {"TWO_MARKS"}),
        ("the fund of 10 million, 20 million, 30 million", {"TWO_MARKS", "THREE_MARKS"}),
        ("10 million and 20 million", {"TWO_MARKS"}),
        ("nothing", set()),
    ],
)
def test_searches_shared_by_rules_give_the_same_matches(
    tmp_path: Path, body: str, expected: set[str]
) -> None:
    # TWO_MARKS stops its search after two matches (not kept); THREE_MARKS then runs it
    # again and must see all of them.
    path = tmp_path / "shared.yml"
    path.write_text(SHARED, encoding="utf-8")
    rules = load_rule_file(path)
    texts = (normalize(body),)
    together = RuleSet(rules).match(lambda t: texts if t == "body" else (), DetectorContext())
    assert {m.rule.id for m in together.matches} == expected
    for rule in rules:
        alone = RuleSet([rule]).match(lambda t: texts if t == "body" else (), DetectorContext())
        assert [m.evidence for m in alone.matches] == [
            m.evidence for m in together.matches if m.rule.id == rule.id
        ]


# --- literals outside the automaton -----------------------------------------------------

NARROWING = textwrap.dedent(
    """\
    - id: FUND_OF_THE
      description: a regex indexed by "fund" whose other required literal is "the"
      score: 1
      matchers:
        story:
          target: body
          regex: '\\bthe\\b.{0,12}\\bfund\\b'
      condition: story
      examples:
        must_match: [{body: the fund}]
        must_not_match: [{body: a fund}]
    """
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["the", "fund", "thefund", " ", ".", "x", "théfund"]), max_size=40))
def test_literals_found_with_find_narrow_like_the_automaton(words: list[str]) -> None:
    # "the" occurs hundreds of times in a letter: it is looked up with str.find when
    # a rule needing it is evaluated, never recorded by the automaton.
    rules = load_rules_text(NARROWING)
    ruleset = RuleSet(rules)
    assert "the" in ruleset._lazy and "fund" not in ruleset._lazy
    texts = (normalize("".join(words)),)

    def source(target: str) -> tuple[NormalizedText, ...]:
        return texts if target == "body" else ()

    narrowed = ruleset.match(source, DetectorContext())
    whole = RuleSet(rules, prefilter=False).match(source, DetectorContext())
    pattern = rules[0].matchers["story"].patterns[0]
    assert bool(narrowed.matches) == (pattern.search(texts[0].text) is not None)
    assert [m.evidence for m in narrowed.matches] == [m.evidence for m in whole.matches]


def load_rules_text(text: str) -> list[Rule]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(text, encoding="utf-8")
        return load_rule_file(path)


# --- building blocks evaluated on demand ------------------------------------------------

BLOCKS = textwrap.dedent(
    """\
    - id: __AMOUNT
      description: a sum of money (a detector, no literal to index it by)
      score: 0
      matchers:
        sum: {target: body, detector: money_amount}
      condition: sum
      examples:
        must_match: [{body: pay 500 euro}]
        must_not_match: [{body: hello}]
    - id: __CRYPTO
      description: a currency word
      score: 0
      matchers:
        word: {target: body, phrases: [bitcoin]}
      condition: word
      examples:
        must_match: [{body: bitcoin}]
        must_not_match: [{body: hello}]
    - id: PAY_IN_CRYPTO
      description: a sum in bitcoin
      score: 3
      matchers:
        sum: {rule: __AMOUNT}
        crypto: {rule: __CRYPTO}
      condition: sum and crypto
      examples:
        must_match: [{body: pay 500 euro in bitcoin}]
        must_not_match: [{body: pay 500 euro}]
    - id: __HOLD_BIG
      description: a building block with an action of its own
      score: 0
      action: quarantine
      matchers:
        sum: {target: body, detector: money_amount, min_count: 3}
      condition: sum
      examples:
        must_match: [{body: 1 euro 2 euro 3 euro}]
        must_not_match: [{body: 1 euro}]
    """
)


@pytest.mark.parametrize(
    ("body", "reported", "every", "lazy"),
    [
        ("pay 500 euro", set(), {"__AMOUNT"}, set()),  # nobody asked about __AMOUNT
        (
            "pay 500 euro in bitcoin",
            {"PAY_IN_CRYPTO"},
            {"__AMOUNT", "__CRYPTO", "PAY_IN_CRYPTO"},
            {"__AMOUNT", "__CRYPTO", "PAY_IN_CRYPTO"},
        ),
        ("bitcoin only", set(), {"__CRYPTO"}, set()),
        ("1 euro 2 euro 3 euro", {"__HOLD_BIG"}, {"__AMOUNT", "__HOLD_BIG"}, {"__HOLD_BIG"}),
        ("hello", set(), set(), set()),
    ],
)
def test_building_blocks_on_demand_report_the_same_rules(
    body: str, reported: set[str], every: set[str], lazy: set[str]
) -> None:
    rules = load_rules_text(BLOCKS)
    ruleset = RuleSet(rules)
    texts = (normalize(body),)

    def source(target: str) -> tuple[NormalizedText, ...]:
        return texts if target == "body" else ()

    full = ruleset.match(source, DetectorContext(), every_rule=True)
    quick = ruleset.match(source, DetectorContext(), every_rule=False)
    assert {m.rule.id for m in full.matches} == every
    assert {m.rule.id for m in quick.matches} == lazy

    # What a verdict is made of: rules that are reported or carry an action.
    def decisive(outcome: MatchOutcome) -> list:
        return [
            (m.rule.id, m.evidence)
            for m in outcome.matches
            if not m.rule.internal or m.rule.action is not None
        ]

    assert decisive(quick) == decisive(full)
    assert {rule_id for rule_id, _ in decisive(full)} == reported


@pytest.mark.parametrize("path", MESSAGES, ids=map(str, MESSAGES))
def test_building_blocks_on_demand_give_the_same_verdict(path: Path) -> None:
    scanner = shipped_scanner()
    raw = path.read_bytes()
    quick = scanner.scan(raw)
    full = scanner.scan(raw, every_rule=True)
    assert (quick.action, quick.score, quick.rules, quick.notes) == (
        full.action,
        full.score,
        full.rules,
        full.notes,
    )
    assert quick.matched_ids <= full.matched_ids


@functools.cache
def shipped_scanner() -> Scanner:
    return Scanner.from_rule_paths([shipped_rules_dir()])


def test_detector_of_an_unasked_building_block_does_not_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The point of evaluating building blocks on demand: __AMOUNT's detector runs only
    # when PAY_IN_CRYPTO (indexed by "bitcoin") is evaluated, or for rule examples.
    calls: list[str] = []
    money_amount = DETECTORS["money_amount"]

    def counting(text: NormalizedText, context: DetectorContext) -> list:
        calls.append(text.text)
        return money_amount(text, context)

    monkeypatch.setattr(rule_engine, "DETECTORS", {**DETECTORS, "money_amount": counting})
    rules = [r for r in load_rules_text(BLOCKS) if r.id != "__HOLD_BIG"]
    ruleset = RuleSet(rules)

    def run(body: str, every_rule: bool) -> set[str]:
        texts = (normalize(body),)
        outcome = ruleset.match(
            lambda t: texts if t == "body" else (), DetectorContext(), every_rule=every_rule
        )
        return {m.rule.id for m in outcome.matches}

    assert run("pay 500 euro", every_rule=False) == set()
    assert calls == []
    assert run("pay 500 euro in bitcoin", every_rule=False) == {
        "__AMOUNT",
        "__CRYPTO",
        "PAY_IN_CRYPTO",
    }
    assert calls == ["pay 500 euro in bitcoin"]
    assert run("pay 500 euro", every_rule=True) == {"__AMOUNT"}
    assert len(calls) == 2


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1fab.", max_size=300))
def test_ascii_blanks_collapse_as_split_and_join(text: str) -> None:
    assert _collapse_ascii_blanks(text.encode("ascii")) == " ".join(text.split())

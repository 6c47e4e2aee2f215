"""Shortcuts in the scanner give exactly what the longer way gives.

Each cheaper path in parsing, normalising and matching is checked against the path it
replaced: the stdlib parse with ``email.policy.default``, the regex unfolding of header
values, ``getaddresses``, the regex whitespace collapse, maps built eagerly, URL search
without a prefilter, and a regex search run again for every matcher that needs it.
"""

from __future__ import annotations

import re
import textwrap
from email import policy as email_policy
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from milter import message_view
from milter.detectors import DetectorContext
from milter.html_text import _URL_IN_TEXT, _URL_TRAILING, find_urls
from milter.message_view import _BARE_ADDRESS, decode_header_value, parse_message
from milter.normalize import _FOLD, _fold_general, _fold_simple, normalize
from milter.rule_engine import RuleSet
from milter.rule_loader import load_rule_file

MESSAGES = sorted(p for p in (Path(__file__).parent / "messages").rglob("*.eml"))

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
    again = parse_message(raw)  # now every header comes from the cache
    monkeypatch.setattr(message_view, "_POLICY", email_policy.default)
    assert view == again == parse_message(raw)


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

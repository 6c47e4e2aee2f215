"""Rule files: what loads, and errors that name file, line and rule id."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from milter.errors import RuleError
from milter.scan.rules.loader import (
    DetectorMatcher,
    Literals,
    PhraseMatcher,
    RegexMatcher,
    _literals_of,
    _parse_pattern,
    load_rule_file,
    load_rules,
    load_rules_collecting,
)

GOOD = """\
- id: TEST_WEBCAM
  title: Webcam claim
  description: Claims a webcam recording.
  score: 3
  tags: [test]
  matchers:
    claim_cam:
      target: body
      regex: 'recorded you .{0,20}(webcam|camera)'
    pay_word:
      target: [body, subject]
      phrases: [bitcoin, btc wallet]
      distance: 1
    pay_addr:
      target: body
      detector: bitcoin_address
  condition: claim_cam and 1 of pay_*
  examples:
    must_match:
      - body: I recorded you with your webcam. Pay in bitcoin.
    must_not_match:
      - body: Your webcam driver was updated.
"""


def write(tmp_path: Path, text: str, name: str = "rules.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_good_rule_compiles(tmp_path: Path) -> None:
    (rule,) = load_rule_file(write(tmp_path, GOOD))
    assert rule.id == "TEST_WEBCAM"
    assert rule.score == 3.0
    assert rule.line == 1
    assert isinstance(rule.matchers["claim_cam"], RegexMatcher)
    phrases = rule.matchers["pay_word"]
    assert isinstance(phrases, PhraseMatcher)
    assert phrases.targets == ("body", "subject")
    assert phrases.phrases == ("bitcoin", "btc wallet")
    assert isinstance(rule.matchers["pay_addr"], DetectorMatcher)


def bad(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


# (change to the good rule, the line the error must name, words the error must contain)
BROKEN = [
    (bad("  score: 3\n", "  score: three\n"), 4, "score must be a number"),
    (bad("  tags: [test]\n", "  tags: [test]\n  colour: red\n"), 6, "unknown key 'colour'"),
    (
        bad("      regex: 'recorded you .{0,20}(webcam|camera)'", "      regex: 'recorded (you'"),
        9,
        "bad regex",
    ),
    (
        bad("      target: body\n      regex", "      target: bodi\n      regex"),
        8,
        "unknown target 'bodi'",
    ),
    (bad("detector: bitcoin_address", "detector: dogecoin"), 16, "unknown detector 'dogecoin'"),
    (bad("claim_cam and 1 of pay_*", "claim_cam and pay_*"), 17, "needs a quantity"),
    (bad("claim_cam and 1 of pay_*", "claim_cam and pay_word"), 14, "'pay_addr' is not used"),
    (bad("claim_cam and 1 of pay_*", "claim_cam and 1 of pay_* and sender_x"), 17, "not a matcher"),
    (bad("      - body: Your webcam driver was updated.\n", ""), 18, "non-empty must_not_match"),
    (
        bad("  description: Claims a webcam recording.\n", ""),
        1,
        "missing required key 'description'",
    ),
    (bad("      distance: 1", "      distance: 5"), 13, "distance must be 0, 1 or 2"),
    (
        bad("  score: 3\n  tags: [test]\n", "  tags: [test]\n  score: 3\n"),
        1,
        "keys must come in this order",
    ),
]


@pytest.mark.parametrize(("text", "line", "words"), BROKEN)
def test_broken_rule_names_file_line_and_id(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as caught:
        load_rule_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: rule TEST_WEBCAM: "), message
    assert words in message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  tags: [test]", "  tags: [test"))
    with pytest.raises(RuleError, match=rf"^{path}:\d+: invalid YAML"):
        load_rule_file(path)


def test_bad_id(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("id: TEST_WEBCAM", "id: test-webcam"))
    with pytest.raises(RuleError, match=rf"^{path}:1: id must be upper-case"):
        load_rule_file(path)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yml")
    second = write(tmp_path, GOOD, "b.yml")
    with pytest.raises(
        RuleError, match=rf"^{second}:1: rule TEST_WEBCAM: duplicate id, first defined at"
    ):
        load_rules([tmp_path])


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("  score: 3\n", "  score: 3\n  score: 4\n"))
    with pytest.raises(RuleError, match=rf"^{path}:5: key 'score' appears twice"):
        load_rule_file(path)


def test_meta_rule_cycle_and_unknown_reference(tmp_path: Path) -> None:
    meta = """\
    - id: META_A
      description: refers to B
      score: 1
      matchers:
        other:
          rule: META_B
      condition: other
      examples:
        must_match: [{body: x}]
        must_not_match: [{body: y}]
    - id: META_B
      description: refers to A
      score: 1
      matchers:
        other:
          rule: META_A
      condition: other
      examples:
        must_match: [{body: x}]
        must_not_match: [{body: y}]
    """
    write(tmp_path, meta)
    with pytest.raises(RuleError, match="cycle: META_A -> META_B -> META_A"):
        load_rules([tmp_path])
    write(tmp_path, meta.replace("rule: META_A", "rule: META_C"))
    with pytest.raises(RuleError, match="unknown rule 'META_C'"):
        load_rules([tmp_path])


def test_building_block_needs_zero_score(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("id: TEST_WEBCAM", "id: __TEST_WEBCAM"))
    with pytest.raises(RuleError, match="must have score 0"):
        load_rule_file(path)


def test_collecting_reports_every_broken_rule(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("score: 3", "score: x"), "a.yml")
    write(
        tmp_path,
        GOOD.replace("TEST_WEBCAM", "TEST_OTHER").replace("target: body", "target: nope", 1),
        "b.yml",
    )
    write(tmp_path, GOOD.replace("TEST_WEBCAM", "TEST_FINE"), "c.yml")
    rules, errors = load_rules_collecting([tmp_path])
    assert [r.id for r in rules] == ["TEST_FINE"]
    assert len(errors) == 2
    assert "a.yml:4: rule TEST_WEBCAM" in str(errors[0])
    assert "b.yml:8: rule TEST_OTHER" in str(errors[1])


def test_missing_path() -> None:
    with pytest.raises(RuleError, match="no such rule file or directory"):
        load_rules([Path("/nonexistent/rules")])


def required_literals(pattern: str) -> Literals | None:
    """What the loader keeps as a regex's prefilter (RegexMatcher.literals)."""
    return _literals_of(_parse_pattern(pattern))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("bitcoin", [{"bitcoin"}]),
        (r"\bhacked\b", [{"hacked"}]),
        ("Recorded you", [{"recorded you"}]),
        (r"(webcam|camera)", [{"webcam", "camera"}]),
        # Every required part is kept, most selective first. The stdlib parser factors
        # the common "b" out of the branch: put back in front of each branch's start, it
        # gives the whole words, the rarest set.
        (
            r"pay .{0,30}(bitcoin|btc wallet)",
            [{"bitcoin", "btc wallet"}, {"tc wallet", "itcoin"}, {"pay "}],
        ),
        (r"\b(access|account)\b", [{"access", "account"}, {"acc"}, {"ess", "ount"}]),
        (r"\bv(ideo|ídeo)s?\b", [{"video", "vídeo"}, {"ideo", "ídeo"}]),
        (r"(ab|webcam)", None),  # one branch has no usable literal: cannot prefilter
        (r"x?", None),
        (r"(?:hacked)+ you", [{"hacked"}, {" you"}]),
        (r"\d+ hours", [{" hours"}]),
        # Common prefixes are factored out again ("trac", "can") and put back; the four
        # most selective sets are kept.
        (
            r"(cannot|can not) be (tracked|traced)",
            [{" be tracked", " be traced"}, {"cannot", "can not"}, {"tracked", "traced"}, {" be "}],
        ),
        (r"\p{L}+coin", None),  # regex-module syntax: not prefiltered, still correct
    ],
)
def test_required_literals(pattern: str, expected: list[set[str]] | None) -> None:
    found = required_literals(pattern)
    assert found == (tuple(frozenset(s) for s in expected) if expected is not None else None)

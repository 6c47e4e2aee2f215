"""Matching compiled rules against texts, without parsing any message."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from milter.scan.detectors import DetectorContext
from milter.scan.normalize import NormalizedText, normalize
from milter.scan.rules.engine import RuleSet
from milter.scan.rules.loader import Rule, load_rule_file

RULES = """\
- id: CLAIM_HACKED
  description: hacked claim
  score: 2
  matchers:
    claim:
      target: body
      regex: '\\bhacked\\b.{0,40}\\b(device|computer)\\b'
  condition: claim
  examples:
    must_match: [{body: I hacked your device}]
    must_not_match: [{body: hi}]
- id: PAY_WORDS
  description: two payment words
  score: 1
  matchers:
    pay:
      target: [body, subject]
      phrases: [bitcoin, btc wallet, transfer]
      min_count: 2
  condition: pay
  examples:
    must_match: [{body: bitcoin transfer}]
    must_not_match: [{body: bitcoin}]
- id: FUZZY_PORN
  description: fuzzy word
  score: 1
  matchers:
    porn:
      target: body
      phrases: [masturbation]
      distance: 1
  condition: porn
  examples:
    must_match: [{body: masturbation}]
    must_not_match: [{body: hi}]
- id: META_HACKED_PAY
  description: meta
  score: 5
  matchers:
    hacked:
      rule: CLAIM_HACKED
    pay:
      rule: PAY_WORDS
    filter_news:
      target: body
      phrases: [unsubscribe]
  condition: hacked and pay and not filter_news
  examples:
    must_match: [{body: x}]
    must_not_match: [{body: y}]
- id: ADDR
  description: detector
  score: 3
  matchers:
    addr:
      target: body
      detector: bitcoin_address
  condition: addr
  examples:
    must_match: [{body: x}]
    must_not_match: [{body: y}]
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> list[Rule]:
    path = tmp_path_factory.mktemp("rules") / "r.yml"
    path.write_text(RULES, encoding="utf-8")
    return load_rule_file(path)


def source(texts: Mapping[str, Sequence[str]]):
    normalized = {k: tuple(normalize(t) for t in v) for k, v in texts.items()}

    def get(target: str) -> Sequence[NormalizedText]:
        return normalized.get(target, ())

    return get


GENESIS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"

CASES = [
    ({"body": ["I have hacked your computer."]}, {"CLAIM_HACKED"}),
    # Homoglyphs (Cyrillic а, о) and a zero-width space do not hide the claim.
    ({"body": ["I h\u200bаcked your cоmputer."]}, {"CLAIM_HACKED"}),
    ({"body": ["The hackedcomputer club"]}, set()),
    ({"body": ["Send bitcoin now"]}, set()),
    ({"body": ["Send bitcoin now"], "subject": ["Transfer"]}, {"PAY_WORDS"}),
    ({"body": ["bitcoins and transfers"]}, set()),  # phrases match whole words only
    ({"body": ["watching you masturbatlng"]}, set()),  # two edits: too far
    ({"body": ["watching your masturbatlon"]}, {"FUZZY_PORN"}),
    (
        {"body": ["I hacked your device. Pay bitcoin via transfer."]},
        {"CLAIM_HACKED", "PAY_WORDS", "META_HACKED_PAY"},
    ),
    (
        {"body": ["I hacked your device. Pay bitcoin via transfer. Unsubscribe here."]},
        {"CLAIM_HACKED", "PAY_WORDS"},
    ),
    ({"body": [f"wallet: {GENESIS}"]}, {"ADDR"}),
    ({"body": [f"wallet: {GENESIS[:-1]}b"]}, set()),
]


@pytest.mark.parametrize("prefilter", [True, False])
@pytest.mark.parametrize(("texts", "expected"), CASES)
def test_matches(rules: list[Rule], texts, expected: set[str], prefilter: bool) -> None:
    outcome = RuleSet(rules, prefilter=prefilter).match(source(texts), DetectorContext())
    assert {m.rule.id for m in outcome.matches} == expected


def test_evidence_quotes_the_original_text(rules: list[Rule]) -> None:
    outcome = RuleSet(rules).match(
        source({"body": ["Listen: I h\u200bаcked   your\ncоmputer!"]}), DetectorContext()
    )
    (match,) = outcome.matches
    assert match.evidence == ("h\u200bаcked your cоmputer",)


def test_meta_rule_carries_evidence_of_its_parts(rules: list[Rule]) -> None:
    outcome = RuleSet(rules).match(
        source({"body": ["I hacked your device. Pay bitcoin via transfer."]}), DetectorContext()
    )
    meta = next(m for m in outcome.matches if m.rule.id == "META_HACKED_PAY")
    assert "hacked your device" in meta.evidence
    assert "bitcoin" in meta.evidence


def test_prefilter_skips_rules_whose_literals_are_absent(rules: list[Rule]) -> None:
    ruleset = RuleSet(rules)
    outcome = ruleset.match(source({"body": ["Lunch at noon?"]}), DetectorContext())
    assert outcome.matches == ()
    # Only the detector rule's detector ran; no condition was evaluated.
    assert outcome.evaluated == 0
    everything = RuleSet(rules, prefilter=False).match(
        source({"body": ["Lunch at noon?"]}), DetectorContext()
    )
    assert everything.evaluated == len(rules)


def test_a_rule_is_not_evaluated_when_a_rule_it_requires_is_no_candidate(
    rules: list[Rule],
) -> None:
    # "hacked" selects META_HACKED_PAY by the index, but it requires PAY_WORDS too, and
    # no payment word is there: only CLAIM_HACKED's condition runs.
    ruleset = RuleSet(rules)
    text = source({"body": ["I hacked your device."]})
    outcome = ruleset.match(text, DetectorContext(), every_rule=False)
    assert {m.rule.id for m in outcome.matches} == {"CLAIM_HACKED"}
    assert outcome.evaluated == 1
    both = ruleset.match(
        source({"body": ["I hacked your device. Pay bitcoin via transfer."]}),
        DetectorContext(),
        every_rule=False,
    )
    assert "META_HACKED_PAY" in {m.rule.id for m in both.matches}


def test_regex_time_limit_is_a_note_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "slow.yml"
    path.write_text(
        textwrap.dedent(
            """\
            - id: SLOW
              description: slow pattern
              score: 1
              matchers:
                slow:
                  target: body
                  regex: '(\\w+ ){3}zzz'
              condition: slow
              examples:
                must_match: [{body: a b c zzz}]
                must_not_match: [{body: y}]
            """
        ),
        encoding="utf-8",
    )
    ruleset = RuleSet(load_rule_file(path), regex_timeout=0.001)
    outcome = ruleset.match(source({"body": ["word " * 400_000 + "!zzz"]}), DetectorContext())
    assert outcome.matches == ()
    assert outcome.notes == ("regex time limit reached in SLOW.slow",)


def test_self_repeating_literal_past_its_position_cap(tmp_path: Path) -> None:
    # "xxx" matches everywhere in a run of x: its positions are capped, and a match
    # after the cap must still be found (by searching the whole text).
    path = tmp_path / "xxx.yml"
    path.write_text(
        textwrap.dedent(
            """\
            - id: XXX_WORD
              description: the word xxx
              score: 1
              matchers:
                word:
                  target: body
                  phrases: [xxx]
              condition: word
              examples:
                must_match: [{body: xxx}]
                must_not_match: [{body: xxxx}]
            - id: XXX_NEAR_VIDEO
              description: xxx near video
              score: 1
              matchers:
                near:
                  target: body
                  regex: '\\bxxx\\b.{0,20}\\bvideo'
              condition: near
              examples:
                must_match: [{body: xxx video}]
                must_not_match: [{body: xxxx video}]
            """
        ),
        encoding="utf-8",
    )
    rules = load_rule_file(path)
    text = "x" * 5000 + " and then an xxx video"
    for prefilter in (True, False):
        outcome = RuleSet(rules, prefilter=prefilter).match(
            source({"body": [text]}), DetectorContext()
        )
        assert {m.rule.id for m in outcome.matches} == {"XXX_WORD", "XXX_NEAR_VIDEO"}
    outcome = RuleSet(rules).match(source({"body": ["x" * 5000]}), DetectorContext())
    assert outcome.matches == ()

"""The literal prefilter is an optimisation only: it never changes which rules match."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from milter.config import shipped_rules_dir
from milter.mail.envelope import Envelope
from milter.mail.view import parse_message
from milter.scan.detectors import DetectorContext
from milter.scan.identities.registry import IdentityRegistry
from milter.scan.rules.engine import RuleSet
from milter.scan.rules.examples import build_example
from milter.scan.rules.loader import PhraseMatcher, RegexMatcher, load_rules
from milter.scan.targets import MessageTargets

RULES = load_rules([shipped_rules_dir()])
FAST = RuleSet(RULES)
SLOW = RuleSet(RULES, prefilter=False)
MESSAGES = Path(__file__).parents[1] / "messages"


REGISTRY = IdentityRegistry.load([shipped_rules_dir()])


def matched(
    ruleset: RuleSet,
    raw: bytes,
    envelope: Envelope,
    registry: IdentityRegistry | None = None,
    *,
    every_rule: bool = True,
) -> set[str]:
    view = parse_message(raw, envelope)
    context = DetectorContext(
        recipients=tuple(a.lower() for a in (*envelope.rcpt_to, *view.to)),
        identities=registry,
        from_domain=view.from_domain,
        structure=view.structure,
    )
    outcome = ruleset.match(MessageTargets(view), context, every_rule=every_rule)
    return {m.rule.id for m in outcome.matches}


def examples() -> list[tuple[str, dict]]:
    out = []
    for rule in RULES:
        for number, example in enumerate((*rule.must_match, *rule.must_not_match)):
            out.append((f"{rule.id}#{number}", example))
    return out


@pytest.mark.parametrize(
    ("name", "example"), examples(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_examples_match_alike(name: str, example: dict) -> None:
    raw, envelope = build_example(example)
    assert matched(FAST, raw, envelope) == matched(SLOW, raw, envelope)


def test_test_messages_match_alike() -> None:
    files = sorted(p for p in MESSAGES.rglob("*.eml"))
    for file in files:
        raw = file.read_bytes()
        assert matched(FAST, raw, Envelope()) == matched(SLOW, raw, Envelope()), file


def test_test_messages_match_alike_with_the_registry() -> None:
    # The authority detectors (claims, official domains) select and skip rules too.
    # Asked both ways: every rule (rule examples), and as the scanner asks (building
    # blocks only when a rule needs them; those are compared by the rules they serve).
    files = sorted(p for p in MESSAGES.rglob("*.eml"))
    held = 0
    for file in files:
        raw = file.read_bytes()
        fast = matched(FAST, raw, Envelope(), REGISTRY)
        assert fast == matched(SLOW, raw, Envelope(), REGISTRY), file
        scanner_fast, scanner_slow = (
            {i for i in matched(r, raw, Envelope(), REGISTRY, every_rule=False) if i[:2] != "__"}
            for r in (FAST, SLOW)
        )
        assert scanner_fast == scanner_slow, file
        held += bool(scanner_fast)
    assert held >= 20  # the comparison saw rules match, not only empty sets


def vocabulary() -> list[str]:
    """Words and phrases the rules look for, plus filler: texts that nearly match."""
    words = {"you", "your", "the", "and", "I", "48", "hours", "1.300", "euro", "$1500", "."}
    for rule in RULES:
        for matcher in rule.matchers.values():
            if isinstance(matcher, PhraseMatcher):
                words.update(matcher.phrases)
            elif isinstance(matcher, RegexMatcher):
                for literals in matcher.literals:
                    for group in literals or ():
                        words.update(w.strip() for w in group)
    return sorted(w for w in words if w)


WORDS = vocabulary()


@settings(max_examples=300, deadline=None)
@given(
    subject=st.lists(st.sampled_from(WORDS), max_size=6),
    body=st.lists(st.sampled_from(WORDS), min_size=1, max_size=80),
)
def test_random_texts_match_alike(subject: list[str], body: list[str]) -> None:
    raw, envelope = build_example({"subject": " ".join(subject), "body": " ".join(body)})
    assert matched(FAST, raw, envelope) == matched(SLOW, raw, envelope)

"""The condition language: parsing, evaluation and the prefilter's trigger sets."""

from __future__ import annotations

import pytest

from milter.scan.rules.condition import (
    ConditionError,
    evaluate,
    necessary_triggers,
    parse_condition,
    required_groups,
)

NAMES = ("claim_hacked", "claim_video", "pay_btc", "pay_amount", "pressure_deadline", "filter_news")

# (condition, the names that are true, expected result)
CASES = [
    ("claim_hacked", {"claim_hacked"}, True),
    ("claim_hacked", set(), False),
    ("claim_hacked and pay_btc", {"claim_hacked"}, False),
    ("claim_hacked and pay_btc", {"claim_hacked", "pay_btc"}, True),
    ("claim_hacked or pay_btc", {"pay_btc"}, True),
    ("not filter_news", set(), True),
    ("not filter_news", {"filter_news"}, False),
    ("claim_hacked and not filter_news", {"claim_hacked", "filter_news"}, False),
    # "not" binds tighter than "and", "and" tighter than "or" (Sigma's precedence).
    ("claim_hacked or pay_btc and pay_amount", {"claim_hacked"}, True),
    ("(claim_hacked or pay_btc) and pay_amount", {"claim_hacked"}, False),
    ("not claim_hacked or pay_btc", {"claim_hacked", "pay_btc"}, True),
    ("not claim_hacked and pay_btc", {"claim_hacked", "pay_btc"}, False),
    ("1 of pay_*", {"pay_amount"}, True),
    ("1 of pay_*", {"claim_hacked"}, False),
    ("all of pay_*", {"pay_amount"}, False),
    ("all of pay_*", {"pay_amount", "pay_btc"}, True),
    ("2 of claim_*", {"claim_hacked", "claim_video"}, True),
    ("2 of (claim_hacked, pay_btc, pressure_deadline)", {"pay_btc", "pressure_deadline"}, True),
    ("2 of (claim_hacked, pay_btc, pressure_deadline)", {"pay_btc"}, False),
    ("any of them", {"filter_news"}, True),
    ("any of them", set(), False),
    ("all of them", set(NAMES), True),
    ("all of them", set(NAMES) - {"filter_news"}, False),
    ("3 of them", {"claim_hacked", "pay_btc", "pressure_deadline"}, True),
    ("1 of claim_* and 1 of pay_* and not filter_news", {"claim_video", "pay_btc"}, True),
    ("not not claim_hacked", {"claim_hacked"}, True),
]


@pytest.mark.parametrize(("text", "true", "expected"), CASES)
def test_evaluate(text: str, true: set[str], expected: bool) -> None:
    condition = parse_condition(text, NAMES)
    assert evaluate(condition.root, lambda name: name in true) is expected


def test_short_circuit_skips_needless_matchers() -> None:
    condition = parse_condition("claim_hacked and pay_btc", NAMES)
    asked: list[str] = []

    def lookup(name: str) -> bool:
        asked.append(name)
        return False

    assert evaluate(condition.root, lookup) is False
    assert asked == ["claim_hacked"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("claim_hacked and", "ends early"),
        ("claim_hacked pay_btc", "unexpected 'pay_btc'"),
        ("unknown_name", "not a matcher"),
        ("1 of nothing_*", "matches no matcher"),
        ("pay_*", "needs a quantity"),
        ("7 of pay_*", "can never be true"),
        ("0 of pay_*", "always true"),
        ("(claim_hacked", "expected ')'"),
        ("claim_hacked & pay_btc", "unexpected character '&'"),
        ("1 of (claim_hacked, nope)", "not a matcher"),
    ],
)
def test_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_condition(text, NAMES)


def test_used_and_positive_names() -> None:
    condition = parse_condition("1 of claim_* and not filter_news", NAMES)
    assert condition.used == {"claim_hacked", "claim_video", "filter_news"}
    assert condition.positive == {"claim_hacked", "claim_video"}


TRIGGERS = {
    "claim_hacked": frozenset({("lit", "body", "hacked")}),
    "claim_video": frozenset({("lit", "body", "video")}),
    "pay_btc": frozenset({("det", "body", "bitcoin_address")}),
    "pay_amount": None,
    "pressure_deadline": frozenset({("det", "body", "deadline")}),
    "filter_news": frozenset({("lit", "body", "unsubscribe")}),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("claim_hacked", {("lit", "body", "hacked")}),
        # An "and" needs only one necessary part: the cheapest (literals before detectors).
        ("pay_btc and claim_hacked", {("lit", "body", "hacked")}),
        ("claim_hacked or claim_video", {("lit", "body", "hacked"), ("lit", "body", "video")}),
        ("claim_hacked or pay_amount", None),
        ("not filter_news", None),
        ("1 of claim_*", {("lit", "body", "hacked"), ("lit", "body", "video")}),
        ("pay_amount and pressure_deadline", {("det", "body", "deadline")}),
    ],
)
def test_necessary_triggers(text: str, expected: set | None) -> None:
    condition = parse_condition(text, NAMES)
    found = necessary_triggers(condition.root, TRIGGERS.__getitem__)
    assert found == (frozenset(expected) if expected is not None else None)


# Rule references among NAMES, for required_groups.
REFS = {"claim_hacked", "claim_video", "pay_btc"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("claim_hacked", {(1, ("claim_hacked",))}),
        ("pay_amount", set()),
        ("claim_hacked and pay_btc", {(1, ("claim_hacked",)), (1, ("pay_btc",))}),
        ("claim_hacked or pay_btc", {(1, ("claim_hacked", "pay_btc"))}),
        # An operand that requires no reference may be true alone.
        ("claim_hacked or pay_amount", set()),
        ("claim_hacked and not pay_btc", {(1, ("claim_hacked",))}),
        ("2 of claim_*", {(2, ("claim_hacked", "claim_video"))}),
        # pay_amount may be one of the two: one reference is still needed.
        ("2 of (claim_hacked, pay_btc, pay_amount)", {(1, ("claim_hacked", "pay_btc"))}),
        ("1 of (claim_hacked, pay_amount)", set()),
        (
            "(claim_hacked and pay_btc) or (claim_video and pay_amount)",
            {(1, ("claim_hacked", "claim_video", "pay_btc"))},
        ),
    ],
)
def test_required_groups(text: str, expected: set) -> None:
    condition = parse_condition(text, NAMES)
    found = required_groups(condition.root, REFS.__contains__)
    assert {(count, tuple(sorted(names))) for count, names in found} == expected


@pytest.mark.parametrize("text", sorted({case[0] for case in CASES}))
def test_required_groups_hold_whenever_the_condition_is_true(text: str) -> None:
    # Sound: under every assignment of the names that makes the condition true, each
    # group has enough true names (what lets the engine skip a rule when it has not).
    condition = parse_condition(text, NAMES)
    groups = required_groups(condition.root, REFS.__contains__)
    true_somewhere = False
    for bits in range(2 ** len(NAMES)):
        true = {name for i, name in enumerate(NAMES) if bits >> i & 1}
        if evaluate(condition.root, true.__contains__):
            true_somewhere = True
            assert all(len(names & true) >= count for count, names in groups), (text, true)
    assert true_somewhere, text

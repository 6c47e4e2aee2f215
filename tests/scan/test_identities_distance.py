"""The look-alike check's edit distance (milter/scan/identities/domains.py) against the
hand-written one it replaced, kept here as the oracle (bench/identity_speed.py times
both)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from milter.scan.identities.domains import edit_distance


def reference_edit_distance(a: str, b: str, bound: int) -> int:
    """Damerau–Levenshtein distance (optimal string alignment: a swap of two neighbours
    costs one, no substring is edited twice), or ``bound + 1`` when it is larger than
    ``bound``. The dynamic programme, row by row, that identities used before rapidfuzz."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    before_previous: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                value = min(value, before_previous[j - 2] + 1)
            current[j] = value
        if min(current) > bound:
            return bound + 1
        before_previous, previous = previous, current
    return previous[-1] if previous[-1] <= bound else bound + 1


# Domain-like strings over a small alphabet, so that random pairs are often near each
# other (a swap, a doubled letter), which is where the two could disagree.
_NEAR = st.text(alphabet="abcilmnor01-.", max_size=24)


@pytest.mark.parametrize(
    ("a", "b", "bound", "expected"),
    [
        ("policebelgium", "policebelgium", 2, 0),
        ("policebelgum", "policebelgium", 1, 1),  # one letter left out
        ("jsutfgov", "justfgov", 1, 1),  # a swap counts one, not two
        ("ca", "abc", 3, 3),  # optimal string alignment: not 2 as full Damerau gives
        ("safeonweb", "safeonwed", 0, 1),  # above the bound: bound + 1
        ("safeonweb", "nationalcrimeagency", 2, 3),  # lengths alone too far apart
        ("", "", 0, 0),
        ("", "abc", 3, 3),
    ],
)
def test_edit_distance_examples(a: str, b: str, bound: int, expected: int) -> None:
    assert edit_distance(a, b, bound) == expected
    assert reference_edit_distance(a, b, bound) == expected


@settings(max_examples=2000)
@given(_NEAR, _NEAR, st.integers(min_value=0, max_value=4))
@example("abcd", "badc", 1)
@example("ab", "ba", 0)
@example("policebelgium", "pollcebelglum", 2)
def test_edit_distance_is_the_reference_one(a: str, b: str, bound: int) -> None:
    assert edit_distance(a, b, bound) == reference_edit_distance(a, b, bound)


@given(st.text(max_size=30), st.text(max_size=30), st.integers(min_value=0, max_value=40))
def test_edit_distance_is_the_reference_one_on_any_text(a: str, b: str, bound: int) -> None:
    assert edit_distance(a, b, bound) == reference_edit_distance(a, b, bound)

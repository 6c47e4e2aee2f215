"""IdentityRegistry as a plain class: built from any iterable of identities, by its
index builders (milter/scan/identities/claims.py, lookalikes.py), and unchanged after."""

from __future__ import annotations

import pytest

from milter.errors import RuleError
from milter.scan.identities.claims import build_phrase_index
from milter.scan.identities.lookalikes import build_lookalike_index
from milter.scan.identities.registry import ClaimKind, Identity, IdentityRegistry

POLICE = Identity(
    id="TEST_POLICE",
    title="Test police",
    domains=("police.test.example",),
    names=("test national police",),
    signatures=("commissioner of the test national police",),
)
COURT = Identity(
    id="TEST_COURT", title="Test court", domains=("court.example",), names=("test high court",)
)


def test_built_from_a_generator_which_is_read_once() -> None:
    registry = IdentityRegistry(identity for identity in (POLICE, COURT))
    assert registry.identities == (POLICE, COURT)
    assert registry.owner("www.court.example") is COURT
    assert registry.lookalike("police-test.example.com") is not None
    assert [c.identity for c in registry.claims("Test High Court")] == [COURT]
    assert repr(registry) == "IdentityRegistry(TEST_POLICE, TEST_COURT)"


def test_a_registry_cannot_be_changed_after_it_is_built() -> None:
    registry = IdentityRegistry((POLICE,))
    with pytest.raises(AttributeError):
        registry.identities = (COURT,)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        registry.extra = 1  # type: ignore[attr-defined]


def test_a_domain_under_two_identities_names_the_later_one() -> None:
    other = Identity(id="TEST_OTHER", title="x", domains=("court.example",), names=("other",))
    with pytest.raises(RuleError, match="also belongs to TEST_COURT") as caught:
        IdentityRegistry((COURT, other))
    assert caught.value.rule_id == "TEST_OTHER"


def test_the_phrase_index_orders_longer_phrases_first() -> None:
    index = build_phrase_index((POLICE, COURT))
    assert [phrase for _, phrase, _ in index.phrases] == [
        "commissioner of the test national police",
        "test national police",
        "test high court",
    ]
    assert index.phrases[0][2] is ClaimKind.SIGNATURE
    assert index.may_claim("the commissioner.of the test-national police")
    assert not index.may_claim("the national police of somewhere")
    empty = build_phrase_index(())
    assert empty.pattern is None and not empty.may_claim("test high court")
    assert empty.scan("test high court", None) == ()


def test_the_lookalike_index_adds_each_protected_registrable_domain_as_a_zone() -> None:
    index = build_lookalike_index((POLICE, COURT))
    assert {"test.example", "court.example", "gov", "gouv.fr"} <= index.zones
    # In a zone, only non-Latin look-alike characters count.
    assert index.match("pollce.test.example", "pollce.test.example") is None
    match = index.match("pоlice.test.example", "pоlice.test.example")  # Cyrillic о
    assert match is not None and match.protected == "police.test.example"

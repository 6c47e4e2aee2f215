"""The suffix a registry domain was registered under (milter/scan/identities/domains.py):
the Public Suffix List, plus the two Luxembourg zones it lacks."""

from __future__ import annotations

import pytest

from milter.scan.identities.domains import suffix_length
from milter.scan.identities.registry import Identity, IdentityRegistry, LookalikeKind

# The hand-made list of multi-label suffixes the registry used before the Public Suffix
# List: every one still splits the same way.
HAND_MADE = (
    "gouv.fr", "gov.uk", "police.uk", "co.uk", "org.uk", "ac.uk", "gov.br", "jus.br", "mp.br",
    "com.br", "gov.au", "com.au", "gv.at", "gov.pl", "gov.pt", "gov.it", "gob.es", "gc.ca",
    "govt.nz", "gov.ie", "gov.lu", "gouv.lu",
)  # fmt: skip


def labels(domain: str) -> tuple[str, ...]:
    return tuple(domain.split("."))


@pytest.mark.parametrize("suffix", HAND_MADE)
def test_the_former_hand_made_suffixes_split_as_before(suffix: str) -> None:
    assert suffix_length(labels(f"agency.{suffix}")) == 2
    assert suffix_length(labels(f"www.agency.{suffix}")) == 2
    assert suffix_length(labels(suffix)) == 2  # a public suffix itself is all suffix


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("police.be", 1),
        ("police.belgium.eu", 1),  # belgium.eu is a registrable domain, not a suffix
        ("just.fgov.be", 1),
        ("europol.europa.eu", 1),
        ("fbi.gov", 1),
        ("bka.bund.de", 1),
        ("agency.example", 1),  # a top-level domain the list does not know: its last label
        # Suffixes the hand-made list did not have: the list knows them.
        ("school.k12.ca.us", 3),
        ("city.kawasaki.jp", 2),  # *.kawasaki.jp with an exception rule !city.kawasaki.jp
        ("ministry.gov.ua", 2),
    ],
)
def test_suffix_length_by_the_public_suffix_list(domain: str, expected: int) -> None:
    assert suffix_length(labels(domain)) == expected


def test_a_unicode_domain_is_split_by_the_list() -> None:
    # Registry domains are canonical: U-labels, not xn--.
    assert suffix_length(labels("полиция.рф")) == 1
    assert suffix_length(labels("министерство.com.ua")) == 2


def _registry(domain: str) -> IdentityRegistry:
    return IdentityRegistry(
        (Identity(id="TEST_MINISTRY", title="x", domains=(domain,), names=("test ministry",)),)
    )


@pytest.mark.parametrize("zone", ["gouv.fr", "gouv.lu", "gov.lu"])
def test_a_luxembourg_government_domain_is_judged_as_a_french_one(zone: str) -> None:
    # The organisation's part is the label before the zone: its words reordered around
    # the zone are no look-alike, its letters run together are.
    registry = _registry(f"interieur.{zone}")
    head = zone.split(".")[0]
    assert registry.lookalike(f"{head}-interieur.com") is None
    match = registry.lookalike(f"interieur-{zone.replace('.', '-')}.com")
    assert match is not None and match.kind is LookalikeKind.SEPARATORS


def test_a_three_label_suffix_is_not_part_of_the_name() -> None:
    # Under k12.ca.us the organisation chose "lincolnhigh" alone: its name reordered
    # with the suffix's labels is nothing, and the edit budget is the name's own (11
    # letters: one), not that of "lincolnhigh" + "k12" + "ca" (16 letters: two).
    registry = _registry("lincolnhigh.k12.ca.us")
    assert registry.lookalike("ca-k12-lincolnhigh.com") is None
    assert registry.lookalike("lincalnhigk-k12-ca.com") is None  # two letters off
    match = registry.lookalike("lincalnhigh-k12-ca.com")  # one letter off
    assert match is not None and match.kind is LookalikeKind.EDIT_DISTANCE
    match = registry.lookalike("lincolnhigh-k12-ca-us.com")
    assert match is not None and match.kind is LookalikeKind.SEPARATORS

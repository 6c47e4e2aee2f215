"""masked_link (milter/scan/detectors/authority.py): a link whose text shows an
authority's domain over a link to a host that is not that authority's."""

from __future__ import annotations

from milter.config import shipped_rules_dir
from milter.scan.detectors import DETECTORS, DetectorContext
from milter.scan.normalize import normalize
from milter.scan.scanner import Scanner


def test_only_an_authority_shown_over_another_host_is_a_hit() -> None:
    registry = Scanner.from_rule_paths([shipped_rules_dir()]).identities
    context = DetectorContext(identities=registry)
    detect = DETECTORS["masked_link"]
    hits = detect(normalize("www.gov.br -> pay.example"), context)
    assert [hit.value for hit in hits] == ["www.gov.br -> pay.example"]
    assert detect(normalize("www.gov.br -> receita.fazenda.gov.br"), context) == []
    assert detect(normalize("shop.example -> pay.example"), context) == []
    assert detect(normalize("not a pair"), context) == []

"""The data of the open model of authority (docs/authority.md): the table of government
mail domains, the lexicon of authority kinds, the grown registry, and the detectors
that read them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import milter.config
from milter.errors import RuleError
from milter.scan.detectors import DETECTORS, DetectorContext
from milter.scan.identities.government import GovernmentDomains
from milter.scan.identities.lexicon import AuthorityLexicon
from milter.scan.identities.registry import IdentityRegistry
from milter.scan.normalize import normalize
from milter.scan.rules.loader import load_rules

RULES = milter.config.shipped_rules_dir()
LANGUAGES = ("en", "nl", "fr", "de", "pt", "es", "it", "pl", "cs", "ro")
KINDS = (
    "POLICE",
    "GENDARMERIE",
    "PROSECUTOR",
    "COURT",
    "JUSTICE_MINISTRY",
    "TAX",
    "CUSTOMS",
    "CHILD_PROTECTION",
)


@pytest.fixture(scope="module")
def registry() -> IdentityRegistry:
    return IdentityRegistry.load([RULES])


def claims(registry: IdentityRegistry, text: str) -> set[str]:
    return {value for value, _ in registry.authority_claims(text, normalize(text).text)}


# --- The government domain table ---------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "country"),
    [
        ("bka.bund.de", "DE"),
        ("dgfip.finances.gouv.fr", "FR"),
        ("trt2.jus.br", "BR"),
        ("correo.agenciatributaria.gob.es", "ES"),
        ("warszawa.sr.gov.pl", "PL"),
        ("MAIL.GOV.RO.", "RO"),
        ("info@nationalcrimeagency.gov.uk", "UK"),
        ("actionfraud.police.uk", "UK"),
        ("fbi.gov", "INT"),
        ("eurojust.europa.eu", "EU"),
    ],
)
def test_government_zones(registry: IdentityRegistry, domain: str, country: str) -> None:
    found = registry.government.country(domain)
    assert found is not None and found.id == country


@pytest.mark.parametrize(
    "domain", ["gmail.com", "gov-br.com", "gov.br.example.com", "receita-gov.br.com", "gouvfr.fr"]
)
def test_not_government(registry: IdentityRegistry, domain: str) -> None:
    assert registry.government.country(domain) is None


def test_official_is_the_registry_or_a_government_zone(registry: IdentityRegistry) -> None:
    assert registry.official("newsletter@bka.de") == "DE_BKA"
    assert registry.official("info@jobpol.be") == "BE_FEDERAL_POLICE"
    assert registry.official("noreply@belastingdienst.nl") == "NL_TAX"
    assert registry.official("avisos@agenciatributaria.es") == "ES_AEAT"
    assert registry.official("x@poliziadistato.it") == "IT_POLIZIA"
    assert registry.official("kontakt@kmp.policja.gov.pl") == "PL_POLICE"
    assert registry.official("biuro@cbzc.policja.gov.pl") == "PL_CBZC"  # the narrower
    assert registry.official("a@tjsp.jus.br") == "BR_JUDICIARY"
    assert registry.official("a@prefeitura.sp.gov.br") == "gov:BR"
    assert registry.official("a@example.com") is None


def test_government_domains_are_no_lookalikes(registry: IdentityRegistry) -> None:
    # In a zone of the table, a name one letter off another authority's is another
    # authority (policie.gov.cz is real; polici.gov.cz would be a Czech body too).
    assert registry.lookalike("politia.gov.ro") is None
    assert registry.lookalike("agenziaentrate-gov.it.com") is not None


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_bad_zone_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "government_domains.yml",
        "- id: XX\n  title: Nowhere\n  zones:\n    - gov.xx\n    - https://gov.xx/\n",
    )
    with pytest.raises(RuleError) as caught:
        GovernmentDomains.load([path])
    assert caught.value.path == str(path) and caught.value.line == 5
    assert "not a domain name" in str(caught.value)


def test_a_zone_under_two_countries_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "government_domains.yml",
        "- id: AA\n  title: A\n  zones: [gov.aa]\n- id: BB\n  title: B\n  zones: [gov.aa]\n",
    )
    with pytest.raises(RuleError, match="also listed under AA"):
        GovernmentDomains.load([path])


def test_a_later_table_adds_zones(tmp_path: Path) -> None:
    extra = write(tmp_path, "government_domains.yml", "- id: BE\n  zones: [politie.example]\n")
    table = GovernmentDomains.load([RULES, extra])
    assert table.country("zone.politie.example").id == "BE"  # type: ignore[union-attr]
    assert table.country("x.fgov.be").id == "BE"  # type: ignore[union-attr]


# --- The lexicon -------------------------------------------------------------------------


def test_every_kind_speaks_the_ten_languages() -> None:
    data = yaml.safe_load((RULES / "authorities.yml").read_text(encoding="utf-8"))
    by_id = {entry["id"]: entry for entry in data}
    assert set(KINDS) <= set(by_id)
    for kind in KINDS:
        missing = [lang for lang in LANGUAGES if not by_id[kind]["names"].get(lang)]
        assert not missing, f"{kind} lacks {missing}"


def test_a_bare_word_is_refused_with_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "authorities.yml",
        "- id: POLICE\n  title: Police\n  names:\n    pl: [policja]\n",
    )
    with pytest.raises(RuleError) as caught:
        AuthorityLexicon.load([path])
    assert caught.value.path == str(path) and caught.value.line == 1
    assert "ordinary mail uses" in str(caught.value)


def test_a_later_lexicon_adds_phrases_and_kinds(tmp_path: Path) -> None:
    extra = write(
        tmp_path,
        "authorities.yml",
        "- id: POLICE\n  names:\n    hu: [magyar rendőrség]\n"
        "- id: ELECTORAL\n  title: Electoral commissions\n  names:\n"
        "    en: [electoral commission]\n",
    )
    registry = IdentityRegistry.load([RULES, extra])
    assert "kind:POLICE" in claims(registry, "Magyar Rendőrség - Értesítés")
    assert "kind:POLICE" in claims(registry, "Polizia Postale")  # the shipped phrases stay
    assert "kind:ELECTORAL" in claims(registry, "Electoral Commission")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Polizia Postale - Avviso", "kind:POLICE"),
        ("Sąd Rejonowy dla Warszawy", "kind:COURT"),
        ("Policie České republiky", "kind:POLICE"),
        ("Inspectoratul General al Poliției Române", "kind:POLICE"),
        ("Fiscalía Provincial de Madrid", "kind:PROSECUTOR"),
        ("Receita Federal - Aviso", "kind:TAX"),
        ("Agenția Națională de Administrare Fiscală", "kind:TAX"),
        ("Generalzolldirektion", "kind:CUSTOMS"),
        ("Abteilung für Jugendschutz", "kind:CHILD_PROTECTION"),
        ("Gendarmerie nationale", "kind:GENDARMERIE"),
        ("Ministerstwo Sprawiedliwości", "kind:JUSTICE_MINISTRY"),
        ("Tribunal Regional do Trabalho da 2ª Região", "kind:COURT"),
    ],
)
def test_kind_labels(registry: IdentityRegistry, text: str, kind: str) -> None:
    assert kind in claims(registry, text)


@pytest.mark.parametrize(
    "text",
    [
        "la polizia postale ha arrestato ieri un uomo a Roma dopo lunghe indagini",
        "Wczoraj sąd rejonowy w Krakowie wydał wyrok w sprawie oszustwa",
        "A Receita Federal divulgou hoje as regras da declaração deste ano",
        "Call the police",
        "Tax included",
    ],
)
def test_sentences_are_no_claims(registry: IdentityRegistry, text: str) -> None:
    assert not claims(registry, text)


@pytest.mark.parametrize(
    ("token", "value"),
    [
        ("BKA025.jpg", "DE_BKA"),
        ("EUROPOL1.jpg", "EUROPOL"),
        ("policenational740@gmail.com", "kind:POLICE"),
        ("receitafederal.aviso@example.com", "BR_RECEITA"),
        ("Polizia_Postale_convocazione.pdf", "IT_POLIZIA"),
        ("FBI.OFFICE", "US_FBI"),
    ],
)
def test_tokens(registry: IdentityRegistry, token: str, value: str) -> None:
    assert value in claims(registry, token)


@pytest.mark.parametrize("token", ["fbinvest@example.com", "CONVOCAÇÃO1.jpg", "policy2024.pdf"])
def test_tokens_that_claim_nothing(registry: IdentityRegistry, token: str) -> None:
    assert not claims(registry, token)


# --- The registry ------------------------------------------------------------------------


def test_the_registry_covers_eu_brazil_us_uk(registry: IdentityRegistry) -> None:
    ids = {identity.id for identity in registry.identities}
    assert len(ids) >= 40
    prefixes = {identity_id.split("_")[0] for identity_id in ids}
    for country in ("BE", "NL", "DE", "FR", "ES", "IT", "PT", "PL", "CZ", "RO", "BR", "US", "UK"):
        assert country in prefixes


def test_data_files_are_not_read_as_rules() -> None:
    ids = {rule.id for rule in load_rules([RULES])}
    assert "__AUTHORITY_ENTITLED" in ids and "POLICE" not in ids and "BE" not in ids


# --- Detectors ---------------------------------------------------------------------------


def detect(
    registry: IdentityRegistry, name: str, text: str, from_domain: str = ""
) -> list[tuple[str, str | None]]:
    context = DetectorContext(identities=registry, from_domain=from_domain)
    return [(hit.value, hit.evidence) for hit in DETECTORS[name](normalize(text), context)]


def test_official_domain_detector(registry: IdentityRegistry) -> None:
    assert detect(registry, "official_domain", "bka.de") == [("DE_BKA", "bka.de")]
    assert detect(registry, "official_domain", "https://www.gov.br/receitafederal/") == [
        ("gov:BR", "www.gov.br")
    ]
    assert detect(registry, "official_domain", "gov-br.com") == []


def test_unofficial_link_detector(registry: IdentityRegistry) -> None:
    hits = detect(registry, "unofficial_link", "https://cpf-regular.example.net/gov.br")
    assert hits == [("example.net", "cpf-regular.example.net")]
    assert detect(registry, "unofficial_link", "https://www.agenziaentrate.gov.it/x") == []
    assert detect(registry, "unofficial_link", "not a link") == []


@pytest.mark.parametrize(
    ("url", "value", "shown"),
    [
        ("https://www.gov.br.regulariza.example.com/cpf", "gov:BR", "www.gov.br"),
        ("https://cdn.example.net/www.gov.br/receita", "gov:BR", "www.gov.br"),
        ("https://www.fbi.gov.verify.example.com/", "US_FBI", "www.fbi.gov"),
        ("https://bka.de.verfahren.example/akte", "DE_BKA", "bka.de"),
    ],
)
def test_disguised_link_detector(
    registry: IdentityRegistry, url: str, value: str, shown: str
) -> None:
    [(found, evidence)] = detect(registry, "disguised_link", url)
    assert found == value and evidence is not None and evidence.startswith(shown + " ")


@pytest.mark.parametrize(
    "url",
    [
        "https://www.gov.br/receitafederal/",  # the authority itself
        "https://api.int.example.com/status",  # a bare "int" label names nobody
        "https://example.com/index.html",
        "https://shop.example/?ref=www.google.com",
    ],
)
def test_links_that_are_not_disguised(registry: IdentityRegistry, url: str) -> None:
    assert detect(registry, "disguised_link", url) == []


def test_reply_elsewhere_detector(registry: IdentityRegistry) -> None:
    found = detect(registry, "reply_elsewhere", "agent@outlook.es", "policia-es.example")
    assert found == [("outlook.es", "outlook.es")]
    assert detect(registry, "reply_elsewhere", "help@mail.shop.example", "shop.example") == []


def test_authority_claim_detector(registry: IdentityRegistry) -> None:
    # The registry's authority and the lexicon's kind, each quoting the claim.
    assert detect(registry, "authority_claim", "Polícia Federal - Intimação") == [
        ("BR_POLICIA_FEDERAL", "Polícia Federal"),
        ("kind:POLICE", "Polícia Federal"),
    ]
    assert detect(registry, "authority_claim", "Invoice 2025-0113") == []

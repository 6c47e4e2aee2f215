"""Protected identities: the shipped registry, owner(), lookalike(), claims(), loading."""

from __future__ import annotations

import codecs
import textwrap
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from milter.config import shipped_rules_dir
from milter.errors import RuleError
from milter.scan.identities.registry import (
    REGISTRY_FILE,
    ClaimKind,
    Identity,
    IdentityRegistry,
    LookalikeKind,
    canonical_domain,
    letterhead,
    signature_block,
)

RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="module")
def registry() -> IdentityRegistry:
    return IdentityRegistry.load([RULES])


def punycode(domain: str) -> str:
    """``domain`` with its non-ASCII labels written as ``xn--`` (as a From header has it)."""
    return ".".join(
        label if label.isascii() else "xn--" + codecs.encode(label, "punycode").decode()
        for label in domain.split(".")
    )


def write(directory: Path, text: str, name: str = REGISTRY_FILE) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- The shipped registry ----------------------------------------------------------

REQUIRED = {
    "BE_FEDERAL_POLICE": {"police.belgium.eu", "police.be"},
    "BE_FPS_JUSTICE": {"just.fgov.be", "justice.belgium.be"},
    "BE_CCB": {"ccb.belgium.be", "safeonweb.be"},
    "EUROPOL": {"europol.europa.eu"},
    "INTERPOL": {"interpol.int"},
    "NL_POLICE": {"politie.nl"},
    "FR_POLICE_GENDARMERIE": {"interieur.gouv.fr"},
    "US_FBI": {"fbi.gov", "ic3.gov"},
}


@pytest.mark.parametrize(("identity_id", "domains"), sorted(REQUIRED.items()))
def test_shipped_registry_covers_the_issue(
    registry: IdentityRegistry, identity_id: str, domains: set[str]
) -> None:
    identity = registry.get(identity_id)
    assert identity is not None
    assert domains <= set(identity.domains)
    assert identity.title
    assert identity.names


def test_shipped_registry_is_read_from_the_rules_directory_only_by_its_name() -> None:
    by_dir = IdentityRegistry.load([RULES])
    by_file = IdentityRegistry.load([RULES / REGISTRY_FILE])
    assert [i.id for i in by_dir.identities] == [i.id for i in by_file.identities]
    assert by_dir.identities[0].path.endswith(REGISTRY_FILE)
    assert by_dir.identities[0].line > 1


# --- owner() -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "identity_id"),
    [
        ("police.be", "BE_FEDERAL_POLICE"),
        ("police.belgium.eu", "BE_FEDERAL_POLICE"),
        ("zp5339.police.belgium.eu", "BE_FEDERAL_POLICE"),
        ("nieuwsbrief.police.be", "BE_FEDERAL_POLICE"),
        ("POLICE.BE", "BE_FEDERAL_POLICE"),
        ("police.be.", "BE_FEDERAL_POLICE"),
        (" Police.Belgium.EU. ", "BE_FEDERAL_POLICE"),
        ("just.fgov.be", "BE_FPS_JUSTICE"),
        ("justice.belgium.be", "BE_FPS_JUSTICE"),
        ("ccb.belgium.be", "BE_CCB"),
        ("safeonweb.be", "BE_CCB"),
        ("europol.europa.eu", "EUROPOL"),
        ("mail.europol.europa.eu", "EUROPOL"),
        ("interpol.int", "INTERPOL"),
        ("politie.nl", "NL_POLICE"),
        ("interieur.gouv.fr", "FR_POLICE_GENDARMERIE"),
        ("gendarmerie.interieur.gouv.fr", "FR_POLICE_GENDARMERIE"),
        ("fbi.gov", "US_FBI"),
        ("ic3.gov", "US_FBI"),
        ("trt2.jus.br", "BR_JUDICIARY"),
    ],
)
def test_owner_of_real_domains_and_subdomains(
    registry: IdentityRegistry, domain: str, identity_id: str
) -> None:
    owner = registry.owner(domain)
    assert owner is not None
    assert owner.id == identity_id


@pytest.mark.parametrize(
    "domain",
    [
        "belgium.eu",  # the parent of police.belgium.eu is not the police's
        "belgium.be",
        "fgov.be",
        "europa.eu",
        "gouv.fr",
        "gov",
        "xpolice.be",  # a label that ends like a protected one is not a subdomain
        "police.be.evil.example",
        "pоlice.be",  # Cyrillic о: not the real domain
        punycode("pоlice.be"),
        "gmail.com",
        "",
        "   ",
        "[192.0.2.1]",
        "not a domain",
        "xn--invalid-punycode-!.be",
    ],
)
def test_owner_of_other_domains_is_none(registry: IdentityRegistry, domain: str) -> None:
    assert registry.owner(domain) is None


def test_owner_decodes_punycode_labels(tmp_path: Path) -> None:
    write(
        tmp_path,
        """\
        - id: EXAMPLE_IDN
          title: An authority with an internationalised domain
          domains: [polizei-bücher.example]
          names: [example bücherpolizei]
        """,
    )
    registry = IdentityRegistry.load([tmp_path])
    (identity,) = registry.identities
    assert identity.domains == ("polizei-bücher.example",)
    encoded = punycode("polizei-bücher.example")
    assert encoded.startswith("xn--polizei-bcher-")
    assert registry.owner(encoded) is identity
    assert registry.owner("Mail." + encoded.upper() + ".") is identity
    assert registry.owner("polizei-bücher.example") is identity
    assert registry.lookalike(encoded) is None


def test_canonical_domain() -> None:
    assert canonical_domain("Police.BE.") == "police.be"
    assert canonical_domain("xn--plice-jye.be") == "pоlice.be"
    assert canonical_domain("police\u3002be") == "police.be"  # an IDNA full stop
    assert canonical_domain("") is None
    assert canonical_domain("a..b") is None
    assert canonical_domain("-police.be") is None
    assert canonical_domain("user@police.be") is None


# --- lookalike() ---------------------------------------------------------------------

LOOKALIKES = [
    # the name with a hyphen, dots moved or run together
    ("police-belgium.eu", "BE_FEDERAL_POLICE", "police.belgium.eu", LookalikeKind.SEPARATORS),
    ("policebelgium.eu", "BE_FEDERAL_POLICE", "police.belgium.eu", LookalikeKind.SEPARATORS),
    ("just-fgov.be", "BE_FPS_JUSTICE", "just.fgov.be", LookalikeKind.SEPARATORS),
    ("mail.police-belgium.eu", "BE_FEDERAL_POLICE", "police.belgium.eu", LookalikeKind.SEPARATORS),
    # another suffix appended or swapped
    ("police.belgium.eu.com", "BE_FEDERAL_POLICE", "police.belgium.eu", LookalikeKind.SEPARATORS),
    ("just-fgov.be.com", "BE_FPS_JUSTICE", "just.fgov.be", LookalikeKind.SEPARATORS),
    ("police-be.com", "BE_FEDERAL_POLICE", "police.be", LookalikeKind.SEPARATORS),
    ("police.be.com", "BE_FEDERAL_POLICE", "police.be", LookalikeKind.SEPARATORS),
    ("politie-nl.info", "NL_POLICE", "politie.nl", LookalikeKind.SEPARATORS),
    ("fbi.gov.us", "US_FBI", "fbi.gov", LookalikeKind.SEPARATORS),
    ("fbi-gov.com", "US_FBI", "fbi.gov", LookalikeKind.SEPARATORS),
    ("ic3-gov.net", "US_FBI", "ic3.gov", LookalikeKind.SEPARATORS),
    ("safeonweb-be.com", "BE_CCB", "safeonweb.be", LookalikeKind.SEPARATORS),
    ("europol-europa.eu", "EUROPOL", "europol.europa.eu", LookalikeKind.SEPARATORS),
    ("interpol.org", "INTERPOL", "interpol.int", LookalikeKind.SEPARATORS),
    ("safeonweb.com", "BE_CCB", "safeonweb.be", LookalikeKind.SEPARATORS),
    ("fbi.com", "US_FBI", "fbi.gov", LookalikeKind.SEPARATORS),
    # seen in scams: the gendarmerie on the ministry's name with a hyphen and .com
    (
        "gendarmerie-interieur-gouv.com",
        "FR_POLICE_GENDARMERIE",
        "interieur.gouv.fr",
        LookalikeKind.SEPARATORS,
    ),
    # the labels reordered
    ("belgium-police.eu", "BE_FEDERAL_POLICE", "police.belgium.eu", LookalikeKind.SEPARATORS),
    # look-alike characters: Cyrillic, Greek, accents, fullwidth, digits, l for i
    ("pоlice.be", "BE_FEDERAL_POLICE", "police.be", LookalikeKind.CONFUSABLE),
    ("interpοl.int", "INTERPOL", "interpol.int", LookalikeKind.CONFUSABLE),
    ("еuropol.europa.eu", "EUROPOL", "europol.europa.eu", LookalikeKind.CONFUSABLE),
    ("fbі.gov", "US_FBI", "fbi.gov", LookalikeKind.CONFUSABLE),
    ("pólice.be", "BE_FEDERAL_POLICE", "police.be", LookalikeKind.CONFUSABLE),
    ("ｐｏｌｉｃｅ.be", "BE_FEDERAL_POLICE", "police.be", LookalikeKind.CONFUSABLE),
    ("p0lice.be", "BE_FEDERAL_POLICE", "police.be", LookalikeKind.CONFUSABLE),
    ("po1ice.be", "BE_FEDERAL_POLICE", "police.be", LookalikeKind.CONFUSABLE),
    ("pollce.be", "BE_FEDERAL_POLICE", "police.be", LookalikeKind.CONFUSABLE),
    ("safe0nweb.be", "BE_CCB", "safeonweb.be", LookalikeKind.CONFUSABLE),
    ("po1itie.nl", "NL_POLICE", "politie.nl", LookalikeKind.CONFUSABLE),
    ("lnterpol.com", "INTERPOL", "interpol.int", LookalikeKind.CONFUSABLE),
    ("pоlice-belgium.eu", "BE_FEDERAL_POLICE", "police.belgium.eu", LookalikeKind.CONFUSABLE),
    # one letter off a long name
    ("policebelgum.eu", "BE_FEDERAL_POLICE", "police.belgium.eu", LookalikeKind.EDIT_DISTANCE),
    ("police-belgiun.eu", "BE_FEDERAL_POLICE", "police.belgium.eu", LookalikeKind.EDIT_DISTANCE),
    ("safeonwed.be", "BE_CCB", "safeonweb.be", LookalikeKind.EDIT_DISTANCE),
    ("jsut-fgov.be", "BE_FPS_JUSTICE", "just.fgov.be", LookalikeKind.EDIT_DISTANCE),
    ("europol-europe.eu", "EUROPOL", "europol.europa.eu", LookalikeKind.EDIT_DISTANCE),
    # an authority's name inside the domain
    ("spf-justice-be.com", "BE_FPS_JUSTICE", "just.fgov.be", LookalikeKind.NAME),
    (
        "convocation-policefederale.com",
        "BE_FEDERAL_POLICE",
        "police.belgium.eu",
        LookalikeKind.NAME,
    ),
    ("federale-politie.org", "BE_FEDERAL_POLICE", "police.belgium.eu", LookalikeKind.NAME),
    ("europol-eu.org", "EUROPOL", "europol.europa.eu", LookalikeKind.NAME),
    ("interpol-notice.com", "INTERPOL", "interpol.int", LookalikeKind.NAME),
    ("bka-ermittlungen.info", "DE_BKA", "bka.de", LookalikeKind.NAME),
]


@pytest.mark.parametrize(("domain", "identity_id", "protected", "kind"), LOOKALIKES)
def test_lookalike_positives(
    registry: IdentityRegistry,
    domain: str,
    identity_id: str,
    protected: str,
    kind: LookalikeKind,
) -> None:
    match = registry.lookalike(domain)
    assert match is not None, domain
    assert (match.identity.id, match.protected, match.kind) == (identity_id, protected, kind)
    assert match.domain == canonical_domain(domain)
    assert match.reason


@pytest.mark.parametrize(
    "domain",
    ["pоlice.be", "interpοl.int", "еuropol.europa.eu", "fbі.gov", "safeonwеb.be", "pólice.be"],
)
def test_lookalike_punycode_forms(registry: IdentityRegistry, domain: str) -> None:
    encoded = punycode(domain)
    assert encoded.startswith("xn--") or ".xn--" in encoded
    match = registry.lookalike(encoded)
    assert match is not None
    assert match.kind is LookalikeKind.CONFUSABLE
    assert "punycode" in match.reason
    assert match.domain == domain


# Ordinary From domains (free mail, companies, news, mailing lists of the ham corpus) and
# other real authorities that resemble protected names. None of them is a look-alike.
ORDINARY_DOMAINS = """
    gmail.com googlemail.com outlook.com hotmail.com live.be yahoo.com yahoo.fr icloud.com
    proton.me gmx.de web.de t-online.de orange.fr free.fr laposte.net telenet.be skynet.be
    proximus.be ziggo.nl kpnmail.nl amazon.com paypal.com apple.com microsoft.com
    linkedin.com facebookmail.com github.com python.org perl.org spamassassin.taint.org
    slack.net comcast.net pobox.com canada.com example.org example.com bpost.be kbc.be
    ing.be belfius.be nytimes.com lemonde.fr standaard.be hln.be rtbf.be vrt.be
    tagesschau.de spiegel.de bbc.co.uk users.sourceforge.net cse.ucsc.edu iki.fi
    policy.be polite.be politico.eu police1.com policeone.com interieur.com fbinaa.org
    interpool.nl safeweb.be stad.gent vlaanderen.be
""".split()  # noqa: SIM905 (a list of words reads best as words)

OTHER_AUTHORITIES = """
    belgium.be fgov.be minfin.fed.be europa.eu ec.europa.eu eurojust.europa.eu
    police.uk met.police.uk politie.be polizei.de bundespolizei.de justice.gouv.fr
    ice.gov irs.gov uscourts.gov ncsc.nl ncsc.gov.uk cert.pl cert.at police.lu om.nl
    rechtspraak.nl fedpol.admin.ch jus.br.com
""".split()  # noqa: SIM905


@pytest.mark.parametrize(
    "domain", sorted({domain for pair in REQUIRED.values() for domain in pair})
)
def test_real_domains_are_not_lookalikes(registry: IdentityRegistry, domain: str) -> None:
    assert registry.lookalike(domain) is None
    assert registry.lookalike("mail." + domain) is None
    assert registry.lookalike(domain.upper() + ".") is None


@pytest.mark.parametrize("domain", ORDINARY_DOMAINS + OTHER_AUTHORITIES)
def test_ordinary_domains_are_not_lookalikes(registry: IdentityRegistry, domain: str) -> None:
    assert registry.lookalike(domain) is None


def test_government_zones_only_count_non_latin_lookalikes(registry: IdentityRegistry) -> None:
    # ice.gov is a real agency one digit away from ic3.gov; fbl.gov cannot be registered
    # by anyone but the US government. A Cyrillic letter under .gov still counts.
    assert registry.lookalike("ice.gov") is None
    assert registry.lookalike("fbl.gov") is None
    assert registry.lookalike("fbі.gov") is not None


def test_lookalike_of_junk_is_none(registry: IdentityRegistry) -> None:
    for junk in ("", "localhost", "[192.0.2.1]", "police", "a..b", "-.be"):
        assert registry.lookalike(junk) is None
    # A very long domain is judged on its last words (bounded work), without error.
    long_domain = ".".join(["x"] * 100) + ".police-be.com"
    match = registry.lookalike(long_domain)
    assert match is not None
    assert match.protected == "police.be"


# --- claims() ------------------------------------------------------------------------

CLAIMS = [
    # display names (nl/fr/de/en) as the scams write them
    ("Federale Politie", "BE_FEDERAL_POLICE", "federale politie"),
    ("Federale Politie België", "BE_FEDERAL_POLICE", "federale politie"),
    ("Federale Politie - Cel Kinderbescherming", "BE_FEDERAL_POLICE", "federale politie"),
    ("Police Fédérale", "BE_FEDERAL_POLICE", "police fédérale"),
    ("POLICE FEDERALE BELGE", "BE_FEDERAL_POLICE", "police fédérale"),
    ("Föderale Polizei", "BE_FEDERAL_POLICE", "föderale polizei"),
    ("FOD Justitie", "BE_FPS_JUSTICE", "fod justitie"),
    ("SPF Justice", "BE_FPS_JUSTICE", "spf justice"),
    ("Safeonweb", "BE_CCB", "safeonweb"),
    ("EUROPOL", "EUROPOL", "europol"),
    ("INTERPOL Cyber Division", "INTERPOL", "interpol"),
    ("Politie Nederland", "NL_POLICE", "politie nederland"),
    ("Gendarmerie Nationale", "FR_POLICE_GENDARMERIE", "gendarmerie nationale"),
    (
        "Brigade de Protection des Mineurs",
        "FR_POLICE_GENDARMERIE",
        "brigade de protection des mineurs",
    ),
    ("FBI.OFFICE", "US_FBI", "fbi"),
    ("F.B.I. Office", "US_FBI", "f.b.i"),
    ("Bundeskriminalamt", "DE_BKA", "bundeskriminalamt"),
    ("National Crime Agency", "UK_NCA", "national crime agency"),
    # subjects
    ("Oproeping - Federale Politie", "BE_FEDERAL_POLICE", "federale politie"),
    ("Convocation de la Police Fédérale", "BE_FEDERAL_POLICE", "police fédérale"),
    (
        "Federal Bureau Of Investigation FBI. Washington, D.C.",
        "US_FBI",
        "federal bureau of investigation",
    ),
    ("Fw: FEDERAL BUREAU OF INVESTIGATION..", "US_FBI", "federal bureau of investigation"),
    ("JUSTIÇA DO TRABALHO", "BR_JUDICIARY", "justiça do trabalho"),
    (
        "TRIBUNAL REGIONAL DO TRABALHO DA 12ª REGIÃO - 1º GRAU",
        "BR_JUDICIARY",
        "tribunal regional do trabalho",
    ),
    # signature lines
    (
        "Le Commissaire général de la Police fédérale",
        "BE_FEDERAL_POLICE",
        "commissaire général de la police fédérale",
    ),
    (
        "De commissaris-generaal van de federale politie",
        "BE_FEDERAL_POLICE",
        "commissaris-generaal van de federale politie",
    ),
    (
        "Directeur général de la Gendarmerie nationale",
        "FR_POLICE_GENDARMERIE",
        "directeur général de la gendarmerie nationale",
    ),
    ("Der Präsident des Bundeskriminalamtes", "DE_BKA", "präsident des bundeskriminalamtes"),
    ("Executive Director of Europol", "EUROPOL", "executive director of europol"),
    # local parts, dots as separators
    ("fbi.gov", "US_FBI", "fbi"),
    ("convocation.policefederale.be", "BE_FEDERAL_POLICE", "police fédérale"),
    ("federalepolitie.dossier2023", "BE_FEDERAL_POLICE", "federale politie"),
    ('"fbi@"', "US_FBI", "fbi"),  # From: "Spy Agents" <"fbi@"@us.org>
    # spelled to dodge filters: no accents, Cyrillic letters, a zero-width space
    ("Police Federale", "BE_FEDERAL_POLICE", "police fédérale"),
    ("Justica do Trabalho", "BR_JUDICIARY", "justiça do trabalho"),
    ("Pоlicе Fédérale", "BE_FEDERAL_POLICE", "police fédérale"),
    ("Fede\u200brale Politie", "BE_FEDERAL_POLICE", "federale politie"),
    ("Police Fe\u0301de\u0301rale\u0301", "BE_FEDERAL_POLICE", "police fédérale"),
    ("ЕUROРOL", "EUROPOL", "europol"),
]


@pytest.mark.parametrize(("text", "identity_id", "phrase"), CLAIMS)
def test_claims_positives(
    registry: IdentityRegistry, text: str, identity_id: str, phrase: str
) -> None:
    claims = registry.claims(text)
    assert [c.identity.id for c in claims][:1] == [identity_id], claims
    claim = claims[0]
    assert claim.phrase == phrase
    assert text[claim.start : claim.end] == claim.evidence
    assert claim.evidence


def test_claims_in_a_signature_block(registry: IdentityRegistry) -> None:
    body = (
        "Sans réponse de votre part, un mandat d'arrêt sera délivré et vous serez\n"
        "inscrit(e) au fichier des délinquants sexuels.\n"
        "\n"
        "Le Commissaire général\n"
        "Police Fédérale\n"
    )
    (claim,) = registry.claims(signature_block(body))
    assert claim.identity.id == "BE_FEDERAL_POLICE"
    assert claim.kind is ClaimKind.NAME
    assert claim.evidence == "Police Fédérale"


def test_claims_report_each_identity_once_in_text_order(registry: IdentityRegistry) -> None:
    claims = registry.claims("SPF Justice - Police Fédérale\nPolice Fédérale\nSPF Justice")
    assert [(c.identity.id, c.start) for c in claims] == [
        ("BE_FPS_JUSTICE", 0),
        ("BE_FEDERAL_POLICE", 14),
    ]
    claims = registry.claims("EUROPOL - INTERPOL")
    assert [c.identity.id for c in claims] == ["EUROPOL", "INTERPOL"]


def test_a_signature_phrase_is_reported_as_such(registry: IdentityRegistry) -> None:
    (claim,) = registry.claims("Commissaris-generaal van de Federale Politie")
    assert claim.kind is ClaimKind.SIGNATURE
    assert claim.evidence == "Commissaris-generaal van de Federale Politie"


def test_offsets_point_into_the_original_text(registry: IdentityRegistry) -> None:
    text = "Geachte,\n\nMet vriendelijke groeten,\n  FEDERALE POLITIE  \n"
    (claim,) = registry.claims(text)
    assert text[claim.start : claim.end] == "FEDERALE POLITIE"


NOT_CLAIMS = [
    # a bare word is not a claim
    "Please call the police if you see anything suspicious.",
    "Justice was served",
    "Politie waarschuwt voor valse mails",
    "La police recommande de ne pas payer",
    "Polizei",
    # sentences that mention an authority
    "La police fédérale rappelle qu'il s'agit d'une escroquerie : ne répondez pas.",
    "Opgelet voor valse dagvaardingen in naam van de federale politie",
    "Attention aux fausses convocations de la Police fédérale",
    "Scam alert: fake National Crime Agency emails",
    "Morning Brief: man jailed after Europol-led child abuse inquiry",
    "Review: the new Interpol album is their best in years",
    "Die Polizei warnt vor gefälschten Vorladungen des Bundeskriminalamtes im Netz",
    # a wrapped paragraph: the authority starts or ends a line of a sentence
    "We have received over 900 reports of phishing emails that pretend to come from the\n"
    "National Crime Agency. The email reads:",
    "A 52-year-old man was jailed for eight years at Leeds Crown Court after an inquiry by\n"
    "Europol and the police found child abuse material on his devices.",
    # addresses and links name a site or a mailbox
    "Stuur de mail door naar verdacht@safeonweb.be en verwijder hem.",
    "[2] http://www.fbi.gov/cyber/sextortion.htm",
    # words that only contain a name
    "Interpolation of the results",
    "Europolitics newsletter",
    "",
]


@pytest.mark.parametrize("text", NOT_CLAIMS)
def test_claims_negatives(registry: IdentityRegistry, text: str) -> None:
    assert registry.claims(text) == ()


def test_max_extra_words(registry: IdentityRegistry) -> None:
    assert registry.claims("Service Convocations Police Fédérale")
    assert not registry.claims("Service Convocations Police Fédérale", max_extra_words=1)
    assert registry.claims("Police Fédérale Belge", max_extra_words=1)
    assert not registry.claims("Police Fédérale Belge", max_extra_words=0)


# --- signature_block() and letterhead() --------------------------------------------


def test_signature_block_takes_the_last_non_empty_lines() -> None:
    body = "\n".join(f"line {n}" for n in range(1, 31)) + "\n\n\n"
    block = signature_block(body)
    assert block.splitlines() == [f"line {n}" for n in range(16, 31)]
    assert signature_block(body, lines=2) == "line 29\nline 30"
    assert signature_block(body, lines=0) == ""
    assert signature_block("") == ""


def test_signature_block_skips_quotes_and_a_mailing_list_footer() -> None:
    body = (
        "Yours sincerely,\n"
        "FEDERAL BUREAU OF INVESTIGATION\n"
        "> quoted reply line\n"
        "_______________________________________________\n"
        "devel mailing list\n"
        "devel@linuxdriverproject.org\n"
        "http://driverdev.linuxdriverproject.org/mailman/listinfo/driverdev-devel\n"
    )
    assert signature_block(body) == "Yours sincerely,\nFEDERAL BUREAU OF INVESTIGATION"


def test_letterhead_takes_the_first_non_empty_lines() -> None:
    body = "\n\nBUNDESKRIMINALAMT\nAbteilung Cyberkriminalität\n> quoted\n\nSehr geehrte\n1\n2\n3"
    assert letterhead(body) == "BUNDESKRIMINALAMT\nAbteilung Cyberkriminalität\nSehr geehrte\n1\n2"
    assert letterhead(body, lines=1) == "BUNDESKRIMINALAMT"


# --- Loading, merging and broken files -----------------------------------------------

BASE = """\
- id: TEST_POLICE
  title: Test police
  domains: [police.test.example]
  names: [test federal police]
  signatures: [commissioner of the test federal police]
"""


def test_a_later_file_extends_an_identity(tmp_path: Path) -> None:
    shipped = write(tmp_path, BASE, "shipped.yml")
    local = tmp_path / "rules.d"
    local.mkdir()
    write(
        local,
        """\
        - id: TEST_POLICE
          domains: [zone-42.test.example]
          names: [test local police zone 42]
        - id: TEST_COURT
          title: Test court
          domains: [court.test.example]
          names: [test high court]
        """,
    )
    registry = IdentityRegistry.load([shipped, local])
    police = registry.get("TEST_POLICE")
    assert police is not None
    assert police.title == "Test police"
    assert police.domains == ("police.test.example", "zone-42.test.example")
    assert police.signatures == ("commissioner of the test federal police",)
    assert police.path == str(local / REGISTRY_FILE)
    assert registry.owner("mail.zone-42.test.example") is police
    assert registry.owner("police.test.example") is police
    assert [c.identity for c in registry.claims("Test Local Police Zone 42")] == [police]
    assert [c.identity for c in registry.claims("Test Federal Police")] == [police]
    court = registry.get("TEST_COURT")
    assert court is not None
    assert registry.owner("court.test.example") is court


def test_replace_true_replaces_an_identity_whole(tmp_path: Path) -> None:
    shipped = write(tmp_path, BASE, "shipped.yml")
    local = write(
        tmp_path,
        """\
        - id: TEST_POLICE
          replace: true
          title: Test police, new domain
          domains: [police.new.example]
          names: [test national police]
        """,
        "local.yml",
    )
    registry = IdentityRegistry.load([shipped, local])
    police = registry.get("TEST_POLICE")
    assert police is not None
    assert police.title == "Test police, new domain"
    assert police.domains == ("police.new.example",)
    assert police.signatures == ()
    assert registry.owner("police.test.example") is None
    assert registry.claims("Test Federal Police") == ()


def test_a_directory_contributes_only_its_identities_file(tmp_path: Path) -> None:
    write(tmp_path, "- id: NOT_AN_IDENTITY\n  score: 3\n", "sextortion.yml")
    assert IdentityRegistry.load([tmp_path]).identities == ()
    write(tmp_path, BASE)
    assert [i.id for i in IdentityRegistry.load([tmp_path]).identities] == ["TEST_POLICE"]


def test_an_empty_registry_answers_nothing(tmp_path: Path) -> None:
    registry = IdentityRegistry.load([write(tmp_path, "# nothing yet\n")])
    assert registry.identities == ()
    assert registry.owner("police.be") is None
    assert registry.lookalike("police-be.com") is None
    assert registry.claims("Police Fédérale") == ()


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="no such identity registry"):
        IdentityRegistry.load([tmp_path / "absent.yml"])


BROKEN = [
    (
        """\
        - id: TEST_POLICE
          title: Test police
          domains: [police.test.example]
          names: [test federal police]
          score: 3
        """,
        5,
        "TEST_POLICE",
        "unknown key 'score'",
    ),
    (
        """\
        - id: TEST_POLICE
          title: Test police
          domains:
            - police.test.example
            - https://police.test.example/
          names: [test federal police]
        """,
        5,
        "TEST_POLICE",
        "is not a domain name",
    ),
    (
        """\
        - id: TEST_POLICE
          title: Test police
          domains: [police.test.example]
        """,
        1,
        "TEST_POLICE",
        "missing required key 'names'",
    ),
    (
        """\
        - id: TEST_POLICE
          title: Test police
          domains: [police.test.example]
          names: [test federal police]

        - id: TEST_OTHER
          title: Another
          domains: [other.test.example]
          names: [police]
        """,
        6,
        "TEST_OTHER",
        "ordinary mail uses",
    ),
    (
        """\
        - id: TEST_POLICE
          title: Test police
          domains: [police.test.example]
          names: [test federal police]
        - id: TEST_OTHER
          title: Another
          domains: [police.test.example]
          names: [test other authority]
        """,
        5,
        "TEST_OTHER",
        "also belongs to TEST_POLICE",
    ),
    (
        """\
        - id: TEST_POLICE
          title: Test police
          domains: [police.test.example]
          names: [test federal police]
        - id: TEST_OTHER
          title: Another
          domains: [other.test.example]
          names: ['Test Federal-Police']
        """,
        5,
        "TEST_OTHER",
        "also a phrase of TEST_POLICE",
    ),
    (
        """\
        - id: TEST_POLICE
          title: Test police
          domains: [police.test.example]
          names: [test federal police]
        - id: TEST_POLICE
          names: [test police twice]
        """,
        5,
        "TEST_POLICE",
        "defined twice in this file",
    ),
    (
        """\
        - id: TEST_POLICE
          title: Test police
          domains: police.test.example
          names: [{name: test federal police}]
        """,
        4,
        "TEST_POLICE",
        "names must be a list of non-empty strings",
    ),
]


@pytest.mark.parametrize(("text", "line", "identity_id", "message"), BROKEN)
def test_broken_registry_names_file_line_and_identity(
    tmp_path: Path, text: str, line: int, identity_id: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as caught:
        IdentityRegistry.load([path])
    error = caught.value
    assert (error.path, error.line, error.rule_id) == (str(path), line, identity_id)
    assert str(error).startswith(f"{path}:{line}: rule {identity_id}: ")
    assert message in error.detail


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("- id: TEST_POLICE\n  title: [unclosed\n", 3, "invalid YAML"),
        ("id: TEST_POLICE\n", 1, "must be a YAML list"),
        ("- id: test_police\n  title: x\n", 1, "upper-case"),
        ("- id: TEST_POLICE\n  title: x\n  title: y\n", 3, "appears twice"),
        ("- just a string\n", 1, "must be a mapping"),
    ],
)
def test_broken_yaml_names_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as caught:
        IdentityRegistry.load([path])
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert message in caught.value.detail


def test_a_conflict_across_files_names_the_later_file(tmp_path: Path) -> None:
    shipped = write(tmp_path, BASE, "shipped.yml")
    local = write(
        tmp_path,
        """\
        # a local authority that reuses the shipped one's domain

        - id: TEST_LOCAL
          title: Local
          domains: [zone.police.test.example, police.test.example]
          names: [test local authority]
        """,
        "local.yml",
    )
    with pytest.raises(RuleError) as caught:
        IdentityRegistry.load([shipped, local])
    assert (caught.value.path, caught.value.line, caught.value.rule_id) == (
        str(local),
        3,
        "TEST_LOCAL",
    )


def test_registry_built_from_identities() -> None:
    identity = Identity(
        id="TEST_AGENCY",
        title="Test agency",
        domains=("agency.test.example",),
        names=("test national agency",),
    )
    registry = IdentityRegistry((identity,))
    assert registry.get("TEST_AGENCY") is identity
    assert registry.owner("www.agency.test.example") is identity
    assert registry.lookalike("agency-test.example.com") is not None
    with pytest.raises(ValueError, match="upper-case"):
        Identity(id="bad", title="x", domains=("a.example",), names=("test name",))
    with pytest.raises(RuleError, match="defined twice"):
        IdentityRegistry((identity, identity))


def test_lookalike_answers_are_kept_but_bounded() -> None:
    registry = IdentityRegistry.load([shipped_rules_dir()])
    first = registry.lookalike("police-belgium.eu")
    assert first is not None and registry.lookalike("police-belgium.eu") is first
    for number in range(5000):
        assert registry.lookalike(f"shop{number}.example") is None
    assert len(registry._lookalike_memo) <= 4096
    assert registry.lookalike("police-belgium.eu") == first


_PIECES = ["hello world", "", "   ", "> quoted", "_" * 47, "Mailing list", "x" * 300, "\u2028"]


# A footer among the last lines, and more than 15 lines before it: the block is the 15
# lines before the footer, which reading from the end must reach.
_FOOTER_LATE = [("hello world", "\n")] * 20 + [("_" * 47, "\n")] + [("Mailing list", "\n")] * 3


@given(
    st.lists(
        st.tuples(st.sampled_from(_PIECES), st.sampled_from(["\n", "\r\n", "\r", ""])),
        max_size=400,
    )
)
@example(_FOOTER_LATE)
@example([("x" * 300, "\n")] * 20 + _FOOTER_LATE[-4:])  # the same, past the 4 KB edge
@example([("> quoted", "\n")] * 30 + _FOOTER_LATE)
@example(_FOOTER_LATE[:21] + [("Mailing list", "\n")] * 6)  # the farthest footer looked for
def test_signature_and_letterhead_read_only_the_edges_of_long_texts_but_say_the_same(parts):
    # signature_block and letterhead read the last or first 4 KB of a long text when
    # those hold enough lines: the answer must be the one the whole text gives.
    from milter.scan.identities.letters import _signature_lines

    def _letterhead_lines(lines: list[str]) -> list[str]:
        # The non-empty, unquoted lines: what a letterhead is taken from.
        return [
            line.rstrip() for line in lines if line.strip() and not line.lstrip().startswith(">")
        ]

    body = "".join(piece + end for piece, end in parts)
    assert signature_block(body) == "\n".join(_signature_lines(body.splitlines())[-15:])
    assert letterhead(body) == "\n".join(_letterhead_lines(body.splitlines())[:5])


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_separator_removal_matches_the_regex(text):
    from milter.scan.identities.matching import ASCII_NOT_ALNUM, NOT_WORD

    compact = text.encode("ascii").translate(None, ASCII_NOT_ALNUM).decode("ascii")
    assert compact == NOT_WORD.sub("", text)

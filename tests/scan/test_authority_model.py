"""The open model of authority (docs/authority.md) on whole messages: claims of any
authority kind in the ten lexicon languages, wherever they sit (display name, local
part, subject, letterhead, signature, the text OCR read in an image, a file name), the
signals that make a claim a scam, and the one answer to "entitled to this claim".

Every message here was written for these tests. Scam ones must be held, real authority
mail and ordinary mail that mentions an authority must be accepted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pytest

import milter.config
from milter.mail.images import ImageText
from milter.scan.rules.examples import build_example, example_auth
from milter.scan.scanner import Scanner
from milter.scan.verdict import Action, Verdict

PASS = {"spf": "pass", "dkim": "pass", "dmarc": "pass"}


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_rule_paths([milter.config.shipped_rules_dir()])


def scan(
    scanner: Scanner,
    example: Mapping[str, Any],
    images: Mapping[str, str] | None = None,
) -> Verdict:
    """Scan the message ``example`` describes (the rule-example format), with ``images``
    (file name: text) as the text OCR read in its images."""
    raw, envelope = build_example(example)
    view = scanner.view(raw, envelope)
    if images:
        texts = tuple(ImageText(name, "0" * 64, text) for name, text in images.items())
        view = dataclasses.replace(view, image_texts=texts)
    return scanner.scan_view(view, example_auth(example), every_rule=True)


def explain(verdict: Verdict) -> str:
    return ", ".join(f"{hit.id}({hit.score:g})" for hit in verdict.rules) or "no rule"


def jpeg(name: str) -> dict[str, str]:
    # The bytes are a stand-in: the tests state what OCR read (``images``).
    return {"name": name, "type": "image/jpeg"}


# --- Scams, one per language and authority kind ------------------------------------------

SCAMS: dict[str, tuple[dict[str, Any], dict[str, str] | None]] = {
    # Italian: the Polizia Postale accuses of child pornography, in the image letter.
    "it_polizia_postale_image": (
        {
            "from": "Polizia Postale <segreteria.cncpo@gmail.com>",
            "subject": "Convocazione",
            "body": "Trova la convocazione in allegato.",
            "attachments": [jpeg("CONVOCAZIONE1.jpg")],
        },
        {
            "CONVOCAZIONE1.jpg": "POLIZIA DI STATO\nPolizia Postale e delle Comunicazioni\n\n"
            "È stato avviato un procedimento penale nei suoi confronti per detenzione di "
            "materiale di pornografia minorile. Lei deve rispondere entro 48 ore, in caso "
            "contrario sarà emesso un mandato di arresto.\n\nIl Direttore",
        },
    ),
    # Polish: a summons of the police cybercrime bureau, claim in the local part.
    "pl_cbzc_summons": (
        {
            "from": "Biuro <cbzc.wezwania@outlook.com>",
            "subject": "Wezwanie do stawiennictwa",
            "body": "Komenda Główna Policji\n\nWszczęcie postępowania karnego przeciwko panu "
            "w sprawie posiadania pornografii dziecięcej. Jest pan zobowiązany stawić się "
            "lub odpowiedzieć w ciągu 72 godzin, inaczej grozi panu aresztowanie.",
        },
        None,
    ),
    # Czech: the police of the Czech Republic, from a hijacked company domain.
    "cs_policie_summons": (
        {
            "from": "Policie České republiky <info@stavby-novak.example.cz>",
            "subject": "Předvolání",
            "body": "Policie České republiky\n\nBylo zahájeno trestní stíhání proti vám "
            "pro šíření dětské pornografie. Musíte se dostavit nebo odpovědět do 3 dnů, "
            "jinak hrozí zatčení.",
        },
        None,
    ),
    # Romanian: ANAF tax debt with a payment link to a rented domain.
    "ro_anaf_tax_debt": (
        {
            "from": "ANAF <notificari@anaf-plati.example.com>",
            "subject": "ANAF - Notificare datorii fiscale",
            "html": "<p>Agenția Națională de Administrare Fiscală</p><p>Aveți datorii fiscale "
            "restante. Trebuie să plătiți în 48 de ore.</p>"
            "<a href='https://plata-anaf.example.net/'>Plătește acum</a>",
        },
        None,
    ),
    # Spanish: the Policía Nacional, Reply-To elsewhere, the letter as an image.
    "es_policia_nacional_image": (
        {
            "from": "Policía Nacional <citaciones@policia-es.example>",
            "reply_to": "inspector.garcia@outlook.es",
            "subject": "Citación judicial",
            "body": "Ver documento adjunto.",
            "attachments": [jpeg("CITACION.jpg")],
        },
        {
            "CITACION.jpg": "POLICÍA NACIONAL\nBrigada Central de Investigación Tecnológica\n\n"
            "Se ha abierto un procedimiento penal contra usted por delito de pornografía "
            "infantil y exhibicionismo. Deberá responder en el plazo de 72 horas; de lo "
            "contrario se emitirá una orden de detención.",
        },
    ),
    # Portuguese (Brazil): Receita Federal, suspended CPF, "Regularizar" to a rented host.
    "pt_receita_cpf": (
        {
            "from": "Receita Federal <atendimento@regulariza-cadastro.example.com>",
            "subject": "Receita Federal - Seu CPF está suspenso",
            "html": "<p>Receita Federal do Brasil</p><p>Seu CPF está suspenso por pendências "
            "fiscais. Regularize em até 24 horas para evitar o bloqueio.</p>"
            "<a href='https://cpf-regular.example.net/gov.br'>REGULARIZAR</a>",
        },
        None,
    ),
    # Portuguese: the link shows gov.br over a rented host; no button, no deadline.
    "pt_receita_disguised_link": (
        {
            "from": "Receita Federal <noreply@comunicado-online.example.com>",
            "subject": "Receita Federal - Declaração com pendências",
            "html": "<p>Receita Federal</p><p>Sua declaração apresenta pendências fiscais. "
            "Consulte em <a href='https://www.gov.br.consulta-cpf.example.net/'>"
            "www.gov.br/receitafederal</a>.</p>",
        },
        None,
    ),
    # Portuguese: the attachment name and the image carry the claim (CONVOCAÇÃO1.jpg).
    "pt_policia_judiciaria_image": (
        {
            "from": "polícia nacional <policianacional740@gmail.com>",
            "subject": "Convocatória",
            "body": "[image: CONVOCAÇÃO1.jpg]",
            "attachments": [jpeg("CONVOCAÇÃO1.jpg")],
        },
        {
            "CONVOCAÇÃO1.jpg": "POLÍCIA JUDICIÁRIA\n\nFoi instaurado um processo criminal "
            "contra você por pornografia infantil e pedofilia. Responda no prazo de 48 "
            "horas, sob pena de mandado de prisão.",
        },
    ),
    # German child-protection unit, claim in display name and a BKA image.
    "de_jugendschutz_bka_image": (
        {
            "from": "Abteilung für Jugendschutz <jugendschutz.abteilung@web.de>",
            "subject": "Ihre Vorladung",
            "body": "Ihre Einladung finden Sie im Anhang.",
            "attachments": [jpeg("BKA025.jpg")],
        },
        {
            "BKA025.jpg": "BUNDESKRIMINALAMT\n\nGegen Sie wurde ein Strafverfahren wegen "
            "Kinderpornografie eingeleitet. Sie müssen innerhalb von 72 Stunden antworten, "
            "sonst wird ein Haftbefehl erlassen.",
        },
    ),
    # Court kind: the "U.S. Federal Court System" summons with a case lure.
    "en_us_court_summons": (
        {
            "from": "U.S. Federal Court System <clerk@court-notices.example.com>",
            "subject": "Court summons - case 24-CV-1187",
            "body": "United States District Court\n\nYou are summoned to appear. Legal "
            "proceedings against you have started. View your case file: "
            "https://court-notices.example.com/case",
        },
        None,
    ),
    # FBI advance fee.
    "en_fbi_advance_fee": (
        {
            "from": "FBI Washington <director.office@outlook.com>",
            "subject": "Your fund release",
            "body": "FEDERAL BUREAU OF INVESTIGATION\n\nDear Beneficiary, your inheritance "
            "fund of ten million dollars has been approved by the United Nations and will "
            "be released on an ATM card once you pay the delivery fee of $250.",
        },
        None,
    ),
    # The same text as the BKA newsletter below, from free mail.
    "de_bka_text_from_freemail": (
        {
            "from": "Bundeskriminalamt <bka.warnung@gmail.com>",
            "subject": "Vorladung - Bundeskriminalamt",
            "body": "Bundeskriminalamt\n\nGegen Sie wird wegen Kinderpornografie ermittelt. "
            "Ihre Vorladung liegt bei. Sie müssen innerhalb von 48 Stunden antworten, "
            "sonst wird ein Haftbefehl erlassen.",
        },
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(SCAMS))
def test_scam_is_held(scanner: Scanner, name: str) -> None:
    example, images = SCAMS[name]
    verdict = scan(scanner, example, images)
    assert verdict.action.held, f"{name}: {verdict.action.value}, {explain(verdict)}"


# --- Real authority mail, news, invoices ------------------------------------------------

BKA_NEWSLETTER = (
    "Bundeskriminalamt - Newsletter\n\n"
    "Warnung vor gefälschten Vorladungen: Betrüger verschicken E-Mails im Namen des BKA. "
    'Darin heißt es: "Gegen Sie wird wegen Kinderpornografie ermittelt. Ihre Vorladung '
    "liegt bei. Sie müssen innerhalb von 48 Stunden antworten, sonst wird ein Haftbefehl "
    'erlassen." Das ist Betrug. Das BKA verschickt keine Vorladungen per E-Mail.\n\n'
    "Ihr Bundeskriminalamt"
)

HAMS: dict[str, tuple[dict[str, Any], dict[str, str] | None]] = {
    "de_bka_newsletter_authenticated": (
        {
            "from": "Bundeskriminalamt <newsletter@bka.de>",
            "subject": "BKA-Newsletter: Warnung vor gefälschten Vorladungen",
            "body": BKA_NEWSLETTER,
            "auth": PASS,
        },
        None,
    ),
    # A Polish court writes from gov.pl, authenticated: a real summons.
    "pl_court_summons_authenticated": (
        {
            "from": "Sąd Rejonowy dla Warszawy <biuro.podawcze@warszawa.sr.gov.pl>",
            "subject": "Wezwanie do stawiennictwa",
            "body": "Sąd Rejonowy dla Warszawy\n\nWezwanie na przesłuchanie w postępowaniu "
            "karnym. Jest pan zobowiązany stawić się w dniu 12 marca.",
            "auth": PASS,
        },
        None,
    ),
    # The Agenzia delle Entrate writes about a real debt, authenticated.
    "it_agenzia_entrate_authenticated": (
        {
            "from": "Agenzia delle Entrate <noreply@agenziaentrate.gov.it>",
            "subject": "Agenzia delle Entrate - Comunicazione",
            "html": "<p>Risulta un debito fiscale a suo carico. Paga subito dal portale.</p>"
            "<a href='https://www.agenziaentrate.gov.it/portale/'>Accedi</a>",
            "auth": PASS,
        },
        None,
    ),
    # Belgian police recruitment from its own non-government domain.
    "be_jobpol_recruitment": (
        {
            "from": "Federale Politie - Jobpol <info@jobpol.be>",
            "subject": "Word inspecteur bij de Federale Politie",
            "body": "Federale Politie\n\nWe zoeken 1.600 nieuwe collega's. Solliciteer vóór "
            "31 maart via jobpol.be.",
            "auth": PASS,
        },
        None,
    ),
    # News article quoting the Polícia Federal.
    "pt_news_policia_federal": (
        {
            "from": "Jornal Diário <newsletter@jornaldiario.example.com.br>",
            "subject": "Polícia Federal prende quadrilha de pornografia infantil",
            "body": "A Polícia Federal prendeu ontem em São Paulo uma quadrilha acusada de "
            "pornografia infantil. Segundo a Polícia Federal, o inquérito continua e um "
            "mandado de prisão foi cumprido. Leia mais: https://jornaldiario.example.com.br/pf",
        },
        None,
    ),
    # An invoice that mentions tax.
    "en_invoice_with_tax": (
        {
            "from": "Billing <billing@hosting.example.com>",
            "subject": "Invoice 2025-0113",
            "body": "Invoice 2025-0113\n\nWeb hosting, 12 months: 120.00 EUR\nVAT (tax) 21%: "
            "25.20 EUR\nTotal: 145.20 EUR\n\nPlease pay within 30 days: "
            "https://hosting.example.com/pay",
        },
        None,
    ),
    # A warning of Romania's police quoted by a bank, with the scam's words.
    "ro_bank_warning": (
        {
            "from": "Banca Exemplu <info@banca.example.ro>",
            "subject": "Atenție la înșelătorii",
            "body": 'Escroci trimit e-mailuri în numele Poliției Române: "A fost deschis un '
            'dosar penal împotriva dumneavoastră." Este o înșelătorie: nu plătiți nimic.',
        },
        None,
    ),
}


@pytest.mark.parametrize("name", sorted(HAMS))
def test_ham_is_accepted(scanner: Scanner, name: str) -> None:
    example, images = HAMS[name]
    verdict = scan(scanner, example, images)
    assert verdict.action is Action.ACCEPT, f"{name}: {explain(verdict)}"


def test_the_bka_newsletter_is_accepted_and_the_same_text_from_gmail_held(
    scanner: Scanner,
) -> None:
    real, _ = HAMS["de_bka_newsletter_authenticated"]
    assert scan(scanner, real).action is Action.ACCEPT
    forged = {**real, "from": "Bundeskriminalamt <bka.newsletter@gmail.com>", "auth": None}
    forged.pop("auth")
    verdict = scan(scanner, forged)
    assert verdict.action.held, explain(verdict)


def test_entitlement_needs_dmarc_pass(scanner: Scanner) -> None:
    """The same government domain: entitled with DMARC pass, not with a fail, and only
    "an authority's domain" (not entitled) when nothing was checked."""
    example = {"from": "Policja <kontakt@policja.gov.pl>", "body": "Komunikat"}
    passed = scan(scanner, {**example, "auth": PASS}).matched_ids
    assert {"__AUTHORITY_ENTITLED", "__AUTHORITY_DOMAIN_SENDER"} <= passed
    failed = scan(scanner, {**example, "auth": {"dmarc": "fail"}}).matched_ids
    assert not {"__AUTHORITY_ENTITLED", "__AUTHORITY_DOMAIN_SENDER"} & failed
    offline = scan(scanner, example).matched_ids
    assert "__AUTHORITY_DOMAIN_SENDER" in offline
    assert "__AUTHORITY_ENTITLED" not in offline


def test_a_forged_government_domain_with_an_accusation_is_held(scanner: Scanner) -> None:
    example, _ = SCAMS["cs_policie_summons"]
    forged = {**example, "from": "Policie <podatelna@policie.gov.cz>", "auth": {"dmarc": "fail"}}
    verdict = scan(scanner, forged)
    assert verdict.action.held, explain(verdict)
    real = {**forged, "auth": PASS}
    assert scan(scanner, real).action is Action.ACCEPT


def test_the_claim_in_the_image_is_evidence(scanner: Scanner) -> None:
    example, images = SCAMS["it_polizia_postale_image"]
    verdict = scan(scanner, example, images)
    evidence = [quote for hit in verdict.rules for quote in hit.evidence]
    assert any("POLIZIA DI STATO" in quote or "Polizia Postale" in quote for quote in evidence)


def test_a_claim_alone_does_not_hold(scanner: Scanner) -> None:
    """An authority named by a sender that is not entitled, without an accusation, a
    summons, a debt or a demand, is not held (at most tagged)."""
    for sender in (
        "Polizia Postale <info@associazione-esempio.example.it>",
        "Receita Federal <contato@contabilidade.example.com.br>",
        "Komenda Główna Policji <biuro@example.pl>",
    ):
        verdict = scan(scanner, {"from": sender, "subject": "Newsletter", "body": "Ciao."})
        assert not verdict.action.held, f"{sender}: {explain(verdict)}"

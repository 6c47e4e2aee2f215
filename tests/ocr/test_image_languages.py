"""Image letters in ten languages, written for these tests, rendered at scan size and read
by the real Tesseract, each in the bland mail the seed wave comes in (an ordinary name at
a free-mail address, one line pointing at the attachment): the letter alone decides.

Scams: the child-abuse "summons" in each language, and a tax, a court and an advance-fee
letter. Ham: letters of the same shape that accuse nobody and demand nothing.
"""

from __future__ import annotations

import pytest

from milter.config import shipped_rules_dir
from milter.ocr.engine import Engine, probe
from milter.ocr.reader import OcrReader
from milter.scan.scanner import Scanner
from milter.scan.verdict import Action
from tests.ocr.letters import letter
from tests.ocr.test_image_scan import mail

SCAMS = {
    "en-police": [
        "NATIONAL CRIME AGENCY",
        "Child Exploitation and Online Protection",
        "SUMMONS",
        "After a seizure of computer data, criminal proceedings",
        "were opened against you for child pornography and",
        "indecent exposure. Send your explanation by e-mail",
        "within 72 hours, or your file goes to the prosecutor.",
    ],
    "it-police": [
        "POLIZIA DI STATO",
        "Polizia Postale e delle Comunicazioni",
        "CONVOCAZIONE",
        "A seguito di un sequestro informatico è stato avviato",
        "nei suoi confronti un procedimento per pedopornografia",
        "ed esibizionismo. Ha 72 ore per inviarci le sue",
        "giustificazioni via e-mail, poi il fascicolo sarà",
        "trasmesso alla Procura della Repubblica.",
    ],
    "pl-police": [
        "POLICJA",
        "Centralne Biuro Zwalczania Cyberprzestępczości",
        "WEZWANIE",
        "W związku z zabezpieczeniem danych komputerowych",
        "wszczęto przeciwko Panu postępowanie w sprawie",
        "pornografii dziecięcej i ekshibicjonizmu. Ma Pan",
        "72 godziny na przesłanie wyjaśnień e-mailem,",
        "potem sprawa trafi do prokuratury.",
    ],
    "cs-police": [
        "POLICIE ČESKÉ REPUBLIKY",
        "Národní centrála proti organizovanému zločinu",
        "PŘEDVOLÁNÍ",
        "Na základě zajištění počítačových dat bylo proti Vám",
        "zahájeno trestní řízení pro dětskou pornografii",
        "a exhibicionismus. Máte 72 hodin na zaslání",
        "vysvětlení e-mailem, poté věc předáme",
        "státnímu zastupitelství.",
    ],
    "ro-police": [
        "POLIȚIA ROMÂNĂ",
        "Direcția de Combatere a Criminalității Informatice",
        "CITAȚIE",
        "În urma unei percheziții informatice, împotriva",
        "dumneavoastră a fost deschis un dosar penal pentru",
        "pornografie infantilă și exhibiționism. Aveți 72 de",
        "ore pentru a ne trimite justificările prin e-mail,",
        "apoi dosarul va fi transmis procurorului.",
    ],
    "es-police": [
        "GUARDIA CIVIL",
        "Grupo de Delitos Telemáticos",
        "CITACIÓN JUDICIAL",
        "Tras el análisis de su equipo informático se ha",
        "abierto contra usted una investigación por",
        "pornografía infantil y exhibicionismo. Responda",
        "por correo electrónico en un plazo de 72 horas;",
        "de lo contrario su caso pasará a la Fiscalía.",
    ],
    "pt-police": [
        "POLÍCIA FEDERAL",
        "Divisão de Repressão a Crimes Cibernéticos",
        "INTIMAÇÃO",
        "Após a apreensão de dados informáticos, foi aberto",
        "contra o senhor um inquérito por pornografia infantil",
        "e exibicionismo. Tem 72 horas para enviar a sua",
        "justificação por e-mail; depois o processo segue",
        "para o Ministério Público.",
    ],
    "nl-police": [
        "POLITIE",
        "Team Bestrijding Kinderpornografie",
        "OPROEPING",
        "Na inbeslagname van computergegevens is tegen u een",
        "strafonderzoek geopend wegens kinderpornografie en",
        "exhibitionisme. U heeft 72 uur om uw verweer per",
        "e-mail te sturen, daarna gaat uw dossier naar het",
        "Openbaar Ministerie.",
    ],
    "fr-gendarmerie": [
        "GENDARMERIE NATIONALE",
        "Office mineurs",
        "CONVOCATION",
        "Suite à une saisie informatique, une procédure est",
        "ouverte contre vous pour pédopornographie et",
        "exhibitionnisme. Vous disposez de 72 heures pour",
        "nous adresser vos justifications par courriel,",
        "faute de quoi le dossier sera transmis au procureur.",
    ],
    "de-police": [
        "BUNDESPOLIZEI",
        "Referat Cyberkriminalität",
        "LADUNG",
        "Nach der Sicherstellung von Computerdaten wurde",
        "gegen Sie ein Verfahren wegen Kinderpornografie und",
        "Exhibitionismus eingeleitet. Senden Sie Ihre",
        "Stellungnahme binnen 72 Stunden per E-Mail, sonst",
        "geht die Akte an die Staatsanwaltschaft.",
    ],
    "pt-tax": [
        "RECEITA FEDERAL DO BRASIL",
        "Ministério da Fazenda",
        "NOTIFICAÇÃO DE PENDÊNCIA FISCAL",
        "Seu CPF será suspenso por irregularidades na",
        "declaração do Imposto de Renda. Regularize a",
        "pendência de R$ 1.274,90 em até 48 horas pelo",
        "portal de regularização, sob pena de multa e",
        "bloqueio de contas bancárias.",
    ],
    "pt-court": [
        "PODER JUDICIÁRIO",
        "Tribunal Regional do Trabalho",
        "INTIMAÇÃO",
        "Fica V. Sa. intimado a comparecer à audiência do",
        "processo em que figura como réu. O não comparecimento",
        "implica revelia. Confirme o recebimento e pague as",
        "custas processuais em 24 horas pelo link enviado.",
    ],
    "en-advance-fee": [
        "FEDERAL BUREAU OF INVESTIGATION",
        "Office of the Director",
        "Your compensation fund of US$ 4,500,000.00 has been",
        "approved. To release it, pay the clearance fee of",
        "US$ 350 within three days and reply with your full",
        "name and telephone number. Failure to comply will",
        "lead to your arrest for money laundering.",
    ],
}

HAMS = {
    "nl-municipality": [
        "GEMEENTE HOUTEN",
        "Afvalkalender 2027",
        "Restafval: maandag in de even weken",
        "GFT: maandag in de oneven weken",
        "Papier: eerste vrijdag van de maand",
    ],
    "it-newsletter": [
        "POLIZIA DI STATO",
        "Consigli per navigare sicuri",
        "Non aprite allegati di mittenti sconosciuti e non",
        "rispondete a e-mail che chiedono dati personali.",
        "Segnalate i tentativi di truffa sul nostro sito.",
    ],
    "pt-invoice": [
        "OFICINA MECÂNICA SANTOS LTDA",
        "Nota de serviço 2291",
        "Troca de óleo e filtros: R$ 389,00",
        "Pagamento na retirada do veículo. Obrigado!",
    ],
    "de-school": [
        "Grundschule am Stadtpark",
        "Einladung zum Elternabend",
        "am Dienstag, 14. März, um 19 Uhr in der Aula.",
        "Wir besprechen die Klassenfahrt und den Sporttag.",
    ],
}


@pytest.fixture(scope="module")
def reader() -> OcrReader:
    status = probe()
    if not status.available:
        pytest.skip(f"{status.text}: run-tests installs tesseract-ocr and tesserocr")
    return OcrReader(Engine(status))


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_rule_paths([shipped_rules_dir()])


def judged(reader: OcrReader, scanner: Scanner, lines: list[str]) -> tuple[Action, Action]:
    """The action without reading the image, and with it."""
    raw = mail(("scan0001.jpg", letter(lines), "image/jpeg"), body="[image: scan0001.jpg]")
    view = scanner.view(raw)
    return scanner.scan_view(view).action, scanner.scan_view(reader.read_view(view)).action


@pytest.mark.parametrize("name", sorted(SCAMS))
def test_an_image_letter_scam_is_held(reader: OcrReader, scanner: Scanner, name: str) -> None:
    before, after = judged(reader, scanner, SCAMS[name])
    assert before is Action.ACCEPT  # nothing but the picture says anything
    assert after in (Action.QUARANTINE, Action.REJECT)


@pytest.mark.parametrize("name", sorted(HAMS))
def test_an_ordinary_image_letter_is_not_held(
    reader: OcrReader, scanner: Scanner, name: str
) -> None:
    _, after = judged(reader, scanner, HAMS[name])
    assert after is Action.ACCEPT

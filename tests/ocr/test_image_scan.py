"""Image letters through the whole scan: the parse lists the images of a message, the
real Tesseract reads them within the budget, and rules see the text as a target of its
own, with the image named in evidence. Hostile inputs (issue 12: a zip bomb, a pixel
bomb, 200 images, a truncated JPEG, a PDF of 500 scanned pages) end within the budget
with a note, never an exception."""

from __future__ import annotations

import io
import time
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image

from milter.config import shipped_rules_dir
from milter.mail.envelope import Envelope
from milter.mail.view import ViewLimits, parse_message
from milter.ocr.engine import Engine, probe
from milter.ocr.reader import OcrReader
from milter.ocr.settings import OcrSettings
from milter.scan.rules.examples import check_examples
from milter.scan.scanner import Scanner
from milter.scan.targets import MessageTargets
from milter.scan.verdict import Action
from tests.mail.test_images import png_header_only
from tests.ocr.letters import FRENCH, GERMAN, encoded, letter, qr_code

# How the seed wave's mails look around the letter: a one-line body, an ordinary name.
BLAND_BODY = "Ihre Einladung finden Sie im Anhang."
BLAND_FROM = "Maria Keller <m.keller1982@gmail.com>"


@pytest.fixture(scope="module")
def engine() -> Engine:
    status = probe()
    if not status.available:
        pytest.skip(f"{status.text}: run-tests installs tesseract-ocr and tesserocr")
    return Engine(status)


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_rule_paths([shipped_rules_dir()])


def mail(
    *attachments: tuple[str, bytes, str],
    body: str = BLAND_BODY,
    sender: str = BLAND_FROM,
    subject: str = "Einladung",
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "someone@example.com"
    message["Subject"] = subject
    message.set_content(body)
    for name, data, kind in attachments:
        maintype, _, subtype = kind.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def scanned_pdf(pages: list[Image.Image]) -> bytes:
    """A PDF whose pages are images only (no text layer), as a scanner makes them."""
    out = io.BytesIO()
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:], resolution=150)
    return out.getvalue()


def test_the_view_lists_every_kind_of_image_without_reading_pixels() -> None:
    jpeg = letter(GERMAN)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("scan/EUROPOL1.jpg", jpeg)
    page = Image.open(io.BytesIO(letter(FRENCH)))
    raw = mail(
        ("BKA025.jpg", jpeg, "image/jpeg"),
        ("", letter(FRENCH, "PNG"), "image/png"),  # inline, no name
        ("Dokumente.zip", archive.getvalue(), "application/zip"),
        ("convocation.pdf", scanned_pdf([page]), "application/pdf"),
        ("brief.bin", jpeg, "application/octet-stream"),  # a JPEG by its bytes only
    )
    view = parse_message(raw, Envelope())
    names = [image.name for image in view.images]
    assert names == [
        "BKA025.jpg",
        "image 2",
        "Dokumente.zip/scan/EUROPOL1.jpg",
        "convocation.pdf page 1",
        "brief.bin",
    ]
    assert all(image.data and not image.note for image in view.images)
    assert view.images[0].data == jpeg and view.image_texts == ()


def test_an_image_letter_is_held_only_when_its_text_is_read(
    engine: Engine, scanner: Scanner
) -> None:
    raw = mail(("IMG_0031.jpg", letter(GERMAN), "image/jpeg"))
    view = scanner.view(raw)
    unread = scanner.scan_view(view)
    assert unread.action is Action.ACCEPT  # nothing but an ordinary line and a picture
    read = scanner.scan_view(OcrReader(engine).read_view(view))
    assert read.action in (Action.QUARANTINE, Action.REJECT)
    quotes = [quote for hit in read.rules for quote in hit.evidence]
    assert "Kinderpornografie [image IMG_0031.jpg]" in quotes
    # The letter's opening line is a letterhead claim, quoted from the image too.
    assert any(q.startswith("BUNDESKRIMINALAMT") and "[image IMG_0031.jpg]" in q for q in quotes)
    # What was read travels with the verdict (the quarantine keeps it for the review page).
    assert unread.image_texts == ()
    ((name, text),) = read.image_texts
    assert name == "IMG_0031.jpg" and "Kinderpornografie" in text


def test_ordinary_scanned_mail_is_not_held(engine: Engine, scanner: Scanner) -> None:
    invoice = letter(
        [
            "FACTURE N° 2024-118",
            "Menuiserie Dubois SARL",
            "Pose de fenêtres, total TTC 1.240,00 EUR",
            "Paiement à 30 jours. Merci de votre confiance.",
        ]
    )
    raw = mail(("facture.jpg", invoice, "image/jpeg"), body="Bonjour, voici la facture.")
    verdict = scanner.scan_view(OcrReader(engine).read_view(scanner.view(raw)))
    assert verdict.action is Action.ACCEPT, verdict.rules


def test_a_scanned_pdf_letter_is_read(engine: Engine, scanner: Scanner) -> None:
    page = Image.open(io.BytesIO(letter(FRENCH)))
    raw = mail(("convocation.pdf", scanned_pdf([page]), "application/pdf"), body="Voir PJ.")
    view = OcrReader(engine).read_view(scanner.view(raw))
    (text,) = view.image_texts
    assert text.name == "convocation.pdf page 1" and "Convocation" in text.text


def test_images_in_a_zip_are_read(engine: Engine, scanner: Scanner) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("Vorladung.png", letter(GERMAN, "PNG"))
    raw = mail(("akte.zip", archive.getvalue(), "application/zip"))
    view = OcrReader(engine).read_view(scanner.view(raw))
    assert "Kinderpornografie" in view.image_texts[0].text
    assert view.image_texts[0].name == "akte.zip/Vorladung.png"


# --- hostile inputs, each within the budget ------------------------------------------


def test_a_pixel_bomb_and_a_truncated_jpeg_are_notes(engine: Engine, scanner: Scanner) -> None:
    jpeg = letter(GERMAN)
    raw = mail(
        ("bomb.png", png_header_only(60_000, 60_000), "image/png"),
        ("cut.jpg", jpeg[: len(jpeg) // 3], "image/jpeg"),
    )
    started = time.monotonic()
    verdict = scanner.scan_view(OcrReader(engine).read_view(scanner.view(raw)))
    assert time.monotonic() - started < 5
    notes = "\n".join(verdict.notes)
    # Past twice its own limit Pillow refuses it at open; ours refuses it below that.
    assert "image bomb.png: pixel bomb: refused by the decoder's limit" in notes
    assert "image cut.jpg: truncated: JPEG could not be decoded" in notes


def test_two_hundred_images_stay_within_the_message_budget(
    engine: Engine, scanner: Scanner
) -> None:
    # Distinct letters (no cache help): the view keeps 50, OCR starts at most max_images
    # and none after the budget; the rest are noted "not read" for rules to act on.
    images = [
        (f"p{n}.png", letter([f"Seite {n}", *GERMAN], "PNG", size=(800, 1131)), "image/png")
        for n in range(200)
    ]
    view = scanner.view(mail(*images), deadline=None)
    assert len(view.images) == 200
    assert sum(1 for image in view.images if image.data) == ViewLimits().max_images
    reader = OcrReader(engine, settings=OcrSettings(max_images=10, message_timeout=3.0))
    started = time.monotonic()
    read = reader.read_view(view)
    spent = time.monotonic() - started
    assert spent < 3.0 + engine.image_seconds + 1  # the overrun is one image at most
    recognized = sum(1 for text in read.image_texts if text.recognized)
    assert 1 <= recognized <= 10
    notes = {text.note for text in read.image_texts if text.note}
    assert "not read: over 50 images in the message" in notes
    assert notes & {"not read: too many images", "not read: message budget spent"}
    verdict = scanner.scan_view(read)
    assert sum("not read" in note for note in verdict.notes) == 200 - recognized


def test_a_zip_bomb_of_images_is_refused_unread(engine: Engine, scanner: Scanner) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("big.bmp", b"BM" + bytes(60_000_000))
    raw = mail(("bomb.zip", archive.getvalue(), "application/zip"))
    started = time.monotonic()
    view = OcrReader(engine).read_view(scanner.view(raw))
    assert time.monotonic() - started < 5
    assert view.images == () and any("bomb" in p for p in view.structure.partial)


def test_a_pdf_of_500_scanned_pages_is_read_within_its_budgets(
    engine: Engine, scanner: Scanner
) -> None:
    first = Image.open(io.BytesIO(letter(GERMAN, size=(827, 1169)))).convert("L")
    blank = Image.new("L", (827, 1169), 255)
    data = scanned_pdf([first, *([blank] * 499)])
    raw = mail(("akte.pdf", data, "application/pdf"), body="Siehe Anhang.")
    started = time.monotonic()
    view = scanner.view(raw)
    read = OcrReader(engine).read_view(view)
    spent = time.monotonic() - started
    limits = ViewLimits()
    assert spent < limits.pdf_max_seconds + OcrSettings().message_timeout
    assert 1 <= len(view.images) <= limits.pdf_max_images
    assert view.images[0].name == "akte.pdf page 1"
    assert "Kinderpornografie" in read.image_texts[0].text


def test_ocr_settings_bound_a_view_with_no_time_left(engine: Engine, scanner: Scanner) -> None:
    raw = mail(("a.jpg", letter([*FRENCH, "Dossier 77"]), "image/jpeg"))
    read = OcrReader(engine).read_view(scanner.view(raw), budget_seconds=0.0)
    assert [text.note for text in read.image_texts] == ["not read: message budget spent"]
    verdict = scanner.scan_view(read)
    assert "image a.jpg: not read: message budget spent" in verdict.notes


def test_a_rule_can_act_on_an_unread_image(tmp_path: Path, engine: Engine) -> None:
    rule = tmp_path / "unread.yml"
    rule.write_text(
        """\
- id: TEST_IMAGE_UNREAD
  description: an image was not read
  score: 1
  matchers:
    unread:
      target: image.unread
      regex: ['not read']
  condition: unread
  examples:
    must_match:
      - attachments: [{name: a.jpg, type: image/jpeg, image_note: "not read: timed out"}]
    must_not_match:
      - attachments: [{name: a.jpg, type: image/jpeg, image_text: "Lieber Kunde"}]
""",
        encoding="utf-8",
    )
    scanner = Scanner.from_rule_paths([rule])
    assert check_examples(scanner) == []
    raw = mail(("a.jpg", letter(FRENCH), "image/jpeg"))
    read = OcrReader(engine).read_view(scanner.view(raw), budget_seconds=0.0)
    hits = {hit.id: hit for hit in scanner.scan_view(read).rules}
    assert hits["TEST_IMAGE_UNREAD"].evidence == ("not read",)
    assert "TEST_IMAGE_UNREAD" not in scanner.scan_view(scanner.view(raw)).matched_ids


# --- QR codes and barcodes -----------------------------------------------------------

WALLET = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
SEXTORTION = (
    "I recorded you through your camera while you watched adult videos. "
    "Pay 1300 EUR in Bitcoin within 48 hours or the video goes to all your contacts. "
    "Scan the code to pay."
)


def test_a_wallet_only_in_a_qr_code_reaches_the_detectors(engine: Engine, scanner: Scanner) -> None:
    code = encoded(qr_code(f"bitcoin:{WALLET}?amount=0.05"))  # 164 px: a code alone
    raw = mail(("pay.png", code, "image/png"), body=SEXTORTION, subject="Your account")
    view = scanner.view(raw)
    read = OcrReader(engine).read_view(view)
    (image,) = read.image_texts
    assert image.codes == (f"bitcoin:{WALLET}?amount=0.05",) and not image.recognized
    before = {hit.id: hit for hit in scanner.scan_view(view).rules}
    after = {hit.id: hit for hit in scanner.scan_view(read).rules}
    found = [q for hit in after.values() for q in hit.evidence if WALLET in q]
    assert found and all("[code in image pay.png]" in q for q in found)
    assert not any(WALLET in q for hit in before.values() for q in hit.evidence)
    assert sum(h.score for h in after.values()) > sum(h.score for h in before.values())


def test_a_link_in_a_code_on_a_letter_is_a_url(engine: Engine, scanner: Scanner) -> None:
    page = Image.open(io.BytesIO(letter(FRENCH))).convert("L")
    page.paste(qr_code("https://amendes-paiement.example/dossier?id=7", scale=5), (1100, 1700))
    raw = mail(("convocation.jpg", encoded(page, "JPEG"), "image/jpeg"), body="PJ")
    read = OcrReader(engine).read_view(scanner.view(raw))
    targets = MessageTargets(read)
    assert "https://amendes-paiement.example/dossier?id=7" in targets.raw("url")
    assert "Convocation" in read.image_texts[0].text  # the letter is read as well
    # A second copy answers its codes from the cache, without the engine.
    reader = OcrReader(engine)
    first = reader.read_view(scanner.view(raw))
    calls = engine.calls
    second = reader.read_view(scanner.view(raw))
    assert engine.calls == calls and second.image_texts[0].cached
    assert second.image_texts[0].codes == first.image_texts[0].codes != ()


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "WEBP", "BMP"])
def test_every_format_of_the_issue_is_read(engine: Engine, scanner: Scanner, fmt: str) -> None:
    page = Image.open(io.BytesIO(letter(GERMAN))).convert("L")
    name = f"Vorladung.{fmt.lower()}"
    raw = mail((name, encoded(page, fmt), f"image/{fmt.lower()}"))
    (text,) = OcrReader(engine).read_view(scanner.view(raw)).image_texts
    assert text.name == name and "Kinderpornografie" in text.text


def test_a_black_and_white_scan_in_a_pdf_is_read(engine: Engine, scanner: Scanner) -> None:
    # Stored CCITT G4-compressed, as scanners store bilevel pages; pypdf hands it over
    # as a TIFF. (The greyscale and colour case, a JPEG, is the 500-page test's.)
    page = Image.open(io.BytesIO(letter(FRENCH))).convert("1")
    raw = mail(("scan.pdf", scanned_pdf([page]), "application/pdf"), body="PJ")
    (text,) = OcrReader(engine).read_view(scanner.view(raw)).image_texts
    assert "Convocation" in text.text


def test_every_quote_from_an_image_names_it(engine: Engine, scanner: Scanner) -> None:
    # Detectors that quote what they found (a claimed authority) name the image too.
    raw = mail(("IMG_0031.jpg", letter(GERMAN), "image/jpeg"))
    verdict = scanner.scan_view(OcrReader(engine).read_view(scanner.view(raw)))
    quotes = [q for hit in verdict.rules for q in hit.evidence]
    assert any(q.upper().startswith("BUNDESKRIMINALAMT") for q in quotes)
    for quote in quotes:
        if quote.upper().startswith("BUNDESKRIMINALAMT") or "Kinderporno" in quote:
            assert quote.endswith("[image IMG_0031.jpg]"), quote

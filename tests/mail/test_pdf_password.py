"""Encrypted PDF attachments (issue 12): opened with the empty password or a password
written in the message; one that nothing opens makes the verdict partial."""

from __future__ import annotations

import io
from email.message import EmailMessage
from email.policy import SMTP

from pypdf import PdfReader, PdfWriter

from milter.config import shipped_rules_dir
from milter.mail.pdf import read_pdf
from milter.mail.view import parse_message
from milter.scan.rules.examples import make_pdf
from milter.scan.scanner import Scanner
from milter.scan.verdict import Action

ACCUSATION = (
    "FEDERALE POLITIE - Convocatie",
    "U wordt beschuldigd van het bekijken van kinderpornografie.",
    "Antwoord binnen 72 uur om vervolging te vermijden.",
)


def encrypted(user_password: str, owner_password: str = "owner-secret") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("\n".join(ACCUSATION)))))
    writer.encrypt(user_password=user_password, owner_password=owner_password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def message(body: str, pdf: bytes) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Federale Politie <convocatie@mail-politie.example>"
    mail["To"] = "victim@example.net"
    mail["Subject"] = "Convocatie"
    mail.set_content(body)
    mail.add_attachment(pdf, maintype="application", subtype="pdf", filename="convocatie.pdf")
    return mail.as_bytes(policy=SMTP)


def test_a_pdf_that_only_restricts_printing_is_read() -> None:
    assert "kinderpornografie" in read_pdf(encrypted("")).text.lower()


def test_the_password_from_the_message_opens_it() -> None:
    pdf = encrypted("4711")
    locked = read_pdf(pdf)
    assert (locked.text, locked.stopped) == ("", "encrypted")
    assert "no password" in locked.partial
    assert "kinderpornografie" in read_pdf(pdf, passwords=lambda: (b"1234", b"4711")).text.lower()


def test_in_a_message_the_password_in_the_body_is_used() -> None:
    pdf = encrypted("4711")
    opened = parse_message(message("Zie bijlage. Wachtwoord: 4711", pdf))
    assert any("kinderpornografie" in a.text.lower() for a in opened.attachments)
    assert not opened.structure.partial
    locked = parse_message(message("Zie bijlage.", pdf))
    assert any("encrypted" in reason for reason in locked.structure.partial)


def test_a_locked_pdf_is_never_accepted_and_an_opened_one_is_judged() -> None:
    scanner = Scanner.from_rule_paths([shipped_rules_dir()])
    pdf = encrypted("4711")
    assert scanner.scan(message("Zie bijlage.", pdf)).action is not Action.ACCEPT
    opened = scanner.scan(message("Zie bijlage. Wachtwoord: 4711", pdf))
    plain = scanner.scan(message("Zie bijlage. Wachtwoord: 4711", make_pdf("\n".join(ACCUSATION))))
    assert not opened.partial
    # Judged on the letter's text exactly as if it had not been protected.
    assert (opened.action, opened.score, opened.matched_ids) == (
        plain.action,
        plain.score,
        plain.matched_ids,
    )
    assert opened.score > 0

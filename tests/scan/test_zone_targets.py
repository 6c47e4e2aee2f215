"""Zone targets (issue 13): the sender's own words apart from what the message quotes,
forwards or carries as an attached message, and from its footers."""

from __future__ import annotations

from email.message import EmailMessage

from milter.mail.envelope import Envelope
from milter.mail.view import parse_message
from milter.scan.targets import MessageTargets

SCAM = "I recorded you with your webcam. Pay 1300 EUR in bitcoin within 48 hours."


def targets(raw: bytes) -> MessageTargets:
    return MessageTargets(parse_message(raw, Envelope()))


def test_a_forward_as_attachment_is_quoted_text_only() -> None:
    scam = EmailMessage()
    scam["From"] = "x@example.net"
    scam["Subject"] = "Your device"
    scam.set_content(SCAM)
    ticket = EmailMessage()
    ticket["From"] = "jan@company.example"
    ticket["Subject"] = "Fwd: Your device"
    ticket.set_content("Is this real? I did not pay.\n\n-- \nJan, Sales")
    ticket.add_attachment(scam)  # message/rfc822
    found = targets(ticket.as_bytes())
    assert [t.strip() for t in found.raw("author_text")] == ["Is this real? I did not pay."]
    assert [t.strip() for t in found.raw("footer")] == ["-- \nJan, Sales"]
    assert any(SCAM in text for text in found.raw("quoted_text"))
    assert not any(SCAM in text for text in found.raw("author_text"))
    assert any(SCAM in text for text in found.raw("body"))  # body still has it all


def test_an_inline_forward_and_html_are_split_too() -> None:
    message = EmailMessage()
    message["From"] = "jan@company.example"
    message["Subject"] = "FW: summons"
    message.set_content(f"Please check.\n\n-----Original Message-----\nFrom: x\n\n{SCAM}")
    message.add_alternative(
        f"<p>Please check.</p><p>-----Original Message-----</p><p>{SCAM}</p>",
        subtype="html",
    )
    found = targets(message.as_bytes())
    assert [t.strip() for t in found.raw("author_text")] == ["Please check."] * 2
    assert len(found.raw("quoted_text")) == 2
    assert all(SCAM in text for text in found.raw("quoted_text"))


def test_a_scam_written_by_its_sender_is_author_text() -> None:
    message = EmailMessage()
    message["From"] = "x@example.net"
    message.set_content(f"{SCAM}\n\nNo virus, phishing or fraud detected.")
    found = targets(message.as_bytes())
    assert [t.strip() for t in found.raw("author_text")] == [SCAM]
    assert [t.strip() for t in found.raw("footer")] == ["No virus, phishing or fraud detected."]
    assert found.raw("quoted_text") == ()


def test_html_quote_containers_are_quoted_text() -> None:
    message = EmailMessage()
    message["From"] = "jan@company.example"
    message["Subject"] = "Re: your device"
    message.set_content(
        "<div>Don't worry, this is spam.</div>"
        '<div class="gmail_quote"><div>On Mon, X wrote:</div>'
        f"<blockquote>{SCAM}</blockquote></div>",
        subtype="html",
    )
    found = targets(message.as_bytes())
    assert [t.strip() for t in found.raw("author_text")] == ["Don't worry, this is spam."]
    assert any(SCAM in text for text in found.raw("quoted_text"))
    # What the message shows is unchanged: rules on body see it all.
    assert any(SCAM in text and "spam" in text for text in found.raw("body"))

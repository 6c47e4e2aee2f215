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


def test_the_zones_are_built_only_when_a_filter_needs_them(monkeypatch) -> None:
    # author_text only serves filters ("and not filter_warning"): ordinary mail never
    # reaches them, and must not pay for cutting its texts into zones.
    from milter.config import shipped_rules_dir
    from milter.scan import targets
    from milter.scan.scanner import Scanner
    from milter.scan.verdict import Action
    from tests.scan.test_forwards import SCAM as HELD_SCAM

    scanner = Scanner.from_rule_paths([shipped_rules_dir()])
    calls: list[str] = []
    real = targets.split_zones
    monkeypatch.setattr(targets, "split_zones", lambda text: calls.append(text) or real(text))
    ham = EmailMessage()
    ham["From"] = "alice@example.org"
    ham["Subject"] = "Lunch"
    ham.set_content("Shall we meet at noon?\n\nOn Monday, Bob wrote:\n> Lunch?")
    scanner.scan(ham.as_bytes())
    assert calls == []
    scam = EmailMessage()
    scam["From"] = "x@example.net"
    scam["Subject"] = "Your device"
    scam.set_content(HELD_SCAM + "\n\nNo virus, phishing or fraud detected.")
    assert scanner.scan(scam.as_bytes()).action is Action.REJECT and calls

"""Mail that forwards or quotes a scam (issue 13, scan/forwards.py): held when the scam is
the sender's own words, tagged when it is only quoted or forwarded by a colleague
(internal domain, DMARC pass) or under a clear forwarding frame."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from milter.auth.dmarc import dmarc_result
from milter.auth.results import AuthResults
from milter.config import shipped_rules_dir
from milter.scan.forwards import QUOTED_SCAM_RULE
from milter.scan.scanner import Scanner, ScanSettings
from milter.scan.verdict import Action

SCAM = (
    "Hello! I hacked your device and installed a trojan. I recorded a video of you while "
    "you were watching porn on adult websites and masturbating. Transfer 1300 USD in "
    "bitcoin to my BTC wallet: 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa within 48 hours, or I "
    "will send the video to all your contacts. The timer started when you opened this email."
)
HELD = (Action.QUARANTINE, Action.REJECT)


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    settings = ScanSettings(internal_domains=("company.example",))
    return Scanner.from_rule_paths([shipped_rules_dir()], settings)


def auth(domain: str, dmarc: str) -> AuthResults:
    passed = dmarc == "pass"
    return AuthResults(
        spf=None,
        dkim=(),
        dmarc=dmarc_result(
            dmarc, domain, spf_aligned=passed, aligned_dkim_domain=domain if passed else None
        ),
        from_domain=domain,
    )


def message(sender: str, body: str, subject: str = "Fwd: Your device") -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "helpdesk@company.example"
    mail["Subject"] = subject
    mail.set_content(body)
    return mail.as_bytes()


def test_the_scam_itself_is_held(scanner: Scanner) -> None:
    verdict = scanner.scan(message("x@example.net", SCAM, "Your device"))
    assert verdict.action in HELD


@pytest.mark.parametrize(
    "frame",
    [
        "---------- Forwarded message ---------\nFrom: x@example.net\nSubject: hi\n\n",
        "-----Original Message-----\nFrom: x@example.net\nSent: Monday\n\n",
        "Van: x@example.net\nVerzonden: maandag\nOnderwerp: hi\n\n",
    ],
)
def test_a_colleague_forwarding_it_to_it_is_tagged(scanner: Scanner, frame: str) -> None:
    raw = message("jan@company.example", f"Is this real? I did not pay.\n\n{frame}{SCAM}")
    verdict = scanner.scan(raw, auth=auth("company.example", "pass"))
    assert verdict.action is Action.TAG
    assert verdict.rules[-1].id == QUOTED_SCAM_RULE
    assert verdict.score >= 10  # the score still says what the quote is


def test_a_forward_as_attachment_with_its_text_is_tagged(scanner: Scanner) -> None:
    scam = EmailMessage()
    scam["From"] = "x@example.net"
    scam["Subject"] = "Your device"
    scam.set_content(SCAM)
    ticket = EmailMessage()
    ticket["From"] = "An Outsider <someone@gmail.example>"
    ticket["Subject"] = "Fwd: Your device"
    ticket.set_content("Dear helpdesk, I received this, what should I do?")
    ticket.add_attachment(scam)
    verdict = scanner.scan(ticket.as_bytes(), auth=auth("gmail.example", "pass"))
    assert verdict.action is Action.TAG


def test_a_reply_with_only_quote_lines_from_outside_is_held(scanner: Scanner) -> None:
    # "> " lines alone are no forwarding frame: a scam can quote itself to look replied.
    quoted = "\n".join(f"> {line}" for line in SCAM.split(". "))
    raw = message("x@example.net", f"Read this.\n\n{quoted}", "Re: your device")
    assert scanner.scan(raw, auth=auth("example.net", "none")).action in HELD


def test_a_fake_frame_from_a_domain_failing_dmarc_is_held(scanner: Scanner) -> None:
    raw = message("boss@company.example", f"FYI\n\n-----Original Message-----\n{SCAM}")
    assert scanner.scan(raw, auth=auth("company.example", "fail")).action in HELD


def test_the_scam_in_the_senders_own_words_stays_held(scanner: Scanner) -> None:
    raw = message(
        "jan@company.example",
        f"{SCAM}\n\n-----Original Message-----\nFrom: someone\nSent: Monday\n\nhello",
    )
    assert scanner.scan(raw, auth=auth("company.example", "pass")).action in HELD


def test_internal_domains_in_the_config(tmp_path) -> None:
    from milter.config import load_config
    from milter.errors import ConfigError

    config = tmp_path / "config.yml"
    config.write_text("internal_domains: [Company.Example., sub.other.example]\n")
    assert load_config(config).scan.internal_domains == ("company.example", "sub.other.example")
    config.write_text("internal_domains: [not a domain]\n")
    with pytest.raises(ConfigError, match="internal_domains must be a list of domain names"):
        load_config(config)


def test_a_scam_dressed_as_a_forward_with_no_comment_is_held(scanner: Scanner) -> None:
    frame = "________________________________\nDe: Director\nEnviado: domingo\nAssunto: hi\n\n"
    raw = message("x@example.net", frame + SCAM, "Fw: your device")
    assert scanner.scan(raw, auth=auth("example.net", "pass")).action in HELD
    # From a colleague (DMARC-aligned), a forward needs no comment.
    raw = message("jan@company.example", frame + SCAM, "Fw: your device")
    assert scanner.scan(raw, auth=auth("company.example", "pass")).action is Action.TAG

"""The warning filters (__SEXTORT_WARNING, __GOV_WARNING) hear a warning's voice, not its
words (issue 13): a scam that calls itself "no scam, no phishing" stays held, while a
warning that names the scam and tells the reader not to pay, or warns against it, is a
warning."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

import milter.config
from milter.mail.envelope import Envelope
from milter.scan.scanner import Scanner
from milter.scan.verdict import Action

SCAMS = Path(__file__).resolve().parents[1] / "messages" / "scam"
HELD = (Action.QUARANTINE, Action.REJECT)


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner.from_rule_paths([milter.config.shipped_rules_dir()])


def with_line(path: Path, line: str) -> bytes:
    """The test scam with ``line`` added to the top of its text parts, as its own words."""
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.is_attachment():
            part.set_content(line + "\n\n" + part.get_content())
            return message.as_bytes()
    raise AssertionError(f"{path.name} has no text part")


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("govspoof_de_strafverfahren.eml", "Dies ist kein Betrug und kein Phishing."),
        ("govspoof_fr_convoque_poursuites.eml", "Ceci n'est pas une arnaque ni du phishing."),
        ("govspoof_nl_dagvaarding_fod_justitie.eml", "Dit is geen oplichting, geen phishing."),
    ],
)
def test_a_summons_that_denies_being_a_scam_loses_nothing(
    scanner: Scanner, name: str, line: str
) -> None:
    # With two naming words as the test (before), these lost their accusation rules:
    # the first two fell from reject to quarantine.
    plain = scanner.scan((SCAMS / name).read_bytes(), Envelope())
    denied = scanner.scan(with_line(SCAMS / name, line), Envelope())
    assert plain.action in HELD
    assert denied.score >= plain.score, denied
    assert denied.action == plain.action


def test_a_warning_that_quotes_a_summons_is_not_held(scanner: Scanner) -> None:
    body = (
        "Politie waarschuwt voor valse dagvaardingen: dit is oplichting. Betaal niet.\n\n"
        + (SCAMS / "govspoof_nl_dagvaarding_fod_justitie.eml")
        .read_text(encoding="utf-8", errors="replace")
        .split("\n\n", 1)[1]
    )
    raw = (
        "From: Nieuwsbrief <nieuws@krant.example>\nTo: an@example.be\n"
        "Subject: Let op: valse dagvaardingen\nContent-Type: text/plain; charset=utf-8\n\n" + body
    ).encode()
    assert scanner.scan(raw, Envelope()).action not in HELD

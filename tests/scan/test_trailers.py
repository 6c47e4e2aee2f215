"""Properties of the shipped rules under what mail adds to a scam (issue 13):

- a trailer (antivirus footers, "no fraud detected", disclaimers, unsubscribe lines, a
  quoted reply, "Sent from my iPhone") appended to any held must-match example never
  lowers it below quarantine;
- the same scam forwarded by a colleague (an internal domain, DMARC-aligned) under a
  comment is never held.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from milter.auth.dmarc import dmarc_result
from milter.auth.results import AuthResults
from milter.config import shipped_rules_dir
from milter.scan.rules.examples import build_example, example_auth
from milter.scan.scanner import Scanner, ScanSettings
from milter.scan.verdict import Action

TRAILERS = [
    "No virus, phishing or fraud detected.",
    "-- \nThis email has been checked for viruses by Avast antivirus software.\nwww.avast.com",
    "This e-mail and any attachments are confidential and intended solely for the "
    "addressee. If you are not the intended recipient, please notify the sender.",
    "To unsubscribe from this list, click here. Do not reply to this message.",
    "On Mon, 3 Mar 2025 at 10:00, Support <support@example.org> wrote:\n"
    "> Please do not pay scammers. Report fraud to the police, it is a scam.",
    "Sent from my iPhone",
    "Deze e-mail is vertrouwelijk. Geen virus gevonden. Dit is geen oplichting.",
    "Ce message a été analysé par un antivirus : aucun virus, aucune arnaque détectée.",
]
HELD = (Action.QUARANTINE, Action.REJECT)
SCANNER = Scanner.from_rule_paths(
    [shipped_rules_dir()], ScanSettings(internal_domains=("company.example",))
)


def _held_examples() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for rule in SCANNER.rules:
        for example in rule.must_match:
            if "body" not in example or "raw" in example or "html" in example:
                continue
            raw, envelope = build_example(example)
            if SCANNER.scan(raw, envelope, example_auth(example)).action in HELD:
                found.append((rule.id, dict(example)))
    return found


HELD_EXAMPLES = _held_examples()


def test_there_are_held_examples_to_try() -> None:
    assert len(HELD_EXAMPLES) >= 20


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(HELD_EXAMPLES),
    st.lists(st.sampled_from(TRAILERS), min_size=1, max_size=3),
)
def test_a_trailer_never_lowers_a_held_scam(
    case: tuple[str, dict[str, Any]], trailers: list[str]
) -> None:
    rule_id, example = case
    example = dict(example, body=str(example["body"]) + "\n\n" + "\n\n".join(trailers))
    raw, envelope = build_example(example)
    verdict = SCANNER.scan(raw, envelope, example_auth(example))
    assert verdict.action in HELD, (rule_id, trailers, verdict.rules)


def _colleague() -> AuthResults:
    domain = "company.example"
    dmarc = dmarc_result("pass", domain, spf_aligned=True, aligned_dkim_domain=domain)
    return AuthResults(spf=None, dkim=(), dmarc=dmarc, from_domain=domain)


@pytest.mark.parametrize(
    "frame",
    [
        "---------- Forwarded message ---------\nFrom: {sender}\nSubject: {subject}\n\n",
        "-----Original Message-----\nFrom: {sender}\nSent: Monday\nSubject: {subject}\n\n",
        "Van: {sender}\nVerzonden: maandag 3 maart 2025\nOnderwerp: {subject}\n\n",
    ],
)
def test_a_colleagues_forward_of_a_scam_is_never_held(frame: str) -> None:
    for rule_id, example in HELD_EXAMPLES:
        subject = str(example.get("subject", ""))
        body = (
            "Hi IT, I got this today. Is it real? I did not pay anything.\n\n"
            + frame.format(sender=example.get("from", "x@example.net"), subject=subject)
            + str(example["body"])
        )
        wrapped = {"from": "Jan <jan@company.example>", "subject": f"Fwd: {subject}", "body": body}
        raw, envelope = build_example(wrapped)
        verdict = SCANNER.scan(raw, envelope, _colleague())
        assert verdict.action not in HELD, (rule_id, verdict.rules)

"""The scanner end to end on small rule sets: scores add up, thresholds and forced actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from milter.mail.envelope import Envelope
from milter.scan.rules.examples import build_example
from milter.scan.scanner import Scanner, ScanSettings
from milter.scan.verdict import Action, Thresholds

RULES = """\
- id: __HAS_WEBCAM
  description: building block
  score: 0
  matchers:
    cam:
      target: text
      phrases: [webcam]
  condition: cam
  examples:
    must_match: [{body: my webcam}]
    must_not_match: [{body: my camera}]
- id: WEBCAM_AND_BITCOIN
  description: scored meta rule
  score: 6
  tags: [sextortion]
  matchers:
    cam:
      rule: __HAS_WEBCAM
    pay:
      target: body
      phrases: [bitcoin]
  condition: cam and pay
  examples:
    must_match: [{subject: webcam, body: pay bitcoin}]
    must_not_match: [{body: pay bitcoin}]
- id: MENTIONS_RANSOM
  description: plain rule
  score: 5
  matchers:
    ransom:
      target: body
      regex: '\\bransom\\b'
  condition: ransom
  examples:
    must_match: [{body: a ransom}]
    must_not_match: [{body: random}]
- id: NEGATIVE_NEWSLETTER
  description: lowers the score of newsletters
  score: -3
  matchers:
    unsubscribe:
      target: body
      phrases: [unsubscribe]
  condition: unsubscribe
  examples:
    must_match: [{body: unsubscribe here}]
    must_not_match: [{body: hello}]
- id: FORCE_PDF_SUMMONS
  description: forces quarantine whatever the score
  score: 1
  action: quarantine
  matchers:
    summons:
      target: attachment.name
      regex: 'summons.*\\.pdf$'
    filter_gov:
      target: from.domain
      regex: '\\.gov$'
  condition: summons and not filter_gov
  examples:
    must_match: [{attachments: [{name: Summons.pdf, type: application/pdf, text: court}]}]
    must_not_match:
      - from: Court <clerk@court.example.gov>
        attachments: [{name: summons.pdf, type: application/pdf}]
"""


@pytest.fixture(scope="module")
def scanner(tmp_path_factory: pytest.TempPathFactory) -> Scanner:
    path = tmp_path_factory.mktemp("rules") / "rules.yml"
    path.write_text(RULES, encoding="utf-8")
    return Scanner.from_rule_paths([path])


def scan(scanner: Scanner, **example: object):
    raw, envelope = build_example(example)
    return scanner.scan(raw, envelope)


@pytest.mark.parametrize(
    ("example", "action", "score", "ids"),
    [
        ({"body": "hello"}, Action.ACCEPT, 0, []),
        ({"body": "webcam"}, Action.ACCEPT, 0, []),  # building blocks add nothing
        ({"body": "webcam and bitcoin"}, Action.TAG, 6, ["WEBCAM_AND_BITCOIN"]),
        (
            {"body": "webcam, bitcoin, ransom"},
            Action.QUARANTINE,
            11,
            ["WEBCAM_AND_BITCOIN", "MENTIONS_RANSOM"],
        ),
        (
            {"body": "webcam, bitcoin, ransom. unsubscribe"},
            Action.TAG,
            8,
            ["WEBCAM_AND_BITCOIN", "MENTIONS_RANSOM", "NEGATIVE_NEWSLETTER"],
        ),
        (
            {
                "body": "see attached",
                "attachments": [{"name": "SUMMONS-2026.pdf", "type": "application/pdf"}],
            },
            Action.QUARANTINE,
            1,
            ["FORCE_PDF_SUMMONS"],
        ),
    ],
)
def test_verdicts(
    scanner: Scanner, example: dict, action: Action, score: float, ids: list[str]
) -> None:
    verdict = scan(scanner, **example)
    assert verdict.action is action
    assert verdict.score == score
    assert [hit.id for hit in verdict.rules] == ids  # highest score first


def test_building_blocks_are_matched_but_not_reported(scanner: Scanner) -> None:
    verdict = scan(scanner, body="webcam and bitcoin")
    assert "__HAS_WEBCAM" in verdict.matched_ids
    assert all(not hit.id.startswith("__") for hit in verdict.rules)
    (hit,) = verdict.rules
    assert hit.tags == ("sextortion",)
    assert set(hit.evidence) == {"webcam", "bitcoin"}


def test_thresholds_come_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(RULES, encoding="utf-8")
    strict = Scanner.from_rule_paths([path], ScanSettings(thresholds=Thresholds(2, 4, 6)))
    raw, _ = build_example({"body": "webcam and bitcoin"})
    assert strict.scan(raw).action is Action.REJECT


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="tag <= quarantine <= reject"):
        Thresholds(tag=10, quarantine=5, reject=15)


def test_recipient_known_from_envelope(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(
        RULES
        + """\
- id: QUOTES_RECIPIENT
  description: the recipient's own address in the text
  score: 2
  matchers:
    own:
      target: [subject, body]
      detector: recipient_address
  condition: own
  examples:
    must_match: [{body: "hello jan.peeters@example.be", envelope_rcpt: [jan.peeters@example.be]}]
    must_not_match: [{body: hello, envelope_rcpt: [jan.peeters@example.be]}]
""",
        encoding="utf-8",
    )
    scanner = Scanner.from_rule_paths([path])
    raw, _ = build_example({"to": "undisclosed-recipients:;", "subject": "jan.peeters@example.be"})
    assert scanner.scan(raw, Envelope(rcpt_to=("Jan.Peeters@example.be",))).score == 2
    assert scanner.scan(raw, Envelope(rcpt_to=("someone@example.be",))).score == 0


def test_example_auth_belongs_to_the_example_from_domain() -> None:
    from milter.scan.rules.examples import example_auth

    assert example_auth({"body": "x"}) is None
    stated = example_auth(
        {"from": "A <a@police.be>", "auth": {"spf": "fail", "dkim": ["pass", "fail"]}}
    )
    assert (stated.spf.result, stated.spf.domain) == ("fail", "police.be")
    assert [d.result for d in stated.dkim] == ["pass", "fail"] and stated.dmarc is None
    raw = example_auth(
        {"raw": "From: X <x@just.fgov.be>\nSubject: s\n\nbody\n", "auth": {"dmarc": "pass"}}
    )
    assert (raw.dmarc.result, raw.dmarc.domain, raw.dmarc.dkim_aligned) == (
        "pass",
        "just.fgov.be",
        True,
    )

"""The end-of-message answer of the milter (milter/milterproto/edits.py): forged fields of
ours removed by occurrence, last first; our Authentication-Results on top; a tag's
fields and Subject prefix; a reject's 5xx; values with their leading space."""

from __future__ import annotations

from milter.mail.headers import HeaderNames
from milter.milterproto import packets as p
from milter.milterproto.edits import REJECT_TEXT, end_of_message, removals
from milter.scan.verdict import Action, RuleHit, Verdict

NAMES = HeaderNames()
HEADERS = [
    ("Received", " from a by b"),
    ("Authentication-Results", " mx.example.org; spf=pass"),
    ("X-Scam-Verdict", " accept"),
    ("Subject", " Hello"),
    ("Authentication-Results", " other.example; dkim=pass"),
    ("x-scam-score", " -100"),
    ("Authentication-Results", " (comment) mx.example.org; dmarc=pass"),
]
TAGGED = Verdict(Action.TAG, 6.0, (RuleHit("TEST_TAG", 6.0, ("tagme",)),))


def test_forged_fields_are_removed_by_occurrence_last_first() -> None:
    assert removals(HEADERS, NAMES, "mx.example.org") == [
        p.change_header(3, "Authentication-Results", ""),
        p.change_header(1, "x-scam-score", ""),
        p.change_header(1, "X-Scam-Verdict", ""),
        p.change_header(1, "Authentication-Results", ""),
    ]


def test_accept_adds_our_results_on_top_and_continues() -> None:
    out = end_of_message(
        HEADERS[:1], TAGGED, Action.ACCEPT, NAMES, "mx.example.org", "mx.example.org; spf=pass"
    )
    assert out == [
        p.insert_header(0, "Authentication-Results", " mx.example.org; spf=pass"),
        p.continue_(),
    ]


def test_tag_adds_the_fields_and_the_subject_prefix() -> None:
    out = end_of_message([("Subject", " Hello")], TAGGED, Action.TAG, NAMES, "mx", None, "[SCAM?] ")
    assert out == [
        p.add_header("X-Scam-Verdict", " tag"),
        p.add_header("X-Scam-Score", " 6"),
        p.add_header("X-Scam-Rules", " TEST_TAG"),
        p.change_header(1, "Subject", " [SCAM?] Hello"),
        p.continue_(),
    ]
    # Already prefixed (a re-scan): not twice; no Subject: one is added.
    again = end_of_message(
        [("Subject", " [SCAM?] Hello")], TAGGED, Action.TAG, NAMES, "mx", None, "[SCAM?] "
    )
    assert p.change_header(1, "Subject", " [SCAM?] [SCAM?] Hello") not in again
    none = end_of_message([], TAGGED, Action.TAG, NAMES, "mx", None, "[SCAM?] ")
    assert p.add_header("Subject", " [SCAM?]") in none


def test_reject_is_one_5xx() -> None:
    out = end_of_message(HEADERS, TAGGED, Action.REJECT, NAMES, "mx", None)
    assert out == [p.reply_code(550, REJECT_TEXT)]

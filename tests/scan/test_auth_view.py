"""The authentication results keep the shape the scanner reads (milter/scan/auth_view.py),
so the pure scanner needs no import of milter.auth and the types still meet."""

from __future__ import annotations

from milter.auth.dkim import DkimResult
from milter.auth.results import AuthResults
from milter.auth.spf import SpfResult
from milter.mail.view import parse_message
from milter.scan.auth_view import AuthView
from milter.scan.targets import MessageTargets


def test_auth_results_are_an_auth_view_and_the_rules_read_them() -> None:
    results = AuthResults(
        spf=SpfResult("softfail", "x.example", "a@x.example"),
        dkim=(
            DkimResult("pass", "x.example", "s1"),
            DkimResult("fail", "y.example", "s2"),
        ),
        dmarc=None,
    )
    assert isinstance(results, AuthView)
    assert not isinstance(object(), AuthView)
    targets = MessageTargets(parse_message(b"From: a@x.example\r\n\r\nhello\r\n"), results)
    assert targets.raw("auth.spf") == ("softfail",)
    assert targets.raw("auth.dkim") == ("pass", "fail")
    assert targets.raw("auth.dmarc") == ("none",)  # not checked: no single From domain
    unchecked = MessageTargets(parse_message(b"\r\nhello\r\n"), None)
    assert unchecked.raw("auth.dmarc") == ("unavailable",)

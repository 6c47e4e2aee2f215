"""The Authentication-Results value and JSON, and reading the authserv-id of a header."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from milter.auth.dkim import DkimResult
from milter.auth.dmarc import DmarcResult
from milter.auth.results import AuthResults, authserv_id_of


@dataclass(frozen=True)
class Spf:
    result: str
    domain: str
    identity: str = "mailfrom"
    reason: str = ""


DMARC_PASS = DmarcResult(
    "pass", "example.org", "reject", "example.org", True, True, "example.org", ""
)
FULL = AuthResults(
    spf=Spf("pass", "example.org"),
    dkim=(
        DkimResult("pass", "example.org", "sel", "", "@example.org"),
        DkimResult("fail", "list.example", "k1", "body hash mismatch"),
    ),
    dmarc=DMARC_PASS,
    from_domain="example.org",
    client_ip="192.0.2.7",
    helo="mail.example.org",
)


def test_full_results():
    assert FULL.header_value("mx.example.org") == (
        "mx.example.org; spf=pass smtp.mailfrom=example.org; "
        "dkim=pass header.d=example.org header.s=sel header.i=@example.org; "
        "dkim=fail (body hash mismatch) header.d=list.example header.s=k1; "
        "dmarc=pass (p=reject) header.from=example.org"
    )


def test_partial_results_without_spf_and_without_signatures():
    results = AuthResults(
        spf=None,
        dkim=(),
        dmarc=DmarcResult(
            "fail",
            "police.belgium.eu",
            "reject",
            "belgium.eu",
            False,
            False,
            None,
            "no aligned SPF or DKIM pass",
        ),
        from_domain="police.belgium.eu",
        note="client unknown, SPF not checked",
    )
    assert results.header_value("mx.example.org") == (
        "mx.example.org; dkim=none; "
        "dmarc=fail (p=reject; no aligned SPF or DKIM pass) header.from=police.belgium.eu"
    )


def test_spf_of_the_helo_identity_and_its_reason():
    results = AuthResults(
        spf=Spf("softfail", "mail.example.net", "helo", "192.0.2.7 is not permitted"),
        dkim=(),
        dmarc=None,
    )
    assert results.header_value("mx") == (
        "mx; spf=softfail (192.0.2.7 is not permitted) smtp.helo=mail.example.net; dkim=none"
    )


def test_dmarc_without_a_record():
    dmarc = DmarcResult("none", "example.net", None, None, False, False, None, "no DMARC record")
    results = AuthResults(spf=None, dkim=(), dmarc=dmarc)
    assert results.header_value("mx") == (
        "mx; dkim=none; dmarc=none (no DMARC record) header.from=example.net"
    )


@pytest.mark.parametrize("note", ["", "offline", "DNS disabled"])
def test_nothing_checked(note):
    results = AuthResults(spf=None, dkim=(), dmarc=None, note=note)
    expected = f"mx.example.org; none ({note})" if note else "mx.example.org; none"
    assert results.header_value("mx.example.org") == expected
    assert not results.checked


def test_the_over_limit_summary_has_no_properties():
    results = AuthResults(
        spf=None,
        dkim=(DkimResult("neutral", "", "", "3 more signatures not verified (limit 5)"),),
        dmarc=None,
    )
    assert (
        results.header_value("mx")
        == "mx; dkim=neutral (3 more signatures not verified \\(limit 5\\))"
    )


HOSTILE = [
    "evil.example\r\nX-Scam-Verdict: accept",
    "evil.example; dmarc=pass header.from=police.belgium.eu",
    "evil.example) dkim=pass (",
    'a"b\\c',
    "bücher.example\x00\x1b[31m",
    "x" * 500,
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_domains_and_reasons_cannot_escape(text):
    results = AuthResults(
        spf=Spf("fail", text, reason=text),
        dkim=(DkimResult("fail", text, text, text, text),),
        dmarc=DmarcResult("fail", text, "reject", None, False, False, None, text),
    )
    value = results.header_value("mx.example.org")
    assert "\r" not in value and "\n" not in value
    assert all(" " <= c <= "~" for c in value)
    # Exactly the three results we wrote: no injected "; method=result" outside a
    # comment or quoted-string.
    assert _top_level_semicolons(value) == 3
    assert "dmarc=pass" not in _outside_comments_and_quotes(value)
    assert authserv_id_of(value) == "mx.example.org"
    assert len(value) < 2000


def _outside_comments_and_quotes(value: str) -> str:
    out, depth, quoted, i = [], 0, False, 0
    while i < len(value):
        c = value[i]
        if c == "\\" and (depth or quoted):
            i += 2
            continue
        if quoted:
            quoted = c != '"'
        elif c == '"' and not depth:
            quoted = True
        elif c == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(c)
        i += 1
    return "".join(out)


def _top_level_semicolons(value: str) -> int:
    return _outside_comments_and_quotes(value).count(";")


def test_an_idn_signing_domain_is_written_as_an_a_label():
    results = AuthResults(spf=None, dkim=(DkimResult("pass", "bücher.example", "s"),), dmarc=None)
    assert results.header_value("mx") == "mx; dkim=pass header.d=xn--bcher-kva.example header.s=s"


def test_an_odd_authserv_id_is_quoted():
    results = AuthResults(spf=None, dkim=(), dmarc=None)
    assert results.header_value("mx example;org") == '"mx example;org"; none'


def test_json_with_results():
    data = FULL.to_json()
    json.dumps(data)  # serialisable as is
    assert data["checked"] is True
    assert data["spf"] == {
        "result": "pass",
        "domain": "example.org",
        "identity": "mailfrom",
        "reason": "",
    }
    assert data["dkim"][0] == {
        "result": "pass",
        "domain": "example.org",
        "selector": "sel",
        "identity": "@example.org",
        "reason": "",
    }
    assert data["dmarc"]["result"] == "pass"
    assert data["dmarc"]["policy"] == "reject"
    assert data["dmarc"]["aligned_dkim_domain"] == "example.org"
    assert (data["from_domain"], data["client_ip"], data["helo"]) == (
        "example.org",
        "192.0.2.7",
        "mail.example.org",
    )


def test_json_when_nothing_was_checked():
    data = AuthResults(spf=None, dkim=(), dmarc=None, note="offline").to_json()
    assert data["checked"] is False
    assert data["spf"]["result"] == "unavailable"
    assert data["dmarc"]["result"] == "unavailable"
    assert data["spf"]["reason"] == data["dmarc"]["reason"] == "offline"
    assert data["dkim"] == []
    # The same keys as with results, so scripts need no special case.
    assert data.keys() == FULL.to_json().keys()
    assert data["dmarc"].keys() == FULL.to_json()["dmarc"].keys()
    assert data["spf"].keys() == FULL.to_json()["spf"].keys()


# --- authserv-id of an existing header ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("mx.example.org; spf=pass smtp.mailfrom=example.org", "mx.example.org"),
        (" mx.example.org;spf=pass", "mx.example.org"),
        ("mx.example.org 1; none", "mx.example.org"),  # with an authres-version
        ("mx.example.org; none", "mx.example.org"),
        ("mx.example.org", "mx.example.org"),
        ("(comment) mx.example.org; none", "mx.example.org"),
        ("(nested (comment) \\) here)mx.example.org; none", "mx.example.org"),
        ("\r\n\t(folded)\r\n mx.example.org;\r\n\tdkim=pass", "mx.example.org"),
        ('"mx.example.org"; none', "mx.example.org"),
        ('"mx.ex\\ample.org" ; none', "mx.example.org"),
        ('(c) "MX.Example.ORG"; none', "MX.Example.ORG"),
        ("mx.example.org(comment); none", "mx.example.org"),
        ("", None),
        ("   ", None),
        ("(unclosed comment mx.example.org; none", None),
        ('"unclosed quote; none', None),
        ("; spf=pass", None),
    ],
)
def test_authserv_id_of(value, expected):
    assert authserv_id_of(value) == expected


def test_our_own_header_reads_back_as_our_id():
    assert authserv_id_of(FULL.header_value("mx.example.org")) == "mx.example.org"
    assert authserv_id_of(FULL.header_value("odd id")) == "odd id"


@given(st.text(max_size=300))
def test_authserv_id_of_never_raises(value):
    found = authserv_id_of(value)
    assert found is None or found


@given(
    st.text(max_size=80),
    st.text(max_size=80),
    st.sampled_from(["pass", "fail", "temperror", "Bad result!"]),
)
def test_header_value_is_always_one_printable_line(domain, reason, result):
    results = AuthResults(
        spf=Spf(result, domain, reason=reason),
        dkim=(DkimResult(result, domain, reason, reason, domain),),
        dmarc=DmarcResult(result, domain, None, None, False, False, None, reason),
    )
    value = results.header_value("mx.example.org")
    assert all(" " <= c <= "~" for c in value)
    assert _top_level_semicolons(value) == 3
    assert authserv_id_of(value) == "mx.example.org"

"""The openspf RFC 7208 (and RFC 4408) test suites through our own DNS layer.

Each scenario's zone data is served by a real DNS server on loopback (dnslib) and
answered to ``milter.auth.dns.DnsClient``, which ``check_spf`` hands to pyspf: no lookup
function of pyspf is replaced. The suite files are copied from the openspf project into
tests/peer/spf (see the README there).

Suite conventions a driver must implement (from the files' headers and pyspf's driver):
- ``SPF`` records are also served as ``TXT`` unless the name lists a ``TXT`` entry of its
  own (``TXT: NONE`` meaning "no TXT record"); RFC 7208 dropped type SPF.
- A TXT or SPF value given as a list is one record of several strings.
- ``TIMEOUT`` in a name's list: questions for a type the name holds no record of time out.
- Several results are acceptable when ``result`` is a list; ``explanation`` is the text a
  fail must carry, ``DEFAULT`` meaning the implementation's own default text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import spf
import yaml
from dnslib import AAAA, CNAME, MX, PTR, QTYPE, RR, TXT, A, DNSLabel

from milter.auth.dns import DnsClient, DnsSettings
from milter.auth.spf import check_spf
from tests.helpers.dns_server import DnsZoneServer

# pyspf's own lookup calls the deprecated dns.resolver.query: it must never run.
pytestmark = pytest.mark.filterwarnings("error::DeprecationWarning")

SUITE_DIR = Path(__file__).resolve().parents[1] / "peer" / "spf"
SUITE_FILES = {"rfc7208": "rfc7208-tests.yml", "rfc4408": "rfc4408-tests.yml"}

# A TIMEOUT name must cost little: ~0.3 s per timed-out lookup keeps the suite fast.
DNS_TIMEOUT = 0.3

# Cases where we knowingly differ from the suite, by id. Each is xfail(strict=True), so a
# case that starts passing fails the run and is taken off this list.
KNOWN_DIVERGENCES: dict[str, str] = {
    "rfc7208/initial-processing/null-text": (
        "null.example.com holds a TXT record with no strings next to the SPF record. Such "
        "RDATA is illegal (RFC 1035 3.3.14) and dnspython refuses the whole response "
        "(FormError), so the resolver waits for a valid one until its timeout: temperror "
        "instead of the expected pass. Not a crash (what the case guards against), but "
        "any dnspython-based resolver would see the same."
    ),
}


@dataclass(frozen=True)
class Scenario:
    id: str
    records: tuple[RR, ...]
    partial_timeouts: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    id: str
    scenario: Scenario
    host: str
    mailfrom: str
    helo: str
    results: tuple[str, ...]
    explanation: str | None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _wire(text: str) -> bytes:
    # The suite writes raw bytes as \\xNN escapes in YAML strings ("\\xEF\\xBB\\xBF" is a
    # UTF-8 BOM), so characters below 256 stand for themselves as bytes.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _txt(value: str | list[str]) -> TXT:
    strings = [_wire(value)] if isinstance(value, str) else [_wire(s) for s in value]
    # A character-string holds at most 255 bytes; a longer one in the suite is meant as a
    # record split the way a zone file would split it.
    chunks = [s[i : i + 255] for s in strings for i in range(0, max(len(s), 1), 255)]
    return TXT(chunks if strings else [])


def _records(name: str, entries: list[Any]) -> tuple[list[RR], bool]:
    """The RRs of one suite name, and whether the name has a TIMEOUT."""
    rname = DNSLabel(name.encode("ascii"))
    out: list[RR] = []
    timeout = False
    spf_values: list[Any] = []
    has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
    for entry in entries:
        if entry == "TIMEOUT":
            timeout = True
            continue
        ((rtype, value),) = entry.items()
        if value == "NONE":
            continue
        if rtype == "A":
            out.append(RR(rname, QTYPE.A, rdata=A(value), ttl=300))
        elif rtype == "AAAA":
            out.append(RR(rname, QTYPE.AAAA, rdata=AAAA(value), ttl=300))
        elif rtype == "MX":
            pref, exchange = value
            out.append(RR(rname, QTYPE.MX, rdata=MX(exchange.encode(), pref), ttl=300))
        elif rtype == "PTR":
            out.append(RR(rname, QTYPE.PTR, rdata=PTR(value.encode()), ttl=300))
        elif rtype == "CNAME":
            out.append(RR(rname, QTYPE.CNAME, rdata=CNAME(value.encode()), ttl=300))
        elif rtype == "TXT":
            out.append(RR(rname, QTYPE.TXT, rdata=_txt(value), ttl=300))
        elif rtype == "SPF":
            out.append(RR(rname, QTYPE.SPF, rdata=_txt(value), ttl=300))
            spf_values.append(value)
        else:
            raise ValueError(f"unknown record type {rtype} for {name}")
    if not has_txt:
        out += [RR(rname, QTYPE.TXT, rdata=_txt(v), ttl=300) for v in spf_values]
    return out, timeout


def _load() -> list[Case]:
    cases: list[Case] = []
    for tag, filename in SUITE_FILES.items():
        with (SUITE_DIR / filename).open(encoding="utf-8") as fh:
            documents = list(yaml.safe_load_all(fh))
        for document in documents:
            records: list[RR] = []
            timeouts: list[str] = []
            for name, entries in (document.get("zonedata") or {}).items():
                rrs, timeout = _records(str(name), entries)
                records += rrs
                if timeout:
                    timeouts.append(str(name))
            scenario = Scenario(
                f"{tag}/{_slug(document['description'])}", tuple(records), tuple(timeouts)
            )
            for test_name, test in document["tests"].items():
                result = test["result"]
                cases.append(
                    Case(
                        id=f"{scenario.id}/{test_name}",
                        scenario=scenario,
                        host=str(test["host"]),
                        mailfrom=str(test["mailfrom"] or ""),
                        helo=str(test["helo"] or ""),
                        results=tuple(result) if isinstance(result, list) else (result,),
                        explanation=test.get("explanation"),
                    )
                )
    return cases


CASES = _load()


def _params() -> list[Any]:
    params = []
    for case in CASES:
        marks = []
        if case.id in KNOWN_DIVERGENCES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_DIVERGENCES[case.id]))
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


class _SuiteServer:
    """One DNS server for the module; its zone is swapped when the scenario changes."""

    def __init__(self, server: DnsZoneServer) -> None:
        self.server = server
        self.current: str | None = None

    def serve(self, scenario: Scenario) -> None:
        if scenario.id != self.current:
            self.server.set_zone(
                "", records=scenario.records, partial_timeouts=scenario.partial_timeouts
            )
            self.current = scenario.id


@pytest.fixture(autouse=True)
def _pyspf_lookup_is_never_used(monkeypatch):
    # A tripwire, not a zone: every answer must come through DnsClient.
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"pyspf's own DNSLookup was called: {args}")

    monkeypatch.setattr(spf, "DNSLookup", refuse)


@pytest.fixture(scope="module")
def suite_server():
    with DnsZoneServer() as server:
        yield _SuiteServer(server)


def test_the_suites_are_all_there():
    # Guards against a truncated copy quietly shrinking the suite: 2014.04 and 2009.10.
    assert sum(c.id.startswith("rfc7208/") for c in CASES) == 203
    assert sum(c.id.startswith("rfc4408/") for c in CASES) == 191
    assert not set(KNOWN_DIVERGENCES) - {c.id for c in CASES}


@pytest.mark.parametrize("case", _params())
def test_openspf_suite(case: Case, suite_server: _SuiteServer) -> None:
    suite_server.serve(case.scenario)
    # A fresh client per case: its cache must not carry answers between cases.
    dns = DnsClient(
        DnsSettings(servers=(("127.0.0.1", suite_server.server.port),), timeout=DNS_TIMEOUT)
    )
    got = check_spf(dns, case.host, case.mailfrom, case.helo)
    assert got.result in case.results, f"{got.result} ({got.reason}), expected {case.results}"
    if case.explanation is not None and got.result == "fail":
        expected = spf.EXPLANATIONS["fail"] if case.explanation == "DEFAULT" else case.explanation
        assert got.reason == expected

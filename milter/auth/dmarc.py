"""DMARC (RFC 7489): the From domain's policy and whether SPF or DKIM align with it.

Policy discovery (RFC 7489 6.6.3): the TXT records at ``_dmarc.<From domain>``; when
none of them is a DMARC record, those at ``_dmarc.<organizational domain>``. The
organizational domain is the From domain's registrable part by the Public Suffix List
(both its ICANN and private sections, as OpenDMARC uses it): ``police.belgium.eu`` ->
``belgium.eu``, ``just.fgov.be`` -> ``fgov.be``, ``a.b.example.co.uk`` ->
``example.co.uk``; ``interieur.gouv.fr`` is its own, because ``gouv.fr`` is a public
suffix.

Results (RFC 8601 2.7.2 and RFC 7489 11.2):

    pass       a valid record, and SPF or DKIM passed for a domain aligned with From
    fail       a valid record, and nothing aligned passed
    none       no DMARC record (DMARC does not apply), or several DMARC records where
               one was looked up (RFC 7489 6.6.3 step 5: "DMARC processing is not applied")
    temperror  the record lookup failed (timeout, SERVFAIL); also when the record says
               fail but an aligned DKIM or SPF check itself could not finish for DNS
               reasons: a DNS outage must not look like a forgery of the domain
    permerror  a DMARC record with an invalid or missing p= (or invalid sp=) and no
               valid rua= (6.6.3 step 6; with a valid rua= it counts as p=none), or a
               From domain that is no domain name at all (no lookup is made)

The alignment flags are computed even without a record, so a rule can still ask "did
this mail really come from the domain it shows" of a domain that publishes no policy.

Domains are compared as lower-case A-labels (IDNA via dnspython, the same conversion
the DNS layer uses for its queries): ``bücher.example`` and ``xn--bcher-kva.example`` are
the same domain. Only DNS lookups here; the record parsing and alignment are pure.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from milter.auth.dkim import DkimResult
from milter.auth.dns import DnsClient, DnsTempError
from milter.mail.domains import ascii_domain, public_suffix_list

POLICIES = ("none", "quarantine", "reject")


class SpfLike(Protocol):
    """What DMARC needs of an SPF result (milter.auth.spf.SpfResult has it)."""

    @property
    def result(self) -> str: ...  # pass fail softfail neutral none temperror permerror

    @property
    def domain(self) -> str: ...  # the domain SPF checked

    @property
    def identity(self) -> str: ...  # "mailfrom" or "helo": only mailfrom counts for DMARC


@dataclass(frozen=True)
class DmarcRecord:
    """A parsed ``v=DMARC1`` record (RFC 7489 6.3); unknown tags are ignored."""

    policy: str  # p=: none quarantine reject
    subdomain_policy: str | None = None  # sp=; None: p= applies to subdomains too
    adkim: str = "r"  # r relaxed, s strict
    aspf: str = "r"
    pct: int = 100
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()
    note: str = ""  # what was repaired, e.g. an invalid p= read as none because of rua=


class DmarcRecordError(ValueError):
    """A DMARC record that cannot be used (no valid p= and no valid rua=)."""


@dataclass(frozen=True)
class DmarcResult:
    result: str  # pass fail none temperror permerror
    domain: str  # the RFC5322.From domain (lower-case A-label when it is valid)
    policy: str | None  # the policy that applies (sp= for a subdomain under the org
    #                     domain's record); None without a usable record
    record_domain: str | None  # where the record was found: <from> or <org domain>
    spf_aligned: bool
    dkim_aligned: bool
    aligned_dkim_domain: str | None = None  # the d= of the aligned passing signature
    reason: str = ""  # one line: why not pass, or what was odd
    record: DmarcRecord | None = None


def dmarc_result(
    result: str,
    domain: str,
    *,
    record: DmarcRecord | None = None,
    record_domain: str | None = None,
    spf_aligned: bool = False,
    aligned_dkim_domain: str | None = None,
    reason: str = "",
) -> DmarcResult:
    """The one place a ``DmarcResult`` is built, by keyword. What follows from the other
    fields is derived here, so it cannot disagree with them: ``dkim_aligned`` (an aligned
    passing signature was found) and ``policy`` (the record's sp= when the record is the
    organizational domain's and has one, RFC 7489 6.6.3, else its p=)."""
    policy = None
    if record is not None:
        policy = record.policy
        if record_domain != domain and record.subdomain_policy is not None:
            policy = record.subdomain_policy
    return DmarcResult(
        result=result,
        domain=domain,
        policy=policy,
        record_domain=record_domain,
        spf_aligned=spf_aligned,
        dkim_aligned=aligned_dkim_domain is not None,
        aligned_dkim_domain=aligned_dkim_domain,
        reason=reason,
        record=record,
    )


@functools.lru_cache(maxsize=4096)
def organizational_domain(domain: str) -> str:
    """The organizational domain of ``domain`` (RFC 7489 3.2) by the Public Suffix List,
    as a lower-case A-label. A public suffix itself (``co.uk``) is its own organizational
    domain; text that is no domain name comes back normalised as far as possible."""
    name = ascii_domain(domain)
    if name is None:
        return domain.strip().rstrip(".").lower()
    return public_suffix_list().privatesuffix(name) or name


def aligned(domain: str, from_domain: str, mode: str) -> bool:
    """Identifier alignment (RFC 7489 3.1): ``s`` the same name, ``r`` the same
    organizational domain. Both names normalised here; invalid ones never align."""
    left, right = ascii_domain(domain), ascii_domain(from_domain)
    if left is None or right is None:
        return False
    if left == right:
        return True
    return mode != "s" and organizational_domain(left) == organizational_domain(right)


def check_dmarc(
    from_domain: str,
    spf: SpfLike | None,
    dkim: Sequence[DkimResult],
    dns: DnsClient,
    deadline: float | None = None,
) -> DmarcResult:
    """DMARC for a message whose RFC5322.From domain is ``from_domain``; never raises."""
    name = ascii_domain(from_domain)
    if name is None:
        return dmarc_result(
            "permerror", from_domain.strip(), reason="From domain is not a valid domain name"
        )
    try:
        record, record_domain, problem = _discover(name, dns, deadline)
        lookup_failed = False
    except DnsTempError as exc:
        record, record_domain, problem = None, None, f"DMARC record lookup failed: {exc}"
        lookup_failed = True
    # Without a record, alignment is still reported (relaxed, RFC 7489 3.1's default).
    aspf, adkim = (record.aspf, record.adkim) if record else ("r", "r")
    spf_ok, dkim_domain = _alignment(name, spf, dkim, aspf, adkim)
    if record is None:
        outcome, reason = "none", problem
        if lookup_failed:
            outcome = "temperror"
        elif problem.startswith("invalid"):
            outcome = "permerror"
    elif spf_ok or dkim_domain is not None:
        outcome, reason = "pass", record.note
    else:
        outcome, reason = "fail", "no aligned SPF or DKIM pass"
        pending = _pending(name, spf, dkim, aspf, adkim)
        if pending:
            outcome, reason = "temperror", f"{pending} could not be checked (DNS)"
    return dmarc_result(
        outcome,
        name,
        record_domain=record_domain,
        spf_aligned=spf_ok,
        aligned_dkim_domain=dkim_domain,
        reason=reason,
        record=record,
    )


def _discover(
    name: str, dns: DnsClient, deadline: float | None
) -> tuple[DmarcRecord | None, str | None, str]:
    """(record, where, problem). Raises DnsTempError when a lookup fails."""
    domains = [name]
    org = organizational_domain(name)
    if org != name:
        domains.append(org)
    for domain in domains:
        texts = [
            text
            for text in (
                r.decode("utf-8", "replace") for r in dns.txt(f"_dmarc.{domain}", deadline)
            )
            if _VERSION.match(text)
        ]
        if not texts:
            continue  # RFC 7489 6.6.3 steps 2-3: nothing here, ask the org domain
        if len(texts) > 1:
            return None, domain, f"{len(texts)} DMARC records at _dmarc.{domain}"
        try:
            return parse_dmarc_record(texts[0]), domain, ""
        except DmarcRecordError as exc:
            return None, domain, f"invalid DMARC record at _dmarc.{domain}: {exc}"
    return None, None, "no DMARC record"


_VERSION = re.compile(r"\s*v\s*=\s*DMARC1\s*(?:;|$)", re.IGNORECASE)


def parse_dmarc_record(text: str) -> DmarcRecord:
    """Parse a DMARC record (RFC 7489 6.3, 6.4, 6.6.3 step 6).

    Syntax errors in tags other than p= and sp= fall back to the defaults. An invalid or
    missing p= (or an invalid sp=) makes the record invalid, unless rua= holds a valid
    URI: then it is read as p=none. Raises DmarcRecordError.
    """
    if not _VERSION.match(text):
        raise DmarcRecordError("it does not start with v=DMARC1")
    tags: dict[str, str] = {}
    for part in text.split(";")[1:]:
        tag, equals, value = part.partition("=")
        tag = tag.strip().lower()
        if equals and tag and tag not in tags:  # the first of a repeated tag counts
            tags[tag] = value.strip()
    rua = _uris(tags.get("rua", ""))
    ruf = _uris(tags.get("ruf", ""))
    policy = tags.get("p", "").lower()
    subdomain_policy = tags["sp"].lower() if "sp" in tags else None
    problem = ""
    if policy not in POLICIES:
        problem = f"p={tags['p']} is not a policy" if "p" in tags else "no p="
    elif subdomain_policy is not None and subdomain_policy not in POLICIES:
        problem = f"sp={tags['sp']} is not a policy"
    note = ""
    if problem:
        if not rua:
            raise DmarcRecordError(problem)
        note = f"{problem}, read as p=none because rua= is valid (RFC 7489 6.6.3)"
        policy, subdomain_policy = "none", None
    pct_text = tags.get("pct", "100")
    pct = int(pct_text) if pct_text.isdigit() and int(pct_text) <= 100 else 100
    return DmarcRecord(
        policy=policy,
        subdomain_policy=subdomain_policy,
        adkim=_mode(tags.get("adkim", "r")),
        aspf=_mode(tags.get("aspf", "r")),
        pct=pct,
        rua=rua,
        ruf=ruf,
        note=note,
    )


def _mode(value: str) -> str:
    return "s" if value.strip().lower() == "s" else "r"


_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s,!]+(?:![0-9]+[kmgtKMGT]?)?")


def _uris(value: str) -> tuple[str, ...]:
    """The syntactically valid URIs of a rua=/ruf= list (RFC 7489 6.2, 6.4)."""
    return tuple(uri for uri in (u.strip() for u in value.split(",")) if _URI.fullmatch(uri))


def _alignment(
    from_domain: str, spf: SpfLike | None, dkim: Sequence[DkimResult], aspf: str, adkim: str
) -> tuple[bool, str | None]:
    """(SPF aligned, the d= of an aligned DKIM pass). An exact d= match is preferred."""
    spf_ok = (
        spf is not None
        and spf.result == "pass"
        and spf.identity == "mailfrom"
        and aligned(spf.domain, from_domain, aspf)
    )
    passing = [
        d.domain for d in dkim if d.result == "pass" and aligned(d.domain, from_domain, adkim)
    ]
    passing.sort(key=lambda d: ascii_domain(d) != from_domain)
    return spf_ok, (passing[0].lower() if passing else None)


def _pending(
    from_domain: str, spf: SpfLike | None, dkim: Sequence[DkimResult], aspf: str, adkim: str
) -> str:
    """Which aligned check ended in temperror: it might have passed."""
    for result in dkim:
        if result.result == "temperror" and aligned(result.domain, from_domain, adkim):
            return f"DKIM for {result.domain}"
    if (
        spf is not None
        and spf.result == "temperror"
        and spf.identity == "mailfrom"
        and aligned(spf.domain, from_domain, aspf)
    ):
        return f"SPF for {spf.domain}"
    return ""

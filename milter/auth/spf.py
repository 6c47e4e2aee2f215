"""SPF (RFC 7208) of the client address: pyspf evaluates, our DNS layer answers.

pyspf does the record parsing, macro expansion and the processing limits. Every DNS
question it asks goes through ``query.dns()``, which ``_DnsClientQuery`` overrides to ask
our ``DnsClient`` instead of pyspf's module-level ``DNSLookup`` (dnspython's default
resolver and the deprecated ``dns.resolver.query``). So SPF shares the TTL cache with
DKIM and DMARC, obeys the configured name servers and the caller's deadline, and no
process-wide state is touched: the override lives on one query object per check.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass

import spf

from milter.auth.dns import DnsClient, DnsTempError

log = logging.getLogger(__name__)

# The RFC 7208 result names; pyspf's older names (RFC 4408 drafts) map onto them.
_RESULT_NAMES = {
    "pass": "pass",
    "fail": "fail",
    "softfail": "softfail",
    "neutral": "neutral",
    "none": "none",
    "temperror": "temperror",
    "permerror": "permerror",
    "error": "temperror",
    "unknown": "permerror",
}

# The record types pyspf asks for that our DNS layer serves. Type SPF (99) is only asked
# in pyspf's "harsh" mode (strict=2), which we never use: RFC 7208 3.1 removed it.
_SERVED_TYPES = frozenset({"A", "AAAA", "MX", "PTR", "TXT"})


@dataclass(frozen=True)
class SpfResult:
    result: str  # pass fail softfail neutral none temperror permerror (RFC 7208 2.6)
    domain: str  # the domain checked (MAIL FROM's domain, or HELO when MAIL FROM is empty)
    identity: str  # "mailfrom" or "helo"
    reason: str = ""  # pyspf's explanation / the error, for Authentication-Results comments


def check_spf(
    dns: DnsClient, ip: str, mail_from: str, helo: str, deadline: float | None = None
) -> SpfResult:
    """The SPF result for a client at ``ip`` that said ``helo`` and ``MAIL FROM:<mail_from>``.

    An empty ``mail_from`` (a bounce) checks the HELO identity as postmaster@HELO (RFC 7208
    2.4). ``deadline`` is on ``time.monotonic()``; every lookup is bounded by it and, once it
    has passed, the result is temperror. Never raises: a DNS failure is temperror, a bad
    record permerror, and an address or identity that cannot be checked is none.
    """
    mail_from = mail_from.strip().strip("<>").strip()
    helo = helo.strip().rstrip(".")
    if mail_from:
        identity = "mailfrom"
        # The last "@": a quoted local part may hold one ("a@b"@example.org).
        local, sep, domain = mail_from.rpartition("@")
        if not sep:  # no "@" at all: pyspf takes the whole as the domain, so do we
            local, domain = "", mail_from
    else:
        # A bounce: the HELO identity, as postmaster@HELO (RFC 7208 2.4).
        identity, local, domain = "helo", "", helo
    local = local or "postmaster"  # RFC 7208 4.3
    domain = domain.rstrip(".")

    if not domain:
        return SpfResult("none", "", identity, "no domain to check")
    if domain.startswith("["):
        # An address literal (RFC 5321 4.1.3) is not a domain: nothing to look up (2.3).
        return SpfResult("none", domain, identity, "the identity is an address literal")
    if "." not in domain:
        # RFC 7208 4.3: a single-label name (HELO "OEMCOMPUTER") is not checked.
        return SpfResult("none", domain, identity, "the identity is not a domain name")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        # Postfix sends ADDR=[UNAVAILABLE] when it does not know the client: without an
        # address there is nothing to authorise, which is not the domain's fault (RFC 8601
        # 2.7.2 "none": no checkable identity), so no permerror against it.
        return SpfResult("none", domain, identity, f"no valid client address ({ip!r})")
    if deadline is not None and time.monotonic() >= deadline:
        return SpfResult("temperror", domain, identity, "no time left for the SPF check")

    try:
        query = _DnsClientQuery(dns, deadline, ip, helo, local, domain)
        result, _code, explanation = query.check()
    except Exception as exc:
        # pyspf raising instead of returning (e.g. its internal recursion assertion) is a
        # bug; the record it choked on is the likely cause, so it counts as permerror.
        log.exception("SPF evaluation of %s for %s failed", domain, ip)
        return SpfResult("permerror", domain, identity, f"SPF evaluation failed: {exc}")
    return SpfResult(_RESULT_NAMES.get(result, "permerror"), domain, identity, explanation)


class _DnsClientQuery(spf.query):
    """A pyspf query whose every DNS lookup is asked of a ``DnsClient``."""

    def __init__(
        self,
        client: DnsClient,
        deadline: float | None,
        ip: str,
        helo: str,
        local: str,
        domain: str,
    ) -> None:
        # querytime=0: pyspf's own overall timer stays off, our deadline bounds the check.
        super().__init__(i=ip, s=f"{local}@{domain}", h=helo, strict=True, querytime=0)
        # pyspf splits the sender at its first "@"; keep our split (at the last "@") for
        # the macro variables l, o and d, so the domain checked is the one we report.
        self.l, self.o, self.d = local, domain, domain
        self._client = client
        self._deadline = deadline

    def _raise_if_out_of_time(self, what: str = "") -> None:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise spf.TempError(f"{what}no time left for the SPF check")

    def validated_ptrs(self) -> list[str]:
        """The client's PTR names whose own addresses include the client (RFC 7208 5.5).

        pyspf lets a DNS error in any of these lookups end the whole check as temperror;
        5.5 says otherwise: an error on the PTR lookup means no match, and an error on one
        name's address lookup skips that name. (A CNAME loop behind a PTR name is such an
        error: our resolver reports it, where pyspf's own lookup returned nothing.)
        Running out of our own time is not such an error: it stays a temperror, or a
        "ptr -all" record would fail every client once the deadline hits.
        """
        try:
            names = self.dns_ptr(self.i)
        except spf.TempError:
            self._raise_if_out_of_time()
            return []
        validated = []
        for name in names[: spf.MAX_PTR]:  # at most 10 names are looked up (4.6.4)
            try:
                addresses = self.dns_a(name, self.A)
            except spf.TempError:
                self._raise_if_out_of_time()
                continue
            if self.cidrmatch(addresses, self.cidrmax):
                validated.append(name)
        return validated

    def dns(
        self,
        name: str,
        qtype: str,
        cnames: dict[str, str] | None = None,
        ignore_void: bool = False,
    ) -> list[object]:
        """The records of ``name``/``qtype`` as pyspf expects them.

        A/AAAA -> address text, MX -> (preference, exchange), PTR -> name, TXT -> tuple of
        the record's strings (pyspf joins them). CNAMEs are followed by the resolver, so
        ``cnames`` (pyspf's own chain bookkeeping) is unused.
        """
        name = str(name).rstrip(".").lower()
        labels = name.split(".")
        if not name or any(not 0 < len(label) < 64 for label in labels):
            # No such name can exist in the DNS, so nothing is asked and, as in pyspf, it
            # is not counted as a void lookup (RFC 7208 4.3: malformed domain -> none).
            return []
        if qtype not in _SERVED_TYPES:
            return []
        self._raise_if_out_of_time(f"DNS {qtype} {name}: ")
        try:
            answer = self._client.query(name, qtype, deadline=self._deadline)
        except DnsTempError as exc:
            raise spf.TempError(str(exc)) from None
        records = list(answer.records)
        if not records and not ignore_void:
            # RFC 7208 4.6.4: more than two lookups that find nothing (NXDOMAIN or no
            # records of the type) is a permerror; explanation and type-SPF lookups are
            # exempt (pyspf passes ignore_void for those).
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return records

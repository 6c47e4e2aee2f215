"""Sender authentication of one message: SPF, DKIM and DMARC, bounded in time.

The checks are synchronous (pyspf and dkimpy call their DNS function synchronously), so
the proxy runs them in a worker thread whenever they need the network, and on its event
loop only when the DNS cache answers everything (``authenticate_async``). One deadline
bounds every DNS lookup of the message, so a slow name server costs at most ``timeout``
and ends as temperror, never as a pass.

Where the real client comes from, in order: the session (XFORWARD in the proxy,
``--client-ip``/``--helo`` in ``check``), then the Received header of a trusted MTA.
A loopback address is the local MTA handing the message on, not the client: SPF is not
checked against it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Sequence
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parseaddr

from milter.auth.dkim import verify_dkim
from milter.auth.dmarc import check_dmarc, dmarc_result
from milter.auth.dns import DnsClient
from milter.auth.results import AuthResults
from milter.auth.settings import AuthSettings
from milter.auth.spf import check_spf
from milter.mail.domains import public_suffix_list
from milter.mail.envelope import Envelope
from milter.mail.headers import header_block
from milter.mail.received import client_from_received

# Messages up to this size are authenticated on the event loop when the DNS cache can
# answer every lookup (the proxy scans up to the same size on the loop).
INLINE_BYTES = 128 * 1024


class Authenticator:
    """SPF, DKIM and DMARC for messages, sharing one DNS client (and its cache)."""

    def __init__(self, settings: AuthSettings, dns: DnsClient | None = None) -> None:
        self.settings = settings
        self.dns = dns or DnsClient(settings.dns)
        # Built now (once per process) rather than while the first message waits.
        public_suffix_list()

    def authenticate(
        self,
        raw: bytes,
        envelope: Envelope,
        dns: DnsClient | None = None,
        fields: Sequence[tuple[str, str]] | None = None,
    ) -> AuthResults:
        """SPF, DKIM and DMARC of ``raw``; ``dns`` instead of our client if given.
        ``fields``: the top-level header fields as received, from the parse the scanner
        makes anyway (``MessageView.raw_headers``); without them the header block is
        parsed here."""
        dns = self.dns if dns is None else dns
        started = time.monotonic()
        deadline = started + self.settings.timeout
        headers = _headers(raw) if fields is None else _Headers(fields)
        from_domains = _from_domains(headers)
        from_domain = next(iter(from_domains)) if len(from_domains) == 1 else ""
        ip, helo = self._client(envelope, headers)
        mail_from = envelope.mail_from
        if mail_from is None:
            # A stored message: the delivering MTA recorded the envelope sender.
            mail_from = parseaddr(headers.get("Return-Path", ""))[1]
        spf = check_spf(dns, ip, mail_from, helo, deadline) if ip else None
        dkim = verify_dkim(raw, dns, deadline, self.settings.max_dkim_signatures)
        if from_domain:
            dmarc = check_dmarc(from_domain, spf, dkim, dns, deadline)
        elif len(from_domains) > 1:
            # RFC 7489 6.6.1: several authors, several policies; none can vouch for the
            # message, and a forger gains from adding a second, real, From.
            dmarc = dmarc_result(
                "permerror", ",".join(sorted(from_domains)), reason="several From domains"
            )
        else:
            dmarc = None
        return AuthResults(
            spf=spf,
            dkim=dkim,
            dmarc=dmarc,
            from_domain=from_domain,
            client_ip=ip,
            helo=helo,
            note="" if ip else "client unknown, SPF not checked",
        )

    async def authenticate_async(
        self, raw: bytes, envelope: Envelope, fields: Sequence[tuple[str, str]] | None = None
    ) -> AuthResults:
        """``authenticate`` without making the event loop wait on DNS.

        When the cache holds every answer (the usual case: the same senders, keys and
        policies all day) the checks run right here, on the loop: handing them to a
        thread cost 10-20% of the proxy's throughput with authentication on.
        Otherwise, and for big messages (hashing their body takes a while), they run in
        a worker thread.
        """
        if len(raw) <= INLINE_BYTES:
            cached = self.dns.cache_only()
            results = self.authenticate(raw, envelope, cached, fields)
            if not cached.missed:
                return results
        return await asyncio.to_thread(self.authenticate, raw, envelope, None, fields)

    def _client(self, envelope: Envelope, headers: _Headers) -> tuple[str, str]:
        client = envelope.client
        if client.addr and not _is_loopback(client.addr):
            return client.addr, client.helo or ""
        found = client_from_received(headers.get_all("Received"), self.settings.trusted_mtas)
        if found is not None:
            return found.ip, found.helo
        return "", ""


def dns_failed(results: AuthResults) -> bool:
    """True when a DNS failure left any result undecided (temperror)."""
    outcomes = [
        results.spf.result if results.spf else "",
        results.dmarc.result if results.dmarc else "",
    ]
    outcomes.extend(d.result for d in results.dkim)
    return "temperror" in outcomes


class _Headers:
    """The header fields of a message as received: (name, value with its folding)."""

    def __init__(self, fields: Sequence[tuple[str, str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        wanted = name.lower()
        return next((value for key, value in self._fields if key.lower() == wanted), default)

    def get_all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for key, value in self._fields if key.lower() == wanted]


def _headers(raw: bytes) -> _Headers:
    # Parsed leniently (compat32 never raises), as the scanner's parse reads them.
    message = BytesHeaderParser(policy=compat32).parsebytes(header_block(raw))
    return _Headers([(str(name), str(value)) for name, value in message.raw_items()])


def _from_domains(headers: _Headers) -> set[str]:
    """The RFC5322.From domains DMARC is about (normally exactly one)."""
    return {
        address.rpartition("@")[2].rstrip(".").lower()
        for _, address in getaddresses(headers.get_all("From"))
        if "@" in address
    }


def _is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return True  # not an address at all: nothing SPF could check

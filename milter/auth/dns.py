"""The DNS layer shared by SPF, DKIM and DMARC: dnspython with deadlines and a TTL cache.

Lookups are synchronous: pyspf and dkimpy call their DNS function synchronously, so the
proxy runs an authentication (auth.py) that needs the network in a worker thread, never
on the event loop; one answered from the cache alone (``CacheOnlyDns``) runs on the loop.
One ``DnsClient`` is shared by those threads, so the cache is behind a lock.

A failure to get an answer (timeout, SERVFAIL, no server reachable) raises
``DnsTempError``: callers turn it into a temperror, never into a pass or a "no record".
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from milter.hostport import parse_host_port

# What each record type's answer becomes: plain, hashable Python values.
#   TXT -> tuple of bytes (the character-strings, not joined: SPF and DKIM join them)
#   A, AAAA -> address text; MX -> (preference, exchange); PTR, CNAME -> target name
Record = tuple[bytes, ...] | str | tuple[int, str]

# RFC 1035 4.2.1: a name server listens on port 53.
DNS_PORT = 53

SUPPORTED_TYPES = ("A", "AAAA", "MX", "PTR", "TXT", "CNAME")


class DnsTempError(Exception):
    """No usable answer: the name server timed out, failed or could not be reached."""


@dataclass(frozen=True)
class DnsAnswer:
    """An authoritative outcome: records (possibly none) and whether the name exists."""

    name: str
    rdtype: str
    records: tuple[Record, ...]
    nxdomain: bool = False


@dataclass(frozen=True)
class DnsSettings:
    # (host, port) of each name server; empty means the system's /etc/resolv.conf.
    servers: tuple[tuple[str, int], ...] = ()
    timeout: float = 2.0  # seconds for one lookup, all retries included
    cache_entries: int = 20_000
    max_ttl: float = 3600.0
    # NXDOMAIN and empty answers are cached too (RFC 2308), for at most this long.
    negative_ttl: float = 300.0


def parse_server(text: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT`` or ``[V6]:PORT`` -> (host, port); raises ValueError."""
    try:
        return parse_host_port(text, default_port=DNS_PORT)
    except ValueError as exc:
        raise ValueError(f"bad name server {text.strip()!r}: {exc}") from None


class DnsClient:
    """Cached, deadline-bounded lookups. Thread-safe; build one per process."""

    def __init__(
        self, settings: DnsSettings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings or DnsSettings()
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], tuple[float, DnsAnswer]] = OrderedDict()
        self._local = threading.local()
        self.lookups = 0  # answers fetched from the network (not the cache): for tests
        self.cache_hits = 0  # answers from the cache, for the metrics (take_cache_hits)

    def _resolver(self) -> dns.resolver.Resolver:
        # dnspython resolvers are not documented as thread-safe: one per thread.
        resolver = getattr(self._local, "resolver", None)
        if resolver is None:
            if self.settings.servers:
                resolver = dns.resolver.Resolver(configure=False)
                resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(host, port)
                    for host, port in self.settings.servers
                ]
            else:
                resolver = dns.resolver.Resolver()
            resolver.cache = None  # ours is shared between threads and bounded
            self._local.resolver = resolver
        return resolver

    def query(self, name: str, rdtype: str, deadline: float | None = None) -> DnsAnswer:
        """The answer for ``name``/``rdtype``, from the cache or the network.

        ``deadline`` (on this client's clock) bounds the lookup besides the per-lookup
        timeout; past it, DnsTempError is raised without asking.
        """
        if rdtype not in SUPPORTED_TYPES:
            raise ValueError(f"unsupported record type {rdtype}")
        key = (_canonical(name), rdtype)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                if cached[0] > now:
                    self._cache.move_to_end(key)
                    self._count_hit()
                    return cached[1]
                del self._cache[key]
        lifetime = self.settings.timeout
        if deadline is not None:
            lifetime = min(lifetime, deadline - now)
        if lifetime <= 0:
            raise DnsTempError(f"DNS {rdtype} {key[0]}: no time left")
        answer, ttl = self._fetch(key[0], rdtype, lifetime)
        with self._lock:
            self.lookups += 1
            if ttl > 0:
                self._cache[key] = (self._clock() + ttl, answer)
                while len(self._cache) > self.settings.cache_entries:
                    self._cache.popitem(last=False)
        return answer

    def _count_hit(self) -> None:
        self.cache_hits += 1  # under the lock

    def take_cache_hits(self) -> int:
        """The cache hits since the last call (the metrics count them as they come)."""
        with self._lock:
            hits, self.cache_hits = self.cache_hits, 0
        return hits

    def txt(self, name: str, deadline: float | None = None) -> tuple[bytes, ...]:
        """Every TXT record of ``name``, each one's strings joined (RFC 7208 3.3, 6376 3.6.2.2)."""
        answer = self.query(name, "TXT", deadline)
        return tuple(b"".join(record) for record in answer.records if isinstance(record, tuple))

    def cache_only(self) -> CacheOnlyDns:
        """A view of this client that answers from the cache and never asks the network."""
        return CacheOnlyDns(self)

    def _fetch(self, name: str, rdtype: str, lifetime: float) -> tuple[DnsAnswer, float]:
        settings = self.settings
        try:
            result = self._resolver().resolve(
                name, rdtype, lifetime=lifetime, raise_on_no_answer=False, search=False
            )
        except dns.resolver.NXDOMAIN:
            return DnsAnswer(name, rdtype, (), nxdomain=True), settings.negative_ttl
        except dns.resolver.YXDOMAIN as exc:
            raise DnsTempError(f"DNS {rdtype} {name}: {exc}") from None
        except dns.resolver.NoNameservers as exc:
            raise DnsTempError(f"DNS {rdtype} {name}: no server answered ({exc})") from None
        except dns.exception.Timeout:
            raise DnsTempError(f"DNS {rdtype} {name}: timed out after {lifetime:.1f}s") from None
        except (dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel):
            # A name that cannot exist in the DNS: the answer is "no such name".
            return DnsAnswer(name, rdtype, (), nxdomain=True), 0.0
        except dns.exception.DNSException as exc:
            raise DnsTempError(f"DNS {rdtype} {name}: {exc}") from None
        records = tuple(_record(rdtype, rdata) for rdata in (result.rrset or ()))
        if result.rrset is None:
            return DnsAnswer(name, rdtype, ()), settings.negative_ttl
        ttl = min(float(result.rrset.ttl), settings.max_ttl)
        return DnsAnswer(name, rdtype, records), ttl


class CacheOnlyDns(DnsClient):
    """Answers from a ``DnsClient``'s cache alone, for checks run on the event loop.

    Nothing here may wait for the network. A lookup the cache cannot answer raises
    DnsTempError and sets ``missed``, and so does every lookup after it: the check stops
    early (a key not looked up is not verified), and its outcome, incomplete, is to be
    thrown away and the check run again with the real client.
    """

    def __init__(self, client: DnsClient) -> None:
        # The same settings, clock, lock and cache: answers cached by either are shared.
        self.settings = client.settings
        self._clock = client._clock
        self._lock = client._lock
        self._cache = client._cache
        self._local = client._local
        self._client = client  # its hits are the client's
        self.lookups = 0
        self.missed = False

    def query(self, name: str, rdtype: str, deadline: float | None = None) -> DnsAnswer:
        if self.missed:
            raise DnsTempError(f"DNS {rdtype} {name}: an earlier lookup was not cached")
        try:
            return super().query(name, rdtype, deadline)
        except DnsTempError:
            # A cached answer never raises: whatever failed was not answered from the
            # cache, so this outcome is not the real one.
            self.missed = True
            raise

    def _count_hit(self) -> None:
        self._client.cache_hits += 1  # under the lock both share

    def _fetch(self, name: str, rdtype: str, lifetime: float) -> tuple[DnsAnswer, float]:
        raise DnsTempError(f"DNS {rdtype} {name}: not in the cache")


def _canonical(name: str) -> str:
    return name.rstrip(".").lower()


def _record(rdtype: str, rdata: object) -> Record:
    if rdtype == "TXT":
        return tuple(rdata.strings)  # type: ignore[attr-defined]
    if rdtype in ("A", "AAAA"):
        return str(rdata.address)  # type: ignore[attr-defined]
    if rdtype == "MX":
        return (
            int(rdata.preference),  # type: ignore[attr-defined]
            rdata.exchange.to_text(omit_final_dot=True),  # type: ignore[attr-defined]
        )
    return rdata.target.to_text(omit_final_dot=True)  # type: ignore[attr-defined]

"""A real DNS server on loopback for the authentication tests (dnslib, UDP and TCP).

The records come from zone-file lines the test writes (``name. IN TXT "..."``). Names
listed in ``timeouts`` get no answer at all, so a client's timeout path runs for real;
``servfail`` names get SERVFAIL; ``partial_timeouts`` names answer only the types they
hold records of and leave every other question unanswered (the openspf suite's
``TIMEOUT`` next to records). Records the zone-file parser cannot express (empty TXT,
odd bytes, type SPF) can be given as dnslib ``RR`` objects in ``records``. CNAMEs are
followed within the zone, as a recursive resolver would, so dnspython sees the same
answers it would on the Internet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from dnslib import QTYPE, RCODE, RR, DNSError, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class _QuietLogger(DNSLogger):
    def __init__(self) -> None:
        super().__init__(log="-request,-reply,-truncated,-error,-recv,-send,-data")


def _key(name: object) -> str:
    return str(name).rstrip(".").lower()


class _ZoneResolver(BaseResolver):
    def __init__(self) -> None:
        self.records: dict[str, list[RR]] = {}
        self.timeouts: set[str] = set()
        self.servfail: set[str] = set()
        self.partial_timeouts: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        qname = _key(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.queries.append((qname, qtype))
            records, timeouts, servfail = self.records, self.timeouts, self.servfail
            partial_timeouts = self.partial_timeouts
        if qname in timeouts:
            # dnslib sends nothing when the resolver raises DNSError: the client waits.
            raise DNSError(f"no answer for {qname} (test timeout)")
        if qname in partial_timeouts and not any(
            QTYPE[rr.rtype] == qtype for rr in records.get(qname, ())
        ):
            raise DNSError(f"no {qtype} answer for {qname} (test timeout)")
        reply = request.reply()
        if qname in servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        name, seen = qname, set()
        while True:
            found = records.get(name)
            if found is None:
                if name == qname:
                    reply.header.rcode = RCODE.NXDOMAIN
                return reply
            exact = [rr for rr in found if QTYPE[rr.rtype] == qtype]
            if exact:
                for rr in exact:
                    reply.add_answer(rr)
                return reply
            cnames = [rr for rr in found if rr.rtype == QTYPE.CNAME]
            if not cnames or name in seen:
                return reply
            seen.add(name)
            reply.add_answer(cnames[0])
            name = _key(cnames[0].rdata.label)


class DnsZoneServer:
    """Serves zone lines on 127.0.0.1:<free port> over UDP and TCP until ``stop()``."""

    def __init__(
        self,
        zone: str = "",
        *,
        timeouts: Iterable[str] = (),
        servfail: Iterable[str] = (),
        records: Iterable[RR] = (),
        partial_timeouts: Iterable[str] = (),
    ) -> None:
        self._resolver = _ZoneResolver()
        self.set_zone(
            zone,
            timeouts=timeouts,
            servfail=servfail,
            records=records,
            partial_timeouts=partial_timeouts,
        )
        # One port for UDP and TCP: the UDP one is free, its TCP twin may not be (a test
        # that made thousands of connections leaves their ports in TIME_WAIT), so try
        # another until both bind.
        for attempt in range(50):
            self._udp = DNSServer(
                self._resolver, address="127.0.0.1", port=0, logger=_QuietLogger()
            )
            self.port: int = self._udp.server.server_address[1]
            try:
                self._tcp = DNSServer(
                    self._resolver,
                    address="127.0.0.1",
                    port=self.port,
                    tcp=True,
                    logger=_QuietLogger(),
                )
                break
            except OSError:
                self._udp.server.server_close()
                if attempt == 49:
                    raise

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def queries(self) -> list[tuple[str, str]]:
        with self._resolver.lock:
            return list(self._resolver.queries)

    def set_zone(
        self,
        zone: str,
        *,
        timeouts: Iterable[str] = (),
        servfail: Iterable[str] = (),
        records: Iterable[RR] = (),
        partial_timeouts: Iterable[str] = (),
    ) -> None:
        by_name: dict[str, list[RR]] = {}
        for rr in [*(RR.fromZone(zone) if zone.strip() else ()), *records]:
            by_name.setdefault(_key(rr.rname), []).append(rr)
        with self._resolver.lock:
            self._resolver.records = by_name
            self._resolver.timeouts = {_key(n) for n in timeouts}
            self._resolver.servfail = {_key(n) for n in servfail}
            self._resolver.partial_timeouts = {_key(n) for n in partial_timeouts}

    def start(self) -> DnsZoneServer:
        self._udp.start_thread()
        self._tcp.start_thread()
        return self

    def stop(self) -> None:
        for server in (self._udp, self._tcp):
            server.stop()
            server.server.server_close()

    def __enter__(self) -> DnsZoneServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

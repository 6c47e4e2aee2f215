"""One message judged: parse, read its images, authenticate the sender, scan, within the
message's time budget. Shared by both front doors, the SMTP proxy (proxy.py) and the
milter (issue 14), so that the same mail gets the same verdict whichever way it came.

Every way this can fail ends in a ``Judgement`` whose ``reason`` says why there is no
verdict ("budget", "dns", "error"): the caller answers 4xx (or TEMPFAIL) and the MTA
retries; nothing is lost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from milter.auth.authenticator import Authenticator, dns_failed
from milter.auth.results import AuthResults
from milter.mail.envelope import Envelope
from milter.mail.view import MessageView
from milter.ocr.reader import OcrReader
from milter.scan.scanner import Scanner
from milter.scan.verdict import Verdict
from milter.service.metrics import Metrics
from milter.service.scan_pool import ScanPool

log = logging.getLogger("scam_milter")
_T = TypeVar("_T")

# Messages up to this size are scanned on the event loop itself (see Judge._in_thread).
INLINE_SCAN_BYTES = 128 * 1024


@dataclass(frozen=True)
class Judgement:
    """The verdict and the authentication it read; no verdict when ``reason`` says why
    not: "budget" (over the time budget), "dns" (DNS failed and the config defers such
    mail), "error" (the parse or the scan failed)."""

    verdict: Verdict | None
    auth: AuthResults | None
    reason: str = ""


class Judge:
    """The pipeline, with what a reload may swap between messages (scanner,
    authenticator) as plain attributes: a message in flight keeps what it started with."""

    def __init__(
        self,
        scanner: Callable[[], Scanner],
        authenticator: Authenticator | None = None,
        ocr: OcrReader | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.scanner = scanner
        self.authenticator = authenticator  # None: authentication is off
        # None: images are not read (OCR off or unavailable: serve said so at start).
        # A scan thread loads its engine when it first reads an image (0.3-1.1 s,
        # once): workers that never see one do not pay for it in time or memory.
        self.ocr = ocr
        self.scan_pool = ScanPool()
        # Off unless serve was given --metrics (then the server's, shared with the fronts).
        self.metrics = metrics or Metrics()

    def close(self) -> None:
        """Let the scan threads end (a worker calls this as it stops)."""
        self.scan_pool.close()

    async def judge(
        self,
        raw: bytes,
        envelope: Envelope,
        seconds: float,
        *,
        tempfail_on_dns_failure: bool,
        authenticate: bool = True,
    ) -> Judgement:
        """The judgement on ``raw`` within ``seconds``; with ``tempfail_on_dns_failure``
        a DNS failure during authentication gives no verdict ("dns"). The watchdog: a message that
        overruns is deferred, and the loop goes on serving the other sessions. A scan in
        a thread cannot be stopped; told the deadline, it stops reading parts in order by
        then and ends soon after, in a thread of the scan pool (scan_pool.py). Without
        ``authenticate`` (our own users' submissions) no SPF, DKIM or DMARC is asked."""
        scanner = self.scanner()
        auth: AuthResults | None = None
        deadline = time.monotonic() + seconds
        try:
            async with asyncio.timeout(seconds):
                # One parse, shared: the authentication reads its header fields.
                started = time.monotonic()
                view = await self._view(scanner, raw, envelope, deadline)
                if view is None:
                    return Judgement(None, None, "error")
                parsed = time.monotonic()
                if view.images and self.ocr is not None:
                    view = await self._read_images(self.ocr, view, deadline)
                    self.metrics.observe("ocr", time.monotonic() - parsed)
                if authenticate and self.authenticator is not None:
                    authenticating = time.monotonic()
                    auth = await self._authenticate(raw, envelope, view)
                    self.metrics.observe("auth", time.monotonic() - authenticating)
                if auth is not None and tempfail_on_dns_failure and dns_failed(auth):
                    return Judgement(None, auth, "dns")
                scanning = time.monotonic()
                verdict = await self._scan(scanner, raw, view, auth)
                # The scanner's work: the parse and the scan, without OCR and DNS waits.
                self.metrics.observe("scan", parsed - started + time.monotonic() - scanning)
        except TimeoutError:
            log.warning(
                "authentication and scan took over %gs; the message is deferred "
                "(scans still running: %d)",
                seconds,
                self.scan_pool.busy,
            )
            return Judgement(None, auth, "budget")
        return Judgement(verdict, auth, "" if verdict is not None else "error")

    async def _in_thread(
        self, raw: bytes, function: Callable[..., _T], *args: Any, **kwargs: Any
    ) -> _T:
        """``function(*args, **kwargs)``: on the loop for a message of a few KB (a few
        milliseconds of CPU: handing it to a thread costs more than it saves, and the
        GIL serialises the work anyway); for a big one (PDFs, long HTML), in the scan
        pool, so that the loop stays free for the other sessions' I/O meanwhile."""
        if len(raw) <= INLINE_SCAN_BYTES:
            return function(*args, **kwargs)
        return await self.scan_pool.run(functools.partial(function, *args, **kwargs))

    async def _view(
        self, scanner: Scanner, raw: bytes, envelope: Envelope, deadline: float
    ) -> MessageView | None:
        """The parse every stage shares, or None when it failed (logged)."""
        try:
            return await self._in_thread(raw, scanner.view, raw, envelope, deadline=deadline)
        except Exception:
            log.exception("parse failed; the message is deferred, never lost")
            return None

    async def _read_images(self, ocr: OcrReader, view: MessageView, deadline: float) -> MessageView:
        """``view`` with the text of its images, read in the scan pool (Tesseract lets go
        of the GIL, so the loop serves meanwhile) within the OCR budget and what is left
        of the message's. If reading fails, the scan goes on without it (logged)."""
        # Leave a quarter of what is left for authentication and the scan.
        budget = max(0.0, (deadline - time.monotonic()) * 0.75)
        try:
            return await self.scan_pool.run(ocr.read_view, view, budget)
        except Exception:
            log.exception("reading the images failed; the message is scanned without them")
            return view

    async def _authenticate(
        self, raw: bytes, envelope: Envelope, view: MessageView
    ) -> AuthResults | None:
        authenticator = self.authenticator
        if authenticator is None:
            return None
        try:
            auth = await authenticator.authenticate_async(raw, envelope, view.raw_headers)
        except Exception:
            # A bug in a check must not cost the message: scan it as if nothing had been
            # checked ("unavailable" to the rules, never a failed check).
            log.exception("authentication failed; scanning without its results")
            auth = None
        # The hits of this message, and of any other one checked meanwhile. A check the
        # budget cancelled leaves its hits to the next message's count: nothing runs on
        # the way out of a cancellation, which must reach the timeout as it is.
        self.metrics.dns_cache_hits(authenticator.dns.take_cache_hits())
        return auth

    async def _scan(
        self, scanner: Scanner, raw: bytes, view: MessageView, auth: AuthResults | None
    ) -> Verdict | None:
        """The verdict, or None when the scan failed (logged)."""
        try:
            return await self._in_thread(raw, scanner.scan_view, view, auth)
        except Exception:
            log.exception("scan failed; the message is deferred, never lost")
            return None

"""The filter between the SMTP front and the next hop: scan, decide, act.

Each transaction is mirrored to the next hop as it happens (MAIL and every RCPT get the
next hop's own reply, so a refused recipient is refused upstream too). At the end of
DATA the message is scanned, and only then does the proxy either send it on, hold it in
the quarantine, or refuse it. The client never gets a 250 for a message that is neither
accepted by the next hop nor durably stored: every failure answers 4xx and Postfix
retries.

Exactly once (milter/ledger/dedupe.py): a message the next hop already accepted, or the
quarantine already holds, is answered 250 again without being relayed or stored a
second time, when Postfix retries it because our first 250 was lost or late.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from milter.auth.authenticator import Authenticator
from milter.auth.results import AuthResults, remove_our_auth_results
from milter.errors import QuarantineError
from milter.ledger.dedupe import Dedupe, Seen
from milter.ledger.store import LEDGER_NAME, Ledger, LedgerSettings
from milter.mail.display import utc_text
from milter.mail.envelope import ClientInfo, Envelope, Param
from milter.mail.headers import (
    HeaderNames,
    HeaderSize,
    add_fields,
    first_field,
    header_size,
    prefix_subject,
    remove_fields,
    split_message,
)
from milter.mail.view import decode_header_value
from milter.ocr.reader import OcrReader
from milter.quarantine.store import QuarantineEntry, QuarantineStore
from milter.scan.scanner import Scanner
from milter.scan.verdict import Action, RuleHit, Verdict
from milter.service.judge import INLINE_SCAN_BYTES, Judge
from milter.service.metrics import Metrics
from milter.service.scan_pool import ScanPool
from milter.service.settings import MessageLimits, Mode
from milter.smtp.front import Transaction
from milter.smtp.relay import Downstream, LateReply, Relay
from milter.smtp.replies import (
    AUTH_UNAVAILABLE,
    LOCAL_ERROR,
    QUARANTINE_UNAVAILABLE,
    QUARANTINED,
    REJECTED,
    Reply,
)

log = logging.getLogger("scam_milter")
verdict_log = logging.getLogger("scam_milter.verdict")

NO_TRANSACTION = Reply(503, "5.5.1 Error: need MAIL command")
_T = TypeVar("_T")

# A header block past the limits (MessageLimits): refused before the queue with the
# RFC 3463 code for "message too big for system"; after the queue it is held instead.
HEADER_TOO_BIG = Reply(552, "5.3.4 Message header too big")
HEADER_LIMIT_RULE = "HEADER_OVER_LIMIT"  # the rule id the verdict, the log and list show
# Authentication and scan took longer than limits.message_seconds: Postfix retries.
OVER_BUDGET = Reply(451, "4.3.0 Message took too long to check, try again later")
# The Subject kept for the quarantine's list is cut here before it is decoded: no real
# subject comes near it, and decoding a hostile one must cost the store nothing.
SUBJECT_BYTES = 16 * 1024


@dataclass(frozen=True)
class ProxySettings:
    mode: Mode = Mode.AFTER_QUEUE
    headers: HeaderNames = field(default_factory=HeaderNames)
    subject_prefix: str = ""
    # The authserv-id of the Authentication-Results header we add; such headers that
    # arrive from outside with this id are forgeries and are removed.
    authserv_id: str = "scam-milter"
    # A DNS failure during authentication defers the message (451) instead of scanning
    # it without the missing results.
    tempfail_on_dns_failure: bool = False
    limits: MessageLimits = field(default_factory=MessageLimits)
    # Exactly once: where (default: in the quarantine directory) and for how long the
    # messages relayed or held are remembered; a window of 0 turns it off.
    ledger: LedgerSettings = field(default_factory=LedgerSettings)


@dataclass
class _State:
    """What the proxy keeps on a transaction: the next hop's side of it."""

    downstream: Downstream | None
    started: float


class Proxy:
    """The ``TransactionHandler`` the SMTP front calls for every transaction."""

    def __init__(
        self,
        scanner: Callable[[], Scanner],
        relay: Relay,
        store: QuarantineStore,
        settings: ProxySettings,
        authenticator: Authenticator | None = None,
        ocr: OcrReader | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        # A callable scanner, not a Scanner: a reload swaps the scanner (and the
        # authenticator) between messages and a message in flight keeps what it started
        # with (judge.py).
        self.judge = Judge(scanner, authenticator, ocr, metrics)
        self.relay = relay
        self.store = store
        self.settings = settings
        ledger = None
        if settings.ledger.enabled:
            # Opened on first use, in the process that uses it (serve forks workers).
            path = settings.ledger.path or store.directory / LEDGER_NAME
            ledger = Ledger(path, settings.ledger.window)
        self.dedupe = Dedupe(ledger, store)

    # What a reload swaps, and what tests set, lives in the judge.
    @property
    def scanner(self) -> Callable[[], Scanner]:
        return self.judge.scanner

    @scanner.setter
    def scanner(self, scanner: Callable[[], Scanner]) -> None:
        self.judge.scanner = scanner

    @property
    def authenticator(self) -> Authenticator | None:
        return self.judge.authenticator

    @authenticator.setter
    def authenticator(self, authenticator: Authenticator | None) -> None:
        self.judge.authenticator = authenticator

    @property
    def ocr(self) -> OcrReader | None:
        return self.judge.ocr

    @ocr.setter
    def ocr(self, ocr: OcrReader | None) -> None:
        self.judge.ocr = ocr

    @property
    def scan_pool(self) -> ScanPool:
        return self.judge.scan_pool

    def close(self) -> None:
        """Let the scan threads end (a worker calls this as it stops)."""
        self.judge.close()

    async def mail(self, tx: Transaction) -> Reply:
        reply, downstream = await self.relay.begin(tx.client, tx.mail_from, tx.mail_params)
        if downstream is None and reply.temporary:
            self.judge.metrics.relay_failure("mail")
        tx.state = _State(downstream, time.monotonic())
        return _upstream(reply)

    async def rcpt(self, tx: Transaction, address: str, params: tuple[Param, ...]) -> Reply:
        state = tx.state
        if not isinstance(state, _State) or state.downstream is None:
            return NO_TRANSACTION
        return _upstream(await state.downstream.rcpt(address, params))

    async def abort(self, tx: Transaction) -> None:
        state = tx.state
        tx.state = None
        if isinstance(state, _State) and state.downstream is not None:
            await state.downstream.abort()

    async def data(self, tx: Transaction, raw: bytes) -> Reply:
        state = tx.state
        tx.state = None
        if not isinstance(state, _State) or state.downstream is None:
            return NO_TRANSACTION
        try:
            return await self._finish(tx, state, raw)
        except asyncio.CancelledError:
            # The client went away mid-scan: end the next hop's transaction too, or its
            # connection would linger until garbage collection.
            with contextlib.suppress(Exception):
                await state.downstream.abort()
            raise

    async def _finish(self, tx: Transaction, state: _State, raw: bytes) -> Reply:
        downstream = state.downstream
        assert downstream is not None
        envelope = tx.envelope()
        key, seen = await self._seen(envelope, raw)
        if seen is not None:
            # Relayed or held before (our 250 was lost or late): not again, and without
            # a scan; the next hop's transaction is ended with RSET.
            await downstream.abort()
            outcome = seen.outcome.value
            self._log(tx, envelope, seen.reply, state.started, action="duplicate", reason=outcome)
            return seen.reply
        limits = self.settings.limits
        # Measured before anything parses the header: at most max_header_lines steps,
        # so a header of millions of lines costs the loop no more than a normal one.
        size = header_size(raw, limits.max_header_bytes, limits.max_header_lines)
        if size.over:
            return await self._header_over_limit(tx, state, raw, envelope, size, key)
        judged = await self.judge.judge(
            raw,
            envelope,
            limits.message_seconds,
            tempfail_on_dns_failure=self.settings.tempfail_on_dns_failure,
        )
        auth, verdict = judged.auth, judged.verdict
        if verdict is None:
            reply = {"budget": OVER_BUDGET, "dns": AUTH_UNAVAILABLE}.get(judged.reason, LOCAL_ERROR)
            return await self._defer(tx, state, envelope, reply, auth, reason=judged.reason)
        action = verdict.action
        if action is Action.REJECT and self.settings.mode is Mode.AFTER_QUEUE:
            # After the queue, a 5xx makes Postfix bounce to the sender, who is forged
            # in these scams (backscatter). Hold it instead.
            action = Action.QUARANTINE
        if action is Action.QUARANTINE:
            reply = await self._quarantine(raw, envelope, verdict, key)
            await downstream.abort()
        elif action is Action.REJECT:
            await downstream.abort()
            reply = REJECTED
        else:
            if len(raw) <= INLINE_SCAN_BYTES:
                outgoing = self._outgoing(raw, verdict, action, size)
            else:
                # Linear, but a copy of the whole message: off the loop, as the scan.
                outgoing = await asyncio.to_thread(self._outgoing, raw, verdict, action, size)
            relaying = time.monotonic()
            reply = _upstream(await downstream.data(outgoing, self._on_late_reply(key)))
            self.judge.metrics.observe("relay", time.monotonic() - relaying)
            if reply.temporary:
                self.judge.metrics.relay_failure("data")
            if reply.positive and key is not None:
                # Durable before our 250 leaves: a retry after a lost reply finds it.
                await self.dedupe.relayed_async(key, reply)
        self._log(
            tx, envelope, reply, state.started, action=action.value, verdict=verdict, auth=auth
        )
        return reply

    async def _seen(self, envelope: Envelope, raw: bytes) -> tuple[bytes | None, Seen | None]:
        """The message's ledger key, and what to answer if it was handled before."""
        dedupe = self.dedupe
        if dedupe.ledger is None:
            return None, None

        def check(key: bytes | None) -> tuple[bytes | None, Seen | None]:
            if key is None:
                key = dedupe.key(envelope, raw)
            return key, dedupe.seen(key)

        try:
            if len(raw) > INLINE_SCAN_BYTES:
                # A big message: its hash takes a while (hashlib lets go of the GIL
                # meanwhile), so key and lookup in a thread.
                return await asyncio.to_thread(check, None)
            # The hash of a few KB takes microseconds, less than a thread handoff. A
            # message without a key (no trace field) needs no lookup: it must not open
            # the ledger, nor wait for a thread, on every message (bench/smtp_throughput.py).
            key = dedupe.key(envelope, raw)
            if key is None:
                return None, None
            if dedupe.ledger.warm:
                # A dictionary probe, after reading the few records other workers added.
                return check(key)
            # The first lookup opens the files (maybe creates them): a thread.
            return await asyncio.to_thread(check, key)
        except Exception:
            # Dedupe is only ever an optimisation of the duplicate case.
            log.exception("ledger check failed; the message is handled as new")
            return None, None

    def _on_late_reply(self, key: bytes | None) -> LateReply | None:
        """For a 250 that comes after we gave up on the next hop (and answered 4xx):
        recorded, so Postfix's retry is answered 250 rather than delivered again."""
        if key is None:
            return None
        dedupe = self.dedupe

        async def late(reply: Reply) -> None:
            if reply.positive:
                await dedupe.relayed_async(key, reply)

        return late

    async def _defer(
        self,
        tx: Transaction,
        state: _State,
        envelope: Envelope,
        reply: Reply,
        auth: AuthResults | None,
        *,
        reason: str,
    ) -> Reply:
        """Answer a 4xx without a verdict: the next hop's transaction is ended."""
        assert state.downstream is not None
        await state.downstream.abort()
        self._log(tx, envelope, reply, state.started, action="tempfail", auth=auth, reason=reason)
        return reply

    async def _header_over_limit(
        self,
        tx: Transaction,
        state: _State,
        raw: bytes,
        envelope: Envelope,
        size: HeaderSize,
        key: bytes | None,
    ) -> Reply:
        """A header block past the limits is never parsed, authenticated or scanned: it
        is refused before the queue, and held after it (a 5xx there would bounce to a
        forged sender), since a scam may hide behind it."""
        assert state.downstream is not None
        limits = self.settings.limits
        if size.bytes > limits.max_header_bytes:
            what = f"header over {limits.max_header_bytes} bytes"
        else:
            what = f"header over {limits.max_header_lines} lines"
        verdict = Verdict(
            action=Action.REJECT,
            score=0.0,
            rules=(RuleHit(HEADER_LIMIT_RULE, 0.0, (what,)),),
            notes=(f"{what}: not scanned",),
        )
        if self.settings.mode is Mode.BEFORE_QUEUE:
            action, reply = Action.REJECT, HEADER_TOO_BIG
        else:
            action = Action.QUARANTINE
            reply = await self._quarantine(raw, envelope, verdict, key)
        await state.downstream.abort()
        self._log(
            tx,
            envelope,
            reply,
            state.started,
            action=action.value,
            verdict=verdict,
            reason="header_limit",
        )
        return reply

    async def _quarantine(
        self, raw: bytes, envelope: Envelope, verdict: Verdict, key: bytes | None
    ) -> Reply:
        try:
            entry = await asyncio.to_thread(self._store, raw, envelope, verdict, key)
        except QuarantineError as exc:
            log.error("quarantine failed, answering 4xx: %s", exc)
            return QUARANTINE_UNAVAILABLE
        return Reply(QUARANTINED.code, f"{QUARANTINED.text} as {entry.id}")

    def _store(
        self, raw: bytes, envelope: Envelope, verdict: Verdict, key: bytes | None
    ) -> QuarantineEntry:
        """Store ``raw`` (in a worker thread: the subject is found there too), with its
        ledger key committed before the entry is."""
        auth = verdict.auth.to_json() if isinstance(verdict.auth, AuthResults) else None
        limits = self.settings.limits
        subject = subject_for_list(raw, limits.max_header_bytes, limits.max_header_lines)
        return self.dedupe.quarantine(key, raw, envelope, verdict, subject, auth=auth)

    def _outgoing(self, raw: bytes, verdict: Verdict, action: Action, size: HeaderSize) -> bytes:
        """The message to relay: every field of ours that came from outside removed (our
        prefix, our names, Authentication-Results under our id), tags added when tagging.
        ``size`` measured the header block, which is within the limits."""
        names = self.settings.headers
        auth = verdict.auth
        if (
            action is not Action.TAG
            and not isinstance(auth, AuthResults)
            and _strip_pattern(names).search(raw, 0, size.bytes) is None
        ):
            # Nothing to add, and no field we remove: the message goes as it came,
            # without splitting its header block.
            return raw
        message = remove_fields(split_message(raw), names.all(), (names.prefix,))
        # Only we may write results under our id (RFC 8601 section 5): one arriving from
        # outside is forged, whether or not we check anything ourselves.
        authserv_id = self.settings.authserv_id
        message = remove_our_auth_results(message, authserv_id)
        if isinstance(auth, AuthResults):
            message = add_fields(
                message, [("Authentication-Results", auth.header_value(authserv_id))]
            )
        if action is Action.TAG:
            message = add_fields(
                message,
                [
                    (names.verdict, action.value),
                    (names.score, f"{verdict.score:g}"),
                    (names.rules, ", ".join(hit.id for hit in verdict.rules) or "none"),
                ],
            )
            if self.settings.subject_prefix:
                message = prefix_subject(message, self.settings.subject_prefix)
        return message.to_bytes()

    def _log(
        self,
        tx: Transaction,
        envelope: Envelope,
        reply: Reply,
        started: float,
        *,
        action: str,
        verdict: Verdict | None = None,
        auth: AuthResults | None = None,
        reason: str | None = None,
    ) -> None:
        """One JSON line for every message handled, whatever became of it."""
        reply_text = f"{reply.code} {reply.text.splitlines()[0] if reply.text else ''}"
        # Counted first: whoever reads the line may scrape at once and find it counted.
        self.judge.metrics.message(verdict, action)
        log_verdict(tx.client, envelope, action, verdict, auth, reason, reply_text, started)


def log_verdict(
    client: ClientInfo,
    envelope: Envelope,
    action: str,
    verdict: Verdict | None,
    auth: AuthResults | None,
    reason: str | None,
    reply: str,
    started: float,
) -> None:
    """The verdict log's line for one message (README, "Verdict log"): both front doors
    write it."""
    record = {
        # UTC, whole seconds: a verdict log file has no other time stamp.
        "time": utc_text(),
        "client": {
            "addr": client.addr,
            "name": client.name,
            "helo": client.helo,
            "ident": client.ident,
        },
        "from": envelope.mail_from,
        "rcpt": list(envelope.rcpt_to),
        "verdict": verdict.action.value if verdict is not None else None,
        "action": action,
        # Why it was deferred or held without a scan: "budget", "dns", "error",
        # "header_limit"; for a "duplicate", what was done the first time
        # ("relayed", "quarantined"); null when the verdict says it all.
        "reason": reason,
        "score": verdict.score if verdict is not None else None,
        "rules": [hit.id for hit in verdict.rules] if verdict is not None else [],
        "auth": _auth_summary(auth),
        # Images in the message and how many OCR read (null when deferred unscanned).
        "images": (
            {"found": verdict.images_found, "read": verdict.images_read}
            if verdict is not None
            else None
        ),
        "reply": reply,
        "seconds": round(time.monotonic() - started, 4),
    }
    verdict_log.info(json.dumps(record, ensure_ascii=False))


def _auth_summary(auth: AuthResults | None) -> dict[str, object] | None:
    """The results alone (the quarantine keeps the details): null when not checked."""
    if auth is None:
        return None
    return {
        "spf": auth.spf.result if auth.spf is not None else None,
        "dkim": [d.result for d in auth.dkim],
        "dmarc": auth.dmarc.result if auth.dmarc is not None else None,
    }


def _upstream(reply: Reply) -> Reply:
    """The next hop's reply as we pass it on. A 421 closes the next hop's connection,
    not the client's: passed on unchanged it would promise a close that never comes
    (RFC 5321 section 3.8), so it becomes the same temporary failure as a 451."""
    if reply.code == 421:
        return Reply(451, reply.text)
    return reply


def subject_for_list(raw: bytes, max_bytes: int, max_lines: int) -> str:
    """The Subject for the quarantine's list: bounded work, whatever the header holds
    (it may be past the limits: then only a Subject within them is found)."""
    found = first_field(raw, "subject", max_bytes, max_lines)
    if found is None or b":" not in found:  # none, or cut at the limit inside its name
        return ""
    colon = found.index(b":") + 1
    value = found[colon : colon + SUBJECT_BYTES]
    return decode_header_value(value.decode("utf-8", "replace").strip())


@functools.lru_cache(maxsize=16)
def _strip_pattern(names: HeaderNames) -> re.Pattern[bytes]:
    """Finds, at the start of a line, any field name ``_outgoing`` removes (a prefix is
    enough: it only decides whether the header block needs splitting at all)."""
    words = (names.prefix, *names.all(), "Authentication-Results")
    alternatives = b"|".join(re.escape(word.encode("ascii")) for word in words)
    return re.compile(rb"^(?:" + alternatives + rb")", re.IGNORECASE | re.MULTILINE)

"""The filter between the SMTP front and the next hop: scan, decide, act.

Each transaction is mirrored to the next hop as it happens (MAIL and every RCPT get the
next hop's own reply, so a refused recipient is refused upstream too). At the end of
DATA the message is scanned, and only then does the proxy either send it on, hold it in
the quarantine, or refuse it. The client never gets a 250 for a message that is neither
accepted by the next hop nor durably stored: every failure answers 4xx and Postfix
retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from milter.auth import Authenticator, dns_failed
from milter.auth_results import AuthResults, remove_our_auth_results
from milter.config import HeaderNames, Mode
from milter.envelope import Envelope, Param
from milter.errors import QuarantineError
from milter.headers import (
    add_fields,
    header_block,
    prefix_subject,
    remove_fields,
    split_message,
)
from milter.message_view import decode_header_value
from milter.quarantine import QuarantineStore
from milter.relay import Downstream, Relay
from milter.replies import (
    AUTH_UNAVAILABLE,
    LOCAL_ERROR,
    QUARANTINE_UNAVAILABLE,
    QUARANTINED,
    REJECTED,
    Reply,
)
from milter.scanner import Scanner
from milter.smtp_front import Transaction
from milter.verdict import Action, Verdict

log = logging.getLogger("scam_milter")
verdict_log = logging.getLogger("scam_milter.verdict")

NO_TRANSACTION = Reply(503, "5.5.1 Error: need MAIL command")
# Messages up to this size are scanned on the event loop itself (see Proxy._finish).
INLINE_SCAN_BYTES = 128 * 1024


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
    ) -> None:
        # A callable, not a Scanner: a reload swaps the scanner between messages and a
        # message in flight keeps the one it started with.
        self.scanner = scanner
        self.relay = relay
        self.store = store
        self.settings = settings
        # None: authentication is off; a reload may swap it between messages.
        self.authenticator = authenticator

    async def mail(self, tx: Transaction) -> Reply:
        reply, downstream = await self.relay.begin(tx.client, tx.mail_from, tx.mail_params)
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
        scanner = self.scanner()
        auth = await self._authenticate(raw, envelope)
        if auth is not None and self.settings.tempfail_on_dns_failure and dns_failed(auth):
            await downstream.abort()
            self._log(tx, envelope, AUTH_UNAVAILABLE, state.started, action="tempfail", auth=auth)
            return AUTH_UNAVAILABLE
        try:
            if len(raw) <= INLINE_SCAN_BYTES:
                # A few milliseconds of CPU: handing it to a thread costs more than it
                # saves (the GIL serialises the work anyway).
                verdict = scanner.scan(raw, envelope, auth)
            else:
                # A big message (PDFs, long HTML) may take a while: keep the loop free
                # for the other sessions' I/O meanwhile.
                verdict = await asyncio.to_thread(scanner.scan, raw, envelope, auth)
        except Exception:
            log.exception("scan failed; the message is deferred, never lost")
            await downstream.abort()
            self._log(tx, envelope, LOCAL_ERROR, state.started, action="tempfail", auth=auth)
            return LOCAL_ERROR
        action = verdict.action
        if action is Action.REJECT and self.settings.mode is Mode.AFTER_QUEUE:
            # After the queue, a 5xx makes Postfix bounce to the sender, who is forged
            # in these scams (backscatter). Hold it instead.
            action = Action.QUARANTINE
        if action is Action.QUARANTINE:
            reply = await self._quarantine(raw, envelope, verdict)
            await downstream.abort()
        elif action is Action.REJECT:
            await downstream.abort()
            reply = REJECTED
        else:
            reply = _upstream(await downstream.data(self._outgoing(raw, verdict, action)))
        self._log(
            tx, envelope, reply, state.started, action=action.value, verdict=verdict, auth=auth
        )
        return reply

    async def _authenticate(self, raw: bytes, envelope: Envelope) -> AuthResults | None:
        authenticator = self.authenticator
        if authenticator is None:
            return None
        try:
            return await authenticator.authenticate_async(raw, envelope)
        except Exception:
            # A bug in a check must not cost the message: scan it as if nothing had been
            # checked ("unavailable" to the rules, never a failed check).
            log.exception("authentication failed; scanning without its results")
            return None

    async def _quarantine(self, raw: bytes, envelope: Envelope, verdict: Verdict) -> Reply:
        subject = _subject(raw)
        try:
            auth = verdict.auth.to_json() if isinstance(verdict.auth, AuthResults) else None
            entry = await asyncio.to_thread(
                self.store.put, raw, envelope, verdict, subject, auth=auth
            )
        except QuarantineError as exc:
            log.error("quarantine failed, answering 4xx: %s", exc)
            return QUARANTINE_UNAVAILABLE
        return Reply(QUARANTINED.code, f"{QUARANTINED.text} as {entry.id}")

    def _outgoing(self, raw: bytes, verdict: Verdict, action: Action) -> bytes:
        """The message to relay: forged verdict headers removed, tags added when tagging."""
        names = self.settings.headers
        auth = verdict.auth
        if action is not Action.TAG and not isinstance(auth, AuthResults):
            # Nothing to add: unless a field we remove could be there, the message goes
            # as it came, without splitting its header block.
            lowered = header_block(raw).lower()
            if not any(
                name.lower().encode("ascii") in lowered
                for name in (*names.all(), "authentication-results")
            ):
                return raw
        message = remove_fields(split_message(raw), names.all())
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
    ) -> None:
        """One JSON line for every message handled, whatever became of it."""
        record = {
            # UTC, whole seconds: a verdict log file has no other time stamp.
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "client": {
                "addr": tx.client.addr,
                "name": tx.client.name,
                "helo": tx.client.helo,
                "ident": tx.client.ident,
            },
            "from": envelope.mail_from,
            "rcpt": list(envelope.rcpt_to),
            "verdict": verdict.action.value if verdict is not None else None,
            "action": action,
            "score": verdict.score if verdict is not None else None,
            "rules": [hit.id for hit in verdict.rules] if verdict is not None else [],
            "auth": _auth_summary(auth),
            "reply": f"{reply.code} {reply.text.splitlines()[0] if reply.text else ''}",
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


def _subject(raw: bytes) -> str:
    for field_bytes in split_message(raw).fields:
        if field_bytes[:8].lower() == b"subject:":
            return decode_header_value(field_bytes[8:].decode("utf-8", "replace").strip())
    return ""

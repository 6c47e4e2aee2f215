"""Exactly once: how the proxy uses the ledger (milter/ledger/store.py) around a message.

At the end of DATA the proxy asks ``Dedupe.seen``: a message the next hop already
accepted, or the quarantine already holds, within the ledger's window, is answered 250
again and not relayed or stored a second time. After the next hop's 250 (``relayed``,
also for a 250 that came late) and while the quarantine stores a message
(``quarantine``), its key is committed before our 250 can leave.

``relayed_async`` is for the event loop: the ledger's writer thread writes what the
sessions hand it in batches (one sync for all the records that came meanwhile) and
wakes the loop once per batch (bench/ledger_cost.py). ``relayed`` and ``quarantine``
block (a sync, files); the proxy calls ``quarantine`` in a thread, and ``seen`` on the
loop only once the ledger is open (a lookup is a dictionary probe then). None of them
lets a ledger failure cost a message: lookups then miss and records are skipped, with a
log line; the worst that follows is the duplicate there was without the ledger.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from milter.errors import QuarantineError
from milter.ledger.store import Ledger, LedgerError, Outcome, message_key
from milter.mail.envelope import Envelope
from milter.quarantine.store import QuarantineEntry, QuarantineStore
from milter.scan.verdict import Verdict
from milter.smtp.replies import QUARANTINED, Reply

log = logging.getLogger("scam_milter.dedupe")

# A ledger that fails keeps failing for every message; one line a minute says so.
_COMPLAIN_EVERY = 60.0
_STATUS_CODE = re.compile(r"[245]\.\d{1,3}\.\d{1,3} +")


@dataclass(frozen=True)
class Seen:
    """A message handled before: what to answer, and what became of it then."""

    reply: Reply
    outcome: Outcome


class Dedupe:
    """The ledger beside the quarantine; ``ledger`` None: nothing is ever seen."""

    def __init__(self, ledger: Ledger | None, store: QuarantineStore) -> None:
        self.ledger = ledger
        self.store = store
        self._complained = 0.0

    def key(self, envelope: Envelope, raw: bytes) -> bytes | None:
        """The message's ledger key; None: not deduplicated (no ledger, or see
        ``ledger.dedupe_body``). The other methods do nothing for a None key."""
        if self.ledger is None:
            return None
        return message_key(envelope.mail_from, envelope.rcpt_to, raw)

    def seen(self, key: bytes | None) -> Seen | None:
        """What to answer a retry of a message already relayed or held; None: new."""
        if self.ledger is None or key is None:
            return None
        try:
            record = self.ledger.lookup(key)
        except LedgerError as exc:
            self._complain("lookup", exc)
            return None
        if record is None:
            return None
        if record.outcome is Outcome.RELAYED:
            return Seen(Reply(250, f"2.0.0 OK: delivered before ({record.ref})"), record.outcome)
        try:
            # The key is committed before the entry's meta file: a crash in between
            # leaves a key without a message, which must not be answered 250.
            self.store.record(record.ref)
        except QuarantineError:
            return None
        return Seen(Reply(QUARANTINED.code, f"{QUARANTINED.text} as {record.ref}"), record.outcome)

    def relayed(self, key: bytes | None, reply: Reply) -> None:
        """The next hop accepted the message (``reply``): commit the key (blocking)."""
        if self.ledger is None or key is None:
            return
        try:
            self.ledger.record(key, Outcome.RELAYED, _ref(reply))
        except LedgerError as exc:
            self._complain("record", exc)

    async def relayed_async(self, key: bytes | None, reply: Reply) -> None:
        """``relayed`` for the event loop: returns once the key is committed.

        Cancelling the caller does not withdraw the record: the next hop has the
        message whether or not our 250 still reaches anyone.
        """
        if self.ledger is None or key is None:
            return
        try:
            await self.ledger.record_async(key, Outcome.RELAYED, _ref(reply))
        except LedgerError as exc:
            self._complain("record", exc)

    def quarantine(
        self,
        key: bytes | None,
        raw: bytes,
        envelope: Envelope,
        verdict: Verdict,
        subject: str,
        *,
        auth: dict[str, Any] | None = None,
    ) -> QuarantineEntry:
        """``store.put``, with the key committed between the message and its meta file."""
        ledger = self.ledger

        def note(entry_id: str) -> None:
            if ledger is None or key is None:
                return
            try:
                ledger.record(key, Outcome.QUARANTINED, entry_id)
            except LedgerError as exc:
                # The message is stored all the same; only its retry is not recognised.
                self._complain("record", exc)

        return self.store.put(raw, envelope, verdict, subject, auth=auth, before_commit=note)

    def _complain(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._complained >= _COMPLAIN_EVERY or not self._complained:
            self._complained = now
            log.error("ledger %s failed, going on without it (duplicates possible): %s", what, exc)


def _ref(reply: Reply) -> str:
    """The next hop's own words, for the answer to a retry ("Ok: queued as 4QxYz")."""
    first = reply.text.split("\n", 1)[0]
    return _STATUS_CODE.sub("", first, count=1)[:200]

"""Releasing held messages: deliver each to the next hop, then mark it released.

What ``scam-milter quarantine release`` does, without the argument parsing and the
output (``milter/cli/quarantine.py``). A release is all or nothing: the original
envelope (or other recipients) in one SMTP transaction at the next hop, and the entry is
marked released only once the next hop accepted the data. The entry stays claimed (an
exclusive lock on its message file) from the read to the mark, so two admins cannot
release one message twice. README's Quarantine section describes it for admins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from types import TracebackType
from typing import Self

from milter.auth.results import remove_our_auth_results
from milter.config import Config, relay_settings
from milter.errors import QuarantineError
from milter.hostport import host_port_text
from milter.mail.envelope import ClientInfo, Envelope
from milter.mail.headers import HeaderNames, add_fields, remove_fields, split_message
from milter.quarantine.store import QuarantineStore, Status, utc_text
from milter.smtp.relay import Relay
from milter.smtp.replies import Reply

# Added to a released message (RFC 5322 3.6.8 optional field), and removed when it
# arrives from outside, so a scammer cannot make a message look reviewed.
RELEASED_HEADER = "X-Scam-Released"


class ReleaseError(QuarantineError):
    """The release was understood but not done: already released, refused by the next
    hop (the message stays held), or delivered but not marked released."""


@dataclass(frozen=True)
class Delivery:
    """The outcome of one transaction at the next hop: accepted, or where it stopped."""

    accepted: bool
    step: str  # MAIL FROM, RCPT TO:<…>, DATA
    reply: str  # "250 2.0.0 Ok: queued as …"


@dataclass(frozen=True)
class Released:
    """One message released: to whom, through which next hop, and what it answered."""

    entry_id: str
    recipients: tuple[str, ...]
    hop: str  # host:port, [IPv6]:port
    reply: str


class NextHopRun:
    """One connection to the next hop for a run of messages (a bulk release or report
    saves the handshakes), closed at the end: an async context manager. ``hop`` is the
    next hop as host:port, for what the command prints."""

    def __init__(self, config: Config, next_hop: tuple[str, int] | None) -> None:
        if next_hop is not None:
            config = replace(config, next_hop=next_hop)
        self.config = config
        self.hop = host_port_text(*config.next_hop)
        self._relay = Relay(replace(relay_settings(config), pool_size=1))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._relay.close()


class Releaser(NextHopRun):
    """Releases messages through one relay to the config's next hop (or ``next_hop``)."""

    def __init__(
        self,
        config: Config,
        *,
        next_hop: tuple[str, int] | None = None,
        to: Sequence[str] | None = None,
        force: bool = False,
    ) -> None:
        """``to`` replaces the original recipients; ``force`` releases a released message
        again."""
        super().__init__(config, next_hop)
        self._headers = config.headers
        self._authserv_id = config.authserv_id()
        self._to = tuple(to) if to else None
        self._force = force

    async def release(
        self, store: QuarantineStore, entry_id: str, *, user: str | None = None
    ) -> Released:
        """Deliver ``entry_id`` and mark it released, by ``user`` (the store's Unix user
        unless the caller names another, as the review page names its web user).

        Raises ReleaseError (already released, refused, or delivered but not marked),
        EntryStateError (deleted, expired, busy in another process) and QuarantineError
        (unknown id, unreadable or altered files).
        """
        # The claim is held across the delivery: a second `release` of this id in
        # another shell is refused while this one is in flight.
        with store.claim(entry_id) as claim:
            entry = claim.record.entry
            if entry.status is Status.RELEASED and not self._force:
                last = [e for e in claim.record.events if e.status is Status.RELEASED][-1]
                raise ReleaseError(
                    f"quarantined message {entry_id} was already released at "
                    f"{utc_text(last.time)} by {last.user}; --force releases it again."
                )
            raw = claim.raw()
            data = released_message(
                raw, user or store.user, datetime.now(UTC), self._headers, self._authserv_id
            )
            envelope = release_envelope(claim.record.envelope, self._to, len(data))
            delivery = await deliver(self._relay, envelope, data)
            if not delivery.accepted:
                raise ReleaseError(
                    f"release of {entry_id} failed: next hop {self.hop} answered "
                    f"{delivery.reply} to {delivery.step}; the message stays {entry.status.value}."
                )
            detail = {"to": list(envelope.rcpt_to), "next_hop": self.hop, "reply": delivery.reply}
            try:
                claim.commit(Status.RELEASED, user=user, detail=detail)
            except QuarantineError as exc:
                # Delivered, so say so: a retry would deliver it twice.
                raise ReleaseError(
                    f"{entry_id} was delivered ({delivery.reply}) but not marked: {exc}"
                ) from exc
        return Released(entry_id, envelope.rcpt_to, self.hop, delivery.reply)


def released_message(
    raw: bytes, user: str, now: datetime, headers: HeaderNames, authserv_id: str
) -> bytes:
    """The message as released: ``RELEASED_HEADER`` first, nothing else changed but the
    removal of our fields (``headers``: the names and every field under the prefix) and
    of Authentication-Results under our ``authserv_id`` that came from outside, as the
    proxy does."""
    who = "".join(c if c.isascii() and c.isprintable() else "?" for c in user)
    message = remove_fields(
        split_message(raw), (*headers.all(), RELEASED_HEADER), prefixes=(headers.prefix,)
    )
    message = remove_our_auth_results(message, authserv_id)
    message = add_fields(message, [(RELEASED_HEADER, f"by {who} at {format_datetime(now)}")])
    return message.to_bytes()


def release_envelope(original: Envelope, to: Sequence[str] | None, size: int) -> Envelope:
    """The original envelope, or the original sender with ``to`` as the recipients.

    SIZE (RFC 1870) is set to the size actually sent: the added header makes it larger.
    """
    mail_params = tuple(
        (key, str(size)) if key.upper() == "SIZE" else (key, value)
        for key, value in original.mail_params
    )
    if to:
        rcpt_to, rcpt_params = tuple(to), tuple(() for _ in to)
    else:
        rcpt_to = original.rcpt_to
        rcpt_params = tuple(
            original.rcpt_params[i] if i < len(original.rcpt_params) else ()
            for i in range(len(rcpt_to))
        )
    return Envelope(
        mail_from=original.mail_from or "",
        rcpt_to=rcpt_to,
        mail_params=mail_params,
        rcpt_params=rcpt_params,
        client=original.client,
    )


async def deliver(relay: Relay, envelope: Envelope, data: bytes) -> Delivery:
    """One transaction at the next hop, all or nothing: a refused recipient ends it
    before DATA, so a message is never delivered to some recipients and left held."""
    client: ClientInfo = envelope.client
    assert envelope.mail_from is not None
    reply, downstream = await relay.begin(client, envelope.mail_from, envelope.mail_params)
    if downstream is None:
        return Delivery(False, "MAIL FROM", _reply_text(reply))
    for rcpt, params in zip(envelope.rcpt_to, envelope.rcpt_params, strict=True):
        reply = await downstream.rcpt(rcpt, params)
        if not reply.positive:
            await downstream.abort()
            return Delivery(False, f"RCPT TO:<{rcpt}>", _reply_text(reply))
    reply = await downstream.data(data)
    return Delivery(reply.code == 250, "DATA", _reply_text(reply))


def _reply_text(reply: Reply) -> str:
    return f"{reply.code} {' '.join(reply.text.splitlines())}".strip()

"""Reporting a held scam to a national reporting desk (``scam-milter quarantine report``).

What ``quarantine report`` does, without the argument parsing and the output
(``milter/cli/quarantine.py``): the held message goes, whole and unchanged, as a
``message/rfc822`` attachment of a short mail of ours to the desk's address (the seed
ends with "report it to verdacht@safeonweb.be"; the README lists others), through the
config's next hop like a release. The desks ask for the scam as an attachment: its
headers are the evidence, and a forward inline would lose them. The entry records who
reported it, to whom, when and what the next hop answered; a message is reported once,
again only with ``force``. Its status does not change: it stays held or released.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from milter.config import Config
from milter.errors import QuarantineError
from milter.mail.envelope import Envelope
from milter.quarantine.records import QuarantineEntry
from milter.quarantine.release import NextHopRun, deliver
from milter.quarantine.store import QuarantineStore, utc_text

__all__ = ["ReportError", "Reported", "Reporter", "report_message"]


class ReportError(QuarantineError):
    """The report was understood but not sent (already reported, no address, refused by
    the next hop), or sent but not recorded."""


@dataclass(frozen=True)
class Reported:
    entry_id: str
    to: str
    hop: str
    reply: str


def report_message(
    raw: bytes, entry: QuarantineEntry, sender: str, to: str, hostname: str, now: datetime
) -> bytes:
    """Our mail to the desk: who we are and why the message was held, then the message
    itself as an attachment, byte for byte (a message/rfc822 part is sent as 8bit)."""
    report = EmailMessage(policy=SMTP)
    report["From"] = sender
    report["To"] = to
    # The subject of the scam is text from a stranger: one line of it, no controls.
    subject = " ".join("".join(c if c.isprintable() else " " for c in entry.subject).split())
    report["Subject"] = f"Scam report: {subject[:150]}" if subject else "Scam report"
    report["Date"] = format_datetime(now)
    report["Message-ID"] = make_msgid(domain=hostname)
    rules = ", ".join(str(rule.get("id", "")) for rule in entry.rules[:10])
    client = entry.client_addr or "unknown"
    report.set_content(
        "The attached message reached our mail server and was held as a likely scam by\n"
        f"scam-milter on {hostname}. We forward it to you as it arrived.\n\n"
        f"Received: {utc_text(entry.time)} from {client}\n"
        f"Envelope sender: {entry.mail_from or '<>'}\n"
        f"Verdict: {entry.action}, score {entry.score:g}\n"
        f"Rules: {rules or '-'}\n"
    )
    report.add_attachment(
        raw, maintype="message", subtype="rfc822", filename=f"{entry.id}.eml", cte="8bit"
    )
    return report.as_bytes()


class Reporter(NextHopRun):
    """Reports messages through one relay to the config's next hop (or ``next_hop``)."""

    def __init__(
        self,
        config: Config,
        *,
        to: str | None = None,
        sender: str | None = None,
        next_hop: tuple[str, int] | None = None,
        force: bool = False,
    ) -> None:
        address = to or config.report.to
        if not address:
            raise ReportError(
                "no address to report to: set report.to in the config (README lists the "
                "national desks) or give --to."
            )
        super().__init__(config, next_hop)
        self.to = address
        self.sender = sender or config.report.sender or f"postmaster@{config.hostname}"
        self._hostname = config.hostname
        self._force = force

    async def report(
        self, store: QuarantineStore, entry_id: str, *, user: str | None = None
    ) -> Reported:
        """Send ``entry_id`` to the desk and record it. Raises ReportError, and what
        ``QuarantineStore.claim`` raises (unknown id, deleted, busy)."""
        with store.claim(entry_id) as claim:
            previous = claim.record.reports
            if previous and not self._force:
                last = previous[-1]
                raise ReportError(
                    f"quarantined message {entry_id} was already reported to {last.to} at "
                    f"{utc_text(last.time)} by {last.user}; --force reports it again."
                )
            data = report_message(
                claim.raw(),
                claim.record.entry,
                self.sender,
                self.to,
                self._hostname,
                datetime.now(UTC),
            )
            envelope = Envelope(mail_from=self.sender, rcpt_to=(self.to,), rcpt_params=((),))
            delivery = await deliver(self._relay, envelope, data)
            if not delivery.accepted:
                raise ReportError(
                    f"report of {entry_id} failed: next hop {self.hop} answered "
                    f"{delivery.reply} to {delivery.step}; nothing was sent."
                )
            try:
                claim.add_report(self.to, delivery.reply, user=user)
            except QuarantineError as exc:
                # Sent, so say so: a retry would report it twice.
                raise ReportError(
                    f"{entry_id} was reported ({delivery.reply}) but not recorded: {exc}"
                ) from exc
        return Reported(entry_id, self.to, self.hop, delivery.reply)

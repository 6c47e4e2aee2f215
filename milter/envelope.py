"""The SMTP envelope of a message, as far as it is known."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Envelope:
    """Sender and recipients as given in MAIL FROM / RCPT TO.

    ``mail_from`` is ``None`` when unknown (e.g. ``scam-milter check`` on a file) and
    ``""`` for the null sender ``<>``.
    """

    mail_from: str | None = None
    rcpt_to: tuple[str, ...] = ()
    client_ip: str | None = None
    helo: str | None = None

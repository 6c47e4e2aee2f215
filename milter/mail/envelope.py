"""The SMTP envelope of a message and the client that sent it, as far as they are known."""

from __future__ import annotations

from dataclasses import dataclass

# An ESMTP parameter exactly as the client sent it: keyword in its original case and the
# value (None for a bare keyword such as SMTPUTF8). Kept raw so the proxy passes DSN
# parameters (ENVID, RET, NOTIFY, ORCPT) on unchanged.
Param = tuple[str, str | None]


@dataclass(frozen=True)
class ClientInfo:
    """The real SMTP client: from XFORWARD in after-queue mode, else the connection.

    Postfix's XFORWARD attributes (XFORWARD_README); ``None`` stands for unknown, which
    Postfix sends as ``[UNAVAILABLE]``.
    """

    name: str | None = None  # the client's verified host name
    addr: str | None = None  # IP address, without Postfix's "IPv6:" prefix
    port: int | None = None
    proto: str | None = None  # SMTP or ESMTP
    helo: str | None = None
    ident: str | None = None  # the upstream queue id, for log correlation
    source: str | None = None  # LOCAL or REMOTE


@dataclass(frozen=True)
class Envelope:
    """Sender, recipients and their ESMTP parameters, as given in MAIL FROM / RCPT TO.

    ``mail_from`` is ``None`` when unknown (e.g. ``scam-milter check`` on a file) and
    ``""`` for the null sender ``<>``. ``rcpt_params[i]`` belongs to ``rcpt_to[i]``.
    """

    mail_from: str | None = None
    rcpt_to: tuple[str, ...] = ()
    mail_params: tuple[Param, ...] = ()
    rcpt_params: tuple[tuple[Param, ...], ...] = ()
    client: ClientInfo = ClientInfo()

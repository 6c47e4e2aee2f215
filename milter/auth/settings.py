"""The settings sender authentication owns (the ``auth`` section of the config, which
milter/config.py reads into this)."""

from __future__ import annotations

from dataclasses import dataclass, field

from milter.auth.dns import DnsSettings


@dataclass(frozen=True)
class AuthSettings:
    enabled: bool = True
    # The authserv-id of our Authentication-Results headers; empty: the config's hostname.
    authserv_id: str = ""
    dns: DnsSettings = field(default_factory=DnsSettings)
    timeout: float = 5.0  # for all the lookups of one message together
    # What a DNS failure does to a message: "scan" it without the missing results
    # (temperror in the header and in the rules' view), or "tempfail" it (451, Postfix
    # retries later, when the DNS may answer).
    on_dns_failure: str = "scan"
    # Host names of MTAs whose Received header tells the client when the session does not.
    trusted_mtas: tuple[str, ...] = ()
    max_dkim_signatures: int = 5

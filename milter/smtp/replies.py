"""SMTP replies the proxy gives of its own, as named values (RFC 5321 and RFC 3463 codes).

Replies mirrored from the next hop are passed on as they come; these are the ones the
filter decides itself. Every failure of ours is a 4xx: Postfix keeps the message and
retries, so nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    code: int
    text: str  # may start with an enhanced status code, e.g. "4.3.0 ..."; may hold "\n"

    def __post_init__(self) -> None:
        if not 200 <= self.code <= 599:
            raise ValueError(f"SMTP reply code out of range: {self.code}")

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    @property
    def positive(self) -> bool:
        return self.code < 400

    def __str__(self) -> str:
        """The reply as aiosmtpd expects it: lines joined with CRLF continuation."""
        lines = self.text.split("\n") or [""]
        head = [f"{self.code}-{line}" for line in lines[:-1]]
        return "\r\n".join([*head, f"{self.code} {lines[-1]}"])


OK = Reply(250, "2.0.0 OK")
QUARANTINED = Reply(250, "2.0.0 OK: held for review")
REJECTED = Reply(550, "5.7.1 Message refused: it looks like an extortion or impersonation scam")
LOCAL_ERROR = Reply(451, "4.3.0 Error in processing, please try again later")
# RFC 3463 X.4.3: a directory (DNS) failure; Postfix retries, when the DNS may answer.
AUTH_UNAVAILABLE = Reply(451, "4.4.3 Sender authentication unavailable, try again later")
QUARANTINE_UNAVAILABLE = Reply(451, "4.3.0 Cannot store the message for review, try again later")
NEXT_HOP_DOWN = Reply(451, "4.4.1 Next hop unavailable, try again later")
NEXT_HOP_TIMEOUT = Reply(451, "4.4.2 Next hop timed out, try again later")
NEXT_HOP_LOST = Reply(451, "4.4.2 Connection to next hop lost, try again later")
TOO_BUSY = Reply(421, "4.3.2 Too many connections, try again later")
SHUTTING_DOWN = Reply(421, "4.3.2 Service shutting down, try again later")
TIMEOUT = Reply(421, "4.4.2 Timeout, closing connection")

"""From rule matches to an action: the score thresholds and the verdict value."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from milter.scan.auth_view import AuthView


class Action(enum.Enum):
    """What happens to a message, mildest first."""

    ACCEPT = "accept"
    TAG = "tag"
    QUARANTINE = "quarantine"
    REJECT = "reject"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def held(self) -> bool:
        """True when the message does not reach the mailbox."""
        return self in (Action.QUARANTINE, Action.REJECT)


_RANK = {Action.ACCEPT: 0, Action.TAG: 1, Action.QUARANTINE: 2, Action.REJECT: 3}


@dataclass(frozen=True)
class Thresholds:
    """Score at or above which each action applies (README, "Configuration": tag at 5,
    quarantine at 10, reject at 15)."""

    tag: float = 5.0
    quarantine: float = 10.0
    reject: float = 15.0

    def __post_init__(self) -> None:
        if not self.tag <= self.quarantine <= self.reject:
            raise ValueError(
                f"thresholds must satisfy tag <= quarantine <= reject, "
                f"got tag={self.tag}, quarantine={self.quarantine}, reject={self.reject}"
            )

    def action_for(self, score: float) -> Action:
        if score >= self.reject:
            return Action.REJECT
        if score >= self.quarantine:
            return Action.QUARANTINE
        if score >= self.tag:
            return Action.TAG
        return Action.ACCEPT


@dataclass(frozen=True)
class RuleHit:
    """A reported rule: its id, the score it added and the original text that matched."""

    id: str
    score: float
    evidence: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    action: Action
    score: float
    rules: tuple[RuleHit, ...]
    # The rules that matched, building blocks (__ID) included: all of them when scanned
    # with every_rule (rule examples), else those some evaluated rule referred to.
    matched_ids: frozenset[str] = frozenset()
    # The sender authentication the rules read (an AuthResults in the proxy and check).
    auth: AuthView | None = None
    # Problems met while scanning (MIME defects, regex time-outs): never a reason to drop mail.
    notes: tuple[str, ...] = ()
    # What a scan limit left unread, one reason each (structure.py); empty when the whole
    # message was read. A partial verdict is scored and never accepted (PARTIAL_READ_RULE).
    partial: tuple[str, ...] = ()
    # Images in the message, and how many of them OCR read (cached ones included).
    images_found: int = 0
    images_read: int = 0
    # (image name, the text OCR read in it) for each image with text: the quarantine
    # keeps it for the review page, which never decodes an image itself.
    image_texts: tuple[tuple[str, str], ...] = ()


# A verdict built on a partial read carries this hit, its reasons as evidence, so admins
# see it wherever they see rules (check, the verdict headers, the quarantine), and it is
# held at least as tag whatever its score: the part not read may be the scam, and a
# message only reaches a limit with padding or structure no mail client produces.
PARTIAL_READ_RULE = "SCAN_PARTIAL_READ"
# Reaches the default tag threshold alone; with any other signal it goes beyond.
PARTIAL_READ_SCORE = 5.0
PARTIAL_READ_FLOOR = Action.TAG


def decide(
    thresholds: Thresholds, score: float, forced: Action | None, *, partial: bool = False
) -> Action:
    """The score's action, raised to a rule's forced action when that is stronger, and
    to PARTIAL_READ_FLOOR when the message was not read whole."""
    action = thresholds.action_for(score)
    if forced is not None and forced.rank > action.rank:
        action = forced
    if partial and PARTIAL_READ_FLOOR.rank > action.rank:
        action = PARTIAL_READ_FLOOR
    return action

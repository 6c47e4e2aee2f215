"""What every detector shares: the Hit it returns, the DetectorContext it may read, and
the Detector signature the rule engine calls."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from milter.mail.structure import Structure
from milter.scan.identities.registry import IdentityRegistry
from milter.scan.normalize import NormalizedText

__all__ = [
    "Detector",
    "DetectorContext",
    "Hit",
    "alternation",
    "may_name_authority",
    "whole_text_hit",
]


@dataclass(frozen=True)
class Hit:
    """One finding. ``start``/``end`` index ``NormalizedText.cased`` when ``cased`` is
    true, else ``NormalizedText.text``."""

    start: int
    end: int
    value: str
    cased: bool
    # A quote to show instead of the text at start:end (detectors that judge a text
    # as a whole, such as a domain, quote what they found there).
    evidence: str | None = None


@dataclass(frozen=True)
class DetectorContext:
    """What a detector may know about the message besides its text."""

    recipients: tuple[str, ...] = ()  # lower-case addresses of the message's recipients
    identities: IdentityRegistry | None = None  # the protected identities (scan/identities)
    from_domain: str = ""  # the From header's domain
    structure: Structure | None = None  # how the message is built (mail/structure.py)
    # Answers that several detectors need about the same text of this message (whether
    # it may name any authority at all): a context lives for one scan, so this is
    # per-message, never shared.
    memo: dict[tuple[str, str], bool] = field(default_factory=dict, compare=False, repr=False)


Detector = Callable[[NormalizedText, DetectorContext], list[Hit]]


def whole_text_hit(normalized: NormalizedText, value: str, evidence: str) -> Hit:
    """A hit for a judgement of the text as a whole, quoting ``evidence``."""
    return Hit(0, len(normalized.text), value, cased=False, evidence=evidence)


def alternation(words: Iterable[str]) -> str:
    """A regex alternative of ``words``, escaped."""
    # Longest first, so "euros" is not cut to "euro" + "s".
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def may_name_authority(normalized: NormalizedText, context: DetectorContext) -> bool:
    """Whether ``normalized`` may name any authority of the registry or the lexicon
    (``IdentityRegistry.may_claim_any``), asked once per text of a message: the claim
    detectors read the same display name, subject, letterhead and signature."""
    registry = context.identities
    if registry is None:
        return False
    key = ("authority", normalized.text)
    found = context.memo.get(key)
    if found is None:
        found = context.memo[key] = registry.may_claim_any(normalized.text)
    return found

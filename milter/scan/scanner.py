"""The scanner: raw message in, verdict out. Pure and synchronous (no I/O, no event loop).

scan(raw, envelope) = parse (message_view) -> targets (normalise) -> rules (rule_engine)
                      -> score and action (verdict)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from milter.mail.envelope import Envelope
from milter.mail.view import MessageView, MimeHeaderCache, ViewLimits, parse_message
from milter.scan.auth_view import AuthView
from milter.scan.detectors import DetectorContext
from milter.scan.forwards import QUOTED_SCAM_RULE, author_view, is_forward
from milter.scan.identities.registry import IdentityRegistry
from milter.scan.rules.engine import RuleSet
from milter.scan.rules.loader import IDENTITIES_FILE, Rule, load_rules
from milter.scan.targets import MessageTargets
from milter.scan.verdict import (
    PARTIAL_READ_RULE,
    PARTIAL_READ_SCORE,
    Action,
    RuleHit,
    Thresholds,
    Verdict,
    decide,
)


@dataclass(frozen=True)
class ScanSettings:
    thresholds: Thresholds = field(default_factory=Thresholds)
    limits: ViewLimits = field(default_factory=ViewLimits)
    # Bound for each regex search over one text: a hostile message cannot stall a scan.
    regex_timeout: float = 0.2
    # The organisation's own mail domains (subdomains included): a scam they forward
    # or quote, DMARC-aligned, is tagged, not held (scan/forwards.py).
    internal_domains: tuple[str, ...] = ()


class Scanner:
    """Compiled rules plus settings. Build once, then scan many messages."""

    def __init__(
        self,
        rules: Iterable[Rule],
        settings: ScanSettings | None = None,
        identities: IdentityRegistry | None = None,
    ) -> None:
        self.settings = settings or ScanSettings()
        self.ruleset = RuleSet(rules, regex_timeout=self.settings.regex_timeout)
        self.identities = identities
        self.mime_headers = MimeHeaderCache()

    @classmethod
    def from_rule_paths(
        cls, paths: Iterable[Path], settings: ScanSettings | None = None
    ) -> Scanner:
        """Load every rule under ``paths``, and the identity registry from the
        ``identities.yml`` beside them; raises ``RuleError`` for a broken file."""
        paths = tuple(paths)
        registries = [p for p in paths if p.is_dir() or p.name == IDENTITIES_FILE]
        return cls(load_rules(paths), settings, IdentityRegistry.load(registries))

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.ruleset.rules

    def scan(
        self,
        raw: bytes,
        envelope: Envelope | None = None,
        auth: AuthView | None = None,
        *,
        every_rule: bool = False,
        deadline: float | None = None,
    ) -> Verdict:
        """The verdict on ``raw``. Its ``matched_ids`` name every building block that
        matched only with ``every_rule`` (rule examples need them); otherwise building
        blocks are evaluated only for the rules that refer to them, which is faster and
        gives the same verdict. Parts are read in order until ``deadline`` (monotonic
        time) if it comes before the scan's own time limit; the rest is read as past
        any limit (its last parts only) and the verdict says it is partial."""
        view = self.view(raw, envelope, deadline=deadline)
        return self.scan_view(view, auth, every_rule=every_rule)

    def view(
        self, raw: bytes, envelope: Envelope | None = None, *, deadline: float | None = None
    ) -> MessageView:
        """The one parse of ``raw`` that every stage shares: the sender authentication
        reads its header fields (``raw_headers``), ``scan_view`` the rest. Never raises."""
        return parse_message(
            raw,
            envelope or Envelope(),
            self.settings.limits,
            mime_headers=self.mime_headers,
            deadline=deadline,
        )

    def scan_view(
        self, view: MessageView, auth: AuthView | None = None, *, every_rule: bool = False
    ) -> Verdict:
        verdict = self._judge(view, auth, every_rule)
        if verdict.action.rank < Action.QUARANTINE.rank:
            return verdict
        # Held: if it forwards or quotes, judge what its sender wrote (scan/forwards.py).
        own = author_view(view)
        if own is None or not is_forward(own[0], own[1], auth, self.settings.internal_domains):
            return verdict
        if self._judge(own[0], auth, every_rule).action.rank >= Action.QUARANTINE.rank:
            return verdict
        why = "the scam is only in what the message quotes or forwards"
        return replace(
            verdict,
            action=Action.TAG,
            rules=(*verdict.rules, RuleHit(QUOTED_SCAM_RULE, 0.0, (why,), ("scan",))),
        )

    def _judge(self, view: MessageView, auth: AuthView | None, every_rule: bool) -> Verdict:
        recipients = tuple(
            dict.fromkeys(a.lower() for a in (*view.envelope.rcpt_to, *view.to) if a)
        )
        context = DetectorContext(
            recipients=recipients,
            identities=self.identities,
            from_domain=view.from_domain,
            structure=view.structure,
        )
        outcome = self.ruleset.match(MessageTargets(view, auth), context, every_rule=every_rule)
        score = 0.0
        forced: Action | None = None
        hits: list[RuleHit] = []
        for match in outcome.matches:
            rule = match.rule
            if rule.action is not None and (forced is None or rule.action.rank > forced.rank):
                forced = rule.action
            if rule.internal:
                continue
            score += rule.score
            hits.append(RuleHit(rule.id, rule.score, match.evidence, rule.tags))
        # Logos skipped by size are no news; images not read, bombs, broken ones are.
        unread = tuple(
            f"image {image.name}: {image.note}"
            for image in view.image_texts
            if image.note and not image.note.startswith("skipped:")
        )
        partial = view.structure.partial
        if partial:
            score += PARTIAL_READ_SCORE
            hits.append(RuleHit(PARTIAL_READ_RULE, PARTIAL_READ_SCORE, partial, ("scan",)))
        hits.sort(key=lambda hit: (-hit.score, hit.id))
        score = round(score, 3)
        return Verdict(
            action=decide(self.settings.thresholds, score, forced, partial=bool(partial)),
            score=score,
            rules=tuple(hits),
            matched_ids=frozenset(m.rule.id for m in outcome.matches),
            auth=auth,
            notes=(*view.defects, *outcome.notes, *unread),
            images_found=len(view.images),
            images_read=sum(1 for image in view.image_texts if not image.note),
            image_texts=tuple((image.name, image.text) for image in view.image_texts if image.text),
            partial=partial,
        )

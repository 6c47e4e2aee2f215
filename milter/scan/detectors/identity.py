"""The detectors that consult the protected identities (scan/identities):
``protected_domain``, ``lookalike_domain`` and ``identity_claim``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from milter.scan.detectors.base import DetectorContext, Hit, may_name_authority, whole_text_hit
from milter.scan.identities.registry import IdentityRegistry
from milter.scan.normalize import NormalizedText

__all__ = ["find_identity_claims", "find_lookalike_domain", "find_protected_domain"]

# These judge a domain or a claim against the registry of authorities (scan/identities).
# Domains are read from the original text: normalisation folds look-alike characters, and
# "pоlice.be" with a Cyrillic "о" must not become the real police.be.

_Found = TypeVar("_Found")


def _look_up(
    normalized: NormalizedText,
    context: DetectorContext,
    look: Callable[[IdentityRegistry, str], _Found | None],
) -> tuple[str, _Found] | None:
    """The domain (or address's domain) the text is, and what ``look`` finds of it in the
    registry; None when there is no registry, no domain or nothing found."""
    registry = context.identities
    value = normalized.original.strip().strip("<>")
    domain = value.rpartition("@")[2] if "@" in value else value
    found = look(registry, domain) if registry is not None and domain else None
    return None if found is None else (domain, found)


def find_protected_domain(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """A domain (or address) of a protected authority, or under one."""
    found = _look_up(normalized, context, IdentityRegistry.owner)
    if found is None:
        return []
    domain, identity = found
    return [whole_text_hit(normalized, identity.id, domain)]


def find_lookalike_domain(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """A domain (or address) made to look like a protected authority's."""
    found = _look_up(normalized, context, IdentityRegistry.lookalike)
    if found is None:
        return []
    domain, match = found
    # The quote is the domain as written; what it imitates is in the value, which keeps
    # two look-alikes of different authorities apart.
    return [whole_text_hit(normalized, f"{match.domain}~{match.protected}", domain)]


def find_identity_claims(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """The text presents the sender as an authority the From domain does not belong to.

    Mail from the authority's own domain is left to the DMARC rules: a claim is only
    suspect here when it comes from somewhere else (freemail, a look-alike, any domain).
    """
    registry = context.identities
    if registry is None or not may_name_authority(normalized, context):
        return []
    if not registry.may_claim(normalized.text):
        return []
    owner = registry.owner(context.from_domain) if context.from_domain else None
    # The claim's offsets are in the original text, not in the normalised one a Hit
    # indexes: the hit spans the text and quotes the claim itself.
    return [
        whole_text_hit(normalized, claim.identity.id, claim.evidence)
        for claim in registry.claims(normalized.original)
        if claim.identity != owner
    ]

"""The values of the identities package: a protected authority, a claim to be one, a
look-alike of one of its domains (docs/identities.md)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Final

from milter.errors import RuleError

__all__ = [
    "ID_PATTERN",
    "LIST_KEYS",
    "ClaimKind",
    "Identity",
    "IdentityClaim",
    "LookalikeKind",
    "LookalikeMatch",
    "registry_error",
]

#: What an identity id looks like (the id rules report).
ID_PATTERN: Final = re.compile(r"[A-Z][A-Z0-9_]*")
#: The keys of an identity that hold lists of strings.
LIST_KEYS: Final = ("domains", "names", "signatures")


@dataclass(frozen=True)
class Identity:
    """A protected authority.

    ``domains`` are canonical (see ``canonical_domain``); subdomains belong to the
    authority too. ``names`` and ``signatures`` are written as in the registry.
    ``path`` and ``line`` say where it was defined (the last file that changed it).
    """

    id: str
    title: str
    domains: tuple[str, ...]
    names: tuple[str, ...] = field(repr=False)
    signatures: tuple[str, ...] = field(default=(), repr=False)
    description: str = field(default="", repr=False)
    path: str = field(default="", compare=False, repr=False)
    line: int = field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not ID_PATTERN.fullmatch(self.id):
            raise ValueError(f"identity id {self.id!r} must be upper-case letters, digits and _")
        for key in LIST_KEYS:
            value = getattr(self, key)
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"identity {self.id}: {key} must be a tuple of strings")
        if not self.domains or not self.names:
            raise ValueError(f"identity {self.id}: needs at least one domain and one name")


def registry_error(identity: Identity, message: str) -> RuleError:
    """A ``RuleError`` about ``identity``, naming where it was defined."""
    return RuleError(message, path=identity.path, line=identity.line, rule_id=identity.id)


class ClaimKind(enum.Enum):
    """Which list of the registry a claimed phrase comes from."""

    NAME = "name"
    SIGNATURE = "signature"


@dataclass(frozen=True)
class IdentityClaim:
    """A phrase of ``identity`` found in a text.

    ``phrase`` is the registry's phrase as written there; ``evidence`` quotes the text
    that matched it, and ``start``/``end`` are its offsets in the text given (the
    original, not a normalised copy).
    """

    identity: Identity
    phrase: str
    kind: ClaimKind
    evidence: str
    start: int
    end: int


class LookalikeKind(enum.Enum):
    """Why a domain looks like a protected one (strongest first)."""

    CONFUSABLE = "confusable"  # look-alike characters: homoglyphs, punycode, 0/o, 1/l
    SEPARATORS = "separators"  # the same letters, other dots/hyphens/suffix, or reordered
    EDIT_DISTANCE = "edit-distance"  # one or two letters off a long protected name
    NAME = "name"  # an authority's name inside the domain (spf-justice-be.com)


@dataclass(frozen=True)
class LookalikeMatch:
    """``domain`` (canonical) imitates ``protected``, a real domain of ``identity``."""

    identity: Identity
    protected: str
    domain: str
    kind: LookalikeKind
    reason: str

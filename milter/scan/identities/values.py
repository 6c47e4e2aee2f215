"""The values of the identities package: a protected authority, a claim to be one, a
look-alike of one of its domains (docs/identities.md)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Final, Protocol

from milter.errors import RuleError

__all__ = [
    "ID_PATTERN",
    "LIST_KEYS",
    "AuthorityKind",
    "ClaimKind",
    "Claimable",
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


@dataclass(frozen=True)
class AuthorityKind:
    """A kind of authority (police, court, tax authority…) of the authority lexicon
    (rules/authorities.yml, docs/authority.md): no domains, names in many languages.

    ``id`` is upper case ("POLICE", "TAX"); claims of a kind report ``kind:<ID>``.
    """

    id: str
    title: str
    names: tuple[str, ...] = field(repr=False)
    signatures: tuple[str, ...] = field(default=(), repr=False)
    path: str = field(default="", compare=False, repr=False)
    line: int = field(default=0, compare=False, repr=False)


class Claimable(Protocol):
    """What the phrase index reads of an identity or an authority kind."""

    @property
    def id(self) -> str: ...
    @property
    def names(self) -> tuple[str, ...]: ...
    @property
    def signatures(self) -> tuple[str, ...]: ...
    @property
    def path(self) -> str: ...
    @property
    def line(self) -> int: ...


def registry_error(identity: Claimable, message: str) -> RuleError:
    """A ``RuleError`` about ``identity`` (or a kind), naming where it was defined."""
    return RuleError(message, path=identity.path, line=identity.line, rule_id=identity.id)


class ClaimKind(enum.Enum):
    """Which list of the registry a claimed phrase comes from."""

    NAME = "name"
    SIGNATURE = "signature"


@dataclass(frozen=True)
class IdentityClaim:
    """A phrase of ``identity`` (an authority of the registry, or a kind of the
    lexicon) found in a text.

    ``phrase`` is the registry's phrase as written there; ``evidence`` quotes the text
    that matched it, and ``start``/``end`` are its offsets in the text given (the
    original, not a normalised copy).
    """

    identity: Identity | AuthorityKind
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

"""Protected identities: the authorities that scams impersonate (the format is in
docs/identities.md).

A registry (``rules/identities.yml``, extended by files an admin adds) lists each
authority's real mail domains, the names mail uses to claim it and the phrases of its
usual signature blocks. Three questions are answered here, with no I/O beyond reading
the registry and no DNS:

- ``owner(domain)``: which authority a domain (or a parent of it) belongs to.
- ``lookalike(domain)``: whether a domain that belongs to no authority imitates one
  (``lookalikes.py``, with the domain forms of ``domains.py``).
- ``claims(text)``: which authorities a display name, a subject, a letterhead or a
  signature block (``letters.py``) claims to be, and by which phrase (``claims.py``).
  ``mentions(text)`` finds every occurrence.

Beside the closed list, the open model of authority (docs/authority.md): the table of
government mail domains (``government.py``, rules/government_domains.yml) answers
``official(domain)``, and the lexicon of authority kinds (``lexicon.py``,
rules/authorities.yml) widens ``authority_claims(text)`` to any police force, court,
prosecutor, justice ministry, tax, customs or child-protection body.

Whether a claim is honest (DMARC-aligned mail from one of the authority's domains) is
the caller's business: this package only knows names and domains.

The package's other modules are its parts; this one is its public face, and re-exports
the names callers use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

from milter.scan.identities.claims import (
    DEFAULT_MAX_EXTRA_WORDS,
    PhraseIndex,
    build_phrase_index,
    compact_form,
)
from milter.scan.identities.domains import canonical_domain
from milter.scan.identities.government import GOVERNMENT_FILE, GovernmentDomains
from milter.scan.identities.letters import letterhead, signature_block
from milter.scan.identities.lexicon import (
    LEXICON_FILE,
    AuthorityLexicon,
    TokenIndex,
    build_token_index,
    kind_value,
    token_runs,
)
from milter.scan.identities.lookalikes import LookalikeIndex, build_lookalike_index
from milter.scan.identities.matching import UNACCENT
from milter.scan.identities.registry_files import REGISTRY_FILE, read_identities
from milter.scan.identities.values import (
    ClaimKind,
    Identity,
    IdentityClaim,
    LookalikeKind,
    LookalikeMatch,
    registry_error,
)

__all__ = [
    "DEFAULT_MAX_EXTRA_WORDS",
    "REGISTRY_FILE",
    "ClaimKind",
    "Identity",
    "IdentityClaim",
    "IdentityRegistry",
    "LookalikeKind",
    "LookalikeMatch",
    "canonical_domain",
    "letterhead",
    "signature_block",
]

# Domains whose look-alike answer a registry keeps.
_LOOKALIKE_MEMO: Final = 4096


class IdentityRegistry:
    """The protected identities, indexed for ``owner``, ``lookalike`` and ``claims``.

    Build it with ``IdentityRegistry.load(paths)`` or ``IdentityRegistry(identities)``;
    an inconsistent set (a domain or a phrase under two identities, a phrase too general
    to be a claim) raises ``RuleError`` naming the identity and where it was defined.
    A registry never changes once built (only its memo of answers does), so one can be
    shared by every scan.
    """

    __slots__ = (
        "_by_domain",
        "_by_id",
        "_government",
        "_identities",
        "_lexicon",
        "_lookalike_memo",
        "_lookalikes",
        "_official_tops",
        "_phrases",
        "_phrases_and_kinds",
        "_tokens",
    )

    def __init__(
        self,
        identities: Iterable[Identity],
        government: GovernmentDomains | None = None,
        lexicon: AuthorityLexicon | None = None,
    ) -> None:
        self._identities = tuple(identities)
        self._government = government or GovernmentDomains()
        self._lexicon = lexicon or AuthorityLexicon()
        self._by_id = _index_ids(self._identities)
        self._by_domain = _index_domains(self._identities)
        # The phrases first: they are checked there, and the look-alike index takes the
        # names as they are.
        self._phrases: PhraseIndex = build_phrase_index(self._identities)
        # The last label of every official domain and zone ("be", "br", "gov"): a name
        # ending otherwise is no authority's, known without parsing it.
        self._official_tops = frozenset(
            name.rpartition(".")[2]
            for name in (
                *(d for i in self._identities for d in i.domains),
                *self._government.zone_names(),
            )
        )
        # One quick check for the registry's phrases and the lexicon's together.
        self._phrases_and_kinds = self._phrases.merged(self._lexicon.phrases)
        # The registry's phrases and the lexicon's in one index for tokens (local parts,
        # file names): one pass over each.
        self._tokens: TokenIndex = build_token_index((*self._identities, *self._lexicon.kinds))
        self._lookalikes: LookalikeIndex = build_lookalike_index(
            self._identities, self._government.zone_names()
        )
        # Senders repeat: the look-alike answer for a domain is kept (a bounded memo,
        # emptied when full; the registry itself never changes).
        self._lookalike_memo: dict[str, LookalikeMatch | None] = {}

    @classmethod
    def load(cls, paths: Iterable[Path]) -> IdentityRegistry:
        """The registry of the files at ``paths``, read and merged in order.

        Each path is a file, or a directory from which ``identities.yml``,
        ``government_domains.yml`` and ``authorities.yml`` are read (a directory without
        them adds nothing). A file named ``government_domains.yml`` or
        ``authorities.yml`` adds to the table or the lexicon; any other file is a
        registry file. An id already defined by an earlier file
        is extended: its domains, names and signatures are added, and its title and
        description replaced when given; with ``replace: true`` the new definition
        replaces the old one whole. Raises ``RuleError`` (file, line, identity id).
        """
        paths = tuple(paths)
        return cls(
            read_identities(p for p in paths if p.name not in (GOVERNMENT_FILE, LEXICON_FILE)),
            GovernmentDomains.load(paths),
            AuthorityLexicon.load(paths),
        )

    def __repr__(self) -> str:
        return f"IdentityRegistry({', '.join(i.id for i in self._identities)})"

    @property
    def identities(self) -> tuple[Identity, ...]:
        """Every identity, in the order the registry defines them."""
        return self._identities

    def get(self, identity_id: str) -> Identity | None:
        """The identity with this id, if any."""
        return self._by_id.get(identity_id)

    @property
    def government(self) -> GovernmentDomains:
        """The table of government mail domains."""
        return self._government

    @property
    def lexicon(self) -> AuthorityLexicon:
        """The lexicon of authority kinds."""
        return self._lexicon

    # --- Domains ---------------------------------------------------------------

    def owner(self, domain: str) -> Identity | None:
        """The identity that ``domain`` or one of its parents belongs to.

        Case, a trailing dot and ``xn--`` (punycode) labels do not matter. The most
        specific domain wins when two identities are nested.
        """
        canonical = canonical_domain(domain)
        if canonical is None:
            return None
        return self._owner(canonical)

    def _owner(self, canonical: str) -> Identity | None:
        labels = canonical.split(".")
        for index in range(len(labels)):
            identity = self._by_domain.get(".".join(labels[index:]))
            if identity is not None:
                return identity
        return None

    def official(self, domain: str) -> str | None:
        """Who ``domain`` (or ``user@domain``) speaks for: the id of the registry
        authority it belongs to, ``gov:<COUNTRY>`` for a government zone, else None.

        This is the domain half of "entitled to claim an authority"; the other half,
        that the mail really comes from the domain (DMARC pass), is the rules'
        (``__AUTHORITY_ENTITLED`` in rules/authority_blocks.yml, docs/authority.md).
        """
        canonical = canonical_domain(domain.rpartition("@")[2])
        if canonical is None:
            return None
        identity = self._owner(canonical)
        if identity is not None:
            return identity.id
        country = self._government.country(canonical)
        return None if country is None else f"gov:{country.id}"

    def may_be_official(self, domain: str) -> bool:
        """False when ``domain`` (lower case) cannot be ``official``: its last label ends
        no authority's domain and no government zone. Cheap, for callers that judge many
        names (every link of every message)."""
        return domain.rstrip(".").rpartition(".")[2] in self._official_tops

    def lookalike(self, domain: str) -> LookalikeMatch | None:
        """How ``domain`` imitates a protected domain, or ``None``.

        A real domain of any identity (or a subdomain of one) is never a look-alike,
        nor is a domain under a zone only governments can register (ice.gov, police.uk)
        unless it has non-Latin look-alike characters. See docs/identities.md for what
        is checked.
        """
        memo = self._lookalike_memo
        if domain in memo:
            return memo[domain]
        canonical = canonical_domain(domain)
        if canonical is None or self._owner(canonical) is not None:
            found = None
        else:
            found = self._lookalikes.match(domain, canonical)
        if len(memo) >= _LOOKALIKE_MEMO:
            memo.clear()
        memo[domain] = found
        return found

    # --- Text ------------------------------------------------------------------

    def claims(
        self, text: str, *, max_extra_words: int = DEFAULT_MAX_EXTRA_WORDS
    ) -> tuple[IdentityClaim, ...]:
        """The identities that ``text`` claims to be, one claim each, in text order.

        ``text`` is a display name, a subject, a local part (dots as separators) or a
        letterhead or signature block (see ``letterhead`` and ``signature_block``). A
        phrase is a claim when it stands as a label: its segment of the line (lines are
        split at " - ", "|", ":", ";", "/" and brackets) holds at most
        ``max_extra_words`` other words, all on one side of it, not counting articles,
        prepositions, numbers and words of one or two letters. "Federale Politie
        België", "Oproeping - Federale Politie", "INTERPOL Cyber Division" and
        "FBI.OFFICE" claim; "la police fédérale rappelle qu'il s'agit d'une
        escroquerie", "fake National Crime Agency emails", a phrase inside a web or mail
        address, and a phrase in the part of a line that continues a wrapped paragraph
        only mention.
        """
        return self._phrases.scan(text, max_extra_words)

    def may_claim(self, folded: str) -> bool:
        """False when ``folded`` (a normalised text, ``NormalizedText.text``) cannot hold
        any phrase, not even with its separators taken out. Cheap, for callers that
        already have the normalised text."""
        return self._phrases.may_claim(folded)

    def may_claim_any(self, folded: str) -> bool:
        """False when ``folded`` (``NormalizedText.text``) can hold no phrase of the
        registry and none of the lexicon: one check for both (``may_claim`` is the
        registry's alone)."""
        if not folded:
            return False
        unaccented = folded if folded.isascii() else folded.translate(UNACCENT)
        return self._phrases_and_kinds.may_claim_compact(compact_form(unaccented), unaccented)

    def authority_claims(
        self, text: str, folded: str, *, max_extra_words: int = DEFAULT_MAX_EXTRA_WORDS
    ) -> tuple[tuple[str, str], ...]:
        """Every authority ``text`` claims to be, of the registry or of the lexicon:
        (``kind_value``: an identity id or ``kind:<ID>``, the quoted evidence).

        ``folded`` is ``text`` normalised (``NormalizedText.text``). A text without
        spaces (an address's local part, a file name, "FBI.OFFICE") is read as a token
        whose words may run together ("policenational740", "BKA025.jpg"); any other
        text as labels (``claims``).
        """
        words = text.split(None, 1)
        if not words:
            return ()
        if len(words) == 1:
            found = self._tokens.find_runs(token_runs(folded))
            return tuple(dict.fromkeys((kind_value(owner), phrase) for owner, phrase in found))
        if not self.may_claim_any(folded):
            return ()
        claims = [
            *self._phrases.scan(text, max_extra_words),
            *self._lexicon.claims(text, max_extra_words),
        ]
        return tuple(dict.fromkeys((kind_value(c.identity), c.evidence) for c in claims))


def _index_ids(identities: tuple[Identity, ...]) -> Mapping[str, Identity]:
    by_id: dict[str, Identity] = {}
    for identity in identities:
        if identity.id in by_id:
            raise registry_error(identity, "the id is defined twice in the registry")
        by_id[identity.id] = identity
    return MappingProxyType(by_id)


def _index_domains(identities: tuple[Identity, ...]) -> Mapping[str, Identity]:
    by_domain: dict[str, Identity] = {}
    for identity in identities:
        for domain in identity.domains:
            other = by_domain.get(domain)
            if other is not None and other is not identity:
                raise registry_error(identity, f"domain {domain!r} also belongs to {other.id}")
            by_domain[domain] = identity
    return MappingProxyType(by_domain)

"""Protected identities: the authorities that scams impersonate (the format is in
docs/identities.md).

A registry (``rules/identities.yml``, extended by files an admin adds) lists each
authority's real mail domains, the names mail uses to claim it and the phrases of its
usual signature blocks. Three questions are answered here, with no I/O beyond reading
the registry and no DNS:

- ``owner(domain)``: which authority a domain (or a parent of it) belongs to.
- ``lookalike(domain)``: whether a domain that belongs to no authority imitates one:
  look-alike characters (homoglyphs, punycode, 0 for o), the same letters with other
  dots, hyphens or suffix (police-belgium.eu, just-fgov.be.com), a small edit distance
  on long names, the names reordered, or an authority's name inside the domain.
- ``claims(text)``: which authorities a display name, a subject, a letterhead or a
  signature block claims to be, and by which phrase. A claim is a label ("Police
  Fédérale", "Oproeping - Federale Politie", "Le Commissaire général de la Police
  fédérale"), not a sentence that mentions the authority ("la police fédérale rappelle
  que…"): news and warnings mention authorities all the time. ``mentions(text)`` finds
  every occurrence.

Whether a claim is honest (DMARC-aligned mail from one of the authority's domains) is
the caller's business: this module only knows names and domains.
"""

from __future__ import annotations

import codecs
import enum
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import ahocorasick

from milter.errors import RuleError
from milter.scan.normalize import NormalizedText, normalize
from milter.scan.rules.yaml_source import YamlPositions, list_entry, read_yaml

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

#: The name of the registry in a rules directory (the only file read from a directory).
REGISTRY_FILE: Final = "identities.yml"

_ID: Final = re.compile(r"[A-Z][A-Z0-9_]*")
_KEYS: Final = (
    "id",
    "title",
    "description",
    "references",
    "replace",
    "domains",
    "names",
    "signatures",
)
_LIST_KEYS: Final = ("domains", "names", "signatures")

# --- Text in matching form ---------------------------------------------------------

# Accents are dropped for matching, one character for one, so that offsets stay valid:
# scams write "Police Federale" and "Justica do Trabalho" as often as the real spelling.
# Letters with no decomposition that read as their base letter are listed by hand;
# "ß", "æ" and "œ" stay (they would need two characters).
_UNACCENT_EXTRA: Final = {"ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "ı": "i"}


def _build_unaccent() -> dict[int, str]:
    table: dict[int, str] = {ord(k): v for k, v in _UNACCENT_EXTRA.items()}
    for code in range(0xC0, 0x250):
        char = chr(code)
        decomposed = unicodedata.normalize("NFD", char)
        if (
            len(decomposed) > 1
            and decomposed[0].isascii()
            and decomposed[0].isalpha()
            and all(unicodedata.category(m) == "Mn" for m in decomposed[1:])
        ):
            table[code] = decomposed[0]
    return table


_UNACCENT: Final = MappingProxyType(_build_unaccent())

# A word: letters and digits (``_`` separates, as in "FBI_OFFICE").
_WORD: Final = re.compile(r"[^\W_]+")
# Between the words of a phrase: nothing, or up to three separators ("FBI", "F.B.I.",
# "commissaris-generaal", "commissaris generaal", "Director, Federal Bureau…",
# "convocation.policefederale.be").
_SEP: Final = r"[\W_]{0,3}"
_NOT_WORD: Final = re.compile(r"[\W_]+")
_ASCII_NOT_ALNUM: Final = bytes(b for b in range(128) if not chr(b).isalnum())
# How much of a long text signature_block and letterhead read first (see there).
_EDGE_CHARS: Final = 4096
# Domains whose look-alike answer a registry keeps.
_LOOKALIKE_MEMO: Final = 4096

# How many first letters of a phrase the quick scan looks up (see IdentityRegistry._find).
_START: Final = 3

# Where a label ends inside a line: " - ", "|", ":", "/", brackets. Not a hyphen inside a
# word ("Europol-led"), not a dot ("FBI.OFFICE", "…by the FBI. He said" is one sentence
# going on), not a comma ("FBI on February 15, 1995, in Raleigh"), not quotes.
_SEGMENT_BREAK: Final = re.compile(r"\s+-+\s+|^-+\s+|\s+-+$|[|:;/\\()\[\]{}<>•·*=#~]+")
# Web and mail addresses: a phrase inside one names a site or a mailbox, not a sender.
_LINK: Final = re.compile(r"\S*(?:://|www\.|[^\s@]@[^\W_])\S*")

# Words that do not count against a label: articles, prepositions and conjunctions of
# the registry's languages ("Convocation de la Police fédérale" is a label, "Attention
# aux fausses convocations de la Police fédérale" is a sentence).
_STOPWORDS: Final = frozenset((
    "a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "the", "to", "de", "den", "der",
    "het", "van", "voor", "en", "een", "te", "bij", "op", "uit", "le", "la", "les", "l", "d",
    "des", "du", "et", "pour", "au", "aux", "un", "une", "die", "das", "dem", "des", "von", "fur",
    "und", "im", "zur", "zum", "ein", "eine", "do", "da", "dos", "das", "e", "o", "os", "as", "no",
    "na",
))  # fmt: skip

#: The default number of other words a segment may hold around a claimed name
#: ("Police Fédérale Belge", "INTERPOL Cyber Division" are labels; "FBI warns of new
#: sextortion wave" is not).
DEFAULT_MAX_EXTRA_WORDS: Final = 2

# Single words that ordinary mail uses without claiming any authority: refused as a
# name or signature on their own (write "police fédérale", not "police").
_TOO_GENERAL: Final = frozenset((
    "police", "politie", "polizei", "policia", "polizia", "gendarmerie", "gendarmes", "cops",
    "justice", "justitie", "justiz", "justica", "justicia", "giustizia", "court", "courts",
    "tribunal", "tribunaal", "rechtbank", "gericht", "ministry", "ministerie", "ministere",
    "ministerium", "ministerio", "department", "government", "overheid", "gouvernement",
    "regierung", "governo", "gobierno", "agency", "agent", "agents", "officer", "director",
    "directeur", "direktor", "commissioner", "commissaris", "commissaire", "kommissar",
    "inspector", "inspecteur", "prosecutor", "procureur", "parquet", "parket", "cybercrime",
    "cybercriminaliteit", "cybercriminalite", "cyberkriminalitat", "investigation", "enquete",
    "onderzoek", "ermittlung", "security", "securite", "veiligheid", "sicherheit", "federal",
    "federale", "federaal", "national", "nationale",
))  # fmt: skip


def _match_form(text: str) -> tuple[str, NormalizedText]:
    """``text`` folded for phrase matching, and the ``NormalizedText`` behind it."""
    norm = normalize(text)
    folded = norm.text
    return (folded if folded.isascii() else folded.translate(_UNACCENT)), norm


def _phrase_words(phrase: str) -> tuple[str, ...]:
    folded, _ = _match_form(phrase)
    return tuple(_WORD.findall(folded))


# --- Domains -----------------------------------------------------------------------

# Dots that IDNA (RFC 3490 3.1) treats as label separators.
_IDNA_DOTS: Final = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_LABEL: Final = re.compile(r"[^\W_](?:[\w-]{0,61}[^\W_])?")

# Public suffixes of more than one label, for splitting the registry's own domains into
# the part an organisation chose and the suffix it registered under (without the whole
# Public Suffix List: the registry's domains are few and known). Any other domain's
# suffix is its last label.
_MULTI_LABEL_SUFFIXES: Final = frozenset((
    "gouv.fr", "gov.uk", "police.uk", "co.uk", "org.uk", "ac.uk", "gov.br", "jus.br", "mp.br",
    "com.br", "gov.au", "com.au", "gv.at", "gov.pl", "gov.pt", "gov.it", "gob.es", "gc.ca",
    "govt.nz", "gov.ie", "gov.lu", "gouv.lu",
))  # fmt: skip

# Zones that only governments can register under. A domain in one is another authority
# or nothing at all (ice.gov looks like ic3.gov, police.uk like police.be): it is only a
# look-alike when it has non-Latin look-alike characters, which no government uses.
# The registrable domain of every protected domain is added (belgium.be, fgov.be).
_GOVERNMENT_ZONES: Final = frozenset((
    "gov", "mil", "int", "gov.uk", "police.uk", "nhs.uk", "gouv.fr", "gov.be", "fgov.be",
    "belgium.be", "belgium.eu", "fed.be", "europa.eu", "jus.br", "gov.br", "mp.br", "leg.br",
    "bund.de", "admin.ch", "gv.at", "overheid.nl", "rijksoverheid.nl", "gc.ca", "gov.au",
    "govt.nz", "gob.es", "gov.it", "gov.pl", "gov.pt", "gov.ie", "gouv.lu", "public.lu",
))  # fmt: skip

# What the eye confuses in a domain, after confusable characters and accents are folded
# (milter.scan.normalize): digits for letters, l/I/1, "rn" for "m", "vv" for "w". Both sides of
# every comparison go through the same fold.
_SKELETON_CHARS: Final = str.maketrans(
    {"0": "o", "1": "l", "i": "l", "|": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b"}
)
_SKELETON_PAIRS: Final = (("rn", "m"), ("vv", "w"))


def canonical_domain(domain: str) -> str | None:
    """``domain`` lower-cased, without a trailing dot, ``xn--`` labels decoded.

    Returns ``None`` when it is not a host name (empty, an address literal, a label
    that is empty or has characters other than letters, digits and hyphens).
    """
    text = unicodedata.normalize("NFC", domain.strip().translate(_IDNA_DOTS)).lower()
    text = text.rstrip(".")
    if not text or text.startswith("["):
        return None
    labels = []
    for label in text.split("."):
        if label.startswith("xn--"):
            try:
                label = codecs.decode(label[4:].encode("ascii"), "punycode").lower()
            except (UnicodeError, ValueError):
                return None
        if not _LABEL.fullmatch(label):
            return None
        labels.append(label)
    return ".".join(labels)


def _fold_chars(text: str) -> str:
    folded = normalize(text).text
    if not folded.isascii():
        folded = folded.translate(_UNACCENT)
    return folded.translate(_SKELETON_CHARS)


def _fold_pairs(text: str) -> str:
    for pair, single in _SKELETON_PAIRS:
        text = text.replace(pair, single)
    return text


def _skeleton(text: str) -> str:
    """What ``text`` looks like: confusables, accents, digits and l/i folded."""
    return _fold_pairs(_fold_chars(text))


def _suffix_length(labels: tuple[str, ...]) -> int:
    if len(labels) >= 2 and ".".join(labels[-2:]) in _MULTI_LABEL_SUFFIXES:
        return 2
    return 1


def _osa_distance(a: str, b: str, bound: int) -> int:
    """Damerau–Levenshtein distance (optimal string alignment), or ``bound + 1`` when it
    is larger than ``bound``."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = 0 if char_a == char_b else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > bound:
            return bound + 1
        previous2, previous = previous, current
    return previous[-1] if previous[-1] <= bound else bound + 1


# --- Values ------------------------------------------------------------------------


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
        if not _ID.fullmatch(self.id):
            raise ValueError(f"identity id {self.id!r} must be upper-case letters, digits and _")
        for key in _LIST_KEYS:
            value = getattr(self, key)
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"identity {self.id}: {key} must be a tuple of strings")
        if not self.domains or not self.names:
            raise ValueError(f"identity {self.id}: needs at least one domain and one name")


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


# --- Index for look-alikes -------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """A string a look-alike may reduce to: a protected domain flattened (its labels
    joined without separators, with or without its suffix) or an identity's name."""

    identity: Identity
    protected: str
    text: str  # raw, flattened
    skeleton: str
    budget: int  # edit distance allowed
    name: str = ""  # for a name target: the registry's phrase


_RANK: Final = {kind: rank for rank, kind in enumerate(LookalikeKind)}
_COUNT: Final = {1: "one letter", 2: "two letters"}


def _targets(identity: Identity, domain: str) -> Iterator[_Target]:
    labels = tuple(domain.split("."))
    suffix = _suffix_length(labels)
    core = labels[: len(labels) - suffix]
    if not core:
        return  # a public suffix itself (jus.br): nothing to imitate but the suffix
    core_length = len("".join(core))
    # Short names are one letter away from ordinary words (police/policy, politie/
    # politic): they get no edit distance, only exact and look-alike character matches.
    budget = 2 if core_length >= 14 else 1 if core_length >= 8 else 0
    for count in range(max(2, len(core)), len(labels) + 1):
        flat = "".join(part.replace("-", "") for part in labels[:count])
        yield _Target(identity, domain, flat, _skeleton(flat), budget)
    if len(core) == 1:
        # The bare name under another suffix (fbi.com, interpol.org) only when the name
        # is the authority's own: police.uk and politie.be are not police.be's.
        own = {"".join(_phrase_words(n)): n for n in identity.names}
        if core[0] in own:
            yield _Target(identity, domain, core[0], _skeleton(core[0]), 0, own[core[0]])


@dataclass(frozen=True)
class _Window:
    raw: str
    skeleton: str
    words: tuple[str, ...]
    at_label_start: bool


# --- The registry ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IdentityRegistry:
    """The protected identities, indexed for ``owner``, ``lookalike`` and ``claims``.

    Build it with ``IdentityRegistry.load(paths)`` or ``IdentityRegistry(identities)``;
    an inconsistent set (a domain or a phrase under two identities, a phrase too general
    to be a claim) raises ``RuleError`` naming the identity and where it was defined.
    """

    identities: tuple[Identity, ...]
    _by_id: Mapping[str, Identity] = field(init=False, repr=False)
    _by_domain: Mapping[str, Identity] = field(init=False, repr=False)
    _zones: frozenset[str] = field(init=False, repr=False)
    _exact_raw: Mapping[str, tuple[_Target, ...]] = field(init=False, repr=False)
    _exact_skeleton: Mapping[str, tuple[_Target, ...]] = field(init=False, repr=False)
    # Targets with an edit budget, by skeleton length: a window is compared only with
    # those its length can reach within their budget.
    _fuzzy: Mapping[int, tuple[_Target, ...]] = field(init=False, repr=False)
    _letters: Mapping[str, frozenset[str]] = field(init=False, repr=False)
    _lookalike_memo: dict[str, LookalikeMatch | None] = field(init=False, repr=False)
    _reordered: Mapping[tuple[str, ...], _Target] = field(init=False, repr=False)
    _names: Mapping[str, _Target] = field(init=False, repr=False)
    _phrases: tuple[tuple[Identity, str, ClaimKind], ...] = field(init=False, repr=False)
    _phrase_re: re.Pattern[str] | None = field(init=False, repr=False)
    _starts: frozenset[str] = field(init=False, repr=False)
    _compact_phrases: ahocorasick.Automaton | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        identities = tuple(self.identities)
        set_ = object.__setattr__
        set_(self, "identities", identities)
        set_(self, "_lookalike_memo", {})
        by_id: dict[str, Identity] = {}
        by_domain: dict[str, Identity] = {}
        zones = set(_GOVERNMENT_ZONES)
        exact_raw: dict[str, list[_Target]] = {}
        exact_skeleton: dict[str, list[_Target]] = {}
        fuzzy: list[_Target] = []
        reordered: dict[tuple[str, ...], _Target] = {}
        names: dict[str, _Target] = {}
        phrases: dict[tuple[str, ...], tuple[Identity, str, ClaimKind]] = {}

        for identity in identities:
            if identity.id in by_id:
                raise _error(identity, "the id is defined twice in the registry")
            by_id[identity.id] = identity
            for domain in identity.domains:
                other = by_domain.get(domain)
                if other is not None and other is not identity:
                    raise _error(identity, f"domain {domain!r} also belongs to {other.id}")
                by_domain[domain] = identity
                labels = tuple(domain.split("."))
                zones.add(".".join(labels[-(_suffix_length(labels) + 1) :]))
                for target in _targets(identity, domain):
                    exact_raw.setdefault(target.text, []).append(target)
                    exact_skeleton.setdefault(target.skeleton, []).append(target)
                    if target.budget:
                        fuzzy.append(target)
                core_words = [
                    word
                    for label in labels[: len(labels) - _suffix_length(labels)]
                    for word in label.split("-")
                ]
                if len(core_words) >= 2:
                    reordered.setdefault(
                        tuple(sorted(core_words)),
                        _Target(identity, domain, "".join(core_words), "", 0),
                    )
            for kind, values in (
                (ClaimKind.NAME, identity.names),
                (ClaimKind.SIGNATURE, identity.signatures),
            ):
                for phrase in values:
                    words = _phrase_words(phrase)
                    if not words or len("".join(words)) < 3:
                        raise _error(
                            identity, f"{kind.value} {phrase!r} is too short to be a claim"
                        )
                    if len(words) == 1 and words[0] in _TOO_GENERAL:
                        raise _error(
                            identity,
                            f"{kind.value} {phrase!r} is a word that ordinary mail uses without "
                            "claiming an authority; write the authority's name "
                            "(e.g. 'police fédérale')",
                        )
                    seen = phrases.get(words)
                    if seen is not None and seen[0] is not identity:
                        raise _error(
                            identity, f"{kind.value} {phrase!r} is also a phrase of {seen[0].id}"
                        )
                    if seen is None:
                        phrases[words] = (identity, phrase, kind)
                    if kind is ClaimKind.NAME:
                        flat = "".join(words)
                        names.setdefault(
                            _skeleton(flat),
                            _Target(
                                identity, identity.domains[0], flat, _skeleton(flat), 0, phrase
                            ),
                        )

        set_(self, "_by_id", MappingProxyType(by_id))
        set_(self, "_by_domain", MappingProxyType(by_domain))
        set_(self, "_zones", frozenset(zones))
        set_(self, "_exact_raw", MappingProxyType({k: tuple(v) for k, v in exact_raw.items()}))
        set_(
            self,
            "_exact_skeleton",
            MappingProxyType({k: tuple(v) for k, v in exact_skeleton.items()}),
        )
        by_length: dict[int, list[_Target]] = {}
        for target in fuzzy:
            for length in range(
                len(target.skeleton) - target.budget, len(target.skeleton) + target.budget + 1
            ):
                by_length.setdefault(length, []).append(target)
        set_(self, "_fuzzy", MappingProxyType({k: tuple(v) for k, v in by_length.items()}))
        set_(self, "_letters", MappingProxyType({t.skeleton: frozenset(t.skeleton) for t in fuzzy}))
        set_(self, "_reordered", MappingProxyType(reordered))
        set_(self, "_names", MappingProxyType(names))
        # Longer phrases first: at one position, the alternation takes the first that
        # matches, so "commissaris-generaal van de federale politie" wins over
        # "federale politie" and the evidence is the whole signature.
        # At equal length, fewer words first: "FBI" is reported as "fbi", not "f.b.i".
        ordered = sorted(phrases.items(), key=lambda item: (-len("".join(item[0])), len(item[0])))
        set_(self, "_phrases", tuple(value for _, value in ordered))
        if ordered:
            alternatives = "|".join(
                "(" + _SEP.join(re.escape(word) for word in words) + ")" for words, _ in ordered
            )
            pattern = re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])")
        else:
            pattern = None
        set_(self, "_phrase_re", pattern)
        # The first letters (up to three) of every phrase's first word: the regex is only
        # tried where a word starts with one of them, since trying ~200 alternatives at
        # every position of a text is slow in ``re``.
        set_(self, "_starts", frozenset(words[0][:_START] for words, _ in ordered))
        # Every phrase with its words run together, for one pass in C over a whole text
        # with its separators removed (a phrase allows at most a few between words):
        # most texts name no authority, and then the word-by-word search never runs.
        compact = None
        if ordered:
            compact = ahocorasick.Automaton()
            for joined in {"".join(words) for words, _ in ordered}:
                compact.add_word(joined, joined)
            compact.make_automaton()
        set_(self, "_compact_phrases", compact)

    # --- Loading ---------------------------------------------------------------

    @classmethod
    def load(cls, paths: Iterable[Path]) -> IdentityRegistry:
        """Read and merge registry files, in order.

        Each path is a file, or a directory from which only ``identities.yml`` is read
        (a directory without one adds nothing). An id already defined by an earlier file
        is extended: its domains, names and signatures are added, and its title and
        description replaced when given; with ``replace: true`` the new definition
        replaces the old one whole. Raises ``RuleError`` (file, line, identity id).
        """
        merged: dict[str, Identity] = {}
        for path in paths:
            if path.is_dir():
                path = path / REGISTRY_FILE
                if not path.is_file():
                    continue
            elif not path.exists():
                raise RuleError("no such identity registry file or directory", path=str(path))
            _merge_file(path, merged)
        return cls(tuple(merged.values()))

    def get(self, identity_id: str) -> Identity | None:
        """The identity with this id, if any."""
        return self._by_id.get(identity_id)

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

    def lookalike(self, domain: str) -> LookalikeMatch | None:
        """How ``domain`` imitates a protected domain, or ``None``.

        A real domain of any identity (or a subdomain of one) is never a look-alike,
        nor is a domain under a zone only governments can register (ice.gov, police.uk)
        unless it has non-Latin look-alike characters. See docs/identities.md for what
        is checked.
        """
        # Senders repeat: the answer for a domain is kept (a bounded memo, emptied when
        # full; the registry itself never changes).
        memo = self._lookalike_memo
        if domain in memo:
            return memo[domain]
        found = self._lookalike(domain)
        if len(memo) >= _LOOKALIKE_MEMO:
            memo.clear()
        memo[domain] = found
        return found

    def _lookalike(self, domain: str) -> LookalikeMatch | None:
        canonical = canonical_domain(domain)
        if canonical is None or self._owner(canonical) is not None:
            return None
        labels = canonical.split(".")
        if len(labels) < 2:
            return None
        punycode = any(label.startswith("xn--") for label in domain.strip().lower().split("."))
        homoglyphs = punycode or not canonical.isascii()
        in_zone = any(".".join(labels[i:]) in self._zones for i in range(len(labels)))
        if in_zone and not homoglyphs:
            return None

        best: LookalikeMatch | None = None

        def offer(target: _Target, kind: LookalikeKind, reason: str) -> None:
            nonlocal best
            if in_zone and kind is not LookalikeKind.CONFUSABLE:
                return
            if best is None or _RANK[kind] < _RANK[best.kind]:
                best = LookalikeMatch(target.identity, target.protected, canonical, kind, reason)

        for window in _windows(labels):
            for target in self._exact_raw.get(window.raw, ()):
                if target.name:
                    reason = f"the name {target.text!r} of {target.protected} under another suffix"
                else:
                    reason = f"the letters of {target.protected} with other dots, hyphens or suffix"
                offer(target, LookalikeKind.SEPARATORS, reason)
            for target in self._exact_skeleton.get(window.skeleton, ()):
                if target.text != window.raw:
                    how = (
                        "punycode (IDN) look-alike characters"
                        if punycode
                        else "non-Latin or accented look-alike characters"
                        if homoglyphs
                        else "look-alike letters or digits (0/o, 1/l/i, rn/m)"
                    )
                    offer(
                        target, LookalikeKind.CONFUSABLE, f"{target.protected} written with {how}"
                    )
            if len(window.words) >= 2:
                target = self._reordered.get(tuple(sorted(window.words)))
                if target is not None and "".join(window.words) != target.text:
                    offer(
                        target,
                        LookalikeKind.SEPARATORS,
                        f"the labels of {target.protected} reordered",
                    )
            if best is not None and best.kind is LookalikeKind.CONFUSABLE:
                return best
            if window.at_label_start and (
                best is None or _RANK[best.kind] > _RANK[LookalikeKind.EDIT_DISTANCE]
            ):
                letters = frozenset(window.skeleton)
                for target in self._fuzzy.get(len(window.skeleton), ()):
                    # Each letter one string has and the other lacks costs an edit: a
                    # cheap bound (set operations in C) before the full comparison.
                    other = self._letters[target.skeleton]
                    if len(letters - other) > target.budget or len(other - letters) > target.budget:
                        continue
                    distance = _osa_distance(window.skeleton, target.skeleton, target.budget)
                    if 0 < distance <= target.budget:
                        offer(
                            target,
                            LookalikeKind.EDIT_DISTANCE,
                            f"{_COUNT[distance]} off {target.protected}",
                        )
        if best is not None:
            return best
        # An authority's name inside the domain, as words or run together:
        # spf-justice-be.com, convocation-policefederale.com, europol-eu.org.
        for window in _name_windows(labels):
            target = self._names.get(window.skeleton)
            if target is not None:
                offer(target, LookalikeKind.NAME, f"contains the name {target.name!r}")
                return best
        return best

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
        return self._scan(text, max_extra_words)

    def mentions(self, text: str) -> tuple[IdentityClaim, ...]:
        """Like ``claims`` but every word-bounded occurrence counts, labels or not."""
        return self._scan(text, None)

    def may_claim(self, folded: str) -> bool:
        """False when ``folded`` (a normalised text, ``NormalizedText.text``) cannot hold
        any phrase, not even with its separators taken out. Cheap, for callers that
        already have the normalised text."""
        automaton = self._compact_phrases
        if automaton is None or not folded:
            return False
        if folded.isascii():
            # The same as _NOT_WORD.sub("", folded) for ASCII text, at C speed.
            compact = folded.encode("ascii").translate(None, _ASCII_NOT_ALNUM).decode("ascii")
        else:
            compact = _NOT_WORD.sub("", folded.translate(_UNACCENT))
        return next(automaton.iter(compact), None) is not None

    def _scan(self, text: str, max_extra: int | None) -> tuple[IdentityClaim, ...]:
        pattern = self._phrase_re
        if pattern is None or not text:
            return ()
        # One pass over the whole text first: most texts name no authority at all.
        if not self.may_claim(_match_form(text)[0]):
            return ()
        found: dict[str, IdentityClaim] = {}
        lines = text.splitlines(keepends=True)
        offset = 0
        for index, line in enumerate(lines):
            line_offset = offset
            offset += len(line)
            folded, norm = _match_form(line)
            matches = self._find(folded)
            if not matches:
                continue
            if max_extra is not None:
                segments = _segments(folded)
                links = [link.span() for link in _LINK.finditer(folded)]
                previous = lines[index - 1] if index else ""
                following = lines[index + 1] if index + 1 < len(lines) else ""
                # In a wrapped paragraph the first segment of a line ends the sentence
                # of the line before, and the last one goes on in the next.
                if _wraps(previous, line):
                    segments[0] = (segments[0][0], segments[0][1], True)
                if _wraps(line, following):
                    segments[-1] = (segments[-1][0], segments[-1][1], True)
            for match in matches:
                identity, phrase, kind = self._phrases[(match.lastindex or 1) - 1]
                if identity.id in found:
                    continue
                if max_extra is not None:
                    start, end = match.span()
                    if any(a < end and start < b for a, b in links):
                        continue  # a web or mail address names a site, claims nothing
                    if not _is_label(folded, segments, matches, match, max_extra):
                        continue
                evidence = norm.evidence(*match.span())
                source = line_offset + norm.text_map[match.start()]
                found[identity.id] = IdentityClaim(
                    identity=identity,
                    phrase=phrase,
                    kind=kind,
                    evidence=evidence,
                    start=source,
                    end=source + len(evidence),
                )
        return tuple(sorted(found.values(), key=lambda claim: claim.start))

    def _find(self, folded: str) -> list[re.Match[str]]:
        """Every phrase in ``folded`` (matching form), left to right, not overlapping."""
        pattern = self._phrase_re
        if pattern is None:
            return []
        starts = self._starts
        found: list[re.Match[str]] = []
        position = 0
        for word in _WORD.finditer(folded):
            begin = word.start()
            if begin < position:
                continue
            token = word.group()
            if not any(token[:size] in starts for size in range(1, _START + 1)):
                continue
            match = pattern.match(folded, begin)
            if match is not None:
                found.append(match)
                position = match.end()
        return found


# --- Helpers for lookalike ---------------------------------------------------------

# Domains longer than this many words are judged on their last ones (bounded work).
_MAX_WINDOW_WORDS: Final = 16


def _split_words(labels: list[str]) -> tuple[list[str], list[int]]:
    words: list[str] = []
    label_of: list[int] = []
    for index, label in enumerate(labels):
        for word in label.split("-"):
            if word:
                words.append(word)
                label_of.append(index)
    return words[-_MAX_WINDOW_WORDS:], label_of[-_MAX_WINDOW_WORDS:]


def _windows(labels: list[str]) -> Iterator[_Window]:
    """Runs of the domain's words that end where at most two whole labels are left
    (its suffix, or an appended suffix such as ".be.com"), longest first."""
    words, label_of = _split_words(labels)
    folded = [_fold_chars(word) for word in words]
    for tail in range(min(3, len(labels))):
        end = sum(1 for label in label_of if label < len(labels) - tail)
        for start in range(end):
            at_label_start = start == 0 or label_of[start - 1] != label_of[start]
            yield _Window(
                "".join(words[start:end]),
                _fold_pairs("".join(folded[start:end])),
                tuple(words[start:end]),
                at_label_start,
            )


def _name_windows(labels: list[str]) -> Iterator[_Window]:
    """Every run of words in the domain's labels but the last (its suffix)."""
    words, _ = _split_words(labels[:-1])
    folded = [_fold_chars(word) for word in words]
    for start in range(len(words)):
        for end in range(start + 1, len(words) + 1):
            yield _Window(
                "".join(words[start:end]),
                _fold_pairs("".join(folded[start:end])),
                tuple(words[start:end]),
                True,
            )


# --- Helpers for claims ------------------------------------------------------------


# When a line's sentence goes on in the next line (a paragraph wrapped by the sender's
# mail program): the line ends with an article or preposition ("…pretend to come from
# the" / "National Crime Agency."), or it is long, ends without punctuation and the next
# line starts in lower case or the line is as long as wrapped lines are.
_WRAP_WIDTH: Final = 40
_WRAPPED_WIDTH: Final = 60
_LINE_END_PUNCTUATION: Final = tuple(".!?:;,)]}>\"'")


def _wraps(line: str, following: str) -> bool:
    """Whether the sentence of ``line`` goes on in ``following``."""
    line = line.strip()
    following = following.strip()
    if not line or not following or line.endswith(_LINE_END_PUNCTUATION):
        return False
    last = _WORD.findall(_match_form(line[-20:])[0])
    if last and last[-1] in _STOPWORDS:
        return True
    return len(line) >= _WRAPPED_WIDTH or (len(line) >= _WRAP_WIDTH and following[0].islower())


def _segments(folded: str) -> list[tuple[int, int, bool]]:
    """The segments of a line: (start, end, prose). ``prose`` is set by the caller."""
    spans: list[tuple[int, int, bool]] = []
    position = 0
    for brk in _SEGMENT_BREAK.finditer(folded):
        if brk.start() > position:
            spans.append((position, brk.start(), False))
        position = brk.end()
    if position < len(folded) or not spans:
        spans.append((position, len(folded), False))
    return spans


def _is_label(
    folded: str,
    segments: list[tuple[int, int, bool]],
    matches: list[re.Match[str]],
    match: re.Match[str],
    max_extra: int,
) -> bool:
    start = match.start()
    segment = next((seg for seg in segments if seg[0] <= start < seg[1]), None)
    if segment is None:
        return True
    seg_start, seg_end, prose = segment
    if prose:
        return False
    covered = [m.span() for m in matches if m.start() < seg_end and m.end() > seg_start]
    before = after = 0
    for word in _WORD.finditer(folded, seg_start, seg_end):
        if any(a < word.end() and word.start() < b for a, b in covered):
            continue
        token = word.group()
        # Words of one or two letters are initials, country codes ("convocation.
        # policefederale.be") or particles: they neither make nor break a label.
        if len(token) < 3 or token in _STOPWORDS or any(c.isdigit() for c in token):
            continue
        if word.start() < start:
            before += 1
        else:
            after += 1
        if before + after > max_extra:
            return False
    # A label adds words on one side of the name ("INTERPOL Cyber Division", "Oproeping
    # Federale Politie"); words on both sides make a phrase of a sentence ("fake National
    # Crime Agency emails").
    return before == 0 or after == 0


# --- Signature block ---------------------------------------------------------------

_LIST_FOOTER: Final = re.compile(r"_{20,}\s*")


def signature_block(body: str, lines: int = 15) -> str:
    """The last ``lines`` non-empty lines of ``body``: where a letter is signed.

    Quoted lines ("> …") and a mailing-list footer (a line of underscores and what
    follows it, as Mailman appends) are left out.
    """
    if lines <= 0:
        return ""
    if len(body) > _EDGE_CHARS:
        # Most letters have their block in the last few kilobytes: read only those
        # (without the first, maybe cut, line) when they hold a whole block.
        kept = _signature_tail(body[-_EDGE_CHARS:].splitlines()[1:], lines)
        if len(kept) >= lines:
            return "\n".join(kept)
    return "\n".join(_signature_tail(body.splitlines(), lines))


# A mailing-list footer is looked for among the last this many non-empty lines.
_FOOTER_LINES: Final = 7


def _signature_lines(all_lines: list[str]) -> list[str]:
    kept = [line.rstrip() for line in all_lines if line.strip()]
    for index in range(len(kept) - 1, max(-1, len(kept) - 1 - _FOOTER_LINES), -1):
        if _LIST_FOOTER.fullmatch(kept[index].strip()):
            kept = kept[:index]
            break
    return [line for line in kept if not line.lstrip().startswith(">")]


def _signature_tail(all_lines: list[str], lines: int) -> list[str]:
    """``_signature_lines(all_lines)[-lines:]``, reading from the end only as far as
    needed: a footer cut removes at most ``_FOOTER_LINES`` lines, so once that many more
    unquoted lines than wanted are read, the rest cannot change the answer."""
    tail: list[str] = []
    unquoted = 0
    for line in reversed(all_lines):
        if not line.strip():
            continue
        tail.append(line)
        if not line.lstrip().startswith(">"):
            unquoted += 1
            if unquoted >= lines + _FOOTER_LINES:
                break
    tail.reverse()
    return _signature_lines(tail)[-lines:]


def letterhead(body: str, lines: int = 5) -> str:
    """The first ``lines`` non-empty lines of ``body``: where a letter names its sender.

    Impersonation letters open with the authority ("BUNDESKRIMINALAMT / Abteilung
    Cyberkriminalität", "Federal Bureau of Investigation (FBI)") as often as they sign
    with it. Quoted lines ("> …") are left out.
    """
    if lines <= 0:
        return ""
    if len(body) > _EDGE_CHARS:
        # As signature_block, from the other end: the first few kilobytes, without
        # their last, maybe cut, line, when they hold enough lines.
        kept = _letterhead_head(body[:_EDGE_CHARS].splitlines()[:-1], lines)
        if len(kept) >= lines:
            return "\n".join(kept)
    return "\n".join(_letterhead_head(body.splitlines(), lines))


def _letterhead_lines(all_lines: list[str]) -> list[str]:
    return [
        line.rstrip() for line in all_lines if line.strip() and not line.lstrip().startswith(">")
    ]


def _letterhead_head(all_lines: list[str], lines: int) -> list[str]:
    """``_letterhead_lines(all_lines)[:lines]``, stopping once it has them."""
    kept: list[str] = []
    for line in all_lines:
        if line.strip() and not line.lstrip().startswith(">"):
            kept.append(line.rstrip())
            if len(kept) == lines:
                break
    return kept


# --- Reading registry files ----------------------------------------------------------


def _error(identity: Identity, message: str) -> RuleError:
    return RuleError(message, path=identity.path, line=identity.line, rule_id=identity.id)


def _merge_file(path: Path, merged: dict[str, Identity]) -> None:
    data, positions = read_yaml(path, "identity registry")
    name = str(path)
    for key, line in positions.duplicate_keys()[:1]:
        raise RuleError(f"key {key!r} appears twice", path=name, line=line)
    if data is None:
        return
    if not isinstance(data, list):
        raise RuleError("an identity registry must be a YAML list of identities", path=name, line=1)
    in_file: dict[str, int] = {}
    for index, item in enumerate(data):
        identity = _parse_identity(item, index, name, positions, merged, in_file)
        merged[identity.id] = identity


def _parse_identity(
    item: Any,
    index: int,
    path: str,
    positions: YamlPositions,
    merged: Mapping[str, Identity],
    in_file: dict[str, int],
) -> Identity:
    line = positions.line(index)
    identity_id, fail = list_entry(
        item,
        index,
        path,
        positions,
        shape="identity must be a mapping with id, title, domains, names…",
        id_pattern=_ID,
        id_example="BE_FEDERAL_POLICE",
    )

    if identity_id in in_file:
        raise fail(f"the id is defined twice in this file (first at line {in_file[identity_id]})")
    in_file[identity_id] = line
    unknown = [key for key in item if key not in _KEYS]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(_KEYS)})", unknown[0])
    replace = item.get("replace", False)
    if not isinstance(replace, bool):
        raise fail("replace must be true or false", "replace")
    for key in ("title", "description"):
        if key in item and (not isinstance(item[key], str) or not item[key].strip()):
            raise fail(f"{key} must be a non-empty string", key)
    if "references" in item:
        _strings(item["references"], lambda m: fail(m, "references"), "references")

    lists: dict[str, tuple[str, ...]] = {}
    for key in _LIST_KEYS:
        if key in item:
            values = _strings(item[key], lambda m, k=key: fail(m, k), key)
            if key == "domains":
                values = _domains(values, lambda m, i: fail(m, "domains", i))
            lists[key] = values

    earlier = None if replace else merged.get(identity_id)
    if earlier is None:
        for key in ("title", "domains", "names"):
            if key not in item:
                raise fail(
                    f"missing required key {key!r} (a new identity needs title, domains, names)"
                )
        for key in ("domains", "names"):
            if not lists[key]:
                raise fail(f"{key} must not be empty", key)
        title = item["title"].strip()
        description = item.get("description", "").strip()
        combined = {key: lists.get(key, ()) for key in _LIST_KEYS}
    else:
        title = item["title"].strip() if "title" in item else earlier.title
        description = item["description"].strip() if "description" in item else earlier.description
        combined = {
            key: tuple(dict.fromkeys(getattr(earlier, key) + lists.get(key, ())))
            for key in _LIST_KEYS
        }
    try:
        return Identity(
            id=identity_id,
            title=title,
            domains=combined["domains"],
            names=combined["names"],
            signatures=combined["signatures"],
            description=description,
            path=path,
            line=line,
        )
    except ValueError as exc:  # pragma: no cover - the checks above come first
        raise fail(str(exc)) from exc


def _strings(value: Any, fail: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(f"{key} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _domains(values: tuple[str, ...], fail: Any) -> tuple[str, ...]:
    domains: list[str] = []
    for position, value in enumerate(values):
        canonical = canonical_domain(value)
        if canonical is None or "." not in canonical or len(canonical) > 253:
            raise fail(
                f"domain {value!r} is not a domain name (write e.g. police.be, no address or URL)",
                position,
            )
        domains.append(canonical)
    return tuple(dict.fromkeys(domains))

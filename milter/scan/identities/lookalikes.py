"""Whether a domain imitates a protected one (docs/identities.md, "What the look-alike
check considers").

``build_lookalike_index(identities)`` precomputes, for every protected domain, the strings
a look-alike may reduce to; ``LookalikeIndex.match`` compares the runs of a domain's
words with them, strongest kind first. Whether the domain belongs to an identity is the
registry's question, asked before this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from milter.scan.identities.domains import (
    GOVERNMENT_ZONES,
    edit_distance,
    fold_chars,
    fold_pairs,
    skeleton,
    suffix_length,
)
from milter.scan.identities.matching import phrase_words
from milter.scan.identities.values import Identity, LookalikeKind, LookalikeMatch

__all__ = ["LookalikeIndex", "build_lookalike_index"]

_RANK: Final = {kind: rank for rank, kind in enumerate(LookalikeKind)}
_COUNT: Final = {1: "one letter", 2: "two letters"}
# Domains longer than this many words are judged on their last ones (bounded work).
_MAX_WINDOW_WORDS: Final = 16


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


@dataclass(frozen=True)
class _Window:
    """A run of a domain's words: as written, as it looks, and its words."""

    raw: str
    skeleton: str
    words: tuple[str, ...]
    at_label_start: bool


@dataclass(frozen=True)
class LookalikeIndex:
    """The protected domains and names, indexed for ``match``."""

    # Zones where only non-Latin look-alike characters count (GOVERNMENT_ZONES and the
    # registrable domain of every protected domain).
    zones: frozenset[str]
    exact_raw: Mapping[str, tuple[_Target, ...]]
    exact_skeleton: Mapping[str, tuple[_Target, ...]]
    # Targets with an edit budget, by skeleton length: a window is compared only with
    # those its length can reach within their budget.
    fuzzy: Mapping[int, tuple[_Target, ...]]
    letters: Mapping[str, frozenset[str]]  # a fuzzy target's skeleton: its letters
    reordered: Mapping[tuple[str, ...], _Target]  # a domain's core words, sorted
    names: Mapping[str, _Target]  # an identity's name, by skeleton

    def match(self, domain: str, canonical: str) -> LookalikeMatch | None:
        """How ``canonical`` (``canonical_domain(domain)``, owned by no identity)
        imitates a protected domain, or ``None``."""
        labels = canonical.split(".")
        if len(labels) < 2:
            return None
        punycode = any(label.startswith("xn--") for label in domain.strip().lower().split("."))
        homoglyphs = punycode or not canonical.isascii()
        in_zone = any(".".join(labels[i:]) in self.zones for i in range(len(labels)))
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
            for target in self.exact_raw.get(window.raw, ()):
                if target.name:
                    reason = f"the name {target.text!r} of {target.protected} under another suffix"
                else:
                    reason = f"the letters of {target.protected} with other dots, hyphens or suffix"
                offer(target, LookalikeKind.SEPARATORS, reason)
            for target in self.exact_skeleton.get(window.skeleton, ()):
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
                target = self.reordered.get(tuple(sorted(window.words)))
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
                for target in self.fuzzy.get(len(window.skeleton), ()):
                    # Each letter one string has and the other lacks costs an edit: a
                    # cheap bound (set operations in C) before the full comparison.
                    other = self.letters[target.skeleton]
                    if len(letters - other) > target.budget or len(other - letters) > target.budget:
                        continue
                    distance = edit_distance(window.skeleton, target.skeleton, target.budget)
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
            target = self.names.get(window.skeleton)
            if target is not None:
                offer(target, LookalikeKind.NAME, f"contains the name {target.name!r}")
                return best
        return best


def build_lookalike_index(
    identities: Iterable[Identity], government_zones: Iterable[str] = ()
) -> LookalikeIndex:
    """The index of ``identities``' domains and names (checked by the registry first:
    no domain under two identities, every name has words). ``government_zones`` (the
    table of government.py) are added to GOVERNMENT_ZONES."""
    zones = set(GOVERNMENT_ZONES)
    zones.update(government_zones)
    exact_raw: dict[str, list[_Target]] = {}
    exact_skeleton: dict[str, list[_Target]] = {}
    fuzzy: list[_Target] = []
    reordered: dict[tuple[str, ...], _Target] = {}
    names: dict[str, _Target] = {}
    for identity in identities:
        for domain in identity.domains:
            labels = tuple(domain.split("."))
            suffix = suffix_length(labels)
            zones.add(".".join(labels[-(suffix + 1) :]))
            for target in _targets(identity, domain):
                exact_raw.setdefault(target.text, []).append(target)
                exact_skeleton.setdefault(target.skeleton, []).append(target)
                if target.budget:
                    fuzzy.append(target)
            core_words = [
                word for label in labels[: len(labels) - suffix] for word in label.split("-")
            ]
            if len(core_words) >= 2:
                reordered.setdefault(
                    tuple(sorted(core_words)),
                    _Target(identity, domain, "".join(core_words), "", 0),
                )
        for phrase in identity.names:
            flat = "".join(phrase_words(phrase))
            folded = skeleton(flat)
            names.setdefault(
                folded, _Target(identity, identity.domains[0], flat, folded, 0, phrase)
            )

    by_length: dict[int, list[_Target]] = {}
    for target in fuzzy:
        for length in range(
            len(target.skeleton) - target.budget, len(target.skeleton) + target.budget + 1
        ):
            by_length.setdefault(length, []).append(target)
    return LookalikeIndex(
        zones=frozenset(zones),
        exact_raw=MappingProxyType({k: tuple(v) for k, v in exact_raw.items()}),
        exact_skeleton=MappingProxyType({k: tuple(v) for k, v in exact_skeleton.items()}),
        fuzzy=MappingProxyType({k: tuple(v) for k, v in by_length.items()}),
        letters=MappingProxyType({t.skeleton: frozenset(t.skeleton) for t in fuzzy}),
        reordered=MappingProxyType(reordered),
        names=MappingProxyType(names),
    )


def _targets(identity: Identity, domain: str) -> Iterator[_Target]:
    labels = tuple(domain.split("."))
    suffix = suffix_length(labels)
    core = labels[: len(labels) - suffix]
    if not core:
        return  # a public suffix itself (jus.br): nothing to imitate but the suffix
    core_length = len("".join(core))
    # Short names are one letter away from ordinary words (police/policy, politie/
    # politic): they get no edit distance, only exact and look-alike character matches.
    budget = 2 if core_length >= 14 else 1 if core_length >= 8 else 0
    for count in range(max(2, len(core)), len(labels) + 1):
        flat = "".join(part.replace("-", "") for part in labels[:count])
        yield _Target(identity, domain, flat, skeleton(flat), budget)
    if len(core) == 1:
        # The bare name under another suffix (fbi.com, interpol.org) only when the name
        # is the authority's own: police.uk and politie.be are not police.be's.
        own = {"".join(phrase_words(n)): n for n in identity.names}
        if core[0] in own:
            yield _Target(identity, domain, core[0], skeleton(core[0]), 0, own[core[0]])


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
    folded = [fold_chars(word) for word in words]
    for tail in range(min(3, len(labels))):
        end = sum(1 for label in label_of if label < len(labels) - tail)
        for start in range(end):
            at_label_start = start == 0 or label_of[start - 1] != label_of[start]
            yield _Window(
                "".join(words[start:end]),
                fold_pairs("".join(folded[start:end])),
                tuple(words[start:end]),
                at_label_start,
            )


def _name_windows(labels: list[str]) -> Iterator[_Window]:
    """Every run of words in the domain's labels but the last (its suffix)."""
    words, _ = _split_words(labels[:-1])
    folded = [fold_chars(word) for word in words]
    for start in range(len(words)):
        for end in range(start + 1, len(words) + 1):
            yield _Window(
                "".join(words[start:end]),
                fold_pairs("".join(folded[start:end])),
                tuple(words[start:end]),
                True,
            )

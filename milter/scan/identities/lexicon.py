"""The open model of authority: kinds of authority (police, gendarmerie, prosecutor,
court, justice ministry, tax and customs authorities, child-protection units) and how
each is named in many languages (rules/authorities.yml, docs/authority.md).

The registry (identities.yml) knows named authorities and their domains; the lexicon
knows what an authority *is*, so "Receita Federal", "Polizia Postale", "Sąd Rejonowy" or
"Agenția Națională de Administrare Fiscală" claim authority although no registry entry
names them. Phrases follow the registry's rules (claims.py): a bare word that ordinary
mail uses ("police", "tribunal") is refused.

Two ways a claim is found:

- ``PhraseIndex.scan`` (claims.py) for texts with words: a display name, a subject, the
  letterhead and signature lines, the lines read in an image. A claim is a label, not a
  sentence that mentions the authority;
- ``TokenIndex.find`` for a single token: an address's local part
  (``policenational740@``) or a file name (``BKA025.jpg``, ``EUROPOL1.jpg``), where the
  words run together.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import ahocorasick

from milter.scan.identities.claims import PhraseIndex, build_phrase_index
from milter.scan.identities.matching import UNACCENT, match_form, phrase_words
from milter.scan.identities.values import (
    ID_PATTERN,
    AuthorityKind,
    Identity,
    IdentityClaim,
)
from milter.scan.rules.yaml_source import files_named, list_entry, read_yaml_list

__all__ = [
    "LEXICON_FILE",
    "AuthorityLexicon",
    "TokenIndex",
    "build_token_index",
    "kind_value",
    "read_lexicon",
    "token_runs",
]

#: The name of the lexicon in a rules directory.
LEXICON_FILE: Final = "authorities.yml"

_KEYS: Final = ("id", "title", "description", "names", "signatures")
_LANGUAGE: Final = re.compile(r"[a-z]{2}")

# A token's letters, split where digits or separators are ("BKA025" -> "bka").
_ALPHA_RUN: Final = re.compile(r"[^\W\d_]+")
# A file name's extension, left out of a token (".jpg", ".pdf").
_EXTENSION: Final = re.compile(r"\.[A-Za-z0-9]{1,5}$")
# Compact phrases at least this long may sit inside a longer run of letters
# ("policenational740", "receitafederalbr"); shorter ones (acronyms such as "bka",
# "fbi", "anaf") must be a whole run, or "fbi" would be found in "fbinvest".
_INSIDE_MIN: Final = 7
# A compact phrase this long also matches without its last letter, for the inflections
# of a run-together local part ("policenational" for "police nationale").
_TRUNCATE_MIN: Final = 10


@dataclass(frozen=True)
class TokenIndex:
    """Compact phrases (words run together) of identities or kinds, for tokens."""

    automaton: ahocorasick.Automaton | None

    def find(self, token: str) -> list[tuple[Identity | AuthorityKind, str]]:
        """The owners whose phrase ``token`` (a local part or a file name) holds, with the
        phrase, in the order found; one entry per owner."""
        return self.find_runs(token_runs(match_form(token)[0]))

    def find_runs(self, runs: tuple[str, ...]) -> list[tuple[Identity | AuthorityKind, str]]:
        """``find`` for a token already cut into runs of letters (``token_runs``)."""
        automaton = self.automaton
        if automaton is None or not runs:
            return []
        found: dict[str, tuple[Identity | AuthorityKind, str]] = {}
        for _end, entries in automaton.iter("".join(runs)):
            for compact, owner, phrase in entries:
                key = kind_value(owner)
                if key not in found and (len(compact) >= _INSIDE_MIN or compact in runs):
                    found[key] = (owner, phrase)
        return list(found.values())


def token_runs(folded: str) -> tuple[str, ...]:
    """The runs of letters of a token in matching form (``NormalizedText.text``), without
    an address's domain or a file's extension: "bka025.jpg" -> ("bka",)."""
    stem = _EXTENSION.sub("", folded.rpartition("@")[0] or folded)
    if not stem.isascii():
        stem = stem.translate(UNACCENT)
    return tuple(_ALPHA_RUN.findall(stem))


def build_token_index(owners: Iterable[Identity | AuthorityKind]) -> TokenIndex:
    """The compact phrases (names and signatures) of ``owners``. A phrase of two owners
    (a registry authority's name that is also a kind's: "policía nacional") names both."""
    forms: dict[str, list[tuple[str, Identity | AuthorityKind, str]]] = {}
    for owner in owners:
        for phrase in (*owner.names, *owner.signatures):
            compact = "".join(phrase_words(phrase))
            variants = [compact]
            if len(compact) >= _TRUNCATE_MIN:
                variants.append(compact[:-1])
            for form in variants:
                entries = forms.setdefault(form, [])
                if form and all(entry[1] is not owner for entry in entries):
                    entries.append((form, owner, phrase))
    if not forms:
        return TokenIndex(None)
    automaton = ahocorasick.Automaton()
    for form, entries in forms.items():
        automaton.add_word(form, tuple(entries))
    automaton.make_automaton()
    return TokenIndex(automaton)


class AuthorityLexicon:
    """The kinds of authority, indexed for label claims and for tokens."""

    __slots__ = ("_kinds", "_phrases", "_tokens")

    def __init__(self, kinds: Iterable[AuthorityKind] = ()) -> None:
        self._kinds = tuple(kinds)
        # build_phrase_index refuses bare general words and a phrase under two kinds.
        self._phrases: PhraseIndex = build_phrase_index(self._kinds)
        self._tokens: TokenIndex = build_token_index(self._kinds)

    @classmethod
    def load(cls, paths: Iterable[Path]) -> AuthorityLexicon:
        """The lexicon of the files at ``paths`` (a directory adds its
        ``authorities.yml`` if it has one); a kind already read gets the new phrases."""
        return cls(read_lexicon(paths))

    @property
    def kinds(self) -> tuple[AuthorityKind, ...]:
        return self._kinds

    @property
    def phrases(self) -> PhraseIndex:
        """The index of every phrase of every kind."""
        return self._phrases

    def may_claim(self, folded: str) -> bool:
        """False when ``folded`` (``NormalizedText.text``) holds no phrase at all."""
        return self._phrases.may_claim(folded)

    def may_claim_compact(self, compact: str, unaccented: str) -> bool:
        """``may_claim`` for a text in both forms (``PhraseIndex.may_claim_compact``)."""
        return self._phrases.may_claim_compact(compact, unaccented)

    def claims(self, text: str, max_extra_words: int) -> tuple[IdentityClaim, ...]:
        """The kinds ``text`` claims, as labels (see ``IdentityRegistry.claims``)."""
        return self._phrases.scan(text, max_extra_words)

    def token_claims(self, runs: tuple[str, ...]) -> list[tuple[Identity | AuthorityKind, str]]:
        """The kinds a local part or a file name (cut by ``token_runs``) names, with the
        phrase."""
        return self._tokens.find_runs(runs)


def read_lexicon(paths: Iterable[Path]) -> tuple[AuthorityKind, ...]:
    """Read and merge lexicon files, in order. Raises ``RuleError`` (file, line, id)."""
    merged: dict[str, AuthorityKind] = {}
    for path in files_named(paths, LEXICON_FILE):
        _merge_file(path, merged)
    return tuple(merged.values())


def _merge_file(path: Path, merged: dict[str, AuthorityKind]) -> None:
    data, positions = read_yaml_list(
        path, "authority lexicon", "an authority lexicon must be a YAML list of kinds"
    )
    name = str(path)
    for index, item in enumerate(data):
        kind_id, fail = list_entry(
            item,
            index,
            name,
            positions,
            shape="kind must be a mapping with id, title, names",
            id_pattern=ID_PATTERN,
            id_example="POLICE",
        )
        unknown = [key for key in item if key not in _KEYS]
        if unknown:
            raise fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(_KEYS)})", unknown[0])
        earlier = merged.get(kind_id)
        title = item.get("title", earlier.title if earlier else None)
        if not isinstance(title, str) or not title.strip():
            raise fail("title must be a non-empty string", "title")
        names = _by_language(item.get("names"), "names", fail, required=earlier is None)
        signatures = _by_language(item.get("signatures"), "signatures", fail, required=False)
        if earlier is not None:
            names = tuple(dict.fromkeys(earlier.names + names))
            signatures = tuple(dict.fromkeys(earlier.signatures + signatures))
        merged[kind_id] = AuthorityKind(
            id=kind_id,
            title=title.strip(),
            names=names,
            signatures=signatures,
            path=name,
            line=positions.line(index),
        )


def _by_language(value: Any, key: str, fail: Any, *, required: bool) -> tuple[str, ...]:
    """A ``{language: [phrase, …]}`` mapping, flattened in order."""
    if value is None:
        if required:
            raise fail(f"missing required key {key!r}")
        return ()
    if not isinstance(value, dict) or not value:
        raise fail(f"{key} must map a language code (en, fr…) to a list of phrases", key)
    phrases: list[str] = []
    for language, items in value.items():
        if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
            raise fail(f"{key}: {language!r} is not a two-letter language code", key)
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
            raise fail(f"{key}.{language} must be a list of non-empty strings", key, language)
        phrases.extend(v.strip() for v in items)
    return tuple(dict.fromkeys(phrases))


def kind_value(owner: Identity | AuthorityKind) -> str:
    """What a claim of ``owner`` reports: an identity's id, or ``kind:<ID>``."""
    return f"kind:{owner.id}" if isinstance(owner, AuthorityKind) else owner.id

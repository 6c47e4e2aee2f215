"""Which authorities a text claims to be (docs/identities.md, "What counts as a claim").

``build_phrase_index(identities)`` checks and indexes every name and signature phrase of
the registry; ``PhraseIndex.scan`` finds them in a display name, a subject, a letterhead
or a signature block. A claim is a label ("Police Fédérale", "Oproeping - Federale
Politie"), not a sentence that mentions the authority ("la police fédérale rappelle
que…"): news and warnings mention authorities all the time.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import ahocorasick

from milter.scan.identities.matching import (
    ASCII_NOT_ALNUM,
    NOT_WORD,
    UNACCENT,
    WORD,
    match_form,
    phrase_words,
)
from milter.scan.identities.values import (
    AuthorityKind,
    ClaimKind,
    Identity,
    IdentityClaim,
    registry_error,
)

__all__ = ["DEFAULT_MAX_EXTRA_WORDS", "PhraseIndex", "build_phrase_index", "compact_form"]

#: The default number of other words a segment may hold around a claimed name
#: ("Police Fédérale Belge", "INTERPOL Cyber Division" are labels; "FBI warns of new
#: sextortion wave" is not).
DEFAULT_MAX_EXTRA_WORDS: Final = 2

# Between the words of a phrase: nothing, or up to three separators ("FBI", "F.B.I.",
# "commissaris-generaal", "commissaris generaal", "Director, Federal Bureau…",
# "convocation.policefederale.be").
_SEP: Final = r"[\W_]{0,3}"

# How many first letters of a phrase the quick scan looks up (see PhraseIndex.find).
_START: Final = 3

# Phrases shorter than this (run together) are looked for word-bounded by may_claim:
# acronyms of five letters too, as "ofmin" is in "of mine" and "kripo" in "kripos".
_SHORT: Final = 6

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
    # Italian, Spanish, Polish, Czech and Romanian (the lexicon's other languages).
    "di", "del", "della", "delle", "dello", "dei", "degli", "alla", "alle", "il", "per", "con",
    "el", "los", "las", "y", "dla", "oraz", "pro", "ze", "pentru", "din", "lui", "si", "cu",
    "pe",
))  # fmt: skip

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
    # The same words in the lexicon's other languages (rules/authorities.yml).
    "policja", "policie", "politia", "gendarmeria", "jandarmeria",
    "tribunale", "tribunalul", "sad", "soud", "judecatoria", "juzgado", "corte", "procura",
    "prokuratura", "fiscalia", "procuradoria", "parchetul", "ministerstwo", "ministero",
    "ministerstvo", "ministerul", "giustizia", "sprawiedliwosci", "spravedlnosti", "justitiei",
    "tax", "taxes", "revenue", "customs", "douane", "douanes", "zoll", "aduana", "dogana",
    "alfandega", "impots", "steuer", "fisco", "financas", "hacienda",
))  # fmt: skip


def compact_form(unaccented: str) -> str:
    """``unaccented`` (a normalised text with accents dropped) without its separators,
    as ``PhraseIndex.may_claim_compact`` reads it."""
    if unaccented.isascii():
        # The same as NOT_WORD.sub("", text) for ASCII text, at C speed.
        return unaccented.encode("ascii").translate(None, ASCII_NOT_ALNUM).decode("ascii")
    return NOT_WORD.sub("", unaccented)


@dataclass(frozen=True)
class PhraseIndex:
    """Every phrase of the registry, indexed for ``scan`` and ``may_claim``."""

    # (identity, phrase as written, kind), in the order of the pattern's groups.
    phrases: tuple[tuple[Identity | AuthorityKind, str, ClaimKind], ...]
    # One alternation of every phrase, longest first; None for an empty registry.
    pattern: re.Pattern[str] | None
    # The first letters (up to _START) of every phrase's first word.
    starts: frozenset[str]
    # Every phrase with its words run together, for one pass in C (see may_claim). The
    # value is None for a phrase of _SHORT letters or more, else the phrase's own
    # word-bounded pattern: run together, "irs" or "fbi" is in every "first".
    compact: ahocorasick.Automaton | None

    def may_claim(self, folded: str) -> bool:
        """False when ``folded`` (a normalised text, ``NormalizedText.text``) cannot hold
        any phrase, not even with its separators taken out (a short phrase: not as a
        word of its own)."""
        if self.compact is None or not folded:
            return False
        unaccented = folded if folded.isascii() else folded.translate(UNACCENT)
        return self.may_claim_compact(compact_form(unaccented), unaccented)

    def merged(self, other: PhraseIndex) -> PhraseIndex:
        """An index whose ``may_claim`` answers for the phrases of both (for one quick
        check before two scans); its other fields are this one's."""
        automaton = ahocorasick.Automaton()
        for index in (self, other):
            if index.compact is None:
                continue
            for joined, (_, short) in index.compact.items():
                if automaton.exists(joined):
                    previous = automaton.get(joined)[1]
                    short = None if previous is None or short is None else previous + short
                automaton.add_word(joined, (joined, short))
        if not len(automaton):
            return self
        automaton.make_automaton()
        return dataclasses.replace(self, compact=automaton)

    def may_claim_compact(self, compact: str, unaccented: str) -> bool:
        """``may_claim`` for a text already in both forms: ``compact_form`` of it, and
        the folded text with accents dropped (callers with two indexes make them once)."""
        automaton = self.compact
        if automaton is None:
            return False
        tried: list[str] = []
        for _end, (joined, short) in automaton.iter(compact):
            if short is None:
                return True
            if joined not in tried:
                tried.append(joined)
                if any(pattern.search(unaccented) for pattern in short):
                    return True
        return False

    def scan(self, text: str, max_extra: int | None) -> tuple[IdentityClaim, ...]:
        """The identities ``text`` names, one claim each, in text order: as labels of at
        most ``max_extra`` other words, or every occurrence when it is ``None``."""
        if self.pattern is None or not text:
            return ()
        # One pass over the whole text first: most texts name no authority at all.
        if not self.may_claim(match_form(text)[0]):
            return ()
        found: dict[str, IdentityClaim] = {}
        lines = text.splitlines(keepends=True)
        offset = 0
        for index, line in enumerate(lines):
            line_offset = offset
            offset += len(line)
            folded, norm = match_form(line)
            matches = self.find(folded)
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
                identity, phrase, kind = self.phrases[(match.lastindex or 1) - 1]
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

    def find(self, folded: str) -> list[re.Match[str]]:
        """Every phrase in ``folded`` (matching form), left to right, not overlapping."""
        pattern = self.pattern
        if pattern is None:
            return []
        starts = self.starts
        found: list[re.Match[str]] = []
        position = 0
        for word in WORD.finditer(folded):
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


def build_phrase_index(identities: Iterable[Identity | AuthorityKind]) -> PhraseIndex:
    """The index of every name and signature of ``identities``.

    Raises ``RuleError`` (naming the identity and where it was defined) for a phrase too
    short or too general to be a claim, or one that is also another identity's.
    """
    phrases: dict[tuple[str, ...], tuple[Identity | AuthorityKind, str, ClaimKind]] = {}
    for identity in identities:
        for kind, values in (
            (ClaimKind.NAME, identity.names),
            (ClaimKind.SIGNATURE, identity.signatures),
        ):
            for phrase in values:
                words = phrase_words(phrase)
                if not words or len("".join(words)) < 3:
                    raise registry_error(
                        identity, f"{kind.value} {phrase!r} is too short to be a claim"
                    )
                if len(words) == 1 and words[0] in _TOO_GENERAL:
                    raise registry_error(
                        identity,
                        f"{kind.value} {phrase!r} is a word that ordinary mail uses without "
                        "claiming an authority; write the authority's name "
                        "(e.g. 'police fédérale')",
                    )
                seen = phrases.get(words)
                if seen is not None and seen[0] is not identity:
                    raise registry_error(
                        identity, f"{kind.value} {phrase!r} is also a phrase of {seen[0].id}"
                    )
                if seen is None:
                    phrases[words] = (identity, phrase, kind)

    # Longer phrases first: at one position, the alternation takes the first that
    # matches, so "commissaris-generaal van de federale politie" wins over
    # "federale politie" and the evidence is the whole signature.
    # At equal length, fewer words first: "FBI" is reported as "fbi", not "f.b.i".
    ordered = sorted(phrases.items(), key=lambda item: (-len("".join(item[0])), len(item[0])))
    if not ordered:
        return PhraseIndex((), None, frozenset(), None)
    alternatives = "|".join(
        "(" + _SEP.join(re.escape(word) for word in words) + ")" for words, _ in ordered
    )
    # Every phrase with its words run together, for one pass in C over a whole text
    # with its separators removed (a phrase allows at most a few between words):
    # most texts name no authority, and then the word-by-word search never runs.
    compact = ahocorasick.Automaton()
    for words in dict.fromkeys(words for words, _ in ordered):
        joined = "".join(words)
        short: tuple[re.Pattern[str], ...] | None = None
        if len(joined) < _SHORT:
            body = _SEP.join(re.escape(word) for word in words)
            short = (re.compile(rf"(?<![^\W_]){body}(?![^\W_])"),)
        if compact.exists(joined):
            # Two phrases with the same letters ("fbi", "f.b.i"): either may stand.
            previous = compact.get(joined)[1]
            short = None if previous is None or short is None else previous + short
        compact.add_word(joined, (joined, short))
    compact.make_automaton()
    return PhraseIndex(
        phrases=tuple(value for _, value in ordered),
        pattern=re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])"),
        # The regex is only tried where a word starts with one of these, since trying
        # ~200 alternatives at every position of a text is slow in ``re``.
        starts=frozenset(words[0][:_START] for words, _ in ordered),
        compact=compact,
    )


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
    last = WORD.findall(match_form(line[-20:])[0])
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
    for word in WORD.finditer(folded, seg_start, seg_end):
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

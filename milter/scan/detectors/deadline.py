"""The ``deadline`` detector: time limits ("within 48 hours", "binnen 2 dagen") in the
languages of the mail we see."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator, Mapping

import ahocorasick

from milter.scan.detectors.base import DetectorContext, Hit, alternation
from milter.scan.normalize import NormalizedText

__all__ = ["find_deadlines"]


_NUMBER_WORDS: Mapping[str, int] = types.MappingProxyType(
    {
        # English
        "a": 1,
        "an": 1,
        "one": 1,
        "two": 2,
        "three": 3,
        "four": 4,
        "five": 5,
        "six": 6,
        "seven": 7,
        "eight": 8,
        "nine": 9,
        "ten": 10,
        "twelve": 12,
        "twenty-four": 24,
        "twenty four": 24,
        "forty-eight": 48,
        "forty eight": 48,
        "seventy-two": 72,
        "seventy two": 72,
        # Dutch
        "een": 1,
        "één": 1,
        "twee": 2,
        "drie": 3,
        "vier": 4,
        "vijf": 5,
        "zes": 6,
        "zeven": 7,
        "acht": 8,
        "negen": 9,
        "tien": 10,
        "twaalf": 12,
        "vierentwintig": 24,
        "achtenveertig": 48,
        "tweeënzeventig": 72,
        "tweeenzeventig": 72,
        # French
        "un": 1,
        "une": 1,
        "deux": 2,
        "trois": 3,
        "quatre": 4,
        "cinq": 5,
        "sept": 7,
        "huit": 8,
        "neuf": 9,
        "dix": 10,
        "douze": 12,
        "vingt-quatre": 24,
        "quarante-huit": 48,
        "soixante-douze": 72,
        # German ("vier", "acht" as in Dutch)
        "ein": 1,
        "eine": 1,
        "einem": 1,
        "einer": 1,
        "zwei": 2,
        "drei": 3,
        "fünf": 5,
        "funf": 5,
        "sechs": 6,
        "sieben": 7,
        "neun": 9,
        "zehn": 10,
        "zwölf": 12,
        "zwolf": 12,
        "vierundzwanzig": 24,
        "achtundvierzig": 48,
        "zweiundsiebzig": 72,
        # Spanish
        "una": 1,
        "dos": 2,
        "tres": 3,
        "cinco": 5,
        "diez": 10,
        "veinticuatro": 24,
        "cuarenta y ocho": 48,
        "setenta y dos": 72,
    }
)
# Words that are also articles count only after a preposition ("within a day", "binnen
# een dag"): alone, "a day" or "un jour" is everywhere in ordinary prose.
_ARTICLE_NUMBERS = frozenset(
    {"a", "an", "een", "un", "une", "ein", "eine", "einem", "einer", "una"}
)
_HOURS = (
    "hours", "hour", "hrs", "hr", "h", "uur", "uren", "u", "heures", "heure",
    "stunden", "stunde", "std", "horas", "hora",
)  # fmt: skip
_DAYS = (
    "days", "day", "business days", "working days", "dagen", "dag", "werkdagen",
    "jours", "jour", "jours ouvrables", "tagen", "tage", "tages", "tag", "werktage",
    "werktagen", "días", "dias", "día", "dia",
)  # fmt: skip
_PREPOSITIONS = (
    "within", "within the next", "in", "in the next", "binnen", "binnen de", "binnen de komende",
    "in de komende", "sous", "dans", "dans les", "d'ici", "d’ici", "en moins de",
    "innerhalb", "innerhalb von", "innerhalb der nächsten", "innerhalb der nachsten",
    "in den nächsten", "in den nachsten", "en", "en las próximas", "en los próximos",
    "dentro de",
)  # fmt: skip
_DEADLINE = re.compile(
    rf"""
    (?<![\w.,])
    (?:(?P<prep>{alternation(_PREPOSITIONS)})\ )?
    (?P<number>[0-9]{{1,3}}|{alternation(_NUMBER_WORDS)})
    [ -]?
    (?:(?P<hours>{alternation(_HOURS)})|(?P<days>{alternation(_DAYS)}))
    (?![\w])
    (?!\ (?:ago|geleden)\b)        # "2 hours ago" is the past, not a limit
    """,
    re.VERBOSE,
)


# Every deadline has a number right before its unit: "48 hours", "48-hours", "48hours".
# finditer tries _DEADLINE at every position of the text, which was nearly all of the
# detector's cost; _deadline_matches tries it only a little before such a pair. One
# Aho-Corasick pass (in C) over all pairs finds them, overlapping ones included; for a
# number in digits a pair holds only its last digit. The automaton is complete before
# use and only read afterwards.
def _number_unit_automaton() -> ahocorasick.Automaton:
    """Every number word or digit, then nothing, a space or a hyphen, then a unit."""
    automaton = ahocorasick.Automaton(ahocorasick.STORE_LENGTH)
    for number in (*_NUMBER_WORDS, *"0123456789"):
        for separator in ("", " ", "-"):
            for unit in (*_HOURS, *_DAYS):
                automaton.add_word(number + separator + unit)
    automaton.make_automaton()
    return automaton


_NUMBER_UNIT = _number_unit_automaton()
# How far before its pair a deadline can begin: the longest preposition and its space,
# and the two digits of a number in digits that its pair leaves out.
_DEADLINE_LEAD = max(map(len, _PREPOSITIONS)) + 1 + 2
_WORD_CHAR = re.compile(r"\w")


def _deadline_matches(text: str) -> Iterator[re.Match[str]]:
    """What ``_DEADLINE.finditer(text)`` finds, trying only where a deadline can begin."""
    pairs = sorted(
        {
            end + 1 - length
            for end, length in _NUMBER_UNIT.iter(text)
            if not _WORD_CHAR.match(text, end + 1)  # the unit must end a word
        }
    )
    done = 0  # the end of the last match: matches do not overlap
    tried = 0  # no position before this one is left to try
    for pair in pairs:
        for start in range(max(done, tried, pair - _DEADLINE_LEAD), pair + 1):
            if start >= done and (match := _DEADLINE.match(text, start)):
                done = match.end()
                yield match
        tried = pair + 1


# "10 h 30", "18h30": a time of day, not a duration.
_CLOCK_TIME = re.compile(r" ?[0-9]")
_MAX_HOURS = 240
_MAX_DAYS = 30


def find_deadlines(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """Time limits ("within 48 hours", "binnen 2 dagen"), valued as "48 hours", "2 days"."""
    hits = []
    for match in _deadline_matches(normalized.text):
        word = match["number"]
        if match["hours"] in ("h", "u") and _CLOCK_TIME.match(normalized.text, match.end()):
            continue  # "18h30", the Belgian "14u30": a time of day
        if match["hours"] == "u" and (
            not match["prep"] or not word.isdigit() or match.end("number") != match.start("hours")
        ):
            # Flemish "72u" for hours, but only as "binnen 72u": "u" alone is also the
            # Dutch "you", and "4u" is "for you".
            continue
        if word.isdigit():
            count = int(word)
        else:
            if match["hours"] == "h" or (word in _ARTICLE_NUMBERS and not match["prep"]):
                continue  # "one h" is not a time; "a day" alone is not a deadline
            count = _NUMBER_WORDS[word]
        if match["hours"]:
            if not 1 <= count <= _MAX_HOURS:
                continue
            value = f"{count} hour" if count == 1 else f"{count} hours"
        else:
            if not 1 <= count <= _MAX_DAYS:
                continue
            value = f"{count} day" if count == 1 else f"{count} days"
        hits.append(Hit(match.start(), match.end(), value, cased=False))
    return hits

"""Normalised copies of message text for matching, with a map back to the original.

Scammers obfuscate: homoglyphs, zero-width characters, odd spacing. Rules match on a
normalised copy; evidence shown to admins quotes the original text, so every character
of the normalised copy remembers where it came from.

What the fold does, character by character (one table, built once at import):

- Whitespace of every kind (NBSP, ideographic space, line separators, Hangul fillers and
  the braille blank that render as blanks) becomes one space; runs collapse; the ends
  are stripped.
- Invisible characters are removed: format characters (ZWSP, ZWNJ, ZWJ, word joiner, soft
  hyphen, BOM, bidi controls, tag characters), control characters, variation selectors,
  the combining grapheme joiner, lone surrogates.
- NFKC per character: fullwidth forms, mathematical alphanumerics, ligatures, circled
  and squared letters become plain letters.
- Confusables fold to the Latin letter they imitate: Cyrillic, Greek, Armenian and
  Cherokee look-alikes, IPA and small capitals, Latin letters with hooks, strokes, tails
  and other decorations that no target language writes ("ɱαstuŗbαted", "ʋirus", "seƞd").
  Every character of Unicode's confusables data whose prototype is one ASCII letter is
  folded to it (Lisu "ꓑꓳꓡꓲꓚꓰ" is "POLICE"), except the few that
  ``milter.scan.confusables.NOT_FOLDED`` lists with the reason (digits stay digits);
  tests/scan/test_confusables.py checks that against the data.
  Two IPA letters fold by how scams use them, not by their names: "ʍ" (turned w) stands
  for m and "ʌ" (turned v) for a ("ʍasturbace", "Hʌcker" in real sextortion mail).
- Accented letters are kept when they belong to the orthography of the languages rules
  are written in (Dutch, French, German, English, the other Western European languages,
  and Central European ones: Czech, Polish, Hungarian, Romanian…), so "pédopornographie"
  and "Straße" stay as written and rules can say what they mean. Any other accent on a
  Latin-like letter is decoration used to dodge filters ("ŗ", "ẖ", Greek "ί") and is
  stripped. Stacked combining marks on a Latin base (strike-through, "Zalgo" text) are
  dropped; marks on other scripts (Arabic, Hebrew, Indic vowel signs) carry meaning and
  are kept.
- Lower case in ``text``; ``cased`` keeps the case (an upper-case Cyrillic "А" is "A" in
  ``cased`` and "a" in ``text``). Lower-casing is ``str.lower``, not ``casefold``: "ß"
  stays "ß", so a rule's regex sees the spelling its author wrote.

Rule literals should go through ``normalize`` too, so both sides fold alike (a Cyrillic
word in a rule folds the same way as in a message).

NFKC is applied per character, not per string: composition of a base letter with a
following combining mark is handled explicitly (so "e" + U+0301 is "é"), but rare
compositions between two non-mark characters (conjoining Hangul jamo, some Indic
two-part vowels) are left as they are. That keeps the work linear and the maps exact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from itertools import compress
from types import MappingProxyType
from typing import Final

from milter.scan.confusables import lookalikes

# Evidence extends over combining marks and invisible characters that follow the last
# matched character (they produced no output of their own); capped so a "Zalgo" pile
# cannot turn one quoted word into kilobytes of evidence.
_EVIDENCE_TAIL_MAX: Final = 64


@dataclass(frozen=True)
class NormalizedText:
    """A text in three forms.

    ``text`` is the folded form rules match on (NFKC, invisibles removed, confusables
    folded, lower case, whitespace runs as one space). ``cased`` is the same but keeps
    letter case, for detectors where case matters (Base58 addresses). ``text_map[i]`` and
    ``cased_map[i]`` give the index in ``original`` of the character at ``i``; both maps
    have one extra entry for the end of the text.

    The maps are built on first use: only evidence needs them, and most texts of a
    message never quote any, while building the map of a plain text cost as much as
    folding it.
    """

    original: str
    text: str
    cased: str
    # Returns the cased map without its end entry; called at most once.
    build_map: Callable[[], list[int]] = field(repr=False, compare=False)
    # Where the text was read when that is not the message itself ("image BKA025.jpg"):
    # every quote from it says so, since the words are no byte of the message.
    source: str = ""

    @cached_property
    def cased_map(self) -> tuple[int, ...]:
        cmap = self.build_map()
        cmap.append(len(self.original))
        return tuple(cmap)

    @cached_property
    def text_map(self) -> tuple[int, ...]:
        cased_map = self.cased_map
        if len(self.text) == len(self.cased):
            return cased_map
        # Only a few characters lower-case to two (none after the fold, but be exact).
        tmap: list[int] = []
        for char, where in zip(self.cased, cased_map, strict=False):
            tmap.extend([where] * len(char.lower()))
        tmap.append(len(self.original))
        return tuple(tmap)

    def evidence(self, start: int, end: int, *, cased: bool = False) -> str:
        """The original text behind ``text[start:end]`` (or ``cased[start:end]``).

        The quote runs from the source of the first character to the end of the source
        of the last one, including combining marks and invisible characters that were
        folded into it (so "é" written as "e" + U+0301 is quoted whole).
        """
        mapping = self.cased_map if cased else self.text_map
        if not mapping or start >= end:
            return ""
        start = max(0, min(start, len(mapping) - 1))
        end = max(start, min(end, len(mapping) - 1))
        if end <= start:
            return ""
        original = self.original
        o_start = mapping[start]
        o_end = mapping[end - 1] + 1
        limit = min(len(original), o_end + _EVIDENCE_TAIL_MAX)
        while o_end < limit and _FOLD.get(original[o_end], None) in _SILENT:
            o_end += 1
        return self.labelled(original[o_start:o_end])

    def labelled(self, quote: str) -> str:
        """``quote`` with where the text was read, when not in the message's own bytes."""
        return f"{quote} [{self.source}]" if self.source else quote


# Values in the fold table with a special meaning (every other value is the replacement).
_SPACE: Final = " "
_DROP: Final = ""
# A combining mark: what happens depends on the character before it (see _Folder.mark).
_MARK: Final = "\x00"
_SILENT: Final = frozenset((_DROP, _MARK))

# Rendered as blank space although str.isspace() says otherwise.
_BLANKS: Final = "\u115f\u1160\u2800\u3164\uffa0"

# Invisible although not in a format (Cf) or control (Cc) category: the combining
# grapheme joiner, Khmer inherent vowels, variation selectors (incl. the supplement),
# Mongolian free variation selectors.
_INVISIBLE_RANGES: Final = (
    (0x034F, 0x034F),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0xFE00, 0xFE0F),
    (0xE0100, 0xE01EF),
)

# Accented letters kept as written: the orthography of Western European languages
# (Latin-1 Supplement: Dutch, French, German, Spanish, Italian, Portuguese, the Nordic
# languages), French œ/ÿ, and Central European letters (Czech, Slovak, Polish,
# Hungarian, Slovenian, Croatian, Romanian, Turkish). Everything else with an accent on a
# Latin-like base is folded to the base letter.
_KEEP_ACCENTED: Final = frozenset(
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞß"
    "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ"
    "ŒœŸ"
    "ĂăĄąĆćČčĎďĐđĘęĚěĞğĹĺĽľŁłŃńŇňŐőŔŕŘřŚśŞşŠšŢţŤťŮůŰűŹźŻżŽž"
    "ȘșȚț"
)

# Look-alikes that Unicode's own decompositions do not fold. Upper case maps to upper
# case, so ``cased`` keeps the shape; small capitals are lower-case letters and map to
# lower case. They take precedence over the table generated from Unicode's confusables
# data (milter.scan.confusables), which adds what this list lacks.
_CONFUSABLE_PAIRS: Final = (
    # Cyrillic
    ("а", "a"), ("в", "b"), ("е", "e"), ("к", "k"), ("м", "m"), ("н", "h"), ("о", "o"),
    ("р", "p"), ("с", "c"), ("т", "t"), ("у", "y"), ("х", "x"), ("ѕ", "s"), ("і", "i"),
    ("ј", "j"), ("ԁ", "d"), ("ԛ", "q"), ("ԝ", "w"), ("ӏ", "i"), ("һ", "h"), ("ѵ", "v"),
    ("ү", "y"), ("ɡ", "g"), ("ԍ", "g"), ("ҁ", "c"), ("ӕ", "æ"),
    ("А", "A"), ("В", "B"), ("Е", "E"), ("К", "K"), ("М", "M"), ("Н", "H"), ("О", "O"),
    ("Р", "P"), ("С", "C"), ("Т", "T"), ("У", "Y"), ("Х", "X"), ("Ѕ", "S"), ("І", "I"),
    ("Ј", "J"), ("Ԁ", "D"), ("Ԛ", "Q"), ("Ԝ", "W"), ("Ӏ", "I"), ("Һ", "H"), ("Ѵ", "V"),
    ("Ү", "Y"), ("Ԍ", "G"), ("Ҁ", "C"), ("Ӕ", "Æ"),
    # Greek
    ("α", "a"), ("γ", "y"), ("ε", "e"), ("η", "n"), ("ι", "i"), ("κ", "k"), ("μ", "u"),
    ("ν", "v"), ("ο", "o"), ("ρ", "p"), ("τ", "t"), ("υ", "u"), ("χ", "x"), ("ω", "w"),
    ("ϲ", "c"), ("ϳ", "j"), ("ϱ", "p"), ("ϵ", "e"),
    ("Α", "A"), ("Β", "B"), ("Ε", "E"), ("Ζ", "Z"), ("Η", "H"), ("Ι", "I"), ("Κ", "K"),
    ("Μ", "M"), ("Ν", "N"), ("Ο", "O"), ("Ρ", "P"), ("Τ", "T"), ("Υ", "Y"), ("Χ", "X"),
    ("Ϲ", "C"), ("Ϳ", "J"), ("Ϝ", "F"),
    # IPA, small capitals and other Latin letters with no decomposition
    ("ɑ", "a"), ("ɐ", "a"), ("ʌ", "a"), ("Ʌ", "A"), ("ʍ", "m"), ("ɯ", "w"), ("ɩ", "i"),
    ("ɪ", "i"), ("ı", "i"), ("ȷ", "j"), ("ʏ", "y"), ("ᴀ", "a"), ("ʙ", "b"), ("ᴄ", "c"),
    ("ᴅ", "d"), ("ᴇ", "e"), ("ꜰ", "f"), ("ɢ", "g"), ("ʜ", "h"), ("ᴊ", "j"), ("ᴋ", "k"),
    ("ʟ", "l"), ("ᴍ", "m"), ("ɴ", "n"), ("ᴏ", "o"), ("ᴘ", "p"), ("ʀ", "r"), ("ꜱ", "s"),
    ("ᴛ", "t"), ("ᴜ", "u"), ("ᴠ", "v"), ("ᴡ", "w"), ("ᴢ", "z"), ("ʁ", "r"), ("ɛ", "e"),
    ("Ɛ", "E"), ("ə", "e"), ("ǝ", "e"), ("Ə", "E"), ("Ǝ", "E"), ("ɾ", "r"), ("ʊ", "u"),
    ("Ʊ", "U"), ("ŋ", "n"), ("Ŋ", "N"), ("ƿ", "p"), ("Ƿ", "P"), ("ŉ", "n"), ("ℯ", "e"),
    ("℮", "e"), ("ɒ", "a"), ("ɔ", "c"), ("Ɔ", "C"), ("ĸ", "k"), ("ſ", "s"),
    # Armenian
    ("օ", "o"), ("ս", "u"), ("ո", "n"), ("հ", "h"), ("ց", "g"), ("զ", "q"), ("ա", "w"),
    ("Տ", "S"), ("Օ", "O"), ("Ս", "U"), ("Լ", "L"), ("Ձ", "2"),
    # Cherokee (upper case; the lower-case forms are added below)
    ("Ꭺ", "A"), ("Ᏼ", "B"), ("Ꮯ", "C"), ("Ꭰ", "D"), ("Ꭼ", "E"), ("Ꮐ", "G"), ("Ꮋ", "H"),
    ("Ꭻ", "J"), ("Ꮶ", "K"), ("Ꮮ", "L"), ("Ꮇ", "M"), ("Ꮲ", "P"), ("Ꮪ", "S"), ("Ꭲ", "T"),
    ("Ꮩ", "V"), ("Ꮃ", "W"), ("Ꮓ", "Z"), ("Ꮢ", "R"), ("Ꭹ", "Y"), ("Ꮎ", "O"),
    # Punctuation that rules would otherwise have to spell in every variant
    ("\u2018", "'"), ("\u2019", "'"), ("\u201a", "'"), ("\u201b", "'"), ("\u2032", "'"),
    ("\u02bc", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u201e", '"'), ("\u201f", '"'),
    ("\u2033", '"'), ("\u00ab", '"'), ("\u00bb", '"'), ("\u2010", "-"), ("\u2011", "-"),
    ("\u2012", "-"), ("\u2013", "-"), ("\u2014", "-"), ("\u2015", "-"), ("\u2212", "-"),
    ("\u2044", "/"), ("\u2215", "/"),
)  # fmt: skip

# Latin letters decorated with hooks, strokes, tails, bars…, small capitals and circled
# or squared letters, recognised by their Unicode names so the table need not list
# hundreds of them ("LATIN SMALL LETTER N WITH LONG RIGHT LEG" is "n").
_DECORATED_NAME: Final = re.compile(
    r"LATIN (?:(SMALL|CAPITAL) LETTER ([A-Z]) WITH .*|LETTER SMALL CAPITAL ([A-Z]))"
    r"|(?:NEGATIVE )?(?:CIRCLED|SQUARED) LATIN CAPITAL LETTER ([A-Z])"
)

# Code points examined when the table is built: the scripts with look-alikes, every block
# with compatibility forms (fullwidth, ligatures, letterlike, enclosed, mathematical
# alphanumerics), the invisible and blank characters and the combining-mark blocks used
# to stack decorations. Large blocks with nothing to fold (CJK ideographs, Hangul
# syllables, Yi, private use) are skipped so the table builds in a few tens of ms;
# anything outside these ranges is left as it is.
_TABLE_RANGES: Final = (
    (0x0000, 0x33FF),
    (0x4DC0, 0x4DFF),
    (0xA490, 0xABFF),
    (0xD7B0, 0xD7FF),
    (0xF900, 0xFFFF),
    (0x10780, 0x107BF),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0x1D400, 0x1D7FF),
    (0x1E030, 0x1E08F),
    (0x1EE00, 0x1EEFF),
    (0x1F100, 0x1F2FF),
    (0x1FBF0, 0x1FBF9),
    (0x2F800, 0x2FA1F),
    (0xE0000, 0xE01EF),
)
# Where Latin letters decorated beyond recognition by NFD live (Latin Extended-B, IPA,
# phonetic extensions, Latin Extended Additional/C/D/E, enclosed alphanumerics).
_DECORATED_RANGES: Final = (
    (0x0180, 0x02AF),
    (0x1D00, 0x1DBF),
    (0x1E00, 0x1EFF),
    (0x2C60, 0x2C7F),
    (0xA720, 0xA7FF),
    (0xAB30, 0xAB6F),
    (0x1F100, 0x1F1FF),
)


def _chars(ranges: tuple[tuple[int, int], ...]) -> frozenset[str]:
    return frozenset(chr(code) for low, high in ranges for code in range(low, high + 1))


def _build_table() -> tuple[dict[str, str], dict[str, str]]:
    """Return (fold, lower_fix): the per-character fold and post-lowercase fixes."""
    explicit: dict[str, str] = lookalikes()
    explicit.update(_CONFUSABLE_PAIRS)
    for upper, latin in list(explicit.items()):
        if 0x13A0 <= ord(upper) <= 0x13F5:
            explicit.setdefault(upper.lower(), latin.lower())

    fold: dict[str, str] = {}
    invisible = _chars(_INVISIBLE_RANGES)
    decorated = _chars(_DECORATED_RANGES)

    def fold_one(char: str, depth: int = 0) -> str:
        if char in fold:
            return fold[char]
        if char.isspace() or char in _BLANKS:
            return _SPACE
        category = unicodedata.category(char)
        if category in ("Cf", "Cc", "Cs") or char in invisible:
            return _DROP
        if category in ("Mn", "Me"):
            return _MARK
        if char in explicit:
            return explicit[char]
        if char in _KEEP_ACCENTED or char.isascii():
            return char
        if char not in decorated and not unicodedata.decomposition(char):
            return char
        compat = unicodedata.normalize("NFKC", char)
        if compat != char and depth < 4:
            return _fold_expansion(compat, depth)
        if char in decorated:
            named = _DECORATED_NAME.fullmatch(unicodedata.name(char, ""))
            if named:
                small, letter, small_capital, enclosed = named.groups()
                if letter:
                    return letter.lower() if small == "SMALL" else letter
                if small_capital:
                    return small_capital.lower()
                return enclosed
        if category[0] == "L":
            decomposed = unicodedata.normalize("NFD", char)
            if len(decomposed) > 1 and all(
                unicodedata.category(m) in ("Mn", "Me") for m in decomposed[1:]
            ):
                base = fold_one(decomposed[0], depth + 1)
                if base.isascii() and base not in (_SPACE, _DROP, _MARK):
                    # An accent no target language writes on this letter, or any
                    # accent on a look-alike (Greek "ί"): only the base letter counts.
                    return base
        return char

    def _fold_expansion(expansion: str, depth: int) -> str:
        out: list[str] = []
        for part in expansion:
            folded = fold_one(part, depth + 1)
            if folded == _MARK:
                # Marks inside compatibility expansions ("¨" is space + diaeresis) only
                # decorate; keep them on non-Latin bases like the main loop does.
                if out and out[-1] and ord(out[-1][-1]) >= 0x250 and out[-1] != _SPACE:
                    out.append(part)
                continue
            out.append(folded)
        joined = "".join(out)
        if joined.strip() == "":
            return _SPACE if joined else _DROP
        return joined

    capitals: list[str] = []
    for low, high in _TABLE_RANGES:
        for code in range(low, high + 1):
            if 0x21 <= code <= 0x7E:
                continue
            char = chr(code)
            category = unicodedata.category(char)
            if category == "Cn":
                continue
            folded = fold_one(char)
            if folded != char:
                fold[char] = folded
            elif category in ("Lu", "Lt"):
                capitals.append(char)
    # Look-alikes outside the ranges above (Deseret, Osage, Warang Citi, Lisu…), and the
    # capitals of those that are lower case, for the fix-up below.
    for char in explicit:
        if char not in fold:
            folded = fold_one(char)
            if folded != char:
                fold[char] = folded
        upper = char.upper()
        if len(upper) == 1 and upper != char and fold_one(upper) == upper:
            capitals.append(upper)
    for code in range(0xD800, 0xE000):
        fold[chr(code)] = _DROP

    # ``text`` is ``cased.lower()``; where lower-casing an unfolded capital gives a letter
    # that folds (Greek "Ω" gives "ω", which reads as "w"), fix it up after lowering.
    lower_fix: dict[str, str] = {}
    for char in capitals:
        lowered = char.lower()
        if lowered == char or len(lowered) != 1:
            continue
        target = fold.get(lowered, lowered)
        if target != lowered and len(target) == 1 and target not in _SILENT:
            lower_fix[lowered] = target
    return fold, lower_fix


def _char_class(chars: set[str]) -> str:
    """A regex character class matching exactly ``chars`` (as ranges)."""
    codes = sorted(ord(c) for c in chars)
    parts: list[str] = []
    index = 0
    while index < len(codes):
        start = codes[index]
        while index + 1 < len(codes) and codes[index + 1] == codes[index] + 1:
            index += 1
        end = codes[index]
        index += 1
        if start == end:
            parts.append(f"\\U{start:08x}")
        else:
            parts.append(f"\\U{start:08x}-\\U{end:08x}")
    return "[" + "".join(parts) + "]"


_FOLD_DICT, _LOWER_FIX_DICT = _build_table()
#: The per-character fold: a character absent from the table is kept as it is.
_FOLD: Final = MappingProxyType(_FOLD_DICT)
_LOWER_FIX: Final = MappingProxyType(_LOWER_FIX_DICT)
# Astral characters are looked for apart, with ``in`` (free when the text has none): one
# astral member makes ``re`` test the class range by range, and the search over the
# non-ASCII ham texts took twice as long (bench/normalize_speed.py).
_LOWER_FIX_RE: Final = re.compile(_char_class({c for c in _LOWER_FIX_DICT if ord(c) < 0x10000}))
_LOWER_FIX_ASTRAL: Final = tuple(sorted(c for c in _LOWER_FIX_DICT if ord(c) >= 0x10000))

# Work happens only at "special" characters (anything the fold changes, and whitespace
# other than a single ASCII space), together with the spaces around them; everything
# between is copied as a slice with an identity map, which keeps plain text near C
# speed. Astral characters are all examined (one range, and rare): ``re`` checks a class
# with many astral ranges one range at a time, which made every character slow.
_SPECIAL_CLASS: Final = _char_class({c for c in _FOLD_DICT if ord(c) < 0x10000} - {" "})
_WORK: Final = re.compile(
    "[ ]*{special}+[ ]*|[ ]{{2,}}".format(special=_SPECIAL_CLASS[:-1] + "\\U00010000-\\U0010ffff]")
)

# For _fold_simple: characters that fold to nothing or to several characters, or are
# combining marks (astral characters are checked one by one, see _WORK).
_NOT_SIMPLE: Final = re.compile(
    _char_class(
        {c for c, v in _FOLD_DICT.items() if ord(c) < 0x10000 and (len(v) != 1 or v == _MARK)}
    )[:-1]
    + "\\U00010000-\\U0010ffff]"
)
# ASCII control characters (the fold drops them, so the text is not "simple"); deleted
# with bytes.translate to find them, several times faster than a regex search.
_ASCII_CONTROL_BYTES: Final = bytes((*range(0x00, 0x09), *range(0x0E, 0x1C), 0x7F))
# Non-ASCII characters that fold to another (astral ones are looked up one by one).
_CHANGING: Final = re.compile(
    _char_class({c for c in _FOLD_DICT if 0x80 <= ord(c) < 0x10000})[:-1]
    + "\\U00010000-\\U0010ffff]"
)
# What str.isspace() calls whitespace in ASCII.
_ASCII_BLANK_CHARS: Final = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_KEPT_BYTES: Final = bytes(0 if chr(b) in _ASCII_BLANK_CHARS else 1 for b in range(256))
_BLANK_BYTES: Final = bytes(1 if chr(b) in _ASCII_BLANK_CHARS else 0 for b in range(256))
_BLANK_TO_SPACE: Final = bytes(0x20 if chr(b) in _ASCII_BLANK_CHARS else b for b in range(256))


def _collapse_ascii_blanks(raw: bytes) -> str:
    """``" ".join(raw.decode("ascii").split())`` for ASCII ``raw``, without making a
    string of every word: blanks become spaces, runs of spaces are halved until none is
    left (a run of n takes about log2(n) passes, each in C)."""
    spaced = raw.translate(_BLANK_TO_SPACE)
    while b"  " in spaced:
        spaced = spaced.replace(b"  ", b" ")
    return spaced.strip(b" ").decode("ascii")


def _lower_fix_match(match: re.Match[str]) -> str:
    return _LOWER_FIX[match.group()]


def _fold_match(match: re.Match[str]) -> str:
    char = match.group()
    return _FOLD.get(char, char)


def _fold_general(original: str) -> tuple[str, list[int]]:
    """Fold any text: the cased form and its map (without the end entry)."""
    pieces: list[str] = []
    cmap: list[int] = []
    fold_get = _FOLD.get
    pending = -1  # index in ``original`` of a whitespace run not yet written, or -1
    last = ""  # the last character written, for combining marks

    pos = 0
    for match in _WORK.finditer(original):
        start, end = match.span()
        if start > pos:
            if pending >= 0 and pieces:
                pieces.append(" ")
                cmap.append(pending)
            pending = -1
            pieces.append(original[pos:start])
            cmap.extend(range(pos, start))
            last = original[start - 1]
        pos = end
        for index in range(start, end):
            char = original[index]
            folded = fold_get(char, char)
            if folded == _SPACE:
                if pending < 0:
                    pending = index
                continue
            if folded == _DROP:
                continue
            if folded == _MARK:
                if not last or pending >= 0:
                    continue
                composed = unicodedata.normalize("NFC", last + char)
                if len(composed) == 1:
                    replacement = fold_get(composed, composed)
                    if len(replacement) == 1 and replacement not in _SILENT and replacement != last:
                        # The composed letter gets a piece of its own, so marks piling up
                        # after a long plain run do not copy that run again each time.
                        if len(pieces[-1]) == 1:
                            pieces[-1] = replacement
                        else:
                            pieces[-1] = pieces[-1][:-1]
                            pieces.append(replacement)
                        last = replacement
                    continue
                # Decorations on a Latin letter go; marks of other scripts stay. Judge
                # the letter as ``text`` will have it ("Ω" is "w" there).
                base = last.lower()[:1] or last
                if ord(_LOWER_FIX.get(base, base)) < 0x250:
                    continue
                folded = char
            if pending >= 0:
                if pieces:
                    pieces.append(" ")
                    cmap.append(pending)
                pending = -1
            if len(folded) == 1 or _SPACE not in folded:
                pieces.append(folded)
                cmap.extend([index] * len(folded))
                last = folded[-1]
            else:
                # A compatibility expansion containing a space ("¼" is not one, but a
                # few symbols are): write word parts, collapse the spaces.
                for part in folded:
                    if part == _SPACE:
                        if pending < 0:
                            pending = index
                        continue
                    if pending >= 0 and pieces:
                        pieces.append(" ")
                        cmap.append(pending)
                    pending = -1
                    pieces.append(part)
                    cmap.append(index)
                    last = part
    length = len(original)
    if pos < length:
        if pending >= 0 and pieces:
            pieces.append(" ")
            cmap.append(pending)
        pieces.append(original[pos:])
        cmap.extend(range(pos, length))

    cased = "".join(pieces)
    # A single leading or trailing ASCII space is copied as part of a plain slice.
    if cased.startswith(" "):
        cased = cased[1:]
        del cmap[0]
    if cased.endswith(" "):
        cased = cased[:-1]
        cmap.pop()
    return cased, cmap


def _fold_simple(original: str) -> tuple[str, list[int]] | None:
    """Fold a text in which every character folds to at most one, or ``None``.

    Most mail is like that (plain ASCII, accented letters, curly quotes, NBSP). Then
    the map is the index of every kept character plus the first whitespace character
    of each inner run; it is computed with whole-text bytes and integer operations
    instead of a Python loop per character.
    """
    simple = _fold_simple_deferred(original)
    if simple is None:
        return None
    cased, build_map = simple
    return cased, build_map()


def _fold_simple_deferred(original: str) -> tuple[str, Callable[[], list[int]]] | None:
    """``_fold_simple``, with a function that builds the map when it is needed."""
    ascii_only = original.isascii()
    if ascii_only:
        raw = original.encode("ascii")
        if len(raw.translate(None, _ASCII_CONTROL_BYTES)) != len(raw):
            return None
        folded = original
    else:
        for match in _NOT_SIMPLE.finditer(original):
            char = match.group()
            folded_char = _FOLD.get(char, char)
            if ord(char) < 0x10000 or len(folded_char) != 1 or folded_char == _MARK:
                return None
        # Only the characters that change go through Python (str.translate with a
        # large table costs a dict look-up for every character).
        folded = _CHANGING.sub(_fold_match, original)
        # One byte per character: every non-ASCII character becomes "?".
        raw = folded.encode("ascii", "replace")
    size = len(raw)
    if not size:
        return "", list
    kept = int.from_bytes(raw.translate(_KEPT_BYTES), "little")
    blank = int.from_bytes(raw.translate(_BLANK_BYTES), "little")
    # Byte i is 1 when character i is kept, or is a blank right after a kept one.
    selected = kept | (blank & (kept << 8))
    # Characters in the map: the selected ones, less the first blank of a trailing run
    # (selected, but stripped from the text). Checked here so that a mismatch can still
    # fall back to the general fold; the map itself is built when needed.
    mapped = selected.bit_count() - (1 if selected and _BLANK_BYTES[raw[-1]] else 0)
    # Runs of ASCII blanks become one space, the ends are stripped. str.split() splits on
    # every whitespace character, not only ASCII ones, but no other is left here: the
    # fold turns every str.isspace() character into a space (and _CHANGING finds them
    # all). It is several times faster than a regex substitution with one match a word.
    # (In ASCII text the same is done on bytes, without a string for every word.)
    cased = _collapse_ascii_blanks(raw) if ascii_only else " ".join(folded.split())
    if mapped != len(cased):
        return None

    def build_map() -> list[int]:
        cmap = list(compress(range(size), selected.to_bytes(size + 1, "little")[:size]))
        if cmap and _BLANK_BYTES[raw[-1]]:
            cmap.pop()
        return cmap

    return cased, build_map


def normalize(original: str, source: str = "") -> NormalizedText:
    """Normalise ``original`` for matching (see the module docstring); ``source`` names
    where it was read when not in the message's own bytes (quoted with the evidence)."""
    simple = _fold_simple_deferred(original)
    if simple is not None:
        cased, build_map = simple
    else:
        cased, cmap = _fold_general(original)
        build_map = cmap.copy
    text = cased.lower()
    if not text.isascii():
        text = _LOWER_FIX_RE.sub(_lower_fix_match, text)
        for char in _LOWER_FIX_ASTRAL:
            if char in text:
                text = text.replace(char, _LOWER_FIX[char])
    return NormalizedText(
        original=original, text=text, cased=cased, build_map=build_map, source=source
    )

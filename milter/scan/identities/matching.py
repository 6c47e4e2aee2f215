"""Text in matching form: how the registry's phrases, and the texts and domains searched
for them, are folded before they are compared (docs/identities.md).

The fold is ``milter.scan.normalize`` (confusables, invisible characters, case) plus
accents dropped one character for one, so that offsets into the folded text stay valid.
"""

from __future__ import annotations

import re
import unicodedata
from types import MappingProxyType
from typing import Final

from milter.scan.normalize import NormalizedText, normalize

__all__ = ["ASCII_NOT_ALNUM", "NOT_WORD", "UNACCENT", "WORD", "match_form", "phrase_words"]

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


#: ``str.translate`` table: an accented Latin letter to its base letter.
UNACCENT: Final = MappingProxyType(_build_unaccent())

#: A word: letters and digits (``_`` separates, as in "FBI_OFFICE").
WORD: Final = re.compile(r"[^\W_]+")
#: What separates words.
NOT_WORD: Final = re.compile(r"[\W_]+")
#: The ASCII bytes ``NOT_WORD`` matches, for ``bytes.translate`` (the same removal at C
#: speed on ASCII text).
ASCII_NOT_ALNUM: Final = bytes(b for b in range(128) if not chr(b).isalnum())


def match_form(text: str) -> tuple[str, NormalizedText]:
    """``text`` folded for phrase matching, and the ``NormalizedText`` behind it."""
    norm = normalize(text)
    folded = norm.text
    return (folded if folded.isascii() else folded.translate(UNACCENT)), norm


def phrase_words(phrase: str) -> tuple[str, ...]:
    """The words of a registry phrase in matching form."""
    folded, _ = match_form(phrase)
    return tuple(WORD.findall(folded))

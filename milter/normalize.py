"""Normalised copies of message text for matching, with a map back to the original.

Scammers obfuscate: homoglyphs, zero-width characters, odd spacing. Rules match on a
normalised copy; evidence shown to admins quotes the original text, so every character
of the normalised copy remembers where it came from.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class NormalizedText:
    """A text in three forms.

    ``text`` is the folded form rules match on (NFKC, invisibles removed, confusables
    folded, lower case, whitespace runs as one space). ``cased`` is the same but keeps
    letter case, for detectors where case matters (Base58 addresses). ``text_map[i]`` and
    ``cased_map[i]`` give the index in ``original`` of the character at ``i``; both maps
    have one extra entry for the end of the text.
    """

    original: str
    text: str
    cased: str
    text_map: tuple[int, ...]
    cased_map: tuple[int, ...]

    def evidence(self, start: int, end: int, *, cased: bool = False) -> str:
        """The original text behind ``text[start:end]`` (or ``cased[start:end]``)."""
        mapping = self.cased_map if cased else self.text_map
        if not mapping or start >= end:
            return ""
        start = max(0, min(start, len(mapping) - 1))
        end = max(start, min(end, len(mapping) - 1))
        o_start = mapping[start]
        o_end = mapping[end - 1] + 1 if end > start else o_start
        return self.original[o_start:o_end]


def normalize(original: str) -> NormalizedText:
    """Normalise ``original`` for matching (see the module docstring)."""
    cased_chars: list[str] = []
    cased_map: list[int] = []
    pending_space = False
    for index, char in enumerate(original):
        folded = unicodedata.normalize("NFKC", char)
        for out in folded:
            if out.isspace():
                pending_space = bool(cased_chars)
                continue
            if unicodedata.category(out) in ("Cf", "Cc"):
                continue
            if pending_space:
                cased_chars.append(" ")
                cased_map.append(index)
                pending_space = False
            cased_chars.append(out)
            cased_map.append(index)
    cased = "".join(cased_chars)
    text_chars: list[str] = []
    text_map: list[int] = []
    for char, where in zip(cased, cased_map, strict=True):
        for out in char.lower():
            text_chars.append(out)
            text_map.append(where)
    end = len(original)
    return NormalizedText(
        original=original,
        text="".join(text_chars),
        cased=cased,
        text_map=(*text_map, end),
        cased_map=(*cased_map, end),
    )

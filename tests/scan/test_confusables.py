"""The homoglyph fold checked against Unicode's confusables data.

The oracle is confusable_homoglyphs (a test dependency), which ships Unicode's
confusables.txt (UTS #39) as JSON: for every character whose prototype is one ASCII
letter, ``normalize`` must give that letter, except the characters that
``milter.scan.confusables.NOT_FOLDED`` lists with a reason. Digits are out of scope: the
fold leaves digits and the letters that look like them (З/3, б/6) alone.
"""

from __future__ import annotations

import importlib.util
import re
import string
from pathlib import Path

import pytest
from confusable_homoglyphs import confusables as unicode_confusables

from milter.scan.confusables import NOT_FOLDED
from milter.scan.normalize import normalize

ROOT = Path(__file__).resolve().parents[2]


def letter_confusables() -> dict[str, str]:
    """``{character: prototype}`` for the non-ASCII characters whose prototype is one
    ASCII letter. The package stores each line of confusables.txt in both directions, so
    the entries under a letter are the characters that map to it."""
    found: dict[str, str] = {}
    for prototype in string.ascii_letters:
        for entry in unicode_confusables.confusables_data.get(prototype, ()):
            char = entry["c"]
            if len(char) == 1 and not char.isascii():
                found[char] = prototype
    return found


PAIRS = letter_confusables()
NOT_FOLDED_CHARS = {char: group.reason for group in NOT_FOLDED for char in group.chars}


def accepted(prototype: str) -> set[str]:
    """What ``text`` may be for a prototype. Unicode gives capital I and small l the one
    prototype "l"; the fold keeps the difference (a stroke reads as I, "ВІТСОІN" is
    "bitcoin"), so both are right for it."""
    if prototype == "l":
        return {"l", "i"}
    return {prototype.lower()}


def describe(char: str) -> str:
    return f"U+{ord(char):04X} {char} -> {PAIRS[char]!r} gives {normalize(char).text!r}"


def test_the_data_is_the_one_measured() -> None:
    # Issue 11 counted 1,228 entries under a single letter, 3 of them ASCII (I, 1 and |
    # under l); the fold leaves ASCII alone. Guards against reading the data wrongly.
    assert len(PAIRS) == 1225


def test_every_confusable_of_a_letter_folds_to_it() -> None:
    wrong = [
        describe(char)
        for char, prototype in PAIRS.items()
        if char not in NOT_FOLDED_CHARS and normalize(char).text not in accepted(prototype)
    ]
    assert wrong == []


def test_not_folded_lists_only_confusables_the_fold_leaves() -> None:
    # Each entry is a real exception: a confusable of a letter that does not fold to it.
    # An entry that starts to fold (or was never in the data) is taken off the list.
    for group in NOT_FOLDED:
        assert group.reason.strip(), group.chars
        assert len(set(group.chars)) == len(group.chars), group.chars
        for char in group.chars:
            assert char in PAIRS, f"U+{ord(char):04X} is no confusable of a letter"
            assert normalize(char).text not in accepted(PAIRS[char]), describe(char)
    assert len(NOT_FOLDED_CHARS) == sum(len(group.chars) for group in NOT_FOLDED)


def test_folding_a_confusable_twice_changes_nothing() -> None:
    # Covers the lower-case fix-up: a capital whose small letter folds (Σ and σ) gives
    # the same ``text`` as that small letter would on a second pass.
    for char in PAIRS:
        for form in (char, char.upper(), char.lower()):
            once = normalize(form).text
            assert normalize(once).text == once, describe(char)


@pytest.mark.parametrize(
    ("original", "cased", "text"),
    [
        # The examples: Lisu capitals, Cyrillic г ҽ Ь ѡ, Greek σ.
        ("ꓑꓳꓡꓲꓚꓰ", "POLICE", "police"),
        ("гесогdеd уоu", "recorded you", "recorded you"),
        ("Ьitcоin", "bitcoin", "bitcoin"),
        ("ѡebcam", "webcam", "webcam"),
        ("ҽxploit", "exploit", "exploit"),
        ("pσrn", "porn", "porn"),
        # Cherokee, Armenian, Coptic, Deseret, Canadian syllabics.
        ("ᎷᎪᏞᏔᎪᎡᎬ", "MALWARE", "malware"),
        ("ռow", "now", "now"),
        ("ⲤⲞⲒⲚ", "COIN", "coin"),
        ("𐐕𐐽", "Cc", "cc"),
        ("ᗷᑌᖴ", "BUF", "buf"),
    ],
)
def test_scripts_the_fold_missed_before(original: str, cased: str, text: str) -> None:
    result = normalize(original)
    assert (result.cased, result.text) == (cased, text)


@pytest.mark.parametrize(
    ("original", "text"),
    [
        ("१०००", "१०००"),  # Devanagari 1000
        ("二〇二四年", "二〇二四年"),
        ("𝟏𝟎 𝟶", "10 0"),  # NFKC: digits, not l and O
        ("۱۵۰ تومان", "۱۵۰ تومان"),
    ],
)
def test_digits_stay_digits(original: str, text: str) -> None:
    assert normalize(original).text == text


def test_generated_table_is_up_to_date() -> None:
    # Someone who edits the table by hand, or the data, is told to run the generator.
    spec = importlib.util.spec_from_file_location(
        "confusables_table", ROOT / "bench" / "confusables_table.py"
    )
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    from milter.scan import confusables

    assert generator.table(PAIRS) == confusables.lookalikes()


def test_milter_does_not_import_the_oracle() -> None:
    # confusable_homoglyphs is a test dependency; the table is data in the package.
    imports = re.compile(r"^\s*(?:from|import)\s+confusable_homoglyphs\b", re.MULTILINE)
    for path in (ROOT / "milter").rglob("*.py"):
        assert not imports.search(path.read_text(encoding="utf-8")), path

"""Normalised text: folding, whitespace, and the maps back to the original."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from milter.scan.normalize import NormalizedText, _fold_general, _fold_simple, normalize

# (original, expected ``text``)
FOLD_CASES = [
    ("I h\u200bаcked yоur dеvice", "i hacked your device"),
    # Real obfuscation from sextortion mail: IPA, Greek, hooks, Cyrillic capitals.
    ("ɱαstuŗbαted", "masturbated"),
    ("ʋirus ίɳfected ɗevίce", "virus infected device"),
    ("Ѕeƞd exɑctly", "send exactly"),
    ("ʍasturbace Hʌcker Aŉonymní Xploıt", "masturbace hacker anonymní xploit"),
    ("Ƿornografickou vίdeo", "pornografickou video"),
    # Small capitals and other IPA letters.
    ("ʙɪᴛᴄᴏɪɴ ᴡᴀʟʟᴇᴛ", "bitcoin wallet"),
    ("ʀᴇᴄᴏʀᴅᴇᴅ ʏᴏᴜ", "recorded you"),
    # Greek and Cyrillic capitals.
    ("ΡΑΥ ΝΟW", "pay now"),
    ("ВІТСОІN", "bitcoin"),
    # Armenian and Cherokee look-alikes.
    ("ցօօցlе", "google"),
    ("ᏢᎪᎩ", "pay"),
    # NFKC: fullwidth, mathematical alphanumerics, ligatures, circled and squared letters.
    ("Ｂｉｔｃｏｉｎ", "bitcoin"),
    ("𝐁𝐢𝐭𝐜𝐨𝐢𝐧 𝕨𝕒𝕝𝕝𝕖𝕥", "bitcoin wallet"),
    ("ﬁle ﬂow", "file flow"),
    ("ⓑⓘⓣⓒⓞⓘⓝ 🅱🅸🆃", "bitcoin bit"),
    # Invisible characters of every kind.
    ("b\u00adi\u200ct\u200dc\u2060o\ufeffi\u202en", "bitcoin"),
    ("pa\U000e0041y\ufe0f", "pay"),
    ("we\u034fb\u180ecam", "webcam"),
    ("a\x00b\x07c", "abc"),
    # Whitespace: runs collapse, ends are stripped, odd spaces are spaces.
    ("  hello \t\r\n world  ", "hello world"),
    ("a\u00a0\u00a0b\u3000c\u2028d\u2800e", "a b c d e"),
    ("a \u200b b", "a b"),
    ("\u200b\u200b", ""),
    ("", ""),
    # Accents of the target languages are kept.
    ("Pédopornographie STRAẞE Straße über", "pédopornographie straße straße über"),
    ("Ĉu ŗ ẖ ā", "cu r h a"),
    # Combining marks: composed when they make a kept letter, dropped when they only
    # decorate a Latin letter, kept on other scripts.
    ("e\u0301te\u0301", "été"),
    ("b\u0336i\u0336t\u0336", "bit"),
    ("h\u0334\u0335\u0336\u0337a\u0338\u0339ck", "hack"),
    ("\u05e9\u05c1\u05dc\u05d5\u05b9\u05dd", "\u05e9\u05c1\u05dc\u05d5\u05b9\u05dd"),
    # Punctuation variants.
    ("don\u2019t \u201cpay\u201d \u2013 now\u2026", 'don\'t "pay" - now...'),
    # Case: lower in text.
    ("İSTANBUL ΩMEGA", "istanbul wmega"),
]


@pytest.mark.parametrize(("original", "expected"), FOLD_CASES)
def test_fold(original: str, expected: str) -> None:
    assert normalize(original).text == expected


def test_cased_keeps_case_and_folds_confusables() -> None:
    result = normalize("Ѕеnd 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 АВС")
    assert result.cased == "Send 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 ABC"
    assert result.text == "send 1bvbmseystwetqtfn5au4m4gfg7xjanvn2 abc"


def test_evidence_quotes_original() -> None:
    original = "I h\u200bаcked yоur dеvice"
    result = normalize(original)
    start = result.text.index("hacked")
    assert result.evidence(start, start + 6) == "h\u200bаcked"
    start = result.text.index("your device")
    assert result.evidence(start, start + len("your device")) == "yоur dеvice"


def test_evidence_of_cased_text() -> None:
    result = normalize("  Pay  Ѕ1x ")
    start = result.cased.index("S1x")
    assert result.evidence(start, start + 3, cased=True) == "Ѕ1x"


def test_evidence_includes_combining_marks_of_last_character() -> None:
    result = normalize("cafe\u0301 ouvert")
    assert result.text == "café ouvert"
    assert result.evidence(0, 4) == "cafe\u0301"


def test_evidence_of_part_of_an_expansion_quotes_the_whole_character() -> None:
    result = normalize("ﬁle")
    assert result.text == "file"
    assert result.evidence(0, 1) == "ﬁ"
    assert result.evidence(1, 4) == "ﬁle"


def test_evidence_edge_cases() -> None:
    result = normalize("abc")
    assert result.evidence(2, 1) == ""
    assert result.evidence(0, 100) == "abc"
    assert result.evidence(-5, 1) == "a"
    assert normalize("").evidence(0, 1) == ""


def test_maps_have_an_end_entry() -> None:
    result = normalize(" ab ")
    assert result.text == "ab"
    assert result.text_map == (1, 2, 4)
    assert result.cased_map == (1, 2, 4)


def test_is_a_frozen_value() -> None:
    result = normalize("x")
    assert isinstance(result, NormalizedText)
    with pytest.raises(AttributeError):
        result.text = "y"  # type: ignore[misc]


def test_plain_text_is_fast() -> None:
    text = "Hello world, this is an ordinary line of a mail message.\n" * 20_000
    started = time.perf_counter()
    result = normalize(text)
    elapsed = time.perf_counter() - started
    assert result.text.startswith("hello world, this is")
    # About 1.1 MB: well under a second even on a slow CI machine.
    assert elapsed < 2.0


def test_obfuscated_text_is_bounded() -> None:
    text = "h\u200bа\u0336c\u0302ked ʋirus " * 20_000
    started = time.perf_counter()
    result = normalize(text)
    assert time.perf_counter() - started < 5.0
    assert result.text.startswith("hacked virus hacked")


# --- properties ---------------------------------------------------------------------

# Characters that exercise every branch: ASCII, whitespace of all kinds, invisibles,
# combining marks, confusables, expansions, kept accents, other scripts, astral.
ALPHABET = (
    "abcXYZ019 .,'\t\n\r\x0b\x1c\x00"
    "\u00a0\u3000\u2028\u2800\u200b\u200d\u00ad\ufeff\u202e\ufe0f\U000e0041"
    "\u0301\u0336\u0308\u05b9"
    "аеАЕѕіɑʍʌαοΑΟᴀʙɪŗẖίƞ"
    "ﬁ½ｂ𝐁ⓑ…\u2019"
    "éüßÉçñ"
    "ж你한\u05d0😀İΩ"
)
texts = st.text(alphabet=ALPHABET, max_size=60)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_fast_path_agrees_with_general_path(original: str) -> None:
    simple = _fold_simple(original)
    if simple is not None:
        assert simple == _fold_general(original)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_maps_are_well_formed(original: str) -> None:
    result = normalize(original)
    for folded, mapping in ((result.text, result.text_map), (result.cased, result.cased_map)):
        assert len(mapping) == len(folded) + 1
        assert mapping[-1] == len(original)
        assert all(0 <= where < len(original) for where in mapping[:-1])
        assert list(mapping[:-1]) == sorted(mapping[:-1])
    assert "  " not in result.text
    assert result.text == result.text.strip()


@settings(max_examples=300, deadline=None)
@given(texts)
def test_normalising_is_idempotent(original: str) -> None:
    once = normalize(original).text
    assert normalize(once).text == once


@settings(max_examples=300, deadline=None)
@given(texts)
def test_evidence_of_each_word_normalises_back_to_it(original: str) -> None:
    result = normalize(original)
    start = 0
    for word in result.text.split(" ") if result.text else []:
        quote = result.evidence(start, start + len(word))
        assert quote in original
        assert normalize(quote).text == word
        start += len(word) + 1

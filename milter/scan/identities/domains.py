"""Domains as the look-alike check sees them (docs/identities.md, "What the look-alike
check considers"): the skeleton (what a domain looks like), the suffix an organisation
registered under, the zones only governments can register, and the edit distance
between two names. The canonical form (``canonical_domain``) and the Public Suffix List
are milter/mail/domains.py's, shared with DMARC.
"""

from __future__ import annotations

from typing import Final

from rapidfuzz.distance import OSA

from milter.mail.domains import canonical_domain, public_suffix_list
from milter.scan.identities.matching import UNACCENT
from milter.scan.normalize import normalize

__all__ = [
    "GOVERNMENT_ZONES",
    "canonical_domain",
    "edit_distance",
    "fold_chars",
    "fold_pairs",
    "skeleton",
    "suffix_length",
]

# Two government zones of Luxembourg that the registry has always split as suffixes and
# the Public Suffix List lacks (it has only "lu"): a registry domain "x.gouv.lu" is the
# organisation "x" under its state's zone, as "interieur.gouv.fr" is "interieur" under
# gouv.fr, not "x" and "gouv" together (which would add the reordered "gouv-x.lu" and a
# longer name to measure edit distances on). Both are GOVERNMENT_ZONES too.
_EXTRA_SUFFIXES: Final = frozenset(("gov.lu", "gouv.lu"))


#: Zones that only governments can register under. A domain in one is another authority
#: or nothing at all (ice.gov looks like ic3.gov, police.uk like police.be): it is only a
#: look-alike when it has non-Latin look-alike characters, which no government uses.
#: The registry adds the registrable domain of every protected domain (belgium.be, fgov.be).
GOVERNMENT_ZONES: Final = frozenset((
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


def fold_chars(text: str) -> str:
    """``text`` with confusables, accents, digits and l/i folded, one character for one
    (so a word folded alone is the same as inside a longer run)."""
    folded = normalize(text).text
    if not folded.isascii():
        folded = folded.translate(UNACCENT)
    return folded.translate(_SKELETON_CHARS)


def fold_pairs(text: str) -> str:
    """The two-letter look-alikes (rn, vv) of a ``fold_chars`` result folded."""
    for pair, single in _SKELETON_PAIRS:
        text = text.replace(pair, single)
    return text


def skeleton(text: str) -> str:
    """What ``text`` looks like: confusables, accents, digits and l/i folded."""
    return fold_pairs(fold_chars(text))


def suffix_length(labels: tuple[str, ...]) -> int:
    """How many of a registry domain's last ``labels`` are the public suffix it was
    registered under (by the Public Suffix List; the last label for a suffix the list
    does not know). A public suffix itself (jus.br) is all suffix."""
    if len(labels) >= 2 and ".".join(labels[-2:]) in _EXTRA_SUFFIXES:
        return 2
    suffix = public_suffix_list().publicsuffix(".".join(labels))
    return suffix.count(".") + 1 if suffix else 1


def edit_distance(a: str, b: str, bound: int) -> int:
    """Damerau–Levenshtein distance (optimal string alignment: a swap of two neighbours
    costs one), or ``bound + 1`` when it is larger than ``bound``."""
    # rapidfuzz stops as soon as the distance must exceed score_cutoff and then returns
    # score_cutoff + 1: the contract the look-alike check relies on.
    return OSA.distance(a, b, score_cutoff=bound)

"""How a message is built, and how much of it was read: facts for the rules and the verdict.

Every scan limit (parts, depth, text length, PDF pages, size and time) exists so that a
hostile message cannot take unbounded time or memory. A limit must not be a hiding place:
the reader (message_view) reads past each one in a bounded way, and records here what it
met. Two kinds of fact come out of it:

- anomalies: structure no mail client produces (MIME nested a dozen deep, dozens of
  empty parts, megabytes of blank lines or of hidden HTML text, a PDF padded with bytes
  its pages never use). Rules see them through the ``structure_anomaly`` detector.
- partial reads: where a limit left content unread even so. The scanner scores them and
  never lets such a message through unmarked (verdict.py).

Size alone is never an anomaly: a 5 MB PDF invoice or a long newsletter is ordinary mail.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

# The thresholds sit far above what real mail shows and far below what padding needs.
# Forwarding a message as an attachment adds two or three levels (mixed, rfc822,
# alternative); four forwards deep is about ten. The shared corpus never goes past 3.
MAX_PLAUSIBLE_DEPTH: Final = 12
# Clients write an empty part now and then (an empty text alternative, a blank
# signature); the corpus has at most 2 in a message. Fifty is padding.
MAX_PLAUSIBLE_EMPTY_PARTS: Final = 50
# Newsletters hide a preheader of a few hundred characters and Outlook-only blocks of a
# few kilobytes; 100,000 hidden characters is filler meant to push text out of reach.
MAX_PLAUSIBLE_HIDDEN_CHARS: Final = 100_000
# Blank characters squeezed out of one over-long part (only parts past max_text_chars
# are squeezed, so this is never measured on ordinary mail).
MAX_PLAUSIBLE_BLANK_PADDING: Final = 200_000


@dataclass(frozen=True)
class Structure:
    """What the reader met in one message (message_view fills it in)."""

    parts: int = 0  # MIME parts, those not read included
    empty_parts: int = 0  # leaf parts with nothing but blanks in them
    depth: int = 0  # the deepest MIME nesting (the top level is 0)
    hidden_chars: int = 0  # hidden HTML text in the parts read
    blank_padding: int = 0  # blank characters squeezed out of the longest over-long part
    padded_pdfs: int = 0  # PDFs past the size limit that their pages mostly do not use
    # What a limit left unread, one reason each; empty when everything was read.
    partial: tuple[str, ...] = ()


@dataclass(frozen=True)
class Anomaly:
    name: str  # a stable word for rules and statistics
    evidence: str  # what was found, for the admin


def anomalies(structure: Structure) -> tuple[Anomaly, ...]:
    """The facts of ``structure`` that no mail client produces."""
    found: list[Anomaly] = []
    if structure.depth > MAX_PLAUSIBLE_DEPTH:
        found.append(Anomaly("mime-depth", f"MIME parts nested {structure.depth} deep"))
    if structure.empty_parts >= MAX_PLAUSIBLE_EMPTY_PARTS:
        found.append(Anomaly("empty-parts", f"{structure.empty_parts} empty MIME parts"))
    if structure.hidden_chars >= MAX_PLAUSIBLE_HIDDEN_CHARS:
        found.append(
            Anomaly("hidden-text", f"{structure.hidden_chars:,} characters of hidden HTML text")
        )
    if structure.blank_padding >= MAX_PLAUSIBLE_BLANK_PADDING:
        found.append(
            Anomaly("blank-padding", f"{structure.blank_padding:,} blank characters of padding")
        )
    if structure.padded_pdfs:
        found.append(
            Anomaly("pdf-padding", "a PDF past the size limit, mostly bytes its pages do not use")
        )
    return tuple(found)


@functools.lru_cache(maxsize=256)
def plain_structure(parts: int, depth: int) -> Structure:
    """The structure of most mail, made once: a frozen dataclass costs a microsecond,
    which is noticeable on a message that takes a hundred."""
    return Structure(parts=parts, depth=depth)

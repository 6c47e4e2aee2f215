"""structure_anomaly (milter/scan/detectors/structure.py): structure no client builds."""

from __future__ import annotations

from milter.mail.structure import (
    MAX_PLAUSIBLE_BLANK_PADDING,
    MAX_PLAUSIBLE_DEPTH,
    MAX_PLAUSIBLE_EMPTY_PARTS,
    MAX_PLAUSIBLE_HIDDEN_CHARS,
    Structure,
)
from milter.scan.detectors import DETECTORS, DetectorContext
from milter.scan.normalize import normalize

# --- structure_anomaly ---------------------------------------------------------------------


def structure_hits(structure: Structure | None) -> list[tuple[str, str | None]]:
    text = normalize("any text: the detector reads the message, not the text")
    hits = DETECTORS["structure_anomaly"](text, DetectorContext(structure=structure))
    return [(hit.value, hit.evidence) for hit in hits]


def test_structure_anomaly_reports_what_no_client_builds() -> None:
    padded = Structure(
        depth=31, empty_parts=500, hidden_chars=1_500_000, blank_padding=2_200_000, padded_pdfs=1
    )
    assert structure_hits(padded) == [
        ("mime-depth", "MIME parts nested 31 deep"),
        ("empty-parts", "500 empty MIME parts"),
        ("hidden-text", "1,500,000 characters of hidden HTML text"),
        ("blank-padding", "2,200,000 blank characters of padding"),
        ("pdf-padding", "a PDF past the size limit, mostly bytes its pages do not use"),
    ]


def test_structure_anomaly_leaves_ordinary_structure_alone() -> None:
    assert structure_hits(None) == []
    # Just under each threshold: a deep forward chain, a few empty parts, a preheader.
    ordinary = Structure(
        parts=400,
        depth=MAX_PLAUSIBLE_DEPTH,
        empty_parts=MAX_PLAUSIBLE_EMPTY_PARTS - 1,
        hidden_chars=MAX_PLAUSIBLE_HIDDEN_CHARS - 1,
        blank_padding=MAX_PLAUSIBLE_BLANK_PADDING - 1,
        partial=("a part not read",),  # scored by the scanner, not by this detector
    )
    assert structure_hits(ordinary) == []

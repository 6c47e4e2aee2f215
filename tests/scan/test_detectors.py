"""The detector table (milter/scan/detectors) and the helper the case tables of each
family share (tests/scan/test_detectors_*.py): every case is run through normalize(),
as rules see text."""

from __future__ import annotations

import dataclasses

import pytest

from milter.scan.detectors import DETECTORS, DetectorContext, Hit
from milter.scan.normalize import normalize


def detect(name: str, original: str, recipients: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(value, evidence) for every hit; the evidence must be a slice of the original."""
    normalized = normalize(original)
    hits = DETECTORS[name](normalized, DetectorContext(recipients=recipients))
    found = []
    for hit in hits:
        evidence = normalized.evidence(hit.start, hit.end, cased=hit.cased)
        assert evidence in original
        found.append((hit.value, evidence))
    return found


# --- The registry ------------------------------------------------------------------------


def test_registry_names_and_read_only() -> None:
    assert set(DETECTORS) == {
        "bitcoin_address",
        "crypto_address",
        "contact_channel",
        "payment_channel",
        "money_amount",
        "deadline",
        "recipient_address",
        "protected_domain",
        "lookalike_domain",
        "identity_claim",
        "authority_claim",
        "official_domain",
        "unofficial_link",
        "disguised_link",
        "masked_link",
        "reply_elsewhere",
        "structure_anomaly",
    }
    with pytest.raises(TypeError):
        DETECTORS["x"] = DETECTORS["deadline"]  # type: ignore[index]


def test_hits_are_frozen() -> None:
    hit = Hit(0, 1, "x", cased=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hit.start = 2  # type: ignore[misc]
    assert DetectorContext().recipients == ()

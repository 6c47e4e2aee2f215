"""The ``structure_anomaly`` detector: how the message is built, as judged by
mail/structure.py."""

from __future__ import annotations

from milter.mail.structure import anomalies
from milter.scan.detectors.base import DetectorContext, Hit, whole_text_hit
from milter.scan.normalize import NormalizedText

__all__ = ["find_structure_anomalies"]


def find_structure_anomalies(normalized: NormalizedText, context: DetectorContext) -> list[Hit]:
    """Structure no mail client produces (structure.anomalies), one hit each, named by
    its kind ("mime-depth", "empty-parts", "hidden-text", "blank-padding", "pdf-padding").

    A fact of the whole message, not of the text it is given: any target with text
    (``text``) reports the same hits, and ``min_count`` counts distinct kinds.
    """
    if context.structure is None:
        return []
    return [whole_text_hit(normalized, a.name, a.evidence) for a in anomalies(context.structure)]

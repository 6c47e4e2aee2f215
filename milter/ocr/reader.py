"""The images of one message read within a budget: cache first, then the engine.

A wave sends one image to thousands of recipients, so the SHA-256 of the bytes is looked
up before anything is decoded; only a miss costs a decode (milter/mail/images.py) and a
recognition (engine.py). Tesseract cannot be interrupted from outside, so the message
budget is kept by not starting another image once it is spent: the overrun is bounded by
one image's own timeout. What was not read says why, so a rule can act on it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from milter.mail.images import ImageLimits, prepare_image
from milter.ocr.cache import CachedText, OcrCache
from milter.ocr.engine import Engine


@dataclass(frozen=True)
class ImageText:
    """The text of one image (``note`` empty) or why there is none; ``name`` for evidence."""

    name: str
    digest: str
    text: str
    note: str = ""
    cached: bool = False
    seconds: float = 0.0


class OcrReader:
    def __init__(
        self,
        engine: Engine,
        cache: OcrCache | None = None,
        limits: ImageLimits | None = None,
    ) -> None:
        self.engine = engine
        self.cache = cache if cache is not None else OcrCache()
        self.limits = limits or ImageLimits()

    def read(self, name: str, data: bytes) -> ImageText:
        return self._read(name, data, hashlib.sha256(data).hexdigest())

    def _read(self, name: str, data: bytes, digest: str) -> ImageText:
        started = time.monotonic()
        languages = self.engine.status.lang
        found = self.cache.get(digest, languages)
        if found is not None:
            note = "not read: timed out" if found.timed_out else ""
            return ImageText(name, digest, found.text, note, True, time.monotonic() - started)
        prepared = prepare_image(data, self.limits)
        if prepared.image is None:
            return ImageText(name, digest, "", prepared.note)
        result = self.engine.recognize(prepared.image)
        self.cache.put(digest, CachedText(result.text, languages, result.timed_out))
        note = "not read: timed out" if result.timed_out else ""
        return ImageText(name, digest, result.text, note, False, time.monotonic() - started)

    def read_all(
        self, images: Sequence[tuple[str, bytes]], budget_seconds: float, max_images: int = 20
    ) -> list[ImageText]:
        """Read ``images`` in order until ``budget_seconds`` or ``max_images`` is spent.

        Cached images are still answered past the budget (they cost a hash); others are
        noted "not read" with the reason.
        """
        deadline = time.monotonic() + budget_seconds
        texts: list[ImageText] = []
        started = 0
        for name, data in images:
            digest = hashlib.sha256(data).hexdigest()
            found = self.cache.get(digest, self.engine.status.lang)
            if found is not None:
                texts.append(self._read(name, data, digest))
            elif started >= max_images:
                texts.append(ImageText(name, digest, "", "not read: too many images"))
            elif time.monotonic() >= deadline:
                texts.append(ImageText(name, digest, "", "not read: message budget spent"))
            else:
                started += 1
                texts.append(self._read(name, data, digest))
        return texts

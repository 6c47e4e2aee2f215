"""The images of one message read within a budget: cache first, then the engine.

A wave sends one image to thousands of recipients, so the SHA-256 of the bytes is looked
up before anything is decoded; only a miss costs a decode (milter/mail/images.py) and a
recognition (engine.py). Tesseract cannot be interrupted from outside, so the message
budget is kept by not starting another image once it is spent: the overrun is bounded by
one image's own timeout. What was not read says why, so a rule can act on it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from dataclasses import replace

from milter.errors import ConfigError
from milter.mail.images import ImageLimits, ImagePart, ImageText, prepare_image
from milter.mail.view import MessageView
from milter.ocr.cache import CachedText, OcrCache
from milter.ocr.codes import read_codes
from milter.ocr.engine import Engine, OcrStatus, probe
from milter.ocr.settings import OcrSettings


class OcrReader:
    def __init__(
        self,
        engine: Engine,
        cache: OcrCache | None = None,
        limits: ImageLimits | None = None,
        settings: OcrSettings | None = None,
    ) -> None:
        self.engine = engine
        self.cache = cache if cache is not None else OcrCache()
        self.limits = limits or ImageLimits()
        self.settings = settings or OcrSettings()
        # Digests being read now, so that simultaneous copies of one image (a wave
        # reaching several threads at once) wait for one reading.
        self._reading: dict[str, threading.Event] = {}
        self._reading_lock = threading.Lock()

    def read_view(self, view: MessageView, budget_seconds: float | None = None) -> MessageView:
        """``view`` with the text of its images, read within the message's budget
        (``settings.message_timeout``, or ``budget_seconds`` if that is sooner)."""
        if not view.images:
            return view
        budget = self.settings.message_timeout
        if budget_seconds is not None:
            budget = min(budget, budget_seconds)
        texts = self.read_parts(view.images, budget, self.settings.max_images)
        return replace(view, image_texts=tuple(texts))

    def read_parts(
        self, images: Sequence[ImagePart], budget_seconds: float, max_images: int
    ) -> list[ImageText]:
        """``read_all`` for a message's images; a part the parse did not keep (over the
        count or the size) keeps the parse's reason."""
        kept = [(part.name, part.data) for part in images if not part.note]
        read = iter(self.read_all(kept, budget_seconds, max_images))
        return [
            ImageText(part.name, "", "", part.note) if part.note else next(read) for part in images
        ]

    def read(self, name: str, data: bytes) -> ImageText:
        return self._read(name, data, hashlib.sha256(data).hexdigest())

    def _read(self, name: str, data: bytes, digest: str) -> ImageText:
        started = time.monotonic()
        with self._reading_lock:
            busy = self._reading.get(digest)
            if busy is None:
                self._reading[digest] = threading.Event()
        if busy is not None:
            # Another thread reads the same bytes: its result lands in the cache.
            busy.wait(self.engine.image_seconds + 5.0)
            return self._read_once(name, data, digest, started)
        try:
            return self._read_once(name, data, digest, started)
        finally:
            with self._reading_lock:
                self._reading.pop(digest).set()

    def _read_once(self, name: str, data: bytes, digest: str, started: float) -> ImageText:
        languages = self.engine.status.lang
        found = self.cache.get(digest, languages)
        if found is not None:
            note = "not read: timed out" if found.timed_out else ""
            seconds = time.monotonic() - started
            return ImageText(name, digest, found.text, note, True, seconds, codes=found.codes)
        prepared = prepare_image(data, self.limits)
        if prepared.image is None:
            return ImageText(name, digest, "", prepared.note)
        codes = read_codes(prepared.image)  # ~10 ms at 1,400 px: every image is looked at
        if prepared.small:  # a logo, or a QR code alone: its codes, no OCR
            return ImageText(name, digest, "", prepared.note, codes=codes)
        result = self.engine.recognize(prepared.image)
        self.cache.put(digest, CachedText(result.text, languages, result.timed_out, codes))
        note = "not read: timed out" if result.timed_out else ""
        seconds = time.monotonic() - started
        return ImageText(
            name, digest, result.text, note, False, seconds, recognized=True, codes=codes
        )

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
                text = self._read(name, data, digest)
                started += text.recognized  # logos and refusals cost no engine time
                texts.append(text)
        return texts


def open_reader(settings: OcrSettings) -> tuple[OcrReader | None, OcrStatus]:
    """The reader the settings ask for, or None and why OCR is off (the filter runs
    without it; ``serve`` warns once, ``check`` shows the line). A cache directory that
    cannot be made private is a ConfigError: the text of strangers' images must not be
    left readable."""
    if not settings.enabled:
        return None, OcrStatus(False, "disabled in the config (ocr.enabled)")
    status = probe(settings.languages or None)
    if not status.available:
        return None, status
    try:
        cache = OcrCache(settings.cache_entries, settings.cache_dir, settings.cache_disk_entries)
    except (OSError, ValueError) as error:
        raise ConfigError(f"ocr.cache_dir: {error}") from None
    engine = Engine(status, settings.timeout)
    return OcrReader(engine, cache, settings=settings), status

"""Tesseract kept loaded, one engine per thread, through tesserocr's PyTessBaseAPI.

PyPI's tesserocr 2.13 bundles libtesseract 5.5 with no model path of its own, so the
tessdata folder is Debian's (``apt-get install tesseract-ocr tesseract-ocr-fra ...``,
docs/ocr.md). Loading a model costs 0.3 s (1.1 s for the Latin script model):
paid once per thread, not per image. A PyTessBaseAPI is not safe to share between
threads, hence one per thread (threading.local).

Time: ``Recognize(timeout=ms)`` cancels recognition through Tesseract's monitor (the
deadline is checked between words, so the overrun is a word's worth, not the page).
Layout analysis before it cannot be cancelled; at 1,400 px it takes a fraction of a
second. A caller bounds a message by not starting another image once its budget is
spent (milter/ocr/reader.py).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Tesseract's OpenMP threads would fight the workers for the two cores; one thread per
# image measured fastest per core (docs/ocr.md). Set before the library is loaded.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

try:
    import tesserocr

    _IMPORT_ERROR = ""
except ImportError as error:  # the filter runs without OCR; probe() says why
    tesserocr = None
    _IMPORT_ERROR = f"tesserocr not installed ({error})"

# Where Debian's tesseract-ocr-* packages put their models (5.x, then older layouts).
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
)
# The Latin script model reads every language the rules need in one pass (docs/ocr.md:
# 2.0-2.3 s per letter, against 11-14 s for four language models at once at full size).
DEFAULT_LANGUAGES = ("Latin",)
FALLBACK_LANGUAGES = ("eng", "fra", "deu", "nld", "por", "spa", "ita", "pol")


@dataclass(frozen=True)
class OcrStatus:
    """Whether OCR can run here, and with what; ``text`` is the one line ``check`` shows."""

    available: bool
    reason: str = ""
    tessdata: str = ""
    languages: tuple[str, ...] = ()

    @property
    def lang(self) -> str:
        return "+".join(self.languages)

    @property
    def text(self) -> str:
        if self.available:
            return f"ocr: available ({self.lang})"
        return f"ocr: unavailable ({self.reason})"


@dataclass(frozen=True)
class Recognized:
    text: str
    seconds: float
    timed_out: bool


def find_tessdata(candidates: Sequence[str] = TESSDATA_DIRS) -> str:
    env = os.environ.get("TESSDATA_PREFIX", "")
    for folder in ([env] if env else []) + list(candidates):
        if folder and any(Path(folder).glob("*.traineddata")):
            return folder
    return ""


def probe(languages: Sequence[str] | None = None, tessdata: str | None = None) -> OcrStatus:
    """What OCR would use: the wanted languages that are installed, or why none can run.

    Without ``languages``: the Latin script model if installed, else every language of
    FALLBACK_LANGUAGES that is.
    """
    if tesserocr is None:
        return OcrStatus(False, _IMPORT_ERROR)
    folder = tessdata if tessdata is not None else find_tessdata()
    if not folder:
        return OcrStatus(False, "no Tesseract language data (apt-get install tesseract-ocr)")
    try:
        _, installed = tesserocr.get_languages(folder.rstrip("/") + "/")
    except RuntimeError as error:
        return OcrStatus(False, f"tessdata {folder} unreadable ({error})")
    if languages:
        chosen = tuple(name for name in languages if name in installed)
        if not chosen:
            wanted = "+".join(languages)
            return OcrStatus(False, f"none of {wanted} installed in {folder}", folder)
    elif set(DEFAULT_LANGUAGES) <= set(installed):
        chosen = DEFAULT_LANGUAGES
    else:
        chosen = tuple(name for name in FALLBACK_LANGUAGES if name in installed)
        if not chosen:
            return OcrStatus(False, f"no language model of the rules in {folder}", folder)
    return OcrStatus(True, "", folder, chosen)


class Engine:
    """Recognizes greyscale images; each calling thread gets its own loaded API."""

    def __init__(self, status: OcrStatus, image_seconds: float = 3.0) -> None:
        if not status.available:
            raise RuntimeError(status.text)
        self.status = status
        self.image_seconds = image_seconds
        self._local = threading.local()
        self._lock = threading.Lock()
        self.calls = 0  # images recognized (tests and the bench read it)

    def _api(self) -> Any:
        api = getattr(self._local, "api", None)
        if api is None:
            assert tesserocr is not None
            api = tesserocr.PyTessBaseAPI(
                path=self.status.tessdata.rstrip("/") + "/",
                lang=self.status.lang,
                psm=tesserocr.PSM.AUTO,
            )
            self._local.api = api
        return api

    def warm_up(self) -> None:
        """Load this thread's model now, so the first image is not charged for it."""
        self._api()

    def recognize(self, image: Any) -> Recognized:
        api = self._api()
        with self._lock:
            self.calls += 1
        started = time.monotonic()
        api.SetImage(image)
        done = api.Recognize(timeout=max(1, int(self.image_seconds * 1000)))
        text = api.GetUTF8Text() if done else ""
        api.Clear()
        return Recognized(text, time.monotonic() - started, not done)

    def close(self) -> None:
        """Free the calling thread's engine (other threads free theirs on exit)."""
        api = getattr(self._local, "api", None)
        if api is not None:
            api.End()
            self._local.api = None

"""What the ``ocr:`` section of the config sets (docs/ocr.md), as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OcrSettings:
    enabled: bool = True
    # Tesseract model names ("Latin", "eng", "fra" ...); empty: the Latin script model if
    # installed, else every language model of the rules that is (engine.probe).
    languages: tuple[str, ...] = ()
    # Images read per message; the rest are noted "not read" (a rule may act on it).
    max_images: int = 10
    # Seconds of recognition per image, and for all the images of one message: issue 12
    # asks about 3 and 10; real letters take 1.2-2.3 s at 1,400 px (docs/ocr.md).
    timeout: float = 3.0
    message_timeout: float = 10.0
    # A directory shared by the workers and kept across restarts (0700, files 0600);
    # None: each worker caches in memory only.
    cache_dir: Path | None = None
    cache_entries: int = 4096
    cache_disk_entries: int = 50_000

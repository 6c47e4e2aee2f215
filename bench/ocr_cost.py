"""OCR cost of one real-size image letter: cold (decode + Tesseract) and warm (cached).

    python bench/ocr_cost.py [--image FILE] [--rounds N] [--languages fra+deu]

Without --image it renders an A4 letter at 300 dpi (2,481 x 3,508 px JPEG, the size of
real authority letters, issue 12) with tests/ocr/letters.py. Times, on one thread:
  - engine init: loading the model (paid once per worker thread);
  - cold: a new image each round (the bytes differ by one line): SHA-256, decode with
    draft + downscale to 1,400 px, recognition;
  - warm: the same bytes again: SHA-256 and the in-memory cache;
  - warm from disk: a fresh memory cache over a shared cache directory (another worker).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from milter.ocr.cache import OcrCache
from milter.ocr.engine import Engine, probe
from milter.ocr.reader import OcrReader
from tests.ocr.letters import GERMAN, letter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--languages", default="")
    args = parser.parse_args()
    status = probe(args.languages.split("+") if args.languages else None)
    if not status.available:
        sys.exit(status.text)
    engine = Engine(status)
    started = time.perf_counter()
    engine.warm_up()
    init = time.perf_counter() - started
    if args.image:
        images = [args.image.read_bytes()] * args.rounds
    else:
        images = [
            letter([f"Aktenzeichen {n}", *GERMAN], size=(2481, 3508)) for n in range(args.rounds)
        ]
    with tempfile.TemporaryDirectory() as folder:
        reader = OcrReader(engine, OcrCache(directory=folder))
        cold = []
        for n, data in enumerate(images):
            # A given --image is made new each round by a fresh reader and cache.
            if args.image and n:
                reader = OcrReader(engine, OcrCache())
            started = time.perf_counter()
            result = reader.read(f"letter{n}.jpg", data)
            cold.append(time.perf_counter() - started)
            assert not result.cached, result.note
        warm = []
        for n in range(args.rounds * 20):
            started = time.perf_counter()
            result = reader.read("again.jpg", images[n % len(images)])
            warm.append(time.perf_counter() - started)
            assert result.cached
        disk = []
        for data in images[:1] if args.image else images:
            started = time.perf_counter()
            result = OcrReader(engine, OcrCache(directory=folder)).read("other.jpg", data)
            disk.append(time.perf_counter() - started)
            assert result.cached
    size = len(images[0])
    print(f"OCR ({status.lang}), image {size / 1e6:.2f} MB, {args.rounds} rounds, one thread")
    print(f"engine init:     {init * 1000:8.1f} ms (once per thread)")
    print(f"cold (median):   {statistics.median(cold) * 1000:8.1f} ms  max {max(cold) * 1000:.1f}")
    print(f"warm (median):   {statistics.median(warm) * 1000:8.3f} ms  (memory cache)")
    print(f"warm from disk:  {statistics.median(disk) * 1000:8.3f} ms  (another worker)")
    print(f"cold / warm:     {statistics.median(cold) / statistics.median(warm):8.0f}x")


if __name__ == "__main__":
    main()

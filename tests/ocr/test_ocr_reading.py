"""Real Tesseract on letters the test renders: the words rules need come out, and the
second copy of an image (a wave) comes from the cache without touching the engine."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from milter.ocr.cache import TRIM_EVERY, CachedText, OcrCache
from milter.ocr.engine import Engine, OcrStatus, probe
from milter.ocr.reader import OcrReader
from tests.ocr.letters import FRENCH, GERMAN, letter


@pytest.fixture(scope="module")
def engine() -> Engine:
    status = probe()
    if not status.available:
        pytest.skip(f"{status.text}: run-tests installs tesseract-ocr and tesserocr")
    return Engine(status)


def test_german_and_french_letters_are_read(engine: Engine) -> None:
    reader = OcrReader(engine)
    german = reader.read("BKA025.jpg", letter(GERMAN))
    french = reader.read("Convocation (1).png", letter(FRENCH, "PNG"))
    assert german.note == "" and "Kinderpornografie" in german.text
    assert "BUNDESKRIMINALAMT" in german.text
    assert french.note == "" and "Convocation" in french.text
    assert french.name == "Convocation (1).png" and not french.cached


def test_the_second_copy_comes_from_the_cache(engine: Engine) -> None:
    reader = OcrReader(engine)
    data = letter([*GERMAN, "Aktenzeichen 4711"])
    first = reader.read("a.jpg", data)
    calls = engine.calls
    second = reader.read("b.jpg", data)
    assert engine.calls == calls  # the engine was not called again
    assert second.cached and second.text == first.text and second.name == "b.jpg"
    assert second.seconds < first.seconds / 10


def test_the_disk_cache_is_shared_private_and_named_by_the_hash(
    engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "ocr-cache"
    data = letter(FRENCH)
    first = OcrReader(engine, OcrCache(directory=folder)).read("../../etc/passwd.jpg", data)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    (entry,) = list(folder.iterdir())
    assert entry.name == first.digest and stat.S_IMODE(entry.stat().st_mode) == 0o600
    # Another worker (a fresh memory cache over the same folder) reads it without OCR.
    calls = engine.calls
    again = OcrReader(engine, OcrCache(directory=folder)).read("x.jpg", data)
    assert engine.calls == calls and again.cached and "Convocation" in again.text
    # Read with other languages it is a miss, not a wrong answer.
    assert OcrCache(directory=folder).get(first.digest, "eng") is None


def test_a_loose_cache_directory_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    OcrCache(directory=folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_cache_keys_must_be_digests(tmp_path: Path) -> None:
    cache = OcrCache(directory=tmp_path / "c")
    with pytest.raises(ValueError):
        cache.get("../evil", "Latin")


def test_the_memory_cache_is_bounded() -> None:
    cache = OcrCache(max_entries=2)
    for n in range(3):
        cache.put(f"{n:064x}", CachedText(str(n), "Latin"))
    assert len(cache) == 2 and cache.get(f"{0:064x}", "Latin") is None
    assert cache.get(f"{2:064x}", "Latin") == CachedText("2", "Latin")


def test_the_message_budget_stops_new_images(engine: Engine) -> None:
    reader = OcrReader(engine)
    images = [(f"p{n}.png", letter([f"Seite {n}", *GERMAN], "PNG")) for n in range(3)]
    texts = reader.read_all(images, budget_seconds=0.0)
    assert [t.note for t in texts] == ["not read: message budget spent"] * 3
    texts = reader.read_all(images, budget_seconds=60, max_images=1)
    assert texts[0].note == "" and "Seite 0" in texts[0].text
    assert [t.note for t in texts[1:]] == ["not read: too many images"] * 2
    # Cached images are answered even when the budget is spent: they cost a hash.
    texts = reader.read_all(images[:1], budget_seconds=0.0)
    assert texts[0].cached and "Seite 0" in texts[0].text


def test_images_that_are_not_letters_cost_no_ocr(engine: Engine) -> None:
    pixel = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(pixel, "GIF")
    calls = engine.calls
    texts = OcrReader(engine).read_all([("t.gif", pixel.getvalue()), ("x.jpg", b"no")], 5)
    assert engine.calls == calls
    assert texts[0].note.startswith("skipped") and texts[1].note.startswith("not an image")


def test_unavailable_is_one_clear_status(tmp_path: Path) -> None:
    status = probe(tessdata=str(tmp_path))
    assert not status.available and status.text.startswith("ocr: unavailable (")
    with pytest.raises(RuntimeError):
        Engine(OcrStatus(False, "tesserocr not installed"))


def test_an_image_over_its_time_is_noted_not_waited_for(engine: Engine) -> None:
    # Tesseract's own deadline (Recognize(timeout=...)) cancels between words; layout
    # analysis before it runs to its end, a fraction of a second at 1,400 px.
    hurried = Engine(engine.status, image_seconds=0.001)
    reader = OcrReader(hurried)
    data = letter(GERMAN * 4, size=(2481, 3508))
    first = reader.read("slow.jpg", data)
    assert first.note == "not read: timed out" and first.text == ""
    assert first.seconds < 1.5
    again = reader.read("slow.jpg", data)
    assert again.cached and again.note == "not read: timed out"


def test_without_tesserocr_the_import_works_and_says_so() -> None:
    # In a child process: the engine module is already imported here, with tesserocr.
    code = (
        "import sys; sys.modules['tesserocr'] = None\n"
        "from milter.ocr.engine import probe; print(probe().text)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("ocr: unavailable (tesserocr not installed")


def test_each_thread_has_its_own_engine(engine: Engine) -> None:
    # A PyTessBaseAPI is not safe to share: two threads at once must each read their own.
    reader = OcrReader(engine)
    pages = [letter(GERMAN, "PNG"), letter(FRENCH, "PNG")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        german, french = pool.map(lambda data: reader.read("p.png", data), pages)
    assert "Kinderpornografie" in german.text and "Convocation" in french.text


def test_the_disk_cache_is_trimmed_to_its_bound(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    cache = OcrCache(directory=folder, max_disk_entries=5)
    for n in range(12):
        cache.put(f"{n:064x}", CachedText(str(n), "Latin"))
        os.utime(folder / f"{n:064x}", (1_000_000 + n, 1_000_000 + n))
    (folder / "stale.123.tmp").write_text("half", encoding="utf-8")
    os.utime(folder / "stale.123.tmp", (1_000_000, 1_000_000))
    assert cache.trim() == 7 + 1
    kept = sorted(path.name for path in folder.iterdir())
    assert kept == [f"{n:064x}" for n in range(7, 12)]  # the newest five
    # Trimming runs by itself every TRIM_EVERY writes of a process.
    small = OcrCache(directory=tmp_path / "d", max_disk_entries=3)
    for n in range(TRIM_EVERY):
        small.put(f"{n:064x}", CachedText("x", "Latin"))
    assert len(list((tmp_path / "d").iterdir())) == 3

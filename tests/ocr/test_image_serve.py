"""OCR where admins meet it: `check` prints the evidence read in an image and says when
OCR is unavailable; `serve` reads image letters within the message budget, warns once
at start when it cannot, and a wave of copies costs one reading."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from milter.config import load_config, shipped_rules_dir
from milter.errors import ConfigError
from milter.ocr.engine import probe
from tests.helpers.serve_process import ServeProcess, Sink, running_sink
from tests.ocr.letters import GERMAN, letter
from tests.ocr.test_image_scan import mail

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def tesseract() -> None:
    status = probe()
    if not status.available:
        pytest.skip(f"{status.text}: run-tests installs tesseract-ocr and tesserocr")


@pytest.fixture
def image_letter(tmp_path: Path) -> Path:
    path = tmp_path / "letter.eml"
    path.write_bytes(mail(("BKA025.jpg", letter(GERMAN), "image/jpeg")))
    return path


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "milter", "check", "--offline", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_check_shows_the_text_read_in_the_image(image_letter: Path) -> None:
    done = check(str(image_letter))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.splitlines()[0].endswith(("quarantine", "reject"), 0, out.index(" (score"))
    assert "'Kinderpornografie [image BKA025.jpg]'" in out
    assert "  image BKA025.jpg: " in out and " characters read in " in out
    line = json.loads(check("--json", str(image_letter)).stdout)
    assert line["ocr"].startswith("ocr: available (")
    (image,) = line["images"]
    assert image["name"] == "BKA025.jpg" and image["chars"] > 100 and image["note"] == ""
    quotes = [q for rule in line["rules"] for q in rule["evidence"]]
    assert "Kinderpornografie [image BKA025.jpg]" in quotes


def test_check_without_ocr_says_so_and_still_scans(image_letter: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("ocr: {languages: [zzz]}\n", encoding="utf-8")
    done = check("--config", str(config), str(image_letter))
    assert done.returncode == 0 and done.stderr == ""
    assert "  ocr: unavailable (none of zzz installed in " in done.stdout
    assert ": 1 image(s) not read" in done.stdout
    assert done.stdout.startswith(f"{image_letter}: accept")  # the picture alone is no scam
    config.write_text("ocr: {enabled: false}\n", encoding="utf-8")
    done = check("--config", str(config), "--json", str(image_letter))
    assert (
        json.loads(done.stdout)["ocr"] == "ocr: unavailable (disabled in the config (ocr.enabled))"
    )


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ("ocr: {languages: ['eng; rm -rf']}", "ocr.languages must be Tesseract model names"),
        ("ocr: {max_images: 2.5}", "ocr.max_images must be a whole number"),
        ("ocr: {timeout: 0}", "ocr.timeout"),
        ("ocr: {enabled: 'yes'}", "ocr.enabled must be true or false"),
        ("ocr: {colour: true}", "unknown key"),
    ],
)
def test_bad_ocr_settings_are_one_line(tmp_path: Path, section: str, words: str) -> None:
    config = tmp_path / "config.yml"
    config.write_text(section + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        load_config(config)


def test_ocr_settings_are_read(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "ocr: {languages: [deu, fra], max_images: 3, timeout: 2, message_timeout: 5,"
        " cache_dir: ocr-cache}\n",
        encoding="utf-8",
    )
    ocr = load_config(config).ocr
    assert ocr.languages == ("deu", "fra") and ocr.max_images == 3
    assert (ocr.timeout, ocr.message_timeout) == (2.0, 5.0)
    assert ocr.cache_dir == tmp_path / "ocr-cache"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    with running_sink() as found:
        yield found


def send(port: int, raw: bytes) -> None:
    # smtplib sends bytes as they are: lines end in CRLF on the wire, as Postfix sends.
    crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.sendmail("sender@example.org", ["bob@example.net"], crlf)


def test_serve_holds_an_image_letter_and_reads_a_wave_once(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    recorder, port = sink
    cache = tmp_path / "ocr-cache"
    served = ServeProcess(
        tmp_path,
        next_hop=port,
        rules=[shipped_rules_dir()],
        extra_config=(
            f"auth: {{enabled: false}}\nsmtp: {{workers: 1}}\nocr: {{cache_dir: {cache}}}\n"
        ),
    ).start()
    try:
        served.wait_line(r"ocr: available \(")
        raw = mail(("BKA025.jpg", letter(GERMAN), "image/jpeg"))
        for _ in range(3):
            send(served.port, raw)
        verdicts = served.wait_verdicts(3, timeout=60)
    finally:
        served.stop()
    assert [v["action"] for v in verdicts] == ["quarantine"] * 3
    assert [v["images"] for v in verdicts] == [{"found": 1, "read": 1}] * 3
    assert recorder.messages == []
    # One reading for the wave: the image's text is on disk once, under its digest.
    (entry,) = list(cache.iterdir())
    assert len(entry.name) == 64 and "Kinderpornografie" in entry.read_text(encoding="utf-8")


def test_serve_without_ocr_warns_once_and_delivers(tmp_path: Path, sink: tuple[Sink, int]) -> None:
    recorder, port = sink
    served = ServeProcess(
        tmp_path,
        next_hop=port,
        rules=[shipped_rules_dir()],
        extra_config="auth: {enabled: false}\nsmtp: {workers: 2}\nocr: {languages: [zzz]}\n",
    ).start()
    try:
        send(served.port, mail(("BKA025.jpg", letter(GERMAN), "image/jpeg")))
        (verdict,) = served.wait_verdicts(1, timeout=60)
    finally:
        served.stop()
    warnings = [line for line in served.lines if "ocr: unavailable" in line]
    assert len(warnings) == 1 and "text of image letters is not read" in warnings[0]
    assert verdict["action"] == "accept" and len(recorder.messages) == 1
    assert verdict["images"] == {"found": 1, "read": 0}

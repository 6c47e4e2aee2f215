"""The proxy's OCR stage under faults: a reader that fails costs the message nothing but
its image text; one that hangs past the message budget defers it (451), never loses it;
the stage runs off the event loop, so other sessions are served meanwhile."""

from __future__ import annotations

import smtplib
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from milter.config import MessageLimits, Mode
from milter.mail.images import ImageText
from milter.mail.view import MessageView
from milter.scan.scanner import Scanner
from tests.helpers.word_rules import WORD_RULES
from tests.ocr.letters import GERMAN, letter
from tests.ocr.test_image_scan import mail
from tests.service.test_proxy import Setup, _setup


class Reader:
    """Stands in for OcrReader at the proxy's seam: what it returns or does is scripted."""

    def __init__(self, text: str = "", *, fail: bool = False, hang: float = 0.0) -> None:
        self.text, self.fail, self.hang = text, fail, hang
        self.threads: list[str] = []

    def read_view(self, view: MessageView, budget_seconds: float | None = None) -> MessageView:
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("engine crashed")
        time.sleep(self.hang)
        texts = tuple(ImageText(i.name, "0" * 64, self.text) for i in view.images)
        return replace(view, image_texts=texts)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Setup]:
    yield from _setup(tmp_path, Mode.AFTER_QUEUE, limits=MessageLimits(message_seconds=2.0))


def image_mail() -> bytes:
    raw = mail(("scan.jpg", letter(GERMAN, size=(600, 848)), "image/jpeg"), body="see")
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_the_image_text_reaches_the_rules(proxied: Setup, tmp_path: Path) -> None:
    rules = tmp_path / "image.yml"
    rules.write_text(WORD_RULES.replace("target: body", "target: image.text"), encoding="utf-8")
    scanner = Scanner.from_rule_paths([rules])
    proxied.proxy.scanner = lambda: scanner
    reader = Reader("please holdme now")
    proxied.proxy.ocr = reader  # type: ignore[assignment]
    proxied.send("", raw=image_mail())
    assert proxied.recorder.messages == []
    (entry,) = proxied.store.entries()
    assert entry.rules[0]["evidence"] == ["holdme [image scan.jpg]"]
    assert reader.threads and reader.threads[0].startswith("scan-")  # off the loop


def test_a_failing_reader_costs_only_the_image_text(
    proxied: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    proxied.proxy.ocr = Reader(fail=True)  # type: ignore[assignment]
    assert proxied.send("", raw=image_mail()) == {}
    assert len(proxied.recorder.messages) == 1
    assert "reading the images failed" in caplog.text


def test_a_hanging_reader_defers_within_the_budget(proxied: Setup) -> None:
    proxied.proxy.ocr = Reader("holdme", hang=5.0)  # type: ignore[assignment]
    started = time.monotonic()
    with pytest.raises(smtplib.SMTPDataError) as caught:
        proxied.send("", raw=image_mail())
    assert caught.value.smtp_code == 451
    assert time.monotonic() - started < 4.0  # the 2 s budget, not the 5 s hang
    assert proxied.recorder.messages == [] and proxied.store.entries() == []
    # Meanwhile and after, mail without images is served as always.
    assert proxied.send("hello") == {}

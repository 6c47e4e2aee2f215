"""The config keys of issue 10: header limits, the per-message budget, the header prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from milter.config import Config, HeaderNames, MessageLimits, load_config
from milter.errors import ConfigError
from milter.service.server import front_settings, proxy_settings


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_defaults() -> None:
    limits = Config().message_limits
    assert (limits.max_header_bytes, limits.max_header_lines, limits.message_seconds) == (
        1024 * 1024,
        10_000,
        60.0,
    )
    assert Config().headers.prefix == "X-Scam-"


def test_limits_are_read_and_reach_the_proxy(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "limits: {max_header_bytes: 65536, max_header_lines: 500, message_seconds: 7.5,"
        " max_parts: 40}\nheaders: {prefix: X-Filter-}\n",
    )
    assert config.message_limits == MessageLimits(65536, 500, 7.5)
    assert isinstance(config.message_limits.max_header_lines, int)
    assert config.scan.limits.max_parts == 40  # the scan's own keys still go to the scan
    settings = proxy_settings(config)
    assert settings.limits == config.message_limits
    assert settings.headers == HeaderNames(prefix="X-Filter-")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("limits: {max_header_lines: 10.5}", "limits.max_header_lines must be a whole number"),
        ("limits: {max_header_bytes: 0}", "limits.max_header_bytes must be greater than 0"),
        ("limits: {message_seconds: -1}", "limits.message_seconds must be greater than 0"),
        ("limits: {message_seconds: soon}", "limits.message_seconds must be a number"),
        # An empty prefix would strip every field of every message.
        ("headers: {prefix: ''}", "headers.prefix must be a non-empty string"),
        ("headers: {prefix: 'X Scam'}", "headers.prefix is not a valid header name"),
    ],
)
def test_bad_values_are_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text + "\n")


def test_big_message_slots_reach_the_front(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text("smtp: {big_message_size: 4096, big_messages_at_once: 3}\n")
    settings = front_settings(load_config(path))
    assert (settings.big_message_size, settings.big_messages_at_once) == (4096, 3)
    assert front_settings(Config()).big_messages_at_once == 1
    path.write_text("smtp: {big_messages_at_once: 0}\n")
    with pytest.raises(ConfigError, match="big_messages_at_once"):
        load_config(path)


def test_big_messages_spool_into_the_quarantines_tmp(tmp_path: Path) -> None:
    config = _load(tmp_path, f"quarantine_dir: {tmp_path / 'q'}\n")
    assert front_settings(config).spool_dir == tmp_path / "q" / "tmp"

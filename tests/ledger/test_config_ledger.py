"""The config keys of the exactly-once ledger and of the late-reply wait."""

from __future__ import annotations

from pathlib import Path

import pytest

from milter.config import Config, load_config
from milter.errors import ConfigError
from milter.ledger.store import LedgerSettings


def _load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_defaults() -> None:
    config = Config()
    # Beside the quarantine (path None), a day.
    assert config.ledger == LedgerSettings(path=None, window=86400.0)
    assert config.ledger.enabled
    assert config.relay.late_reply_timeout == 600.0
    assert config.relay.data_timeout == 600.0  # RFC 5321 4.5.3.2


def test_ledger_keys(tmp_path: Path) -> None:
    config = _load(tmp_path, "ledger: {path: state/ledger.sqlite3, window: 12h}\n")
    assert config.ledger == LedgerSettings(path=tmp_path / "state/ledger.sqlite3", window=43200.0)
    assert _load(tmp_path, "ledger: {window: 3600}\n").ledger == LedgerSettings(window=3600.0)
    assert _load(tmp_path, "ledger: {path: /var/lib/x.db}\n").ledger.window == 86400.0


@pytest.mark.parametrize("window", ["0", "0s"])
def test_a_window_of_zero_turns_it_off(tmp_path: Path, window: str) -> None:
    assert not _load(tmp_path, f"ledger: {{window: {window}}}\n").ledger.enabled


def test_late_reply_timeout(tmp_path: Path) -> None:
    assert _load(tmp_path, "relay: {late_reply_timeout: 0}\n").relay.late_reply_timeout == 0
    assert _load(tmp_path, "relay: {late_reply_timeout: 90}\n").relay.late_reply_timeout == 90
    with pytest.raises(ConfigError, match="late_reply_timeout"):
        _load(tmp_path, "relay: {late_reply_timeout: -1}\n")
    with pytest.raises(ConfigError, match="data_timeout"):
        _load(tmp_path, "relay: {data_timeout: 0}\n")  # still positive only


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ledger: {window: -5}\n", "ledger.window must not be negative"),
        ("ledger: {window: soon}\n", "ledger.window must be a duration"),
        ("ledger: {window: true}\n", "ledger.window must be a number"),
        ("ledger: {path: ''}\n", "ledger.path must be a non-empty string"),
        ("ledger: {size: 3}\n", "ledger: unknown key 'size'"),
        ("ledger: [1]\n", "'ledger' must be a mapping"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)


def test_the_keys_reach_serve(tmp_path: Path) -> None:
    from milter.service.server import proxy_settings, relay_settings

    config = _load(
        tmp_path, "ledger: {window: 2h}\nrelay: {late_reply_timeout: 30}\nnext_hop: 127.0.0.1:25\n"
    )
    assert proxy_settings(config).ledger.window == 7200.0
    assert relay_settings(config).late_reply_timeout == 30.0

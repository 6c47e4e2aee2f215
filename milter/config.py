"""The configuration file: one YAML mapping, read with ``yaml.safe_load`` into frozen values.

Every error names the file and the key at fault. Unknown keys are errors too: a typo in
a threshold must not silently leave the default in force.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from milter.errors import ConfigError
from milter.message_view import ViewLimits
from milter.scanner import ScanSettings
from milter.verdict import Thresholds

SITE_RULES = Path("/etc/scam-milter/rules.d")
DEFAULT_CONFIG = Path("/etc/scam-milter/config.yml")


def shipped_rules_dir() -> Path:
    """The rules shipped with scam-milter: the checkout's rules/, else the installed copy."""
    checkout = Path(__file__).resolve().parent.parent / "rules"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "scam-milter" / "rules"


def default_rule_paths() -> tuple[Path, ...]:
    """Shipped rules plus the host's own additions in /etc/scam-milter/rules.d, if any."""
    paths = [shipped_rules_dir()]
    if SITE_RULES.is_dir():
        paths.append(SITE_RULES)
    return tuple(paths)


@dataclass(frozen=True)
class Config:
    rule_paths: tuple[Path, ...] = field(default_factory=default_rule_paths)
    scan: ScanSettings = field(default_factory=ScanSettings)
    source: str = "<defaults>"


_TOP_KEYS = ("rules", "thresholds", "limits")
_LIMIT_KEYS = (*(f.name for f in fields(ViewLimits)), "regex_timeout")


def load_config(path: Path | None) -> Config:
    """Read ``path`` (None: the defaults, or /etc/scam-milter/config.yml when it exists)."""
    if path is None:
        if not DEFAULT_CONFIG.is_file():
            return Config()
        path = DEFAULT_CONFIG
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {name}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {name} is not valid UTF-8") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise ConfigError(f"{name}:{line}: invalid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: the config must be a mapping of keys ({', '.join(_TOP_KEYS)})")
    return config_from_mapping(data, name, base=path.parent)


def config_from_mapping(data: Mapping[str, Any], name: str, base: Path) -> Config:
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(f"{name}: unknown key {key!r} (known: {', '.join(_TOP_KEYS)})")
    rule_paths = default_rule_paths()
    if "rules" in data:
        value = data["rules"]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise ConfigError(f"{name}: 'rules' must be a path or a list of paths")
        rule_paths = tuple(base / Path(v).expanduser() for v in items)

    thresholds_data = _section(data, "thresholds", name)
    _only(thresholds_data, ("tag", "quarantine", "reject"), f"{name}: thresholds")
    values = {k: _number(v, f"{name}: thresholds.{k}") for k, v in thresholds_data.items()}
    try:
        thresholds = Thresholds(**values)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None

    limits_data = _section(data, "limits", name)
    _only(limits_data, _LIMIT_KEYS, f"{name}: limits")
    limit_values = {
        k: _number(v, f"{name}: limits.{k}", positive=True) for k, v in limits_data.items()
    }
    regex_timeout = float(limit_values.pop("regex_timeout", ScanSettings().regex_timeout))
    defaults = ViewLimits()
    view_values = {k: type(getattr(defaults, k))(v) for k, v in limit_values.items()}
    return Config(
        rule_paths=rule_paths,
        scan=ScanSettings(
            thresholds=thresholds, limits=ViewLimits(**view_values), regex_timeout=regex_timeout
        ),
        source=name,
    )


def _section(data: Mapping[str, Any], key: str, name: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: {key!r} must be a mapping")
    return value


def _only(data: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(allowed)})")


def _number(value: Any, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{where} must be greater than 0, got {value!r}")
    return float(value)

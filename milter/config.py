"""The configuration file: one YAML mapping, read with ``yaml.safe_load`` into frozen values.

Every error names the file and the key at fault. Unknown keys are errors too: a typo in
a threshold must not silently leave the default in force.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from milter import hostport
from milter.auth.dns import parse_server
from milter.auth.settings import AuthSettings
from milter.errors import ConfigError
from milter.ledger.store import LedgerSettings
from milter.mail.headers import HeaderNames
from milter.mail.view import ViewLimits
from milter.ocr.settings import OcrSettings
from milter.scan.scanner import ScanSettings
from milter.scan.verdict import Thresholds
from milter.service.settings import MessageLimits, Mode
from milter.smtp.params import valid_mailbox
from milter.smtp.relay import RelaySettings

SITE_RULES = Path("/etc/scam-milter/rules.d")
DEFAULT_CONFIG = Path("/etc/scam-milter/config.yml")
# Where held mail is kept when neither the config nor --quarantine-dir says otherwise.
DEFAULT_QUARANTINE_DIR = Path("/var/lib/scam-milter/quarantine")


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
class SmtpLimits:
    max_message_size: int = 50 * 1024 * 1024
    max_connections: int = 100
    command_timeout: float = 300.0  # RFC 5321 4.5.3.2: at least 5 minutes per command
    data_timeout: float = 600.0
    drain_timeout: float = 60.0  # SIGTERM: how long sessions in flight may take to finish
    # Processes sharing the listening socket: scanning is CPU-bound Python, so one
    # process uses one core. 0 means one per core; 1 runs all in the main process.
    workers: int = 0
    # Memory (bench/memory_peak.py): a message past big_message_size waits for one of
    # big_messages_at_once slots per worker before it is read on (see FrontSettings).
    big_message_size: int = 10 * 1024 * 1024
    big_messages_at_once: int = 1

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    xforward_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class RelayLimits:
    connect_timeout: float = 30.0
    command_timeout: float = 300.0
    data_timeout: float = 600.0
    # After giving up on the next hop's reply to the end of DATA, how long to go on
    # listening for it (a late 250 goes to the ledger); 0: not at all.
    late_reply_timeout: float = 600.0
    pool_size: int = 8


def relay_settings(config: Config) -> RelaySettings:
    """The relay settings the config gives: next hop, our EHLO name, timeouts, pool.

    ``serve`` relays every message with them and ``quarantine release`` the held ones.
    """
    host, port = config.next_hop
    return RelaySettings(
        host=host,
        port=port,
        helo_name=config.hostname,
        connect_timeout=config.relay.connect_timeout,
        command_timeout=config.relay.command_timeout,
        data_timeout=config.relay.data_timeout,
        late_reply_timeout=config.relay.late_reply_timeout,
        pool_size=config.relay.pool_size,
    )


@dataclass(frozen=True)
class QuarantineSettings:
    # Held mail older than this is expired once a day by `serve` (and by `quarantine
    # purge` without --older-than); None keeps it until an admin deletes it.
    retention: timedelta | None = None


@dataclass(frozen=True)
class ReportSettings:
    """Where `quarantine report` sends a held scam (milter/quarantine/report.py)."""

    to: str | None = None  # the reporting desk, e.g. verdacht@safeonweb.be (README)
    sender: str | None = None  # our From; default postmaster@<hostname>


# Where `serve` writes its one JSON line per message: a stream (journald takes both) or
# a file path, reopened on SIGHUP so logrotate can rotate it.
VERDICT_LOG_STREAMS = ("stderr", "stdout")


@dataclass(frozen=True)
class Config:
    rule_paths: tuple[Path, ...] = field(default_factory=default_rule_paths)
    scan: ScanSettings = field(default_factory=ScanSettings)
    # HOST:PORT, or a unix socket's path ("unix:/path" in the config; milter only).
    listen: tuple[str, int] | Path = ("127.0.0.1", 10025)
    next_hop: tuple[str, int] = ("127.0.0.1", 10026)
    mode: Mode = Mode.AFTER_QUEUE
    quarantine_dir: Path = DEFAULT_QUARANTINE_DIR
    hostname: str = "scam-milter"
    headers: HeaderNames = field(default_factory=HeaderNames)
    subject_prefix: str = ""
    message_limits: MessageLimits = field(default_factory=MessageLimits)
    smtp: SmtpLimits = field(default_factory=SmtpLimits)
    relay: RelayLimits = field(default_factory=RelayLimits)
    auth: AuthSettings = field(default_factory=AuthSettings)
    quarantine: QuarantineSettings = field(default_factory=QuarantineSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    ocr: OcrSettings = field(default_factory=OcrSettings)
    # The front door: "smtp" (the proxy between two Postfix smtpd) or "milter"
    # (Postfix's smtpd_milters; no next hop). docs/postfix.md.
    protocol: str = "smtp"
    # Mail of an authenticated submission ({auth_authen}): "skip" it, or scan it for
    # "outbound" abuse (a hijacked account sending scams). docs/postfix.md.
    milter_submission: str = "skip"
    # The unix socket's mode and group: Postfix's smtpd must be able to write to it.
    milter_socket_mode: int = 0o660
    milter_socket_group: str | None = None
    verdict_log: str = "stderr"  # one of VERDICT_LOG_STREAMS, or an absolute file path
    # HOST:PORT where serve answers Prometheus' GET /metrics; None (the default): off.
    metrics: tuple[str, int] | None = None
    source: str = "<defaults>"

    def authserv_id(self) -> str:
        return self.auth.authserv_id or self.hostname


_TOP_KEYS = (
    "rules",
    "thresholds",
    "limits",
    "listen",
    "next_hop",
    "mode",
    "quarantine_dir",
    "hostname",
    "headers",
    "subject_prefix",
    "smtp",
    "relay",
    "auth",
    "quarantine",
    "report",
    "ledger",
    "ocr",
    "internal_domains",
    "protocol",
    "milter",
    "verdict_log",
    "metrics",
)
_AUTH_KEYS = (
    "enabled",
    "authserv_id",
    "dns_servers",
    "dns_timeout",
    "timeout",
    "on_dns_failure",
    "trusted_mtas",
)
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}")
_OCR_KEYS = tuple(f.name for f in fields(OcrSettings))
# Tesseract model names: "eng", "Latin", "script/Latin" (a path inside tessdata).
_LANGUAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}(?:/[A-Za-z][A-Za-z0-9_]{0,31})?")
_MESSAGE_LIMIT_KEYS = tuple(f.name for f in fields(MessageLimits))
_LIMIT_KEYS = (*(f.name for f in fields(ViewLimits)), "regex_timeout", *_MESSAGE_LIMIT_KEYS)


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
    message_limits = _message_limits(limit_values, name)
    defaults = ViewLimits()
    view_values = {k: type(getattr(defaults, k))(v) for k, v in limit_values.items()}
    config = Config(
        rule_paths=rule_paths,
        scan=ScanSettings(
            thresholds=thresholds,
            limits=ViewLimits(**view_values),
            regex_timeout=regex_timeout,
            internal_domains=_domains(data.get("internal_domains", []), name),
        ),
        source=name,
        auth=_auth_settings(data, name),
        ocr=_ocr_settings(data, name, base),
        message_limits=message_limits,
    )
    return _serve_settings(config, data, name, base)


def _domains(value: Any, name: str) -> tuple[str, ...]:
    """``internal_domains``: the organisation's own mail domains, lower case."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(
        isinstance(v, str) and _DOMAIN.fullmatch(v.strip().lower().rstrip(".")) for v in items
    ):
        raise ConfigError(f"{name}: internal_domains must be a list of domain names")
    return tuple(dict.fromkeys(v.strip().lower().rstrip(".") for v in items))


def _ocr_settings(data: Mapping[str, Any], name: str, base: Path) -> OcrSettings:
    section = _section(data, "ocr", name)
    _only(section, _OCR_KEYS, f"{name}: ocr")
    where = f"{name}: ocr"
    changes: dict[str, Any] = {}
    if "enabled" in section:
        if not isinstance(section["enabled"], bool):
            raise ConfigError(f"{where}.enabled must be true or false")
        changes["enabled"] = section["enabled"]
    if "languages" in section:
        value = section["languages"]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(
            isinstance(v, str) and _LANGUAGE.fullmatch(v) for v in items
        ):
            raise ConfigError(
                f"{where}.languages must be Tesseract model names, e.g. [Latin] or [eng, fra]"
            )
        changes["languages"] = tuple(items)
    for key in ("max_images", "cache_entries", "cache_disk_entries"):
        if key in section:
            if not isinstance(section[key], int) or isinstance(section[key], bool):
                raise ConfigError(f"{where}.{key} must be a whole number")
            changes[key] = int(_number(section[key], f"{where}.{key}", positive=True))
    for key in ("timeout", "message_timeout"):
        if key in section:
            changes[key] = _number(section[key], f"{where}.{key}", positive=True)
    if section.get("cache_dir") is not None:
        changes["cache_dir"] = base / _string(section["cache_dir"], f"{where}.cache_dir")
    return OcrSettings(**changes)


def _message_limits(limit_values: dict[str, float], name: str) -> MessageLimits:
    """Take the proxy's own keys out of ``limit_values`` (the rest are the scan's)."""
    defaults = MessageLimits()
    values: dict[str, Any] = {}
    for key in _MESSAGE_LIMIT_KEYS:
        if key not in limit_values:
            continue
        value = limit_values.pop(key)
        default = getattr(defaults, key)
        if isinstance(default, int) and value != int(value):
            raise ConfigError(f"{name}: limits.{key} must be a whole number, got {value:g}")
        values[key] = type(default)(value)
    return replace(defaults, **values)


def _auth_settings(data: Mapping[str, Any], name: str) -> AuthSettings:
    section = _section(data, "auth", name)
    _only(section, _AUTH_KEYS, f"{name}: auth")
    where = f"{name}: auth"
    settings = AuthSettings()
    changes: dict[str, Any] = {}
    if "enabled" in section:
        if not isinstance(section["enabled"], bool):
            raise ConfigError(f"{where}.enabled must be true or false")
        changes["enabled"] = section["enabled"]
    if "authserv_id" in section:
        value = _string(section["authserv_id"], f"{where}.authserv_id")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", value):
            raise ConfigError(f"{where}.authserv_id must be a host name, got {value!r}")
        changes["authserv_id"] = value
    if "timeout" in section:
        changes["timeout"] = _number(section["timeout"], f"{where}.timeout", positive=True)
    if "on_dns_failure" in section:
        value = section["on_dns_failure"]
        if value not in ("scan", "tempfail"):
            raise ConfigError(f"{where}.on_dns_failure must be scan or tempfail, got {value!r}")
        changes["on_dns_failure"] = value
    if "trusted_mtas" in section:
        value = section["trusted_mtas"]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{where}.trusted_mtas must be a list of host names")
        changes["trusted_mtas"] = tuple(value)
    dns = settings.dns
    if "dns_servers" in section:
        dns = replace(dns, servers=dns_servers(section["dns_servers"], f"{where}.dns_servers"))
    if "dns_timeout" in section:
        dns = replace(
            dns, timeout=_number(section["dns_timeout"], f"{where}.dns_timeout", positive=True)
        )
    return replace(settings, dns=dns, **changes)


def dns_servers(value: Any, where: str) -> tuple[tuple[str, int], ...]:
    """A list of ``HOST[:PORT]`` strings (or one) into (host, port) pairs."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{where} must be HOST:PORT or a list of them")
    try:
        return tuple(parse_server(item) for item in items)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _serve_settings(config: Config, data: Mapping[str, Any], name: str, base: Path) -> Config:
    """The keys ``scam-milter serve`` reads; ``check`` ignores them."""
    changes: dict[str, Any] = {}
    if "listen" in data:
        changes["listen"] = parse_listen(
            _string(data["listen"], f"{name}: listen"), f"{name}: listen"
        )
    if "next_hop" in data:
        where = f"{name}: next_hop"
        changes["next_hop"] = parse_host_port(_string(data["next_hop"], where), where)
    if data.get("metrics") is not None:
        where = f"{name}: metrics"
        changes["metrics"] = parse_host_port(_string(data["metrics"], where), where)
    if "mode" in data:
        changes["mode"] = parse_mode(_string(data["mode"], f"{name}: mode"), f"{name}: mode")
    if "quarantine_dir" in data:
        changes["quarantine_dir"] = base / _string(
            data["quarantine_dir"], f"{name}: quarantine_dir"
        )
    if "hostname" in data:
        changes["hostname"] = _string(data["hostname"], f"{name}: hostname")
    if "protocol" in data:
        changes["protocol"] = parse_protocol(
            _string(data["protocol"], f"{name}: protocol"), f"{name}: protocol"
        )
    milter = _section(data, "milter", name)
    _only(milter, ("submission", "socket_mode", "socket_group"), f"{name}: milter")
    if "submission" in milter:
        choice = milter["submission"]
        if choice not in SUBMISSION_CHOICES:
            raise ConfigError(
                f"{name}: milter.submission must be one of {', '.join(SUBMISSION_CHOICES)}, "
                f"not {choice!r}"
            )
        changes["milter_submission"] = choice
    if "socket_mode" in milter:
        mode = milter["socket_mode"]
        # Written 0660 in YAML, it is the integer 660: read its digits as octal.
        text = str(mode) if isinstance(mode, int | str) and not isinstance(mode, bool) else ""
        if not re.fullmatch(r"0?o?[0-7]{3}", text):
            raise ConfigError(f"{name}: milter.socket_mode must be an octal mode like 0660")
        changes["milter_socket_mode"] = int(text.lstrip("0o") or "0", 8)
    if "socket_group" in milter:
        changes["milter_socket_group"] = _string(
            milter["socket_group"], f"{name}: milter.socket_group"
        )
    if "subject_prefix" in data:
        prefix = data["subject_prefix"] or ""
        prefix = _string(prefix, f"{name}: subject_prefix") if prefix else ""
        if not prefix.isascii() or "\n" in prefix or "\r" in prefix:
            raise ConfigError(f"{name}: subject_prefix must be one line of ASCII text")
        changes["subject_prefix"] = prefix
    headers = _section(data, "headers", name)
    _only(headers, tuple(f.name for f in fields(HeaderNames)), f"{name}: headers")
    for key, value in headers.items():
        header = _string(value, f"{name}: headers.{key}")
        if not _HEADER_NAME.fullmatch(header):
            raise ConfigError(f"{name}: headers.{key} is not a valid header name: {header!r}")
    if headers:
        changes["headers"] = HeaderNames(**headers)
    changes["smtp"] = _numbers_section(data, "smtp", SmtpLimits(), name)
    changes["relay"] = _numbers_section(data, "relay", RelayLimits(), name)
    quarantine = _section(data, "quarantine", name)
    _only(quarantine, ("retention",), f"{name}: quarantine")
    if quarantine.get("retention") is not None:
        where = f"{name}: quarantine.retention"
        changes["quarantine"] = QuarantineSettings(
            retention=parse_duration(_string(quarantine["retention"], where), where)
        )
    report = _section(data, "report", name)
    _only(report, ("to", "from"), f"{name}: report")
    if report:
        found: dict[str, str] = {}
        for key, value in report.items():
            if value is None:  # written out as null: not set
                continue
            address = _string(value, f"{name}: report.{key}")
            if not valid_mailbox(address):
                raise ConfigError(f"{name}: report.{key}: not a mail address: {address!r}")
            found[key] = address
        changes["report"] = ReportSettings(to=found.get("to"), sender=found.get("from"))
    ledger = _section(data, "ledger", name)
    _only(ledger, ("path", "window"), f"{name}: ledger")
    if ledger:
        path = ledger.get("path")
        window = ledger.get("window", LedgerSettings().window)
        changes["ledger"] = LedgerSettings(
            path=None if path is None else base / _string(path, f"{name}: ledger.path"),
            window=_seconds(window, f"{name}: ledger.window"),
        )
    if "verdict_log" in data:
        target = _string(data["verdict_log"], f"{name}: verdict_log")
        changes["verdict_log"] = (
            target if target in VERDICT_LOG_STREAMS else str((base / target).absolute())
        )
    return replace(config, **changes)


_DURATION = re.compile(r"(\d{1,9})\s*([smhdw])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, where: str) -> timedelta:
    """``30d``, ``24h``, ``90m``, ``2w`` or ``3600s`` into a timedelta; errors name ``where``."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"{where} must be a duration like 30d, 24h or 90m, got {text!r}")
    return timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])


_HEADER_NAME = re.compile(r"[!-9;-~]+")


_ZERO_ALLOWED = ("workers", "late_reply_timeout")


def _seconds(value: Any, where: str) -> float:
    """A duration as a number of seconds or as text (``24h``); 0 is allowed."""
    if isinstance(value, str):
        return parse_duration(value, where).total_seconds()
    number = _number(value, where)
    if number < 0:
        raise ConfigError(f"{where} must not be negative, got {value!r}")
    return number


def _numbers_section(data: Mapping[str, Any], key: str, defaults: Any, name: str) -> Any:
    section = _section(data, key, name)
    allowed = tuple(f.name for f in fields(defaults))
    _only(section, allowed, f"{name}: {key}")
    values: dict[str, Any] = {}
    for item, value in section.items():
        where = f"{name}: {key}.{item}"
        default = getattr(defaults, item)
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where} must be a list of networks")
            for network in value:
                try:
                    ipaddress.ip_network(network, strict=False)
                except ValueError:
                    raise ConfigError(f"{where}: {network!r} is not a network") from None
            values[item] = tuple(value)
        else:
            # workers may be 0 ("one per core"), late_reply_timeout 0 (off); every other
            # number must be positive.
            number = _number(value, where, positive=item not in _ZERO_ALLOWED)
            if number < 0 or (isinstance(default, int) and number != int(number)):
                raise ConfigError(f"{where} must be a whole number from 0, got {value!r}")
            values[item] = type(default)(number)
    return replace(defaults, **values)


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty string, got {value!r}")
    return value


def parse_host_port(text: str, where: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` into a pair; errors name ``where``."""
    # Port 0 stays accepted, as before: on `listen` the system picks a free port.
    try:
        return hostport.parse_host_port(text, port_zero=True)
    except ValueError as exc:
        raise ConfigError(f"{where} must be HOST:PORT, got {text!r}: {exc}") from None


def parse_listen(text: str, where: str) -> tuple[str, int] | Path:
    """``HOST:PORT``, or ``unix:/absolute/path`` for a unix socket."""
    if text.startswith("unix:"):
        path = Path(text[len("unix:") :])
        if not path.is_absolute() or path.name in ("", ".", ".."):
            raise ConfigError(f"{where}: a unix socket needs an absolute path, got {text!r}")
        return path
    return parse_host_port(text, where)


def describe_listen(listen: tuple[str, int] | Path) -> str:
    """``listen`` as written in the config: ``HOST:PORT`` or ``unix:/path``."""
    if isinstance(listen, Path):
        return f"unix:{listen}"
    return hostport.host_port_text(*listen)


PROTOCOLS = ("smtp", "milter")
SUBMISSION_CHOICES = ("skip", "outbound")


def parse_protocol(text: str, where: str) -> str:
    if text not in PROTOCOLS:
        raise ConfigError(f"{where}: {text!r} is not one of {', '.join(PROTOCOLS)}")
    return text


def parse_mode(text: str, where: str) -> Mode:
    try:
        return Mode(text)
    except ValueError:
        raise ConfigError(f"{where} must be after-queue or before-queue, got {text!r}") from None


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

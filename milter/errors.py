"""The project's errors.

    ScamMilterError
     ├── ConfigError      a config file or option is wrong
     ├── RuleError        a rule file is wrong (names file, line and rule id)
     └── QuarantineError  the quarantine store cannot be used

The next hop's trouble is no exception: the relay answers with the reply to pass on
(milter/smtp/relay.py), a 4xx when it cannot reach it.

Each message is one sentence that names what is at fault. Anything else raised from
the library is a bug.
"""

from __future__ import annotations


class ScamMilterError(Exception):
    """Base of every error scam-milter raises on purpose."""


class ConfigError(ScamMilterError):
    """A configuration file, key or command-line option is invalid."""


class RuleError(ScamMilterError):
    """A rule file is invalid.

    The message always starts with ``file:line`` and names the rule id when one is known,
    so an admin can go straight to the spot.
    """

    def __init__(self, message: str, *, path: str = "", line: int = 0, rule_id: str = "") -> None:
        where = path
        if line:
            where = f"{path}:{line}"
        prefix = f"{where}: " if where else ""
        rule = f"rule {rule_id}: " if rule_id else ""
        super().__init__(f"{prefix}{rule}{message}")
        self.path = path
        self.line = line
        self.rule_id = rule_id
        self.detail = message


class QuarantineError(ScamMilterError):
    """The quarantine store cannot be read or written."""

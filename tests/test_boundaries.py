"""The scanner is pure: no module of it does network, disk, database or event-loop work.

Only the SMTP front, the relay, the DNS layer and the quarantine store may (STYLE.md).
Imports are read from the source, not from sys.modules: the stdlib email package itself
imports socket (through email.utils), which says nothing about our code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "milter"
SCANNER_MODULES = [
    "body_stream",
    "clip",
    "condition",
    "crypto_address",
    "detectors",
    "envelope",
    "html_text",
    "identities",
    "message_view",
    "mime_decode",
    "mime_policy",
    "mime_raw",
    "normalize",
    "pdf_text",
    "rule_engine",
    "scanner",
    "structure",
    "targets",
    "verdict",
    "yaml_source",
]
# Protocol code kept apart from I/O, as h11 does: parsing and framing only.
PROTOCOL_MODULES = ["headers", "replies", "smtp_client", "smtp_params", "xforward"]
FORBIDDEN = {"asyncio", "socket", "sqlite3", "aiosmtpd", "subprocess", "threading", "selectors"}


def imported(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", SCANNER_MODULES + PROTOCOL_MODULES)
def test_module_does_no_io(module: str) -> None:
    assert imported(module) & FORBIDDEN == set()


def test_the_list_covers_the_scanner() -> None:
    # A new module that the scanner imports must be listed above, or it escapes the check.
    reached: set[str] = set()
    for module in SCANNER_MODULES:
        tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("milter."):
                reached.add(node.module.removeprefix("milter."))
    # rule_loader reads rule files named by the admin: the one file access allowed
    # (identities, listed above, reads the registry beside them the same way).
    # examples.py is not listed: it is the harness of `rules lint`, not part of a scan,
    # and builds authentication results with the authentication modules' own types.
    assert reached - {"errors", "rule_loader"} <= set(SCANNER_MODULES)

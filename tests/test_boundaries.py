"""The scanner is pure: no module of it does network, disk, database or event-loop work.

Only the SMTP front and relay (milter/smtp/front.py, relay.py), the DNS layer, the
ledger, the quarantine store and the service may (docs/architecture.md). The pure side is whole
subpackages: ``milter/mail`` (the message as data) and ``milter/scan`` (from a parsed
message to a verdict), plus the SMTP protocol modules kept apart from I/O as h11 does.
Imports are read from the source, not from sys.modules: the stdlib email package itself
imports socket (through email.utils), which says nothing about our code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "milter"
PURE_PACKAGES = ["mail", "scan"]
# Protocol code kept apart from I/O, as h11 does: parsing and framing only.
PROTOCOL_MODULES = [
    "smtp/replies",
    "smtp/client",
    "smtp/params",
    "smtp/xforward",
    "smtp/data",
    "smtp/session",
    "milterproto/packets",
    "milterproto/session",
    "milterproto/edits",
]
FORBIDDEN = {"asyncio", "socket", "sqlite3", "aiosmtpd", "subprocess", "threading", "selectors"}


def pure_modules() -> list[str]:
    """Every module of the pure subpackages, as a path under milter/ without ".py"."""
    found = []
    for package in PURE_PACKAGES:
        for path in sorted((PACKAGE / package).rglob("*.py")):
            found.append(path.relative_to(PACKAGE).with_suffix("").as_posix())
    return found


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))


def imported(module: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def our_imports(module: str) -> set[str]:
    """The milter modules ``module`` imports, as paths under milter/ ("mail/view")."""
    reached: set[str] = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("milter."):
            base = node.module.removeprefix("milter.").replace(".", "/")
            if (PACKAGE / base).is_dir():
                for alias in node.names:
                    name = f"{base}/{alias.name}"
                    # "from milter.mail import view" names a module; "from
                    # milter.scan.detectors import Hit" a name in the package's __init__.
                    module_there = (PACKAGE / f"{name}.py").exists() or (PACKAGE / name).is_dir()
                    reached.add(name if module_there else f"{base}/__init__")
            else:
                reached.add(base)
    return reached


def test_the_pure_packages_are_found() -> None:
    modules = pure_modules()
    assert "mail/view" in modules and "scan/scanner" in modules
    assert "scan/rules/engine" in modules and "scan/identities/registry" in modules


@pytest.mark.parametrize("module", pure_modules() + PROTOCOL_MODULES)
def test_module_does_no_io(module: str) -> None:
    assert imported(module) & FORBIDDEN == set()


def test_the_pure_side_imports_only_the_pure_side() -> None:
    # A module the scanner imports must itself be pure, or it escapes the check. The
    # rule loader reads rule files named by the admin: the one file access allowed (the
    # identity registry beside them is read the same way). examples.py is the harness
    # of `rules lint`, not part of a scan, and builds authentication results with the
    # authentication modules' own types.
    allowed = set(pure_modules()) | {"errors", "__init__"}
    allowed |= {f"{package}/__init__" for package in ("mail", "scan")}
    for module in pure_modules():
        reached = our_imports(module)
        if module == "scan/rules/examples":
            reached = {name for name in reached if not name.startswith("auth/")}
        assert reached <= allowed, module

"""A module of this checkout as it was at an earlier commit, for benches that time the
old code against the new in one run (bench/normalize_speed.py, bench/rule_load.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def before_change(source: str, marker: str, *, added: bool) -> str:
    """The revision just before the change that ``added`` (or removed) ``marker`` in
    ``source``: HEAD while it has not happened yet there, else that commit's parent."""
    if (marker in git("show", f"HEAD:{source}")) != added:
        return "HEAD"
    changed = git("log", "-n1", "--format=%H", f"-S{marker}", "--", source).strip()
    return f"{changed}^"


def module_at(source: str, rev: str, name: str) -> tuple[ModuleType, float]:
    """``source`` (a path in the checkout) as it was at ``rev``, imported as ``name``;
    and the seconds its import took."""
    text = git("show", f"{rev}:{source}")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(text)
    spec = importlib.util.spec_from_file_location(name, handle.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    try:
        start = time.perf_counter()
        spec.loader.exec_module(module)
        return module, time.perf_counter() - start
    finally:
        Path(handle.name).unlink()

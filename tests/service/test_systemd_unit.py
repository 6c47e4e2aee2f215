"""The shipped systemd unit and sysusers file: valid for systemd, consistent with the
server's settings, and its hardening compatible with the Python stack it runs.

systemd-analyze comes with Debian's systemd package, which works here without systemd
running as PID 1 (the fixture installs it if it is missing, as run-tests does).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from milter.config import SmtpLimits

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "scam-milter.service"
SYSUSERS = ROOT / "systemd" / "scam-milter.sysusers"
SHIPPED_BINARY = "/usr/local/bin/scam-milter"


def _have_or_install(command: str) -> str:
    path = shutil.which(command)
    if path:
        return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(f"{command} is missing and Debian's systemd package cannot be installed")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "systemd"]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        subprocess.run(install, env=env, capture_output=True, check=False)
    path = shutil.which(command)
    if not path:
        pytest.skip(f"{command} is missing and apt-get could not install systemd")
    return path


def unit_settings(text: str) -> dict[str, list[str]]:
    """Key -> values of a unit file (repeated keys accumulate), sections ignored."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = _have_or_install("systemd-analyze")
    # `verify` insists that ExecStart's program exists. The shipped unit names the path
    # of a pip install into /usr/local, which this machine need not have: verify a copy
    # that points at the scam-milter entry point installed here (run-tests installs it),
    # or at a stand-in script when it is not on PATH. Nothing else is changed.
    binary = shutil.which("scam-milter")
    if binary is None:
        stub = tmp_path / "scam-milter"
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
        binary = str(stub)
    text = UNIT.read_text()
    assert f"ExecStart={SHIPPED_BINARY} " in text
    copy = tmp_path / "scam-milter.service"
    copy.write_text(text.replace(f"ExecStart={SHIPPED_BINARY} ", f"ExecStart={binary} "))

    result = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    ours = [line for line in output.splitlines() if "scam-milter" in line]
    assert ours == [], output  # e.g. "Unknown key ... ignoring", "not executable"


def test_unit_settings():
    s = unit_settings(UNIT.read_text())
    assert s["Type"] == ["notify"]
    assert s["ExecStart"] == [f"{SHIPPED_BINARY} serve --config /etc/scam-milter/config.yml"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["Restart"] == ["on-failure"]
    assert s["User"] == ["scam-milter"]
    assert s["UMask"] == ["0077"]
    assert s["StateDirectoryMode"] == ["0700"]
    # The quarantine the server writes by default lives in the state directory.
    assert "scam-milter/quarantine" in s["StateDirectory"][0].split()
    assert s["CapabilityBoundingSet"] == [""]
    for key in (
        "NoNewPrivileges",
        "ProtectHome",
        "PrivateTmp",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectClock",
        "ProtectHostname",
        "RestrictNamespaces",
        "RestrictRealtime",
        "RestrictSUIDSGID",
        "LockPersonality",
        "MemoryDenyWriteExecute",
    ):
        assert s[key] == ["yes"], key
    assert s["ProtectSystem"] == ["strict"]
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert s["SystemCallFilter"][0] == "@system-service"


def test_stop_timeout_outlasts_the_drain():
    s = unit_settings(UNIT.read_text())
    (timeout,) = s["TimeoutStopSec"]
    assert timeout.isdigit(), "TimeoutStopSec in plain seconds"
    assert int(timeout) > SmtpLimits().drain_timeout


def test_sysusers_creates_the_service_user(tmp_path):
    sysusers = _have_or_install("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    result = subprocess.run(
        [sysusers, f"--root={tmp_path}", str(SYSUSERS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    passwd = (tmp_path / "etc" / "passwd").read_text().splitlines()
    (entry,) = [line for line in passwd if line.startswith("scam-milter:")]
    _, _, uid, gid, _, home, shell = entry.split(":")
    assert int(uid) > 0 and int(gid) > 0
    assert home == "/var/lib/scam-milter"
    assert shell == "/usr/sbin/nologin"
    assert any(g.startswith("scam-milter:") for g in (tmp_path / "etc" / "group").open())


# What the service runs, under the kernel's own W^X rule: PR_SET_MDWE (Linux 6.3+)
# refuses writable+executable memory like systemd's MemoryDenyWriteExecute=yes does.
MDWE_PROBE = textwrap.dedent(
    """
    import asyncio, ctypes, importlib, mmap, pkgutil, sys
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
        print("NO-MDWE"); sys.exit(0)
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        sys.exit("W+X mapping was allowed: the probe proves nothing")
    except OSError:
        pass
    import milter
    for mod in pkgutil.walk_packages(milter.__path__, "milter."):
        if mod.name.endswith("__main__"):
            continue  # runs the command line
        try:
            importlib.import_module(mod.name)
        except ModuleNotFoundError:
            pass  # a module still being written; a C extension refused by W^X is not this
    import aiosmtpd.smtp, dkim, dns.resolver, regex, spf, ssl, sqlite3, yaml  # noqa: F401
    import ahocorasick, pypdf  # noqa: F401

    async def serve_once():
        server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        server.close()
        await server.wait_closed()

    asyncio.run(serve_once())
    from milter.cli.main import main
    sys.exit(main(["check", "--json", sys.argv[1]]))
    """
)


def test_python_stack_runs_with_memory_deny_write_execute():
    if unit_settings(UNIT.read_text()).get("MemoryDenyWriteExecute") != ["yes"]:
        pytest.skip("the unit does not set MemoryDenyWriteExecute=yes")
    messages = ROOT / "tests" / "messages" / "scam"
    result = subprocess.run(
        [sys.executable, "-c", MDWE_PROBE, str(messages)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    if result.stdout.startswith("NO-MDWE"):
        pytest.skip("this kernel has no PR_SET_MDWE to test W^X with")
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"verdict"' in result.stdout

"""The proxy's scan threads (milter/service/scan_pool.py): results and errors reach the caller,
an abandoned job that has not started never starts, and a scan that never ends holds up
neither other work nor the process's exit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from milter.service.scan_pool import ScanPool

ROOT = Path(__file__).resolve().parents[2]


def test_results_and_errors_reach_the_caller() -> None:
    pool = ScanPool(threads=2)

    async def main() -> tuple[int, str]:
        total = await pool.run(sum, [1, 2, 3])
        with pytest.raises(ZeroDivisionError):
            await pool.run(lambda: 1 / 0)
        name = await pool.run(lambda: threading.current_thread().name)
        return total, name

    total, name = asyncio.run(main())
    pool.close()
    assert total == 6
    assert name.startswith("scan-")


def test_an_abandoned_job_that_has_not_started_never_runs() -> None:
    pool = ScanPool(threads=1)
    release = threading.Event()
    ran: list[str] = []

    def hang() -> None:
        ran.append("hang")
        release.wait(10)

    async def main() -> None:
        first = asyncio.ensure_future(pool.run(hang))
        while not ran:
            await asyncio.sleep(0.01)
        # The only thread is taken: this one waits, and is abandoned at its budget.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await pool.run(ran.append, "second")
        assert pool.busy == 1
        release.set()
        await first
        assert await pool.run(ran.append, "third") is None

    asyncio.run(main())
    pool.close()
    assert ran == ["hang", "third"]


def test_a_scan_that_never_ends_does_not_hold_up_the_exit() -> None:
    program = (
        "import asyncio, time\n"
        "from milter.service.scan_pool import ScanPool\n"
        "pool = ScanPool()\n"
        "async def main():\n"
        "    try:\n"
        "        async with asyncio.timeout(0.2):\n"
        "            await pool.run(time.sleep, 600)\n"
        "    except TimeoutError:\n"
        "        print('abandoned', flush=True)\n"
        "asyncio.run(main())\n"
        "pool.close()\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "abandoned\n"
    assert time.monotonic() - started < 30  # not the 600 s the scan would take

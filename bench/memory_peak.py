"""Peak memory of a `scam-milter serve` worker for big messages.

    python bench/memory_peak.py [--size-mb 50] [--parallel 1 4] [--auth]

Starts `serve` with one worker (so the worker is the process measured) and the shipped
rules in after-queue mode, an aiosmtpd next hop that discards what it receives, and
sends each batch: ``N`` messages of ``--size-mb`` at once (a PDF-like base64 attachment
of random bytes under a short text, as a scanned letter or a big invoice arrives). For
every batch it prints the worker's resident set before, and its peak (VmHWM, reset
between batches through /proc/PID/clear_refs) while the batch was handled. The ratio of
the peak to the message size is the figure to compare across machines and changes.
"""

from __future__ import annotations

import argparse
import base64
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from smtp_throughput import free_port, wait_port  # noqa: E402


class Discard:
    async def handle_DATA(self, server, session, envelope) -> str:
        return "250 2.0.0 Ok: discarded"


def make_message(size: int) -> bytes:
    head = (
        b"From: Alice Example <alice@example.org>\r\n"
        b"To: Bob Example <bob@example.net>\r\n"
        b"Subject: The scanned contract\r\n"
        b"Message-ID: <memory-bench@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Hello Bob, the signed contract is attached.\r\n\r\n"
        b"--b1\r\nContent-Type: application/octet-stream; name=contract.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    )
    raw = os.urandom(size * 3 // 4)
    body = base64.encodebytes(raw).replace(b"\n", b"\r\n")
    return head + body + b"\r\n--b1--\r\n"


def status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for {pid}")


def reset_peak(pid: int) -> None:
    # "5" resets VmHWM to the current RSS (proc(5), /proc/pid/clear_refs).
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def send(port: int, message: bytes, replies: list[int]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=600) as client:
        client.ehlo()
        for reply in (
            client.mail("alice@example.org", [f"SIZE={len(message)}"]),
            client.rcpt("bob@example.net"),
        ):
            if reply[0] != 250:
                raise RuntimeError(f"refused: {reply}")
        replies.append(client.data(message)[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=50)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--config", default="", help="extra YAML lines for the config")
    args = parser.parse_args()
    message = make_message(int(args.size_mb * 1024 * 1024))
    # No size limit at the next hop (aiosmtpd's default is 32 MB).
    sink = Controller(Discard(), hostname="127.0.0.1", port=free_port(), data_size_limit=0)
    sink.start()
    work = Path(tempfile.mkdtemp(prefix="memory-bench-"))
    config = work / "config.yml"
    config.write_text(
        f"rules: [{ROOT / 'rules'}]\nmode: after-queue\nauth: {{enabled: false}}\n"
        f"smtp: {{workers: 1, max_message_size: {len(message) * 2}}}\n{args.config}",
        encoding="utf-8",
    )
    port = free_port()
    serve = subprocess.Popen(
        [
            *(sys.executable, "-m", "milter.cli", "serve", "--config", str(config)),
            *("--listen", f"127.0.0.1:{port}", "--next-hop", f"127.0.0.1:{sink.port}"),
            *("--quarantine-dir", str(work / "q")),
        ],
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        time.sleep(1.0)
        size_mb = len(message) / 1024 / 1024
        print(f"message: {size_mb:.1f} MB; worker pid {serve.pid}")
        for parallel in args.parallel:
            before = status(serve.pid, "VmRSS")
            reset_peak(serve.pid)
            replies: list[int] = []
            threads = [
                threading.Thread(target=send, args=(port, message, replies))
                for _ in range(parallel)
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.monotonic() - started
            peak = status(serve.pid, "VmHWM")
            print(
                f"{parallel} at once: replies {sorted(replies)}, RSS before "
                f"{before / 2**20:.0f} MB, peak {peak / 2**20:.0f} MB "
                f"({(peak - before) / len(message):.1f}x the message above the idle RSS), "
                f"{seconds:.1f} s"
            )
    finally:
        serve.terminate()
        serve.wait(60)
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

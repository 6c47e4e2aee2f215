"""Throughput through scam-milter against straight into smtp-sink, with Postfix's own tools.

    python bench/smtp_throughput.py [--messages 2000] [--sessions 10] [--size 5000]
                                    [--file] [--auth] [--image-letter]

In one run, round after round: smtp-source sends N messages over S parallel sessions
straight into smtp-sink (which stores them, as a real next hop would), then through the
plain aiosmtpd+smtplib relay of NOTES.md (bench/plain_relay.py), then through
`scam-milter serve` (shipped rules, after-queue mode) into the same smtp-sink. Prints the
rates of every round and the median ratio of each relay to the direct run; ratios, not
absolute rates, compare across machines. ``--compare DIR`` adds the scam-milter of
another checkout (a clone at an earlier commit) to the same rounds: "no slower than
before" measured in one run. Needs Postfix's smtp-source and smtp-sink
(Debian package postfix; ./run-tests installs it).

Sender authentication is off unless ``--auth``: then the message (the business mail of
``--file``) carries a DKIM signature and a Received header of a trusted MTA naming the
client, and a local DNS server (dnslib's zone resolver, as NOTES.md runs it) answers SPF,
DKIM and DMARC; scam-milter caches the answers after the first message. That message is
the same every time, so this tree's duplicate ledger is off with ``--auth``
(bench/ledger_cost.py measures the ledger).

``--image-letter`` sends a wave: every message is the same one-line mail with a
real-size JPEG letter (A4 at 200 dpi, rendered by tests/ocr/letters.py) that the shipped
rules hold once OCR has read it. The first copy costs a recognition; the others a SHA-256
and the OCR cache (issue 12). A checkout given with ``--compare`` that reads no images
shows what the wave costs over the same mail unread.

Rates are wall-clock and swing by 10% between runs on a 2-core machine that also runs
smtp-source and smtp-sink; the CPU time spent per message by each scam-milter's whole
process tree (supervisor, workers, ledger writers; from /proc) is steadier, and is what
to compare between two checkouts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ocr/letters.py renders the image letter


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def image_letter_message() -> bytes:
    """The seed wave's shape: a one-line body and the letter as a JPEG attachment."""
    from email.message import EmailMessage

    from tests.ocr.letters import GERMAN, letter

    message = EmailMessage()
    message["From"] = "Maria Keller <m.keller1982@example.org>"
    message["To"] = "bob@example.net"
    message["Subject"] = "Einladung"
    message.set_content("Ihre Einladung finden Sie im Anhang.")
    message.add_attachment(letter(GERMAN), maintype="image", subtype="jpeg", filename="a.jpg")
    return message.as_bytes()


def make_message(size: int) -> bytes:
    """A plain business mail padded to about ``size`` bytes (smtp-source -F sends it)."""
    head = (
        "From: Alice Example <alice@example.org>\r\n"
        "To: Bob Example <bob@example.net>\r\n"
        "Subject: Quarterly figures\r\n"
        "Message-ID: <bench@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
    )
    line = "The figures for the third quarter are attached to the shared folder.\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return (head + body).encode()


BENCH_MTA = "mx.bench.example"  # the trusted MTA whose Received header names the client
CLIENT_IP = "192.0.2.7"


def auth_message(message: bytes) -> tuple[bytes, str]:
    """``message`` signed by example.org and received by the trusted MTA; and the zone
    that makes it pass SPF, DKIM and DMARC."""
    # Imported here: only --auth needs them (cryptography comes with the test extras).
    import base64

    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = base64.b64encode(
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    signature = dkim.sign(message, b"bench", b"example.org", pem)
    received = (
        f"Received: from mail.example.org (mail.example.org [{CLIENT_IP}])\r\n"
        f"\tby {BENCH_MTA} (Postfix) with ESMTP id 4B; Fri, 27 Nov 2026 10:00:00 +0100\r\n"
        "Return-Path: <alice@example.org>\r\n"
    ).encode()
    record = f"v=DKIM1; k=rsa; p={public}"
    chunks = " ".join(f'"{record[i : i + 200]}"' for i in range(0, len(record), 200))
    zone = "\n".join(
        [
            f'example.org. 3600 IN TXT "v=spf1 ip4:{CLIENT_IP} -all"',
            '_dmarc.example.org. 3600 IN TXT "v=DMARC1; p=reject"',
            f"bench._domainkey.example.org. 3600 IN TXT {chunks}",
            "",
        ]
    )
    return received + signature + message, zone


def start_dns(zone_file: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dnslib.zoneresolver",
            "--zone",
            str(zone_file),
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--log=-request,-reply,-recv,-send",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # dnslib is ready in about 0.4 s (NOTES.md); UDP has no port to poll
    return server, port


def tree_cpu(root: int) -> float:
    """CPU seconds spent so far by process ``root`` and every live descendant (the serve
    supervisor, its workers and their ledger writers), from /proc."""
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name (field 2) may hold spaces: split after its closing paren.
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
        spent[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total = 0.0
    for pid, cpu in spent.items():
        ancestor = pid
        while ancestor not in (0, 1, root) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            total += cpu
    return total


def source(port: int, args: argparse.Namespace, message: Path) -> float:
    # Without --file, smtp-source makes its own message of --size bytes (as NOTES.md
    # measured); with it, a realistic business mail of about that size.
    content = ["-F", str(message)] if args.file else ["-l", str(args.size)]
    command = [
        "smtp-source",
        "-s",
        str(args.sessions),
        "-m",
        str(args.messages),
        *content,
        "-f",
        "alice@example.org",
        "-t",
        "bob@example.net",
        f"127.0.0.1:{port}",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--file", action="store_true", help="send a real mail, not filler")
    parser.add_argument(
        "--auth", action="store_true", help="SPF, DKIM and DMARC on (implies --file)"
    )
    parser.add_argument(
        "--image-letter", action="store_true", help="a wave of one image letter (OCR)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--workers", type=int, default=0, help="scam-milter's smtp.workers (0: one per core)"
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also run the scam-milter of another checkout (say, a clone at the previous "
        "release) in the same rounds, and print this tree's rate over that one's",
    )
    args = parser.parse_args()
    args.file = args.file or args.auth
    for tool in ("smtp-source", "smtp-sink"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            print(f"{tool} not found: install Debian's postfix package", file=sys.stderr)
            return 2
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin"
    with tempfile.TemporaryDirectory() as tmp:
        message = Path(tmp) / "message.eml"
        content = image_letter_message() if args.image_letter else make_message(args.size)
        args.file = args.file or args.image_letter
        dns = None
        auth_config = "auth: {enabled: false}\n"
        if args.auth:
            content, zone = auth_message(content)
            zone_file = Path(tmp) / "zone.txt"
            zone_file.write_text(zone, encoding="ascii")
            dns, dns_port = start_dns(zone_file)
            auth_config = (
                f"auth: {{dns_servers: ['127.0.0.1:{dns_port}'], trusted_mtas: [{BENCH_MTA}]}}\n"
            )
        # smtp-source -F appends CRLF to each line of the file: a file with CRLF line
        # ends would go out with CR CR LF, a broken header block.
        message.write_bytes(content.replace(b"\r\n", b"\n"))
        sink_port = free_port()
        # The sink stores every message (-d), as a real next hop would and as NOTES.md
        # measured; as root it must drop privileges (-u) to a user owning the directory.
        dump = Path(tmp) / "sink"
        dump.mkdir()
        user = []
        if os.geteuid() == 0:
            user = ["-u", "nobody"]
            os.chown(dump, 65534, 65534)
            os.chmod(tmp, 0o755)
        sink = subprocess.Popen(
            ["smtp-sink", *user, "-d", f"{dump}/%M.", f"127.0.0.1:{sink_port}", "256"]
        )
        config = Path(tmp) / "config.yml"
        config.write_text(f"smtp: {{workers: {args.workers}}}\n{auth_config}", encoding="utf-8")
        ours = config
        if args.auth:
            # smtp-source sends the same bytes every time, and this message starts with
            # a Received field: the ledger would rightly answer every copy after the
            # first as a duplicate, unscanned. So the ledger is off here, in the other
            # checkout too if it has one; bench/ledger_cost.py measures the ledger with
            # distinct messages.
            ours = Path(tmp) / "ours.yml"
            ours.write_text(config.read_text() + "ledger: {window: 0}\n", encoding="utf-8")
        proxy = None
        plain = None
        other = None
        compared: list[float] = []
        direct: list[float] = []
        baseline: list[float] = []
        through: list[float] = []
        cpu_through: list[float] = []  # CPU seconds of serve's process tree per round
        cpu_compared: list[float] = []
        try:
            wait_port(sink_port)
            proxy_port = free_port()
            proxy = start_serve(ROOT, proxy_port, sink_port, Path(tmp) / "quarantine", ours)
            other_port = free_port()
            if args.compare is not None:
                theirs = config
                if args.auth and has_ledger(args.compare):
                    theirs = ours
                other = start_serve(
                    args.compare.resolve(), other_port, sink_port, Path(tmp) / "q2", theirs
                )
                wait_port(other_port)
            plain_port = free_port()
            plain = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "bench" / "plain_relay.py"),
                    str(plain_port),
                    str(sink_port),
                ],
                stderr=subprocess.DEVNULL,
            )
            wait_port(proxy_port)
            wait_port(plain_port)
            # Alternate the three, so that all see the same machine (disk, other load).
            # One unmeasured round each first: the sink's first files and the proxy's
            # first connections are slower than the steady state.
            for port in (sink_port, plain_port, proxy_port):
                source(port, args, message)
            if other is not None:
                source(other_port, args, message)
            for round_number in range(args.rounds):
                direct.append(source(sink_port, args, message))
                baseline.append(source(plain_port, args, message))
                # The two scam-milters take turns going first: whichever runs right
                # after another load sees a warmer or a busier machine.
                turns = [(proxy, proxy_port, through, cpu_through)]
                if other is not None:
                    turns.append((other, other_port, compared, cpu_compared))
                if round_number % 2:
                    turns.reverse()
                for process, port, times, cpus in turns:
                    before = tree_cpu(process.pid)
                    times.append(source(port, args, message))
                    cpus.append(tree_cpu(process.pid) - before)
        finally:
            for process in (proxy, plain, other):
                if process is not None:
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=60)
            sink.terminate()
            sink.wait(timeout=10)
            if dns is not None:
                dns.terminate()
                dns.wait(timeout=10)
    n = args.messages

    def rates(times: list[float]) -> str:
        return ", ".join(f"{n / t:.0f}" for t in times)

    def cpus(seconds: list[float]) -> str:
        return ", ".join(f"{s / n * 1e6:.0f}" for s in seconds)

    # A ratio per round (each against the direct run just before it), then the median:
    # the sink's speed drifts between rounds, and this cancels most of the drift.
    plain_ratios = [d / b for d, b in zip(direct, baseline, strict=True)]
    proxy_ratios = [d / t for d, t in zip(direct, through, strict=True)]
    kind = "a 5 KB business mail" if args.file else f"smtp-source's {args.size}-byte filler"
    if args.image_letter:
        kind = f"one image letter of {len(image_letter_message()) // 1024} KB, held"
    if args.auth:
        kind += ", DKIM-signed, with SPF, DKIM and DMARC checked"
    print(
        f"{n} messages ({kind}), {args.sessions} parallel sessions, scam-milter with "
        f"{args.workers or f'one per core ({os.cpu_count()})'} worker(s); "
        f"{args.rounds} rounds, msg/s per round\n"
        f"straight into smtp-sink:          {rates(direct)}\n"
        f"through a plain aiosmtpd relay:   {rates(baseline)}\n"
        f"through scam-milter:              {rates(through)}\n"
        f"ratio, plain relay (median):      {statistics.median(plain_ratios):.3f}\n"
        f"ratio, scam-milter (median):      {statistics.median(proxy_ratios):.3f}\n"
        f"scam-milter CPU per message (µs): {cpus(cpu_through)}"
    )
    if compared:
        # Per round, this tree's rate over the other's (its time over ours).
        versus = [c / t for c, t in zip(compared, through, strict=True)]
        cpu_versus = [c / o for c, o in zip(cpu_through, cpu_compared, strict=True)]
        print(
            f"through scam-milter at {args.compare}: {rates(compared)}\n"
            f"this tree over {args.compare} (median): {statistics.median(versus):.3f}\n"
            f"CPU per message at {args.compare} (µs): {cpus(cpu_compared)}\n"
            f"CPU per message, this tree over {args.compare} (median): "
            f"{statistics.median(cpu_versus):.3f}"
        )
    return 0


def has_ledger(root: Path) -> bool:
    """Whether the checkout at ``root`` has the duplicate ledger (and its config key)."""
    package = root / "milter"
    return (package / "ledger.py").exists() or (package / "ledger").is_dir()


def start_serve(
    root: Path, port: int, next_hop: int, quarantine: Path, config: Path
) -> subprocess.Popen[bytes]:
    """`scam-milter serve` from the checkout at ``root`` (its own code, not the installed)."""
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "milter.cli", "serve", "--listen", f"127.0.0.1:{port}"),
            *("--next-hop", f"127.0.0.1:{next_hop}", "--quarantine-dir", str(quarantine)),
            *("--config", str(config)),
        ],
        cwd=root,
        env=dict(os.environ, PYTHONPATH=str(root)),
        stderr=subprocess.DEVNULL,
    )


if __name__ == "__main__":
    sys.exit(main())

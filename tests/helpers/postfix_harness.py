"""A real Postfix (Debian's package) for end-to-end tests, configured from docs/postfix.md.

Each ``PostfixInstance`` has its own config, queue and data directories under one
temporary folder and its own loopback ports, so several can run at once (Postfix's
multi-instance separation: everything is selected with ``-c DIR``; /etc/postfix is
never touched). Its main.cf and master.cf are Debian's defaults (chroot off), plus the
snippets of docs/postfix.md for the chosen mode, exactly as documented, with the
documented ports 10025 (scam-milter) and 10026 (reinjection) replaced by free ones.

    inst = PostfixInstance(base_dir, mode="after-queue")   # or "before-queue"
    inst.start()
    # run the filter on ("127.0.0.1", inst.filter_port), relaying to
    # ("127.0.0.1", inst.reinject_port); send test mail to ("127.0.0.1", inst.smtp_port)
    inst.wait_delivered(1)   # -> list of delivered messages (bytes)
    inst.stop()

Final delivery goes to one Maildir (every recipient in ``domains``) or, with
``delivery="sink"``, to an smtp-sink process that the instance starts.
The test listener allows XCLIENT from loopback, so a test can pose as any client
(``XCLIENT ADDR=192.0.2.1 NAME=[UNAVAILABLE] HELO=mx.example.net``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "postfix.md"
MODES = ("after-queue", "before-queue", "milter", "milter-unix")
DOC_FILTER_PORT = 10025
# The milter's unix socket as docs/postfix.md writes it in main.cf: the path a chrooted
# smtpd sees (under the queue directory). Here smtpd runs unchrooted, and the instance's
# own socket file stands in for it (``filter_socket``).
DOC_FILTER_SOCKET = "unix:/scam-milter/milter.sock"
DOC_REINJECT_PORT = 10026
POSTFIX = Path("/usr/sbin/postfix")
POSTQUEUE = Path("/usr/sbin/postqueue")
SMTP_SINK = Path("/usr/sbin/smtp-sink")
DEBIAN_MASTER_CF = Path("/etc/postfix/master.cf")
NOBODY = 65534  # uid and gid of the virtual(8) Maildir deliveries

_INSTALL_LOCK = Path(tempfile.gettempdir()) / "scam-milter-postfix-install.lock"
_install_result: str | None = None  # None: not tried yet; "": installed; else the reason
_install_mutex = threading.Lock()


class PostfixUnavailable(RuntimeError):
    """Postfix is not installed and cannot be (no network, not root)."""


class PostfixError(RuntimeError):
    """A postfix command failed; the message carries its output and the mail log."""


# --------------------------------------------------------------------------- install


def ensure_postfix() -> None:
    """Install Debian's postfix package if /usr/sbin/postfix is missing (once per run).

    Raises PostfixUnavailable with the reason when it cannot be installed; callers skip.
    A file lock keeps parallel test processes from running apt-get at the same time.
    """
    global _install_result
    with _install_mutex:
        if _install_result is None:
            _install_result = _install()
        if _install_result:
            raise PostfixUnavailable(_install_result)


def _install() -> str:
    if POSTFIX.exists() and SMTP_SINK.exists():
        return ""
    if os.geteuid() != 0:
        return "postfix is not installed and installing it needs root"
    if shutil.which("apt-get") is None:
        return "postfix is not installed and there is no apt-get to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with open(_INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if POSTFIX.exists():
            return ""
        subprocess.run(
            ["debconf-set-selections"],
            input="postfix postfix/main_mailer_type select No configuration\n",
            text=True,
            check=False,
            capture_output=True,
        )
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postfix"]
        result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            # A fresh machine has no package lists yet: fetch them and try once more.
            update = subprocess.run(
                ["apt-get", "update", "-q"], env=env, capture_output=True, text=True, check=False
            )
            if update.returncode != 0:
                return "apt-get update failed (no network?): " + _tail(update.stderr)
            result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not POSTFIX.exists():
            return "apt-get install postfix failed: " + _tail(result.stderr or result.stdout)
    return ""


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------- docs


def doc_snippets(path: Path = DOCS) -> dict[tuple[str, str], str]:
    """The config snippets of docs/postfix.md, keyed by (file, mode).

    A snippet is a fenced block whose info string is ``postfix main.cf MODE`` or
    ``postfix master.cf MODE``.
    """
    text = path.read_text(encoding="utf-8")
    found: dict[tuple[str, str], str] = {}
    fence = re.compile(
        r"^```postfix[ \t]+(main\.cf|master\.cf)[ \t]+(\S+)[ \t]*\n(.*?)^```[ \t]*$",
        re.M | re.S,
    )
    for match in fence.finditer(text):
        key = (match.group(1), match.group(2))
        if key in found:
            raise ValueError(f"{path}: two snippets for {key[0]} {key[1]}")
        found[key] = match.group(3)
    return found


def parse_main_cf(text: str) -> dict[str, str]:
    """main.cf ``name = value`` lines (indented lines continue the previous one)."""
    params: dict[str, str] = {}
    name = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace() and name is not None:
            params[name] += " " + raw.strip()
            continue
        key, sep, value = raw.partition("=")
        if not sep:
            raise ValueError(f"main.cf line without '=': {raw!r}")
        name = key.strip()
        params[name] = value.strip()
    return params


def parse_master_cf(text: str) -> list[list[str]]:
    """master.cf entries: each a list of whitespace-separated fields with its -o args."""
    entries: list[list[str]] = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0].isspace():
            if not entries:
                raise ValueError(f"master.cf continuation line before any entry: {raw!r}")
            entries[-1].extend(raw.split())
        else:
            entries.append(raw.split())
    return entries


def format_master_cf(entries: list[list[str]]) -> str:
    lines = []
    for entry in entries:
        lines.append("  ".join(entry[:8]))
        args = entry[8:]
        i = 0
        while i < len(args):
            if args[i] == "-o" and i + 1 < len(args):
                lines.append(f"    -o {args[i + 1]}")
                i += 2
            else:
                lines.append(f"    {args[i]}")
                i += 1
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- ports

_ports_lock = threading.Lock()
_ports_given: set[int] = set()


def free_port() -> int:
    """A loopback TCP port that is free now and not handed out before in this process."""
    with _ports_lock:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _ports_given:
                _ports_given.add(port)
                return port
    raise RuntimeError("no free port found")


def listening(port: int) -> bool:
    """Whether a TCP socket listens on ``port`` (read from /proc: no probe connection,
    which would only add "lost connection after CONNECT" noise to the logs under test)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except FileNotFoundError:
            continue
    return False


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not listening(port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on port {port} after {timeout}s")
        time.sleep(0.05)


def wait_unix_socket(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(path))
                return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {path} after {timeout}s")
        time.sleep(0.05)


# --------------------------------------------------------------------------- instance


@dataclass
class Delivery:
    """One delivered message: its bytes as stored, and where."""

    data: bytes
    path: Path
    envelope: dict[str, list[str]] = field(default_factory=dict)  # smtp-sink only


_instance_counter = 0
_counter_lock = threading.Lock()


class PostfixInstance:
    """One Postfix, its own dirs and ports, configured from docs/postfix.md for ``mode``.

    Ports (all on 127.0.0.1): ``smtp_port`` for test clients (the public smtpd),
    ``filter_port`` where the filter under test must listen (the docs' 10025) and
    ``reinject_port`` where Postfix takes the filtered mail back (the docs' 10026).
    ``main_extra`` / ``master_extra`` add or override main.cf parameters and append
    master.cf text after the documented configuration.
    """

    def __init__(
        self,
        base_dir: Path | str,
        mode: str = "after-queue",
        *,
        filter_port: int | None = None,
        delivery: str = "maildir",
        domains: tuple[str, ...] = ("example.org",),
        main_extra: dict[str, str] | None = None,
        master_extra: str = "",
        docs: Path = DOCS,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if delivery not in ("maildir", "sink"):
            raise ValueError("delivery must be 'maildir' or 'sink'")
        global _instance_counter
        with _counter_lock:
            _instance_counter += 1
            self.name = f"pf{os.getpid()}-{_instance_counter}"
        self.mode = mode
        self.delivery = delivery
        self.domains = domains
        self.docs = docs
        self.main_extra = dict(main_extra or {})
        self.master_extra = master_extra
        # Postfix's users (postfix, nobody) must traverse every parent of these dirs:
        # a folder of our own under /tmp, not pytest's tmp_path (under a 0700 dir).
        Path(base_dir).mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=base_dir)).resolve()
        _make_traversable(self.dir)
        self.config_dir = self.dir / "config"
        self.queue_dir = self.dir / "queue"
        self.data_dir = self.dir / "data"
        self.maildir_base = self.dir / "mail"
        self.maildir = self.maildir_base / "box"
        self.sink_dir = self.dir / "sink"
        self.maillog = self.dir / "maillog"
        self.smtp_port = free_port()
        self.filter_port = filter_port if filter_port is not None else free_port()
        self.filter_socket = self.dir / "milter.sock"
        self.reinject_port = free_port()
        self.sink_port = free_port() if delivery == "sink" else None
        self._sink: subprocess.Popen | None = None
        self.running = False
        self.write_config()

    # ----------------------------------------------------------------- config

    def main_cf_params(self) -> dict[str, str]:
        p: dict[str, str] = {
            "compatibility_level": "3.6",
            "config_directory": str(self.config_dir),
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "syslog_name": f"postfix-{self.name}",
            "maillog_file": str(self.maillog),
            "maillog_file_prefixes": f"/var, /dev/stdout, {self.dir}",
            "myhostname": "mx.example.org",
            "mydomain": "example.org",
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "relayhost": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "append_dot_mydomain": "no",
            "biff": "no",
            # No DNS anywhere: the tests have no network but loopback.
            "smtp_dns_support_level": "disabled",
            "lmtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "smtpd_peername_lookup": "no",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
            # Short timers: retries happen within seconds, and `flush()` forces one.
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "5s",
            "smtp_connect_timeout": "5s",
            "delay_warning_time": "0h",
            # No postmaster notices: they would be extra mail in the queue under test.
            "notify_classes": "",
            "message_size_limit": str(50 * 1024 * 1024),
            "smtputf8_enable": "yes",
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8",
        }
        if self.delivery == "maildir":
            p |= {
                "virtual_mailbox_domains": ", ".join(self.domains),
                "virtual_mailbox_base": str(self.maildir_base),
                "virtual_mailbox_maps": "static:box/",
                "virtual_uid_maps": f"static:{NOBODY}",
                "virtual_gid_maps": f"static:{NOBODY}",
                "virtual_minimum_uid": str(NOBODY),
                "virtual_mailbox_limit": "0",
            }
        else:
            p |= {
                "relay_domains": ", ".join(self.domains),
                "transport_maps": f"static:smtp:[127.0.0.1]:{self.sink_port}",
            }
        snippet = doc_snippets(self.docs).get(("main.cf", self.mode))
        if snippet is not None:
            p |= {k: self._ports(v) for k, v in parse_main_cf(snippet).items()}
        p |= self.main_extra
        return p

    def master_cf_entries(self) -> list[list[str]]:
        snippet = doc_snippets(self.docs).get(("master.cf", self.mode))
        if snippet is None:
            raise ValueError(f"{self.docs}: no ```postfix master.cf {self.mode} snippet")
        documented = [[self._ports(f) for f in e] for e in parse_master_cf(snippet)]
        base = parse_master_cf(DEBIAN_MASTER_CF.read_text())
        replaced = {(e[0], e[1]) for e in documented}
        entries = [e for e in base if (e[0], e[1]) not in replaced] + documented
        listener = f"127.0.0.1:{self.smtp_port}"
        for entry in entries:
            entry[4] = "n"  # chroot off: nothing is set up inside a chroot here
            if entry[0] == "smtp" and entry[1] == "inet":
                # The public smtpd listens on a free loopback port instead of 25.
                entry[0] = listener
        return entries

    def _ports(self, text: str) -> str:
        text = text.replace(DOC_FILTER_SOCKET, f"unix:{self.filter_socket}")
        text = re.sub(rf"(?<!\d){DOC_FILTER_PORT}(?!\d)", str(self.filter_port), text)
        return re.sub(rf"(?<!\d){DOC_REINJECT_PORT}(?!\d)", str(self.reinject_port), text)

    def write_config(self) -> None:
        self.config_dir.mkdir(exist_ok=True)
        main = "".join(f"{k} = {v}\n" for k, v in self.main_cf_params().items())
        (self.config_dir / "main.cf").write_text(main)
        master = format_master_cf(self.master_cf_entries())
        if self.master_extra:
            master += self.master_extra.rstrip("\n") + "\n"
        (self.config_dir / "master.cf").write_text(master)
        for d in (self.queue_dir, self.data_dir):
            d.mkdir(exist_ok=True)
        # The data directory belongs to the mail owner (postfix(1) checks it).
        shutil.chown(self.data_dir, "postfix", "postfix")
        if self.delivery == "maildir":
            self.maildir_base.mkdir(exist_ok=True)
            os.chown(self.maildir_base, NOBODY, NOBODY)
        else:
            self.sink_dir.mkdir(exist_ok=True)
            shutil.chown(self.sink_dir, "postfix", "postfix")

    # ----------------------------------------------------------------- control

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
        env["MAIL_CONFIG"] = str(self.config_dir)
        return env

    def _run(self, *args: str, timeout: float = 60, check: bool = True) -> str:
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            env=self._env(),
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise PostfixError(
                f"{' '.join(args)} exited {result.returncode}: "
                f"{result.stdout.strip()} {result.stderr.strip()}\n--- maillog:\n{self.log()}"
            )
        return result.stdout

    def postconf(self, *args: str) -> str:
        return self._run("postconf", "-c", str(self.config_dir), *args)

    def start(self, timeout: float = 20.0) -> PostfixInstance:
        if self.delivery == "sink" and self._sink is None:
            self._start_sink()
        self._run(str(POSTFIX), "-c", str(self.config_dir), "start")
        self.running = True
        try:
            wait_port(self.smtp_port, timeout)
            wait_port(self.reinject_port, timeout)  # milter modes: the release port
        except TimeoutError as exc:
            raise PostfixError(f"{exc}\n--- maillog:\n{self.log()}") from None
        return self

    def _start_sink(self) -> None:
        assert self.sink_port is not None
        self._sink = subprocess.Popen(
            [
                str(SMTP_SINK),
                "-u",
                "postfix",
                "-d",
                f"{self.sink_dir}/%Y%m%d%H%M%S.",
                f"127.0.0.1:{self.sink_port}",
                "100",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.sink_port)

    def stop(self) -> None:
        """Stop Postfix and the sink; kill whatever master or child is left behind."""
        if self.running:
            self._run(str(POSTFIX), "-c", str(self.config_dir), "stop", check=False, timeout=30)
            self.running = False
        pid_file = self.queue_dir / "pid" / "master.pid"
        pid = _read_pid(pid_file)
        if pid:
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                _kill_group(pid)
        if self._sink is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._sink.pid, signal.SIGTERM)
            try:
                self._sink.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._sink.pid, signal.SIGKILL)
                self._sink.wait(5)
            self._sink = None

    def reload(self) -> None:
        self.write_config()
        self._run(str(POSTFIX), "-c", str(self.config_dir), "reload")

    def flush(self) -> None:
        """Retry every deferred message now (``postqueue -f``)."""
        self._run(str(POSTQUEUE), "-c", str(self.config_dir), "-f")

    def queue(self) -> list[str]:
        """Queue ids of the messages still in Postfix's queues (incoming, active, deferred,
        hold, maildrop), read from the queue directories (works while Postfix is stopped)."""
        ids: list[str] = []
        for sub in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt"):
            root = self.queue_dir / sub
            if root.is_dir():
                ids.extend(p.name for p in root.rglob("*") if p.is_file())
        return sorted(ids)

    def queue_listing(self) -> str:
        """``postqueue -p``: each queued message with its sender, recipients and the
        reason for the last deferral."""
        return self._run(str(POSTQUEUE), "-c", str(self.config_dir), "-p", check=False)

    def log(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern: str, timeout: float = 10.0, count: int = 1) -> list[str]:
        """Wait until ``count`` log lines match the regex ``pattern``; return them."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in self.log().splitlines() if regex.search(line)]
            if len(lines) >= count:
                return lines
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(lines)} of {count} log lines match {pattern!r} after {timeout}s"
                    f"\n--- maillog:\n{self.log()}"
                )
            time.sleep(0.1)

    def wait_queue_empty(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.queue():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"queue not empty after {timeout}s:\n{self.queue_listing()}"
                    f"\n--- maillog:\n{self.log()}"
                )
            time.sleep(0.1)

    # ----------------------------------------------------------------- deliveries

    def deliveries(self) -> list[Delivery]:
        """Every delivered message, oldest first."""
        if self.delivery == "maildir":
            files = []
            for sub in ("new", "cur"):
                d = self.maildir / sub
                if d.is_dir():
                    files.extend(p for p in d.iterdir() if p.is_file())
            files.sort(key=lambda p: (p.stat().st_mtime_ns, p.name))
            return [Delivery(p.read_bytes(), p) for p in files]
        found = []
        if self.sink_dir.is_dir():
            files = sorted(
                (p for p in self.sink_dir.rglob("*") if p.is_file()),
                key=lambda p: (p.stat().st_mtime_ns, p.name),
            )
            for p in files:
                found.append(_parse_sink_dump(p))
        return found

    def delivered(self) -> list[bytes]:
        return [d.data for d in self.deliveries()]

    def wait_delivered(self, n: int = 1, timeout: float = 15.0) -> list[bytes]:
        """Wait until at least ``n`` messages are delivered; return all delivered so far."""
        deadline = time.monotonic() + timeout
        while True:
            if self.delivery == "sink":
                # A dump file exists while the message is still arriving: count only
                # deliveries that Postfix logged as done.
                done = len(
                    [
                        line
                        for line in self.log().splitlines()
                        if "status=sent" in line and f":{self.sink_port}," in line
                    ]
                )
                got = self.delivered() if done >= n else []
            else:
                got = self.delivered()
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(got)} of {n} messages delivered after {timeout}s\n"
                    f"--- queue:\n{self.queue_listing()}\n--- maillog:\n{self.log()}"
                )
            time.sleep(0.1)

    def __enter__(self) -> PostfixInstance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"<PostfixInstance {self.name} {self.mode} smtp={self.smtp_port} "
            f"filter={self.filter_port} reinject={self.reinject_port} dir={self.dir}>"
        )


def _parse_sink_dump(path: Path) -> Delivery:
    """smtp-sink -d file: its X-* envelope lines, a 3-line Received header, the message."""
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    envelope: dict[str, list[str]] = {}
    i = 0
    while i < len(lines) and re.match(rb"X-[A-Za-z-]+: ", lines[i]):
        key, _, value = lines[i].decode("utf-8", "replace").partition(": ")
        envelope.setdefault(key, []).append(value)
        i += 1
    if i < len(lines) and lines[i].startswith(b"Received: "):
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    body = b"\n".join(lines[i:])
    if body.endswith(b"\n\n"):
        body = body[:-1]  # smtp-sink appends an empty line after each message
    return Delivery(body, path, envelope)


def _make_traversable(path: Path) -> None:
    path.chmod(0o755)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(pid: int) -> None:
    """Kill Postfix's master and its children (master runs in a session of its own)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            group = os.getpgid(pid)
            if group == os.getpgrp():  # never signal our own process group
                os.kill(pid, sig)
            else:
                os.killpg(group, sig)
        deadline = time.monotonic() + 3
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _alive(pid):
            return


def to_lf(data: bytes) -> bytes:
    """Mail stored on disk has LF line ends; SMTP has CRLF."""
    return data.replace(b"\r\n", b"\n")

"""``scam-milter serve``: wire the parts together and run until told to stop.

Signals: SIGHUP reloads the config file and rules (a broken file keeps the old ones and
logs why; sessions are not touched); SIGTERM and SIGINT stop accepting, let sessions in
flight finish within ``smtp.drain_timeout``, then exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ipaddress
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from milter import hostport
from milter.auth.authenticator import Authenticator
from milter.config import Config, describe_listen, load_config, relay_settings
from milter.errors import ConfigError, ScamMilterError
from milter.ocr.reader import open_reader
from milter.quarantine.store import QuarantineStore
from milter.scan.scanner import Scanner
from milter.service import metrics
from milter.service.milter_front import MilterFront, MilterSettings
from milter.service.proxy import Proxy, ProxySettings
from milter.service.sockets import check_listen, listening_socket, remove_socket_file
from milter.smtp.front import FrontSettings, start_front
from milter.smtp.relay import Relay

log = logging.getLogger("scam_milter")


@dataclass(frozen=True)
class Overrides:
    """Command-line flags: they win over the config file, on start and on every reload."""

    listen: tuple[str, int] | Path | None = None
    next_hop: tuple[str, int] | None = None
    quarantine_dir: Path | None = None
    mode: object | None = None
    protocol: str | None = None
    dns_servers: tuple[tuple[str, int], ...] | None = None
    metrics: tuple[str, int] | None = None

    def apply(self, config: Config) -> Config:
        changes = {k: v for k, v in vars(self).items() if v is not None}
        servers = changes.pop("dns_servers", None)
        if servers is not None:
            dns = replace(config.auth.dns, servers=servers)
            changes["auth"] = replace(config.auth, dns=dns)
        return replace(config, **changes)


class ScannerHolder:
    """The current scanner; a reload replaces it whole, between messages."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner

    def __call__(self) -> Scanner:
        return self.scanner


def setup_logging() -> None:
    """Plain lines on stderr (journald adds time and unit); verdicts are one JSON object."""
    root = logging.getLogger("scam_milter")
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    setup_verdict_log("stderr")


def setup_verdict_log(target: str) -> None:
    """Send the verdict lines to ``target``: "stderr", "stdout" or a file path.

    Raises ConfigError when the file cannot be opened, so a bad path is one line at start.
    """
    handler: logging.Handler
    if target == "stderr":
        handler = logging.StreamHandler(sys.stderr)
    elif target == "stdout":
        handler = logging.StreamHandler(sys.stdout)
    else:
        handler = VerdictLogFile(Path(target))
    handler.setFormatter(logging.Formatter("%(message)s"))
    verdicts = logging.getLogger("scam_milter.verdict")
    for old in list(verdicts.handlers):
        verdicts.removeHandler(old)
        old.close()
    verdicts.addHandler(handler)
    verdicts.propagate = False


def reopen_verdict_log() -> None:
    """After logrotate moved the verdict log away (SIGHUP): write to a new file."""
    for handler in logging.getLogger("scam_milter.verdict").handlers:
        if isinstance(handler, VerdictLogFile):
            handler.reopen()


class VerdictLogFile(logging.Handler):
    """Verdict lines appended to a file, one write(2) per line.

    O_APPEND and one write per line: the workers of one service share the file and
    their lines never interleave. logrotate renames the file and sends SIGHUP
    (postrotate); ``reopen`` then starts a new file under the configured name. A line
    the file cannot take (disk full) goes to stderr instead: a verdict is never lost
    to a log.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._fd = self._open()
        # A write stopped inside a line that could not be taken back: the next one ends
        # it first, so the lines after it still parse.
        self._torn = False
        self._failing = False

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOCTTY
        try:
            # 0640: the verdict lines name senders and recipients; an adm group may read.
            return os.open(self.path, flags, 0o640)
        except OSError as exc:
            raise ConfigError(
                f"cannot open verdict log {self.path}: {exc.strerror or exc}"
            ) from exc

    def reopen(self) -> None:
        try:
            fd = self._open()
        except ConfigError as exc:
            # Keep writing to the old file: a line in a rotated file beats a lost line.
            log.error("%s; verdicts still go to the previous file", exc)
            return
        self.acquire()
        try:
            old, self._fd = self._fd, fd
        finally:
            self.release()
        os.close(old)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # backslashreplace: an address with undecodable bytes must not cost the line.
            line = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
        except Exception:
            self.handleError(record)
            return
        data = b"\n" + line if self._torn else line
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            written = len(data) - len(view)
            if written and not self._cut(written):
                self._torn = data[written - 1] != ord("\n")
            self._write_failed(exc, line)
            return
        self._torn = False
        if self._failing:
            self._failing = False
            log.info("verdict log %s is written again", self.path)

    def _cut(self, written: int) -> bool:
        """Take back the start of a line the disk cut short: a fragment would join the
        next line, ours or another worker's, into one that does not parse."""
        try:
            end = os.lseek(self._fd, 0, os.SEEK_CUR)  # O_APPEND: just after our bytes
            # Only while they are still the end of the file: a full disk leaves little
            # room for another worker to have appended since.
            if os.fstat(self._fd).st_size != end:
                return False
            os.ftruncate(self._fd, end - written)
        except OSError:
            return False
        return True

    def _write_failed(self, exc: OSError, line: bytes) -> None:
        # A full or broken disk must cost neither the message nor a traceback per line:
        # one error when it starts, and the verdicts go to stderr (the journal) meanwhile.
        if not self._failing:
            self._failing = True
            log.error(
                "cannot write verdict log %s: %s; verdict lines go to stderr until it can",
                self.path,
                exc.strerror or exc,
            )
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.buffer.write(line)
            sys.stderr.flush()

    def close(self) -> None:
        self.acquire()
        try:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        finally:
            self.release()
        super().close()


async def purge_daily(
    store: QuarantineStore,
    retention: timedelta,
    *,
    first_delay: float = 300.0,
    interval: float = 86400.0,
) -> None:
    """Expire quarantined mail older than ``retention``: soon after start, then daily.

    The first run waits a little so a restart loop does not purge at every start; the
    work runs in a thread (file and index I/O) while the loop keeps serving.
    """
    delay = first_delay
    while True:
        await asyncio.sleep(delay)
        delay = interval
        try:
            await asyncio.to_thread(store.purge, retention)
        except ScamMilterError as exc:
            log.error("quarantine purge failed (next try in a day): %s", exc)
        except Exception:
            # A bug must not end the daily purge for good, nor the server.
            log.exception("quarantine purge crashed (next try in a day)")


def notify_systemd(state: str) -> None:
    """sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET, if set."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode("ascii"))
    except OSError as exc:
        log.warning("cannot notify systemd (%s): %s", state, exc)


def front_settings(config: Config) -> FrontSettings:
    return FrontSettings(
        hostname=config.hostname,
        max_message_size=config.smtp.max_message_size,
        xforward_networks=tuple(
            ipaddress.ip_network(n, strict=False) for n in config.smtp.xforward_networks
        ),
        command_timeout=config.smtp.command_timeout,
        data_timeout=config.smtp.data_timeout,
        max_connections=config.smtp.max_connections,
        big_message_size=config.smtp.big_message_size,
        big_messages_at_once=config.smtp.big_messages_at_once,
        # The quarantine's own tmp/ (0700, made by the store): on the state disk, where
        # a nameless spool file costs no memory (/tmp may be a tmpfs).
        spool_dir=config.quarantine_dir / "tmp",
    )


def proxy_settings(config: Config) -> ProxySettings:
    return ProxySettings(
        mode=config.mode,
        headers=config.headers,
        subject_prefix=config.subject_prefix,
        authserv_id=config.authserv_id(),
        tempfail_on_dns_failure=config.auth.on_dns_failure == "tempfail",
        limits=config.message_limits,
        ledger=config.ledger,
    )


def milter_settings(config: Config) -> MilterSettings:
    return MilterSettings(
        headers=config.headers,
        subject_prefix=config.subject_prefix,
        authserv_id=config.authserv_id(),
        tempfail_on_dns_failure=config.auth.on_dns_failure == "tempfail",
        limits=config.message_limits,
        max_message_size=config.smtp.max_message_size,
        max_connections=config.smtp.max_connections,
        idle_timeout=config.smtp.command_timeout,
        submission=config.milter_submission,
    )


def authenticator(config: Config) -> Authenticator | None:
    return Authenticator(config.auth) if config.auth.enabled else None


def _prepare_quarantine_dir(config: Config) -> None:
    if config.quarantine_dir == Config().quarantine_dir:
        # The shipped default lives in /var/lib/scam-milter, which systemd's
        # StateDirectory makes; a plain `pip install . && scam-milter serve` has none.
        try:
            config.quarantine_dir.parent.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create {config.quarantine_dir.parent}: {exc.strerror or exc}"
            ) from exc


class Server:
    """One event loop serving SMTP: the whole proxy, or one worker of several."""

    def __init__(
        self,
        config: Config,
        config_path: Path | None,
        overrides: Overrides,
        *,
        sock: socket.socket | None = None,
        ready: Callable[[], None] = lambda: notify_systemd("READY=1"),
        housekeeping: bool = True,
        metrics_sock: socket.socket | None = None,
    ) -> None:
        self.sock = sock
        # Where this process answers GET /metrics (serve's own, or worker 0's): None if
        # metrics are off or another worker answers.
        self.metrics_sock = metrics_sock
        self.ready = ready
        # The daily quarantine purge: in one worker only, not once per worker.
        self.housekeeping = housekeeping
        self.config = config
        self.config_path = config_path
        self.overrides = overrides
        self.scanner = ScannerHolder(Scanner.from_rule_paths(config.rule_paths, config.scan))
        _prepare_quarantine_dir(config)
        self.store = QuarantineStore(config.quarantine_dir)
        self.relay = Relay(relay_settings(config))
        ocr, _status = open_reader(config.ocr)  # serve() said once whether it runs
        # Every process records (serve() named the metrics directory before forking).
        self.metrics = metrics.Metrics(enabled=config.metrics is not None)
        self.proxy = Proxy(
            self.scanner,
            self.relay,
            self.store,
            proxy_settings(config),
            authenticator(config),
            ocr,
            self.metrics,
        )
        self.milter = (
            MilterFront(self.proxy.judge, self.store, milter_settings(config))
            if config.protocol == "milter"
            else None
        )
        self.stopping = asyncio.Event()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        # Before the first session can arrive: from then on SIGTERM means drain.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload()))
        # Blocked while starting (serve, Supervisor.spawn): one that came meanwhile is
        # delivered now, and reloads.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        if self.milter is not None:
            return await self._run_milter()
        check_listen(self.config)
        assert not isinstance(self.config.listen, Path)
        host, port = self.config.listen
        try:
            front = await start_front(
                self.proxy, front_settings(self.config), host, port, sock=self.sock
            )
        except OSError as exc:
            reason = exc.strerror or str(exc).rpartition(": ")[2]
            raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from exc
        log.info(
            "listening on %s:%d (%s), next hop %s:%d, %d rules, quarantine %s",
            host,
            front.port,
            self.config.mode.value,
            *self.config.next_hop,
            len(self.scanner().rules),
            self.config.quarantine_dir,
        )
        await self._until_stopped(lambda: f"{front.active_sessions} session(s)")
        await front.stop_accepting()
        await front.drain(self.config.smtp.drain_timeout)
        await self.relay.close()
        self.proxy.close()
        self.store.close()
        log.info("stopped")
        return 0

    async def _until_stopped(self, in_flight: Callable[[], str]) -> None:
        """Both front doors, once listening: the daily purge, ready, then wait for
        SIGTERM; the purge is stopped before the front drains."""
        retention = self.config.quarantine.retention
        purger = None
        if retention is not None and self.housekeeping:
            purger = asyncio.get_running_loop().create_task(purge_daily(self.store, retention))
        scrapes = None
        if self.metrics_sock is not None:
            store = self.store
            scrapes = await metrics.start_http(self.metrics_sock, lambda: metrics.exposition(store))
        self.ready()
        await self.stopping.wait()
        notify_systemd("STOPPING=1")
        log.info("stopping: no new connections, %s in flight", in_flight())
        if purger is not None:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
        if scrapes is not None:
            scrapes.close()

    async def _run_milter(self) -> int:
        """``run`` for the milter front door: no next hop, Postfix keeps the message."""
        assert self.milter is not None
        # One process alone makes its own socket (TCP or unix); workers share theirs.
        own = self.sock is None
        sock = listening_socket(self.config) if own else self.sock
        assert sock is not None
        try:
            port = await self.milter.start(sock=sock)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {describe_listen(self.config.listen)}: {exc.strerror or exc}"
            ) from exc
        where = describe_listen(self.config.listen)
        if not isinstance(self.config.listen, Path) and self.config.listen[1] == 0:
            where = f"{self.config.listen[0]}:{port}"
        log.info(
            "listening on %s (milter), %d rules, quarantine %s",
            where,
            len(self.scanner().rules),
            self.config.quarantine_dir,
        )
        milter = self.milter
        await self._until_stopped(lambda: f"{milter.connections} connection(s)")
        await self.milter.stop(self.config.smtp.drain_timeout)
        if own:
            remove_socket_file(self.config)
        self.proxy.close()
        self.store.close()
        log.info("stopped")
        return 0

    async def reload(self) -> None:
        """Re-read config and rules; anything broken keeps the running ones."""
        notify_systemd("RELOADING=1")
        # First, whatever the config says: logrotate's postrotate sends this SIGHUP.
        reopen_verdict_log()
        try:
            config = self.overrides.apply(load_config(self.config_path))
            scanner = await asyncio.to_thread(
                Scanner.from_rule_paths, config.rule_paths, config.scan
            )
        except ScamMilterError as exc:
            log.error("reload failed, keeping the running config and rules: %s", exc)
            notify_systemd("READY=1")
            return
        for key in (
            "listen",
            "next_hop",
            "quarantine_dir",
            "smtp",
            "relay",
            "mode",
            "quarantine",
            "verdict_log",
            "ocr",  # the engines and the cache live in the scan threads
            "protocol",
            "metrics",
        ):
            if getattr(config, key) != getattr(self.config, key):
                log.warning("reload: %s changed; it takes effect on restart", key)
        self.scanner.scanner = scanner
        self.proxy.settings = replace(proxy_settings(config), mode=self.config.mode)
        if self.milter is not None:
            self.milter.settings = milter_settings(config)
        if config.auth != self.config.auth:
            # A new DNS client starts with an empty cache: only when the settings changed.
            self.proxy.authenticator = authenticator(config)
        self.config = replace(
            self.config,
            rule_paths=config.rule_paths,
            scan=config.scan,
            headers=config.headers,
            auth=config.auth,
            hostname=config.hostname,
        )
        log.info("reloaded: %d rules", len(scanner.rules))
        notify_systemd("READY=1")


def serve(config_path: Path | None, overrides: Overrides) -> int:
    """Run the proxy until SIGTERM; raises ScamMilterError for a bad start."""
    setup_logging()
    # A reload asked for while we start (rules still loading, no handler yet) waits
    # until Server.run can do it, instead of SIGHUP's default action: exit.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    config = overrides.apply(load_config(config_path))
    check_listen(config)
    # Bound now: a port in use is one line before anything else is logged.
    metrics_sock = metrics.listening_socket(config.metrics) if config.metrics else None
    metrics_dir = None
    try:
        setup_verdict_log(config.verdict_log)
        _, ocr = open_reader(config.ocr)  # a cache directory that is not ours: one line
        if ocr.available:
            log.info("%s, up to %d images a message", ocr.text, config.ocr.max_images)
        else:
            log.warning("%s: the text of image letters is not read", ocr.text)
        if config.metrics is not None:
            metrics_dir = metrics.prepare_directory()
            where = hostport.host_port_text(*config.metrics)
            log.info("metrics at http://%s/metrics (all workers)", where)
        if config.smtp.worker_count() > 1:
            return Supervisor(config, config_path, overrides, metrics_sock).run()

        async def main() -> int:
            server = Server(config, config_path, overrides, metrics_sock=metrics_sock)
            return await server.run()

        return _run_loop(main())
    finally:
        # Only the process that made it gets here: a worker ends in os._exit.
        if metrics_sock is not None:
            metrics_sock.close()
        if metrics_dir is not None:
            metrics.remove_directory(metrics_dir)


def _run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main`` on uvloop when it is installed (libuv's loop: measurably faster for
    many short SMTP sessions), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _stop_with_parent(parent: int) -> None:
    """Ask Linux to send us SIGTERM when the supervisor dies, however it dies: orphaned
    workers would keep the port and stop a restarted service from listening."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _death(status: int) -> str:
    """How a child ended, from its wait status, in words."""
    code = os.waitstatus_to_exitcode(status)
    if code >= 0:
        return f"exited with status {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:  # a real-time signal has no name
        return f"was killed by signal {-code}"


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Supervisor:
    """Pre-forked workers sharing one listening socket, as classic Unix servers do.

    Scanning is CPU-bound Python, so one process uses one core; with ``smtp.workers``
    processes the proxy uses several. The parent validates everything first (rules,
    quarantine, the address to listen on), so a bad start is still one line; then it
    only forwards signals to the workers and replaces a worker that dies.
    """

    def __init__(
        self,
        config: Config,
        config_path: Path | None,
        overrides: Overrides,
        metrics_sock: socket.socket | None = None,
    ) -> None:
        self.config = config
        self.metrics_sock = metrics_sock  # worker 0 answers /metrics on it
        self.config_path = config_path
        self.overrides = overrides
        self.workers: dict[int, int] = {}  # pid -> worker number
        self.stopping = False
        self.sock: socket.socket | None = None

    def run(self) -> int:
        # Fail here, once, rather than in every worker.
        Scanner.from_rule_paths(self.config.rule_paths, self.config.scan)
        _prepare_quarantine_dir(self.config)
        QuarantineStore(self.config.quarantine_dir).close()
        sock = listening_socket(self.config)
        where = describe_listen(self.config.listen)
        self.sock = sock
        # Handlers before the first worker: once "listening" is logged (or READY=1 sent),
        # a SIGTERM must drain the workers, not kill this process with the default action.
        signal.signal(signal.SIGTERM, self.forward_stop)
        signal.signal(signal.SIGINT, self.forward_stop)
        signal.signal(signal.SIGHUP, self.forward)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        count = self.config.smtp.worker_count()
        pending = [self.spawn(number, sock) for number in range(count)]
        listening = 0
        for ready in (fd for fd in pending if fd is not None):
            with os.fdopen(ready, "rb") as pipe:
                # A byte when that worker listens; EOF if it died first (it is replaced
                # below, and says why in its own log line).
                listening += len(pipe.read(1))
        if listening == count:
            log.info("%d workers listening on %s", listening, where)
        else:
            log.error(
                "%d of %d workers listening on %s; the others are being restarted",
                listening,
                count,
                where,
            )
        notify_systemd("READY=1")
        while self.workers:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            number = self.workers.pop(pid, None)
            if self.metrics_sock is not None:
                metrics.mark_dead(pid)
            if number is None or self.stopping:
                continue
            log.error("worker %d (pid %d) %s; starting another", number, pid, _death(status))
            time.sleep(1)  # a worker that dies at once must not spin the CPU
            ready = self.spawn(number, sock)  # None after a SIGTERM during the pause
            if ready is not None:
                os.close(ready)
        sock.close()
        remove_socket_file(self.config)
        log.info("stopped")
        return 0

    def spawn(self, number: int, sock: socket.socket) -> int | None:
        """Fork worker ``number``; returns the read end of its readiness pipe, or None
        when the service is stopping (the socket is closed then)."""
        # Blocked across fork: a signal reaching the child before it drops the parent's
        # handlers would otherwise run forward_stop there, on a copy of our worker list.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED_SIGNALS)
        if self.stopping:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            return None
        ready_read, ready_write = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid:
            # Listed before a pending SIGTERM is let in: forward_stop must reach it too,
            # or the supervisor would wait for it forever.
            self.workers[pid] = number
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            os.close(ready_write)
            return ready_read
        os.close(ready_read)
        for sig in FORWARDED_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        # SIGHUP stays blocked until the worker's loop handles it (Server.run): one
        # forwarded while this worker loads its rules must not end it.
        signal.pthread_sigmask(signal.SIG_SETMASK, {*previous, signal.SIGHUP})
        _stop_with_parent(parent)
        code = 1
        try:
            code = _run_loop(self.worker(sock, ready_write, number))
        except ScamMilterError as exc:
            log.error("worker %d cannot start: %s", number, exc)
        except BaseException:
            log.exception("worker %d crashed", number)
        finally:
            os._exit(code)

    async def worker(self, sock: socket.socket, ready_write: int, number: int = 0) -> int:
        def ready() -> None:
            # A replacement worker's pipe has no reader: nobody waits for it.
            with contextlib.suppress(OSError):
                os.write(ready_write, b"1")
            os.close(ready_write)

        metrics_sock = self.metrics_sock
        if metrics_sock is not None and number != 0:
            metrics_sock.close()  # worker 0 answers the scrapes
            metrics_sock = None
        server = Server(
            self.config,
            self.config_path,
            self.overrides,
            sock=sock,
            ready=ready,
            housekeeping=number == 0,
            metrics_sock=metrics_sock,
        )
        return await server.run()

    def forward(self, signum: int, _frame: object) -> None:
        if signum == signal.SIGHUP:
            reopen_verdict_log()  # the parent holds the file open too (opened before fork)
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def forward_stop(self, signum: int, frame: object) -> None:
        if not self.stopping:
            notify_systemd("STOPPING=1")
            # Our copy of the listening socket must go too, or the kernel would keep
            # queueing new connections that no worker will ever accept.
            if self.sock is not None:
                self.sock.close()
        self.stopping = True
        self.forward(signal.SIGTERM, frame)

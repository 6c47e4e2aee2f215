"""The listening socket of `serve`: TCP on HOST:PORT, or a unix socket for the milter.

Made once by the process that owns the address (the supervisor, or the one process
when there are no workers) and shared with the workers, as classic Unix servers do.
A unix socket gets the mode and group the config names, so that Postfix's smtpd (user
postfix) can connect and nobody else need be able to (docs/postfix.md, "Milter mode").
"""

from __future__ import annotations

import contextlib
import grp
import os
import socket
import stat
from pathlib import Path

from milter.config import Config, describe_listen
from milter.errors import ConfigError
from milter.hostport import host_port_text

__all__ = ["check_listen", "listening_socket", "remove_socket_file", "tcp_socket"]

BACKLOG = 1024


def check_listen(config: Config) -> None:
    """A unix socket is for the milter: the proxy's peers are Postfix SMTP clients."""
    if isinstance(config.listen, Path) and config.protocol != "milter":
        raise ConfigError(
            f"listen: {describe_listen(config.listen)} is a unix socket, which only "
            "protocol: milter serves; the SMTP proxy listens on HOST:PORT"
        )


def listening_socket(config: Config) -> socket.socket:
    """The socket ``config.listen`` names, bound and listening; ConfigError otherwise."""
    check_listen(config)
    listen = config.listen
    where = describe_listen(listen)
    if not isinstance(listen, Path):
        return tcp_socket(listen)
    group = _group_id(config.milter_socket_group)
    _clear_stale(listen)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # Made with no access at all, then opened up to the mode asked: no moment
        # when another local user could connect.
        previous = os.umask(0o777)
        try:
            sock.bind(str(listen))
        finally:
            os.umask(previous)
        if group is not None:
            os.chown(listen, -1, group)
        os.chmod(listen, config.milter_socket_mode)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from exc
    return sock


def tcp_socket(
    address: tuple[str, int], *, backlog: int = BACKLOG, purpose: str = ""
) -> socket.socket:
    """A TCP socket bound to ``address`` (IPv4 or IPv6) and listening; ConfigError, one
    line naming the address (and ``purpose``: " for metrics"), when it cannot be."""
    try:
        return socket.create_server(address, backlog=backlog)
    except OSError as exc:
        where = host_port_text(*address)
        raise ConfigError(f"cannot listen{purpose} on {where}: {exc.strerror or exc}") from exc


def remove_socket_file(config: Config) -> None:
    """Take a unix socket's file away when the service stops (nothing for TCP)."""
    if isinstance(config.listen, Path):
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(config.listen.lstat().st_mode):
                config.listen.unlink()


def _group_id(name: str | None) -> int | None:
    if name is None:
        return None
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ConfigError(f"milter.socket_group: no group named {name!r}") from None


def _clear_stale(path: Path) -> None:
    """Remove the socket file a service that is gone left behind; refuse to take over
    one that still answers, or a path that is no socket at all."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigError(f"cannot listen on unix:{path}: {exc.strerror or exc}") from exc
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"cannot listen on unix:{path}: it exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except OSError:
        path.unlink(missing_ok=True)  # nobody listens there: left by a stopped service
        return
    finally:
        probe.close()
    raise ConfigError(f"cannot listen on unix:{path}: another process is listening there")

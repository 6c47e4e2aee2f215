"""``scam-milter web …``: serve the review page, and manage its accounts.

``web`` alone serves (milter/web, docs/web.md); ``web adduser|deluser|passwd NAME`` edit
the users file. Thin like the rest of the CLI: errors are AccountError, QuarantineError
or ConfigError, printed as one line by ``milter.cli.main.main`` (exit 2).
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import logging
from pathlib import Path
from typing import Any, TextIO

from milter.cli.exits import EXIT_OK
from milter.config import load_config, parse_host_port
from milter.web.accounts import DEFAULT_USERS_FILE, AccountError, Role, UsersFile

DEFAULT_LISTEN = "127.0.0.1:8025"


def add_web_commands(subparsers: Any) -> None:
    """Add ``web`` and ``web adduser|deluser|passwd`` to the top-level subparsers."""
    web = subparsers.add_parser("web", help="serve the quarantine review page")
    web.add_argument("--config", type=Path, metavar="FILE", help="config file (YAML)")
    web.add_argument(
        "--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT", help=f"default {DEFAULT_LISTEN}"
    )
    web.add_argument("--quarantine-dir", type=Path, metavar="DIR", help="default: the config's")
    _users_option(web, str(DEFAULT_USERS_FILE))
    web.add_argument(
        "--next-hop", metavar="HOST:PORT", help="where releases go (default: the config's)"
    )
    commands = web.add_subparsers(dest="web_command", parser_class=type(web))
    add = commands.add_parser("adduser", help="add a user (password from stdin or prompted)")
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default=Role.VIEWER.value,
        help="viewer reads; reviewer also releases and deletes (default viewer)",
    )
    _users_option(add, argparse.SUPPRESS)
    for name, text in (("deluser", "remove a user"), ("passwd", "change a user's password")):
        command = commands.add_parser(name, help=text)
        command.add_argument("name", metavar="NAME")
        _users_option(command, argparse.SUPPRESS)


def _users_option(parser: argparse.ArgumentParser, default: Any) -> None:
    # On `web` and on each subcommand (SUPPRESS there, so a value given before the
    # subcommand is not reset), as `quarantine` does with its options.
    parser.add_argument(
        "--users-file",
        type=Path,
        default=default,
        metavar="FILE",
        help=f"accounts (default {DEFAULT_USERS_FILE})",
    )


def read_password(stdin: TextIO, err: TextIO) -> str:
    """One line from ``stdin`` when it is not a terminal (scripts), else asked twice."""
    if not stdin.isatty():
        line = stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise AccountError("no password on stdin (one line expected).")
        return password
    first = getpass.getpass("Password: ", stream=err)
    second = getpass.getpass("Password again: ", stream=err)
    if first != second:
        raise AccountError("the two passwords differ; nothing changed.")
    return first


def run_web(args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    users = UsersFile(Path(args.users_file))
    command = args.web_command
    if command == "adduser":
        password = read_password(stdin, err)
        user = users.add(args.name, Role(args.role), password)
        out.write(f"added {user.name} ({user.role.value}) to {users.path}\n")
        return EXIT_OK
    if command == "deluser":
        users.remove(args.name)
        out.write(f"removed {args.name} from {users.path}\n")
        return EXIT_OK
    if command == "passwd":
        # An unknown name is said before the password is asked for.
        if args.name not in users.load():
            raise AccountError(f"no user {args.name[:64]!r} in {users.path}.")
        users.set_password(args.name, read_password(stdin, err))
        out.write(f"changed the password of {args.name}\n")
        return EXIT_OK
    return serve_web(args)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_web(args: argparse.Namespace) -> int:
    # Imported here: the account commands need none of the web stack.
    import uvicorn

    from milter.web.app import WebSettings, create_app

    config = load_config(args.config)
    host, port = parse_host_port(args.listen, "--listen")
    settings = WebSettings(
        quarantine_dir=args.quarantine_dir or config.quarantine_dir,
        users_file=Path(args.users_file),
        config=config,
        next_hop=parse_host_port(args.next_hop, "--next-hop") if args.next_hop else None,
    )
    app = create_app(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log = logging.getLogger("scam_milter.web")
    log.info("web: serving %s on http://%s:%d", settings.quarantine_dir, host, port)
    if not _loopback(host):
        # Passwords and held mail would cross the network in clear: TLS is the proxy's
        # job (docs/web.md), and the proxy is on this host.
        log.warning("web: listening on %s, not loopback: put it behind a TLS proxy", host)
    # proxy_headers: behind nginx on this host (docs/web.md), the client address and
    # the https scheme (for Secure cookies) come from its X-Forwarded-* headers; only
    # 127.0.0.1 is trusted to send them (uvicorn's default forwarded_allow_ips).
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")
    return EXIT_OK


__all__ = ["add_web_commands", "read_password", "run_web"]

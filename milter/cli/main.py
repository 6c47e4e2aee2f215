"""The ``scam-milter`` command: parse arguments, call the library, print the result.

Exit codes: 0 success; 1 a finding the command reports (lint errors); 2 bad usage or
unreadable input, with one line on stderr. Any other exception is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn, TextIO

from milter import __version__
from milter.auth.authenticator import Authenticator
from milter.auth.results import AuthResults
from milter.cli.exits import EXIT_FINDING, EXIT_OK, EXIT_USAGE
from milter.cli.quarantine import add_quarantine_commands, run_quarantine
from milter.cli.web import add_web_commands, run_web
from milter.config import (
    Config,
    Mode,
    dns_servers,
    load_config,
    parse_host_port,
    parse_listen,
    parse_mode,
)
from milter.errors import RuleError, ScamMilterError
from milter.mail.envelope import ClientInfo, Envelope
from milter.mail.images import ImagePart, ImageText
from milter.ocr.reader import open_reader
from milter.scan.identities.registry import IdentityRegistry
from milter.scan.rules.examples import check_examples
from milter.scan.rules.loader import load_rules_collecting
from milter.scan.scanner import Scanner
from milter.scan.verdict import Verdict


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One clear line, not argparse's usage dump.
        self.exit(EXIT_USAGE, f"scam-milter: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scam-milter", description="Hold sextortion and impersonation scams.")
    parser.add_argument("--version", action="version", version=f"scam-milter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help="scan messages and print the verdict")
    check.add_argument("inputs", nargs="+", metavar="FILE|DIR|-", help="messages to scan")
    check.add_argument("--json", action="store_true", help="one JSON object a line")
    check.add_argument("--config", type=Path, help="config file (YAML)")
    check.add_argument(
        "--rules",
        type=Path,
        action="append",
        metavar="PATH",
        help="rule file or directory (repeatable)",
    )
    check.add_argument("--mail-from", help="envelope sender, as the proxy would see it")
    check.add_argument(
        "--rcpt", action="append", default=[], help="envelope recipient (repeatable)"
    )
    check.add_argument("--client-ip", help="the connecting client's address")
    check.add_argument("--helo", help="the client's HELO name")
    check.add_argument(
        "--dns-server",
        action="append",
        metavar="HOST:PORT",
        help="name server for SPF, DKIM and DMARC (repeatable; default: config, else system)",
    )
    check.add_argument(
        "--offline",
        action="store_true",
        help="no DNS: report auth as unavailable, scan the content",
    )

    serve = commands.add_parser("serve", help="run the SMTP proxy in front of Postfix")
    serve.add_argument("--config", type=Path, help="config file (YAML)")
    serve.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="default 127.0.0.1:10025; unix:/path for a socket (--protocol milter)",
    )
    serve.add_argument("--next-hop", metavar="HOST:PORT", help="default 127.0.0.1:10026")
    serve.add_argument("--quarantine-dir", type=Path, metavar="DIR")
    serve.add_argument("--mode", choices=[m.value for m in Mode], help="default after-queue")
    serve.add_argument(
        "--protocol",
        choices=["smtp", "milter"],
        help="smtp: a proxy between two Postfix smtpd (default); milter: smtpd_milters",
    )
    serve.add_argument(
        "--dns-server", action="append", metavar="HOST:PORT", help="name server (repeatable)"
    )
    serve.add_argument(
        "--metrics", metavar="HOST:PORT", help="Prometheus /metrics here (default: off)"
    )

    add_quarantine_commands(commands)
    add_web_commands(commands)

    rules = commands.add_parser("rules", help="work with rule files")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, parser_class=_Parser)
    lint = rules_commands.add_parser("lint", help="validate rule files and run their examples")
    lint.add_argument(
        "paths", nargs="*", type=Path, metavar="PATH", help="default: the configured rules"
    )
    lint.add_argument("--config", type=Path, help="config file (YAML)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check":
            return run_check(args, sys.stdout, sys.stderr)
        if args.command == "serve":
            return run_serve(args)
        if args.command == "quarantine":
            return run_quarantine(args, sys.stdout, sys.stderr)
        if args.command == "web":
            return run_web(args, sys.stdin, sys.stdout, sys.stderr)
        return run_lint(args, sys.stdout, sys.stderr)
    except ScamMilterError as exc:
        print(f"scam-milter: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


# --- check ---------------------------------------------------------------------------


def _inputs(names: Sequence[str], errors: list[str]) -> Iterator[tuple[str, bytes]]:
    for name in names:
        if name == "-":
            yield "-", sys.stdin.buffer.read()
            continue
        path = Path(name)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(s.startswith(".") for s in p.relative_to(path).parts)
            )
        else:
            files = [path]
        for file in files:
            try:
                yield str(file), file.read_bytes()
            except OSError as exc:
                errors.append(f"cannot read {file}: {exc.strerror or exc}")


def run_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _config(args)
    paths = tuple(args.rules) if args.rules else config.rule_paths
    scanner = Scanner.from_rule_paths(paths, config.scan)
    authenticator = _check_authenticator(args, config)
    ocr, ocr_status = open_reader(config.ocr)
    envelope = Envelope(
        mail_from=args.mail_from,
        rcpt_to=tuple(args.rcpt),
        client=ClientInfo(addr=args.client_ip, helo=args.helo),
    )
    errors: list[str] = []
    reported = 0
    for name, raw in _inputs(args.inputs, errors):
        while reported < len(errors):
            print(f"scam-milter: error: {errors[reported]}", file=err)
            reported += 1
        # One parse for both, as in the proxy: the authentication reads its fields.
        view = scanner.view(raw, envelope)
        if ocr is not None:
            view = ocr.read_view(view)
        auth = None
        if authenticator is not None:
            auth = authenticator.authenticate(raw, envelope, fields=view.raw_headers)
        verdict = scanner.scan_view(view, auth)
        images = ImagesRead(ocr_status.text, view.images, view.image_texts)
        if args.json:
            line = verdict_json(name, verdict) | images.json()
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        else:
            out.write(verdict_text(name, verdict, images.lines()))
        out.flush()
    for message in errors[reported:]:
        print(f"scam-milter: error: {message}", file=err)
    return EXIT_USAGE if errors else EXIT_OK


def _check_authenticator(args: argparse.Namespace, config: Config) -> Authenticator | None:
    if args.offline or not config.auth.enabled:
        return None
    settings = config.auth
    if args.dns_server:
        servers = dns_servers(args.dns_server, "--dns-server")
        settings = replace(settings, dns=replace(settings.dns, servers=servers))
    return Authenticator(settings)


def verdict_json(name: str, verdict: Verdict) -> dict[str, object]:
    return {
        "file": name,
        "verdict": verdict.action.value,
        "score": verdict.score,
        "rules": [
            {"id": h.id, "score": h.score, "evidence": list(h.evidence)} for h in verdict.rules
        ],
        # Not checked (offline, or auth disabled): the same shape, every method
        # "unavailable", so scripts read one format.
        "auth": (
            verdict.auth
            if isinstance(verdict.auth, AuthResults)
            else AuthResults(spf=None, dkim=(), dmarc=None, note="not checked")
        ).to_json(),
        "notes": list(verdict.notes),
        # What the scan could not read (limits hit): empty when it read everything.
        "partial": list(verdict.partial),
    }


@dataclass(frozen=True)
class ImagesRead:
    """What ``check`` says of a message's images: read, and how much, or why not."""

    ocr: str  # the OcrStatus line: "ocr: available (Latin)" or "ocr: unavailable (...)"
    images: tuple[ImagePart, ...]
    texts: tuple[ImageText, ...]

    def lines(self) -> list[str]:
        """One line per image read; those not read are in the verdict's notes."""
        if not self.images:
            return []
        if not self.texts:
            return [f"  {self.ocr}: {len(self.images)} image(s) not read"]
        return [
            f"  image {t.name}: {len(t.text):,} characters read"
            + (" (cached)" if t.cached else f" in {t.seconds:.2f} s")
            for t in self.texts
            if not t.note
        ]

    def json(self) -> dict[str, object]:
        read = [
            {"name": t.name, "chars": len(t.text), "note": t.note, "cached": t.cached}
            for t in self.texts
        ]
        unread = [
            {"name": p.name, "chars": 0, "note": self.ocr, "cached": False} for p in self.images
        ]
        return {"ocr": self.ocr, "images": read or unread}


def verdict_text(name: str, verdict: Verdict, images: Sequence[str] = ()) -> str:
    lines = [f"{name}: {verdict.action.value} (score {verdict.score:g})"]
    for hit in verdict.rules:
        lines.append(f"  {hit.id} {hit.score:+g}")
        for quote in hit.evidence:
            lines.append(f"      {quote!r}")
    if isinstance(verdict.auth, AuthResults):
        lines.append(f"  auth: {verdict.auth.header_value('check').partition('; ')[2]}")
    else:
        lines.append("  auth: unavailable (offline or auth disabled)")
    lines.extend(images)
    for note in verdict.notes:
        lines.append(f"  note: {note}")
    for reason in verdict.partial:
        lines.append(f"  partial read: {reason}")
    return "\n".join(lines) + "\n"


# --- serve ---------------------------------------------------------------------------


def run_serve(args: argparse.Namespace) -> int:
    # Imported here: check and lint need none of the network stack.
    from milter.service.server import Overrides, serve

    overrides = Overrides(
        listen=parse_listen(args.listen, "--listen") if args.listen else None,
        next_hop=parse_host_port(args.next_hop, "--next-hop") if args.next_hop else None,
        quarantine_dir=args.quarantine_dir,
        mode=parse_mode(args.mode, "--mode") if args.mode else None,
        protocol=args.protocol,
        dns_servers=dns_servers(args.dns_server, "--dns-server") if args.dns_server else None,
        metrics=parse_host_port(args.metrics, "--metrics") if args.metrics else None,
    )
    return serve(args.config, overrides)


# --- rules lint ------------------------------------------------------------------------


def run_lint(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _config(args)
    paths = tuple(args.paths) if args.paths else config.rule_paths
    rules, errors = load_rules_collecting(paths)
    identities = None
    try:
        # The registry of the rules linted, over the configured one: a site file in
        # rules.d extends the shipped registry, and its rules' examples need both.
        identities = IdentityRegistry.load(dict.fromkeys((*config.rule_paths, *paths)))
    except RuleError as exc:
        errors.append(exc)
    for error in errors:
        print(f"{error}", file=err)
    failures = []
    if rules:
        scanner = Scanner(rules, config.scan, identities)
        failures = check_examples(scanner)
    for failure in failures:
        print(f"{failure}", file=err)
    examples = sum(len(r.must_match) + len(r.must_not_match) for r in rules)
    problems = len(errors) + len(failures)
    out.write(f"{len(rules)} rules, {examples} examples checked, {problems} problem(s)\n")
    return EXIT_FINDING if problems else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""``scam-milter quarantine …``: what admins run to review held messages.

Thin, like the rest of the CLI: parse, call QuarantineStore, format. Errors are raised as
QuarantineError and printed as one line (exit 2) by ``milter.cli.main``.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from pathlib import Path
from typing import Any, TextIO

from milter.quarantine import QuarantineEntry, QuarantineStore

DEFAULT_QUARANTINE_DIR = Path("/var/lib/scam-milter/quarantine")

EXIT_OK = 0

# Table columns that come from the sender are cut to this many characters, so one long
# address or subject does not push every other row off the screen.
_MAX_ADDRESS = 40
_MAX_SUBJECT = 60


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def add_quarantine_commands(subparsers: Any) -> None:
    """Add ``quarantine list`` to the top-level subparsers (``add_subparsers()`` result)."""
    quarantine = subparsers.add_parser("quarantine", help="review held messages")
    # The same parser class as the caller's, so bad usage prints its one-line error.
    commands = quarantine.add_subparsers(
        dest="quarantine_command", required=True, parser_class=type(quarantine)
    )
    listing = commands.add_parser("list", help="list held messages, newest first")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.add_argument(
        "--quarantine-dir",
        type=Path,
        metavar="DIR",
        help=f"quarantine directory (default: {DEFAULT_QUARANTINE_DIR})",
    )
    listing.add_argument("--limit", type=_positive_int, metavar="N", help="show at most N messages")


def run_quarantine(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the parsed ``quarantine`` subcommand; QuarantineError for a missing store."""
    # None, not the default path, from argparse: the lead can fill it from the config.
    directory = args.quarantine_dir or DEFAULT_QUARANTINE_DIR
    # create=False: a mistyped --quarantine-dir must be an error, not a new empty store.
    with QuarantineStore(directory, create=False) as store:
        if args.quarantine_command == "list":
            entries = store.list(limit=args.limit)
            if args.json:
                for entry in entries:
                    # ensure_ascii: scammer-chosen text reaches scripts and terminals as
                    # escapes, never as raw control or bidi characters.
                    out.write(json.dumps(entry_json(entry), ensure_ascii=True) + "\n")
            else:
                out.write(entries_table(entries))
            out.flush()
            return EXIT_OK
    raise AssertionError(f"unknown quarantine command {args.quarantine_command!r}")


def _utc(entry: QuarantineEntry) -> str:
    # Whole seconds with "Z": what jq's fromdateiso8601 and most tools parse. The id
    # orders entries within a second.
    return entry.time.strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_json(entry: QuarantineEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "time": _utc(entry),
        "sender": entry.mail_from,
        "recipients": list(entry.recipients),
        "subject": entry.subject,
        "score": entry.score,
        "action": entry.action,
        "rules": [{"id": r["id"], "score": r["score"]} for r in entry.rules],
        "size": entry.size,
        "client_addr": entry.client_addr,
        "client_helo": entry.client_helo,
        "released": None if entry.released is None else entry.released.isoformat(),
    }


def _safe(text: str, limit: int | None = None) -> str:
    # Subjects and addresses are the sender's: escape control, format (bidi overrides,
    # zero-width) and unassigned characters so they cannot drive or disguise the terminal.
    shown = "".join(
        (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        if unicodedata.category(c)[0] == "C"
        else c
        for c in text
    )
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return shown


def entries_table(entries: list[QuarantineEntry]) -> str:
    header = ("ID", "TIME (UTC)", "SCORE", "ACTION", "SENDER", "RECIPIENTS", "SUBJECT")
    rows = [header]
    for entry in entries:
        recipients = entry.recipients[0] if entry.recipients else ""
        if len(entry.recipients) > 1:
            recipients += f" +{len(entry.recipients) - 1}"
        rows.append(
            (
                entry.id,
                entry.time.strftime("%Y-%m-%d %H:%M:%S"),
                f"{entry.score:g}",
                entry.action,
                _safe(entry.mail_from or "<>", _MAX_ADDRESS),
                _safe(recipients, _MAX_ADDRESS),
                _safe(entry.subject, _MAX_SUBJECT),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i == 2 and row is not header else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        cells[-1] = row[-1]  # no trailing spaces after the last column
        lines.append("  ".join(cells))
    return "\n".join(lines) + "\n"

"""``scam-milter quarantine …``: what admins run to review held messages.

Thin, like the rest of the CLI: parse, call QuarantineStore (and
milter.quarantine.release, to release), format. Exit codes:

- 0: done;
- 1: the command was understood but could not be done for some message: already
  released (without ``--force``), deleted or expired, busy in another process, or the
  next hop refused or could not be reached (the message then stays held);
- 2: bad usage, an argument that is not a quarantine id, an id that no message has, or a
  store that cannot be opened. Store errors are raised as QuarantineError and printed
  as one line by ``milter.cli.main.main``.

With several ids, every id is tried; the exit code is the highest of their outcomes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from milter.cli.exits import EXIT_FINDING, EXIT_OK, EXIT_USAGE
from milter.config import (
    DEFAULT_QUARANTINE_DIR,
    Config,
    load_config,
    parse_duration,
    parse_host_port,
)
from milter.errors import ConfigError, QuarantineError
from milter.mail.display import Fit, safe_text, utc_text
from milter.mail.envelope import Param
from milter.mail.headers import split_message
from milter.mail.view import decode_header_value
from milter.quarantine.store import (
    EntryStateError,
    QuarantineEntry,
    QuarantineRecord,
    QuarantineStats,
    QuarantineStore,
    Status,
    is_valid_id,
)
from milter.smtp.params import valid_mailbox

# `list` shows the newest this many unless told otherwise: a busy site holds thousands,
# and a table that scrolls them all past is no review.
DEFAULT_LIMIT = 50


# Table columns that come from the sender are cut to this many characters, so one long
# address or subject does not push every other row off the screen.
_MAX_ADDRESS = 32
_MAX_RULES = 40
_MAX_SUBJECT = 60
_TOP_RULES = 2


# --- argument types --------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _limit(text: str) -> int | None:
    """``N`` (1 or more) or ``all`` (None: no limit)."""
    if text.strip().lower() == "all":
        return None
    return _positive_int(text)


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text, "duration")
    except ConfigError:
        raise argparse.ArgumentTypeError(f"not a duration (like 30d, 24h, 90m): {text!r}") from None


def _moment(text: str) -> datetime:
    """A duration back from now (``24h``) or a date/time (``2025-01-31``, ``…T10:00Z``).

    A time without a zone is UTC, as the table shows times.
    """
    with contextlib.suppress(ConfigError):
        return datetime.now(UTC) - parse_duration(text, "time")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a duration (24h, 7d) or a date and time (2025-01-31T10:00Z): {text!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _address(text: str) -> str:
    # RFC 5321 syntax, as the front checks RCPT TO: a control character (\x01, DEL, ESC)
    # or a space would otherwise reach the next hop inside our RCPT command.
    if not valid_mailbox(text):
        raise argparse.ArgumentTypeError(f"not a mail address: {text!r}")
    return text


def _next_hop(text: str) -> tuple[str, int]:
    try:
        return parse_host_port(text, "--next-hop")
    except ConfigError:
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r}") from None


# --- the parser --------------------------------------------------------------------------


def add_quarantine_commands(subparsers: Any) -> None:
    """Add ``quarantine list|show|release|delete|purge|stats|reindex`` to the top-level
    subparsers (an ``add_subparsers()`` result)."""
    quarantine = subparsers.add_parser("quarantine", help="review held messages")
    _store_options(quarantine)
    # The same parser class as the caller's, so bad usage prints its one-line error.
    commands = quarantine.add_subparsers(
        dest="quarantine_command", required=True, parser_class=type(quarantine)
    )

    listing = commands.add_parser("list", help="list held messages, newest first")
    _store_options(listing, argparse.SUPPRESS)
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.add_argument(
        "--since", type=_moment, metavar="WHEN", help="received since: 24h, 7d or a date"
    )
    listing.add_argument("--until", type=_moment, metavar="WHEN", help="received before WHEN")
    listing.add_argument("--rule", metavar="ID", help="matched this rule (ID* for a prefix)")
    listing.add_argument("--sender", metavar="ADDR", help="envelope sender, or @domain")
    listing.add_argument("--rcpt", metavar="ADDR", help="envelope recipient, or @domain")
    listing.add_argument("--verdict", choices=("quarantine", "reject"), help="verdict action")
    listing.add_argument("--status", choices=[s.value for s in Status], help="current status")
    listing.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        metavar="N|all",
        help=f"show at most N messages (default {DEFAULT_LIMIT})",
    )

    show = commands.add_parser("show", help="one message: rules, evidence, auth, headers")
    _store_options(show, argparse.SUPPRESS)
    show.add_argument("id", metavar="ID")
    output = show.add_mutually_exclusive_group()
    output.add_argument("--raw", action="store_true", help="write the original message bytes")
    output.add_argument("--json", action="store_true", help="one JSON object")

    release = commands.add_parser("release", help="deliver held messages to the next hop")
    _store_options(release, argparse.SUPPRESS)
    release.add_argument("ids", nargs="+", metavar="ID")
    release.add_argument(
        "--to",
        type=_address,
        nargs="+",
        action="extend",
        metavar="ADDR",
        help="deliver to these recipients instead of the original ones",
    )
    release.add_argument(
        "--next-hop", type=_next_hop, metavar="HOST:PORT", help="default: the config's next_hop"
    )
    release.add_argument("--force", action="store_true", help="release again if released")

    report = commands.add_parser(
        "report", help="forward held messages to a reporting desk as attachments"
    )
    _store_options(report, argparse.SUPPRESS)
    report.add_argument("ids", nargs="+", metavar="ID")
    report.add_argument(
        "--to", type=_address, metavar="ADDR", help="the desk; default: the config's report.to"
    )
    report.add_argument(
        "--from",
        dest="sender",
        type=_address,
        metavar="ADDR",
        help="our From; default: report.from, else postmaster@<hostname>",
    )
    report.add_argument(
        "--next-hop", type=_next_hop, metavar="HOST:PORT", help="default: the config's next_hop"
    )
    report.add_argument("--force", action="store_true", help="report again if reported")
    delete = commands.add_parser("delete", help="remove held messages (their record stays)")
    _store_options(delete, argparse.SUPPRESS)
    delete.add_argument("ids", nargs="+", metavar="ID")

    purge = commands.add_parser("purge", help="expire messages past the retention")
    _store_options(purge, argparse.SUPPRESS)
    purge.add_argument(
        "--older-than",
        type=_duration,
        metavar="AGE",
        help="e.g. 30d (default: the config's quarantine.retention)",
    )

    stats = commands.add_parser("stats", help="counts by verdict, status and rule")
    _store_options(stats, argparse.SUPPRESS)
    stats.add_argument("--since", type=_moment, default="7d", metavar="WHEN", help="default 7d")
    stats.add_argument("--until", type=_moment, metavar="WHEN")
    stats.add_argument("--json", action="store_true", help="one JSON object")

    reindex = commands.add_parser("reindex", help="rebuild the index from the meta files")
    _store_options(reindex, argparse.SUPPRESS)


def _store_options(parser: argparse.ArgumentParser, default: Any = None) -> None:
    # On `quarantine` itself and on each subcommand, so both `quarantine --config F list`
    # and `quarantine list --config F` work. The subcommands' default is SUPPRESS, or
    # it would reset a value given before the subcommand.
    parser.add_argument(
        "--config", type=Path, default=default, metavar="FILE", help="config file (YAML)"
    )
    parser.add_argument(
        "--quarantine-dir",
        type=Path,
        default=default,
        metavar="DIR",
        help=f"quarantine directory (default: the config's, else {DEFAULT_QUARANTINE_DIR})",
    )


# --- running -------------------------------------------------------------------------------


def run_quarantine(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the parsed ``quarantine`` subcommand; QuarantineError for a missing store."""
    command = args.quarantine_command
    ids: list[str] = list(args.ids) if hasattr(args, "ids") else [getattr(args, "id", "")]
    if command in ("show", "release", "report", "delete"):
        # All checked before anything is done: a typo among ten ids must not leave
        # nine released and the admin unsure which.
        for entry_id in ids:
            if not is_valid_id(entry_id):
                shown = entry_id if len(entry_id) <= 40 else entry_id[:37] + "..."
                raise QuarantineError(f"{shown!r} is not a quarantine id (26 of 0-9, a-z).")
    config = load_config(args.config)
    directory = args.quarantine_dir or config.quarantine_dir
    try:
        # create=False: a mistyped --quarantine-dir must be an error, not a new empty store.
        # full_sync=False: the markers and counts find every lost index update in a few
        # milliseconds; the full comparison is for `serve` at start and for purge.
        with QuarantineStore(directory, create=False, full_sync=False) as store:
            if command == "list":
                return _list(store, args, out, err)
            if command == "show":
                return _show(store, ids[0], args, out, err)
            if command == "release":
                return asyncio.run(_release(store, ids, args, config, out, err))
            if command == "report":
                return asyncio.run(_report(store, ids, args, config, out, err))
            if command == "delete":
                return _delete(store, ids, out, err)
            if command == "purge":
                return _purge(store, args, config, out)
            if command == "stats":
                return _stats(store, args, out)
            if command == "reindex":
                return _reindex(store, out)
    except BrokenPipeError:
        # `quarantine list | head`: the reader has all it wanted. Point stdout at
        # /dev/null so the interpreter's final flush does not fail again.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return EXIT_OK
    raise AssertionError(f"unknown quarantine command {command!r}")


def _fail(err: TextIO, message: str) -> None:
    print(f"scam-milter: error: {message}", file=err)


# --- list --------------------------------------------------------------------------------


def _list(store: QuarantineStore, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    limit = args.limit
    entries = store.entries(
        # One more than shown, to know whether to say there are more.
        limit=None if limit is None else limit + 1,
        since=args.since,
        until=args.until,
        rule=args.rule,
        sender=args.sender,
        rcpt=args.rcpt,
        action=args.verdict,
        status=None if args.status is None else Status(args.status),
    )
    more = limit is not None and len(entries) > limit
    entries = entries[:limit] if limit is not None else entries
    if args.json:
        for entry in entries:
            # ensure_ascii: scammer-chosen text reaches scripts and terminals as
            # escapes, never as raw control or bidi characters.
            out.write(json.dumps(entry_json(entry), ensure_ascii=True) + "\n")
    else:
        out.write(entries_table(entries))
    out.flush()
    if more and not args.json:
        print(f"(the newest {limit} shown; --limit N or --limit all for more)", file=err)
    return EXIT_OK


def entry_json(entry: QuarantineEntry) -> dict[str, object]:
    # Times in whole seconds with "Z" (utc_text): what jq's fromdateiso8601 and most
    # tools parse. The id orders entries within a second.
    return {
        "id": entry.id,
        "time": utc_text(entry.time),
        "sender": entry.mail_from,
        "recipients": list(entry.recipients),
        "subject": entry.subject,
        "score": entry.score,
        "action": entry.action,
        "rules": [{"id": r["id"], "score": r["score"]} for r in entry.rules],
        "size": entry.size,
        "client_addr": entry.client_addr,
        "client_helo": entry.client_helo,
        "released": None if entry.released is None else utc_text(entry.released),
        "status": entry.status.value,
        "status_time": None if entry.status_time is None else utc_text(entry.status_time),
    }


def _safe(text: str, limit: int | None = None) -> str:
    # Subjects and addresses are the sender's: escape control, format (bidi overrides,
    # zero-width) and unassigned characters so they cannot drive or disguise the terminal.
    return safe_text(text, Fit.TERMINAL, escape=True, limit=limit, ellipsis="…")


def _top_rules(entry: QuarantineEntry) -> str:
    ranked = sorted(entry.rules, key=lambda r: -float(r["score"]))
    shown = ",".join(str(r["id"]) for r in ranked[:_TOP_RULES])
    if len(ranked) > _TOP_RULES:
        shown += f" +{len(ranked) - _TOP_RULES}"
    return shown


def entries_table(entries: Sequence[QuarantineEntry]) -> str:
    header = ("ID", "TIME (UTC)", "STATUS", "SCORE", "SENDER", "RECIPIENTS", "RULES", "SUBJECT")
    right = {3}  # numbers align right
    rows = [header]
    for entry in entries:
        recipients = entry.recipients[0] if entry.recipients else ""
        if len(entry.recipients) > 1:
            recipients += f" +{len(entry.recipients) - 1}"
        rows.append(
            (
                entry.id,
                utc_text(entry.time),
                entry.status.value,
                f"{entry.score:g}",
                _safe(entry.mail_from or "<>", _MAX_ADDRESS),
                _safe(recipients, _MAX_ADDRESS),
                _safe(_top_rules(entry), _MAX_RULES),
                _safe(entry.subject, _MAX_SUBJECT),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i in right and row is not header else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        cells[-1] = row[-1]  # no trailing spaces after the last column
        lines.append("  ".join(cells))
    return "\n".join(lines) + "\n"


# --- show --------------------------------------------------------------------------------


def _show(
    store: QuarantineStore, entry_id: str, args: argparse.Namespace, out: TextIO, err: TextIO
) -> int:
    record = store.record(entry_id)
    if args.raw:
        try:
            raw = store.raw(entry_id, record)
        except EntryStateError as exc:
            _fail(err, str(exc))
            return EXIT_FINDING
        binary = getattr(out, "buffer", None)
        if binary is None:
            raise QuarantineError("--raw needs an output that takes bytes.")
        out.flush()
        # Unchanged: no newline conversion, no decoding; NUL bytes and bare LFs included.
        binary.write(raw)
        binary.flush()
        return EXIT_OK
    raw_or_none: bytes | None = None
    if record.entry.status.has_message:
        raw_or_none = store.raw(entry_id, record)
    if args.json:
        out.write(json.dumps(record_json(record, raw_or_none), ensure_ascii=True) + "\n")
    else:
        out.write(record_text(record, raw_or_none))
    out.flush()
    return EXIT_OK


def _header_lines(raw: bytes) -> list[str]:
    """The header block as text lines, folding kept, every line made safe to print."""
    lines = []
    for field_bytes in split_message(raw).fields:
        for line in field_bytes.split(b"\n"):
            line = line.removesuffix(b"\r")
            if line:
                lines.append(_safe(line.decode("utf-8", "backslashreplace")))
    return lines


def _from_header(raw: bytes) -> str | None:
    for field_bytes in split_message(raw).fields:
        if field_bytes[:5].lower() == b"from:":
            return decode_header_value(field_bytes[5:].decode("utf-8", "surrogateescape"))
    return None


def _params_text(params: Sequence[Param]) -> str:
    return "".join(f" {k}" if v is None else f" {k}={v}" for k, v in params)


def _event_detail(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}: {shown}")
    return f" ({'; '.join(parts)})" if parts else ""


def record_text(record: QuarantineRecord, raw: bytes | None) -> str:
    entry = record.entry
    env = record.envelope
    client = env.client
    lines = [
        f"id:         {entry.id}",
        f"received:   {utc_text(entry.time)}",
        f"status:     {entry.status.value}",
        f"verdict:    {entry.action}, score {entry.score:g}",
        f"subject:    {_safe(entry.subject)}",
    ]
    if raw is not None and (header_from := _from_header(raw)) is not None:
        lines.append(f"from:       {_safe(header_from)}")
    sender = "<>" if not env.mail_from else f"<{env.mail_from}>"
    lines.append(f"sender:     {_safe(sender + _params_text(env.mail_params))}")
    for index, rcpt in enumerate(env.rcpt_to):
        params = env.rcpt_params[index] if index < len(env.rcpt_params) else ()
        label = "recipients:" if index == 0 else ""
        lines.append(f"{label:<12}{_safe(f'<{rcpt}>' + _params_text(params))}")
    where = " ".join(
        x
        for x in (
            client.name or "unknown",
            f"[{client.addr}]" if client.addr else "",
            f"helo={client.helo}" if client.helo else "",
            f"queue id {client.ident}" if client.ident else "",
        )
        if x
    )
    lines.append(f"client:     {_safe(where)}")
    lines.append(f"size:       {entry.size} bytes, sha256 {record.sha256}")
    lines.append("rules:")
    if not entry.rules:
        lines.append("  (none)")
    for rule in entry.rules:
        lines.append(f"  {_safe(str(rule['id']))} {float(rule['score']):+g}")
        for quote in rule.get("evidence", ()):
            lines.append(f'      "{_safe(str(quote))}"')
    lines.append("auth:")
    if record.auth is None:
        lines.append("  (not recorded)")
    else:
        for key, value in record.auth.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=True)
            lines.append(f"  {_safe(str(key))}: {_safe(str(shown))}")
    for note in record.notes:
        lines.append(f"note:       {_safe(note)}")
    lines.append("history:")
    for event in record.events:
        lines.append(
            f"  {utc_text(event.time)}  {event.status.value:<8}  by {_safe(event.user)}"
            f"{_safe(_event_detail(event.detail))}"
        )
    for report in record.reports:
        lines.append(
            f"  {utc_text(report.time)}  reported  by {_safe(report.user)}: to "
            f"{_safe(report.to)}, {_safe(report.reply)}"
        )
    lines.append("headers:")
    if raw is None:
        lines.append(f"  (the message was {entry.status.value}; its content is gone)")
    else:
        lines += [f"  {line}" for line in _header_lines(raw)]
    return "\n".join(lines) + "\n"


def record_json(record: QuarantineRecord, raw: bytes | None) -> dict[str, object]:
    env = record.envelope
    client = env.client
    data = entry_json(record.entry)
    data["rules"] = list(record.entry.rules)  # with their evidence
    data.update(
        {
            "envelope": {
                "mail_from": env.mail_from,
                "mail_params": [list(p) for p in env.mail_params],
                "rcpt_to": list(env.rcpt_to),
                "rcpt_params": [[list(p) for p in ps] for ps in env.rcpt_params],
            },
            "client": {
                "name": client.name,
                "addr": client.addr,
                "port": client.port,
                "helo": client.helo,
                "ident": client.ident,
            },
            "sha256": record.sha256,
            "notes": list(record.notes),
            "auth": record.auth,
            "events": [
                {"time": utc_text(e.time), "event": e.status.value, "user": e.user, **e.detail}
                for e in record.events
            ],
            "reports": [
                {"time": utc_text(r.time), "user": r.user, "to": r.to, "reply": r.reply}
                for r in record.reports
            ],
            "headers": None if raw is None else _header_lines(raw),
        }
    )
    return data


# --- release -------------------------------------------------------------------------------


async def _release(
    store: QuarantineStore,
    ids: Sequence[str],
    args: argparse.Namespace,
    config: Config,
    out: TextIO,
    err: TextIO,
) -> int:
    # Imported here: only release needs the network stack.
    from milter.quarantine.release import ReleaseError, Releaser

    with _quiet_relay():
        async with Releaser(
            config, next_hop=args.next_hop, to=args.to, force=args.force
        ) as releaser:

            async def release(entry_id: str) -> str:
                released = await releaser.release(store, entry_id)
                recipients = ", ".join(_safe(r) for r in released.recipients)
                return (
                    f"released {entry_id} to {recipients} via {released.hop}: "
                    f"{_safe(released.reply)}"
                )

            return await _each(ids, release, ReleaseError, out, err)


async def _report(
    store: QuarantineStore,
    ids: Sequence[str],
    args: argparse.Namespace,
    config: Config,
    out: TextIO,
    err: TextIO,
) -> int:
    from milter.quarantine.report import Reporter, ReportError

    try:
        reporter = Reporter(
            config, to=args.to, sender=args.sender, next_hop=args.next_hop, force=args.force
        )
    except ReportError as exc:  # no desk to report to
        _fail(err, str(exc))
        return EXIT_USAGE
    with _quiet_relay():
        async with reporter:

            async def report(entry_id: str) -> str:
                reported = await reporter.report(store, entry_id)
                return (
                    f"reported {entry_id} to {_safe(reported.to)} via {reported.hop}: "
                    f"{_safe(reported.reply)}"
                )

            return await _each(ids, report, ReportError, out, err)


@contextlib.contextmanager
def _quiet_relay() -> Iterator[None]:
    """The relay logs its trouble for the server's log; here the one error line per id
    says it all, so its warnings would only print the same thing twice."""
    relay_log = logging.getLogger("scam_milter.relay")
    was_disabled, relay_log.disabled = relay_log.disabled, True
    try:
        yield
    finally:
        relay_log.disabled = was_disabled


async def _each(
    ids: Sequence[str],
    act: Callable[[str], Awaitable[str]],
    refused: type[QuarantineError],
    out: TextIO,
    err: TextIO,
) -> int:
    """``act`` on each id in turn, its line to ``out``. A refusal (``refused``, or an
    entry in the wrong state) is one line and EXIT_FINDING, an unknown or unreadable
    entry one line and EXIT_USAGE; the other ids go on."""
    codes = [EXIT_OK]
    for entry_id in ids:
        try:
            line = await act(entry_id)
        except (refused, EntryStateError) as exc:
            _fail(err, str(exc))
            codes.append(EXIT_FINDING)
            continue
        except QuarantineError as exc:  # unknown id, unreadable or altered files
            _fail(err, str(exc))
            codes.append(EXIT_USAGE)
            continue
        out.write(line + "\n")
        out.flush()
    return max(codes)


# --- delete, purge, stats, reindex ---------------------------------------------------------


def _delete(store: QuarantineStore, ids: Sequence[str], out: TextIO, err: TextIO) -> int:
    codes = [EXIT_OK]
    for entry_id in ids:
        try:
            store.delete(entry_id)
        except EntryStateError as exc:
            _fail(err, str(exc))
            codes.append(EXIT_FINDING)
            continue
        except QuarantineError as exc:
            _fail(err, str(exc))
            codes.append(EXIT_USAGE)
            continue
        out.write(f"deleted {entry_id}\n")
        out.flush()
    return max(codes)


def _purge(store: QuarantineStore, args: argparse.Namespace, config: Config, out: TextIO) -> int:
    # `is None`, not `or`: --older-than 0s (everything) is a falsy timedelta.
    older_than = args.older_than if args.older_than is not None else config.quarantine.retention
    if older_than is None:
        raise ConfigError("purge needs --older-than AGE (or quarantine.retention in the config).")
    result = store.purge(older_than)
    out.write(
        f"{result.expired} expired, {result.forgotten} old records removed, "
        f"{result.orphans} stray files removed"
        + (f", {result.busy} busy (left for the next purge)" if result.busy else "")
        + "\n"
    )
    out.flush()
    return EXIT_OK


def _stats(store: QuarantineStore, args: argparse.Namespace, out: TextIO) -> int:
    stats = store.stats(since=args.since, until=args.until)
    if args.json:
        out.write(json.dumps(stats_json(stats), ensure_ascii=True) + "\n")
    else:
        out.write(stats_text(stats))
    out.flush()
    return EXIT_OK


def stats_json(stats: QuarantineStats) -> dict[str, object]:
    return {
        "since": None if stats.since is None else utc_text(stats.since),
        "until": None if stats.until is None else utc_text(stats.until),
        "total": stats.total,
        "by_verdict": stats.by_action,
        "by_status": stats.by_status,
        "by_rule": [{"id": rule, "count": n} for rule, n in stats.by_rule],
        "changes": stats.events,
    }


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"


def stats_text(stats: QuarantineStats) -> str:
    since = "the start" if stats.since is None else utc_text(stats.since)
    until = "now" if stats.until is None else utc_text(stats.until)
    lines = [
        f"from {since} to {until}: {stats.total} messages held",
        f"by verdict: {_counts(stats.by_action)}",
        f"by status:  {_counts(stats.by_status)}",
        f"changes:    {_counts(stats.events)}",
        "by rule:",
    ]
    width = max((len(str(n)) for _, n in stats.by_rule), default=1)
    lines += [f"  {n:>{width}}  {_safe(rule)}" for rule, n in stats.by_rule]
    if not stats.by_rule:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


def _reindex(store: QuarantineStore, out: TextIO) -> int:
    # The documented recovery path (milter/quarantine/index.py): the meta files are the
    # truth, so the whole index is made again from them.
    count = store.rebuild_index()
    by_status = store.stats().by_status
    counts = ", ".join(f"{by_status.get(s.value, 0)} {s.value}" for s in Status)
    out.write(f"index rebuilt from the meta files: {count} entries ({counts})\n")
    out.flush()
    return EXIT_OK

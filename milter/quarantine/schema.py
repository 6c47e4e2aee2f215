"""The quarantine index's tables, and how entries map to rows and filters to queries.

No connection is made here: ``index.py`` runs these statements. The entries table holds
what ``list`` shows; entry_rules and entry_rcpts make ``--rule`` and ``--sender``/``--rcpt``
lookups use an index; events is each entry's history, for ``stats``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from milter.errors import QuarantineError
from milter.quarantine.records import QuarantineEntry, Status, display, from_micros, micros

# 2: status, its history (events), per-rule and per-recipient lookup tables.
SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE entries (
    id TEXT PRIMARY KEY,
    time_us INTEGER NOT NULL,
    mail_from TEXT NOT NULL,
    sender_lc TEXT NOT NULL,
    sender_domain TEXT NOT NULL,
    recipients TEXT NOT NULL,
    client_addr TEXT,
    client_helo TEXT,
    client_name TEXT,
    subject TEXT NOT NULL,
    score REAL NOT NULL,
    action TEXT NOT NULL,
    rules TEXT NOT NULL,
    size INTEGER NOT NULL,
    released_us INTEGER,
    status TEXT NOT NULL,
    status_us INTEGER NOT NULL,
    meta_ino INTEGER NOT NULL
);
CREATE INDEX entries_time ON entries (time_us, id);
CREATE INDEX entries_sender ON entries (sender_lc);
CREATE INDEX entries_sender_domain ON entries (sender_domain);
CREATE INDEX entries_status ON entries (status, status_us);
CREATE TABLE entry_rules (
    id TEXT NOT NULL,
    rule TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (id, rule)
) WITHOUT ROWID;
CREATE INDEX entry_rules_rule ON entry_rules (rule);
CREATE TABLE entry_rcpts (
    id TEXT NOT NULL,
    addr TEXT NOT NULL,
    domain TEXT NOT NULL,
    PRIMARY KEY (id, addr)
) WITHOUT ROWID;
CREATE INDEX entry_rcpts_addr ON entry_rcpts (addr);
CREATE INDEX entry_rcpts_domain ON entry_rcpts (domain);
CREATE TABLE events (
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time_us INTEGER NOT NULL,
    event TEXT NOT NULL,
    user TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (id, seq)
) WITHOUT ROWID;
CREATE INDEX events_time ON events (time_us);
"""

COLUMNS = (
    "id, time_us, mail_from, recipients, client_addr, client_helo, client_name, "
    "subject, score, action, rules, size, released_us, status, status_us"
)
INDEX_COLUMNS = f"{COLUMNS}, sender_lc, sender_domain, meta_ino"
TABLES = ("entries", "entry_rules", "entry_rcpts", "events")


def create_or_check_schema(db: sqlite3.Connection, path: Path) -> bool:
    """Create the tables in an empty database (True), or check its schema version.

    Raises QuarantineError for a newer schema, sqlite3.DatabaseError for another one.
    """
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        return True
    version = None
    if "schema_version" in tables:
        version = db.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    if isinstance(version, int) and version > SCHEMA_VERSION:
        # A newer scam-milter owns this index; rebuilding would downgrade it.
        raise QuarantineError(
            f"quarantine index {path} has schema version {version}, newer "
            f"than this scam-milter supports ({SCHEMA_VERSION})."
        )
    if version != SCHEMA_VERSION:
        # Older or foreign: the index is derived data, so build it anew.
        raise sqlite3.DatabaseError(f"unknown index schema version {version!r}")
    return False


@dataclass(frozen=True)
class EntryFilter:
    """Which entries a listing keeps (``QuarantineStore.entries`` says what each means)."""

    since: datetime | None = None
    until: datetime | None = None
    rule: str | None = None
    sender: str | None = None
    rcpt: str | None = None
    action: str | None = None
    status: Status | None = None

    def where(self) -> tuple[str, list[object]]:
        """A WHERE clause (with its parameters) for the index's entries table."""
        clauses: list[str] = []
        params: list[object] = []
        for moment, clause in ((self.since, "time_us >= ?"), (self.until, "time_us < ?")):
            if moment is not None:
                if moment.tzinfo is None:
                    raise ValueError("since and until must be aware datetimes")
                clauses.append(clause)
                params.append(micros(moment))
        if self.rule:
            if self.rule.endswith("*"):
                # A prefix as a range, so the (NOCASE) index on rule serves it: LIKE would
                # need its own escaping of '_', which every rule id contains.
                prefix = self.rule[:-1]
                clauses.append("id IN (SELECT id FROM entry_rules WHERE rule >= ? AND rule < ?)")
                params += [prefix, prefix + "\U0010ffff"]
            else:
                clauses.append("id IN (SELECT id FROM entry_rules WHERE rule = ?)")
                params.append(self.rule)
        sender = "" if self.sender == "<>" else self.sender  # <>: the null sender
        addresses = (
            (sender, "sender_domain = ?", "sender_lc = ?"),
            (
                self.rcpt,
                "id IN (SELECT id FROM entry_rcpts WHERE domain = ?)",
                "id IN (SELECT id FROM entry_rcpts WHERE addr = ?)",
            ),
        )
        for address, by_domain, by_address in addresses:
            if address is not None:
                key, _ = address_key(address)
                # "@domain" looks up the domain; anything else the whole address.
                clauses.append(by_domain if key.startswith("@") else by_address)
                params.append(key.removeprefix("@"))
        if self.action is not None:
            clauses.append("action = ?")
            params.append(self.action)
        if self.status is not None:
            clauses.append("status = ?")
            params.append(self.status.value)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        return where, params


def entry_row(entry: QuarantineEntry, ino: int) -> tuple[object, ...]:
    sender_lc, sender_domain = address_key(entry.mail_from)
    return (
        entry.id,
        micros(entry.time),
        entry.mail_from,
        json.dumps(list(entry.recipients)),
        entry.client_addr,
        entry.client_helo,
        entry.client_name,
        entry.subject,
        entry.score,
        entry.action,
        json.dumps(list(entry.rules)),
        entry.size,
        None if entry.released is None else micros(entry.released),
        entry.status.value,
        micros(entry.status_time or entry.time),
        sender_lc,
        sender_domain,
        ino,
    )


def entry_from_row(row: tuple[Any, ...]) -> QuarantineEntry:
    (id_, time_us, mail_from, recipients, addr, helo, name) = row[:7]
    (subject, score, action, rules, size, released_us, status, status_us) = row[7:]
    return QuarantineEntry(
        id=id_,
        time=from_micros(time_us),
        mail_from=mail_from,
        recipients=tuple(json.loads(recipients)),
        client_addr=addr,
        client_helo=helo,
        client_name=name,
        subject=subject,
        score=score,
        action=action,
        rules=tuple(json.loads(rules)),
        size=size,
        released=None if released_us is None else from_micros(released_us),
        status=Status(status),
        status_time=from_micros(status_us),
    )


def address_key(address: str) -> tuple[str, str]:
    """An address as the index matches it: lower-cased, and its domain (lower-cased).

    Case-insensitive as a whole: RFC 5321 lets the local part be case-sensitive, but no
    admin searching for a scam's sender means that, and senders vary it.
    """
    lowered = display(address).lower()
    return lowered, lowered.rpartition("@")[2] if "@" in lowered else ""

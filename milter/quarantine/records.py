"""The meta file (``meta/<id>.json``) and the values read from it.

A meta file is an entry's commit record and the truth about it: envelope, client, verdict,
auth, its status and every change of that status (an event: time, Unix user, details).
Everything here is pure but ``current_user``: building a meta file's data, checking what
was read, turning it into the dataclasses the store hands out. Reading and writing the
files is ``files.py``'s job, the order of those writes ``store.py``'s.

States (docs/postfix.md and README's Quarantine section describe them for admins)::

    held ──release──▶ released ──release --force──▶ released
      │                  │
      ├──delete──▶ deleted      (the message file is removed; the meta file stays as a
      └──purge───▶ expired       tombstone, so list/show still say who did it and when)

``TRANSITIONS`` below is that table.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import pwd
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from milter.errors import QuarantineError
from milter.mail.display import Fit, safe_text, utc_text
from milter.mail.envelope import ClientInfo, Envelope
from milter.scan.verdict import Verdict

META_FORMAT = 1


class Status(enum.Enum):
    """Where a quarantined message stands. Each change to a status is also an event."""

    HELD = "held"
    RELEASED = "released"
    DELETED = "deleted"
    EXPIRED = "expired"

    @property
    def has_message(self) -> bool:
        """True while the message file exists (it is removed on delete and expiry)."""
        return self in (Status.HELD, Status.RELEASED)


# The state machine as data: the statuses each status may change to. Releasing a released
# message again is allowed here; the caller asks for it explicitly (--force).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.HELD: frozenset({Status.RELEASED, Status.DELETED, Status.EXPIRED}),
    Status.RELEASED: frozenset({Status.RELEASED, Status.DELETED, Status.EXPIRED}),
    Status.DELETED: frozenset(),
    Status.EXPIRED: frozenset(),
}


class NoSuchEntry(QuarantineError):
    """No message with this id is in the quarantine (or it was forgotten)."""


class EntryStateError(QuarantineError):
    """The entry cannot do that now: already released, deleted, or busy in another process."""


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined message as listed: who sent it to whom, why it was held, its status.

    Text fields are for display: characters that cannot be encoded (lone surrogates from
    undecodable bytes) are replaced. The exact envelope stays in the meta file.
    ``mail_from`` is ``""`` both for the null sender and for an unknown one.
    """

    id: str
    time: datetime  # UTC, aware
    mail_from: str
    recipients: tuple[str, ...]
    client_addr: str | None
    client_helo: str | None
    client_name: str | None
    subject: str
    score: float
    # What the verdict said: 'quarantine', or 'reject' when the proxy held a message it
    # could not refuse (after-queue mode), so an admin sees how bad it was.
    action: str
    rules: tuple[dict[str, Any], ...]  # {"id", "score", "evidence": [...]}
    size: int
    released: datetime | None = None  # the last release
    status: Status = Status.HELD
    status_time: datetime | None = None  # when the status last changed


@dataclass(frozen=True)
class QuarantineEvent:
    """One change of status: what, when, by which Unix user, with what details."""

    status: Status
    time: datetime
    user: str
    detail: dict[str, Any] = field(default_factory=dict)


MAX_IMAGE_TEXT = 20_000


@dataclass(frozen=True)
class QuarantineReport:
    """The message forwarded to a reporting desk (``quarantine report``): to which
    address, when, by which user, and what the next hop answered. A report changes no
    status: the message stays held (or released) as it was."""

    time: datetime
    user: str
    to: str
    reply: str


@dataclass(frozen=True)
class QuarantineRecord:
    """Everything the meta file says about one entry: what ``show`` prints."""

    entry: QuarantineEntry
    envelope: Envelope  # exact, ESMTP parameters in their original case
    sha256: str
    notes: tuple[str, ...]
    auth: dict[str, Any] | None
    events: tuple[QuarantineEvent, ...]
    reports: tuple[QuarantineReport, ...] = ()
    image_texts: tuple[tuple[str, str], ...] = ()  # (image name, text OCR read)


@dataclass(frozen=True)
class PurgeResult:
    expired: int  # messages removed, their records kept as tombstones
    forgotten: int  # tombstones removed whole
    busy: int  # skipped: another process was releasing or deleting them
    orphans: int  # stray message files left by a crash, removed


@dataclass(frozen=True)
class QuarantineStats:
    since: datetime | None
    until: datetime | None
    total: int
    by_action: dict[str, int]
    by_status: dict[str, int]
    by_rule: tuple[tuple[str, int], ...]  # most frequent first
    # State changes within the window (releases, deletions...), by anyone.
    events: dict[str, int]


def current_user() -> str:
    """The effective Unix user's name, as recorded in events (its uid when it has none)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        # A container or a systemd DynamicUser without a passwd entry.
        return f"uid {uid}"


def duration_text(duration: timedelta) -> str:
    """``30d``, ``12h``, ``90m`` or ``45s``: the largest unit that divides it."""
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def display(text: str) -> str:
    """``text`` with what cannot be encoded replaced: fit for SQLite and a terminal."""
    # Headers decoded with surrogateescape can hold lone surrogates, which neither SQLite
    # nor a terminal accepts; the exact bytes are in the .eml file anyway. Control and
    # bidi characters are kept: the CLI escapes them where it shows them.
    return safe_text(text, Fit.STORAGE)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: how the index stores times."""
    # Integer arithmetic: a float timestamp times 1e6 can come out a microsecond short,
    # and a listed entry must equal the same entry read from its meta file.
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """The aware UTC time ``value`` microseconds after the epoch."""
    return _EPOCH + timedelta(microseconds=value)


def require_message(record: QuarantineRecord) -> None:
    """EntryStateError unless the entry still has its message (held or released)."""
    entry = record.entry
    if entry.status.has_message:
        return
    last = record.events[-1] if record.events else None
    when = f" at {utc_text(last.time)} by {last.user}" if last else ""
    raise EntryStateError(
        f"quarantined message {entry.id} was {entry.status.value}{when}; its content is gone."
    )


def meta_bytes(meta: dict[str, Any]) -> bytes:
    """The meta file's content."""
    # ensure_ascii keeps lone surrogates (from undecodable headers) as escapes, so nothing
    # is lost; default=str: auth results that are not JSON must never fail a put (4xx).
    return json.dumps(meta, ensure_ascii=True, indent=1, default=str).encode("ascii") + b"\n"


def build_meta(
    entry_id: str,
    now: datetime,
    raw: bytes,
    envelope: Envelope,
    verdict: Verdict,
    subject: str,
    auth: dict[str, Any] | None,
    user: str,
) -> dict[str, Any]:
    """The meta file: everything needed to review and release the message, exactly."""
    client = envelope.client
    return {
        "format": META_FORMAT,
        "id": entry_id,
        "time": now.isoformat(),
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "subject": subject,
        # Exact, with ESMTP parameters in their original case: release re-sends with them.
        "envelope": {
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_to),
            "mail_params": [list(p) for p in envelope.mail_params],
            "rcpt_params": [[list(p) for p in params] for params in envelope.rcpt_params],
        },
        "client": {
            "name": client.name,
            "addr": client.addr,
            "port": client.port,
            "proto": client.proto,
            "helo": client.helo,
            "ident": client.ident,
            "source": client.source,
        },
        "verdict": {
            "action": verdict.action.value,
            "score": verdict.score,
            # Every reported rule with the original text that matched: what an admin
            # decides on, and what `show` prints.
            "rules": [
                {"id": h.id, "score": h.score, "evidence": list(h.evidence), "tags": list(h.tags)}
                for h in verdict.rules
            ],
            "notes": list(verdict.notes),
            # What OCR read in the message's images, for the review page (capped: the
            # text of a letter is a few KB; a wall of text is not worth a bigger file).
            "images": [
                {"name": name, "text": text[:MAX_IMAGE_TEXT]} for name, text in verdict.image_texts
            ],
        },
        "auth": auth,
        "status": Status.HELD.value,
        "events": [{"time": now.isoformat(), "event": Status.HELD.value, "user": user}],
        "released": None,
    }


def parse_meta(data: bytes, entry_id: str) -> dict[str, Any]:
    """The meta file ``data`` of ``entry_id``, checked whole; QuarantineError if unusable."""
    try:
        meta = json.loads(data)
        if not isinstance(meta, dict) or meta.get("id") != entry_id:
            raise ValueError("id does not match the file name")
        if meta.get("format") != META_FORMAT:
            raise ValueError(f"unknown format {meta.get('format')!r}")
        record_from_meta(meta)  # every field present and of the right type
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise QuarantineError(
            f"metadata of quarantined message {entry_id} is unreadable: {exc}."
        ) from exc
    return meta


def _opt(value: object) -> str | None:
    return None if value is None else display(str(value))


def raw_events(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The meta file's events as stored (made up for files older than statuses)."""
    events = meta.get("events")
    if events is not None:
        return list(events)
    # Written before statuses existed: it was held then, and maybe released.
    synthesized = [{"time": meta["time"], "event": Status.HELD.value, "user": "unknown"}]
    if meta.get("released"):
        synthesized.append(
            {"time": meta["released"], "event": Status.RELEASED.value, "user": "unknown"}
        )
    return synthesized


def events_from_meta(meta: dict[str, Any]) -> tuple[QuarantineEvent, ...]:
    """The history of the entry's status, oldest first."""
    events = []
    for item in raw_events(meta):
        detail = {k: v for k, v in item.items() if k not in ("time", "event", "user")}
        events.append(
            QuarantineEvent(
                status=Status(item["event"]),
                time=datetime.fromisoformat(item["time"]).astimezone(UTC),
                user=str(item["user"]),
                detail=detail,
            )
        )
    return tuple(events)


def entry_from_meta(meta: dict[str, Any]) -> QuarantineEntry:
    """The entry as listed, from its (checked) meta file."""
    envelope = meta["envelope"]
    client = meta["client"]
    verdict = meta["verdict"]
    time = datetime.fromisoformat(meta["time"]).astimezone(UTC)
    released = meta.get("released")
    events = raw_events(meta)
    status = Status(meta.get("status") or events[-1]["event"])
    return QuarantineEntry(
        id=meta["id"],
        time=time,
        mail_from=display(envelope["mail_from"] or ""),
        recipients=tuple(display(r) for r in envelope["rcpt_to"]),
        client_addr=_opt(client.get("addr")),
        client_helo=_opt(client.get("helo")),
        client_name=_opt(client.get("name")),
        subject=display(meta["subject"]),
        score=float(verdict["score"]),
        action=str(verdict["action"]),
        rules=tuple(
            {
                "id": display(r["id"]),
                "score": float(r["score"]),
                "evidence": [display(e) for e in r["evidence"]],
            }
            for r in verdict["rules"]
        ),
        size=int(meta["size"]),
        released=None if released is None else datetime.fromisoformat(released).astimezone(UTC),
        status=status,
        status_time=datetime.fromisoformat(events[-1]["time"]).astimezone(UTC),
    )


def _params(items: Iterable[Sequence[Any]]) -> tuple[tuple[str, str | None], ...]:
    return tuple((str(k), None if v is None else str(v)) for k, v in items)


def record_from_meta(meta: dict[str, Any]) -> QuarantineRecord:
    """Everything the meta file says, as values."""
    env = meta["envelope"]
    client = meta["client"]
    port = client.get("port")
    envelope = Envelope(
        mail_from=env["mail_from"],
        rcpt_to=tuple(str(r) for r in env["rcpt_to"]),
        mail_params=_params(env.get("mail_params", ())),
        rcpt_params=tuple(_params(p) for p in env.get("rcpt_params", ())),
        client=ClientInfo(
            name=client.get("name"),
            addr=client.get("addr"),
            port=None if port is None else int(port),
            proto=client.get("proto"),
            helo=client.get("helo"),
            ident=client.get("ident"),
            source=client.get("source"),
        ),
    )
    auth = meta.get("auth")
    return QuarantineRecord(
        entry=entry_from_meta(meta),
        envelope=envelope,
        sha256=str(meta["sha256"]),
        notes=tuple(str(n) for n in meta["verdict"].get("notes", ())),
        auth=auth if isinstance(auth, dict) else None,
        events=events_from_meta(meta),
        reports=reports_from_meta(meta),
        image_texts=tuple(
            (str(image.get("name", "")), str(image.get("text", "")))
            for image in meta["verdict"].get("images", ())
        ),
    )


def reports_from_meta(meta: dict[str, Any]) -> tuple[QuarantineReport, ...]:
    return tuple(
        QuarantineReport(
            time=datetime.fromisoformat(item["time"]).astimezone(UTC),
            user=str(item["user"]),
            to=str(item["to"]),
            reply=str(item.get("reply", "")),
        )
        for item in meta.get("reports", ())
    )


def reported_meta(
    meta: dict[str, Any], user: str, to: str, reply: str, now: datetime
) -> dict[str, Any]:
    """A copy of ``meta`` with one more report (its status unchanged)."""
    report = {"time": now.isoformat(), "user": user, "to": to, "reply": reply}
    new = dict(meta)
    new["reports"] = [*meta.get("reports", ()), report]
    return new


def changed_meta(
    meta: dict[str, Any],
    status: Status,
    user: str,
    detail: dict[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    """A copy of ``meta`` whose status is ``status``, with the event that says who made
    the change, when, and ``detail``. EntryStateError when ``TRANSITIONS`` forbids it."""
    old = record_from_meta(meta).entry.status
    if status not in TRANSITIONS[old]:
        raise EntryStateError(
            f"quarantined message {meta['id']} is {old.value}; it cannot become {status.value}."
        )
    event: dict[str, Any] = {"time": now.isoformat(), "event": status.value, "user": user}
    event.update(detail or {})
    new = dict(meta)
    new["events"] = [*raw_events(meta), event]
    new["status"] = status.value
    if status is Status.RELEASED:
        new["released"] = now.isoformat()
    return new

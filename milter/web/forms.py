"""What the browser sends, checked: the list's filters and urlencoded POST bodies.

Pure: no request objects here, only the strings taken from them, so the checks are
tested as tables. A value that does not parse is not an error page: the filter is left
out and the page says which field was ignored and why.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

from milter.config import parse_duration
from milter.errors import ConfigError
from milter.quarantine.store import Status

PAGE_SIZE = 50
# Bodies of our forms are a token, an id and a few addresses: anything larger is not
# one of them, and is refused before it is read whole.
MAX_FORM_BYTES = 16 * 1024
_MAX_FIELD = 320  # an address is at most 254 octets; a rule id far less


@dataclass(frozen=True)
class ListQuery:
    """The list page's filters as given (``text``) and as understood."""

    since: datetime | None = None
    until: datetime | None = None
    rule: str | None = None
    sender: str | None = None
    rcpt: str | None = None
    status: Status | None = None
    page: int = 1
    text: dict[str, str] = field(default_factory=dict)  # to refill the form
    problems: tuple[str, ...] = ()

    def link(self, **changes: object) -> str:
        """The query string of this filter with ``changes`` (``page=2``)."""
        params = {k: v for k, v in self.text.items() if v and k != "page"}
        params.update({k: str(v) for k, v in changes.items()})
        return "?" + urlencode(params)


def parse_moment(text: str, now: datetime) -> datetime:
    """``24h`` (back from now) or an ISO date/time (UTC when it has no zone)."""
    with contextlib.suppress(ConfigError):
        return now - parse_duration(text, "time")
    moment = datetime.fromisoformat(text.strip())  # ValueError: the caller says so
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def list_query(params: Mapping[str, str], now: datetime) -> ListQuery:
    """The list filters from the query string ``params``."""
    text = {k: params.get(k, "").strip()[:_MAX_FIELD] for k in _FIELDS}
    values: dict[str, object] = {}
    problems: list[str] = []
    for name in ("since", "until"):
        if text[name]:
            try:
                values[name] = parse_moment(text[name], now)
            except ValueError:
                problems.append(f"{name}: not a duration (24h, 7d) or a date (2026-01-31): ignored")
    for name in ("rule", "sender", "rcpt"):
        if text[name]:
            values[name] = text[name]
    if text["status"]:
        try:
            values["status"] = Status(text["status"])
        except ValueError:
            problems.append("status: unknown, ignored")
    page = 1
    if text["page"]:
        try:
            page = max(1, min(int(text["page"]), 100_000))
        except ValueError:
            problems.append("page: not a number, ignored")
    return ListQuery(page=page, text=text, problems=tuple(problems), **values)


_FIELDS = ("since", "until", "rule", "sender", "rcpt", "status", "page")


class FormError(ValueError):
    """A POST body that is not one of our forms."""


def parse_form(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body: the first value of each field."""
    if len(body) > MAX_FORM_BYTES:
        raise FormError("form too large")
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError(str(exc)) from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form

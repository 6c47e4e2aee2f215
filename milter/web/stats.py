"""The stats page: held messages per day, per rule and per sender domain, as bar charts.

Counting is pure (entries in, counts out). A chart is a list of ``Bar``s with their
geometry worked out here; the template draws them as inline SVG, and, like every other
label on the site, their labels are escaped by Jinja2's autoescape there: a sender
domain is chosen by the sender.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from milter.quarantine.store import QuarantineEntry
from milter.web.message import shown

# A chart shows the biggest this many; the rest is one "others" count under it.
MAX_BARS: Final = 15
BAR_HEIGHT: Final = 18
BAR_GAP: Final = 4
LABEL_WIDTH: Final = 260
BAR_WIDTH: Final = 300


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    y: int
    width: int  # pixels, proportional to count


@dataclass(frozen=True)
class Chart:
    title: str
    bars: tuple[Bar, ...]
    others: int  # the count of what did not fit in MAX_BARS
    height: int
    label_width: int = LABEL_WIDTH
    bar_width: int = BAR_WIDTH


def chart(title: str, counts: Iterable[tuple[str, int]], *, keep_order: bool = False) -> Chart:
    """Bars for ``counts``: the biggest first (or in the given order, for days)."""
    items = list(counts) if keep_order else sorted(counts, key=lambda kv: (-kv[1], kv[0]))
    shown_items, rest = items[:MAX_BARS], items[MAX_BARS:]
    top = max((count for _, count in shown_items), default=0)
    bars = tuple(
        Bar(
            label=label,
            count=count,
            y=index * (BAR_HEIGHT + BAR_GAP),
            width=max(1, round(BAR_WIDTH * count / top)) if top else 0,
        )
        for index, (label, count) in enumerate(shown_items)
    )
    height = max(1, len(bars)) * (BAR_HEIGHT + BAR_GAP)
    return Chart(title, bars, sum(count for _, count in rest), height)


def sender_domain(address: str) -> str:
    domain = address.rpartition("@")[2].lower() if "@" in address else ""
    return shown(domain) if domain else "(null sender)"


@dataclass(frozen=True)
class HeldCounts:
    total: int
    per_day: tuple[tuple[str, int], ...]  # oldest first
    per_rule: tuple[tuple[str, int], ...]
    per_domain: tuple[tuple[str, int], ...]


def held_counts(entries: Iterable[QuarantineEntry]) -> HeldCounts:
    days: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    total = 0
    for entry in entries:
        total += 1
        days[entry.time.strftime("%Y-%m-%d")] += 1
        domains[sender_domain(entry.mail_from)] += 1
        for rule in entry.rules:
            rules[shown(str(rule["id"]))] += 1
    return HeldCounts(
        total=total,
        per_day=tuple(sorted(days.items())),
        per_rule=tuple(rules.most_common()),
        per_domain=tuple(domains.most_common()),
    )

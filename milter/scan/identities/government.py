"""Government mail domains by country (rules/government_domains.yml, docs/authority.md):
the zones under which only a state, its agencies or its courts can have a domain
(gov, gouv.fr, fgov.be, bund.de, gov.br, jus.br, police.uk …), so that "sent from a
government domain" is known without listing every agency in the registry.

A zone covers itself and every domain under it. Whether the mail really comes from
there (DMARC) is the rules' business: this module only knows names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from milter.errors import RuleError
from milter.scan.identities.domains import canonical_domain
from milter.scan.identities.values import ID_PATTERN
from milter.scan.rules.yaml_source import files_named, list_entry, read_yaml_list

__all__ = ["GOVERNMENT_FILE", "GovernmentDomains", "GovernmentZone", "read_government_domains"]

#: The name of the table in a rules directory.
GOVERNMENT_FILE: Final = "government_domains.yml"

_KEYS: Final = ("id", "title", "zones", "references")


@dataclass(frozen=True)
class GovernmentZone:
    """The government zones of one country (``id`` is its ISO code, or EU / INT)."""

    id: str
    title: str
    zones: tuple[str, ...]
    path: str = field(default="", compare=False, repr=False)
    line: int = field(default=0, compare=False, repr=False)


class GovernmentDomains:
    """Every zone of the table, indexed by name: ``country(domain)`` says whose
    government a domain (or an address's domain) is under, if any."""

    __slots__ = ("_by_zone", "_countries")

    def __init__(self, countries: Iterable[GovernmentZone] = ()) -> None:
        self._countries = tuple(countries)
        by_zone: dict[str, GovernmentZone] = {}
        for country in self._countries:
            for zone in country.zones:
                other = by_zone.get(zone)
                if other is not None and other is not country:
                    raise RuleError(
                        f"zone {zone!r} is also listed under {other.id}",
                        path=country.path,
                        line=country.line,
                        rule_id=country.id,
                    )
                by_zone[zone] = country
        self._by_zone: Mapping[str, GovernmentZone] = MappingProxyType(by_zone)

    @classmethod
    def load(cls, paths: Iterable[Path]) -> GovernmentDomains:
        """The table of the files at ``paths`` (a directory adds its
        ``government_domains.yml`` if it has one); later files add countries and zones."""
        return cls(read_government_domains(paths))

    def __len__(self) -> int:
        return len(self._by_zone)

    @property
    def countries(self) -> tuple[GovernmentZone, ...]:
        return self._countries

    def country(self, domain: str) -> GovernmentZone | None:
        """The country whose government zone ``domain`` (or ``user@domain``) is in."""
        if not self._by_zone:
            return None
        canonical = canonical_domain(domain.rpartition("@")[2])
        if canonical is None:
            return None
        by_zone = self._by_zone
        labels = canonical.split(".")
        for index in range(len(labels)):
            found = by_zone.get(".".join(labels[index:]))
            if found is not None:
                return found
        return None

    def zone_names(self) -> frozenset[str]:
        """Every zone, for the look-alike check (a domain in one imitates nothing)."""
        return frozenset(self._by_zone)


def read_government_domains(paths: Iterable[Path]) -> tuple[GovernmentZone, ...]:
    """Read and merge government-domain tables, in order; an id already read gets the
    new zones added. Raises ``RuleError`` naming the file, the line and the id."""
    merged: dict[str, GovernmentZone] = {}
    for path in files_named(paths, GOVERNMENT_FILE):
        _merge_file(path, merged)
    return tuple(merged.values())


def _merge_file(path: Path, merged: dict[str, GovernmentZone]) -> None:
    data, positions = read_yaml_list(
        path, "government domain table", "a government domain table must be a YAML list"
    )
    name = str(path)
    for index, item in enumerate(data):
        entry_id, fail = list_entry(
            item,
            index,
            name,
            positions,
            shape="country must be a mapping with id, title, zones",
            id_pattern=ID_PATTERN,
            id_example="BE",
        )
        unknown = [key for key in item if key not in _KEYS]
        if unknown:
            raise fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(_KEYS)})", unknown[0])
        zones = _zones(item.get("zones"), fail)
        earlier = merged.get(entry_id)
        title = item.get("title", earlier.title if earlier else None)
        if not isinstance(title, str) or not title.strip():
            raise fail("title must be a non-empty string", "title")
        if earlier is not None:
            zones = tuple(dict.fromkeys(earlier.zones + zones))
        merged[entry_id] = GovernmentZone(
            entry_id, title.strip(), zones, path=name, line=positions.line(index)
        )


def _zones(value: Any, fail: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise fail("zones must be a non-empty list of domain names", "zones")
    zones: list[str] = []
    for position, zone in enumerate(value):
        canonical = canonical_domain(zone) if isinstance(zone, str) else None
        if canonical is None or len(canonical) > 253:
            raise fail(
                f"zone {zone!r} is not a domain name (write e.g. gouv.fr, no address or URL)",
                "zones",
                position,
            )
        zones.append(canonical)
    return tuple(dict.fromkeys(zones))

"""Reading registry files (docs/identities.md, "The registry file" and "Extending it on
a host"): YAML lists of identities, merged in order; every error names the file, the
line and the identity id."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from milter.errors import RuleError
from milter.scan.identities.domains import canonical_domain
from milter.scan.identities.values import ID_PATTERN, LIST_KEYS, Identity
from milter.scan.rules.yaml_source import YamlPositions, list_entry, read_yaml_list

__all__ = ["REGISTRY_FILE", "read_identities"]

#: The name of the registry in a rules directory (the only file read from a directory).
REGISTRY_FILE: Final = "identities.yml"

_KEYS: Final = (
    "id",
    "title",
    "description",
    "references",
    "replace",
    "domains",
    "names",
    "signatures",
)


def read_identities(paths: Iterable[Path]) -> tuple[Identity, ...]:
    """Read and merge registry files, in order.

    Each path is a file, or a directory from which only ``identities.yml`` is read
    (a directory without one adds nothing). An id already defined by an earlier file
    is extended: its domains, names and signatures are added, and its title and
    description replaced when given; with ``replace: true`` the new definition
    replaces the old one whole. Raises ``RuleError`` (file, line, identity id).
    """
    merged: dict[str, Identity] = {}
    for path in paths:
        if path.is_dir():
            path = path / REGISTRY_FILE
            if not path.is_file():
                continue
        elif not path.exists():
            raise RuleError("no such identity registry file or directory", path=str(path))
        _merge_file(path, merged)
    return tuple(merged.values())


def _merge_file(path: Path, merged: dict[str, Identity]) -> None:
    data, positions = read_yaml_list(
        path, "identity registry", "an identity registry must be a YAML list of identities"
    )
    name = str(path)
    in_file: dict[str, int] = {}
    for index, item in enumerate(data):
        identity = _parse_identity(item, index, name, positions, merged, in_file)
        merged[identity.id] = identity


def _parse_identity(
    item: Any,
    index: int,
    path: str,
    positions: YamlPositions,
    merged: Mapping[str, Identity],
    in_file: dict[str, int],
) -> Identity:
    line = positions.line(index)
    identity_id, fail = list_entry(
        item,
        index,
        path,
        positions,
        shape="identity must be a mapping with id, title, domains, names…",
        id_pattern=ID_PATTERN,
        id_example="BE_FEDERAL_POLICE",
    )

    if identity_id in in_file:
        raise fail(f"the id is defined twice in this file (first at line {in_file[identity_id]})")
    in_file[identity_id] = line
    unknown = [key for key in item if key not in _KEYS]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(_KEYS)})", unknown[0])
    replace = item.get("replace", False)
    if not isinstance(replace, bool):
        raise fail("replace must be true or false", "replace")
    for key in ("title", "description"):
        if key in item and (not isinstance(item[key], str) or not item[key].strip()):
            raise fail(f"{key} must be a non-empty string", key)
    if "references" in item:
        _strings(item["references"], lambda m: fail(m, "references"), "references")

    lists: dict[str, tuple[str, ...]] = {}
    for key in LIST_KEYS:
        if key in item:
            values = _strings(item[key], lambda m, k=key: fail(m, k), key)
            if key == "domains":
                values = _domains(values, lambda m, i: fail(m, "domains", i))
            lists[key] = values

    earlier = None if replace else merged.get(identity_id)
    if earlier is None:
        for key in ("title", "domains", "names"):
            if key not in item:
                raise fail(
                    f"missing required key {key!r} (a new identity needs title, domains, names)"
                )
        for key in ("domains", "names"):
            if not lists[key]:
                raise fail(f"{key} must not be empty", key)
        title = item["title"].strip()
        description = item.get("description", "").strip()
        combined = {key: lists.get(key, ()) for key in LIST_KEYS}
    else:
        title = item["title"].strip() if "title" in item else earlier.title
        description = item["description"].strip() if "description" in item else earlier.description
        combined = {
            key: tuple(dict.fromkeys(getattr(earlier, key) + lists.get(key, ())))
            for key in LIST_KEYS
        }
    try:
        return Identity(
            id=identity_id,
            title=title,
            domains=combined["domains"],
            names=combined["names"],
            signatures=combined["signatures"],
            description=description,
            path=path,
            line=line,
        )
    except ValueError as exc:  # pragma: no cover - the checks above come first
        raise fail(str(exc)) from exc


def _strings(value: Any, fail: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise fail(f"{key} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _domains(values: tuple[str, ...], fail: Any) -> tuple[str, ...]:
    domains: list[str] = []
    for position, value in enumerate(values):
        canonical = canonical_domain(value)
        if canonical is None or "." not in canonical or len(canonical) > 253:
            raise fail(
                f"domain {value!r} is not a domain name (write e.g. police.be, no address or URL)",
                position,
            )
        domains.append(canonical)
    return tuple(dict.fromkeys(domains))

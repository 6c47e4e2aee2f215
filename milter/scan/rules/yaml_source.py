"""YAML files the admin writes (rules, the identity registry), read with line numbers.

``yaml.safe_load`` gives the data; ``yaml.compose`` of the same text gives the nodes,
never objects, so that every error can name the line it is about.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import yaml

from milter.errors import RuleError

# The C composer (libyaml) when present: many times faster on large rule sets.
_COMPOSER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlPositions:
    """Line numbers of the parsed YAML, looked up by path (0-based list indexes, keys)."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.root = node

    def line(self, *path: Any) -> int:
        """The line of the node at ``path``, or of the deepest part of it that exists;
        for a key, the line of the key."""
        node = self.root
        best = node.start_mark.line + 1 if node is not None else 0
        for step in path:
            if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                if step >= len(node.value):
                    break
                node = node.value[step]
                best = node.start_mark.line + 1
            elif isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node.value == step:
                        best = key_node.start_mark.line + 1
                        node = value_node
                        break
                else:
                    break
            else:
                break
        return best

    def duplicate_keys(self) -> list[tuple[str, int]]:
        """Every key that appears twice in one mapping, with the line of the second."""
        found: list[tuple[str, int]] = []
        stack = [self.root] if self.root is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for key_node, value_node in node.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        if key_node.value in seen:
                            found.append((key_node.value, key_node.start_mark.line + 1))
                        seen.add(key_node.value)
                    stack.append(value_node)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)
        return found


def read_yaml(path: Path, what: str) -> tuple[Any, YamlPositions]:
    """The data of ``path`` and its positions; ``RuleError`` naming ``what`` (e.g. "rule
    file") and the line for anything unreadable."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read {what}: {exc.strerror or exc}", path=name) from exc
    except UnicodeDecodeError as exc:
        raise RuleError(f"{what} is not valid UTF-8", path=name) from exc
    try:
        data = yaml.safe_load(text)
        nodes = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise RuleError(f"invalid YAML: {problem}", path=name, line=line) from exc
    except yaml.YAMLError as exc:
        raise RuleError(f"invalid YAML: {exc}", path=name) from exc
    return data, YamlPositions(nodes)


def list_entry(
    item: Any,
    index: int,
    path: str,
    positions: YamlPositions,
    *,
    shape: str,
    id_pattern: re.Pattern[str],
    id_example: str,
) -> tuple[str, Callable[..., RuleError]]:
    """The id of entry ``index`` of a YAML list of rules or identities, and a ``fail``
    that makes a ``RuleError`` naming the file, the line of the given keys and the id.

    ``shape`` says what an entry must be ("a mapping with id, matchers, condition…").
    """
    line = positions.line(index)
    if not isinstance(item, dict):
        raise RuleError(f"each {shape}", path=path, line=line)
    entry_id = item.get("id")
    if not isinstance(entry_id, str) or not id_pattern.fullmatch(entry_id):
        raise RuleError(
            f"id must be upper-case letters, digits and _ (e.g. {id_example})",
            path=path,
            line=positions.line(index, "id") if "id" in item else line,
        )

    def fail(message: str, *keys: Any) -> RuleError:
        return RuleError(message, path=path, line=positions.line(index, *keys), rule_id=entry_id)

    return entry_id, fail

"""YAML files the admin writes (rules, the identity registry), read with line numbers.

One pass of a safe loader composes the nodes (which keep their line numbers, so that
every error can name its line) and then builds the data from those same nodes: the text
is parsed once, by libyaml when it is installed. Only safe loaders are used: the
constructor knows plain YAML types and nothing else, so a tag never builds an object.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Final

import yaml

from milter.errors import RuleError

# libyaml's parser under the safe constructor when present: for rules/ it reads, composes
# and constructs in about a tenth of the pure-Python time (bench/rule_load.py), which is
# paid at start and on every SIGHUP. Without libyaml, the pure-Python safe loader.
SAFE_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def read_yaml_list(path: Path, what: str, not_a_list: str) -> tuple[list[Any], YamlPositions]:
    """A data file that is one YAML list (the identity registry, the government table,
    the lexicon): its items and positions. A key twice in a mapping, or a file that is
    not a list (``not_a_list`` is that error), is a ``RuleError`` with the line; an
    empty file is an empty list."""
    data, positions = read_yaml(path, what)
    name = str(path)
    for key, line in positions.duplicate_keys()[:1]:
        raise RuleError(f"key {key!r} appears twice", path=name, line=line)
    if data is None:
        return [], positions
    if not isinstance(data, list):
        raise RuleError(not_a_list, path=name, line=1)
    return data, positions


def files_named(paths: Iterable[Path], filename: str) -> Iterator[Path]:
    """The files called ``filename`` among ``paths``: a directory gives its own, if it
    has one; a file counts only under that name."""
    for path in paths:
        if path.is_dir():
            path = path / filename
            if not path.is_file():
                continue
        elif path.name != filename:
            continue
        yield path


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
        data, nodes = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(text, exc, name) from exc
    return data, YamlPositions(nodes)


def parse_yaml(text: str, loader: Any = SAFE_LOADER) -> tuple[Any, yaml.Node | None]:
    """The data of one YAML document and its root node, from a single parse.

    ``loader`` must be a safe loader class (``yaml.CSafeLoader`` or ``yaml.SafeLoader``).
    Raises ``yaml.YAMLError`` for text that is not one valid YAML document.
    """
    parser = loader(text)
    try:
        node = parser.get_single_node()
        data = parser.construct_document(node) if node is not None else None
    finally:
        parser.dispose()
    return data, node


def _yaml_error(text: str, exc: yaml.YAMLError, name: str) -> RuleError:
    """The ``RuleError`` for unparsable ``text``, in the pure-Python parser's words.

    Its messages name what it found ("found character '\\t' that cannot start any
    token", "found undefined alias 'x'") where libyaml's do not; it only runs once the
    fast parse has failed, so a good file never pays for it.
    """
    if SAFE_LOADER is not yaml.SafeLoader:
        try:
            parse_yaml(text, yaml.SafeLoader)
        except yaml.YAMLError as pure:
            exc = pure
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "invalid YAML"
        return RuleError(f"invalid YAML: {problem}", path=name, line=line)
    return RuleError(f"invalid YAML: {exc}", path=name)


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

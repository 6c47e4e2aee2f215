"""YAML read in one safe pass: libyaml and the pure-Python loader agree, lines included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from milter.errors import RuleError
from milter.scan.rules.yaml_source import SAFE_LOADER, parse_yaml, read_yaml

RULES = Path(__file__).resolve().parents[2] / "rules"
LOADERS = [yaml.SafeLoader] + ([yaml.CSafeLoader] if yaml.__with_libyaml__ else [])


def lines(node: yaml.Node | None) -> Iterator[tuple[int, int, str]]:
    """Every node's start (line, column) and tag, depth first."""
    stack = [node] if node is not None else []
    while stack:
        node = stack.pop()
        yield node.start_mark.line, node.start_mark.column, node.tag
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((value, key))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def test_libyaml_is_used_when_installed() -> None:
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert SAFE_LOADER is expected


@pytest.mark.parametrize("path", sorted(RULES.glob("*.yml")), ids=lambda p: p.name)
@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_shipped_files_read_as_safe_load_and_compose_did(path: Path, loader: type) -> None:
    text = path.read_text(encoding="utf-8")
    data, node = parse_yaml(text, loader)
    assert data == yaml.safe_load(text)
    assert list(lines(node)) == list(lines(yaml.compose(text, Loader=yaml.SafeLoader)))


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_empty_document_has_no_data_and_no_node(loader: type) -> None:
    assert parse_yaml("# only a comment\n", loader) == (None, None)


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_anchors_and_merge_keys_build_the_same_data(loader: type) -> None:
    text = "base: &b {target: body}\nm:\n  <<: *b\n  regex: x\nlist: [*b, *b]\n"
    data, _ = parse_yaml(text, loader)
    assert data == {
        "base": {"target": "body"},
        "m": {"target": "body", "regex": "x"},
        "list": [{"target": "body"}, {"target": "body"}],
    }


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['true']", "!custom x"])
def test_a_tag_never_builds_an_object(tmp_path: Path, tag: str) -> None:
    path = tmp_path / "r.yml"
    path.write_text(f"- id: TEST_TAG\n  title: {tag}\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r":2: invalid YAML: could not determine a constructor"):
        read_yaml(path, "rule file")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        # The pure-Python parser's wording, which names what it found; libyaml's does not.
        ("a:\n\t- b\n", 2, "found character '\\t' that cannot start any token"),
        ("a: *missing\n", 1, "found undefined alias 'missing'"),
        ("- id: X\n  title: [unclosed\n", 3, "expected ',' or ']', but got '<stream end>'"),
    ],
)
def test_errors_name_the_line_and_what_was_found(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = tmp_path / "r.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        read_yaml(path, "rule file")
    assert (caught.value.path, caught.value.line) == (str(path), line)
    assert str(caught.value) == f"{path}:{line}: invalid YAML: {words}"


def test_control_characters_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.yml"
    path.write_text("a: b\x01\n", encoding="utf-8")
    with pytest.raises(RuleError, match="invalid YAML: unacceptable character #x0001"):
        read_yaml(path, "rule file")

"""Rule conditions: a small boolean language over matcher names, as in Sigma.

    condition := or
    or        := and ("or" and)*
    and       := not ("and" not)*
    not       := "not" not | of
    of        := QUANTITY "of" (GLOB | "them" | "(" NAME ("," NAME)* ")") | atom
    atom      := "(" or ")" | NAME
    QUANTITY  := a number | "all" | "any"

Precedence, loosest first: or, and, not, of; parentheses group. ``name_*`` stands for
every matcher whose name starts with ``name_``. Parsing needs the matcher names so that
globs are expanded once, at load time, and a name the rule does not define is an error
then, not a silent false at scan time. No I/O here: the rule loader turns the
``ConditionError`` into a ``RuleError`` with file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import regex

_TOKEN = regex.compile(r"\s*(?:(\()|(\))|(,)|([A-Za-z_][A-Za-z0-9_]*\*?|\*)|(\d+)|(\S))")
_KEYWORDS = frozenset({"and", "or", "not", "of", "them", "all", "any"})


class ConditionError(ValueError):
    """The condition text is malformed or names something that does not exist."""


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Of:
    """At least ``count`` of ``names`` are true (``count == len(names)`` for "all")."""

    count: int
    names: tuple[str, ...]


Node = Name | Not | And | Or | Of


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.group(6) is not None:
            raise ConditionError(f"unexpected character {text[m.start(6) if m else pos]!r}")
        tokens.append(m.group(m.lastindex or 0))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str, names: Iterable[str]) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.names = tuple(names)
        self.used: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None:
            raise ConditionError(
                f"condition ends early, expected {expected!r}"
                if expected
                else "condition ends early"
            )
        if expected is not None and token != expected:
            raise ConditionError(f"expected {expected!r} but found {token!r}")
        self.pos += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise ConditionError("condition is empty")
        node = self.parse_or()
        if self.peek() is not None:
            raise ConditionError(f"unexpected {self.peek()!r} after a complete condition")
        return node

    def parse_or(self) -> Node:
        return self._parse_chain("or", self.parse_and, Or)

    def parse_and(self) -> Node:
        return self._parse_chain("and", self.parse_not, And)

    def _parse_chain(
        self, word: str, parse_operand: Callable[[], Node], node: Callable[[tuple[Node, ...]], Node]
    ) -> Node:
        """Operands joined by ``word`` (or, and): one alone is itself, more make ``node``."""
        operands = [parse_operand()]
        while self.peek() == word:
            self.take()
            operands.append(parse_operand())
        return operands[0] if len(operands) == 1 else node(tuple(operands))

    def parse_not(self) -> Node:
        if self.peek() == "not":
            self.take()
            return Not(self.parse_not())
        return self.parse_of()

    def parse_of(self) -> Node:
        token = self.peek()
        following = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
        if token is not None and following == "of" and (token.isdigit() or token in ("all", "any")):
            self.take()
            self.take("of")
            names = self.parse_of_set()
            if token == "all":
                count = len(names)
            elif token == "any":
                count = 1
            else:
                count = int(token)
                if count < 1 or count > len(names):
                    raise ConditionError(
                        f"'{token} of' asks for {count} of {len(names)} matcher(s): "
                        f"it can never be true"
                        if count > len(names)
                        else "'0 of' is always true; use a number from 1"
                    )
            return Of(count, names)
        return self.parse_atom()

    def parse_of_set(self) -> tuple[str, ...]:
        token = self.take()
        if token == "them":
            names = self.names
        elif token == "(":
            names_list = [self.parse_plain_name()]
            while self.peek() == ",":
                self.take()
                names_list.append(self.parse_plain_name())
            self.take(")")
            names = tuple(dict.fromkeys(names_list))
        elif token.endswith("*"):
            prefix = token[:-1]
            names = tuple(n for n in self.names if n.startswith(prefix))
            if not names:
                raise ConditionError(f"{token!r} matches no matcher")
        else:
            raise ConditionError(
                f"after 'of' expected 'them', a name_* pattern or (a, b), got {token!r}"
            )
        if not names:
            raise ConditionError("'of them' but the rule has no matchers")
        self.used.update(names)
        return names

    def parse_plain_name(self) -> str:
        token = self.take()
        if token in _KEYWORDS or not (token[0].isalpha() or token[0] == "_") or token.endswith("*"):
            raise ConditionError(f"expected a matcher name, got {token!r}")
        if token not in self.names:
            raise ConditionError(f"condition uses {token!r}, which is not a matcher of this rule")
        self.used.add(token)
        return token

    def parse_atom(self) -> Node:
        if self.peek() == "(":
            self.take()
            node = self.parse_or()
            self.take(")")
            return node
        token = self.peek()
        if token is not None and token.endswith("*"):
            raise ConditionError(f"{token!r} needs a quantity: '1 of {token}' or 'all of {token}'")
        return Name(self.parse_plain_name())


@dataclass(frozen=True)
class Condition:
    """A parsed condition and the matcher names it reads."""

    text: str
    root: Node
    used: frozenset[str]
    positive: frozenset[str]  # names not under a "not": their matches are evidence


def parse_condition(text: str, names: Iterable[str]) -> Condition:
    """Parse ``text`` against the rule's matcher ``names``; raise ``ConditionError``."""
    parser = _Parser(text, names)
    root = parser.parse()
    return Condition(text, root, frozenset(parser.used), frozenset(_positive_names(root)))


def _positive_names(node: Node) -> set[str]:
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Not):
        return set()
    if isinstance(node, Of):
        return set(node.names)
    out: set[str] = set()
    for operand in node.operands:
        out |= _positive_names(operand)
    return out


def evaluate(node: Node, lookup: Callable[[str], bool]) -> bool:
    """Evaluate with short-circuit, so matchers that cannot change the answer never run."""
    if isinstance(node, Name):
        return lookup(node.name)
    if isinstance(node, And):
        return all(evaluate(op, lookup) for op in node.operands)
    if isinstance(node, Or):
        return any(evaluate(op, lookup) for op in node.operands)
    if isinstance(node, Not):
        return not evaluate(node.operand, lookup)
    needed = node.count
    remaining = len(node.names)
    for name in node.names:
        if lookup(name):
            needed -= 1
            if needed == 0:
                return True
        remaining -= 1
        if remaining < needed:
            return False
    return needed <= 0


def required_groups(
    node: Node, is_ref: Callable[[str], bool]
) -> tuple[tuple[int, frozenset[str]], ...]:
    """Groups ``(count, names)`` of matchers, names for which ``is_ref`` is true: for
    ``node`` to be true, at least ``count`` of each group's names must be true.

    The rule engine reads them with rule references as names: a rule one of whose
    groups has too few candidate rules cannot match, and is not evaluated.
    """
    if isinstance(node, Name):
        return ((1, frozenset({node.name})),) if is_ref(node.name) else ()
    if isinstance(node, Not):
        return ()
    if isinstance(node, Of):
        refs = frozenset(name for name in node.names if is_ref(name))
        # Names that are not references may be true: they lower the count needed.
        count = node.count - (len(node.names) - len(refs))
        return ((count, refs),) if count >= 1 else ()
    groups = [required_groups(op, is_ref) for op in node.operands]
    if isinstance(node, And):
        return tuple(group for found in groups for group in found)
    if not all(groups):
        return ()  # an operand that requires nothing may be true alone
    return ((1, frozenset().union(*(names for found in groups for _, names in found))),)


Triggers = frozenset | None


def necessary_triggers(node: Node, triggers: Callable[[str], Triggers]) -> Triggers:
    """A set of keys of which at least one must be present for ``node`` to be true.

    ``None`` means no such set is known (the node may be true with nothing present).
    The rule engine indexes rules by these keys, so a message only evaluates the rules
    whose literals or detectors it contains.
    """
    if isinstance(node, Name):
        return triggers(node.name)
    if isinstance(node, Not):
        return None
    if isinstance(node, And):
        best: frozenset | None = None
        for operand in node.operands:
            found = necessary_triggers(operand, triggers)
            if found is not None and (best is None or _cost(found) < _cost(best)):
                best = found
        return best
    operands: Iterable[Triggers]
    if isinstance(node, Or):
        operands = (necessary_triggers(op, triggers) for op in node.operands)
    else:
        operands = (triggers(name) for name in node.names)
    union: set = set()
    for found in operands:
        if found is None:
            return None
        union |= found
    return frozenset(union)


def _cost(keys: frozenset) -> tuple[int, int]:
    # Prefer literal keys (free to test) over detector keys (they run code), then fewer.
    detectors = sum(1 for key in keys if key[0] == "det")
    return (detectors, len(keys))

"""Load, validate and compile YAML rule files (the format is in docs/rules.md).

Every error names the file, the line and the rule id, so an admin can fix it at once;
loading is all-or-nothing, so a running server keeps its old rules when a file is bad.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from re import _constants as sre_constants  # the stdlib's own regex parser: private but
from re import _parser as sre_parse  # stable since 3.11, and sre_parse warns on import
from typing import Any

import regex

from milter.errors import RuleError
from milter.scan.detectors import DETECTORS
from milter.scan.normalize import normalize
from milter.scan.rules.condition import Condition, ConditionError, parse_condition
from milter.scan.rules.yaml_source import YamlPositions, list_entry, read_yaml
from milter.scan.verdict import Action

TARGETS = frozenset(
    {
        "subject",
        "body",
        "html",
        "html.hidden",
        "text",
        "from.name",
        "from.address",
        "from.domain",
        "reply_to",
        "to",
        "url",
        "link.masked",
        "attachment.name",
        "attachment.type",
        "attachment.text",
        "image.text",
        "image.unread",
        "image.code",
        "author_text",
        "quoted_text",
        "footer",
        "envelope.from",
        "envelope.rcpt",
        "signature",
        "letterhead",
        "auth.spf",
        "auth.dkim",
        "auth.dmarc",
    }
)
RULE_KEYS = (
    "id",
    "title",
    "description",
    "score",
    "tags",
    "action",
    "references",
    "falsepositives",
    "matchers",
    "condition",
    "examples",
)
REQUIRED_KEYS = ("id", "description", "score", "matchers", "condition", "examples")
EXAMPLE_KEYS = frozenset(
    {
        "subject",
        "body",
        "html",
        "from",
        "reply_to",
        "to",
        "headers",
        "attachments",
        "envelope_from",
        "envelope_rcpt",
        "raw",
        "auth",
    }
)
# What an example may state of sender authentication (examples.example_auth).
EXAMPLE_AUTH_RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
_ID = re.compile(r"(?:__)?[A-Z][A-Z0-9_]*")
_MATCHER_NAME = regex.compile(r"[a-z][a-z0-9_]*")
_MAX_DISTANCE = 2
# A fuzzy phrase shorter than this matches too many ordinary words at distance 1.
FUZZY_MIN_LENGTH = 8
# Literals shorter than this are in nearly every message: useless as a prefilter.
MIN_LITERAL = 3


Literals = tuple[frozenset[str], ...]


@dataclass(frozen=True)
class RegexMatcher:
    name: str
    targets: tuple[str, ...]
    patterns: tuple[regex.Pattern, ...]
    # Per pattern: literal sets such that any match holds one literal of each, or None.
    literals: tuple[Literals | None, ...]
    min_count: int = 1
    # Per pattern: the longest match it can make, when short enough to search only
    # around the required literals (see _width_of), else None.
    widths: tuple[int | None, ...] = ()


@dataclass(frozen=True)
class PhraseMatcher:
    name: str
    targets: tuple[str, ...]
    phrases: tuple[str, ...]  # normalised
    distance: int = 0
    # For fuzzy phrases: (pattern, pieces of which one occurs exactly in any match).
    fuzzy: tuple[tuple[regex.Pattern, frozenset[str]], ...] = ()
    min_count: int = 1


@dataclass(frozen=True)
class DetectorMatcher:
    name: str
    targets: tuple[str, ...]
    detector: str
    min_count: int = 1


@dataclass(frozen=True)
class RuleRefMatcher:
    name: str
    rule_id: str


Matcher = RegexMatcher | PhraseMatcher | DetectorMatcher | RuleRefMatcher


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    score: float
    tags: tuple[str, ...]
    action: Action | None
    matchers: Mapping[str, Matcher]
    condition: Condition
    must_match: tuple[Mapping[str, Any], ...]
    must_not_match: tuple[Mapping[str, Any], ...]
    path: str
    line: int

    @property
    def internal(self) -> bool:
        """Building blocks (``__ID``) feed meta rules and are never reported."""
        return self.id.startswith("__")


# --- Files -------------------------------------------------------------------------


# In a rules directory, this file is the protected-identities registry (identities.py),
# not rules.
IDENTITIES_FILE = "identities.yml"
# The data files of the authority model beside it (scan/identities/government.py and
# lexicon.py, docs/authority.md): read with the registry, not as rules.
DATA_FILES = frozenset((IDENTITIES_FILE, "government_domains.yml", "authorities.yml"))


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """The ``*.yml`` files named by ``paths`` (files, or directories read in name order);
    a directory's ``identities.yml`` (the identity registry) and the authority model's
    data files (``DATA_FILES``) are left out."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.suffix == ".yml" and p.is_file() and p.name not in DATA_FILES
                )
            )
        elif path.name in DATA_FILES:
            continue
        elif path.exists():
            files.append(path)
        else:
            raise RuleError("no such rule file or directory", path=str(path))
    return files


def load_rules(paths: Iterable[Path]) -> tuple[Rule, ...]:
    """Load and compile every rule under ``paths``; raise ``RuleError`` on the first error."""
    rules: list[Rule] = []
    for file in rule_files(paths):
        rules.extend(load_rule_file(file))
    check_rule_set(rules)
    return tuple(rules)


def load_rules_collecting(paths: Iterable[Path]) -> tuple[tuple[Rule, ...], list[RuleError]]:
    """Like ``load_rules`` but keeps going, for ``rules lint``: every error is returned."""
    rules: list[Rule] = []
    errors: list[RuleError] = []
    try:
        files = rule_files(paths)
    except RuleError as exc:
        return (), [exc]
    for file in files:
        try:
            rules.extend(load_rule_file(file, errors=errors))
        except RuleError as exc:
            errors.append(exc)
    try:
        check_rule_set(rules)
    except RuleError as exc:
        errors.append(exc)
    return tuple(rules), errors


def load_rule_file(path: Path, *, errors: list[RuleError] | None = None) -> list[Rule]:
    """Compile one file. With ``errors``, bad rules are reported there and skipped."""
    data, positions = read_yaml(path, "rule file")
    name = str(path)
    for key, line in positions.duplicate_keys():
        _report(errors, RuleError(f"key {key!r} appears twice", path=name, line=line))
    if data is None:
        return []
    if not isinstance(data, list):
        raise RuleError("a rule file must be a YAML list of rules", path=name, line=1)
    rules: list[Rule] = []
    for index, item in enumerate(data):
        try:
            rules.append(_compile_rule(item, index, name, positions))
        except RuleError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return rules


def _report(errors: list[RuleError] | None, error: RuleError) -> None:
    if errors is None:
        raise error
    errors.append(error)


def check_rule_set(rules: list[Rule]) -> None:
    """Checks across rules: unique ids, meta references that exist and form no cycle."""
    by_id: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in by_id:
            first = by_id[rule.id]
            raise RuleError(
                f"duplicate id, first defined at {first.path}:{first.line}",
                path=rule.path,
                line=rule.line,
                rule_id=rule.id,
            )
        by_id[rule.id] = rule
    for rule in rules:
        for matcher in rule.matchers.values():
            if isinstance(matcher, RuleRefMatcher) and matcher.rule_id not in by_id:
                raise RuleError(
                    f"matcher {matcher.name!r} refers to unknown rule {matcher.rule_id!r}",
                    path=rule.path,
                    line=rule.line,
                    rule_id=rule.id,
                )
    order_rules(rules)


def order_rules(rules: Iterable[Rule]) -> list[Rule]:
    """Rules in an order where every rule comes after the rules it refers to."""
    by_id = {rule.id: rule for rule in rules}
    ordered: list[Rule] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(rule: Rule, chain: list[str]) -> None:
        mark = state.get(rule.id)
        if mark == 2:
            return
        if mark == 1:
            cycle = " -> ".join([*chain, rule.id])
            raise RuleError(
                f"meta rules refer to each other in a cycle: {cycle}",
                path=rule.path,
                line=rule.line,
                rule_id=rule.id,
            )
        state[rule.id] = 1
        for matcher in rule.matchers.values():
            if isinstance(matcher, RuleRefMatcher) and matcher.rule_id in by_id:
                visit(by_id[matcher.rule_id], [*chain, rule.id])
        state[rule.id] = 2
        ordered.append(rule)

    for rule in by_id.values():
        visit(rule, [])
    return ordered


# --- One rule ------------------------------------------------------------------------


def _compile_rule(item: Any, index: int, path: str, positions: YamlPositions) -> Rule:
    line = positions.line(index)
    rule_id, fail = list_entry(
        item,
        index,
        path,
        positions,
        shape="rule must be a mapping with id, matchers, condition…",
        id_pattern=_ID,
        id_example="SEXTORT_WEBCAM_EN",
    )

    unknown = [key for key in item if key not in RULE_KEYS]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} (allowed: {', '.join(RULE_KEYS)})", unknown[0])
    missing = [key for key in REQUIRED_KEYS if key not in item]
    if missing:
        raise fail(f"missing required key {missing[0]!r}")
    order = [RULE_KEYS.index(key) for key in item]
    if order != sorted(order):
        raise fail(f"keys must come in this order: {', '.join(k for k in RULE_KEYS if k in item)}")

    description = item["description"]
    if not isinstance(description, str) or not description.strip():
        raise fail("description must be a non-empty string", "description")
    title = item.get("title", "")
    if not isinstance(title, str):
        raise fail("title must be a string", "title")
    score = item["score"]
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise fail("score must be a number", "score")
    if rule_id.startswith("__") and score != 0:
        raise fail("a building-block rule (__ID) must have score 0", "score")
    tags = _string_list(item.get("tags", []), lambda m: fail(m, "tags"), "tags")
    _string_list(item.get("references", []), lambda m: fail(m, "references"), "references")
    _string_list(
        item.get("falsepositives", []), lambda m: fail(m, "falsepositives"), "falsepositives"
    )
    action = None
    if "action" in item:
        try:
            action = Action(item["action"])
        except ValueError:
            raise fail("action must be one of tag, quarantine, reject", "action") from None
        if action is Action.ACCEPT:
            raise fail("action must be one of tag, quarantine, reject", "action")

    matchers_raw = item["matchers"]
    if not isinstance(matchers_raw, dict) or not matchers_raw:
        raise fail("matchers must be a non-empty mapping of name: matcher", "matchers")
    matchers: dict[str, Matcher] = {}
    for name, spec in matchers_raw.items():
        if not isinstance(name, str) or not _MATCHER_NAME.fullmatch(name):
            raise fail(
                f"matcher name {name!r} must be lower case letters, digits and _", "matchers", name
            )
        matchers[name] = _compile_matcher(
            name, spec, lambda m, *keys, n=name: fail(m, "matchers", n, *keys)
        )

    condition_text = item["condition"]
    if not isinstance(condition_text, str):
        raise fail("condition must be a string", "condition")
    try:
        condition = parse_condition(condition_text, list(matchers))
    except ConditionError as exc:
        raise fail(f"condition: {exc}", "condition") from None
    unused = [name for name in matchers if name not in condition.used]
    if unused:
        raise fail(f"matcher {unused[0]!r} is not used by the condition", "matchers", unused[0])

    examples = item["examples"]
    if not isinstance(examples, dict):
        raise fail("examples must be a mapping with must_match and must_not_match", "examples")
    extra = [key for key in examples if key not in ("must_match", "must_not_match")]
    if extra:
        raise fail(f"unknown key {extra[0]!r} in examples", "examples", extra[0])
    lists = {}
    for kind in ("must_match", "must_not_match"):
        value = examples.get(kind)
        if not isinstance(value, list) or not value:
            raise fail(f"examples need a non-empty {kind} list", "examples")
        for number, example in enumerate(value):
            _check_example(example, lambda m, k=kind, n=number: fail(m, "examples", k, n))
        lists[kind] = tuple(value)

    return Rule(
        id=rule_id,
        title=title,
        description=description.strip(),
        score=float(score),
        tags=tags,
        action=action,
        matchers=matchers,
        condition=condition,
        must_match=lists["must_match"],
        must_not_match=lists["must_not_match"],
        path=path,
        line=line,
    )


def _string_list(value: Any, fail: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(f"{key} must be a list of strings")
    return tuple(value)


def _check_example(example: Any, fail: Any) -> None:
    if not isinstance(example, dict) or not example:
        raise fail("each example must be a mapping such as {subject: …, body: …}")
    unknown = [key for key in example if key not in EXAMPLE_KEYS]
    if unknown:
        raise fail(
            f"unknown example key {unknown[0]!r} (allowed: {', '.join(sorted(EXAMPLE_KEYS))})"
        )
    if "raw" in example and set(example) - {"raw", "auth"}:
        raise fail("an example with raw takes no other keys but auth")
    if "auth" in example:
        _check_example_auth(example["auth"], fail)


def _check_example_auth(spec: Any, fail: Any) -> None:
    allowed = ", ".join(EXAMPLE_AUTH_RESULTS)
    if not isinstance(spec, dict) or not spec or set(spec) - {"spf", "dkim", "dmarc"}:
        raise fail("example auth must be a mapping of spf, dkim and dmarc to results")
    for method, value in spec.items():
        values = value if method == "dkim" and isinstance(value, list) else [value]
        if not all(v in EXAMPLE_AUTH_RESULTS for v in values):
            raise fail(f"example auth {method}: {value!r} is not a result ({allowed})")


_MATCHER_KINDS = ("regex", "phrases", "detector", "rule")


def _compile_matcher(name: str, spec: Any, fail: Any) -> Matcher:
    if not isinstance(spec, dict):
        raise fail(
            f"matcher {name!r} must be a mapping with target and one of {', '.join(_MATCHER_KINDS)}"
        )
    kinds = [kind for kind in _MATCHER_KINDS if kind in spec]
    if len(kinds) != 1:
        raise fail(f"matcher {name!r} needs exactly one of {', '.join(_MATCHER_KINDS)}")
    kind = kinds[0]
    allowed = {"rule"} if kind == "rule" else {"target", kind, "min_count"}
    if kind == "phrases":
        allowed.add("distance")
    unknown = [key for key in spec if key not in allowed]
    if unknown:
        raise fail(f"matcher {name!r}: unknown key {unknown[0]!r} for a {kind} matcher", unknown[0])
    if kind == "rule":
        if not isinstance(spec["rule"], str) or not _ID.fullmatch(spec["rule"]):
            raise fail(f"matcher {name!r}: rule must be a rule id", "rule")
        return RuleRefMatcher(name, spec["rule"])

    targets = _targets(spec.get("target"), name, lambda m: fail(m, "target"))
    min_count = spec.get("min_count", 1)
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise fail(f"matcher {name!r}: min_count must be a whole number from 1", "min_count")

    if kind == "regex":
        raw = spec["regex"]
        patterns = [raw] if isinstance(raw, str) else raw
        if (
            not isinstance(patterns, list)
            or not patterns
            or not all(isinstance(p, str) for p in patterns)
        ):
            raise fail(f"matcher {name!r}: regex must be a pattern or a list of patterns", "regex")
        compiled = []
        literals = []
        widths = []
        for pattern in patterns:
            try:
                compiled.append(regex.compile(pattern, regex.IGNORECASE))
            except regex.error as exc:
                raise fail(f"matcher {name!r}: bad regex {pattern!r}: {exc}", "regex") from None
            parsed = _parse_pattern(pattern)
            literals.append(_literals_of(parsed))
            widths.append(_width_of(parsed))
        return RegexMatcher(
            name, targets, tuple(compiled), tuple(literals), min_count, tuple(widths)
        )

    if kind == "phrases":
        raw_phrases = spec["phrases"]
        if (
            not isinstance(raw_phrases, list)
            or not raw_phrases
            or not all(isinstance(p, str) and p.strip() for p in raw_phrases)
        ):
            raise fail(f"matcher {name!r}: phrases must be a non-empty list of strings", "phrases")
        distance = spec.get("distance", 0)
        if (
            isinstance(distance, bool)
            or not isinstance(distance, int)
            or not 0 <= distance <= _MAX_DISTANCE
        ):
            raise fail(f"matcher {name!r}: distance must be 0, 1 or 2", "distance")
        phrases = tuple(dict.fromkeys(normalize(p).text for p in raw_phrases))
        fuzzy = tuple(
            (_fuzzy_pattern(p, distance), _pieces(p, distance))
            for p in phrases
            if distance and len(p) >= FUZZY_MIN_LENGTH
        )
        return PhraseMatcher(name, targets, phrases, distance, fuzzy, min_count)

    detector = spec["detector"]
    if detector not in DETECTORS:
        raise fail(
            f"matcher {name!r}: unknown detector {detector!r} "
            f"(known: {', '.join(sorted(DETECTORS))})",
            "detector",
        )
    return DetectorMatcher(name, targets, detector, min_count)


def _targets(value: Any, name: str, fail: Any) -> tuple[str, ...]:
    if value is None:
        raise fail(f"matcher {name!r} needs a target")
    targets = [value] if isinstance(value, str) else value
    if not isinstance(targets, list) or not targets:
        raise fail(f"matcher {name!r}: target must be a name or a list of names")
    out = []
    for target in targets:
        if not isinstance(target, str):
            raise fail(f"matcher {name!r}: target must be a name or a list of names")
        if target.startswith("header:") and len(target) > len("header:"):
            out.append("header:" + target[len("header:") :].lower())
        elif target in TARGETS:
            out.append(target)
        else:
            raise fail(
                f"matcher {name!r}: unknown target {target!r} "
                f"(known: {', '.join(sorted(TARGETS))}, header:NAME)"
            )
    return tuple(dict.fromkeys(out))


def _fuzzy_pattern(phrase: str, distance: int) -> regex.Pattern:
    # Fuzzy matching allows substitutions, insertions and deletions ("bitcoln", "bit coin").
    return regex.compile(
        rf"(?<!\w)(?:{regex.escape(phrase)}){{e<={distance}}}(?!\w)",
        regex.IGNORECASE | regex.BESTMATCH,
    )


def _pieces(phrase: str, distance: int) -> frozenset[str]:
    """Split into distance+1 pieces: any match within ``distance`` edits keeps one intact."""
    count = distance + 1
    size = len(phrase) // count
    pieces = [
        phrase[i * size : (i + 1) * size if i < count - 1 else len(phrase)] for i in range(count)
    ]
    return frozenset(pieces)


# --- Required literals of a regex ----------------------------------------------------


def _parse_pattern(pattern: str) -> Any | None:
    """The stdlib parser's tree of ``pattern``, or None for syntax only ``regex`` knows."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sre_parse.parse(pattern, 0)
    except (sre_constants.error, RecursionError, OverflowError, ValueError):
        return None


def _literals_of(parsed: Any | None) -> Literals | None:
    """Sets of literals such that every match of the parsed pattern contains one of each.

    The rule engine runs the regex only when every set has a member in the text, and
    indexes the rule by the most selective set. Read with the stdlib parser; patterns
    using syntax only the ``regex`` module knows (``parsed`` is None) get None and are
    always run (correct, just not prefiltered).
    """
    if parsed is None:
        return None
    found = _seq_literals(list(parsed))
    if not found:
        return None
    found.sort(key=_selectivity, reverse=True)
    return tuple(found[:_MAX_LITERAL_SETS])


# A regex whose matches are at most this long is searched only in windows around its
# required literal; lookaheads may read this far past a window's end.
MAX_WINDOW = 2000
LOOKAHEAD_SLACK = 64


def _width_of(parsed: Any | None) -> int | None:
    """The longest match of the parsed pattern, if bounded by MAX_WINDOW and with no
    lookahead reading further than LOOKAHEAD_SLACK; else None (search the whole text)."""
    if parsed is None or not _lookaheads_short(list(parsed)):
        return None
    width = parsed.getwidth()[1]
    return width if width <= MAX_WINDOW else None


def _lookaheads_short(items: list) -> bool:
    for op, av in items:
        if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            direction, sub = av
            if direction == 1 and sub.getwidth()[1] > LOOKAHEAD_SLACK:
                return False
            if not _lookaheads_short(list(sub)):
                return False
        elif op is sre_constants.SUBPATTERN:
            if not _lookaheads_short(list(av[-1])):
                return False
        elif op is sre_constants.BRANCH:
            if not all(_lookaheads_short(list(b)) for b in av[1]):
                return False
        elif op in _REPEATS:
            if not _lookaheads_short(list(av[2])):
                return False
        elif _ATOMIC is not None and op is _ATOMIC and not _lookaheads_short(list(av)):
            return False
    return True


# Checking more sets than this costs more than the regex runs it saves.
_MAX_LITERAL_SETS = 4


def _selectivity(literals: frozenset[str]) -> tuple[int, int]:
    # Longer literals are rarer; of equal length, fewer alternatives are rarer.
    return (min(map(len, literals)), -len(literals))


def best_literals(literals: Literals) -> frozenset[str]:
    """The most selective set: the one the engine indexes a rule by."""
    return max(literals, key=_selectivity)


_LITERAL = sre_constants.LITERAL
_SUBPATTERN = sre_constants.SUBPATTERN
_BRANCH = sre_constants.BRANCH
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) + (
    (sre_constants.POSSESSIVE_REPEAT,) if hasattr(sre_constants, "POSSESSIVE_REPEAT") else ()
)
_ATOMIC = getattr(sre_constants, "ATOMIC_GROUP", None)
# Zero-width items neither add nor break a literal run.
_ZERO_WIDTH = (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT)


def _usable(literals: frozenset[str]) -> bool:
    return bool(literals) and min(map(len, literals)) >= MIN_LITERAL


_MAX_LEADS = 32
_IN = sre_constants.IN


def _class_chars(av: list) -> list[str] | None:
    """The characters of a small class of plain characters ("[ée]", "[ôo]"), else None."""
    if len(av) > 4 or any(op is not _LITERAL for op, _ in av):
        return None
    return [chr(code) for _, code in av]


def _extend(texts: list[str], op: Any, av: Any) -> list[str] | None:
    """``texts`` each followed by the character ``op`` matches, or None when it is no
    plain character or small class, or the variants would be too many."""
    if op is _LITERAL:
        return [text + chr(av) for text in texts]
    if op is _IN:
        chars = _class_chars(av)
        if chars is not None and len(texts) * len(chars) <= _MAX_LEADS:
            return [text + char for text in texts for char in chars]
    return None


def _leads(items: list) -> set[str] | None:
    """The lower-case literal texts one of which every match of ``items`` starts with,
    each at least one character; None when some match may start otherwise."""
    heads = [""]
    for op, av in items:
        if op in _ZERO_WIDTH:
            continue
        longer = _extend(heads, op, av)
        if longer is not None:
            heads = longer
            continue
        alternatives: set[str] | None = None
        if op is _SUBPATTERN:
            alternatives = _leads(list(av[-1]))
        elif op is _BRANCH:
            alternatives = set()
            for branch in av[1]:
                found = _leads(list(branch))
                if found is None:
                    alternatives = None
                    break
                alternatives |= found
        if alternatives is None or len(alternatives) * len(heads) > _MAX_LEADS:
            break
        return {head.lower() + alternative for head in heads for alternative in alternatives}
    return {head.lower() for head in heads} if heads[0] else None


def _seq_literals(items: list) -> list[frozenset[str]]:
    """Every literal set the sequence ``items`` requires (all of them must occur)."""
    required: list[frozenset[str]] = []
    # The text just read, in each of its spellings when a small class ("vid[ée]o")
    # allows several: one of them is in every match.
    run: list[str] = [""]

    def flush() -> None:
        if run[0]:
            # Lower case only: the text is lower case, and any other folding the
            # pattern's own literal would not survive either.
            literal = frozenset(text.lower() for text in run)
            if _usable(literal):
                required.append(literal)
        run[:] = [""]

    for op, av in items:
        if op in _ZERO_WIDTH:
            continue
        longer = _extend(run, op, av)
        if longer is not None:
            run[:] = longer
            continue
        if run[0] and (op is _BRANCH or op is _SUBPATTERN):
            # The parser factors a common prefix out of an alternation ("access|account"
            # is "acc" and a branch): the run with each branch's start is rarer.
            leads = _leads([(op, av)])
            if leads and len(leads) * len(run) <= _MAX_LEADS:
                joined = frozenset(text.lower() + lead for text in run for lead in leads)
                if _usable(joined):
                    required.append(joined)
        flush()
        if op is _SUBPATTERN:
            required.extend(_seq_literals(list(av[-1])))
        elif op is _BRANCH:
            # One branch matches: what is required is one of each branch's best set.
            union: set[str] = set()
            for branch in av[1]:
                sub = _seq_literals(list(branch))
                if not sub:
                    union.clear()
                    break
                union |= max(sub, key=_selectivity)
            if union and _usable(frozenset(union)):
                required.append(frozenset(union))
        elif op in _REPEATS:
            low, _high, sub = av
            if low >= 1:
                required.extend(_seq_literals(list(sub)))
        elif _ATOMIC is not None and op is _ATOMIC:
            required.extend(_seq_literals(list(av)))
    flush()
    return list(dict.fromkeys(required))

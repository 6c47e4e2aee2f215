"""Match compiled rules against one message's texts.

Cost must grow with the message, not with the number of rules. So every literal that
any rule needs (phrases, the required literals of each regex, pieces of fuzzy phrases)
goes into one Aho-Corasick automaton, run once over each text. Rules are indexed by the
literals (or detectors) of which at least one must be present for them to be true; a
message only evaluates the rules it could possibly match, and each of those evaluates
its condition lazily, running a regex only when its own literal was seen. Building
blocks (``__ID``) that only detectors could select are evaluated when a rule that refers
to them is, unless the caller asks for every rule (rule examples do).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import ahocorasick
import regex

from milter.scan.detectors import DETECTORS, DetectorContext, Hit
from milter.scan.normalize import NormalizedText
from milter.scan.rules.condition import (
    evaluate,
    necessary_triggers,
    required_groups,
)
from milter.scan.rules.loader import (
    LOOKAHEAD_SLACK,
    DetectorMatcher,
    Matcher,
    PhraseMatcher,
    RegexMatcher,
    Rule,
    RuleRefMatcher,
    best_literals,
    order_rules,
)

# Evidence is for a human reading a quarantine entry: a few short quotes per matcher.
MAX_EVIDENCE_PER_MATCHER = 3
MAX_EVIDENCE_PER_RULE = 6
MAX_EVIDENCE_CHARS = 160

TargetSource = Callable[[str], Sequence[NormalizedText]]
TriggerKey = tuple[str, str, str]  # ("lit", target, literal) or ("det", target, detector)


@dataclass(frozen=True)
class RuleMatch:
    rule: Rule
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class MatcherResult:
    matched: bool
    evidence: tuple[str, ...] = ()


_NO = MatcherResult(False)


@dataclass(frozen=True)
class MatchOutcome:
    matches: tuple[RuleMatch, ...]
    notes: tuple[str, ...]
    evaluated: int  # rules whose condition ran: shows the prefilter at work in benchmarks


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


# Targets costly to build (the zones cut every text into lines) whose literals do not
# select rules: the rules that use them are building blocks that filters refer to
# ("and not filter_warning"), rarely reached on ordinary mail. A rule indexed by such a
# target is not a candidate by its literals but "unchecked": evaluated, and the target
# built, only when a rule being resolved refers to it. Sound: the evaluation is exact.
DEFERRED_TARGETS = frozenset({"author_text", "quoted_text", "footer"})


class RuleSet:
    """Rules compiled for matching. Immutable after construction; share it freely."""

    def __init__(
        self, rules: Iterable[Rule], *, regex_timeout: float = 0.2, prefilter: bool = True
    ) -> None:
        """``prefilter=False`` evaluates every rule on every message: for tests and benchmarks."""
        self.rules: tuple[Rule, ...] = tuple(order_rules(rules))
        self.regex_timeout = regex_timeout
        self.prefilter = prefilter
        self._position = {rule.id: i for i, rule in enumerate(self.rules)}
        triggers: dict[str, frozenset[TriggerKey] | None] = {}
        literal_index: dict[str, dict[str, set[int]]] = {}
        detector_index: dict[tuple[str, str], set[int]] = {}
        always: set[int] = set()
        literals: set[str] = set()
        for position, rule in enumerate(self.rules):
            found = necessary_triggers(
                rule.condition.root,
                lambda name, r=rule: _matcher_triggers(r.matchers[name], triggers),
            )
            triggers[rule.id] = found
            if found is None or not prefilter:
                always.add(position)
                continue
            for kind, target, value in found:
                if kind == "lit":
                    literal_index.setdefault(target, {}).setdefault(value, set()).add(position)
                else:
                    detector_index.setdefault((target, value), set()).add(position)
        indexed: set[str] = set()
        for rule in self.rules:
            for rule_matcher in rule.matchers.values():
                literals.update(_matcher_literals(rule_matcher))
                indexed.update(_indexed_literals(rule_matcher))
        self._literal_index = {
            t: {k: frozenset(v) for k, v in m.items()} for t, m in literal_index.items()
        }
        self._detector_index = {k: frozenset(v) for k, v in detector_index.items()}
        self._always = frozenset(always)
        # Rules evaluated for their own sake. The others, building blocks (__ID) without
        # an action, only matter to the rules that refer to them.
        self._needed = frozenset(
            position
            for position, rule in enumerate(self.rules)
            if not rule.internal or rule.action is not None
        )
        # Deferred targets (DEFERRED_TARGETS) that select building blocks only, and the
        # rules they would select: those are judged on demand instead.
        deferred = {
            target: frozenset().union(*index.values())
            for target, index in self._literal_index.items()
            if target in DEFERRED_TARGETS
        }
        self._deferred_targets = frozenset(
            target for target, rules in deferred.items() if rules.isdisjoint(self._needed)
        )
        self._deferred = frozenset().union(
            *(rules for target, rules in deferred.items() if target in self._deferred_targets)
        )
        # For a rule that refers to others: groups of the rules it refers to, with how
        # many of each must match for it to match. A run drops a candidate one of whose
        # groups has too few candidates ("a and b" where b's literals are absent).
        # In rule order: a referred rule is settled before the rules that refer to it.
        self._required: list[tuple[int, tuple[tuple[int, frozenset[int]], ...]]] = []
        for position, rule in enumerate(self.rules):
            refs = {
                name: self._position[matcher.rule_id]
                for name, matcher in rule.matchers.items()
                if isinstance(matcher, RuleRefMatcher) and matcher.rule_id in self._position
            }
            groups = required_groups(rule.condition.root, refs.__contains__)
            if groups:
                required = tuple(
                    (count, frozenset(refs[name] for name in names)) for count, names in groups
                )
                self._required.append((position, required))
        # Rules often share a matcher (the same detector, the same phrase list): one
        # signature per distinct matcher lets a message evaluate each only once.
        self._signatures = {
            (rule.id, name): _signature(matcher)
            for rule in self.rules
            for name, matcher in rule.matchers.items()
        }
        # For each regex matcher whose every pattern has literals: the literals by which
        # each pattern is indexed. A text that holds none of them is passed over in one
        # set test instead of one test per pattern (most texts hold none).
        self._gates: dict[tuple[str, str], frozenset[str]] = {
            (rule.id, name): frozenset().union(*map(best_literals, matcher.literals))  # type: ignore[arg-type]
            for rule in self.rules
            for name, matcher in rule.matchers.items()
            if isinstance(matcher, RegexMatcher)
            and all(literals is not None for literals in matcher.literals)
        }
        # A literal like "xxx" matches at every position of "xxxxxxxx…": in the automaton
        # it would cost a Python step per character of such a run. These are looked up
        # with str.find instead, their positions capped (see _Run.occurrences_in).
        self._periodic = tuple(sorted(lit for lit in literals if _periodic(lit)))
        self._whole_words = {lit: _word_pattern(lit) for lit in self._periodic}
        literals -= set(self._periodic)
        # Only the literals that select rules or phrases go into the automaton. The
        # other literals a regex requires ("the", " to ") exist to narrow its search;
        # they occur hundreds of times in a letter, and the automaton would cost a
        # Python step for each. They are looked up with str.find, and only when a rule
        # that needs them is evaluated.
        lazy = literals - indexed
        self._lazy = frozenset(lazy)
        # For each literal set a regex requires that has members outside the automaton:
        # those members.
        self._lazy_members = {
            group: tuple(sorted(group & lazy))
            for rule in self.rules
            for rule_matcher in rule.matchers.values()
            if isinstance(rule_matcher, RegexMatcher)
            for groups in rule_matcher.literals
            for group in groups or ()
            if not group.isdisjoint(lazy)
        }
        literals &= indexed
        self._automaton: ahocorasick.Automaton | None = None
        if literals:
            automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
            for literal in literals:
                automaton.add_word(literal, literal)
            automaton.make_automaton()
            self._automaton = automaton

    def __len__(self) -> int:
        return len(self.rules)

    def match(
        self, source: TargetSource, context: DetectorContext, *, every_rule: bool = True
    ) -> MatchOutcome:
        """The rules that match the message whose texts ``source`` gives.

        With ``every_rule`` false, a building block is evaluated only when a rule that
        refers to it is: the reported rules are the same, but building blocks nobody
        asked about are left out (and their detectors do not run).
        """
        run = _Run(self, source, context, every_rule=every_rule)
        return run.execute()


def _matcher_triggers(
    matcher: Matcher, rule_triggers: dict[str, frozenset[TriggerKey] | None]
) -> frozenset[TriggerKey] | None:
    if isinstance(matcher, RuleRefMatcher):
        return rule_triggers.get(matcher.rule_id)
    if isinstance(matcher, DetectorMatcher):
        return frozenset(("det", target, matcher.detector) for target in matcher.targets)
    if isinstance(matcher, PhraseMatcher):
        values = _matcher_literals(matcher)
        return frozenset(("lit", target, value) for target in matcher.targets for value in values)
    union: set[str] = set()
    for literals in matcher.literals:
        if literals is None:
            return None
        union |= best_literals(literals)
    return frozenset(("lit", target, value) for target in matcher.targets for value in union)


def _signature(matcher: Matcher) -> tuple:
    """What a matcher's result depends on: equal signatures, equal results."""
    if isinstance(matcher, RuleRefMatcher):
        return ("rule", matcher.rule_id)
    if isinstance(matcher, DetectorMatcher):
        return ("det", matcher.targets, matcher.detector, matcher.min_count)
    if isinstance(matcher, PhraseMatcher):
        return ("phrases", matcher.targets, matcher.phrases, matcher.distance, matcher.min_count)
    patterns = tuple(p.pattern for p in matcher.patterns)
    return ("regex", matcher.targets, patterns, matcher.min_count)


def _matcher_literals(matcher: Matcher) -> set[str]:
    if isinstance(matcher, PhraseMatcher):
        out = set(matcher.phrases)
        for _pattern, pieces in matcher.fuzzy:
            out |= pieces
        return out
    if isinstance(matcher, RegexMatcher):
        out = set()
        for literals in matcher.literals:
            for alternatives in literals or ():
                out |= alternatives
        return out
    return set()


def _indexed_literals(matcher: Matcher) -> set[str]:
    """The literals the automaton records for ``matcher``: every phrase (and piece of a
    fuzzy phrase), and the literal set each regex is indexed by."""
    if isinstance(matcher, PhraseMatcher):
        return _matcher_literals(matcher)
    out: set[str] = set()
    if isinstance(matcher, RegexMatcher):
        for literals in matcher.literals:
            if literals is not None:
                out |= best_literals(literals)
    return out


class _Run:
    """The state of matching one message: caches that live as long as the scan."""

    def __init__(
        self,
        ruleset: RuleSet,
        source: TargetSource,
        context: DetectorContext,
        *,
        every_rule: bool = True,
    ) -> None:
        self.ruleset = ruleset
        self.source = source
        self.context = context
        self.every_rule = every_rule
        self.chosen: set[int] = set()
        # Building blocks whose detector was not run: a rule referring to one evaluates
        # it (see resolve).
        self.unchecked: set[int] = set()
        self.evaluated = 0
        self.occurrences: dict[int, dict[str, list[int]]] = {}
        # id(text) -> literals whose recorded positions in that text are incomplete.
        self.overflowed: dict[int, set[str]] = {}
        # (id(text), literal) -> end indexes of a literal outside the automaton.
        self.lazy_positions: dict[tuple[int, str], list[int]] = {}
        self.detections: dict[tuple[int, str], list[Hit]] = {}
        self.texts: dict[str, Sequence[NormalizedText]] = {}
        self.results: dict[str, RuleMatch | None] = {}
        self.matcher_results: dict[tuple, MatcherResult] = {}
        self.notes: list[str] = []
        # (pattern, text, pos, endpos) -> every match of a search that ran to its end.
        self.searches: dict[tuple[regex.Pattern, str, int, int], list[regex.Match]] = {}

    def target(self, name: str) -> Sequence[NormalizedText]:
        texts = self.texts.get(name)
        if texts is None:
            texts = self.source(name)
            self.texts[name] = texts
        return texts

    def occurrences_in(self, text: NormalizedText) -> dict[str, list[int]]:
        """literal -> end index (inclusive) of each occurrence in ``text.text``."""
        key = id(text)
        found = self.occurrences.get(key)
        if found is None:
            found = {}
            content = text.text
            automaton = self.ruleset._automaton
            if automaton is not None and content:
                # One step per occurrence of every literal (short ones like " to " occur
                # hundreds of times in a letter): kept to a look-up and an append.
                get = found.get
                for end, literal in automaton.iter(content):
                    ends = get(literal)
                    if ends is None:
                        found[literal] = [end]
                    else:
                        ends.append(end)
            for literal in self.ruleset._periodic:
                position = content.find(literal)
                if position < 0:
                    continue
                ends = found[literal] = []
                while position >= 0:
                    if len(ends) == MAX_PERIODIC_POSITIONS:
                        # The list is incomplete: phrase checks and regex windows that
                        # rely on it fall back to searching the whole text.
                        self.overflowed.setdefault(key, set()).add(literal)
                        break
                    ends.append(position + len(literal) - 1)
                    position = content.find(literal, position + 1)
            self.occurrences[key] = found
        return found

    def positions(self, text: NormalizedText, literal: str) -> Sequence[int]:
        """End indexes (inclusive) of every occurrence of ``literal`` in ``text.text``."""
        ends = self.occurrences_in(text).get(literal)
        if ends is not None or literal not in self.ruleset._lazy:
            return ends or ()
        key = (id(text), literal)
        ends = self.lazy_positions.get(key)
        if ends is None:
            ends = []
            content = text.text
            last = len(literal) - 1
            position = content.find(literal)
            while position >= 0:
                ends.append(position + last)
                position = content.find(literal, position + 1)
            self.lazy_positions[key] = ends
        return ends

    def lacks_a_group(
        self, text: NormalizedText, found: dict[str, list[int]], groups: Sequence[frozenset[str]]
    ) -> bool:
        """True when ``text`` holds no literal of one of ``groups`` (each literal set a
        regex requires): the regex cannot match there."""
        # A loop, not any() over a generator: this runs for every pattern of every
        # evaluated matcher, and the set test in C decides nearly every group alone.
        present = found.keys()
        lazy_members = self.ruleset._lazy_members
        for group in groups:
            if present.isdisjoint(group):
                members = lazy_members.get(group)
                if members is None:
                    return True
                content = text.text
                for literal in members:
                    if literal in content:
                        break
                else:
                    return True
        return False

    def detect(self, text: NormalizedText, detector: str) -> list[Hit]:
        key = (id(text), detector)
        hits = self.detections.get(key)
        if hits is None:
            hits = DETECTORS[detector](text, self.context)
            self.detections[key] = hits
        return hits

    def candidates(self) -> set[int]:
        ruleset = self.ruleset
        chosen = set(ruleset._always)
        # The rules a deferred target would select are judged by their conditions when
        # a rule refers to them, and the target is built only then (see DEFERRED_TARGETS).
        deferred = ruleset._deferred_targets if not self.every_rule else frozenset()
        if deferred:
            self.unchecked |= ruleset._deferred
        for target, index in ruleset._literal_index.items():
            if target in deferred:
                continue
            for text in self.target(target):
                for literal in self.occurrences_in(text):
                    rules = index.get(literal)
                    if rules:
                        chosen |= rules
        needed = ruleset._needed
        for (target, detector), rules in ruleset._detector_index.items():
            if rules <= chosen:
                continue
            if not self.every_rule and needed.isdisjoint(rules):
                self.unchecked |= rules
                continue
            if any(self.detect(text, detector) for text in self.target(target)):
                chosen |= rules
        return chosen

    def prune(self) -> None:
        """Drop from the candidates (and the unchecked) every rule that requires more
        of the rules it refers to than are left (see RuleSet._required)."""
        alive = self.chosen | self.unchecked
        dropped = False
        for position, groups in self.ruleset._required:
            if position not in alive:
                continue
            for count, members in groups:
                if count == 1:
                    if members.isdisjoint(alive):
                        break
                elif len(members & alive) < count:
                    break
            else:
                continue
            alive.discard(position)
            dropped = True
        if dropped:
            self.chosen &= alive
            self.unchecked &= alive

    def execute(self) -> MatchOutcome:
        rules = self.ruleset.rules
        self.chosen = self.candidates()
        if self.ruleset.prefilter:
            self.prune()
        order = self.chosen if self.every_rule else self.chosen & self.ruleset._needed
        # Rules come after the rules they refer to (order_rules): in this order every
        # referred result is ready, and resolve only evaluates skipped building blocks.
        for position in sorted(order):
            self.resolve(position)
        matches = [
            result
            for position in sorted(self.ruleset._position[i] for i in self.results)
            if (result := self.results[rules[position].id]) is not None
        ]
        return MatchOutcome(tuple(matches), tuple(self.notes), self.evaluated)

    def resolve(self, position: int) -> RuleMatch | None:
        """The result of rule ``position``, evaluated once."""
        rule = self.ruleset.rules[position]
        if rule.id in self.results:
            return self.results[rule.id]
        result = None
        # A rule that is not a candidate cannot match (the prefilter is sound), unless
        # its detector was skipped: then its conditions decide.
        if position in self.chosen or position in self.unchecked:
            self.evaluated += 1
            result = self.evaluate_rule(rule)
        self.results[rule.id] = result
        return result

    def evaluate_rule(self, rule: Rule) -> RuleMatch | None:
        cache: dict[str, MatcherResult] = {}
        signatures = self.ruleset._signatures
        shared = self.matcher_results

        def lookup(name: str) -> bool:
            result = cache.get(name)
            if result is None:
                signature = signatures[(rule.id, name)]
                result = shared.get(signature)
                if result is None:
                    result = self.evaluate_matcher(rule, rule.matchers[name])
                    shared[signature] = result
                cache[name] = result
            return result.matched

        if not evaluate(rule.condition.root, lookup):
            return None
        evidence: list[str] = []
        for name in rule.matchers:
            result = cache.get(name)
            if result is not None and result.matched and name in rule.condition.positive:
                for item in result.evidence:
                    if item not in evidence:
                        evidence.append(item)
        return RuleMatch(rule, tuple(evidence[:MAX_EVIDENCE_PER_RULE]))

    def evaluate_matcher(self, rule: Rule, matcher: Matcher) -> MatcherResult:
        if isinstance(matcher, RuleRefMatcher):
            position = self.ruleset._position.get(matcher.rule_id)
            referred = None if position is None else self.resolve(position)
            return MatcherResult(True, referred.evidence) if referred is not None else _NO
        if isinstance(matcher, PhraseMatcher):
            return self.match_phrases(matcher)
        if isinstance(matcher, RegexMatcher):
            return self.match_regex(rule, matcher)
        return self.match_detector(matcher)

    def match_phrases(self, matcher: PhraseMatcher) -> MatcherResult:
        seen: dict[str, str] = {}
        for target in matcher.targets:
            for text in self.target(target):
                found = self.occurrences_in(text)
                content = text.text
                for phrase in matcher.phrases:
                    if phrase in seen:
                        continue
                    for end in found.get(phrase, ()):
                        start = end - len(phrase) + 1
                        if _bounded(content, start, end + 1, phrase):
                            seen[phrase] = text.evidence(start, end + 1)
                            break
                    else:
                        if phrase in self.overflowed.get(id(text), ()):
                            m = self.ruleset._whole_words[phrase].search(content)
                            if m is not None:
                                seen[phrase] = text.evidence(m.start(), m.end())
                    if len(seen) >= matcher.min_count:
                        return _result(seen.values())
                for pattern, pieces in matcher.fuzzy:
                    if not any(piece in found for piece in pieces):
                        continue
                    for m in self.finditer(pattern, content, matcher.name):
                        value = m.group().strip()
                        if value and value not in seen:
                            seen[value] = text.evidence(m.start(), m.end())
                        if len(seen) >= matcher.min_count:
                            return _result(seen.values())
        return _result(seen.values()) if len(seen) >= matcher.min_count else _NO

    def match_regex(self, rule: Rule, matcher: RegexMatcher) -> MatcherResult:
        seen: dict[str, str] = {}
        where = f"{rule.id}.{matcher.name}"
        widths = matcher.widths or (None,) * len(matcher.patterns)
        gate = self.ruleset._gates.get((rule.id, matcher.name)) if self.ruleset.prefilter else None
        for target in matcher.targets:
            for text in self.target(target):
                found = None
                if gate is not None:
                    found = self.occurrences_in(text)
                    if found.keys().isdisjoint(gate):
                        continue
                for pattern, literals, width in zip(
                    matcher.patterns, matcher.literals, widths, strict=True
                ):
                    windows: list[tuple[int, int]] | None = None
                    if literals is not None:
                        if found is None:
                            found = self.occurrences_in(text)
                        # Each group needs one literal present.
                        if self.lacks_a_group(text, found, literals):
                            continue
                        if width is not None and self.ruleset.prefilter:
                            incomplete = self.overflowed.get(id(text), frozenset())
                            windows = _windows(
                                lambda literal, t=text: self.positions(t, literal),
                                literals,
                                width,
                                len(text.text),
                                incomplete,
                            )
                    for m in self.search(pattern, text.text, windows, where):
                        value = m.group()
                        if value not in seen:
                            seen[value] = text.evidence(m.start(), m.end())
                        if len(seen) >= matcher.min_count:
                            return _result(seen.values())
        return _result(seen.values()) if len(seen) >= matcher.min_count else _NO

    def match_detector(self, matcher: DetectorMatcher) -> MatcherResult:
        seen: dict[str, str] = {}
        for target in matcher.targets:
            for text in self.target(target):
                for hit in self.detect(text, matcher.detector):
                    if hit.value not in seen:
                        seen[hit.value] = (
                            text.labelled(hit.evidence)
                            if hit.evidence is not None
                            else text.evidence(hit.start, hit.end, cased=hit.cased)
                        )
                    if len(seen) >= matcher.min_count:
                        return _result(seen.values())
        return _NO

    def search(
        self,
        pattern: regex.Pattern,
        text: str,
        windows: list[tuple[int, int]] | None,
        where: str,
    ) -> Iterable[regex.Match]:
        """Matches in the whole text, or only inside ``windows`` (each found once)."""
        if windows is None:
            yield from self.finditer(pattern, text, where)
            return
        last_end = -1
        for start, end in windows:
            for m in self.finditer(pattern, text, where, start, end):
                if m.start() >= last_end:
                    last_end = m.end() if m.end() > m.start() else m.end() + 1
                    yield m

    def finditer(
        self, pattern: regex.Pattern, text: str, where: str, pos: int = 0, endpos: int | None = None
    ) -> Iterable[regex.Match]:
        """Matches of ``pattern``, stopping (with a note) when the time bound is reached.

        Rules share patterns (one list of advance-fee marks with min_count 2 and 4): a
        search that ran to its end is kept for the rest of the scan and replayed. One
        stopped early (the caller had enough) or by the time bound is not kept.
        """
        endpos = len(text) if endpos is None else endpos
        key = (pattern, text, pos, endpos)
        done = self.searches.get(key)
        if done is not None:
            yield from done
            return
        found: list[regex.Match] = []
        try:
            for m in pattern.finditer(text, pos, endpos, timeout=self.ruleset.regex_timeout):
                found.append(m)
                yield m
        except TimeoutError:
            self.notes.append(f"regex time limit reached in {where}")
            return
        self.searches[key] = found


def _windows(
    positions: Callable[[str], Sequence[int]],
    literals: tuple[frozenset[str], ...],
    width: int,
    size: int,
    incomplete: AbstractSet[str],
) -> list[tuple[int, int]] | None:
    """Where a match of at most ``width`` characters can be: around each occurrence of
    the rarest required literal set. Overlapping windows are merged. None (search the
    whole text) when that set's recorded positions are ``incomplete``."""
    group = min(literals, key=lambda g: sum(len(positions(lit)) for lit in g))
    if not incomplete.isdisjoint(group):
        return None
    spans = []
    for literal in group:
        for last in positions(literal):
            first = last - len(literal) + 1
            spans.append((max(0, last + 1 - width), min(size, first + width + LOOKAHEAD_SLACK)))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


MAX_PERIODIC_POSITIONS = 64


def _periodic(literal: str) -> bool:
    """True when the literal repeats itself within half its length ("xxx", "abab")."""
    size = len(literal)
    return any(literal[k:] == literal[:-k] for k in range(1, size // 2 + 1))


def _word_pattern(phrase: str) -> regex.Pattern:
    """The phrase as a whole word, for when its recorded positions are incomplete."""
    before = r"(?<!\w)" if _is_word(phrase[0]) else ""
    after = r"(?!\w)" if _is_word(phrase[-1]) else ""
    return regex.compile(before + regex.escape(phrase) + after)


def _bounded(content: str, start: int, end: int, phrase: str) -> bool:
    """True when the phrase at [start, end) is not part of a longer word."""
    if start > 0 and _is_word(phrase[0]) and _is_word(content[start - 1]):
        return False
    return not (end < len(content) and _is_word(phrase[-1]) and _is_word(content[end]))


def _result(evidence: Iterable[str]) -> MatcherResult:
    quotes = []
    for item in evidence:
        item = " ".join(item.split())
        if len(item) > MAX_EVIDENCE_CHARS:
            item = item[: MAX_EVIDENCE_CHARS - 1] + "…"
        quotes.append(item)
        if len(quotes) >= MAX_EVIDENCE_PER_MATCHER:
            break
    return MatcherResult(True, tuple(quotes))

"""The online checks (SL050-SL055) over the rules of a lint run, against one server.

:class:`OnlineLinter` first asks the server everything the checks will need,
in three rounds of concurrent requests (selectors; what depends on them; the
details of a missing selector), then runs each check over the rules with the
answers at hand. A check whose server or endpoint fails is *skipped* as a
whole (one "skipped: why" line, none of its findings); a request the server
rejects for one rule only (``bad_data``) skips that check for that rule.

Online knowledge replaces two offline guesses, so a rule never gets the same
problem twice: SL030 (a name that does not look like a counter) when the
metadata knows the metric's type, and SL035 (a range shorter than twice the
assumed ``--scrape-interval``) when the targets exposing the metric are known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import promql_parser as pp

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo.lint.checks.promql import labels_read, locate
from pytest_selfslo.lint.findings import CHECKS, Finding
from pytest_selfslo.lint.model import Rule, RuleFile
from pytest_selfslo.lint.online.client import Unavailable
from pytest_selfslo.lint.online.exprs import (
    Labels,
    SelectorUse,
    label_names,
    match_op,
    name_selector,
    selector_text,
)
from pytest_selfslo.lint.online.facts import ServerFacts
from pytest_selfslo.lint.online.names import nearest
from pytest_selfslo.lint.promql_walk import op_name, output_labels, unwrap
from pytest_selfslo.promql.astwalk import walk

__all__ = ["ONLINE_CHECKS", "OnlineLinter", "RuleInfo"]

#: the online checks, in the order they run
ONLINE_CHECKS = ("SL050", "SL051", "SL052", "SL053", "SL054", "SL055")
_RATE_FUNCS = {"rate": 4, "increase": 4, "deriv": 4, "irate": 2}
_COUNTER_FUNCS = frozenset({"rate", "irate", "increase", "resets"})
_GAUGE_FUNCS = frozenset({"deriv", "delta", "idelta", "predict_linear", "holt_winters",
                          "double_exponential_smoothing"})
Key = tuple[str, int, int, str]
"""(path, line, column, code) of a finding."""


@dataclass
class RuleInfo:
    """A rule of the run with its parsed expression and its selectors in context."""

    rf: RuleFile
    rule: Rule
    ast: Any
    uses: list[SelectorUse]


@dataclass
class CheckOutcome:
    """What one check produced: findings, offline findings it replaces, why it skipped."""

    findings: list[Finding] = field(default_factory=list)
    superseded: set[Key] = field(default_factory=set)
    skipped: str | None = None
    #: rules the check skipped because the server rejected one of their requests
    partial: int = 0
    partial_reason: str = ""


class OnlineLinter:
    """Runs the online checks of ``rules`` against ``facts`` (see the module doc)."""

    def __init__(self, rules: list[RuleInfo], facts: ServerFacts, *, defined: dict[str, Any],
                 lookback: float, max_series: int | None = None,
                 max_samples: int | None = None, enabled: frozenset[str] | None = None) -> None:
        self.rules = rules
        self.facts = facts
        #: recording-rule name -> the RuleInfo objects of the linted files that record it
        self.defined = defined
        self.lookback = lookback
        self.max_series = max_series
        self.max_samples = max_samples
        self.enabled = frozenset(ONLINE_CHECKS) if enabled is None else enabled
        if max_series is None and max_samples is None:
            self.enabled -= {"SL055"}
        self._label_memo: dict[str, Labels] = {}
        self._nearest: dict[str, list[str] | None] = {}
        self._defining: set[str] = set()

    # -- planning ----------------------------------------------------------------------
    def server_uses(self) -> Iterator[tuple[RuleInfo, SelectorUse, str]]:
        """(rule, selector use, selector text) for every selector the server answers for."""
        for info in self.rules:
            for use in info.uses:
                text = selector_text(use.node)
                if text is not None and not self._is_defined(use.node):
                    yield info, use, text

    def _is_defined(self, sel: Any) -> bool:
        return bool(sel.name) and sel.name in self.defined

    def prefetch(self) -> None:
        """Ask the server, in three concurrent rounds, everything the checks will read."""
        facts = self.facts
        uses = list(self.server_uses())
        first = [facts.labels_request(text) for _i, _u, text in uses]
        if {"SL052"} & self.enabled and any(u.range_s is not None for _i, u, _t in uses):
            first.append(facts.TARGETS)
        if "SL053" in self.enabled and any(u.function in _COUNTER_FUNCS | _GAUGE_FUNCS
                                           for _i, u, _t in uses):
            first.append(facts.METADATA)
        if "SL054" in self.enabled and any(":" in (u.node.name or "") for _i, u, _t in uses):
            first.append(facts.RULES)
        if "SL055" in self.enabled:
            for info in self.rules:
                first += [facts.query_request(probe, stats=True)
                          for probe, _fallback in _cost_probes(info)]
                if _has_subquery(info.ast):
                    first.append(facts.query_request(info.rule.expr.value, stats=True))
        facts.prefetch(first)
        second = []
        missing_names = False
        for _info, use, text in uses:
            found = self._known_labels(text)
            if found is None:
                continue
            if not found:
                name = use.node.name
                if name and text != name_selector(name):
                    second.append(facts.labels_request(name_selector(name)))
                missing_names = True
            elif use.range_s is not None and "SL052" in self.enabled:
                second.append(facts.values_request("job", text))
        if missing_names and "SL050" in self.enabled:
            second.append(facts.names_request())
        if "SL055" in self.enabled:  # servers without query statistics: count the samples
            for info in self.rules:
                for probe, fallback in _cost_probes(info):
                    answer = facts.answers.get(facts.query_request(probe, stats=True))
                    if isinstance(answer, dict) and not isinstance(answer.get("stats"), dict):
                        second.append(facts.query_request(fallback))
        facts.prefetch(second)
        third = []
        for _info, use, text in uses:
            if self._known_labels(text) != frozenset():
                continue
            name = use.node.name
            if not name:
                continue
            labels = self._known_labels(name_selector(name))
            for m in use.node.matchers.matchers:
                if labels and m.name in labels and m.op == pp.MatchOp.Equal:
                    third.append(facts.values_request(m.name, name_selector(name)))
                    break
        facts.prefetch(third)

    def _known_labels(self, text: str) -> frozenset[str] | None:
        """The label names of ``text``'s series, None when the server did not say."""
        try:
            return self.facts.labels(text)
        except Unavailable:
            return None

    @staticmethod
    def _answer(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Unavailable:
            return None

    # -- running -----------------------------------------------------------------------
    def run(self) -> dict[str, CheckOutcome]:
        """Every enabled check that has something to check, by code."""
        self.prefetch()
        checks: dict[str, Callable[[CheckOutcome], bool]] = {
            "SL050": self._series, "SL051": self._labels, "SL052": self._windows,
            "SL053": self._types, "SL054": self._recording, "SL055": self._cost,
        }
        out: dict[str, CheckOutcome] = {}
        for code in ONLINE_CHECKS:
            if code not in self.enabled:
                continue
            outcome = CheckOutcome()
            try:
                relevant = checks[code](outcome)
            except Unavailable as exc:
                outcome = CheckOutcome(skipped=exc.reason)
                relevant = True
            if relevant:
                out[code] = outcome
        return out

    def _finding(self, info: RuleInfo, code: str, needle: str, message: str) -> Finding | None:
        line, col = locate(info.rf, info.rule.expr, needle)
        return info.rf.finding(code, line, col, f"{info.rule.where}: {message}", info.rule)

    @staticmethod
    def _partial(outcome: CheckOutcome, exc: Unavailable) -> None:
        if exc.scope != "query":
            raise exc
        outcome.partial += 1
        outcome.partial_reason = outcome.partial_reason or exc.reason

    def _ago(self) -> str:
        return f"in the last {format_duration(int(self.lookback * 1000))}"

    # -- SL050 / SL054 ------------------------------------------------------------------
    def _missing(self, outcome: CheckOutcome) -> Iterator[tuple[RuleInfo, SelectorUse, str]]:
        for info, use, text in self.server_uses():
            if use.in_absent:
                continue
            try:
                if not self.facts.labels(text):
                    yield info, use, text
            except Unavailable as exc:
                self._partial(outcome, exc)

    def _series(self, outcome: CheckOutcome) -> bool:
        records: set[str] | None = None
        relevant = False
        for info, use, text in self._missing(outcome):
            relevant = True
            name = use.node.name or ""
            if ":" in name:
                if records is None:
                    try:
                        records = self.facts.server_records()
                    except Unavailable:
                        records = None
                        continue  # SL054 says it, or skips saying why
                if name not in records:
                    continue  # SL054
            found = self._finding(info, "SL050", name or text, self._why_missing(use, text))
            if found is not None:
                outcome.findings.append(found)
        return relevant or any(not u.in_absent for _i, u, _t in self.server_uses())

    def _why_missing(self, use: SelectorUse, text: str) -> str:
        facts, name = self.facts, use.node.name
        ago = self._ago()
        if not name:
            return f"no series matches {text} {ago}"
        whole = self._known_labels(name_selector(name))
        if not whole:
            if name not in self._nearest:  # one search per missing name, however often used
                self._nearest[name] = self._answer(lambda: nearest(name, facts.names()))
            close = self._nearest[name]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            return f"metric {name} has no series {ago}{hint}"
        for m in use.node.matchers.matchers:
            if m.name == "__name__":
                continue
            if m.name not in whole:
                labels = ", ".join(sorted(whole - {"__name__"}))
                return (f"no {name} series has a label {m.name} (its labels: {labels}) {ago}, "
                        f"so {text} matches nothing")
            if m.op == pp.MatchOp.Equal:
                try:
                    values: list[str] | None = facts.values(m.name, name_selector(name))
                except Unavailable:
                    values = None
                if values is not None and m.value not in values:
                    shown = ", ".join(values[:8]) + (", ..." if len(values) > 8 else "")
                    return (f'no {name} series has {m.name}="{m.value}" {ago} '
                            f"({m.name} values: {shown})")
        return f"no series matches {text} {ago}, although {name} has series"

    def _recording(self, outcome: CheckOutcome) -> bool:
        candidates = [(i, u, t) for i, u, t in self._missing(outcome)
                      if ":" in (u.node.name or "")]
        if not candidates:
            return any(":" in (u.node.name or "") for _i, u, _t in self.server_uses())
        records = self.facts.server_records()
        for info, use, _text in candidates:
            name = use.node.name
            if name in records:
                continue
            found = self._finding(info, "SL054", name, (
                f"{name} is named like a recording rule, but no linted rule file records it "
                f"and the server has neither a rule recording it nor its series {self._ago()}"))
            if found is not None:
                outcome.findings.append(found)
        return True

    # -- SL051 -----------------------------------------------------------------------
    def _leaf(self, outcome: CheckOutcome) -> Callable[[Any], Labels]:
        def leaf(sel: Any) -> Labels:
            if self._is_defined(sel):
                return self._defined_labels(sel.name, leaf)
            text = selector_text(sel)
            if text is None:
                return None
            try:
                found = self.facts.labels(text)
            except Unavailable as exc:
                self._partial(outcome, exc)
                return None
            return (found - {"__name__"}) if found else None
        return leaf

    def _defined_labels(self, name: str, leaf: Callable[[Any], Labels]) -> Labels:
        if name in self._label_memo:
            return self._label_memo[name]
        if name in self._defining:  # a cycle of recording rules: not ours to untangle
            return None
        self._defining.add(name)
        out: set[str] = set()
        known = True
        for info in self.defined[name]:
            labels = label_names(info.ast, leaf)
            if labels is None:
                known = False
                break
            out |= labels | set(info.rule.labels)
        self._defining.discard(name)
        result = frozenset(out) if known else None
        self._label_memo[name] = result
        return result

    def _labels(self, outcome: CheckOutcome) -> bool:
        leaf = self._leaf(outcome)
        for info in self.rules:
            for needle, message in self._label_problems(info, leaf):
                self._emit(outcome, info, "SL051", needle, message)
            if info.rule.kind == "alert":
                outcome.findings += self._template_labels(info, leaf)
        return any(True for _ in self.server_uses()) or bool(self.defined)

    def _label_problems(self, info: RuleInfo, leaf: Callable[[Any], Labels]
                        ) -> Iterator[tuple[str, str]]:
        stack = [info.ast]
        while stack:
            node = unwrap(stack.pop())
            kind = type(node)
            if kind is pp.AggregateExpr:
                yield from self._aggregation_labels(node, leaf)
                stack.append(node.expr)
                if node.param is not None and not isinstance(node.param, (str, float, int)):
                    stack.append(node.param)
            elif kind is pp.BinaryExpr:
                yield from self._matching_labels(node, leaf)
                stack += [node.lhs, node.rhs]
            elif kind is pp.Call:
                stack += list(node.args)
            elif kind is pp.MatrixSelector:
                stack.append(node.vector_selector)
            elif kind is pp.VectorSelector:
                yield from self._matcher_labels(node, leaf)
            elif kind in (pp.UnaryExpr, pp.SubqueryExpr):
                stack.append(node.expr)

    def _aggregation_labels(self, node: Any, leaf: Callable[[Any], Labels]
                            ) -> Iterator[tuple[str, str]]:
        mod = node.modifier
        if mod is None or not mod.labels:
            return
        inner = label_names(node.expr, leaf)
        if inner is None:
            return
        word = "by" if mod.type == pp.AggModifierType.By else "without"
        for label in mod.labels:
            if label not in inner:
                yield label, (f"{op_name(node.op)} {word} ({label}): no series it aggregates "
                              f"has a label {label} ({_shown(inner)})")

    def _matching_labels(self, node: Any, leaf: Callable[[Any], Labels]
                         ) -> Iterator[tuple[str, str]]:
        mod = node.modifier
        matching = getattr(mod, "matching", None) if mod is not None else None
        include = list(getattr(mod, "group_labels", None) or ()) if mod is not None else []
        if (matching is None or not matching.labels) and not include:
            return
        lhs, rhs = label_names(node.lhs, leaf), label_names(node.rhs, leaf)
        if matching is not None and matching.labels:
            word = "on" if matching.type == pp.LabelModifierType.Include else "ignoring"
            for label in matching.labels:
                sides = [side for side, labels in (("left", lhs), ("right", rhs))
                         if labels is not None and label not in labels]
                if word == "on" and sides:
                    yield label, (f"{word} ({label}): the {' and '.join(sides)} "
                                  f"side{'s' if len(sides) > 1 else ''} of "
                                  f"'{op_name(node.op)}' ha{'ve' if len(sides) > 1 else 's'} "
                                  f"no label {label}, so nothing matches")
                elif word == "ignoring" and len(sides) == 2:
                    yield label, (f"ignoring ({label}): neither side of '{op_name(node.op)}' has "
                                  f"a label {label}")
        card = str(getattr(mod, "card", ""))
        one_side, side_name = (rhs, "right") if "ManyToOne" in card else (lhs, "left")
        group = "group_left" if "ManyToOne" in card else "group_right"
        for label in include:
            if one_side is not None and label not in one_side:
                yield label, (f"{group} ({label}): the {side_name} side, where it is copied "
                              f"from, has no label {label} ({_shown(one_side)})")

    def _matcher_labels(self, sel: Any, leaf: Callable[[Any], Labels]
                        ) -> Iterator[tuple[str, str]]:
        labels = leaf(sel)
        if not labels:
            return  # unknown, or no series at all (SL050's finding)
        for m in sel.matchers.matchers:
            if m.name != "__name__" and m.name not in labels:
                yield m.name, (f"matcher {m.name}{match_op(m.op)}\"{m.value}\": no "
                               f"{sel.name or 'matched'} series has a label {m.name} "
                               f"({_shown(labels)})")

    @staticmethod
    def _template_labels(info: RuleInfo, leaf: Callable[[Any], Labels]) -> list[Finding]:
        """``$labels.x`` in templates where no series of the expression has ``x``."""
        memo: dict[str, tuple[str, ...]] = {}
        fields = [("label", k, v) for k, v in info.rule.labels.items()] + [
            ("annotation", k, v) for k, v in info.rule.annotations.items()]
        used = [(kind, key, fld, label) for kind, key, fld in fields
                for label in dict.fromkeys(labels_read(fld.value, memo))]
        if not used:
            return []
        result = label_names(info.ast, leaf)
        if result is None:
            return []
        static = output_labels(info.ast)
        out = []
        for kind, key, fld, label in used:
            if label in result or static.lacks(label):  # SL032 reports what is decided offline
                continue
            found = info.rf.finding(
                "SL051", fld.line, fld.column,
                f"{info.rule.where}: {kind} {key!r} uses $labels.{label}, but no series of the "
                f"expression has a label {label} ({_shown(result)})", info.rule)
            if found is not None:
                out.append(found)
        return out

    # -- SL052 -----------------------------------------------------------------------
    def _interval(self, text: str) -> tuple[float, str] | None:
        """(longest scrape interval, jobs) of the targets exposing ``text``'s series."""
        jobs = self.facts.values("job", text)
        intervals = self.facts.intervals()
        known = [(intervals[j], j) for j in jobs if j in intervals]
        if not known:
            return None
        return max(known)[0], ", ".join(sorted(j for _s, j in known))

    def _windows(self, outcome: CheckOutcome) -> bool:
        relevant = False
        for info, use, text in self.server_uses():
            if use.range_s is None:
                continue
            relevant = True
            try:
                if not self.facts.labels(text):
                    continue
                found = self._interval(text)
            except Unavailable as exc:
                self._partial(outcome, exc)
                continue
            if found is None:
                continue
            interval, jobs = found
            shown = _range_text(use.range_s)
            # the offline SL035 guessed the interval (--scrape-interval); now it is known
            line, col = locate(info.rf, info.rule.expr, f"[{shown}")
            outcome.superseded.add((info.rf.path, line, col, "SL035"))
            need = _RATE_FUNCS.get(use.function or "")
            if need is None:
                if use.range_s < 2 * interval:
                    self._emit(outcome, info, "SL035", f"[{shown}", (
                        f"range [{shown}] is shorter than 2x the scrape interval of job {jobs} "
                        f"({interval:g}s, from /api/v1/targets); use at least "
                        f"[{_range_text(2 * interval)}]"))
                continue
            if use.range_s < need * interval:
                self._emit(outcome, info, "SL052", f"[{shown}", (
                    f"{use.function}({use.node.name or text}[{shown}]) covers "
                    f"{use.range_s / interval:g} scrape interval(s) of job {jobs} "
                    f"({interval:g}s, from /api/v1/targets); {use.function}() needs at least "
                    f"{need}: use [{_range_text(need * interval)}]"))
        return relevant

    def _emit(self, outcome: CheckOutcome, info: RuleInfo, code: str, needle: str,
              message: str) -> None:
        found = self._finding(info, code, needle, message)
        if found is not None:
            outcome.findings.append(found)

    # -- SL053 -----------------------------------------------------------------------
    def _types(self, outcome: CheckOutcome) -> bool:
        typed = [(i, u) for i, u, _t in self.server_uses()
                 if u.function in _COUNTER_FUNCS | _GAUGE_FUNCS and u.range_s is not None
                 and u.node.name]
        if not typed:
            return False
        for info, use in typed:
            name, fn = use.node.name, use.function or ""
            kind = self.facts.metric_type(name)
            if kind is None:
                continue
            if fn in _COUNTER_FUNCS:  # the offline name heuristic (SL030) is now decided
                line, col = locate(info.rf, info.rule.expr, name)
                outcome.superseded.add((info.rf.path, line, col, "SL030"))
            if fn in _COUNTER_FUNCS and kind == "gauge":
                self._emit(outcome, info, "SL053", name, (
                    f"{fn}() over {name}, a gauge (per /api/v1/metadata): {fn}() takes every "
                    "decrease for a counter reset; use deriv(), delta() or avg_over_time()"))
            elif fn in _GAUGE_FUNCS and kind == "counter":
                self._emit(outcome, info, "SL053", name, (
                    f"{fn}() over {name}, a counter (per /api/v1/metadata): a counter only "
                    "goes up and resets; use rate() or increase()"))
        return True

    # -- SL055 -----------------------------------------------------------------------
    def _cost(self, outcome: CheckOutcome) -> bool:
        """SL055: series and samples per rule, from one ``count()`` probe per selector.

        The probe ``count(last_over_time(sel[range]))`` with ``stats=all`` answers both:
        its value is the number of series the selector touches, its statistics the
        samples reading that range loads -- what the rule's own functions load too.
        A rule with a subquery (which reads its selectors at every step) also runs
        itself with statistics. Without statistics, ``count_over_time`` counts.
        """
        for info in self.rules:
            try:
                series = samples = 0
                for probe, fallback in _cost_probes(info):
                    count, loaded = self.facts.count(probe)
                    series += count
                    samples += loaded if loaded is not None else int(
                        self.facts.scalar(fallback))
                if _has_subquery(info.ast):
                    _result, loaded = self.facts.query(info.rule.expr.value, stats=True)
                    samples = max(samples, loaded or 0)
            except Unavailable as exc:
                self._partial(outcome, exc)
                continue
            over = []
            if self.max_series is not None and series > self.max_series:
                over.append(f"touches {series:,} series (--max-series {self.max_series:,})")
            if self.max_samples is not None and samples > self.max_samples:
                over.append(f"loads {samples:,} samples (--max-samples {self.max_samples:,})")
            if over:
                self._emit(outcome, info, "SL055", "", f"query over budget: it {' and '.join(over)}")
        return True


def _cost_probes(info: RuleInfo) -> list[tuple[str, str]]:
    """(series probe, samples probe) of each distinct selector (and range) of the rule."""
    out = []
    for use in info.uses:
        text = selector_text(use.node)
        if text is None:
            continue
        if use.range_s is None:
            out.append((f"count({text})", f"count({text})"))
        else:
            window = f"{text}[{_range_text(use.range_s)}]"
            out.append((f"count(last_over_time({window}))", f"sum(count_over_time({window}))"))
    return list(dict.fromkeys(out))


def _has_subquery(ast: Any) -> bool:
    return any(type(node) is pp.SubqueryExpr for node in walk(ast))


def _range_text(seconds: float) -> str:
    return format_duration(max(1, round(seconds * 1000)))


def _shown(labels: frozenset[str]) -> str:
    names = sorted(labels)
    if not names:
        return "it has no labels"
    return "its labels: " + ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")



assert set(ONLINE_CHECKS) <= set(CHECKS), "every online check needs an entry in CHECKS"

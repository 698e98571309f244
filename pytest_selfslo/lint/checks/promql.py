"""Checks that read the parsed PromQL of each rule (SL030-SL036).

SL030, SL031 and SL033-SL035 depend on the expression only: :func:`expr_facts`
finds them once per distinct expression of a run as (code, needle, message)
problems; SL032 compares a rule's templates with its expression's output
labels; SL036 (:func:`check_vector_matching`) needs the unit tests' series.
They know the SELF domain (:mod:`.domain`): which metrics are gauges and the
range of their values, which is what lets us reject ``self_stress > 1``.
Positions point at the offending text inside the expression when it can be
found in the file (``locate``), else at the start of ``expr``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import promql_parser as pp

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo._core.goregex import GoRegexError, matcher_regex
from pytest_selfslo.lint.context import LintContext
from pytest_selfslo.lint.domain import counter_part, metric_info
from pytest_selfslo.lint.findings import Finding
from pytest_selfslo.lint.model import Field, Rule, RuleFile
from pytest_selfslo.lint.promql_walk import (
    COMPARISONS,
    ExprIndex,
    domain_of,
    iter_nodes,
    number_value,
    op_name,
    unwrap,
)

__all__ = [
    "Facts",
    "Problem",
    "check_vector_matching",
    "comparison_verdict",
    "dropped_label_findings",
    "expr_facts",
    "labels_read",
    "locate",
    "problem_finding",
    "rate_on_gauge_reason",
    "series_matching_problems",
]

_COUNTER_FUNCS = frozenset({"rate", "irate", "increase", "resets"})
#: functions meant for gauges: a rule file applying one to a metric treats it as a gauge
_GAUGE_FUNCS = frozenset({"deriv", "delta", "idelta", "predict_linear", "holt_winters",
                          "double_exponential_smoothing"})
_TEMPLATE_LABEL = re.compile(
    r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)|index\s+\$labels\s+\"([A-Za-z_][A-Za-z0-9_]*)\"")
_FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}


def locate(rf: RuleFile, fld: Field, needle: str) -> tuple[int, int]:
    """Line and column of ``needle`` inside the expression field, else the field's start."""
    first = fld.line - 1
    for i in range(first, min(len(rf.lines), first + 1 + fld.value.count("\n") + 1)):
        col = rf.lines[i].find(needle, fld.column - 1 if i == first else 0)
        if col >= 0:
            return i + 1, col + 1
    return fld.line, fld.column


def problem_finding(rf: RuleFile, rule: Rule, code: str, needle: str,
                    message: str) -> Iterator[Finding]:
    """The finding of a problem in ``rule``'s expression, at ``needle`` when it is found."""
    line, col = locate(rf, rule.expr, needle)
    found = rf.finding(code, line, col, f"{rule.where}: {message}", rule)
    if found is not None:
        yield found


Problem = tuple[str, str, str]
"""(check code, needle to locate in the expression, message after the rule's name)."""


Facts = tuple[list[Problem], bool, bool, tuple[tuple[str, str], ...]]
"""(problems, has a threshold, has a condition, (metric, gauge function) uses) of one
expression. An SL030 problem is a candidate, (code, metric, function name): whether the
metric is a gauge depends on the run (:func:`rate_on_gauge_reason`)."""

_CONDITION_FUNCS = frozenset({"absent", "absent_over_time"})
_CONDITION_OPS = COMPARISONS | {"and", "unless"}


def expr_facts(text: str, index: ExprIndex, scrape_interval: float,
               self_domain: bool = True) -> Facts:
    """What the checks need to know about one expression, in one visit of its indexed nodes.

    * SL030, SL031, SL033, SL034 and SL035 problems, in that order;
    * whether some comparison has a number on one side (a threshold: SL020),
      exactly ``ExprIndex.has_threshold`` (that is SL031's constant, found once);
    * whether it has a comparison, ``and``, ``unless`` or ``absent()`` (SL024);
    * the metrics it passes to a gauge function (``deriv``, ``delta``...): SL030 evidence.

    They depend on the expression (and the scrape interval) only, so a run
    computes them once per distinct expression and
    :func:`.checks.structure.check_file` turns them into each rule's findings.
    ``text`` only lets checks skip what the source cannot contain: a regex
    matcher needs ``=~``/``!~`` (a ``~``), ``absent`` its name.
    """
    if index.released:
        raise ValueError("expr_facts needs an index whose nodes were not released")
    out: list[Problem] = []
    threshold = conditional = False
    gauge_uses: list[tuple[str, str]] = []
    for node, fn in index.calls:
        if fn in _COUNTER_FUNCS:
            name = _range_metric(node)
            if name:
                out.append(("SL030", name, fn))
        elif fn in _GAUGE_FUNCS:
            name = _range_metric(node)
            if name:
                gauge_uses.append((name, fn))
        elif fn in _CONDITION_FUNCS:
            conditional = True
    for node, op in index.binaries:
        if op in COMPARISONS:
            conditional = True
            if _impossible_comparison(node, op, out, self_domain):
                threshold = True
        elif op in _CONDITION_OPS:
            conditional = True
    if "~" in text:
        for sel in index.selectors:
            _regex_anchors(sel, out)
    if "absent" in text:
        for node, fn in index.calls:
            if fn in ("absent", "absent_over_time"):
                _absent_aggregation(node, fn, out)
    minimum = 2 * scrape_interval
    for node in index.ranges:
        rng = node.range
        if rng is None or rng.total_seconds() >= minimum:
            continue
        shown = str(pp.display_duration(rng))
        out.append(("SL035", f"[{shown}",
                    f"range [{shown}] is shorter than 2x the scrape interval "
                    f"({scrape_interval:g}s); use at least "
                    f"[{format_duration(int(minimum * 1000))}]"))
    return out, threshold, conditional, tuple(gauge_uses)


def _range_metric(node: Any) -> str | None:
    """The metric name of a function's ``name[5m]`` argument, else None."""
    if not node.args:
        return None
    arg = unwrap(node.args[0])
    if not isinstance(arg, pp.MatrixSelector):
        return None
    return str(arg.vector_selector.name or "") or None


_ADVICE = "use deriv(), delta() or avg_over_time()"


def rate_on_gauge_reason(ctx: LintContext, path: str, name: str) -> str | None:
    """SL030: why ``name`` is a gauge, from what is known, or None (a counter, or unknown).

    In order: the Prometheus server's metadata (when one is configured), the
    SELF domain table, the counter naming conventions (``_total``, ``_count``,
    ``_sum``, ``_bucket``: a counter), then how this rule file and the unit
    tests that load it use the metric (a gauge function such as ``deriv()``, or
    test values that go negative or fall twice, and none that only rise).
    Anything else is unknown and stays silent: ``kubelet_evictions`` and
    ``*_renew_errors`` are counters without the suffix.
    """
    served = ctx.metric_types.get(name)
    if served is not None:
        return (f"the Prometheus server's metadata says {name} is a gauge"
                if served == "gauge" else None)
    part = counter_part(name)
    if part is not None and ctx.metric_types.get(name[: -len(part)]) in ("histogram", "summary"):
        return None
    info = metric_info(name, ctx.self_domain)
    if info is not None:
        return f"{name} is a gauge" if info.type == "gauge" else None
    if part is not None:
        return None
    shapes = ctx.series_shapes.get(path, {}).get(name, set())
    if "counter" in shapes:
        return None
    use = ctx.gauge_uses.get(path, {}).get(name)
    if use is not None:
        return f"{name} is used as a gauge in this file ({use})"
    if "gauge" in shapes:
        source = ctx.series_sources.get(path, "the unit tests")
        return f"{name}'s values in {source} go down as only a gauge's do"
    return None


#: op -> (lo, hi, c) -> (``x op c`` false for every x in [lo, hi], true for every x)
_DECIDED: dict[str, Callable[[float, float, float], tuple[bool, bool]]] = {
    ">": lambda lo, hi, c: (c >= hi, c < lo),
    ">=": lambda lo, hi, c: (c > hi, c <= lo),
    "<": lambda lo, hi, c: (c <= lo, c > hi),
    "<=": lambda lo, hi, c: (c < lo, c >= hi),
    "==": lambda lo, hi, c: (c < lo or c > hi, lo == hi == c),
    "!=": lambda lo, hi, c: (lo == hi == c, c < lo or c > hi),
}


def comparison_verdict(op: str, lo: float, hi: float, c: float) -> str | None:
    """'never' / 'always' when ``x op c`` is decided for every x in [lo, hi]."""
    never, always = _DECIDED[op](lo, hi, c)
    if never:
        return "never"
    if always:
        return "always"
    return None


def _impossible_comparison(node: Any, op: str, out: list[Problem], self_domain: bool) -> bool:
    """SL031: a comparison of a bounded metric with a constant outside (or covering) its range.

    Returns whether one side is a number (a threshold)."""
    c, side = number_value(node.rhs), node.lhs
    if c is None:
        c, side, op = number_value(node.lhs), node.rhs, _FLIP[op]
        if c is None:
            return False
    dom = domain_of(side, self_domain)
    if dom is None:
        return True
    lo, hi, metric = dom
    verdict = comparison_verdict(op, lo, hi, c)
    if verdict is not None:
        out.append(("SL031", metric, f"comparison '{op} {c:g}' is {verdict} true: {metric} is "
                    f"always in [{lo:g}, {hi:g}]"))
    return True


def labels_read(template: str, memo: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Label names a template reads through ``$labels``, once per use, in order (memoised)."""
    used = memo.get(template)
    if used is None:
        used = memo[template] = (
            tuple(m.group(1) or m.group(2) for m in _TEMPLATE_LABEL.finditer(template))
            if "$labels" in template else ())
    return used


def dropped_label_findings(rf: RuleFile, rule: Rule, kind: str, name: str, fld: Field,
                           used: tuple[str, ...]) -> Iterator[Finding]:
    """SL032: a template of ``rule`` uses a label (of ``used``) its expression cannot return."""
    labels = rule.expr_index.labels(rule.ast)
    for label in used:
        if labels.lacks(label):
            kept = ("{" + ", ".join(sorted(labels.kept)) + "}"
                    if labels.kept is not None else "its input labels")
            found = rf.finding(
                "SL032", fld.line, fld.column,
                f"{rule.where}: {kind} {name!r} uses $labels.{label}, but the "
                f"expression aggregates it away (result keeps {kept})", rule)
            if found is not None:
                yield found


_REGEX_OPS = (pp.MatchOp.Re, pp.MatchOp.NotRe)


def _regex_anchors(sel: Any, out: list[Problem]) -> None:
    """SL033: PromQL regex matchers are fully anchored already."""
    for m in sel.matchers.matchers:
        if m.op not in _REGEX_OPS:
            continue
        value = m.value
        if value.startswith("^") or (value.endswith("$") and not value.endswith("\\$")):
            fixed = value.removeprefix("^")
            fixed = fixed[:-1] if fixed.endswith("$") else fixed
            out.append(("SL033", value, f'regex matcher {m.name}=~"{value}" has redundant '
                        f'anchors (PromQL anchors regexes); write "{fixed}"'))


def _absent_aggregation(node: Any, fn: str, out: list[Problem]) -> None:
    """SL034: absent(sum(x)) loses every label, so the alert cannot say what is missing."""
    arg = unwrap(node.args[0]) if node.args else None
    if isinstance(arg, pp.SubqueryExpr):
        arg = unwrap(arg.expr)
    if isinstance(arg, pp.AggregateExpr):
        out.append(("SL034", fn, f"{fn}() over the aggregation {op_name(arg.op)}(...): the "
                    "result has no labels to say which series is missing; pass the selector "
                    "itself"))


def _matches(sel: Any, labels: dict[str, str]) -> bool:
    if sel.name and labels.get("__name__") != sel.name:
        return False
    for m in sel.matchers.matchers:
        value = labels.get(m.name, "")
        if m.op == pp.MatchOp.Equal and value != m.value:
            return False
        if m.op == pp.MatchOp.NotEqual and value == m.value:
            return False
        if m.op in (pp.MatchOp.Re, pp.MatchOp.NotRe):
            try:
                hit = matcher_regex(m.value).fullmatch(value)
            except GoRegexError:
                return True
            if hit != (m.op == pp.MatchOp.Re):
                return False
    return True


def _key(labels: dict[str, str], node: Any) -> tuple[tuple[str, str], ...]:
    matching = node.modifier.matching if node.modifier is not None else None
    if matching is not None and matching.labels is not None and \
            matching.type == pp.LabelModifierType.Include:
        return tuple((k, labels.get(k, "")) for k in sorted(matching.labels))
    ignored = set(matching.labels or []) if matching is not None else set()
    return tuple(sorted((k, v) for k, v in labels.items()
                        if k != "__name__" and k not in ignored))


def _fmt(labels: dict[str, str]) -> str:
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels.get('__name__', '')}{{{rest}}}"


def series_matching_problems(ast: Any, series: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(needle, message) for one-to-one operations that meet duplicate series in ``series``."""
    out = []
    for node in iter_nodes(ast):
        if not isinstance(node, pp.BinaryExpr) or op_name(node.op) in ("and", "or", "unless"):
            continue
        card = str(getattr(node.modifier, "card", "OneToOne"))
        if "OneToOne" not in card:
            continue
        sides = [unwrap(node.lhs), unwrap(node.rhs)]
        if not all(isinstance(s, pp.VectorSelector) for s in sides):
            continue
        groups: list[dict[tuple[tuple[str, str], ...], list[dict[str, str]]]] = [{}, {}]
        for side, grouped in zip(sides, groups, strict=True):
            for labels in series:
                if _matches(side, labels):
                    grouped.setdefault(_key(labels, node), []).append(labels)
        for name, side, mine, other in (("left", sides[0], groups[0], groups[1]),
                                        ("right", sides[1], groups[1], groups[0])):
            for key, members in mine.items():
                if len(members) > 1 and key in other:
                    group = "{" + ", ".join(f'{k}="{v}"' for k, v in key) + "}"
                    out.append((side.name or "", (
                        f"many-to-many matching: {len(members)} series on the {name} side "
                        f"share the match group {group} "
                        f"({', '.join(_fmt(m) for m in members)}); add group_left/group_right "
                        "or more labels to on(...)")))
    return out


def check_vector_matching(rf: RuleFile, ctx: LintContext) -> Iterator[Finding]:
    """SL036: one-to-one operations that the unit-test input series make many-to-many."""
    groups = ctx.known_series.get(rf.path)
    if not groups:
        return
    source = ctx.series_sources.get(rf.path, "the unit tests")
    for rule in rf.rules():
        if rule.ast is None:
            continue
        seen: set[str] = set()
        for series in groups:  # each tests[] entry on its own: their series never meet
            for needle, message in series_matching_problems(rule.ast, series):
                if message not in seen:
                    seen.add(message)
                    yield from problem_finding(rf, rule, "SL036", needle,
                                               f"{message} [series from {source}]")

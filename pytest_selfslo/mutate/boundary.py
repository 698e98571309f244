"""Where an original rule and its mutant differ, and the unit test that would notice.

:func:`first_difference` compares what a rule produces in two evaluations of
the same input -- the alerts it fires (labels and rendered annotations) or the
series it records -- and returns the first evaluation step where they differ.
When the tests' own inputs show no difference, :func:`generated_inputs` offers
small synthetic inputs for the rule's raw metrics (constants at and around every
threshold of the rule and its dependencies, steps between them, counters,
series that stop, no series at all), cheapest first.

:func:`snippet` writes the difference as a promtool ``tests:`` entry (input
series, ``eval_time``, the original's alerts or samples as the expectation) in
the indentation of ``rules/tests/*.yml``; the runner only offers one after
checking that it passes on the original rules and fails on the mutant.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo.alerting.ruleeval import GroupRun
from pytest_selfslo.mutate import deps
from pytest_selfslo.mutate.operators import threshold_literals
from pytest_selfslo.mutate.tree import (
    Matcher,
    Matrix,
    Node,
    Number,
    Selector,
    Subquery,
    children,
    to_promql,
    walk,
)
from pytest_selfslo.promql.engine import parse_expr
from pytest_selfslo.promql.values import METRIC_NAME, InstantVector, Labels, ScalarValue
from pytest_selfslo.rulefmt.model import AlertingRule, RecordingRule, Rule

__all__ = ["Candidate", "first_difference", "generated_inputs", "observation_case",
           "recorded_selector", "snippet"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
#: annotation renderings compared per mutant before giving up on a value-only difference
_MAX_RENDERS = 20
_MAX_STEPS = 2000


# ---------------------------------------------------------------- differences
def _firing_at(run: GroupRun, rule: AlertingRule, step: int) -> list[tuple[Any, ...]]:
    return sorted((tuple(sorted(a.labels.items())), tuple(sorted(a.annotations.items())))
                  for a in run.alerts_at(rule, step) if a.state.value == "firing")


def _same(a: FloatArray, b: FloatArray) -> BoolArray:
    out: BoolArray = (a == b) | (np.isnan(a) & np.isnan(b))
    return out


def _alert_difference(a_run: GroupRun, a_rule: AlertingRule, b_run: GroupRun,
                      b_rule: AlertingRule, n: int) -> int | None:
    fa, fb = a_run.firing_series(a_rule), b_run.firing_series(b_rule)
    first = n
    render = np.zeros(n, dtype=bool)
    none = (np.zeros(n, dtype=bool), np.full(n, np.nan))
    templates_differ = a_rule.annotations != b_rule.annotations
    for key in sorted(fa.keys() | fb.keys()):
        a_fire, a_val = fa.get(key, none)
        b_fire, b_val = fb.get(key, none)
        a_fire, b_fire = a_fire[:n], b_fire[:n]
        differs = a_fire != b_fire
        if differs.any():
            first = min(first, int(np.argmax(differs)))
        both = a_fire & b_fire
        render |= both if templates_differ else both & ~_same(a_val[:n], b_val[:n])
    for step in np.flatnonzero(render[:first])[:_MAX_RENDERS].tolist():
        if _firing_at(a_run, a_rule, step) != _firing_at(b_run, b_rule, step):
            return int(step)
    return first if first < n else None


def recorded_selector(rule: RecordingRule) -> str:
    """The selector of exactly what a recording rule writes (its name and static labels)."""
    matchers = tuple(Matcher(k, "=", v) for k, v in sorted(rule.labels.items()))
    return to_promql(Selector(rule.name, matchers))


def _recorded(run: GroupRun, selector: str, n: int) -> dict[Labels, tuple[BoolArray, FloatArray]]:
    value = run.engine.evaluate(parse_expr(selector), run.steps[:n])
    if not isinstance(value, InstantVector):
        return {}
    return {s.labels: (s.present, np.where(s.present, s.values, np.nan)) for s in value.series}


def first_difference(a_run: GroupRun, a_rule: Rule, b_run: GroupRun, b_rule: Rule) -> int | None:
    """First evaluation step where ``a_rule`` in ``a_run`` and ``b_rule`` in ``b_run`` differ.

    Alerts: the firing alerts (labels, rendered annotations). Recording rules: the
    samples of the original's name and static labels. Both runs must cover the
    same step grid; an evaluation error in only one run counts from its step.
    """
    n = min(a_run.steps_done, b_run.steps_done)
    if a_run.steps_done != b_run.steps_done:
        return n
    if isinstance(a_rule, AlertingRule) and isinstance(b_rule, AlertingRule):
        return _alert_difference(a_run, a_rule, b_run, b_rule, n)
    assert isinstance(a_rule, RecordingRule)
    selector = recorded_selector(a_rule)
    ra, rb = _recorded(a_run, selector, n), _recorded(b_run, selector, n)
    first = n
    none = (np.zeros(n, dtype=bool), np.full(n, np.nan))
    for key in ra.keys() | rb.keys():
        a_present, a_val = ra.get(key, none)
        b_present, b_val = rb.get(key, none)
        differs = (a_present != b_present) | ~_same(a_val, b_val)
        if differs.any():
            first = min(first, int(np.argmax(differs)))
    return first if first < n else None


def observation_case(run: GroupRun, rule: Rule, step: int, eval_ms: int) -> dict[str, Any]:
    """What ``rule`` produced at ``step`` in ``run``, as a promtool test case."""
    eval_time = format_duration(step * eval_ms)
    if isinstance(rule, AlertingRule):
        alerts = []
        for a in sorted(run.alerts_at(rule, step), key=lambda a: sorted(a.labels.items())):
            if a.state.value != "firing":
                continue
            alert: dict[str, Any] = {
                "exp_labels": {k: v for k, v in sorted(a.labels.items()) if k != "alertname"}}
            if a.annotations:
                alert["exp_annotations"] = dict(a.annotations)
            alerts.append(alert)
        return {"eval_time": eval_time, "alertname": rule.name, "exp_alerts": alerts}
    assert isinstance(rule, RecordingRule)
    selector = recorded_selector(rule)
    value = run.engine.evaluate(parse_expr(selector), run.steps[step:step + 1])
    samples: list[dict[str, Any]] = []
    if isinstance(value, (InstantVector, ScalarValue)):
        series = value.series if isinstance(value, InstantVector) else []
        for s in sorted(series, key=lambda s: s.labels):
            if s.present[0]:
                samples.append({"labels": _labels_text(s.labels), "value": _plain(s.values[0])})
    return {"expr": selector, "eval_time": eval_time, "exp_samples": samples}


def _plain(value: float) -> float | int | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return int(value) if value.is_integer() and abs(value) < 1e15 else float(value)


def _labels_text(labels: Labels) -> str:
    name = next((v for k, v in labels if k == METRIC_NAME), None)
    rest = tuple(Matcher(k, "=", v) for k, v in labels if k != METRIC_NAME)
    return to_promql(Selector(name, rest))


# ---------------------------------------------------------------- generated inputs
@dataclass(frozen=True)
class Candidate:
    """A synthetic input: what it is, its series (text, values notation), how many steps."""

    description: str
    series: tuple[tuple[str, str], ...]
    steps: int


def _direct_threshold(trees: Sequence[Node], name: str) -> float | None:
    """The lowest threshold compared directly with metric ``name`` (``x < bool 0.8``)."""
    found = []
    for tree in trees:
        for path, cmp, side in threshold_literals(tree):
            got = deps.names(deps.reads(cmp.lhs if side == 1 else cmp.rhs))
            if got == frozenset({name}):
                found.append(_at(tree, path))
    return min(found) if found else None


def _at(tree: Node, path: tuple[int, ...]) -> float:
    node = tree
    for i in path:
        node = children(node)[i]
    assert isinstance(node, Number)
    return node.value


_ROLES = {"low": "just below the threshold", "at": "at the threshold",
          "high": "just above the threshold", "zero": "0", "one": "1"}


def _roles(threshold: float | None) -> dict[str, float]:
    """Levels of one input: just below, at and just above its threshold, 0 and 1."""
    if threshold is None:
        return {"low": 0.0, "at": 0.5, "high": 1.0, "zero": 0.0, "one": 1.0}
    delta = max(abs(threshold) * 0.05, 0.005)
    return {"low": round(threshold - delta, 12), "at": threshold,
            "high": round(threshold + delta, 12), "zero": 0.0, "one": 1.0}


def _horizon_ms(trees: Sequence[Node], rules: Sequence[Rule]) -> int:
    longest = 300_000  # instant selectors look back 5m
    for tree in trees:
        for _, node in walk(tree):
            extra = 0
            if isinstance(node, (Matrix, Subquery)):
                extra = node.range_ms
            offset = getattr(node.selector if isinstance(node, Matrix) else node, "offset_ms", None)
            longest = max(longest, extra + abs(offset or 0))
    hold = max((r.for_ms + r.keep_firing_for_ms for r in rules if isinstance(r, AlertingRule)),
               default=0)
    return longest + hold


def _num(value: float) -> str:
    return to_promql(Number(value))


def generated_inputs(trees: Sequence[Node], rules: Sequence[Rule],
                     inputs: Sequence[str], eval_ms: int) -> Iterator[Candidate]:
    """Synthetic inputs for the series ``inputs`` (selector text), simplest first.

    Each input gets levels from the threshold it is compared with directly
    (``self_coherence < bool 0.8``: 0.76, 0.8, 0.84, plus 0 and 1); a candidate
    gives every input the same *role* (below, at, above...), so the number of
    candidates does not grow with the number of inputs. ``trees`` and ``rules``
    are the original and mutated rules involved; their windows, ``for`` and
    ``keep_firing_for`` set the length (two phases, each long enough to fill
    every window and hold). With several inputs, one input at a time also
    changes while the others stay constant.
    """
    if not inputs:
        yield Candidate("no series", (), 10)
        return
    phase = min(math.ceil(_horizon_ms(trees, rules) / eval_ms) + 5, _MAX_STEPS // 2)
    n = 2 * phase
    roles = [_roles(_direct_threshold(trees, sel.split("{", 1)[0])) for sel in inputs]

    def shaped(*parts: tuple[str, int]) -> tuple[tuple[str, str], ...]:
        """Every input: consecutive runs of (role, count) at that input's levels."""
        return tuple((sel, " ".join(f"{_num(levels[role])}x{count}" for role, count in parts))
                     for sel, levels in zip(inputs, roles, strict=True))

    def same(values: str) -> tuple[tuple[str, str], ...]:
        return tuple((sel, values) for sel in inputs)

    for role in ("low", "at", "high", "zero", "one"):
        yield Candidate(f"constant {_ROLES[role]}", shaped((role, n)), n)
    for a, b in (("high", "low"), ("low", "high"), ("at", "low"), ("low", "at"), ("at", "high"),
                 ("high", "at"), ("one", "zero"), ("zero", "one")):
        yield Candidate(f"{_ROLES[a]}, then {_ROLES[b]}",
                        shaped((a, phase - 1), (b, n - phase)), n)
    counter = f"0+1x{n}"
    counter_flat = f"0+1x{phase - 1} {phase - 1}x{n - phase}"
    flat_counter = f"0x{phase - 1} 0+1x{n - phase}"
    for what, values in (("counter", counter), ("counter, then flat", counter_flat),
                         ("flat, then counter", flat_counter)):
        yield Candidate(what, same(values), n)
    if len(inputs) > 1:
        for i, sel in enumerate(inputs):
            step = (f"{_num(roles[i]['high'])}x{phase - 1} {_num(roles[i]['low'])}x{n - phase}")
            for what, values in (("counter, then flat", counter_flat),
                                 ("flat, then counter", flat_counter),
                                 ("just above, then just below its threshold", step)):
                series = tuple((other, values if j == i else f"{_num(levels['at'])}x{n}")
                               for j, (other, levels) in enumerate(zip(inputs, roles, strict=True)))
                yield Candidate(f"{sel}: {what}, the others constant", series, n)
    for role in ("low", "at", "high"):
        yield Candidate(f"{_ROLES[role]}, then no samples",
                        tuple((sel, f"{_num(levels[role])}x{phase - 1} stale")
                              for sel, levels in zip(inputs, roles, strict=True)), n)
    yield Candidate("no series", (), n)


# ---------------------------------------------------------------- the YAML snippet
class _IndentedDumper(yaml.SafeDumper):
    """Block sequences indented under their key, like rules/tests/*.yml."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def snippet(*, name: str, interval_ms: int, series: Sequence[tuple[str, str]],
            case: dict[str, Any], start_ms: int = 0, external_labels: dict[str, str] | None = None,
            external_url: str = "") -> str:
    """One ``tests:`` entry (indented two spaces, to paste under ``tests:``)."""
    entry: dict[str, Any] = {"name": name, "interval": format_duration(interval_ms)}
    if start_ms:
        entry["start_timestamp"] = start_ms / 1000
    if external_labels:
        entry["external_labels"] = dict(external_labels)
    if external_url:
        entry["external_url"] = external_url
    entry["input_series"] = [{"series": s, "values": v} for s, v in series]
    key = "alert_rule_test" if "alertname" in case else "promql_expr_test"
    entry[key] = [case]
    text = yaml.dump([entry], Dumper=_IndentedDumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100_000)
    return "".join(f"  {line}\n" if line else "\n" for line in text.splitlines())

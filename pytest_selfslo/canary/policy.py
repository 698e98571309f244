"""The canary policy: steps, advance gates, rollback alerts and hysteresis.

A policy is plain, immutable data. :func:`~pytest_selfslo.canary.machine.decide`
reads it; nothing in here talks to Prometheus or the disk except
:func:`load_policy`, which turns a YAML file into a :class:`CanaryPolicy` and
names the file, line, key, what was expected and what it got when something is
wrong (``canary.yml:7: gates[1].threshold: expected a number, got 'high'``).

The defaults are the design's: steps 5% → 10% → 25% → 50% → 100%, four gates
over 10-minute averages, rollback on any firing SELF or stability alert. The
SELF thresholds are *not* repeated here: they are read from
:data:`pytest_selfslo.slo.spec.DEFAULT_SLO_SPEC`, the one place those numbers live.

YAML shape (every key optional; unknown keys are refused)::

    steps: [0.05, 0.10, 0.25, 0.50, 1.00]
    gates:
      - name: self_coherence
        expr: avg(avg_over_time(self_coherence[10m]))
        comparison: ">="
        threshold: 0.80
        window: 10m
        no_data: hold            # hold | fail | ignore
    rollback_alerts:             # an alert matching ALL labels of ANY entry rolls back
      - {alertname: "AURIS_SELF_.*", severity: "warning|critical"}
    min_dwell: 10m               # or a list, one per step
    consecutive_successes: 3
    failure_limit: 3
    rollback_to: 0.05
    pause_on_rollback: true
    enforce_steps: true
    compare:                     # optional: judge the canary cohort against the baseline
      metric: coherence          # a SELF score, or a metric name (series labelled per token)
      direction: higher_is_better
      test: mann_whitney
      alpha: 0.05
      min_samples: 50            # fewer in either cohort -> inconclusive -> hold
      max_relative_drop: 0.03    # the effect that counts as a regression
      window: 10m
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import operator
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import promql_parser

from pytest_selfslo._core.durations import format_duration, parse_duration
from pytest_selfslo._core.errors import PolicyError, located
from pytest_selfslo._core.goregex import GoRegexError, Regexp, matcher_regex
from pytest_selfslo.promql.exprguard import check_expr, ensure_recursion
from pytest_selfslo.rulefmt.goyaml import compose, read_document_or_raise, to_python
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

__all__ = [
    "COMPARISONS",
    "DEFAULT_POLICY",
    "NO_DATA_MODES",
    "AdaptivePolicy",
    "AlertMatcher",
    "CanaryPolicy",
    "ComparePolicy",
    "Gate",
    "compare",
    "load_policy",
    "policy_from_mapping",
]

#: comparison operator -> predicate(value, threshold)
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt,
}
NO_DATA_MODES = ("hold", "fail", "ignore")
#: the SELF scores a ``compare:`` block can name directly (gauge ``self_<score>``)
SELF_SCORES = ("coherence", "continuity", "presence", "stress")
COMPARE_DIRECTIONS = ("higher_is_better", "lower_is_better")
COMPARE_TESTS = ("mann_whitney",)
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
DEFAULT_STEPS: tuple[float, ...] = (0.05, 0.10, 0.25, 0.50, 1.00)


def compare(value: float, comparison: str, threshold: float) -> bool:
    """Whether ``value <comparison> threshold`` holds (NaN never holds)."""
    return bool(COMPARISONS[comparison](value, threshold))


@dataclasses.dataclass(frozen=True)
class Gate:
    """One advance gate: a PromQL expression whose single value must satisfy a comparison.

    >>> Gate("self_stress", "avg(avg_over_time(self_stress[10m]))", "<=", 0.30).passes(0.2)
    True
    """

    name: str
    expr: str
    comparison: str
    threshold: float
    window: str = "10m"
    no_data: str = "hold"

    def passes(self, value: float) -> bool:
        """Whether a present, finite ``value`` satisfies the gate."""
        return math.isfinite(value) and compare(value, self.comparison, self.threshold)

    def describe(self) -> str:
        """``self_stress <= 0.3`` -- used in reasons and timelines."""
        return f"{self.name} {self.comparison} {self.threshold:g}"


def alert_regex(pattern: str) -> Regexp:
    """A ``rollback_alerts`` pattern: Go/RE2 syntax, anchored like Alertmanager's ``=~``.

    ``^(?:pattern)$``: the whole label value must match and ``.`` does not match a
    newline; matching takes linear time whatever the pattern (RE2). Raises
    :class:`~pytest_selfslo._core.goregex.GoRegexError` with Go's message.
    """
    return matcher_regex(pattern, dotall=False)


@dataclasses.dataclass(frozen=True)
class AlertMatcher:
    """Label matchers (fully anchored regular expressions) selecting rollback alerts.

    An alert matches when every listed label is present and fully matches.

    >>> AlertMatcher((("alertname", "AURIS_SELF_.*"),)).matches({"alertname": "AURIS_SELF_Stress_High"})
    True
    """

    labels: tuple[tuple[str, str], ...]

    def matches(self, alert: Mapping[str, str]) -> bool:
        """Whether ``alert`` (a label dict) carries every label with a fully matching value."""
        for name, pattern in self.labels:
            value = alert.get(name)
            if value is None or not alert_regex(pattern).fullmatch(str(value)):
                return False
        return True

    def describe(self) -> str:
        """``{alertname=~"AURIS_SELF_.*"}`` -- PromQL-like spelling for messages."""
        inner = ", ".join(f'{k}=~"{v}"' for k, v in self.labels)
        return "{" + inner + "}"


@dataclasses.dataclass(frozen=True)
class AdaptivePolicy:
    """Adaptive activation: shrink the effective sampling while SELF stress is high.

    While the current stress is above ``stress_high`` the effective sampling is
    ``sampling * factor``; it is restored only once stress falls to
    ``stress_low`` or below (hysteresis, so a value hovering at one threshold
    cannot flap the activation).
    """

    stress_high: float = 0.30
    stress_low: float = 0.20
    factor: float = 0.5


@dataclasses.dataclass(frozen=True)
class ComparePolicy:
    """The baseline comparison gate: is the canary cohort worse than the rest?

    Cohorts come from the sticky bucketing of ``label`` (a token in the canary
    at the current sampling vs every other token), over the last ``window`` of
    samples of ``metric``; or, when ``canary`` and ``baseline`` are given, from
    one PromQL expression per cohort. The test (``mann_whitney``: one-sided
    Mann-Whitney U) is computed outside :func:`~pytest_selfslo.canary.machine.decide`
    and judged there: fewer than ``min_samples`` in a cohort, or any missing
    statistic, is *inconclusive* (hold); ``p < alpha`` together with a
    relative drop of the canary's median beyond ``max_relative_drop`` is a
    *regression* (a failing observation).

    >>> ComparePolicy(metric="coherence").expr
    'self_coherence[10m]'
    """

    metric: str = "coherence"
    direction: str = "higher_is_better"
    test: str = "mann_whitney"
    alpha: float = 0.05
    min_samples: int = 50
    max_relative_drop: float = 0.03
    window: str = "10m"
    label: str = "token_id"
    canary: str | None = None
    baseline: str | None = None

    @property
    def score(self) -> str | None:
        """The SELF score this compares (``coherence``), or ``None`` for another metric."""
        name = self.metric.removeprefix("self_")
        return name if name in SELF_SCORES else None

    @property
    def selector(self) -> str:
        """The metric name in Prometheus (``self_coherence`` for a SELF score)."""
        score = self.score
        return f"self_{score}" if score is not None else self.metric

    @property
    def expr(self) -> str:
        """The range selector whose samples are split into cohorts by bucketing ``label``."""
        return f"{self.selector}[{self.window}]"

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger value is better (coherence) rather than worse (stress)."""
        return self.direction == "higher_is_better"

    def describe(self) -> str:
        """``compare coherence (mann_whitney, alpha 0.05, drop > 0.03)`` for reasons and views."""
        return (f"compare {self.metric} ({self.test}, alpha {self.alpha:g}, "
                f"drop > {self.max_relative_drop:.3g})")

    def to_dict(self) -> dict[str, Any]:
        """The YAML shape (keys left at ``None`` are omitted)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclasses.dataclass(frozen=True)
class CanaryPolicy:
    """What the controller may do and on which evidence.

    ``min_dwell[i]`` is the time (seconds) to stay at ``steps[i]`` before
    advancing; ``consecutive_successes`` green observations in a row are needed
    too; ``failure_limit`` consecutive failing observations roll back.

    >>> policy = CanaryPolicy(steps=(0.1, 1.0), gates=())
    >>> policy.next_step(0.1)
    1.0
    """

    steps: tuple[float, ...] = DEFAULT_STEPS
    gates: tuple[Gate, ...] = ()
    rollback_alerts: tuple[AlertMatcher, ...] = ()
    min_dwell: tuple[float, ...] = (600.0,)  # one value applies to every step
    consecutive_successes: int = 3
    failure_limit: int = 3
    rollback_to: float | None = None
    pause_on_rollback: bool = True
    enforce_steps: bool = True
    adaptive: AdaptivePolicy | None = None
    compare: ComparePolicy | None = None

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise PolicyError("invalid canary policy: " + "; ".join(problems))
        if self.rollback_to is None:
            object.__setattr__(self, "rollback_to", self.steps[0])
        if len(self.min_dwell) == 1 and len(self.steps) > 1:
            object.__setattr__(self, "min_dwell", self.min_dwell * len(self.steps))

    @property
    def floor(self) -> float:
        """The rollback target (``rollback_to``, the first step unless configured)."""
        return self.steps[0] if self.rollback_to is None else self.rollback_to

    def step_index(self, sampling: float) -> int:
        """Index of the largest step ``<= sampling`` (``-1`` below the first step)."""
        index = -1
        for i, step in enumerate(self.steps):
            if step <= sampling + 1e-12:
                index = i
        return index

    def next_step(self, sampling: float) -> float | None:
        """The smallest step strictly above ``sampling``, or ``None`` at the top."""
        for step in self.steps:
            if step > sampling + 1e-12:
                return step
        return None

    def dwell_at(self, sampling: float) -> float:
        """Seconds to dwell at ``sampling`` before the next advance."""
        return self.min_dwell[max(self.step_index(sampling), 0)]

    def snap(self, sampling: float) -> float | None:
        """The step equal to ``sampling`` within 1e-9, else ``None``."""
        for step in self.steps:
            if abs(step - sampling) <= 1e-9:
                return step
        return None

    def to_dict(self) -> dict[str, Any]:
        """The policy as the YAML shape :func:`load_policy` reads (round-trips)."""
        out: dict[str, Any] = {
            "steps": list(self.steps),
            "gates": [dataclasses.asdict(g) for g in self.gates],
            "rollback_alerts": [dict(m.labels) for m in self.rollback_alerts],
            "min_dwell": [format_duration(round(d * 1000)) for d in self.min_dwell],
            "consecutive_successes": self.consecutive_successes,
            "failure_limit": self.failure_limit,
            "rollback_to": self.floor,
            "pause_on_rollback": self.pause_on_rollback,
            "enforce_steps": self.enforce_steps,
        }
        if self.adaptive is not None:
            out["adaptive"] = dataclasses.asdict(self.adaptive)
        if self.compare is not None:
            out["compare"] = self.compare.to_dict()
        return out


def _problems(policy: CanaryPolicy) -> list[str]:
    """Everything wrong with a policy's values, as readable sentences."""
    out: list[str] = []
    steps = policy.steps
    if not steps:
        out.append("steps: expected at least one step, got none")
    elif not all(isinstance(s, (int, float)) and math.isfinite(s) and 0 < s <= 1 for s in steps):
        out.append(f"steps: expected every step finite and in (0, 1], got {list(steps)}")
    elif any(b <= a for a, b in itertools.pairwise(steps)):
        out.append(f"steps: expected strictly increasing values, got {list(steps)}")
    if len(policy.min_dwell) not in (1, len(steps)):
        out.append(f"min_dwell: expected one duration or one per step ({len(steps)}), "
                   f"got {len(policy.min_dwell)}")
    if any(not math.isfinite(d) or d < 0 for d in policy.min_dwell):
        out.append(f"min_dwell: expected non-negative durations, got {list(policy.min_dwell)}")
    if isinstance(policy.consecutive_successes, bool) or policy.consecutive_successes < 1:
        out.append(f"consecutive_successes: expected an integer >= 1, "
                   f"got {policy.consecutive_successes!r}")
    if isinstance(policy.failure_limit, bool) or policy.failure_limit < 1:
        out.append(f"failure_limit: expected an integer >= 1, got {policy.failure_limit!r}")
    if policy.rollback_to is not None and steps and policy.rollback_to not in steps:
        out.append(f"rollback_to: expected one of the steps {list(steps)}, got {policy.rollback_to!r}")
    seen: set[str] = set()
    duplicated: set[str] = set()
    for gate in policy.gates:  # a set: 10,000 gates must not cost 10,000**2
        (duplicated if gate.name in seen else seen).add(gate.name)
    dupes = sorted(duplicated)
    if dupes:
        out.append(f"gates: expected unique names, got duplicates {dupes}")
    for gate in policy.gates:
        if gate.comparison not in COMPARISONS:
            out.append(f"gate {gate.name!r}: comparison: expected one of {list(COMPARISONS)}, "
                       f"got {gate.comparison!r}")
        if gate.no_data not in NO_DATA_MODES:
            out.append(f"gate {gate.name!r}: no_data: expected one of {list(NO_DATA_MODES)}, "
                       f"got {gate.no_data!r}")
        if not math.isfinite(gate.threshold):
            out.append(f"gate {gate.name!r}: threshold: expected a finite number, got {gate.threshold!r}")
    adaptive = policy.adaptive
    if adaptive is not None and not (0 <= adaptive.stress_low <= adaptive.stress_high <= 1
                                     and 0 < adaptive.factor <= 1):
        out.append("adaptive: expected 0 <= stress_low <= stress_high <= 1 and factor in (0, 1], "
                   f"got {adaptive}")
    if policy.compare is not None:
        out.extend(_compare_problems(policy.compare))
    return out


def _compare_problems(c: ComparePolicy) -> list[str]:
    out: list[str] = []
    if c.direction not in COMPARE_DIRECTIONS:
        out.append(f"compare.direction: expected one of {list(COMPARE_DIRECTIONS)}, got {c.direction!r}")
    if c.test not in COMPARE_TESTS:
        out.append(f"compare.test: expected one of {list(COMPARE_TESTS)}, got {c.test!r}")
    if not (isinstance(c.alpha, (int, float)) and 0 < c.alpha < 1):
        out.append(f"compare.alpha: expected a number in (0, 1), got {c.alpha!r}")
    if isinstance(c.min_samples, bool) or not isinstance(c.min_samples, int) or c.min_samples < 3:
        out.append(f"compare.min_samples: expected an integer >= 3, got {c.min_samples!r}")
    if not (isinstance(c.max_relative_drop, (int, float)) and 0 <= c.max_relative_drop < 1):
        out.append(f"compare.max_relative_drop: expected a number in [0, 1), "
                   f"got {c.max_relative_drop!r}")
    if (c.canary is None) != (c.baseline is None):
        out.append("compare: expected both canary and baseline expressions or neither, got one")
    if c.canary is None and not _METRIC_NAME.fullmatch(c.metric):
        out.append(f"compare.metric: expected a SELF score {list(SELF_SCORES)} or a metric name, "
                   f"got {c.metric!r}")
    return out


# --------------------------------------------------------------------------- defaults

def _slo_threshold(metric: str) -> tuple[str, float]:
    """Comparison and target of the SLO objective on ``metric`` (from the one SLO spec)."""

    for objective in DEFAULT_SLO_SPEC.objectives:
        if objective.metric == metric:
            return str(objective.comparison), float(objective.target)
    raise LookupError(f"DEFAULT_SLO_SPEC has no objective on {metric!r}")  # pragma: no cover


def _avg_gate(name: str, comparison: str, threshold: float, window: str = "10m") -> Gate:
    return Gate(name, f"avg(avg_over_time({name}[{window}]))", comparison, threshold, window)


def _default_gates() -> tuple[Gate, ...]:
    gates = [_avg_gate("stability_score_ema", ">=", 0.80), _avg_gate("oscillation_rate", "==", 0.0)]
    for metric in ("self_coherence", "self_stress"):
        gates.append(_avg_gate(metric, *_slo_threshold(metric)))
    return tuple(gates)


DEFAULT_ROLLBACK_ALERTS: tuple[AlertMatcher, ...] = (
    AlertMatcher((("alertname", "AURIS_SELF_.*|AURIS_Stability_.*|AURIS_Oscillation_.*"),
                  ("severity", "warning|critical"))),
)

#: the design's policy: five steps, four gates, rollback on SELF/stability alerts
DEFAULT_POLICY = CanaryPolicy(gates=_default_gates(), rollback_alerts=DEFAULT_ROLLBACK_ALERTS)


# --------------------------------------------------------------------------- loading

_KEYS = {f.name for f in dataclasses.fields(CanaryPolicy)}
_GATE_KEYS = {"name", "expr", "comparison", "threshold", "window", "no_data"}
_COMPARE_KEYS = {f.name for f in dataclasses.fields(ComparePolicy)}


class _Reader:
    """Converts the YAML mapping, remembering each key path's line for error messages."""

    def __init__(self, path: str | None, lines: dict[str, int]) -> None:
        self.path = path
        self.lines = lines

    def line(self, key: str) -> int | None:
        """The line of ``key``, else of its nearest parent that has one."""
        parent, line = key, self.lines.get(key)
        while line is None and parent:
            stripped = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", parent)
            if stripped == parent:
                break
            parent, line = stripped, self.lines.get(stripped)
        return line

    def fail(self, key: str, expected: str, got: Any) -> PolicyError:
        return PolicyError(located(f"{key}: expected {expected}, got {got!r}", self.path,
                                   self.line(key)))

    def number(self, key: str, value: Any, *, low: float | None = None, high: float | None = None,
               low_open: bool = False) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value <= high
        if not ok:
            lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
            hi = "" if high is None else f"<= {high:g}"
            bounds = " and ".join(b for b in (lo, hi) if b)
            raise self.fail(key, "a finite number" + (f" {bounds}" if bounds else ""), value)
        return float(value)

    def integer(self, key: str, value: Any, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(key, f"an integer >= {low}", value)
        return value

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "a non-empty string", value)
        return value

    def duration(self, key: str, value: Any) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
        try:
            return parse_duration(str(value)) / 1000.0
        except ValueError:
            raise self.fail(key, "a duration such as 10m, 90s or 1h30m", value) from None

    def mapping(self, key: str, value: Any, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, "a mapping", value)
        unknown = sorted(str(k) for k in value if k not in allowed)
        if unknown:
            where = f"{key}.{unknown[0]}" if key else unknown[0]
            raise self.fail(where, f"one of the keys {sorted(allowed)}", unknown[0])
        return value


def _gate(r: _Reader, key: str, raw: Any) -> Gate:
    data = r.mapping(key, raw, _GATE_KEYS)
    for required in ("name", "expr", "comparison", "threshold"):
        if required not in data:
            raise r.fail(f"{key}.{required}", "a value (required)", None)
    expr = r.text(f"{key}.expr", data["expr"])
    ensure_recursion(check_expr(expr, located(f"{key}.expr", r.path, r.line(f"{key}.expr"))))
    try:
        promql_parser.parse(expr)
    except ValueError as exc:
        raise r.fail(f"{key}.expr", f"a PromQL expression that parses ({exc})", expr) from None
    comparison = data["comparison"]
    if comparison not in COMPARISONS:
        raise r.fail(f"{key}.comparison", f"one of {list(COMPARISONS)}", comparison)
    no_data = data.get("no_data", "hold")
    if no_data not in NO_DATA_MODES:
        raise r.fail(f"{key}.no_data", f"one of {list(NO_DATA_MODES)}", no_data)
    window = data.get("window", "10m")
    r.duration(f"{key}.window", window)
    return Gate(name=r.text(f"{key}.name", data["name"]), expr=expr, comparison=comparison,
                threshold=r.number(f"{key}.threshold", data["threshold"]),
                window=str(window), no_data=no_data)


def _matcher(r: _Reader, key: str, raw: Any) -> AlertMatcher:
    if not isinstance(raw, Mapping) or not raw:
        raise r.fail(key, "a non-empty mapping of label name to regular expression", raw)
    labels = []
    for name, pattern in raw.items():
        text = r.text(f"{key}.{name}", pattern)
        try:
            alert_regex(text)
        except GoRegexError as exc:
            raise r.fail(f"{key}.{name}", f"a valid regular expression ({exc})", text) from None
        labels.append((str(name), text))
    return AlertMatcher(tuple(labels))


def _compare(r: _Reader, raw: Any) -> ComparePolicy:
    data = r.mapping("compare", raw, _COMPARE_KEYS)
    base = ComparePolicy()
    kwargs: dict[str, Any] = {}
    if "metric" in data:
        metric = r.text("compare.metric", data["metric"])
        if not _METRIC_NAME.fullmatch(metric):
            raise r.fail("compare.metric", f"a SELF score {list(SELF_SCORES)} or a metric name",
                         metric)
        kwargs["metric"] = metric
    for key, allowed in (("direction", COMPARE_DIRECTIONS), ("test", COMPARE_TESTS)):
        if key in data and data[key] not in allowed:
            raise r.fail(f"compare.{key}", f"one of {list(allowed)}", data[key])
        if key in data:
            kwargs[key] = data[key]
    if "alpha" in data:
        alpha = r.number("compare.alpha", data["alpha"], low=0, high=1, low_open=True)
        if alpha >= 1:
            raise r.fail("compare.alpha", "a finite number > 0 and < 1", data["alpha"])
        kwargs["alpha"] = alpha
    if "min_samples" in data:
        kwargs["min_samples"] = r.integer("compare.min_samples", data["min_samples"], 3)
    if "max_relative_drop" in data:
        drop = r.number("compare.max_relative_drop", data["max_relative_drop"], low=0, high=1)
        if drop >= 1:
            raise r.fail("compare.max_relative_drop", "a finite number >= 0 and < 1",
                         data["max_relative_drop"])
        kwargs["max_relative_drop"] = drop
    if "window" in data:
        r.duration("compare.window", data["window"])
        kwargs["window"] = str(data["window"])
    if "label" in data:
        label = r.text("compare.label", data["label"])
        if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", label):
            raise r.fail("compare.label", "a label name", label)
        kwargs["label"] = label
    for key in ("canary", "baseline"):
        if key in data:
            expr = r.text(f"compare.{key}", data[key])
            try:
                promql_parser.parse(expr)
            except ValueError as exc:
                raise r.fail(f"compare.{key}", f"a PromQL expression that parses ({exc})",
                             expr) from None
            kwargs[key] = expr
    if ("canary" in kwargs) != ("baseline" in kwargs):
        missing = "baseline" if "canary" in kwargs else "canary"
        raise r.fail(f"compare.{missing}", "a PromQL expression (canary and baseline come "
                     "together)", None)
    return dataclasses.replace(base, **kwargs)


def policy_from_mapping(data: Any, path: str | None = None,
                        lines: dict[str, int] | None = None) -> CanaryPolicy:
    """Build a policy from the YAML shape; missing keys take :data:`DEFAULT_POLICY`'s values."""
    r = _Reader(path, lines or {})
    if data is None:
        data = {}
    data = r.mapping("", data, _KEYS) if isinstance(data, Mapping) else r.mapping("policy", data, _KEYS)
    base = DEFAULT_POLICY
    kwargs: dict[str, Any] = {}
    if "steps" in data:
        raw = data["steps"]
        if not isinstance(raw, list) or not raw:
            raise r.fail("steps", "a non-empty list of fractions in (0, 1]", raw)
        steps = tuple(r.number(f"steps[{i}]", v, low=0, high=1, low_open=True)
                      for i, v in enumerate(raw))
        for i in range(1, len(steps)):
            if steps[i] <= steps[i - 1]:
                raise r.fail(f"steps[{i}]", f"a value greater than steps[{i - 1}] = {steps[i - 1]:g} "
                             "(steps must be strictly increasing)", raw[i])
        kwargs["steps"] = steps
    steps = kwargs.get("steps", base.steps)
    if "gates" in data:
        raw = data["gates"]
        if not isinstance(raw, list):
            raise r.fail("gates", "a list of gates", raw)
        gates = tuple(_gate(r, f"gates[{i}]", g) for i, g in enumerate(raw))
        used: set[str] = set()
        for i, gate in enumerate(gates):  # a set: 10,000 gates must not cost 10,000**2
            if gate.name in used:
                raise r.fail(f"gates[{i}].name", "a name not used by an earlier gate", gate.name)
            used.add(gate.name)
        kwargs["gates"] = gates
    if "rollback_alerts" in data:
        raw = data["rollback_alerts"]
        if not isinstance(raw, list):
            raise r.fail("rollback_alerts", "a list of label matchers", raw)
        kwargs["rollback_alerts"] = tuple(_matcher(r, f"rollback_alerts[{i}]", m)
                                          for i, m in enumerate(raw))
    if "min_dwell" in data:
        raw = data["min_dwell"]
        if isinstance(raw, list):
            if len(raw) != len(steps):
                raise r.fail("min_dwell", f"one duration per step ({len(steps)})", raw)
            kwargs["min_dwell"] = tuple(r.duration(f"min_dwell[{i}]", v) for i, v in enumerate(raw))
        else:
            kwargs["min_dwell"] = (r.duration("min_dwell", raw),) * len(steps)
    elif "steps" in data:
        kwargs["min_dwell"] = (base.min_dwell[0],) * len(steps)
    if "consecutive_successes" in data:
        kwargs["consecutive_successes"] = r.integer("consecutive_successes",
                                                    data["consecutive_successes"], 1)
    if "failure_limit" in data:
        kwargs["failure_limit"] = r.integer("failure_limit", data["failure_limit"], 1)
    if "rollback_to" in data:
        value = r.number("rollback_to", data["rollback_to"], low=0, high=1, low_open=True)
        if value not in steps:
            raise r.fail("rollback_to", f"one of the steps {list(steps)}", data["rollback_to"])
        kwargs["rollback_to"] = value
    elif "steps" in data:
        kwargs["rollback_to"] = steps[0]
    for key in ("pause_on_rollback", "enforce_steps"):
        if key in data:
            kwargs[key] = r.boolean(key, data[key])
    if "adaptive" in data and data["adaptive"] is not None:
        raw = r.mapping("adaptive", data["adaptive"], {"stress_high", "stress_low", "factor"})
        defaults = AdaptivePolicy()
        high = r.number("adaptive.stress_high", raw.get("stress_high", defaults.stress_high), low=0, high=1)
        low = r.number("adaptive.stress_low", raw.get("stress_low", defaults.stress_low), low=0, high=high)
        factor = r.number("adaptive.factor", raw.get("factor", defaults.factor), low=0, high=1,
                          low_open=True)
        kwargs["adaptive"] = AdaptivePolicy(stress_high=high, stress_low=low, factor=factor)
    if "compare" in data and data["compare"] is not None:
        kwargs["compare"] = _compare(r, data["compare"])
    return dataclasses.replace(base, **kwargs)


def load_policy(path: str | Path) -> CanaryPolicy:
    """Read a canary policy YAML file; any problem is a :class:`PolicyError` naming file, line and key."""
    text_path = str(path)
    # regular files only: never a FIFO
    text = read_document_or_raise(path, "the policy file", PolicyError)
    node, problem = compose(text, text_path)
    if problem is not None:  # invalid YAML, or a limit of the reader (size, depth, aliases)
        message = problem.message if problem.code == "yaml-syntax" else \
            f"invalid YAML: {problem.message}"
        raise PolicyError(located(message, text_path, problem.line))
    data, nodes, problems = to_python(node, text_path)
    if problems:
        raise PolicyError(located(problems[0].message, text_path, problems[0].line))
    lines = {key: n.line for key, n in nodes.items() if key}
    if data is not None and not isinstance(data, Mapping):
        raise PolicyError(located(f"expected a mapping of policy keys at the top level, got "
                                  f"{type(data).__name__}", text_path, 1))
    return policy_from_mapping(data, text_path, lines)

"""SLO spec: the one place the Phase C targets live, its YAML loader, and evaluation.

Rules (drift check), replay, the canary tuner and the operator API all read
the targets from an :class:`SLOSpec`, normally :data:`DEFAULT_SLO_SPEC` or one
loaded with :func:`load_slo_spec`, so a target is changed in exactly one place.

    >>> from pytest_selfslo.heartbeat import generate_heartbeats
    >>> report = evaluate(DEFAULT_SLO_SPEC, generate_heartbeats("stress_spike", 100))
    >>> report.slo_status()
    {'coherence_slo': True, 'continuity_slo': True, 'stress_slo': False}

The YAML format (``pytest_selfslo/data/default_slo.yml`` is the default spec)::

    alert_group: auris-self-phase-c
    runbook_url: docs/PHASE_B_TO_C_RUNBOOK.md#self-slo-violations
    objectives:
      - name: coherence
        metric: self_coherence
        comparison: ">="
        target: 0.80
        window: 5m
        alert: AURIS_SELF_Coherence_Drop
        for: 5m
        severity: warning
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from pytest_selfslo._core.durations import parse_duration as parse_duration_ms
from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.rulefmt.goyaml import compose, read_document, to_python

if TYPE_CHECKING:
    from pytest_selfslo.heartbeat import Heartbeat

__all__ = [
    "DEFAULT_SLO_SPEC",
    "PERCENTILES",
    "SCORE_NAMES",
    "Objective",
    "ObjectiveResult",
    "SLOReport",
    "SLOSpec",
    "dump_slo_spec",
    "evaluate",
    "evaluate_columns",
    "load_slo_spec",
    "parse_duration",
]

#: The four SELF scores, in the order used everywhere (same as ``heartbeat.SCORES``).
SCORE_NAMES: tuple[str, ...] = ("coherence", "continuity", "presence", "stress")
#: Percentiles reported per score, name -> fraction.
PERCENTILES: dict[str, float] = {"p50": 0.50, "p95": 0.95, "p99": 0.99}

Comparison = Literal[">=", "<="]
_VIOLATION_OP: dict[str, str] = {">=": "<", "<=": ">"}
_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def parse_duration(text: str) -> float:
    """Prometheus duration (``5m``, ``1h30m``, ``500ms``) -> seconds.

    Raises ``ValueError`` with the offending text; a bare number is refused
    because Prometheus refuses it in rule files too.
    """
    try:
        if not isinstance(text, str) or text == "0":
            raise ValueError(text)
        return parse_duration_ms(text) / 1000.0
    except ValueError:
        raise ValueError(f"not a Prometheus duration: {text!r} "
                         "(expected e.g. '5m', '1h30m', '30s')") from None


def _format_target(value: float) -> str:
    """Render a target the way rule files write it: ``0.80`` rather than ``0.8``."""
    two = f"{value:.2f}"
    return two if float(two) == value else repr(value)


@dataclass(frozen=True, slots=True)
class Objective:
    """One SLO: ``avg_over_time(<metric>[<window>]) <comparison> <target>`` must hold.

    >>> o = Objective("coherence", "self_coherence", ">=", 0.80)
    >>> o.met(0.85), o.alert_expr
    (True, 'avg_over_time(self_coherence[5m]) < 0.80')
    """

    name: str
    metric: str
    comparison: Comparison
    target: float
    window: str = "5m"
    alert: str = ""
    for_: str = "5m"
    severity: str = "warning"

    def __post_init__(self) -> None:
        if self.comparison not in _VIOLATION_OP:
            raise ValueError(f"objective {self.name!r}: comparison must be '>=' or '<=', "
                             f"got {self.comparison!r}")
        if not self.metric.startswith("self_") or self.metric[5:] not in SCORE_NAMES:
            raise ValueError(f"objective {self.name!r}: metric must be one of "
                             f"{', '.join('self_' + s for s in SCORE_NAMES)}, got {self.metric!r}")
        if not (isinstance(self.target, (int, float)) and math.isfinite(self.target)
                and 0.0 <= self.target <= 1.0):
            raise ValueError(f"objective {self.name!r}: target must be a number in [0, 1], "
                             f"got {self.target!r}")
        parse_duration(self.window)
        parse_duration(self.for_)

    @property
    def score(self) -> str:
        """Heartbeat field this objective reads (``self_coherence`` -> ``coherence``)."""
        return self.metric[len("self_"):]

    def met(self, value: float) -> bool:
        """Whether ``value`` satisfies the objective (NaN never does)."""
        if self.comparison == ">=":
            return value >= self.target
        return value <= self.target

    @property
    def violation_op(self) -> str:
        """Operator of the alert condition: the negation of :attr:`comparison`."""
        return _VIOLATION_OP[self.comparison]

    @property
    def alert_expr(self) -> str:
        """The alerting expression that fires when the objective is violated."""
        return (f"avg_over_time({self.metric}[{self.window}]) {self.violation_op} "
                f"{_format_target(self.target)}")

    @property
    def window_seconds(self) -> float:
        return parse_duration(self.window)

    @property
    def for_seconds(self) -> float:
        return parse_duration(self.for_)

    def describe(self) -> str:
        """Human form used in reports: ``coherence >= 0.80``."""
        return f"{self.name} {self.comparison} {_format_target(self.target)}"


@dataclass(frozen=True, slots=True)
class SLOSpec:
    """A set of objectives plus the alert group and runbook they belong to.

    >>> DEFAULT_SLO_SPEC.objective("stress").target
    0.3
    """

    objectives: tuple[Objective, ...]
    alert_group: str = "auris-self-phase-c"
    runbook_url: str = "docs/PHASE_B_TO_C_RUNBOOK.md#self-slo-violations"

    def __post_init__(self) -> None:
        names = [o.name for o in self.objectives]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate objective name(s): {', '.join(dupes)}")

    def objective(self, name: str) -> Objective:
        """The objective called ``name``; ``KeyError`` lists the known names."""
        for obj in self.objectives:
            if obj.name == name:
                return obj
        known = ", ".join(o.name for o in self.objectives) or "none"
        raise KeyError(f"no objective named {name!r} (known: {known})")

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the YAML file's shape (``for_`` is written as ``for``)."""
        return {
            "alert_group": self.alert_group,
            "runbook_url": self.runbook_url,
            "objectives": [
                {"name": o.name, "metric": o.metric, "comparison": o.comparison,
                 "target": o.target, "window": o.window, "alert": o.alert, "for": o.for_,
                 "severity": o.severity}
                for o in self.objectives
            ],
        }


#: Phase C targets. THE place these numbers live in code; everything else reads them here.
DEFAULT_SLO_SPEC = SLOSpec(
    objectives=(
        Objective("coherence", "self_coherence", ">=", 0.80,
                  alert="AURIS_SELF_Coherence_Drop"),
        Objective("continuity", "self_continuity", ">=", 0.90,
                  alert="AURIS_SELF_Continuity_Drop"),
        Objective("stress", "self_stress", "<=", 0.30, alert="AURIS_SELF_Stress_High"),
    ),
)


# ---------------------------------------------------------------------------
# YAML loading
# ---------------------------------------------------------------------------

_TOP_KEYS = {"alert_group": str, "runbook_url": str, "objectives": list}
_OBJECTIVE_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str, "metric": str, "comparison": str, "target": (int, float), "window": str,
    "alert": str, "for": str, "severity": str,
}
_REQUIRED_OBJECTIVE_KEYS = ("name", "metric", "comparison", "target")
_TYPE_NAMES = {str: "a string", list: "a list", (int, float): "a number", dict: "a mapping"}


def _got(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


class _Loader:
    """Validates parsed YAML against the schema, raising errors with path:line and key."""

    def __init__(self, path: str, lines: Mapping[str, int]) -> None:
        self.path = path
        self.lines = lines

    def fail(self, key: str, message: str) -> SLOSpecError:
        line = self.lines.get(key)
        if line is None:  # fall back to the nearest enclosing key that has a line
            parent = key.rsplit(".", 1)[0] if "." in key else ""
            line = self.lines.get(parent)
        where = f"{self.path}:{line}" if line is not None else self.path
        return SLOSpecError(f"{where}: {key or '<top level>'}: {message}")

    def check_keys(self, data: Mapping[str, Any], allowed: Iterable[str], prefix: str) -> None:
        allowed = list(allowed)
        for key in data:
            if key not in allowed:
                path = f"{prefix}.{key}" if prefix else str(key)
                raise self.fail(path, f"unknown key {key!r} (allowed: {', '.join(allowed)})")

    def typed(self, data: Mapping[str, Any], key: str, expected: type | tuple[type, ...],
              prefix: str) -> Any:
        value = data[key]
        path = f"{prefix}.{key}" if prefix else key
        bad_bool = isinstance(value, bool) and expected is not bool
        if bad_bool or not isinstance(value, expected):
            raise self.fail(path, f"expected {_TYPE_NAMES.get(expected, str(expected))}, "
                                  f"got {_got(value)}")
        return value

    def objective(self, raw: Any, index: int) -> Objective:
        prefix = f"objectives[{index}]"
        if not isinstance(raw, dict):
            raise self.fail(prefix, f"expected a mapping, got {_got(raw)}")
        self.check_keys(raw, _OBJECTIVE_KEYS, prefix)
        for key in _REQUIRED_OBJECTIVE_KEYS:
            if key not in raw:
                raise self.fail(prefix, f"missing required key {key!r}")
        values = {k: self.typed(raw, k, t, prefix) for k, t in _OBJECTIVE_KEYS.items() if k in raw}
        values["for_"] = values.pop("for", "5m")
        for key in ("window", "for_"):
            if key in values:
                try:
                    parse_duration(values[key])
                except ValueError as exc:
                    raise self.fail(f"{prefix}.{key.rstrip('_')}", str(exc)) from None
        if not _NAME_RE.match(values["name"]):
            raise self.fail(f"{prefix}.name", f"expected an identifier ([a-zA-Z_][a-zA-Z0-9_]*), "
                                              f"got {values['name']!r}")
        try:
            return Objective(target=float(values.pop("target")), **values)
        except ValueError as exc:
            key = next((k for k in ("comparison", "metric", "target") if k in str(exc)), "")
            raise self.fail(f"{prefix}.{key}" if key else prefix,
                            str(exc).split(": ", 1)[-1]) from None

    def spec(self, data: Any) -> SLOSpec:
        if not isinstance(data, dict):
            raise self.fail("", f"expected a mapping with an 'objectives' list, got {_got(data)}")
        self.check_keys(data, _TOP_KEYS, "")
        if "objectives" not in data:
            raise self.fail("", "missing required key 'objectives'")
        extra = {k: self.typed(data, k, t, "") for k, t in _TOP_KEYS.items() if k in data}
        raw_objectives = extra.pop("objectives")
        if not raw_objectives:
            raise self.fail("objectives", "expected at least one objective, got an empty list")
        objectives = tuple(self.objective(raw, i) for i, raw in enumerate(raw_objectives))
        names = [o.name for o in objectives]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise self.fail(f"objectives[{i}].name", f"duplicate objective name {name!r}")
        return SLOSpec(objectives=objectives, **extra)


def load_slo_spec(path: str | Path) -> SLOSpec:
    """Load and validate an SLO spec YAML file.

    Every problem raises :class:`SLOSpecError` as ``file:line: key: expected X, got Y``;
    unknown keys are rejected so that a typo (``taget:``) cannot silently fall
    back to a default, and so are repeated keys. The YAML is read by the one
    positioned reader (:mod:`pytest_selfslo.rulefmt.goyaml`, Go's ``yaml.v2``
    dialect: merge keys work, YAML bombs and deep nesting are refused).
    """

    path_text = str(path)
    try:
        text = read_document(path, "the SLO spec")  # regular files only: never a FIFO
    except FileNotFoundError:
        raise SLOSpecError(f"{path_text}: no such SLO spec file") from None
    except IsADirectoryError:
        raise SLOSpecError(f"{path_text}: is a directory, expected an SLO spec YAML file") from None
    except PermissionError:
        raise SLOSpecError(f"{path_text}: permission denied reading the SLO spec") from None
    except OSError as exc:  # a FIFO, a device, a file over MAX_DOCUMENT_BYTES
        raise SLOSpecError(f"{path_text}: cannot read the SLO spec: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SLOSpecError(f"{path_text}: not UTF-8 text ({exc.reason})") from None
    node, problem = compose(text, path_text)
    if problem is not None:  # invalid YAML, or a limit of the reader (size, depth, aliases)
        message = problem.message if problem.code == "yaml-syntax" else \
            f"invalid YAML: {problem.message}"
        raise SLOSpecError(f"{path_text}:{problem.line}: {message}")
    if node is None:
        raise SLOSpecError(f"{path_text}: empty SLO spec, expected a mapping with 'objectives'")
    data, nodes, problems = to_python(node, path_text)
    if problems:
        raise SLOSpecError(f"{path_text}:{problems[0].line}: {problems[0].message}")
    return _Loader(path_text, {key: n.line for key, n in nodes.items()}).spec(data)


def dump_slo_spec(spec: SLOSpec) -> str:
    """YAML text that :func:`load_slo_spec` reads back to an equal spec."""
    return str(yaml.safe_dump(spec.to_dict(), sort_keys=False, default_flow_style=False))


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectiveResult:
    """Outcome of one objective: the average it saw and whether that met the target."""

    objective: Objective
    actual: float | None
    passed: bool

    @property
    def name(self) -> str:
        return self.objective.name

    @property
    def metric(self) -> str:
        return self.objective.metric

    @property
    def comparison(self) -> str:
        return self.objective.comparison

    @property
    def target(self) -> float:
        return self.objective.target

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "metric": self.metric, "comparison": self.comparison,
                "target": self.target, "actual": self.actual, "passed": self.passed}


@dataclass(frozen=True, slots=True)
class SLOReport:
    """What :func:`evaluate` found. With no heartbeats every value is ``None`` and nothing passes."""

    count: int
    averages: dict[str, float | None]
    percentiles: dict[str, dict[str, float | None]]
    objectives: tuple[ObjectiveResult, ...]
    spec: SLOSpec = field(repr=False)

    @property
    def passed(self) -> bool:
        """All objectives met. Missing data is never a pass."""
        return self.count > 0 and all(r.passed for r in self.objectives)

    @property
    def failed(self) -> tuple[ObjectiveResult, ...]:
        return tuple(r for r in self.objectives if not r.passed)

    def slo_status(self) -> dict[str, bool]:
        """``{"coherence_slo": True, ...}``: one key ``f"{name}_slo"`` per objective."""
        return {f"{r.name}_slo": r.passed for r in self.objectives}

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "averages": dict(self.averages),
            "percentiles": {k: dict(v) for k, v in self.percentiles.items()},
            "objectives": [r.to_dict() for r in self.objectives],
            "slo_status": self.slo_status(),
            "passed": self.passed,
        }


def evaluate(spec: SLOSpec, heartbeats: Sequence[Heartbeat] | Iterable[Heartbeat]) -> SLOReport:
    """Average and percentiles of every score, and each objective checked on its average.

    Percentiles use linear interpolation between closest ranks (numpy's default
    ``"linear"`` method, Hyndman & Fan type 7): the p-quantile of n sorted values
    sits at rank ``p * (n - 1)``. That is the method Prometheus' ``quantile`` and
    ``quantile_over_time`` use, so numbers agree with a dashboard on the same data.
    An objective compares the *average* over the heartbeats with its target,
    like the ``avg_over_time`` alert expression does. Empty input gives a report
    whose values are ``None`` and whose objectives all fail.
    """
    items = heartbeats if isinstance(heartbeats, Sequence) else list(heartbeats)
    columns = {s: [getattr(h, s) for h in items] for s in SCORE_NAMES}
    return evaluate_columns(spec, columns)


def evaluate_columns(spec: SLOSpec, scores: Mapping[str, Sequence[float] | Any]) -> SLOReport:
    """:func:`evaluate` on score columns (``{"coherence": array, ...}``, equal lengths).

    The columnar full scan of ``selfslo replay --count 0`` uses this directly,
    so millions of heartbeats never become objects.
    """
    import numpy as np  # noqa: PLC0415 (numpy only for column evaluation; the canary hot path imports this module)

    columns = [np.ascontiguousarray(scores[s], dtype=np.float64) for s in SCORE_NAMES] \
        if scores else [np.empty(0)] * len(SCORE_NAMES)
    count = int(columns[0].shape[0])
    if any(c.shape != (count,) for c in columns):
        raise ValueError(f"score columns differ in length: "
                         f"{ {s: len(c) for s, c in zip(SCORE_NAMES, columns, strict=True)} }")
    if count == 0:
        return SLOReport(
            count=0,
            averages=dict.fromkeys(SCORE_NAMES),
            percentiles={s: dict.fromkeys(PERCENTILES) for s in SCORE_NAMES},
            objectives=tuple(ObjectiveResult(o, None, False) for o in spec.objectives),
            spec=spec,
        )
    averages: dict[str, float | None] = {}
    percentiles: dict[str, dict[str, float | None]] = {}
    for name, column in zip(SCORE_NAMES, columns, strict=True):  # contiguous: ~3x faster
        averages[name] = float(column.mean())
        quantiles = np.quantile(column, list(PERCENTILES.values()))
        percentiles[name] = {p: float(q) for p, q in zip(PERCENTILES, quantiles, strict=True)}
    results = []
    for obj in spec.objectives:
        actual = averages[obj.score]
        results.append(ObjectiveResult(obj, actual, actual is not None and obj.met(actual)))
    return SLOReport(count=count, averages=averages, percentiles=percentiles,
                     objectives=tuple(results), spec=spec)

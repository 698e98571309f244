"""What the behaviour-equivalence tests against Pyrra and Sloth share.

``test_slo_pyrra_equivalence.py``, ``test_slo_pyrra_native.py`` and
``test_slo_sloth_equivalence.py`` evaluate two rule files (ours, theirs) on the
embedded engine over hypothesis-generated traffic and compare the alerts step by
step; a spot check writes a promtool test file per rule file holding the alerts
our engine computed and runs every real promtool on it. This module holds the
traffic segments, the alert timelines, the promtool test files and the promtool
run. Imported as ``from slo_equivalence import ...`` (``tests/slo`` is on
``sys.path`` as pytest's default ``prepend`` import mode puts it there).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence, Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st
from promtool_runs import Promtool, run

from pytest_selfslo.alerting.ruleeval import GroupRun
from pytest_selfslo.promql.series import parse_series_labels
from pytest_selfslo.rulefmt.model import AlertingRule

#: one evaluation step, 1m, in milliseconds
STEP_MS = 60_000
#: labels only our rules carry (our label scheme); every other label must match Pyrra's
PYRRA_OURS_ONLY = frozenset({"slo_service", "slo_name", "slo_severity"})

#: (alert name, labels) -> the state at every step (0 inactive, 1 pending, 2 firing)
Timeline = dict[tuple[str, frozenset[tuple[str, str]]], bytes]

T = TypeVar("T")


# ------------------------------------------------------------------------------ traffic
@dataclass(frozen=True)
class Segment:
    fraction: float  #: share of the history
    volume: int  #: events per step
    ratio: float  #: error ratio (latency: the share slower than the objective)
    reset: bool  #: the counters restart from 0 at the segment's start


@dataclass(frozen=True)
class GappedSegment(Segment):
    gap: int  #: -1 every series has samples; 0/1 that series has none; 2 no series has


S = TypeVar("S", bound=Segment)


def near(thresholds: list[float]) -> st.SearchStrategy[float]:
    """An error ratio: none, any, or one near (x0.8 to x1.25) a burn-rate threshold."""
    return st.one_of(st.just(0.0), st.floats(0, 1),
                     st.builds(lambda t, k: min(1.0, t * k), st.sampled_from(thresholds),
                               st.floats(0.8, 1.25)))


def _segment_args(thresholds: list[float], volumes: Sequence[int]) -> tuple[
        st.SearchStrategy[Any], ...]:
    return st.floats(0.05, 1), st.sampled_from(list(volumes)), near(thresholds), st.booleans()


def segment_lists(thresholds: list[float], *,
                  volumes: Sequence[int] = (0, 1, 3, 10, 100, 997, 5000),
                  max_size: int = 5) -> st.SearchStrategy[list[Segment]]:
    """One to ``max_size`` segments."""
    return st.lists(st.builds(Segment, *_segment_args(thresholds, volumes)), min_size=1,
                    max_size=max_size)


def gapped_segment_lists(thresholds: list[float],
                         gap: st.SearchStrategy[int]) -> st.SearchStrategy[list[GappedSegment]]:
    """One to five segments, each with a gap drawn from ``gap``."""
    args = _segment_args(thresholds, (0, 1, 3, 10, 100, 997, 5000))
    return st.lists(st.builds(GappedSegment, *args, gap), min_size=1, max_size=5)


def bounds(segments: Sequence[S], n: int) -> list[tuple[int, int, S]]:
    """(first step, step after the last, segment) of each segment over ``n + 1`` steps."""
    total = sum(s.fraction for s in segments)
    out: list[tuple[int, int, S]] = []
    start = 0
    for i, s in enumerate(segments):
        end = n + 1 if i == len(segments) - 1 else min(
            n + 1, start + round(s.fraction / total * (n + 1)))
        out.append((start, end, s))
        start = end
    return out


def counters(segments: Sequence[Segment], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(errors, good) counters with ``n + 1`` samples."""
    err, good = np.zeros(n + 1), np.zeros(n + 1)
    e_acc = g_acc = 0.0
    for start, end, s in bounds(segments, n):
        if s.reset:
            e_acc = g_acc = 0.0
        bad = float(round(s.volume * s.ratio))
        for i in range(start, end):
            e_acc += bad
            g_acc += s.volume - bad
            err[i], good[i] = e_acc, g_acc
    return err, good


def labels_of(series: str) -> dict[str, str]:
    """The labels of a series descriptor such as ``metric{a="b"}``."""
    return dict(parse_series_labels(series))


def equivalence_cases(default: int) -> int:
    """How many traffic cases: ``$SELFSLO_SLO_EQUIVALENCE_CASES``, else ``default``."""
    return int(os.environ.get("SELFSLO_SLO_EQUIVALENCE_CASES", str(default)))


def derandomized(max_examples: int) -> Callable[[T], T]:
    """The settings of every hypothesis run here: derandomised, no database, no deadline."""
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))


def sample(cases: st.SearchStrategy[T], max_examples: int, keep: Callable[[T], bool],
           most: int) -> list[T]:
    """At most ``most`` of the first ``max_examples`` cases that ``keep`` keeps."""
    out: list[T] = []

    @derandomized(max_examples)
    @given(cases)
    def collect(case: T) -> None:
        if keep(case) and len(out) < most:
            out.append(case)

    collect()
    return out


# ------------------------------------------------------------------------------ alerts
def timeline(result: GroupRun, drop: AbstractSet[str] = frozenset()) -> Timeline:
    """Every alert that is ever active: its states, keyed by name and labels but ``drop``."""
    out: Timeline = {}
    for group in result.groups:
        for rule in group.rules:
            alerts = result.alerts.get(id(rule))
            if not isinstance(rule, AlertingRule) or alerts is None:
                continue
            for inst, (state, _active, _last) in zip(alerts.instances, alerts.timelines,
                                                     strict=True):
                if state.any():
                    labels = frozenset((k, v) for k, v in inst.labels.items() if k not in drop)
                    key = (rule.name, labels)
                    assert key not in out, f"two alerts with the same labels: {key}"
                    out[key] = state.astype(np.int8).tobytes()
    return out


def firing_steps(timelines: Timeline) -> int:
    """How many (alert, step) pairs are firing."""
    return sum(int(np.count_nonzero(np.frombuffer(v, dtype=np.int8) == 2))
               for v in timelines.values())


def describe(a: Timeline, b: Timeline, theirs: str) -> str:
    """The first step at which ``a`` (ours) and ``b`` (``theirs``) differ, in words."""
    for key in sorted(set(a) | set(b), key=str):
        sa, sb = a.get(key), b.get(key)
        if sa != sb:
            xa = np.frombuffer(sa or b"", dtype=np.int8)
            xb = np.frombuffer(sb or b"", dtype=np.int8)
            n = max(len(xa), len(xb))
            xa, xb = np.pad(xa, (0, n - len(xa))), np.pad(xb, (0, n - len(xb)))
            first = int(np.flatnonzero(xa != xb)[0])
            return (f"alert {key[0]} {dict(key[1])}: ours {int(xa[first])}, {theirs} "
                    f"{int(xb[first])} at {first}m")
    return ""


# ------------------------------------------------------------------------------ promtool
def alert_checks(result: GroupRun, at_minutes: Iterable[int]) -> list[dict[str, Any]]:
    """``alert_rule_test`` entries: at each minute, the firing alerts of every alert name.

    promtool checks an alert name at once, so one check holds the firing alerts of every
    rule of that name (Pyrra's four burn-rate pairs, Sloth's page and ticket rules).
    """
    checks: list[dict[str, Any]] = []
    for at in at_minutes:
        by_name: dict[str, list[dict[str, Any]]] = {}
        for group in result.groups:
            for rule in group.rules:
                if not isinstance(rule, AlertingRule):
                    continue
                by_name.setdefault(rule.name, []).extend(
                    {"exp_labels": {k: v for k, v in a.labels.items() if k != "alertname"},
                     **({"exp_annotations": a.annotations} if a.annotations else {})}
                    for a in result.alerts_at(rule, at) if a.state.value == "firing")
        checks += [{"eval_time": f"{at}m", "alertname": name, "exp_alerts": exp}
                   for name, exp in by_name.items()]
    return checks


def series_text(labels: dict[str, str]) -> str:
    """``labels`` as an ``input_series`` descriptor, ``{a="b", ...}`` in name order."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def values_text(values: Iterable[float], present: Iterable[bool] | None = None) -> str:
    """Values in series notation, ``_`` where ``present`` says there is no sample."""
    if present is None:
        return " ".join(repr(float(v)) for v in values)
    return " ".join(repr(float(v)) if p else "_" for v, p in zip(values, present, strict=True))


def promtool_test_file(rule_file: str, group_names: list[str],
                       tests: list[dict[str, Any]]) -> str:
    """A promtool test file of ``tests`` on ``rule_file``, its groups run in file order.

    Without ``group_eval_order`` promtool runs a step's groups in random (Go map) order,
    and an alert group run before its SLI group sees the ratios of the step before.
    """
    order = {"group_eval_order": group_names} if len(group_names) > 1 else {}
    return yaml.safe_dump({"rule_files": [rule_file], "evaluation_interval": "1m", **order,
                           "tests": tests}, sort_keys=False, width=100_000)


def assert_promtool_passes(promtool: Promtool, directory: Path, rule_file: str,
                           text: str) -> None:
    """Write ``text`` as ``test_<rule_file>`` in ``directory``; ``promtool`` passes it."""
    test = directory / f"test_{rule_file}"
    test.write_text(text)
    output = run(promtool, [test.name], directory)
    assert "SUCCESS" in output and "FAILED" not in output, output[:4000]

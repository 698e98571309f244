"""Acceptance 3: the generated tests kill the threshold and window mutants of the generated rules.

``selfslo mutate``'s API over ``selfslo slo generate`` + ``selfslo slo tests``
output, for the Sloth dialect (float thresholds such as
``0.0029999999999998296``) and ours (decimal ones), a ratio and a latency SLI:
every ``threshold-step`` (MU01: the threshold moved just past the nearest value
the tests' inputs take where the alert then behaves differently),
``threshold-10pct`` (MU02) and ``range-changed`` (MU07) mutant is killed; none
survives, none is an equivalent-suspect. The same for native-histogram SLIs
(Pyrra's 4w example only with ``SELFSLO_PROMTOOL_FULL=1``: minutes of CPU). A
threshold SLI counts evaluations, so some moves of its thresholds no gauge
history can tell apart: each mutant left alive is proven equivalent.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from promtool_runs import FULL_ENV

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.cli import main
from pytest_selfslo.mutate import MutationSuite
from pytest_selfslo.promql.engine import Engine, parse_expr
from pytest_selfslo.promql.labels import STALE_NAN
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import InstantVector
from pytest_selfslo.slo.thresholdtests import equivalent_move

DATA = Path(__file__).parent / "data"


def _generate(tmp_path: Path, spec: Path) -> tuple[str, str]:
    (tmp_path / "tests").mkdir()
    rules, tests = tmp_path / "slo.yml", tmp_path / "tests" / "slo_test.yml"
    assert main(["slo", "generate", str(spec), "-o", str(rules)]) == 0
    assert main(["slo", "tests", str(spec), "-o", str(tests)]) == 0
    return str(rules), str(tests)


@pytest.mark.parametrize("spec", ["sloth_getting_started.yml", "openslo_checkout.yml",
                                  "pyrra_api_latency.yml"])
def test_generated_tests_kill_every_threshold_and_window_mutant(tmp_path: Path, spec: str) -> None:
    rules, tests = _generate(tmp_path, DATA / spec)
    report = MutationSuite.load([rules], [tests], only=["MU01", "MU02", "MU07"]).run()
    counts = report.counts
    operators = {m.mutant.operator.code for r in report.rules for m in r.mutants}
    assert operators == {"MU01", "MU02", "MU07"}  # all three kinds exist in the generated rules
    # two threshold-step mutants (up and down) per comparison of every window pair
    step = [m for r in report.rules for m in r.mutants if m.mutant.operator.code == "MU01"]
    assert len(step) >= 8
    assert counts["killed"] > 0
    assert counts["survived"] == 0 and counts["equivalent-suspect"] == 0, report.format_text()


# ------------------------------------------------------------------ threshold and native SLIs
_EVAL_MS = 300_000
_WINDOW = re.compile(r"slo:sli_error:ratio_rate(\w+)\{[^}]*\} > ([0-9.e+-]+)")


def _changed_window(before: str, after: str) -> tuple[int, float, float]:
    """The mutated comparison of an alert rule: (points in its window, old, new threshold)."""
    old = _WINDOW.findall(before)
    new = _WINDOW.findall(after)
    (diff,) = [(o, n) for o, n in zip(old, new, strict=True) if o != n]
    (window, t_old), (_w, t_new) = diff
    return parse_duration(window) // _EVAL_MS, float(t_old), float(t_new)


def _record_values(expr: str, gauge: np.ndarray[Any, np.dtype[np.float64]], semantics: str
                   ) -> np.ndarray[Any, np.dtype[np.float64]]:
    storage = Storage()
    steps = np.arange(len(gauge), dtype=np.int64) * _EVAL_MS
    storage.add_samples({"__name__": "self_stress", "job": "self"}, steps, gauge)
    value = Engine(storage, semantics=semantics, subquery_step_ms=_EVAL_MS).evaluate(
        parse_expr(expr), steps)
    assert isinstance(value, InstantVector)
    out = np.full(len(gauge), np.nan)
    for s in value.series:
        out[s.present] = s.values[s.present]
    return out


def test_threshold_sli_tests_kill_every_mutant_not_proven_equivalent(tmp_path: Path) -> None:
    """A threshold SLI's ratio is bad points over present points, ``j/m`` with ``m`` up to
    the window's points at the 5m evaluation interval. Every MU01/MU02/MU07 mutant is killed
    except these, each proven here:

    * a threshold moved (MU01 down, MU02 either way) where no achievable ratio lies between
      the old and the new value (:func:`equivalent_move`: a 5m window is one point, so 1 or
      absent; 1h at 0.0336 has no ratio with a bad point at or below it): no history tells
      the two comparisons apart;
    * the 5m record's subquery halved (``[2m30s:]``): under Prometheus 3 (the mutation
      suite's) it selects the one 5m step ``(t - 5m, t]`` selects;
    * the 5m record's subquery doubled (``[10m:]``): under Prometheus 3 it selects exactly
      the points 2.x's closed ``[t - 5m, t]`` selects for the original, so its record equals
      the original's under 2.x at every evaluation (checked below on random gauge data):
      a generated test must pass under 2.x, so it cannot fail on this record alone.
    """
    rules, tests = _generate(tmp_path, DATA / "selfslo_threshold.yml")
    report = MutationSuite.load([rules], [tests], only=["MU01", "MU02", "MU07"]).run()
    left = [m for r in report.rules for m in r.mutants if m.status != "killed"]
    killed = report.counts["killed"]
    assert killed >= 70
    # and the other way round: no killed move of an alert threshold is called equivalent
    moved = [m for r in report.rules for m in r.mutants if m.status == "killed"
             and m.mutant.operator.code in ("MU01", "MU02") and _WINDOW.search(m.mutant.before)]
    assert len(moved) >= 12
    for m in moved:
        assert not equivalent_move(*_changed_window(m.mutant.before, m.mutant.after)), (
            m.mutant.id, m.mutant.detail)
    rng = np.random.default_rng(0)
    gauge = np.where(rng.random(400) < 0.3, 0.3 + 3e-7, 0.3)
    gauge[rng.random(400) < 0.1] = np.nan  # gaps: absent points
    gauge = np.where(np.isnan(gauge), STALE_NAN, gauge)
    for m in left:
        code = m.mutant.operator.code
        if code in ("MU01", "MU02"):
            n_w, old, new = _changed_window(m.mutant.before, m.mutant.after)
            assert equivalent_move(n_w, old, new), (m.mutant.id, m.mutant.detail)
            continue
        assert code == "MU07" and m.mutant.detail.startswith("[5m] -> "), m.mutant.detail
        query = "count_over_time((self_stress{job=\"self\"})[5m:])"
        mutated = query.replace("[5m:]", "[10m:]" if "doubled" in m.mutant.detail else "[2m30s:]")
        theirs = _record_values(mutated, gauge, "3")
        ours = _record_values(query, gauge, "2.53" if "doubled" in m.mutant.detail else "3")
        assert np.array_equal(theirs, ours, equal_nan=True), m.mutant.detail
    assert sum(m.mutant.operator.code == "MU07" for m in left) == 4  # errors and total, x2


def _native_mutants_all_killed(tmp_path: Path, spec: str, at_least: int) -> None:
    rules, tests = _generate(tmp_path, DATA / spec)
    report = MutationSuite.load([rules], [tests], only=["MU01", "MU02", "MU07"]).run()
    counts = report.counts
    operators = {m.mutant.operator.code for r in report.rules for m in r.mutants}
    assert operators == {"MU01", "MU02", "MU07"}
    assert counts["killed"] >= at_least
    assert counts["survived"] == 0 and counts["equivalent-suspect"] == 0, report.format_text()


def test_native_histogram_tests_kill_every_threshold_and_window_mutant(tmp_path: Path) -> None:
    """A native-histogram SLI with a 1h/5m and a 6h/30m pair (hours of traffic: seconds)."""
    _native_mutants_all_killed(tmp_path, "native_short_windows.yml", 40)


@pytest.mark.skipif(os.environ.get(FULL_ENV) != "1",
                    reason=f"minutes of CPU (80 mutants, each replaying days of native-histogram "
                           f"traffic; the short-window spec above runs in CI): set {FULL_ENV}=1")
def test_pyrra_native_histogram_tests_kill_every_threshold_and_window_mutant(
        tmp_path: Path) -> None:
    """Pyrra's latencyNative example: 4w, its four window pairs up to 4d."""
    _native_mutants_all_killed(tmp_path, "pyrra_http_native_slo.yml", 64)

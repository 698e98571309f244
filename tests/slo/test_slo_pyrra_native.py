"""Pyrra ``latencyNative`` (native histograms): our rules fire the alerts Pyrra's rules fire.

``data/pyrra_http_native_slo.yml`` is the native-histogram latency objective of
Pyrra's Go tests, ``data/pyrra_http_native_expected_rules.yml`` the rules Pyrra
generates for it (its burn rate ``1 - histogram_fraction(0, 1, sum(rate(h[w])))``).
Traffic: a native histogram counter (schema 0: requests of 0.75s in the ``(0.5,
1]`` bucket, of 1.5s in ``(1, 2]``) in random segments of volume and slow share
near every threshold, with counter resets; both rule files are evaluated on the
embedded engine and the alert timelines must be the same (except our bookkeeping
labels). A few cases go through real promtool >= 3.5 in promtool's histogram
notation (``{{schema:0 count:.. sum:.. buckets:[..]}}``); promtool 2.x needs native
histograms enabled by a feature flag and has other histogram semantics there, so
it is skipped with that reason. The tests ``selfslo slo tests`` generates for this
objective: ``test_slo_testgen_kinds.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, strategies as st
from promtool_runs import Promtool, params
from slo_equivalence import (
    PYRRA_OURS_ONLY,
    STEP_MS,
    Segment,
    alert_checks,
    assert_promtool_passes,
    bounds,
    derandomized,
    describe,
    equivalence_cases,
    firing_steps,
    promtool_test_file,
    sample,
    segment_lists,
    series_text,
    timeline,
)

from pytest_selfslo.alerting.ruleeval import GroupRun, evaluate_groups
from pytest_selfslo.promql.series import parse_series_samples
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.rulefmt.model import RuleGroup
from pytest_selfslo.rulefmt.rulefile import groups_from_text, load_rule_files
from pytest_selfslo.slo.burnrate import burn_rates, generate_rules
from pytest_selfslo.slo.importers import import_spec

DATA = Path(__file__).parent / "data"
SLO = DATA / "pyrra_http_native_slo.yml"
EXPECTED = DATA / "pyrra_http_native_expected_rules.yml"
#: traffic cases; CI runs 20 (the run behind the reported numbers set
#: SELFSLO_SLO_EQUIVALENCE_CASES=60: minutes of CPU on a 2-core machine)
CASES = equivalence_cases(20)
LABELS = {"__name__": "http_request_duration_seconds", "code": "200",
          "job": "metrics-service-thanos-receive-default"}
SPEC = import_spec(SLO)
OURS_TEXT = generate_rules(SPEC)
OURS = groups_from_text(OURS_TEXT, "ours.yml")
THEIRS = load_rule_files([EXPECTED])


def _cases() -> st.SearchStrategy[tuple[int, list[Segment]]]:
    """(steps, segments): a segment's ``ratio`` is the share of requests slower than 1s."""
    s = SPEC.slos[0]
    thresholds = sorted({b.factor * s.error_budget for b in burn_rates(s)})
    return st.tuples(st.sampled_from([130, 490]),
                     segment_lists(thresholds, volumes=(0, 1, 10, 100, 997), max_size=4))


def _notation(n: int, segments: list[Segment]) -> str:
    """The histogram counter in promtool series notation, one sample per step."""
    tokens, fast, slow = [], 0, 0
    for start, end, s in bounds(segments, n):
        if s.reset:
            fast = slow = 0
        bad = round(s.volume * s.ratio)
        for _ in range(start, end):
            fast += s.volume - bad
            slow += bad
            tokens.append(f"{{{{schema:0 count:{fast + slow} sum:{0.75 * fast + 1.5 * slow!r} "
                          f"buckets:[{fast} {slow}]}}}}")
    return " ".join(tokens)


def _evaluate(groups: list[RuleGroup], n: int, text: str) -> GroupRun:
    storage = Storage()
    steps = np.arange(n + 1, dtype=np.int64) * STEP_MS
    storage.add_mixed(LABELS, steps, parse_series_samples(text), created_ms=0)
    return evaluate_groups(groups, storage, steps)


def test_import_maps_latency_native() -> None:
    (slo,) = SPEC.slos
    h = ('sum(rate(http_request_duration_seconds{job="metrics-service-thanos-receive-default",'
         'code=~"2.."}[{{.window}}]))')
    assert slo.sli.total == f"histogram_count({h})"
    assert slo.sli.errors == f"(1 - histogram_fraction(0, 1, {h})) * histogram_count({h})"
    assert slo.absent is None  # Pyrra generates no absent alert for latencyNative
    assert [b.for_ for b in slo.burn_rates] == ["2m", "15m", "1h", "3h"]


def test_behaviour_equivalent_to_pyrra_on_native_histograms(record_property: Any) -> None:
    stats = {"cases": 0, "firing_steps": 0}

    @derandomized(CASES)
    @given(_cases())
    def check(case: tuple[int, list[Segment]]) -> None:
        n, segments = case
        text = _notation(n, segments)
        ours = timeline(_evaluate(OURS, n, text), PYRRA_OURS_ONLY)
        theirs = timeline(_evaluate(THEIRS, n, text), PYRRA_OURS_ONLY)
        assert ours == theirs, describe(ours, theirs, "Pyrra's")
        stats["cases"] += 1
        stats["firing_steps"] += firing_steps(ours)

    check()
    record_property("pyrra_native_equivalence", str(stats))
    assert stats["cases"] >= CASES and stats["firing_steps"] > 0


@pytest.mark.parametrize("promtool", params())
def test_promtool_agrees_on_native_histograms(promtool: Promtool, tmp_path: Path) -> None:
    if promtool.version < (3, 5, 0):
        pytest.skip(f"promtool {'.'.join(map(str, promtool.version))}: native histograms "
                    "need --enable-feature=native-histograms and follow 2.x semantics there")
    cases = sample(_cases(), 20, lambda case: case[0] <= 130, 4)
    assert cases
    (tmp_path / "ours.yml").write_text(OURS_TEXT)
    (tmp_path / "pyrra.yml").write_text(EXPECTED.read_text())
    fired = 0
    for rule_file, groups in (("ours.yml", OURS), ("pyrra.yml", THEIRS)):
        tests = []
        for n, segments in cases:
            text = _notation(n, segments)
            # promtool checks every rule of an alert name at once (the four pairs share one)
            checks = alert_checks(_evaluate(groups, n, text), range(10, n + 1, 10))
            fired += sum(len(check["exp_alerts"]) for check in checks)
            tests.append({"interval": "1m",
                          "input_series": [{"series": series_text(LABELS), "values": text}],
                          "alert_rule_test": checks})
        assert_promtool_passes(promtool, tmp_path, rule_file,
                               promtool_test_file(rule_file, [g.name for g in groups], tests))
    assert fired > 0

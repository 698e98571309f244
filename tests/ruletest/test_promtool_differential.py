"""Differential test against the real ``promtool test rules``.

Hypothesis generates input series, a recording rule and an alerting rule
(thresholds, ``*_over_time``, ``rate``, aggregations, ``for``,
``keep_firing_for``, a ``$value`` annotation) and evaluation times. We run the
test group through our runner *without* expectations, write what we observed
as the expectations, and ask promtool to check them: promtool must pass
exactly when we observed no evaluation error. That compares every alert label
set, rendered annotation and sample value, not just a verdict. The semantics
follows ``promtool --version`` (2.x -> "2").
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pytest_selfslo.promql.values import METRIC_NAME, Labels
from pytest_selfslo.rulefmt.testfile import parse_test_text
from pytest_selfslo.ruletest.runner import observe_group

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not on PATH")


def _semantics() -> str:
    assert PROMTOOL is not None
    out = subprocess.run([PROMTOOL, "--version"], capture_output=True, text=True, check=False)
    return "2" if "version 2." in out.stdout + out.stderr else "3"


VALUES = st.lists(st.sampled_from(["0", "1", "2", "3", "5", "8", "0.5", "_", "stale"]),
                  min_size=4, max_size=14)
EXPRS = [
    "m > {t}", "avg_over_time(m[{w}]) > {t}", "max_over_time(m[{w}]) < {t}",
    "rate(m[{w}]) * 60 > {t}", "sum by (i) (m) >= {t}", "count_over_time(m[{w}]) >= {t}",
    "rec:m:sum > {t}", "min_over_time(rec:m:sum[{w}]) > {t}", "delta(m[{w}]) < {t}",
    "increase(m[{w}]) > {t}", "changes(m[{w}]) > {t}", "topk(1, m) > {t}", "m > bool {t}",
    "count by (i) (m) > {t}", 'absent(m{{i="9"}})', "irate(m[{w}]) * 60 >= {t}",
]
#: alert labels: static, or value-dependent (a new alert identity whenever the value crosses 2)
LABELS = ["{severity: page}", '{sev: "{{ if gt $value 2.0 }}high{{ else }}low{{ end }}"}']


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    series = draw(st.lists(VALUES, min_size=1, max_size=3))
    expr = draw(st.sampled_from(EXPRS)).format(
        t=draw(st.sampled_from(["0", "1", "2.5", "4"])), w=draw(st.sampled_from(["1m", "2m", "5m"])))
    length = max(len(v) for v in series)
    times = draw(st.lists(st.integers(0, (length + 2) * 60), min_size=1, max_size=4))
    return {
        "series": series, "expr": expr,
        "for": draw(st.sampled_from(["0s", "1m", "2m"])),
        "keep": draw(st.sampled_from(["0s", "0s", "2m"])),
        "labels": draw(st.sampled_from(LABELS)),
        "times": [f"{t // 60}m" if t % 60 == 0 else f"{t}s" for t in times],
    }


RULES = """\
groups:
  - name: g
    rules:
      - record: rec:m:sum
        expr: sum by (i) (m)
      - alert: A
        expr: {expr}
        for: {for_}
        keep_firing_for: {keep}
        labels: {labels}
        annotations: {{summary: "{{{{ $labels.i }}}} is {{{{ $value }}}}"}}
"""


def _descriptor(labels: Labels) -> str:
    name = next((v for k, v in labels if k == METRIC_NAME), "")
    rest = ", ".join(f"{k}={json.dumps(v)}" for k, v in labels if k != METRIC_NAME)
    return f"{name}{{{rest}}}"


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios())
def test_promtool_agrees_with_our_observations(tmp_path: Path, scenario: dict[str, object]) -> None:
    semantics = _semantics()
    (tmp_path / "rules.yml").write_text(RULES.format(
        expr=scenario["expr"], for_=scenario["for"], keep=scenario["keep"],
        labels=scenario["labels"]))
    series = scenario["series"]
    assert isinstance(series, list)
    times = scenario["times"]
    assert isinstance(times, list)
    group: dict[str, object] = {
        "interval": "1m",
        "input_series": [{"series": f'm{{i="{i}"}}', "values": " ".join(v)}
                         for i, v in enumerate(series)],
        "alert_rule_test": [{"eval_time": t, "alertname": "A", "exp_alerts": []} for t in times],
        "promql_expr_test": [{"expr": e, "eval_time": t, "exp_samples": []}
                             for t in times for e in ("rec:m:sum", str(scenario["expr"]).rsplit(" ", 2)[0])],
    }
    test_path = tmp_path / "test.json"
    text = json.dumps({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [group]})
    test_file = parse_test_text(text, str(test_path))
    obs = observe_group(test_file, test_file.groups[0], semantics=semantics)
    for alert in group["alert_rule_test"]:  # type: ignore[attr-defined]
        ms = next(c.eval_time_ms for c in test_file.groups[0].alert_cases
                  if c.eval_time_ms == _ms(alert["eval_time"]))
        alert["exp_alerts"] = [
            {"exp_labels": {k: v for k, v in labels.items() if k != "alertname"},
             "exp_annotations": notes}
            for labels, notes in obs.alerts.get(("A", ms), [])]
    for case in group["promql_expr_test"]:  # type: ignore[attr-defined]
        got = obs.samples.get((case["expr"], _ms(case["eval_time"])), [])
        if isinstance(got, str) or any(math.isnan(v) or math.isinf(v) for _, v in got):
            case["exp_samples"] = []
            continue
        case["exp_samples"] = [{"labels": _descriptor(lab), "value": v} for lab, v in got]
    test_path.write_text(json.dumps({"rule_files": ["rules.yml"], "evaluation_interval": "1m",
                                     "tests": [group]}))
    assert PROMTOOL is not None
    if os.environ.get("SELFSLO_DIFF_DEBUG"):
        print("DIFF", scenario["expr"], sum(len(a["exp_alerts"]) for a in group["alert_rule_test"]),  # type: ignore[attr-defined]
              sum(len(c["exp_samples"]) for c in group["promql_expr_test"]), obs.error)  # type: ignore[attr-defined]
    proc = subprocess.run([PROMTOOL, "test", "rules", test_path.name], cwd=tmp_path,
                          capture_output=True, text=True, check=False, timeout=60)
    has_error = obs.error is not None or any(isinstance(v, str) for v in obs.samples.values())
    if has_error:
        assert proc.returncode == 1, obs.error
    else:
        assert proc.returncode == 0, (scenario, proc.stdout + proc.stderr)


def _ms(text: str) -> int:
    from pytest_selfslo._core.durations import parse_duration

    return parse_duration(text)

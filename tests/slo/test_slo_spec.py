"""SLO spec: defaults, YAML loader errors, evaluation and percentiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.heartbeat import Heartbeat
from pytest_selfslo.slo.spec import (
    DEFAULT_SLO_SPEC,
    Objective,
    SLOSpec,
    dump_slo_spec,
    evaluate,
    load_slo_spec,
    parse_duration,
)

DEFAULT_YAML = Path(__file__).parents[2] / "pytest_selfslo" / "data" / "default_slo.yml"


def hb(c: float, n: float, p: float, s: float, ts: float = 0.0) -> Heartbeat:
    return Heartbeat(ts=ts, token_id="t", coherence=c, continuity=n, presence=p, stress=s)


def test_default_spec_is_phase_c() -> None:
    spec = DEFAULT_SLO_SPEC
    assert [(o.name, o.metric, o.comparison, o.target) for o in spec.objectives] == [
        ("coherence", "self_coherence", ">=", 0.80),
        ("continuity", "self_continuity", ">=", 0.90),
        ("stress", "self_stress", "<=", 0.30),
    ]
    assert {(o.window, o.for_, o.severity) for o in spec.objectives} == {("5m", "5m", "warning")}
    assert spec.alert_group == "auris-self-phase-c"
    assert spec.runbook_url == "docs/PHASE_B_TO_C_RUNBOOK.md#self-slo-violations"
    assert [o.alert_expr for o in spec.objectives] == [
        "avg_over_time(self_coherence[5m]) < 0.80",
        "avg_over_time(self_continuity[5m]) < 0.90",
        "avg_over_time(self_stress[5m]) > 0.30",
    ]
    assert spec.objective("stress").alert == "AURIS_SELF_Stress_High"
    with pytest.raises(KeyError, match=r"no objective named 'x' \(known: coherence, continuity"):
        spec.objective("x")


def test_packaged_yaml_equals_the_built_in_default() -> None:
    assert load_slo_spec(DEFAULT_YAML) == DEFAULT_SLO_SPEC


def test_dump_and_load_round_trip(tmp_path: Path) -> None:
    spec = SLOSpec((Objective("presence", "self_presence", ">=", 0.5, window="1h30m",
                              alert="Presence_Low", for_="10m", severity="critical"),),
                   alert_group="g", runbook_url="r")
    path = tmp_path / "slo.yml"
    path.write_text(dump_slo_spec(spec))
    assert load_slo_spec(path) == spec


@pytest.mark.parametrize(("text", "seconds"), [
    ("5m", 300.0), ("1h30m", 5400.0), ("500ms", 0.5), ("2d", 172800.0), ("1w", 604800.0),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m5", "1.5m", "5M"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        parse_duration(text)


OBJ = """objectives:
  - name: coherence
    metric: self_coherence
    comparison: ">="
    target: 0.8
"""


@pytest.mark.parametrize(("text", "message"), [
    ("objectives: [\n  {name: x\n", r"slo\.yml:3: invalid YAML"),
    ("", r"slo\.yml: empty SLO spec"),
    ("- 1\n", r"slo\.yml:1: <top level>: expected a mapping with an 'objectives' list, got list"),
    ("alert_group: g\n", r"slo\.yml:1: <top level>: missing required key 'objectives'"),
    ("objectives: []\n", r"slo\.yml:1: objectives: expected at least one objective"),
    ("objectives: 3\n", r"slo\.yml:1: objectives: expected a list, got int 3"),
    ("alert_grup: g\n" + OBJ, r"slo\.yml:1: alert_grup: unknown key 'alert_grup' \(allowed: "),
    (OBJ + "    taget: 0.9\n", r"slo\.yml:6: objectives\[0\]\.taget: unknown key 'taget'"),
    (OBJ.replace("0.8", "high"), r"slo\.yml:5: objectives\[0\]\.target: expected a number, "
                                 r"got str 'high'"),
    (OBJ.replace("0.8", "true"), r"objectives\[0\]\.target: expected a number, got bool True"),
    (OBJ.replace("0.8", "1.5"), r"slo\.yml:5: objectives\[0\]\.target: target must be a number "
                                r"in \[0, 1\], got 1.5"),
    (OBJ.replace('">="', "'>'"), r"slo\.yml:4: objectives\[0\]\.comparison: comparison must "
                                 r"be '>=' or '<=', got '>'"),
    (OBJ.replace("self_coherence", "up"), r"slo\.yml:3: objectives\[0\]\.metric: metric must "
                                          r"be one of self_coherence"),
    (OBJ.replace("    target: 0.8\n", ""), r"slo\.yml:2: objectives\[0\]: missing required "
                                           r"key 'target'"),
    (OBJ + "    window: 5 minutes\n", r"slo\.yml:6: objectives\[0\]\.window: not a Prometheus "
                                      r"duration: '5 minutes'"),
    (OBJ + "    for: 5\n", r"slo\.yml:6: objectives\[0\]\.for: expected a string, got int 5"),
    (OBJ.replace("coherence\n", "two words\n", 1), r"objectives\[0\]\.name: expected an "
                                                   r"identifier"),
    (OBJ + OBJ.replace("objectives:\n", ""), r"slo\.yml:6: objectives\[1\]\.name: duplicate "
                                             r"objective name 'coherence'"),
    ("objectives:\n  - 7\n", r"slo\.yml:2: objectives\[0\]: expected a mapping, got int 7"),
])
def test_invalid_spec_names_file_line_key_and_expectation(tmp_path: Path, text: str,
                                                          message: str) -> None:
    path = tmp_path / "slo.yml"
    path.write_text(text)
    with pytest.raises(SLOSpecError, match=message):
        load_slo_spec(path)


def test_spec_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SLOSpecError, match=r"nope\.yml: no such SLO spec file"):
        load_slo_spec(tmp_path / "nope.yml")
    with pytest.raises(SLOSpecError, match="is a directory"):
        load_slo_spec(tmp_path)
    (tmp_path / "bin.yml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SLOSpecError, match=r"bin\.yml: not UTF-8 text"):
        load_slo_spec(tmp_path / "bin.yml")


def test_evaluate_averages_percentiles_and_status() -> None:
    beats = [hb(0.9, 0.95, 0.8, 0.1), hb(0.7, 0.93, 0.6, 0.5), hb(0.8, 0.91, 0.7, 0.3),
             hb(1.0, 0.97, 0.9, 0.2)]
    report = evaluate(DEFAULT_SLO_SPEC, beats)
    assert report.count == 4
    assert report.averages["coherence"] == pytest.approx(0.85)
    assert report.averages["stress"] == pytest.approx(0.275)
    # linear interpolation at rank p*(n-1): p50 of [0.7, 0.8, 0.9, 1.0] is 0.85
    assert report.percentiles["coherence"]["p50"] == pytest.approx(0.85)
    assert report.percentiles["coherence"]["p95"] == pytest.approx(0.985)
    for score in ("coherence", "continuity", "presence", "stress"):
        column = [getattr(b, score) for b in beats]
        assert report.percentiles[score]["p99"] == pytest.approx(np.quantile(column, 0.99))
    assert report.slo_status() == {"coherence_slo": True, "continuity_slo": True,
                                   "stress_slo": True}
    assert report.passed
    data = report.to_dict()
    assert data["objectives"][2] == {"name": "stress", "metric": "self_stress",
                                     "comparison": "<=", "target": 0.3,
                                     "actual": pytest.approx(0.275), "passed": True}


def test_evaluate_reports_each_failing_objective() -> None:
    report = evaluate(DEFAULT_SLO_SPEC, [hb(0.79, 0.95, 0.5, 0.31)])
    assert report.slo_status() == {"coherence_slo": False, "continuity_slo": True,
                                   "stress_slo": False}
    assert [r.name for r in report.failed] == ["coherence", "stress"]
    assert not report.passed


def test_targets_are_inclusive() -> None:
    assert evaluate(DEFAULT_SLO_SPEC, [hb(0.8, 0.9, 0.0, 0.3)]).passed


def test_empty_input_gives_none_values_and_no_pass() -> None:
    report = evaluate(DEFAULT_SLO_SPEC, iter([]))
    assert report.count == 0
    assert report.averages == dict.fromkeys(("coherence", "continuity", "presence", "stress"))
    assert report.percentiles["stress"] == {"p50": None, "p95": None, "p99": None}
    assert [r.actual for r in report.objectives] == [None, None, None]
    assert not report.passed and not any(report.slo_status().values())


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"comparison": ">"}, "comparison must be '>=' or '<='"),
    ({"metric": "self_mood"}, "metric must be one of self_coherence"),
    ({"target": float("nan")}, "target must be a number in"),
    ({"window": "soon"}, "not a Prometheus duration: 'soon'"),
])
def test_objective_validates_itself(kwargs: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"name": "c", "metric": "self_coherence", "comparison": ">=",
                               "target": 0.8}
    with pytest.raises(ValueError, match=message):
        Objective(**{**base, **kwargs})  # type: ignore[arg-type]


def test_spec_refuses_duplicate_names() -> None:
    obj = DEFAULT_SLO_SPEC.objectives[0]
    with pytest.raises(ValueError, match=r"duplicate objective name\(s\): coherence"):
        SLOSpec((obj, obj))


def test_evaluate_columns_matches_evaluate_and_checks_lengths() -> None:
    from pytest_selfslo.heartbeat import generate_heartbeats
    from pytest_selfslo.slo.spec import evaluate_columns

    beats = generate_heartbeats("oscillating", 500)
    columns = {s: np.array([getattr(b, s) for b in beats])
               for s in ("coherence", "continuity", "presence", "stress")}
    assert evaluate_columns(DEFAULT_SLO_SPEC, columns).to_dict() == \
        evaluate(DEFAULT_SLO_SPEC, beats).to_dict()
    columns["stress"] = columns["stress"][:10]
    with pytest.raises(ValueError, match="score columns differ in length"):
        evaluate_columns(DEFAULT_SLO_SPEC, columns)


def test_spec_nodes_follow_merge_keys_and_aliases() -> None:
    """SLO specs are read by the one YAML reader: merge keys as Go's yaml.v3 reads them."""
    from pytest_selfslo._core.errors import SLOSpecError
    from pytest_selfslo.slo.nodes import Doc

    doc = Doc.parse("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nalias: *b\n", "s.yml")
    m = doc.root.req("m")
    assert sorted(m.keys()) == ["x", "y"]
    assert (m.req("x").number("x"), m.req("y").number("y")) == (1.0, 3.0)  # explicit key wins
    assert doc.root.req("alias").req("y").number("y") == 2.0
    with pytest.raises(SLOSpecError, match=r"^s\.yml:1:9: a merge key"):
        Doc.parse("m: {<<: 1}\n", "s.yml").root.req("m").keys()

"""The committed rules are the rendered spec; drift and a mutated threshold are caught."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from promtool_runs import Promtool

from pytest_selfslo._core.errors import ConfigError
from pytest_selfslo.canary.policy import DEFAULT_POLICY
from pytest_selfslo.lint.drift import check_drift
from pytest_selfslo.lint.render import render_rules, render_rules_yaml
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "phase_c_rules.yml"


def test_committed_rules_are_the_rendered_spec() -> None:
    # Regenerate with: python -m pytest_selfslo.lint.render rules/phase_c_rules.yml
    assert RULES.read_text() == render_rules_yaml(DEFAULT_SLO_SPEC)


def test_self_group_has_exactly_the_three_design_alerts() -> None:
    doc = yaml.safe_load(RULES.read_text())
    self_group = next(g for g in doc["groups"] if g["name"] == "auris-self-phase-c")
    assert [(r["alert"], r["expr"], r["for"], r["labels"]["severity"])
            for r in self_group["rules"]] == [
        ("AURIS_SELF_Coherence_Drop", "avg_over_time(self_coherence[5m]) < 0.80", "5m", "warning"),
        ("AURIS_SELF_Continuity_Drop", "avg_over_time(self_continuity[5m]) < 0.90", "5m",
         "warning"),
        ("AURIS_SELF_Stress_High", "avg_over_time(self_stress[5m]) > 0.30", "5m", "warning"),
    ]
    for rule in self_group["rules"]:
        ann = rule["annotations"]
        assert ann["runbook_url"] == "docs/PHASE_B_TO_C_RUNBOOK.md#self-slo-violations"
        assert "$labels.token_id" in ann["summary"] and "$value | humanize" in ann["description"]


def test_thirteen_alerts_plus_recording_rules() -> None:
    doc = yaml.safe_load(RULES.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    alerts = [r["alert"] for r in rules if "alert" in r]
    assert len(alerts) == 13 and len(set(alerts)) == 13
    assert sum("record" in r for r in rules) == 15


def test_scaled_render_shrinks_windows_and_for() -> None:
    doc = render_rules(DEFAULT_SLO_SPEC, scale=1 / 60)
    first = doc["groups"][0]["rules"][0]
    assert first["expr"] == "avg_over_time(self_coherence[5s]) < 0.80"
    assert first["for"] == "5s"
    exprs = [r["expr"] for r in doc["groups"][1]["rules"]]
    assert 'avg_over_time(selfslo:sli_error:bool{slo="coherence"}[1m])' in exprs  # 1h / 60
    assert any("ratio_rate6h" in e for e in exprs)  # names keep the nominal window


@pytest.mark.parametrize("scale", [0, -1.0, float("nan")])
def test_render_rejects_bad_scale(scale: float) -> None:
    with pytest.raises(ConfigError, match="scale: expected a positive number"):
        render_rules(DEFAULT_SLO_SPEC, scale=scale)


def test_render_module_writes_the_file_and_rejects_bad_usage(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    from pytest_selfslo.lint.render import main

    out = tmp_path / "rules.yml"
    assert main([str(out)]) == 0
    assert out.read_text() == RULES.read_text()
    assert main([]) == 2
    assert "usage: python -m pytest_selfslo.lint.render PATH [SCALE]" in capsys.readouterr().err


def test_render_rejects_duration_below_a_millisecond() -> None:
    with pytest.raises(ConfigError, match="scaled duration must be at least 1ms"):
        render_rules(DEFAULT_SLO_SPEC, scale=1e-9)


def test_scaled_rules_pass_promtool_check(tmp_path: Path, promtool_bin: Promtool) -> None:
    path = tmp_path / "fast.yml"
    path.write_text(render_rules_yaml(DEFAULT_SLO_SPEC, scale=1 / 60))
    proc = subprocess.run([promtool_bin.path, "check", "rules", str(path)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_committed_rules_have_no_drift() -> None:
    assert check_drift([RULES], DEFAULT_SLO_SPEC, DEFAULT_POLICY) == []


def _mutated_copy(tmp_path: Path) -> Path:
    """A copy of rules/ with the coherence alert threshold moved from 0.80 to 0.85."""
    copy = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", copy)
    path = copy / "phase_c_rules.yml"
    text = path.read_text()
    old = "avg_over_time(self_coherence[5m]) < 0.80"
    assert text.count(old) == 1
    path.write_text(text.replace(old, "avg_over_time(self_coherence[5m]) < 0.85"))
    return copy


def test_mutated_threshold_fails_drift_check_naming_both_locations(tmp_path: Path) -> None:
    copy = _mutated_copy(tmp_path)
    found = check_drift([copy / "phase_c_rules.yml"], DEFAULT_SLO_SPEC, DEFAULT_POLICY)
    assert [f.code for f in found] == ["SL040"]
    (f,) = found
    assert (f.path, f.line, f.column) == (str(copy / "phase_c_rules.yml"), 9, 47)  # the 0.85
    assert "threshold 0.85 on self_coherence differs from the SLO target of objective " \
           "'coherence' 0.80" in f.message
    assert "default_slo.yml:" in f.message  # the spec side of the mismatch


def test_mutated_threshold_fails_a_rule_test(tmp_path: Path,
                                             promtool_bin: Promtool) -> None:
    copy = _mutated_copy(tmp_path)
    proc = subprocess.run([promtool_bin.path, "test", "rules", "self_slo_test.yml"],
                          cwd=copy / "tests", capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "AURIS_SELF_Coherence_Drop" in proc.stdout + proc.stderr


def test_drift_against_a_spec_file_cites_its_line(tmp_path: Path) -> None:
    spec_file = tmp_path / "slo.yml"
    data = DEFAULT_SLO_SPEC.to_dict()
    data["objectives"][2]["target"] = 0.25
    spec_file.write_text(yaml.safe_dump(data, sort_keys=False))
    from pytest_selfslo.slo.spec import load_slo_spec

    spec = load_slo_spec(spec_file)
    found = check_drift([RULES], spec, spec_path=spec_file)
    assert found and all(f.code == "SL040" for f in found)
    lines = spec_file.read_text().splitlines()
    target_line = next(i for i, s in enumerate(lines, 1) if "target: 0.25" in s)
    msgs = [f.format() for f in found]
    assert len(msgs) == 2, msgs  # the alert and the burn-rate error indicator
    assert all(f"differs from the SLO target of objective 'stress' 0.25 ({spec_file}:"
               f"{target_line})" in m for m in msgs), msgs
    assert '"AURIS_SELF_Stress_High": threshold 0.3 on self_stress' in msgs[0]


def test_policy_gate_disagreeing_with_spec_is_sl041() -> None:
    gates = tuple(dataclasses.replace(g, threshold=0.75) if g.name == "self_coherence" else g
                  for g in DEFAULT_POLICY.gates)
    policy = dataclasses.replace(DEFAULT_POLICY, gates=gates)
    found = check_drift([RULES], DEFAULT_SLO_SPEC, policy)
    assert [f.code for f in found] == ["SL041"]
    assert "canary gate 'self_coherence' threshold 0.75 differs from the SLO target" \
           in found[0].message


def test_stability_threshold_drift_is_sl041() -> None:
    gates = tuple(dataclasses.replace(g, threshold=0.7) if g.name == "stability_score_ema"
                  else g for g in DEFAULT_POLICY.gates)
    policy = dataclasses.replace(DEFAULT_POLICY, gates=gates)
    found = check_drift([RULES], DEFAULT_SLO_SPEC, policy)
    assert [f.code for f in found] == ["SL041"]
    assert "AURIS_Stability_Score_Low" in found[0].message
    assert "threshold of canary gate 'stability_score_ema' 0.70" in found[0].message


def test_missing_alert_and_wrong_for_are_reported(tmp_path: Path) -> None:
    doc = yaml.safe_load(RULES.read_text())
    rules = doc["groups"][0]["rules"]
    rules[1]["for"] = "1m"
    rules[0]["labels"]["severity"] = "critical"
    rules[0]["annotations"]["runbook_url"] = "docs/other.md"
    del rules[2]
    path = tmp_path / "r.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    msgs = [f.message for f in check_drift([path], DEFAULT_SLO_SPEC)]
    assert any("AURIS_SELF_Continuity_Drop has for: 1m, the SLO spec says 5m" in m for m in msgs)
    assert any("AURIS_SELF_Coherence_Drop has severity 'critical', the SLO spec says "
               "'warning'" in m for m in msgs)
    assert any("AURIS_SELF_Coherence_Drop has runbook_url 'docs/other.md', the SLO spec says "
               "'docs/PHASE_B_TO_C_RUNBOOK.md#self-slo-violations'" in m for m in msgs)
    assert any("alert AURIS_SELF_Stress_High of SLO objective 'stress'" in m
               and "is not defined in any linted rule file" in m for m in msgs)


SCALED_TEST = """\
rule_files: [fast.yml]
evaluation_interval: 1s
tests:
  - interval: 1s
    input_series:
      - series: 'self_coherence{token_id="a"}'
        values: '0.7x20'
      - series: 'self_coherence{token_id="b"}'
        values: '0.95x20'
    alert_rule_test:
      - eval_time: 4s
        alertname: AURIS_SELF_Coherence_Drop
        exp_alerts: []
      - eval_time: 5s
        alertname: AURIS_SELF_Coherence_Drop
        exp_alerts:
          - exp_labels: {severity: warning, token_id: a}
            exp_annotations:
              summary: SELF coherence below its SLO for token a
              description: The 5s average of self_coherence for token a is 70%; the Phase C SLO is self_coherence >= 0.80.
              runbook_url: docs/PHASE_B_TO_C_RUNBOOK.md#self-slo-violations
"""


def _scaled_files(tmp_path: Path) -> Path:
    (tmp_path / "fast.yml").write_text(render_rules_yaml(DEFAULT_SLO_SPEC, scale=1 / 60))
    test = tmp_path / "fast_test.yml"
    test.write_text(SCALED_TEST)
    return test


def test_scaled_rules_fire_after_scaled_for_embedded(tmp_path: Path) -> None:
    from pytest_selfslo.ruletest.runner import run_rule_tests

    report = run_rule_tests([str(_scaled_files(tmp_path))])
    assert report.passed, report.format_text()


def test_scaled_rules_fire_after_scaled_for_promtool(tmp_path: Path,
                                                     promtool_bin: Promtool) -> None:
    test = _scaled_files(tmp_path)
    proc = subprocess.run([promtool_bin.path, "test", "rules", test.name], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""The assert_* helpers: they pass when they should and fail saying expected, happened and why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge

from pytest_selfslo.heartbeat import HeartbeatLog, generate_heartbeats
from pytest_selfslo.plugin.assertions import (
    assert_alert_fires,
    assert_alert_silent,
    assert_metric,
    assert_rules_valid,
    assert_slo_met,
)
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules" / "phase_c_rules.yml"
DROP = "AURIS_SELF_Coherence_Drop"
# 0.95 for minutes 0-10, then 0.5: the 5m average drops below 0.80 at 12m, fires at 17m
FALLING = {'self_coherence{token_id="a"}': "0.95x10 0.5x30"}

INLINE_RULES = """
groups:
  - name: g
    rules:
      - alert: StressHigh
        expr: self_stress > 0.5
        for: 2m
        labels: {severity: page}
"""


def test_fires_when_firing() -> None:
    assert_alert_fires(RULES, FALLING, DROP, at="25m", labels={"token_id": "a"})


def test_fires_explains_pending_and_for() -> None:
    with pytest.raises(AssertionError) as exc:
        assert_alert_fires(RULES, FALLING, DROP, at="16m", labels={"token_id": "a"})
    message = str(exc.value)
    assert message.startswith(f'expected alert {DROP}{{token_id="a"}} to be firing at 16m, but it '
                              f'was {{severity="warning", token_id="a"}} pending since 12m '
                              f'(for 4m; `for` is 5m)')
    assert "rule: alert AURIS_SELF_Coherence_Drop: avg_over_time(self_coherence[5m]) < 0.80" in message
    assert 'at 16m, avg_over_time(self_coherence[5m]) was: {token_id="a"} = 0.5' in message


def test_fires_explains_a_condition_that_never_held() -> None:
    with pytest.raises(AssertionError) as exc:
        assert_alert_fires(RULES, {'self_coherence{token_id="a"}': "0.95x30"}, DROP, at="25m")
    message = str(exc.value)
    assert f"expected alert {DROP} to be firing at 25m, but it was never active" in message
    assert "the expression returned no series at any evaluation from 0s to 25m" in message
    assert 'avg_over_time(self_coherence[5m]) was: {token_id="a"} = 0.95' in message


def test_fires_with_labels_that_match_no_instance() -> None:
    with pytest.raises(AssertionError, match="never active with those labels") as exc:
        assert_alert_fires(RULES, FALLING, DROP, at="25m", labels={"token_id": "b"})
    assert '{severity="warning", token_id="a"} (labels do not match)' in str(exc.value)


def test_an_alertname_typo_suggests_the_closest_name() -> None:
    with pytest.raises(AssertionError) as info:
        assert_alert_fires(RULES, FALLING, "AURIS_SELF_Coherence_drop", at="25m")
    assert str(info.value) == ("no alerting rule named 'AURIS_SELF_Coherence_drop'; did you "
                               "mean 'AURIS_SELF_Coherence_Drop'?")
    with pytest.raises(AssertionError) as info:
        assert_alert_fires(RULES, FALLING, "Nope", at="25m")
    assert str(info.value) == ("no alerting rule named 'Nope' (13 defined, none with a "
                               "similar name)")


def test_silent_passes_before_the_drop_and_while_pending() -> None:
    assert_alert_silent(RULES, FALLING, DROP, at="10m")
    assert_alert_silent(RULES, FALLING, DROP, at="14m")
    with pytest.raises(AssertionError, match=r"to be silent at 14m, but it was .* pending since 12m"):
        assert_alert_silent(RULES, FALLING, DROP, at="14m", allow_pending=False)


def test_silent_fails_naming_the_firing_instance() -> None:
    with pytest.raises(AssertionError) as exc:
        assert_alert_silent(RULES, FALLING, DROP, at="25m")
    assert str(exc.value).splitlines()[:4] == [
        f'expected alert {DROP} to be silent at 25m, but it was {{severity="warning", '
        f'token_id="a"}} firing (active since 12m, 13m ago)',
        f"  rule: alert {DROP}: avg_over_time(self_coherence[5m]) < 0.80 (for: 5m)",
        "  evaluated every 1m from 0s to 25m",
        '  {severity="warning", token_id="a"}: pending at 12m, firing at 17m; firing at 25m',
    ]


def test_inline_yaml_rules_and_promtool_series_list() -> None:
    series = [{"series": 'self_stress{token_id="x"}', "values": "0.9x10"}]
    assert_alert_fires(INLINE_RULES, series, "StressHigh", at="2m", labels={"severity": "page"})
    with pytest.raises(AssertionError, match=r"pending since 0s \(for 1m; `for` is 2m\)"):
        assert_alert_fires(INLINE_RULES, series, "StressHigh", at=60)


def test_series_text_and_custom_interval() -> None:
    text = """
        self_stress{token_id="x"} 0.1 0.9x6
    """
    # above 0.5 from 30s: pending, and firing once `for: 2m` has passed (150s)
    assert_alert_fires(INLINE_RULES, text, "StressHigh", at="150s", interval="30s")
    assert_alert_silent(INLINE_RULES, text, "StressHigh", at="120s", interval="30s")


def test_metric_value_and_missing_series() -> None:
    registry = CollectorRegistry()
    Gauge("self_coherence", "c", ["token_id"], registry=registry).labels("a").set(0.5)
    assert_metric(registry, "self_coherence", {"token_id": "a"}, 0.5)
    assert_metric(registry, "self_coherence", {"token_id": "a"})
    with pytest.raises(AssertionError, match=r'^expected self_coherence\{token_id="a"\} == 0.7, '
                                             r"got 0.5 \(difference -0.2\)$"):
        assert_metric(registry, "self_coherence", {"token_id": "a"}, 0.7)
    with pytest.raises(AssertionError, match=r'there is none; samples of self_coherence: '
                                             r'\{token_id="a"\} = 0.5$'):
        assert_metric(registry, "self_coherence", {"token_id": "b"}, 0.5)
    with pytest.raises(AssertionError, match="the registry has no metric named 'nope'"):
        assert_metric(registry, "nope", {}, 1.0)


def test_slo_met_on_records_and_files(tmp_path: Path) -> None:
    assert_slo_met(generate_heartbeats("steady", 100))
    path = tmp_path / "beats.jsonl"
    with HeartbeatLog(path) as log:
        log.extend(generate_heartbeats("stress_spike", 100))
    with pytest.raises(AssertionError) as exc:
        assert_slo_met(path, DEFAULT_SLO_SPEC)
    lines = str(exc.value).splitlines()
    assert lines[0] == (f"expected every SLO to be met over 100 heartbeats in {path}, "
                        "but 1 of 3 failed:")
    assert lines[1].startswith("  stress <= 0.30: average stress 0.34")
    assert "above the target; p50 " in lines[1]


def test_slo_never_met_without_data() -> None:
    with pytest.raises(AssertionError, match="there are no heartbeats: missing data never meets"):
        assert_slo_met([])


def test_rules_valid(tmp_path: Path) -> None:
    assert_rules_valid(RULES)
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: sum(\n"
                   "      - record: 'not a name'\n        expr: up\n")
    with pytest.raises(AssertionError) as exc:
        assert_rules_valid(bad)
    lines = str(exc.value).splitlines()
    assert lines[0] == f"expected {bad} to be a valid rule file, but it has 2 problems:"
    assert lines[1].startswith(f"{bad}:5:")
    with pytest.raises(AssertionError, match="there is no such file"):
        assert_rules_valid(tmp_path / "missing.yml")


def test_assertions_module_is_rewritten_by_pytest(pytester: pytest.Pytester) -> None:
    shutil.copy(RULES, pytester.path / "rules.yml")
    pytester.makepyfile("""
        import pytest_selfslo.plugin.assertions as a

        def test_rewritten():
            assert type(a.__loader__).__name__ == "AssertionRewritingHook"

        def test_failure_reads_well():
            a.assert_alert_fires("rules.yml", {'self_coherence{token_id="a"}': "0.95x30"},
                                 "AURIS_SELF_Coherence_Drop", at="20m")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "E*AssertionError: expected alert AURIS_SELF_Coherence_Drop to be firing at 20m, "
        "but it was never active"])

"""The baseline comparison gate: policy block, statistics, verdicts, decide(), sources, simulate."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from scipy.stats import mannwhitneyu

from pytest_selfslo._core.errors import PolicyError
from pytest_selfslo.canary.bucketing import is_active
from pytest_selfslo.canary.cohorts import (
    HeartbeatCohorts,
    compare_samples,
    observe_comparison,
    split_series,
)
from pytest_selfslo.canary.comparison import CohortStats, Verdict, judge
from pytest_selfslo.canary.machine import Action, CanaryState, Observation, decide
from pytest_selfslo.canary.policy import DEFAULT_POLICY, ComparePolicy, load_policy
from pytest_selfslo.canary.simulate import simulate_files
from pytest_selfslo.canary.source import EmbeddedSource, PrometheusSource, StaticSource
from pytest_selfslo.canary.tuner import CanaryAutoTuner
from pytest_selfslo.cli import main
from pytest_selfslo.heartbeat import Heartbeat, HeartbeatLog
from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "canary"
COMPARE_POLICY = FIX / "compare_policy.yml"
RULES = ROOT / "rules" / "phase_c_rules.yml"
SPEC = ComparePolicy(min_samples=50, alpha=0.05, max_relative_drop=0.03)
POLICY = dataclasses.replace(DEFAULT_POLICY, compare=SPEC)
GREEN = {g.name: g.threshold for g in DEFAULT_POLICY.gates}
CANARY_TOKEN = next(f"tok-{i}" for i in range(1000) if is_active(f"tok-{i}", 0.05))
BASE_TOKEN = next(f"tok-{i}" for i in range(1000) if not is_active(f"tok-{i}", 0.5))


def rng_samples(seed: int, mean: float, n: int, sd: float = 0.02) -> np.ndarray:
    return np.random.default_rng(seed).normal(mean, sd, n)


# --------------------------------------------------------------------------- the policy block

def test_compare_block_is_read_and_round_trips(tmp_path: Path) -> None:
    policy = load_policy(COMPARE_POLICY)
    assert policy.compare == ComparePolicy(metric="coherence", direction="higher_is_better",
                                           test="mann_whitney", alpha=0.05, min_samples=50,
                                           max_relative_drop=0.03, window="10m")
    assert policy.gates == DEFAULT_POLICY.gates  # the block adds a gate, it replaces none
    assert policy.compare.expr == "self_coherence[10m]"
    again = tmp_path / "again.yml"
    again.write_text(json.dumps(policy.to_dict()))
    assert load_policy(again) == policy
    custom = ComparePolicy(metric="latency_ok", canary='up{cohort="canary"}[5m]',
                           baseline='up{cohort="baseline"}[5m]')
    assert custom.score is None and custom.selector == "latency_ok"


@pytest.mark.parametrize(("block", "message"), [
    ("  alpha: 1.5\n", "policy.yml:3: compare.alpha: expected a finite number > 0 and <= 1, got 1.5"),
    ("  alpha: 1\n", "policy.yml:3: compare.alpha: expected a finite number > 0 and < 1, got 1"),
    ("  min_samples: 2\n", "policy.yml:3: compare.min_samples: expected an integer >= 3, got 2"),
    ("  direction: up\n", "policy.yml:3: compare.direction: expected one of ['higher_is_better', "
                          "'lower_is_better'], got 'up'"),
    ("  test: t_test\n", "policy.yml:3: compare.test: expected one of ['mann_whitney'], got 't_test'"),
    ("  metric: 'self coherence'\n", "policy.yml:3: compare.metric: expected a SELF score"),
    ("  max_relative_drop: 1\n", "policy.yml:3: compare.max_relative_drop: expected a finite "
                                 "number >= 0 and < 1, got 1"),
    ("  window: soon\n", "policy.yml:3: compare.window: expected a duration"),
    ("  canary: 'up{'\n", "policy.yml:3: compare.canary: expected a PromQL expression that parses"),
    ("  canary: up[5m]\n", "policy.yml:2: compare.baseline: expected a PromQL expression (canary "
                           "and baseline come together), got None"),
    ("  colour: red\n", "policy.yml:3: compare.colour: expected one of the keys"),
])
def test_bad_compare_blocks_name_file_line_and_key(tmp_path: Path, block: str, message: str) -> None:
    path = tmp_path / "policy.yml"
    path.write_text("# my policy\ncompare:\n" + block)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value).startswith(str(tmp_path / message)), str(info.value)


def test_compare_policy_objects_validate_eagerly() -> None:
    with pytest.raises(PolicyError, match="compare: expected both canary and baseline"):
        dataclasses.replace(DEFAULT_POLICY, compare=ComparePolicy(canary="up[5m]"))
    with pytest.raises(PolicyError, match=r"compare\.alpha: expected a number in"):
        dataclasses.replace(DEFAULT_POLICY, compare=ComparePolicy(alpha=0.0))


# --------------------------------------------------------------------------- statistics

def test_statistics_are_scipys_mann_whitney_and_the_median_drop() -> None:
    canary, baseline = rng_samples(1, 0.86, 60), rng_samples(2, 0.97, 300)
    stats = compare_samples(SPEC, canary, baseline, sampling=0.05)
    expected = mannwhitneyu(canary, baseline, alternative="less")
    assert (stats.u, stats.p) == (float(expected.statistic), float(expected.pvalue))
    assert (stats.n_canary, stats.n_baseline, stats.sampling) == (60, 300, 0.05)
    assert stats.effect == pytest.approx((np.median(baseline) - np.median(canary))
                                         / np.median(baseline))
    assert judge(SPEC, stats).verdict is Verdict.REGRESSION


def test_lower_is_better_tests_the_other_tail() -> None:
    spec = ComparePolicy(metric="stress", direction="lower_is_better", max_relative_drop=0.1)
    worse = compare_samples(spec, rng_samples(3, 0.30, 80), rng_samples(4, 0.15, 80))
    better = compare_samples(spec, rng_samples(5, 0.10, 80), rng_samples(6, 0.15, 80))
    assert worse.effect is not None and worse.effect > 0.5 and worse.p is not None and worse.p < 1e-6
    assert judge(spec, worse).verdict is Verdict.REGRESSION
    assert better.effect is not None and better.effect < 0 and judge(spec, better).verdict is Verdict.PASS


@pytest.mark.parametrize(("canary", "baseline", "note"), [
    ([0.9, float("nan")] * 40, [0.9] * 80, "40 missing/NaN sample(s) in the canary cohort"),
    ([0.9] * 80, [0.9, float("inf")] * 40, "40 missing/NaN sample(s) in the baseline cohort"),
    ([], [0.9] * 80, "no samples in the canary cohort"),
    ([0.9] * 80, [], "no samples in the baseline cohort"),
])
def test_missing_or_nan_data_is_inconclusive_never_a_pass(canary: list[float],
                                                          baseline: list[float], note: str) -> None:
    stats = compare_samples(SPEC, canary, baseline)
    assert stats.note == note
    assert stats.p is None and judge(SPEC, stats).verdict is Verdict.INCONCLUSIVE


def test_a_zero_baseline_median_gives_an_infinite_effect_not_a_crash() -> None:
    spec = ComparePolicy(metric="stress", direction="lower_is_better")
    stats = compare_samples(spec, [0.2] * 60, [0.0] * 60)
    assert stats.effect == math.inf and judge(spec, stats).verdict is Verdict.REGRESSION
    assert stats.to_dict()["effect"] is None  # JSON-ready


@pytest.mark.parametrize(("stats", "verdict", "reason"), [
    (None, Verdict.INCONCLUSIVE, "compare coherence: inconclusive (no statistics)"),
    (CohortStats(10, 900, u=1.0, p=0.001, effect=0.2), Verdict.INCONCLUSIVE,
     "compare coherence: inconclusive (n=10 canary / 900 baseline samples, need 50 each)"),
    (CohortStats(80, 900, note="timed out"), Verdict.INCONCLUSIVE,
     "compare coherence: inconclusive (timed out)"),
    (CohortStats(80, 900, u=1.0, p=float("nan"), effect=0.0), Verdict.INCONCLUSIVE,
     "compare coherence: inconclusive (p=nan, effect=0.0)"),
    (CohortStats(80, 900, u=1.0, p=0.2, effect=0.10), Verdict.INCONCLUSIVE,
     "compare coherence: canary 10.00% worse but not significant yet (p=0.2 >= 0.05)"),
    (CohortStats(80, 900, u=1.0, p=0.001, effect=0.10), Verdict.REGRESSION,
     "compare coherence: canary 10.00% worse than baseline (p=0.001 < 0.05, drop > 3.00%)"),
    (CohortStats(80, 900, u=1.0, p=0.001, effect=0.02), Verdict.PASS,
     "compare coherence: pass (drop 2.00%, p=0.001)"),
    (CohortStats(80, 900, u=1.0, p=0.9, effect=-0.05), Verdict.PASS,
     "compare coherence: pass (drop -5.00%, p=0.9)"),
])
def test_verdicts(stats: CohortStats | None, verdict: Verdict, reason: str) -> None:
    result = judge(SPEC, stats)
    assert (result.verdict, result.reason) == (verdict, reason)


# --------------------------------------------------------------------------- decide()

def obs(stats: CohortStats | None, at: float = 5000.0) -> Observation:
    return Observation(gates=GREEN, at=at, comparison=stats)


PASSING = CohortStats(80, 900, u=36000.0, p=0.5, effect=0.0)
REGRESSING = CohortStats(80, 900, u=1200.0, p=1e-9, effect=0.11)


def test_regression_is_a_failing_observation_and_rolls_back_after_the_limit() -> None:
    state = CanaryState(sampling=0.25, since=0.0, step=2)
    decisions = []
    for i in range(POLICY.failure_limit):
        d = decide(POLICY, state, obs(REGRESSING, 5000.0 + i * 60), 5000.0 + i * 60)
        decisions.append(d)
        state = d.state
    assert [d.action for d in decisions] == [Action.HOLD] * (POLICY.failure_limit - 1) + [
        Action.ROLLBACK]
    assert decisions[-1].next == POLICY.floor
    assert any("canary 11.00% worse than baseline" in r for r in decisions[0].reasons)
    out = decisions[-1].to_dict()["comparison"]
    assert (out["verdict"], out["u"], out["p"], out["effect"], out["n_canary"],
            out["n_baseline"]) == ("regression", 1200.0, 1e-9, 0.11, 80, 900)


def test_inconclusive_holds_and_restarts_the_streak() -> None:
    state = CanaryState(sampling=0.1, since=0.0, step=1, consecutive_successes=10)
    d = decide(POLICY, state, obs(CohortStats(12, 900, u=1.0, p=0.5, effect=0.0)), 5000.0)
    assert d.action is Action.HOLD and d.state.consecutive_successes == 0
    assert d.reasons[-1].startswith("compare coherence: inconclusive (n=12 canary")


def test_a_passing_comparison_lets_green_gates_advance_and_says_so() -> None:
    state = CanaryState(sampling=0.1, since=0.0, step=1, consecutive_successes=10)
    d = decide(POLICY, state, obs(PASSING), 5000.0)
    assert d.action is Action.ADVANCE and d.next == 0.25
    assert d.reasons[-1].startswith("all 4 gates green, compare coherence pass for 11 observations")
    assert d.comparison is not None  # the statistics are on the decision, not in the reason
    assert d.comparison.reason == "compare coherence: pass (drop 0.00%, p=0.5)"


def test_at_100_percent_no_baseline_is_left_and_the_rollout_completes() -> None:
    state = CanaryState(sampling=1.0, since=0.0, step=4)
    d = decide(POLICY, state, obs(CohortStats(900, 0, note="no samples in the baseline cohort")),
               5000.0)
    assert d.action is Action.COMPLETE
    assert d.comparison is not None and d.comparison.verdict is Verdict.INCONCLUSIVE


def test_without_a_compare_block_decisions_are_unchanged() -> None:
    d = decide(DEFAULT_POLICY, CanaryState(sampling=0.1, since=0.0, step=1), obs(REGRESSING),
               5000.0)
    assert d.comparison is None and "comparison" not in d.to_dict()


# --------------------------------------------------------------------------- cohorts and sources

def test_split_series_uses_the_sticky_bucketing_of_should_activate_self() -> None:
    series = [({"token_id": CANARY_TOKEN}, [0.8, 0.81]), ({"token_id": BASE_TOKEN}, [0.9]),
              ({"instance": "x"}, [0.1])]
    cohorts = split_series(series, "token_id", 0.05)
    assert cohorts.canary.tolist() == [0.8, 0.81] and cohorts.baseline.tolist() == [0.9]
    assert split_series(series, "token_id", 1.0).canary.tolist() == [0.8, 0.81, 0.9]
    only_unlabelled = split_series([({"instance": "x"}, [0.1])], "token_id", 0.05)
    assert only_unlabelled.note == "1 series without the label 'token_id': no cohorts"


def test_heartbeat_log_cohorts_take_the_window_before_now(tmp_path: Path) -> None:
    path = tmp_path / "hb.jsonl"
    with HeartbeatLog(path) as log:
        for t in range(0, 1200, 30):
            for token, value in ((CANARY_TOKEN, 0.8), (BASE_TOKEN, 0.9)):
                log.append(Heartbeat(ts=1000.0 + t, token_id=token, coherence=value,
                                     continuity=0.9, presence=0.9, stress=0.1))
    cohorts = HeartbeatCohorts(path).cohort_samples(SPEC, 0.05, at=2170.0)
    assert len(cohorts.canary) == len(cohorts.baseline) == 20  # (1570, 2170] every 30 s
    assert set(cohorts.canary.tolist()) == {0.8} and set(cohorts.baseline.tolist()) == {0.9}
    assert HeartbeatCohorts(tmp_path / "nope.jsonl").cohort_samples(SPEC, 0.05, 1.0).note == (
        f"no heartbeat log at {tmp_path / 'nope.jsonl'}")
    stats = observe_comparison(HeartbeatCohorts(path), SPEC, 0.05, at=2170.0)
    assert (stats.n_canary, stats.n_baseline, stats.note) == (20, 20, None)


def _matrix(request: httpx.Request) -> httpx.Response:
    query = request.url.params["query"]
    result: list[dict[str, Any]]
    if query == "self_coherence[10m]":
        result = [{"metric": {"token_id": CANARY_TOKEN}, "values": [[1, "0.8"], [2, "0.82"]]},
                  {"metric": {"token_id": BASE_TOKEN}, "values": [[1, "0.9"], [2, "NaN"]]}]
        return httpx.Response(200, json={"status": "success",
                                         "data": {"resultType": "matrix", "result": result}})
    if query.startswith("up{"):
        result = [{"metric": {}, "value": [1, "1" if "canary" in query else "0.5"]}]
        return httpx.Response(200, json={"status": "success",
                                         "data": {"resultType": "vector", "result": result}})
    return httpx.Response(503, text="down")


def prometheus(handler: Callable[[httpx.Request], httpx.Response]) -> PrometheusSource:
    return PrometheusSource("http://prom.test", retries=0,
                            client=httpx.Client(transport=httpx.MockTransport(handler)))


def test_prometheus_cohorts_by_label_and_by_expression() -> None:
    cohorts = prometheus(_matrix).cohort_samples(SPEC, 0.05, 10.0)
    assert cohorts.canary.tolist() == [0.8, 0.82] and len(cohorts.baseline) == 2
    stats = observe_comparison(prometheus(_matrix), SPEC, 0.05, 10.0)
    assert stats.note == "1 missing/NaN sample(s) in the baseline cohort"  # NaN never passes
    spec = ComparePolicy(metric="up", canary='up{cohort="canary"}', baseline='up{cohort="base"}')
    by_expr = prometheus(_matrix).cohort_samples(spec, 0.05, 10.0)
    assert (by_expr.canary.tolist(), by_expr.baseline.tolist()) == ([1.0], [0.5])
    down = observe_comparison(prometheus(_matrix), ComparePolicy(metric="stress"), 0.05, 10.0)
    assert down.note == "/api/v1/query: HTTP 503" and judge(SPEC, down).verdict is Verdict.INCONCLUSIVE


def test_embedded_engine_cohorts() -> None:
    storage = Storage()
    storage.load(f'self_coherence{{token_id="{CANARY_TOKEN}"}} 0.8x20\n'
                 f'self_coherence{{token_id="{BASE_TOKEN}"}} 0.9x20', 30_000, 0)
    cohorts = EmbeddedSource(Engine(storage)).cohort_samples(SPEC, 0.05, 600.0)
    assert set(cohorts.canary.tolist()) == {0.8} and set(cohorts.baseline.tolist()) == {0.9}
    assert len(cohorts.canary) in (20, 21)  # the 10m window at 30 s


def test_the_tuner_compares_at_the_stored_sampling(tmp_path: Path) -> None:
    seen: list[float] = []

    class Cohorts:
        def cohort_samples(self, policy: ComparePolicy, sampling: float, at: float) -> Any:
            seen.append(sampling)
            return HeartbeatCohorts(tmp_path / "none.jsonl").cohort_samples(policy, sampling, at)

    tuner = CanaryAutoTuner(source=StaticSource([Observation(gates=GREEN)]), policy=POLICY,
                            state_dir=tmp_path / "state", registry=CollectorRegistry(),
                            cohorts=Cohorts(), clock=lambda: 5000.0)
    out = tuner.check_and_tune()
    assert seen == [POLICY.floor]
    assert out["action"] == "hold" and out["comparison"]["verdict"] == "inconclusive"
    assert out["comparison"]["reason"].endswith(f"(no heartbeat log at {tmp_path / 'none.jsonl'})")
    assert tuner.store.load().last_decision["comparison"]["verdict"] == "inconclusive"  # type: ignore[index]


# --------------------------------------------------------------------------- simulate (acceptance 3)

def simulate_cli(capsys: pytest.CaptureFixture[str], log: str, *policy: str) -> str:
    code = main(["canary", "simulate", *policy, "--heartbeats", str(FIX / log),
                 "--series", str(FIX / "stability_green.yml"), "--rules", str(RULES)])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_simulate_holds_a_release_that_regresses_only_the_canary(
        capsys: pytest.CaptureFixture[str]) -> None:
    out = simulate_cli(capsys, "canary_regression.jsonl", "--policy", str(COMPARE_POLICY))
    assert "ADVANCE" not in out and "final sampling 5%" in out
    regression = next(line for line in out.splitlines() if "REGRESSION]" in line)
    assert "canary" in regression and "worse than baseline" in regression
    assert "[U=0 p=" in regression and "drop=+1" in regression
    assert "n=51/153" in regression  # 3 canary tokens, 9 baseline tokens at 30 s
    # the same release under absolute gates only: every gate passes, it walks to 100%
    plain = simulate_cli(capsys, "canary_regression.jsonl")
    assert "final sampling 100%" in plain


def test_simulate_advances_through_a_fleet_wide_dip(capsys: pytest.CaptureFixture[str]) -> None:
    out = simulate_cli(capsys, "fleet_dip.jsonl", "--policy", str(COMPARE_POLICY))
    assert "ROLLBACK" not in out and "REGRESSION" not in out
    assert out.count("ADVANCE") == 4 and "final sampling 100%" in out
    assert "PASS]" in out


def test_simulate_result_holds_the_statistics_per_decision() -> None:
    policy = load_policy(COMPARE_POLICY)
    result = simulate_files(policy, heartbeats=[FIX / "canary_regression.jsonl"],
                            series=[FIX / "stability_green.yml"], rules=[RULES])
    assert result.first(Action.ADVANCE) is None
    verdicts = [d.comparison.verdict for d in result.decisions if d.comparison is not None]
    assert len(verdicts) == len(result.decisions)
    assert verdicts[0] is Verdict.INCONCLUSIVE and verdicts[-1] is Verdict.REGRESSION
    last = result.to_dict()["decisions"][-1]["comparison"]
    assert last["n_canary"] == 60 and last["n_baseline"] == 180 and last["p"] < 1e-10


def test_cli_tune_reads_cohorts_from_a_heartbeat_log_and_status_shows_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], refused_url: str) -> None:
    now = time.time()
    path = tmp_path / "hb.jsonl"
    with HeartbeatLog(path) as log:
        for i in range(60):
            for token, value in ((CANARY_TOKEN, 0.86), (BASE_TOKEN, 0.97)):
                log.append(Heartbeat(ts=now - 300 + i * 5, token_id=token,
                                     coherence=value + (i % 7) * 0.001, continuity=0.96,
                                     presence=0.9, stress=0.1))
    state = str(tmp_path / "state")
    code = main(["canary", "tune", "--policy", str(COMPARE_POLICY), "--heartbeats", str(path),
                 "--prometheus", refused_url, "--state-dir", state])
    out = capsys.readouterr().out
    assert code == 0 and "HOLD" in out and "metrics source error" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("comparison:"))
    assert line.strip().startswith("comparison: coherence U=0 p=") and line.endswith(
        "n=60/60 REGRESSION")
    assert main(["canary", "status", "--policy", str(COMPARE_POLICY), "--state-dir", state]) == 0
    status = capsys.readouterr().out
    assert "comparison: coherence U=0 p=" in status and "REGRESSION" in status

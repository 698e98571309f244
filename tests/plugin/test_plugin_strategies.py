"""Hypothesis strategies of pytest_selfslo.plugin.strategies: what they draw is valid and useful."""

from __future__ import annotations

from hypothesis import HealthCheck, find, given, settings, strategies as st

from pytest_selfslo.heartbeat import Heartbeat
from pytest_selfslo.plugin import canary_strategies, strategies
from pytest_selfslo.promql.series import parse_series_values
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, evaluate

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(strategies.series_values())
def test_series_values_always_parse(text: str) -> None:
    values = parse_series_values(text)
    assert values  # at least one term expands to at least one slot


@FAST
@given(strategies.series_values(gaps=False, stale=False))
def test_without_gaps_and_staleness_every_slot_has_a_value(text: str) -> None:
    assert "_" not in text and "stale" not in text
    assert None not in parse_series_values(text)


@FAST
@given(strategies.series("self_stress", max_series=3))
def test_series_load_into_storage_with_distinct_tokens(series: dict[str, str]) -> None:
    assert 1 <= len(series) <= 3
    assert all(key.startswith('self_stress{token_id="') for key in series)
    storage = Storage()
    storage.load("\n".join(f"{k} {v}" for k, v in series.items()), 60_000)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.heartbeats(min_size=1, max_size=8, tokens=["a", "b"]))
def test_heartbeats_are_valid_time_ordered_and_evaluable(beats: list[Heartbeat]) -> None:
    assert 1 <= len(beats) <= 8
    assert [b.ts for b in beats] == sorted(b.ts for b in beats)
    assert {b.token_id for b in beats} <= {"a", "b"}
    report = evaluate(DEFAULT_SLO_SPEC, beats)
    assert report.count == len(beats)


def test_scores_reach_the_thresholds_exactly() -> None:
    assert find(strategies.score(), lambda v: v == 0.80) == 0.80
    assert find(strategies.score(), lambda v: 0.30 < v < 0.3000001) > 0.30


def test_canary_strategies_are_re_exported() -> None:
    assert strategies.canary_observations is canary_strategies.canary_observations
    assert strategies.canary_states is canary_strategies.canary_states
    assert strategies.firing_alerts is canary_strategies.firing_alerts


@FAST
@given(st.data())
def test_token_ids_are_valid_label_values(data: st.DataObject) -> None:
    token = data.draw(strategies.token_ids())
    Heartbeat(ts=0.0, token_id=token, coherence=1, continuity=1, presence=1, stress=0)
    assert '"' not in token and "{" not in token

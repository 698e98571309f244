"""Sticky monotone bucketing and the hot-path runtime helpers (issue 6, acceptance 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mmh3
import pytest
from hypothesis import given, settings, strategies as st

from pytest_selfslo.canary import runtime
from pytest_selfslo.canary.bucketing import bucket, bucket_fraction, is_active
from pytest_selfslo.canary.policy import AdaptivePolicy
from pytest_selfslo.canary.runtime import (
    AdaptiveActivation,
    current_sampling,
    should_activate_self,
)
from pytest_selfslo.canary.store import CanaryStore

TOKENS = [f"token-{i}" for i in range(100_000)]


@pytest.fixture(autouse=True)
def _fresh_flags(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AURIS_SELF", raising=False)
    monkeypatch.delenv("AURIS_SELF_CANARY", raising=False)
    runtime.reload()
    yield
    runtime.reload()


def test_known_hash_values_are_pinned() -> None:
    # murmur3 x86_32, seed 0, unsigned: reproducible in any language and Python version
    assert bucket("token-0") == 3491444185
    assert bucket("token-1") == 756515794
    assert bucket("abc") == 3017643002
    assert bucket("") == 0
    assert bucket_fraction("token-1") == pytest.approx(756515794 / 2**32)


def test_stable_across_processes() -> None:
    code = "from pytest_selfslo.canary.bucketing import bucket; print(bucket('token-0'), bucket('abc'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "123"}).stdout.split()
    assert out == ["3491444185", "3017643002"]


@pytest.mark.parametrize("p", [0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 1.00])
def test_active_fraction_within_one_percent_over_100k_tokens(p: float) -> None:
    active = sum(is_active(t, p) for t in TOKENS)
    assert abs(active / len(TOKENS) - p) <= 0.01


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.floats(0, 1), st.floats(0, 1))
def test_monotone_in_sampling(token: str, a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    if is_active(token, low):
        assert is_active(token, high)
    assert is_active(token, 1.0)
    assert not is_active(token, 0.0)


def test_should_activate_agrees_with_bucketing() -> None:
    for token in TOKENS[:2000]:
        assert should_activate_self(token, 0.25) == (mmh3.hash(token, 0, False) < 0.25 * 2**32)


def test_self_off_is_never_active(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("off", "0", "false", "OFF"):
        monkeypatch.setenv("AURIS_SELF", value)
        runtime.reload()
        assert not any(should_activate_self(t, 1.0) for t in TOKENS[:100])
    monkeypatch.setenv("AURIS_SELF", "on")
    runtime.reload()
    assert all(should_activate_self(t, 1.0) for t in TOKENS[:100])


def test_current_sampling_is_hot_and_cached(tmp_path: Path) -> None:
    assert current_sampling(tmp_path) == 0.05
    store = CanaryStore(tmp_path)
    store.apply(0.25, reason="r", actor="a")
    assert current_sampling(tmp_path) == 0.25
    store.apply(0.50, reason="r", actor="a")
    assert current_sampling(tmp_path) == 0.50  # a new inode each write: no stale cache


def test_environment_seeds_the_sampling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURIS_SELF_CANARY", "0.5")
    runtime.reload()
    assert current_sampling(tmp_path) == 0.5
    CanaryStore(tmp_path).apply(0.10, reason="r", actor="a")
    assert current_sampling(tmp_path) == 0.10  # the store wins once it exists


def test_default_state_dir_comes_from_the_environment(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELFSLO_STATE_DIR", str(tmp_path))
    runtime.reload()
    CanaryStore(tmp_path).apply(1.0, reason="r", actor="a")
    assert current_sampling() == 1.0
    assert should_activate_self("token-0")


def test_corrupt_state_fails_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("SELFSLO_STATE_DIR", str(tmp_path))
    runtime.reload()
    (tmp_path / "canary_state.json").write_text("{oops")
    assert should_activate_self("token-0") is False
    assert "canary state unusable" in caplog.text


def test_adaptive_activation_throttles_with_hysteresis() -> None:
    gate = AdaptiveActivation(AdaptivePolicy(stress_high=0.3, stress_low=0.2, factor=0.5))
    seen = [gate.effective_sampling(0.5, s) for s in (0.1, 0.35, 0.25, 0.31, 0.21, 0.2, 0.25)]
    assert seen == [0.5, 0.25, 0.25, 0.25, 0.25, 0.5, 0.5]
    assert gate.flips == 2


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), max_size=60))
def test_adaptive_flips_are_bounded_by_threshold_crossings(stresses: list[float]) -> None:
    policy = AdaptivePolicy(stress_high=0.3, stress_low=0.2, factor=0.5)
    gate = AdaptiveActivation(policy)
    for s in stresses:
        gate.observe(s)
    # every flip needs a full swing across the hysteresis band: above high, then to low or below
    swings, above = 0, False
    for s in stresses:
        if not above and s > policy.stress_high:
            above, swings = True, swings + 1
        elif above and s <= policy.stress_low:
            above, swings = False, swings + 1
    assert gate.flips == swings


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=20), st.floats(0.01, 1), st.floats(0, 1))
def test_adaptive_bucketing_stays_monotone(token: str, sampling: float, stress: float) -> None:
    gate = AdaptiveActivation(AdaptivePolicy(factor=0.5))
    effective = gate.effective_sampling(sampling, stress)
    assert effective <= sampling
    if is_active(token, effective):
        assert is_active(token, sampling)


def test_adaptive_activation_from_a_policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_selfslo.canary.policy import load_policy

    path = tmp_path / "p.yml"
    path.write_text("adaptive: {stress_high: 0.3, stress_low: 0.2, factor: 0.5}\n")
    adaptive = load_policy(path).adaptive
    assert adaptive is not None
    monkeypatch.setenv("SELFSLO_STATE_DIR", str(tmp_path))
    runtime.reload()
    CanaryStore(tmp_path).apply(0.5, reason="r", actor="a")
    gate = AdaptiveActivation(adaptive)
    calm = sum(gate.should_activate(t, stress=0.1) for t in TOKENS[:20_000]) / 20_000
    stressed = sum(gate.should_activate(t, stress=0.5) for t in TOKENS[:20_000]) / 20_000
    assert abs(calm - 0.5) < 0.02 and abs(stressed - 0.25) < 0.02
    assert all(gate.should_activate(t, stress=0.25) == is_active(t, 0.25) for t in TOKENS[:500])

"""Adaptive activation under check_policy: hysteresis wider than noise, throttling only removes tokens."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_selfslo.canary.policy import DEFAULT_POLICY, AdaptivePolicy
from pytest_selfslo.plugin.canary_properties import (
    ADAPTIVE_PROPERTIES,
    PolicyPropertyError,
    applicable_properties,
    check_policy,
)

ADAPTIVE = dataclasses.replace(DEFAULT_POLICY, adaptive=AdaptivePolicy(0.30, 0.20, 0.5))


def test_adaptive_properties_apply_only_with_an_adaptive_block() -> None:
    assert not set(ADAPTIVE_PROPERTIES) & set(applicable_properties(DEFAULT_POLICY))
    assert set(ADAPTIVE_PROPERTIES) <= set(applicable_properties(ADAPTIVE))


def test_requesting_an_adaptive_property_without_the_block_is_an_error() -> None:
    with pytest.raises(ValueError, match="no adaptive: block"):
        check_policy(DEFAULT_POLICY, properties=["adaptive_no_flapping"], max_examples=5)


def test_a_hysteresis_band_wider_than_the_noise_passes() -> None:
    results = check_policy(ADAPTIVE, properties=list(ADAPTIVE_PROPERTIES), max_examples=60)
    assert [r.ok for r in results] == [True, True]


@pytest.mark.parametrize("low", [0.30, 0.295])
def test_a_band_narrower_than_the_noise_flaps(low: float) -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, adaptive=AdaptivePolicy(0.30, low, 0.5))
    with pytest.raises(PolicyPropertyError) as exc:
        check_policy(policy, properties=["adaptive_no_flapping"], max_examples=100)
    message = str(exc.value)
    assert "'adaptive_no_flapping' violated" in message
    assert "switched throttling" in message and "widen the hysteresis band" in message
    assert "-> throttled" in message and "-> full" in message  # the shrunk stress timeline


def test_a_wider_noise_setting_catches_a_band_the_default_accepts() -> None:
    policy = dataclasses.replace(DEFAULT_POLICY, adaptive=AdaptivePolicy(0.30, 0.27, 0.5))
    check_policy(policy, properties=["adaptive_no_flapping"], max_examples=60)
    with pytest.raises(PolicyPropertyError):
        check_policy(policy, properties=["adaptive_no_flapping"], max_examples=100,
                     adaptive_noise=0.05)



def test_a_throttle_that_raises_the_sampling_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The policy model refuses factor > 1, so break the runtime instead: the property notices."""
    from pytest_selfslo.canary import runtime

    monkeypatch.setattr(runtime.AdaptiveActivation, "effective_sampling",
                        lambda self, sampling, stress=None: min(1.0, sampling * 1.5))
    with pytest.raises(PolicyPropertyError, match="raised the effective sampling"):
        check_policy(ADAPTIVE, properties=["adaptive_monotone_bucketing"], max_examples=100)


def test_gates_are_checked_against_the_spec_passed_in() -> None:
    """A team with stricter SLOs: the default policy's 0.80 coherence gate disagrees with 0.85."""
    from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

    strict = dataclasses.replace(DEFAULT_SLO_SPEC, objectives=tuple(
        dataclasses.replace(o, target=0.85) if o.name == "coherence" else o
        for o in DEFAULT_SLO_SPEC.objectives))
    check_policy(DEFAULT_POLICY, properties=["gates_agree_with_slo"])
    with pytest.raises(PolicyPropertyError, match=r"SLO spec says self_coherence >= 0\.85"):
        check_policy(DEFAULT_POLICY, properties=["gates_agree_with_slo"], spec=strict)

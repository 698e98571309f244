"""SELF exporter: the four original tests, the gate, validation, eviction, ASGI app."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from pytest_selfslo.metrics import exporter as metrics
from pytest_selfslo.metrics.exporter import (
    SelfMetricsExporter,
    default_exporter,
    metrics_enabled,
    reset_default_exporter,
    update_self_metrics,
)

SCORES = ("coherence", "continuity", "presence", "stress")


def sample(registry: CollectorRegistry, score: str, token: str) -> float | None:
    return registry.get_sample_value(f"self_{score}", {"token_id": token})


@pytest.fixture
def fresh_default(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The default exporter lives on the global REGISTRY: start and end each test without it."""
    monkeypatch.delenv("AURIS_METRICS_EXP", raising=False)
    reset_default_exporter()
    yield
    reset_default_exporter()


# ----------------------------------------------------------- the original four tests


def test_smoke_metrics_reach_the_registry(fresh_default: None) -> None:
    update_self_metrics("smoke-token", 0.91, 0.95, 0.88, 0.12)
    assert sample(REGISTRY, "coherence", "smoke-token") == 0.91
    assert sample(REGISTRY, "continuity", "smoke-token") == 0.95
    assert sample(REGISTRY, "presence", "smoke-token") == 0.88
    assert sample(REGISTRY, "stress", "smoke-token") == 0.12


@pytest.mark.parametrize("value", ["off", "0", "false", "OFF", " False "])
def test_disabled_is_a_no_op(fresh_default: None, monkeypatch: pytest.MonkeyPatch,
                             value: str) -> None:
    monkeypatch.setenv("AURIS_METRICS_EXP", value)
    update_self_metrics("disabled-token", 0.5, 0.5, 0.5, 0.5)
    update_self_metrics("disabled-token", math.nan, 7, "bad", -1)  # type: ignore[arg-type]
    assert sample(REGISTRY, "coherence", "disabled-token") is None
    assert REGISTRY.get_sample_value("self_exporter_evicted_tokens_total") is None  # unregistered
    exporter = SelfMetricsExporter()
    exporter.update("x", math.nan, 2, 3, 4)
    assert not exporter.enabled and list(exporter.registry.collect()) == []


def test_multiple_tokens_keep_isolated_labels() -> None:
    exporter = SelfMetricsExporter(enabled=True)
    exporter.update("token-a", 0.9, 0.9, 0.9, 0.1)
    exporter.update("token-b", 0.2, 0.3, 0.4, 0.8)
    exporter.update("token-a", 0.95, 0.96, 0.97, 0.05)
    assert [sample(exporter.registry, s, "token-a") for s in SCORES] == [0.95, 0.96, 0.97, 0.05]
    assert [sample(exporter.registry, s, "token-b") for s in SCORES] == [0.2, 0.3, 0.4, 0.8]


@pytest.mark.parametrize("edge", [0.0, 1.0, 0, 1])
def test_edge_values_export_exactly(edge: float) -> None:
    exporter = SelfMetricsExporter(enabled=True)
    exporter.update("edge", edge, edge, edge, edge)
    assert [sample(exporter.registry, s, "edge") for s in SCORES] == [float(edge)] * 4


# ----------------------------------------------------------------------- gate


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, True), ({"AURIS_METRICS_EXP": "on"}, True), ({"AURIS_METRICS_EXP": "1"}, True),
    ({"AURIS_METRICS_EXP": "off"}, False), ({"AURIS_METRICS_EXP": "0"}, False),
    ({"AURIS_METRICS_EXP": "FALSE"}, False), ({"AURIS_METRICS_EXP": "no"}, False),
])
def test_metrics_enabled(environ: dict[str, str], expected: bool) -> None:
    assert metrics_enabled(environ) is expected


def test_instance_reads_the_gate_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURIS_METRICS_EXP", "off")
    assert not SelfMetricsExporter().enabled
    assert SelfMetricsExporter(enabled=True).enabled
    monkeypatch.setenv("AURIS_METRICS_EXP", "on")
    assert SelfMetricsExporter().enabled


def test_module_level_gate_is_checked_per_call(fresh_default: None,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURIS_METRICS_EXP", "off")
    assert not default_exporter().enabled  # created while closed
    monkeypatch.setenv("AURIS_METRICS_EXP", "on")
    update_self_metrics("reopened", 0.5, 0.5, 0.5, 0.5)
    assert sample(REGISTRY, "stress", "reopened") == 0.5
    monkeypatch.setenv("AURIS_METRICS_EXP", "off")
    update_self_metrics("reopened", 0.7, 0.7, 0.7, 0.7)
    assert sample(REGISTRY, "stress", "reopened") == 0.5


def test_default_registry_is_private() -> None:
    a, b = SelfMetricsExporter(enabled=True), SelfMetricsExporter(enabled=True)
    assert a.registry is not b.registry and a.registry is not REGISTRY
    a.update("t", 0.1, 0.1, 0.1, 0.1)
    assert sample(b.registry, "coherence", "t") is None


# ----------------------------------------------------------------- validation


@pytest.mark.parametrize(("args", "message"), [
    (("t", math.nan, 0.5, 0.5, 0.5), "coherence: expected a finite number in [0, 1], got nan"),
    (("t", 0.5, math.inf, 0.5, 0.5), "continuity: expected a finite number in [0, 1], got inf"),
    (("t", 0.5, 0.5, -math.inf, 0.5), "presence: expected a finite number in [0, 1], got -inf"),
    (("t", 0.5, 0.5, 0.5, -0.1), "stress: expected a number in [0, 1], got -0.1"),
    (("t", 1.1, 0.5, 0.5, 0.5), "coherence: expected a number in [0, 1], got 1.1"),
    (("t", "0.5", 0.5, 0.5, 0.5), "coherence: expected a number in [0, 1], got str '0.5'"),
    (("t", 0.5, 0.5, True, 0.5), "presence: expected a number in [0, 1], got bool True"),
    (("t", 0.5, 0.5, 0.5, None), "stress: expected a number in [0, 1], got NoneType None"),
    (("", 0.5, 0.5, 0.5, 0.5), "token_id: expected a non-empty string, got ''"),
    ((3, 0.5, 0.5, 0.5, 0.5), "token_id: expected a non-empty string, got int 3"),
    (("x" * 257, 0.5, 0.5, 0.5, 0.5),
     "token_id: expected at most 256 characters, got 257 ('" + "x" * 32 + "'...)"),
])
def test_validation_is_all_or_nothing(args: tuple[object, ...], message: str) -> None:
    exporter = SelfMetricsExporter(enabled=True)
    exporter.update("t", 0.9, 0.9, 0.9, 0.1)
    with pytest.raises(ValueError) as exc:
        exporter.update(*args)  # type: ignore[arg-type]
    assert str(exc.value) == message
    assert [sample(exporter.registry, s, "t") for s in SCORES] == [0.9, 0.9, 0.9, 0.1]


def test_max_tokens_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tokens: expected an integer >= 1, got 0"):
        SelfMetricsExporter(max_tokens=0)


# ------------------------------------------------------------ cardinality bound


def test_least_recently_updated_token_is_evicted() -> None:
    exporter = SelfMetricsExporter(enabled=True, max_tokens=3)
    for tok in ("a", "b", "c"):
        exporter.update(tok, 0.5, 0.5, 0.5, 0.5)
    exporter.update("a", 0.6, 0.6, 0.6, 0.6)  # refresh a: b is now the oldest
    exporter.update("d", 0.7, 0.7, 0.7, 0.7)
    assert exporter.tokens == ["c", "a", "d"]
    assert all(sample(exporter.registry, s, "b") is None for s in SCORES)
    assert sample(exporter.registry, "coherence", "a") == 0.6
    assert exporter.registry.get_sample_value("self_exporter_evicted_tokens_total") == 1.0
    for i in range(10):
        exporter.update(f"n{i}", 0.1, 0.1, 0.1, 0.1)
    assert len(exporter.tokens) == 3
    assert exporter.registry.get_sample_value("self_exporter_evicted_tokens_total") == 11.0


def test_remove() -> None:
    exporter = SelfMetricsExporter(enabled=True)
    exporter.update("gone", 0.5, 0.5, 0.5, 0.5)
    assert exporter.remove("gone") and not exporter.remove("gone")
    assert sample(exporter.registry, "coherence", "gone") is None
    assert not SelfMetricsExporter(enabled=False).remove("gone")


# ----------------------------------------------------------------------- ASGI


def test_asgi_app_serves_prometheus_text() -> None:
    exporter = SelfMetricsExporter(enabled=True)
    exporter.update("web", 0.25, 0.5, 0.75, 1.0)

    async def scrape() -> httpx.Response:
        transport = httpx.ASGITransport(app=exporter.asgi_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/")

    response = asyncio.run(scrape())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'self_coherence{token_id="web"} 0.25' in response.text
    assert 'self_stress{token_id="web"} 1.0' in response.text
    assert "# TYPE self_exporter_evicted_tokens_total counter" in response.text


def test_reset_default_exporter_unregisters(fresh_default: None) -> None:
    update_self_metrics("reset-me", 0.5, 0.5, 0.5, 0.5)
    reset_default_exporter()
    assert sample(REGISTRY, "coherence", "reset-me") is None
    assert metrics._default is None

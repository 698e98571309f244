"""Where the canary's evidence comes from: a real Prometheus API or the embedded engine.

A :class:`MetricsSource` turns a policy into an
:class:`~pytest_selfslo.canary.machine.Observation`: one value per gate plus
the firing alerts. Sources never raise for an unhealthy backend -- a timeout,
a refused connection, an HTTP error or an answer that is not the Prometheus
API's JSON becomes an observation with ``error`` set (and the decision holds
with that reason). :class:`PrometheusSource` speaks only ``/api/v1/query`` and
``/api/v1/alerts``, so it works unchanged against Thanos, Mimir, Cortex or
VictoriaMetrics.

For a policy with a ``compare:`` block, :class:`PrometheusSource` and
:class:`EmbeddedSource` also read the two cohorts' samples
(``cohort_samples``, the :class:`~pytest_selfslo.canary.cohorts.CohortSource`
protocol): the range selector ``self_<score>[window]`` split by bucketing its
``token_id`` label, or the policy's ``canary``/``baseline`` expressions.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import httpx
import numpy as np

from pytest_selfslo.canary.cohorts import Cohorts, split_series
from pytest_selfslo.canary.machine import Observation
from pytest_selfslo.canary.policy import CanaryPolicy, ComparePolicy
from pytest_selfslo.promql.values import InstantVector, RangeVector, ScalarValue

__all__ = ["EmbeddedSource", "MetricsSource", "PrometheusSource", "StaticSource", "series_values",
           "vector_steps"]


class MetricsSource(Protocol):
    """Anything that can observe a policy's gates and the firing alerts at time ``at``."""

    def observe(self, policy: CanaryPolicy, at: float) -> Observation:
        """Gate values and firing alerts at ``at`` (unix seconds); never raises for backend trouble."""
        ...


def _single_value(result_type: Any, result: Any) -> tuple[float | None, str | None]:
    """The one number in an instant-query result, or ``None`` with a note saying why not."""
    try:
        if result_type == "scalar":
            raw = result[1]
        elif result_type == "vector":
            if not isinstance(result, list):
                return None, f"garbage: vector result is {type(result).__name__}"
            if not result:
                return None, "no series"
            if len(result) > 1:
                return None, f"{len(result)} series, expected 1 (aggregate the expression, e.g. avg(...))"
            raw = result[0]["value"][1]
        else:
            return None, f"result type {result_type!r}, expected vector or scalar"
        value = float(raw)
    except (KeyError, IndexError, TypeError, ValueError):
        return None, f"garbage: cannot read a sample value from {str(result)[:80]!r}"
    if not math.isfinite(value):
        return None, f"value is {raw}"
    return value, None


class PrometheusSource:
    """Observes gates and alerts through the Prometheus HTTP API.

    >>> source = PrometheusSource("http://127.0.0.1:9090", timeout=5, retries=2)  # doctest: +SKIP
    >>> source.observe(DEFAULT_POLICY, at=time.time()).gates                       # doctest: +SKIP
    {'stability_score_ema': 0.93, ...}

    Transport errors, 5xx and 429 are retried ``retries`` times with a short
    backoff; other HTTP errors are reported at once with Prometheus' own
    ``error`` text.
    """

    def __init__(self, url: str, timeout: float = 5.0, retries: int = 2, *,
                 backoff: float = 0.2, headers: Mapping[str, str] | None = None,
                 client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if retries < 0 or timeout <= 0:
            raise ValueError(f"expected timeout > 0 and retries >= 0, got {timeout!r}, {retries!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._client = client or httpx.Client(timeout=timeout, headers=dict(headers or {}))

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> tuple[Any, str | None]:
        """``data`` of a successful API answer, or ``(None, error text)``."""
        error = "no attempt made"
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.backoff * attempt)
            try:
                response = self._client.get(self.url + path, params=params)
            except httpx.TimeoutException:
                error = f"{path}: timed out after {self.timeout:g}s"
                continue
            except httpx.HTTPError as exc:
                error = f"{path}: {type(exc).__name__}: {exc}"
                continue
            try:
                body = response.json()
            except ValueError:
                body = None
            if response.status_code >= 500 or response.status_code == 429:
                error = f"{path}: HTTP {response.status_code}"
                continue
            if not isinstance(body, dict) or "status" not in body:
                return None, (f"{path}: garbage answer (HTTP {response.status_code}, not the "
                              f"Prometheus API's JSON): {response.text[:80]!r}")
            if body.get("status") != "success" or response.status_code >= 400:
                return None, (f"{path}: HTTP {response.status_code} {body.get('errorType', '')}: "
                              f"{body.get('error', 'unknown error')}").replace("  ", " ")
            return body.get("data"), None
        return None, error

    def query(self, expr: str, at: float) -> tuple[float | None, str | None]:
        """One instant query: ``(value, None)``, ``(None, note)`` for no data, or raises nothing."""
        data, error = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        if error is not None:
            return None, error
        if not isinstance(data, dict):
            return None, f"garbage: query data is {type(data).__name__}"
        return _single_value(data.get("resultType"), data.get("result"))

    def firing_alerts(self) -> tuple[list[dict[str, str]], str | None]:
        """Labels of every alert in state ``firing`` (pending ones do not count)."""
        data, error = self._get("/api/v1/alerts")
        if error is not None:
            return [], error
        alerts = data.get("alerts") if isinstance(data, dict) else None
        if not isinstance(alerts, list):
            return [], "/api/v1/alerts: garbage answer: no alerts list"
        firing = []
        for alert in alerts:
            if isinstance(alert, dict) and alert.get("state") == "firing" \
                    and isinstance(alert.get("labels"), dict):
                firing.append({str(k): str(v) for k, v in alert["labels"].items()})
        return firing, None

    def observe(self, policy: CanaryPolicy, at: float) -> Observation:
        """Query every gate and the alerts; the first failure sets ``error`` and stops (the decision
        then holds), so a dead server costs one query's retries, not one per gate."""
        gates: dict[str, float | None] = {}
        notes: dict[str, str] = {}
        for gate in policy.gates:
            value, note = self.query(gate.expr, at)
            gates[gate.name] = value
            if note is not None:
                notes[gate.name] = note
                if note.startswith(("/api/", "garbage")):  # fail fast: the decision holds anyway
                    return Observation(gates=gates, error=f"gate {gate.name}: {note}", at=at,
                                       notes=notes)
        firing, error = self.firing_alerts()
        return Observation(gates=gates, firing_alerts=firing, error=error, at=at, notes=notes)

    def series(self, expr: str, at: float) -> tuple[list[tuple[dict[str, str], list[float]]],
                                                    str | None]:
        """Every series' sample values of an instant query (matrix, vector or scalar)."""
        data, error = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        if error is not None:
            return [], error
        if not isinstance(data, dict):
            return [], f"garbage: query data is {type(data).__name__}"
        kind, result = data.get("resultType"), data.get("result")
        if result is None:
            return [], "garbage: the query data has no result"
        try:
            if kind == "matrix":
                return [(dict(s["metric"]), [float(v) for _, v in s["values"]]) for s in result], None
            if kind == "vector":
                return [(dict(s["metric"]), [float(s["value"][1])]) for s in result], None
            if kind == "scalar":
                return [({}, [float(result[1])])], None
        except (KeyError, IndexError, TypeError, ValueError):
            return [], f"garbage: cannot read samples from {str(result)[:80]!r}"
        return [], f"result type {kind!r}, expected matrix, vector or scalar"

    def cohort_samples(self, policy: ComparePolicy, sampling: float, at: float) -> Cohorts:
        """Both cohorts' samples at ``at`` (see the module docstring)."""
        return _cohorts(self.series, policy, sampling, at)


class StaticSource:
    """Replays prepared observations in order (tests, simulations of hand-written timelines)."""

    def __init__(self, observations: Sequence[Observation]) -> None:
        self._observations = list(observations)
        self._next = 0

    def observe(self, policy: CanaryPolicy, at: float) -> Observation:
        """The next prepared observation (re-stamped at ``at``); an error once they run out."""
        if self._next >= len(self._observations):
            return Observation(gates={}, error="no more recorded observations", at=at)
        obs = self._observations[self._next]
        self._next += 1
        return Observation(gates=obs.gates, firing_alerts=obs.firing_alerts, error=obs.error,
                           at=at, notes=obs.notes, comparison=obs.comparison)


class EmbeddedSource:
    """Observes gates with the in-process PromQL engine; alerts come from a callable.

    ``engine`` is a :class:`pytest_selfslo.promql.engine.Engine` (anything with
    ``instant(query, time_ms)``); ``alerts(at)`` returns the firing alerts'
    labels at ``at`` (e.g. from evaluating rule groups), default none.
    """

    def __init__(self, engine: Any, alerts: Callable[[float], Sequence[Mapping[str, str]]] | None = None
                 ) -> None:
        self.engine = engine
        self._alerts = alerts or (lambda at: [])

    def observe(self, policy: CanaryPolicy, at: float) -> Observation:
        """Evaluate each gate at ``at``; an engine error becomes the observation's ``error``."""
        gates: dict[str, float | None] = {}
        notes: dict[str, str] = {}
        errors: list[str] = []
        for gate in policy.gates:
            try:
                result = self.engine.instant(gate.expr, round(at * 1000))
            except Exception as exc:  # the engine's errors are data here, never a crash
                gates[gate.name] = None
                errors.append(f"gate {gate.name}: {type(exc).__name__}: {exc}")
                continue
            value, note = vector_steps(result, 1)[0]
            gates[gate.name] = value
            if note is not None:
                notes[gate.name] = note
        try:
            firing = [dict(a) for a in self._alerts(at)]
        except Exception as exc:
            firing, errors = [], [*errors, f"alerts: {type(exc).__name__}: {exc}"]
        return Observation(gates=gates, firing_alerts=firing, error="; ".join(errors) or None,
                           at=at, notes=notes)

    def series(self, expr: str, at: float) -> tuple[list[tuple[dict[str, str], list[float]]],
                                                    str | None]:
        """Every series' sample values of ``expr`` at ``at`` (range or instant vector, scalar)."""
        try:
            result = self.engine.instant(expr, round(at * 1000))
        except Exception as exc:  # the engine's errors are data here, never a crash
            return [], f"{type(exc).__name__}: {exc}"
        return series_values(result, 0), None

    def cohort_samples(self, policy: ComparePolicy, sampling: float, at: float) -> Cohorts:
        """Both cohorts' samples at ``at`` (see the module docstring)."""
        return _cohorts(self.series, policy, sampling, at)


_Series = list[tuple[dict[str, str], Any]]


def _cohorts(query: Callable[[str, float], tuple[_Series, str | None]], policy: ComparePolicy,
             sampling: float, at: float) -> Cohorts:
    """Split ``policy.expr`` by bucketing, or read the ``canary``/``baseline`` expressions."""
    if policy.canary is None or policy.baseline is None:
        series, error = query(policy.expr, at)
        if error is not None:
            return Cohorts.failed(error)
        return split_series(series, policy.label, sampling)
    pooled = []
    for expr in (policy.canary, policy.baseline):
        series, error = query(expr, at)
        if error is not None:
            return Cohorts.failed(error)
        values = [np.asarray(v, dtype=np.float64) for _, v in series]
        pooled.append(np.concatenate(values) if values else np.zeros(0))
    return Cohorts(pooled[0], pooled[1])


def series_values(result: Any, i: int) -> _Series:
    """``(labels, values)`` of every series of an engine result at step ``i``."""
    if isinstance(result, RangeVector):
        return [(dict(rs.labels), rs.window(i)[1]) for rs in result.series]
    if isinstance(result, InstantVector):
        return [(dict(s.labels), s.values[i:i + 1]) for s in result.series if bool(s.present[i])]
    if isinstance(result, ScalarValue):
        return [({}, result.values[i:i + 1])]
    return []


def vector_steps(result: Any, n: int) -> list[tuple[float | None, str | None]]:
    """Per step of an engine result: the single value, or ``None`` with the reason why not."""
    if isinstance(result, ScalarValue):
        out: list[tuple[float | None, str | None]] = []
        for v in result.values.tolist():
            out.append((float(v), None) if math.isfinite(v) else (None, f"value is {v}"))
        return out
    if not isinstance(result, InstantVector):
        return [(None, f"result is a {type(result).__name__}, expected vector or scalar")] * n
    out = []
    for i in range(n):
        present = [s for s in result.series if bool(s.present[i])]
        if not present:
            out.append((None, "no series"))
        elif len(present) > 1:
            out.append((None, f"{len(present)} series, expected 1 (aggregate the expression, "
                              "e.g. avg(...))"))
        else:
            v = float(present[0].values[i])
            out.append((v, None) if math.isfinite(v) else (None, f"value is {v}"))
    return out

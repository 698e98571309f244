"""The SELF metrics exporter: four gauges per token, an env gate and a cardinality bound.

    >>> exporter = SelfMetricsExporter()                       # its own registry
    >>> exporter.update("token-a", 0.91, 0.95, 0.90, 0.12)
    >>> exporter.registry.get_sample_value("self_coherence", {"token_id": "token-a"})
    0.91

Design points, each for a reason:

* **Injected registry.** ``SelfMetricsExporter(registry=None)`` creates a fresh
  ``CollectorRegistry`` owned by the exporter, so tests and several exporters
  never collide on metric names. Only :func:`default_exporter` (used by the
  module-level :func:`update_self_metrics`) registers on prometheus_client's
  global ``REGISTRY``, so a service's existing ``/metrics`` endpoint or
  ``start_http_server()`` shows the SELF gauges without extra wiring.
* **Gate.** ``AURIS_METRICS_EXP=off|0|false|no`` (any case) turns the exporter
  into a no-op: nothing is registered, nothing is validated, nothing raises.
  An instance reads the variable once, at construction; the module-level
  :func:`update_self_metrics` checks it on every call, so flipping it in a
  running process takes effect immediately.
* **All-or-nothing.** Every argument is validated before any gauge is touched;
  a bad value raises ``ValueError`` (:class:`InputError`) naming the field and
  the value, and the four gauges keep their previous values.
* **Bounded cardinality.** Past ``max_tokens`` distinct tokens the least
  recently updated token's series are removed and
  ``self_exporter_evicted_tokens_total`` is incremented, so a token-id bug
  cannot grow Prometheus' memory without bound.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, make_asgi_app

from pytest_selfslo._core.errors import InputError
from pytest_selfslo.heartbeat.model import SCORES, check_score, check_token_id

__all__ = [
    "DISABLED_VALUES",
    "ENV_GATE",
    "GAUGE_NAMES",
    "SelfMetricsExporter",
    "default_exporter",
    "metrics_enabled",
    "reset_default_exporter",
    "update_self_metrics",
]

#: Environment variable that gates the exporter.
ENV_GATE = "AURIS_METRICS_EXP"
#: Values of :data:`ENV_GATE` (case-insensitive, surrounding blanks ignored) that disable it.
DISABLED_VALUES = frozenset({"off", "0", "false", "no"})
#: score -> gauge name.
GAUGE_NAMES: dict[str, str] = {score: f"self_{score}" for score in SCORES}
_HELP = {
    "coherence": "SELF coherence score of the token, 0..1 (higher is better)",
    "continuity": "SELF continuity score of the token, 0..1 (higher is better)",
    "presence": "SELF presence score of the token, 0..1 (higher is better)",
    "stress": "SELF stress score of the token, 0..1 (lower is better)",
}


def metrics_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the exporter gate is open (``AURIS_METRICS_EXP`` unset or not a disable value)."""
    env = os.environ if environ is None else environ
    return env.get(ENV_GATE, "on").strip().lower() not in DISABLED_VALUES


def _check_value(field: str, value: Any) -> float:
    if type(value) is float and 0.0 <= value <= 1.0:  # fast path; NaN fails the comparison
        return value
    return check_score(field, value)


class SelfMetricsExporter:
    """Exports ``self_coherence|continuity|presence|stress{token_id}`` gauges.

    >>> from prometheus_client import CollectorRegistry
    >>> exporter = SelfMetricsExporter(registry=CollectorRegistry(), max_tokens=1000)
    >>> exporter.update("token-a", coherence=0.9, continuity=0.95, presence=0.9, stress=0.1)
    >>> app = exporter.asgi_app()      # mount at /metrics/exp

    ``enabled=None`` reads ``AURIS_METRICS_EXP`` now; pass ``True``/``False`` to
    decide in code. A disabled exporter registers nothing and ignores every call.
    """

    def __init__(self, registry: CollectorRegistry | None = None, enabled: bool | None = None,
                 max_tokens: int = 10000) -> None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InputError(f"max_tokens: expected an integer >= 1, got {max_tokens!r}")
        self.registry = CollectorRegistry() if registry is None else registry
        self.enabled = metrics_enabled() if enabled is None else bool(enabled)
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        # token -> its four labelled children, least recently updated first
        self._tokens: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._gauges: tuple[Gauge, ...] = ()
        self.evicted: Counter | None = None
        self.export_failures: Counter | None = None
        if self.enabled:
            self._gauges = tuple(Gauge(GAUGE_NAMES[s], _HELP[s], ["token_id"],
                                       registry=self.registry) for s in SCORES)
            self.evicted = Counter(
                "self_exporter_evicted_tokens",
                "Tokens whose SELF series were dropped to respect max_tokens",
                registry=self.registry)
            self.export_failures = Counter(
                "self_export_failures",
                "SELF exports after manager.update() that failed (caught by the export hook)",
                registry=self.registry)

    def update(self, token_id: str, coherence: float, continuity: float, presence: float,
               stress: float) -> None:
        """Set the four gauges of ``token_id``; all arguments are validated first."""
        if not self.enabled:
            return
        values = (_check_value("coherence", coherence), _check_value("continuity", continuity),
                  _check_value("presence", presence), _check_value("stress", stress))
        check_token_id("token_id", token_id)
        with self._lock:
            children = self._tokens.get(token_id)
            if children is None:
                while len(self._tokens) >= self.max_tokens:
                    self._evict_oldest()
                labels = (token_id,)
                children = tuple(g.labels(*labels) for g in self._gauges)
                self._tokens[token_id] = children
            else:
                self._tokens.move_to_end(token_id)
            c, n, p, s = children
            c.set(values[0])
            n.set(values[1])
            p.set(values[2])
            s.set(values[3])

    def _evict_oldest(self) -> None:
        token, _ = self._tokens.popitem(last=False)
        for gauge in self._gauges:
            gauge.remove(token)
        if self.evicted is not None:
            self.evicted.inc()

    def remove(self, token_id: str) -> bool:
        """Drop ``token_id``'s series (e.g. when the token ends); False if it had none."""
        if not self.enabled:
            return False
        with self._lock:
            if self._tokens.pop(token_id, None) is None:
                return False
            for gauge in self._gauges:
                gauge.remove(token_id)
            return True

    def record_failure(self) -> None:
        """Count one failed export (called by the export hook)."""
        if self.export_failures is not None:
            self.export_failures.inc()

    @property
    def tokens(self) -> list[str]:
        """Tracked tokens, least recently updated first."""
        with self._lock:
            return list(self._tokens)

    def asgi_app(self) -> Callable[..., Any]:
        """ASGI app serving this exporter's registry in Prometheus text format.

        The operator API mounts it at ``/metrics/exp``. A disabled exporter
        serves an empty (but valid) exposition.
        """
        return make_asgi_app(registry=self.registry)


_default: SelfMetricsExporter | None = None
_default_lock = threading.Lock()


def default_exporter() -> SelfMetricsExporter:
    """The process-wide exporter behind :func:`update_self_metrics`, on the global ``REGISTRY``.

    Created on first use. If the gate is closed at that moment the exporter is
    created disabled and nothing is registered.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = SelfMetricsExporter(registry=REGISTRY)
    return _default


def reset_default_exporter() -> None:
    """Unregister and forget the default exporter (tests; a config reload)."""
    global _default
    with _default_lock:
        if _default is not None and _default.enabled:
            for collector in (*_default._gauges, _default.evicted, _default.export_failures):
                if collector is not None:
                    _default.registry.unregister(collector)
        _default = None


def update_self_metrics(token_id: str, coherence: float, continuity: float, presence: float,
                        stress: float) -> None:
    """Export one token's SELF scores on the default exporter (the design's call).

    A no-op while ``AURIS_METRICS_EXP`` is off, checked on every call; the
    default exporter is only created (and registered) once a call is enabled.
    """
    if os.environ.get(ENV_GATE, "on").strip().lower() in DISABLED_VALUES:
        return
    exporter = _default if _default is not None and _default.enabled else None
    if exporter is None:
        exporter = default_exporter()
        if not exporter.enabled:  # created while the gate was closed: recreate it open
            reset_default_exporter()
            exporter = default_exporter()
    exporter.update(token_id, coherence, continuity, presence, stress)

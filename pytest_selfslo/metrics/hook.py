"""Fail-safe export after ``manager.update()``: metrics must never break the service.

    >>> handle = install_export_hook(manager, exporter)          # doctest: +SKIP
    >>> manager.update(observation)     # doctest: +SKIP
    >>> handle.failures, handle.exports                          # doctest: +SKIP
    (0, 1)
    >>> handle.remove()                                          # doctest: +SKIP

The hook wraps the *instance's* ``update`` (the class is untouched). After an
``update()`` that returned normally (for an ``async def update`` after it was
awaited) it reads the manager's current SELF scores and exports them. Whatever
goes wrong there -- the score getter, validation, the exporter itself -- is
caught, counted in ``self_export_failures_total`` (on the exporter's registry)
and in ``handle.failures``, and logged at most once per ``log_interval``
seconds with the number of suppressed repeats. ``update()``'s own return value
and exceptions pass through untouched; when it raises, nothing is exported.

Where the scores come from (``scores=None``), first match wins:

1. ``manager.self_scores()`` -- a method;
2. ``manager.scores`` -- a mapping, or a method returning one;
3. attributes ``manager.token_id``, ``.coherence``, ``.continuity``, ``.presence``, ``.stress``.

A score source (or the ``scores`` callable you pass, called with the manager)
may produce one record -- a mapping or object with ``token_id`` and the four
scores, e.g. a :class:`~pytest_selfslo.heartbeat.Heartbeat` -- a mapping
``{token_id: {score: value}}``, an iterable of records, or ``None`` (nothing to
export this time).
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from pytest_selfslo.heartbeat.model import SCORES
from pytest_selfslo.metrics.exporter import default_exporter, update_self_metrics

__all__ = ["ExportHook", "default_scores", "install_export_hook", "remove_export_hook"]

log = logging.getLogger("pytest_selfslo.hook")
_MARK = "__selfslo_export_hook__"

Record = tuple[str, float, float, float, float]
ScoresFn = Callable[[Any], Any]


class Exporter(Protocol):
    """What the hook needs from an exporter (``SelfMetricsExporter`` fits)."""

    def update(self, token_id: str, coherence: float, continuity: float, presence: float,
               stress: float) -> None: ...


def _field(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        if name not in record:
            raise KeyError(f"score record has no {name!r}: {record!r}")
        return record[name]
    if not hasattr(record, name):
        raise AttributeError(f"score record {type(record).__name__} has no {name!r}")
    return getattr(record, name)


def _records(value: Any) -> list[Record]:
    """Normalise whatever a score source returned into export tuples."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        if "token_id" in value:
            value = [value]
        else:  # {token_id: {score: value}}
            value = [{"token_id": tok, **dict(scores)} for tok, scores in value.items()]
    elif hasattr(value, "token_id"):
        value = [value]
    elif not isinstance(value, Iterable) or isinstance(value, (str, bytes)):
        raise TypeError(f"score source returned {type(value).__name__}, expected a record, "
                        "a {token_id: scores} mapping, an iterable of records or None")
    return [(_field(r, "token_id"), *(_field(r, s) for s in SCORES)) for r in value]


def default_scores(manager: Any) -> Any:
    """Read the manager's current SELF scores (the lookup order is in the module docstring)."""
    method = getattr(manager, "self_scores", None)
    if callable(method):
        return method()
    scores = getattr(manager, "scores", None)
    if scores is not None:
        return scores() if callable(scores) else scores
    if all(hasattr(manager, name) for name in ("token_id", *SCORES)):
        return manager
    raise AttributeError(f"{type(manager).__name__} exposes no SELF scores: expected "
                         "self_scores(), a 'scores' attribute, or token_id/coherence/"
                         "continuity/presence/stress attributes (or pass scores=...)")


class _DefaultTarget:
    """The module-level exporter: gate checked per call, global ``REGISTRY``."""

    @staticmethod
    def update(token_id: str, coherence: float, continuity: float, presence: float,
               stress: float) -> None:

        update_self_metrics(token_id, coherence, continuity, presence, stress)

    @staticmethod
    def record_failure() -> None:

        default_exporter().record_failure()


_DEFAULT_TARGET = _DefaultTarget()


class ExportHook:
    """Handle of an installed hook: counters, and :meth:`remove`."""

    def __init__(self, manager: Any, exporter: Exporter | None, scores: ScoresFn,
                 original: Callable[..., Any], log_interval: float,
                 had_instance_update: bool = False) -> None:
        self.manager = manager
        self.exporter = exporter
        self.scores = scores
        self.original = original
        self.log_interval = log_interval
        self.had_instance_update = had_instance_update
        self.active = True
        self.exports = 0
        self.failures = 0
        self._last_log = -float("inf")
        self._suppressed = 0

    def _target(self) -> Exporter:
        return _DEFAULT_TARGET if self.exporter is None else self.exporter

    def export(self) -> None:
        """Export the manager's current scores now; never raises ``Exception``."""
        try:
            target = self._target()
            for record in _records(self.scores(self.manager)):
                target.update(*record)
            self.exports += 1
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        try:
            record_failure = getattr(self._target(), "record_failure", None)
            if callable(record_failure):
                record_failure()
        except Exception:  # counting must not fail the caller either
            pass
        now = time.monotonic()
        if now - self._last_log >= self.log_interval:
            suppressed = f" ({self._suppressed} similar failures suppressed)" if self._suppressed else ""
            log.warning("SELF metrics export after %s.update() failed: %s: %s%s",
                        type(self.manager).__name__, type(exc).__name__, exc, suppressed)
            self._last_log = now
            self._suppressed = 0
        else:
            self._suppressed += 1

    def remove(self) -> None:
        """Uninstall; a later wrapper stacked on top keeps working (we become a pass-through)."""
        self.active = False
        current = getattr(self.manager, "__dict__", {}).get("update")
        if getattr(current, _MARK, None) is self:
            if self.had_instance_update:  # someone had set update on the instance: restore it
                self.manager.update = self.original
            else:                         # fall back to the class's method
                del self.manager.update


def install_export_hook(manager: Any, exporter: Exporter | None = None,
                        scores: ScoresFn | None = None, *,
                        log_interval: float = 60.0) -> ExportHook:
    """Export the manager's SELF scores after every successful ``manager.update()``.

    ``exporter=None`` uses the module-level :func:`~pytest_selfslo.metrics.exporter.update_self_metrics`
    (default exporter, global registry, gate checked per call). Installing on a
    manager that already has an active hook returns that hook unchanged, so the
    scores are never exported twice per update.
    """
    existing = getattr(getattr(manager, "__dict__", {}).get("update"), _MARK, None)
    if isinstance(existing, ExportHook) and existing.active:
        return existing
    original = getattr(manager, "update", None)
    if not callable(original):
        raise TypeError(f"cannot install the export hook: {type(manager).__name__} has no "
                        "update() method")
    handle = ExportHook(manager, exporter, scores or default_scores, original, log_interval,
                        had_instance_update="update" in getattr(manager, "__dict__", {}))

    if inspect.iscoroutinefunction(original):
        @functools.wraps(original)
        async def async_update(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            if handle.active:
                handle.export()
            return result

        wrapper: Callable[..., Any] = async_update
    else:
        @functools.wraps(original)
        def update(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if handle.active:
                handle.export()
            return result

        wrapper = update
    setattr(wrapper, _MARK, handle)
    try:
        manager.update = wrapper
    except AttributeError:
        raise TypeError(f"cannot install the export hook on {type(manager).__name__}: its "
                        "instances do not accept attributes (__slots__ without __dict__?)"
                        ) from None
    return handle


def remove_export_hook(manager: Any) -> bool:
    """Remove the active export hook from ``manager``; False if none was installed."""
    handle = getattr(getattr(manager, "__dict__", {}).get("update"), _MARK, None)
    if not isinstance(handle, ExportHook) or not handle.active:
        return False
    handle.remove()
    return True

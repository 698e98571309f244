"""Fail-safe export hook: exports after update(), never leaks exporter errors."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from pytest_selfslo.heartbeat import Heartbeat
from pytest_selfslo.metrics.exporter import SelfMetricsExporter
from pytest_selfslo.metrics.hook import ExportHook, install_export_hook, remove_export_hook


class Manager:
    """A SELF manager like the service's: update() changes the current scores."""

    def __init__(self) -> None:
        self.token_id = "tok"
        self.coherence, self.continuity, self.presence, self.stress = 0.9, 0.95, 0.9, 0.1
        self.calls = 0

    def update(self, coherence: float, *, fail: bool = False) -> str:
        self.calls += 1
        if fail:
            raise RuntimeError("update failed")
        self.coherence = coherence
        return f"updated {self.calls}"


class Broken:
    """An exporter that fails the way real ones do."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.failures = 0

    def update(self, *args: Any) -> None:
        raise self.exc

    def record_failure(self) -> None:
        self.failures += 1


def value(exporter: SelfMetricsExporter, score: str, token: str = "tok") -> float | None:
    return exporter.registry.get_sample_value(f"self_{score}", {"token_id": token})


def test_exports_after_each_successful_update() -> None:
    manager, exporter = Manager(), SelfMetricsExporter(enabled=True)
    handle = install_export_hook(manager, exporter)
    assert manager.update(0.7) == "updated 1"
    assert value(exporter, "coherence") == 0.7
    manager.update(0.6)
    assert value(exporter, "coherence") == 0.6 and handle.exports == 2


def test_update_exceptions_pass_through_and_nothing_is_exported() -> None:
    manager, exporter = Manager(), SelfMetricsExporter(enabled=True)
    handle = install_export_hook(manager, exporter)
    with pytest.raises(RuntimeError, match="update failed"):
        manager.update(0.1, fail=True)
    assert value(exporter, "coherence") is None and handle.exports == 0


def test_exporter_errors_are_caught_counted_and_logged_rate_limited(
        caplog: pytest.LogCaptureFixture) -> None:
    manager, exporter = Manager(), SelfMetricsExporter(enabled=True)
    handle = install_export_hook(manager, exporter, log_interval=3600)
    manager.stress = float("nan")  # the exporter refuses it
    with caplog.at_level(logging.WARNING, logger="pytest_selfslo.hook"):
        for _ in range(5):
            assert manager.update(0.5).startswith("updated")
    assert handle.failures == 5
    assert exporter.registry.get_sample_value("self_export_failures_total") == 5.0
    warnings = [r for r in caplog.records if r.name == "pytest_selfslo.hook"]
    assert len(warnings) == 1
    assert "Manager.update() failed: InputError: stress: expected a finite number" in \
        warnings[0].getMessage()
    assert value(exporter, "coherence") is None  # all-or-nothing: nothing half-exported


def test_suppressed_count_is_reported_when_logging_resumes(
        caplog: pytest.LogCaptureFixture) -> None:
    manager = Manager()
    handle = install_export_hook(manager, Broken(OSError("disk")), log_interval=0.0)
    handle.log_interval = 3600
    with caplog.at_level(logging.WARNING, logger="pytest_selfslo.hook"):
        manager.update(0.5)
        manager.update(0.5)
        manager.update(0.5)
        handle.log_interval = 0.0
        manager.update(0.5)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and messages[1].endswith("(2 similar failures suppressed)")


def test_installing_twice_does_not_export_twice() -> None:
    manager = Manager()
    calls: list[tuple[Any, ...]] = []

    class Recorder:
        def update(self, *args: Any) -> None:
            calls.append(args)

    first = install_export_hook(manager, Recorder())
    assert install_export_hook(manager, Recorder()) is first
    manager.update(0.8)
    assert calls == [("tok", 0.8, 0.95, 0.9, 0.1)]


def test_remove_restores_the_plain_method() -> None:
    manager = Manager()
    exporter = SelfMetricsExporter(enabled=True)
    handle = install_export_hook(manager, exporter)
    handle.remove()
    assert "update" not in vars(manager)
    manager.update(0.4)
    assert value(exporter, "coherence") is None
    assert not remove_export_hook(manager)
    install_export_hook(manager, exporter)
    assert remove_export_hook(manager)
    manager.update(0.3)
    assert value(exporter, "coherence") is None


def test_remove_under_a_later_wrapper_becomes_a_pass_through() -> None:
    manager, exporter = Manager(), SelfMetricsExporter(enabled=True)
    handle = install_export_hook(manager, exporter)
    inner = manager.update
    manager.update = lambda *a, **k: "outer:" + inner(*a, **k)  # type: ignore[method-assign]
    handle.remove()
    assert manager.update(0.2) == "outer:updated 1"
    assert value(exporter, "coherence") is None


@pytest.mark.parametrize("source", ["self_scores", "scores_mapping", "scores_method",
                                    "heartbeat", "many"])
def test_score_sources(source: str) -> None:
    exporter = SelfMetricsExporter(enabled=True)
    hb = Heartbeat(ts=0, token_id="hb", coherence=0.1, continuity=0.2, presence=0.3, stress=0.4)

    class M:
        def update(self) -> None:
            pass

    m = M()
    record = {"token_id": "hb", "coherence": 0.1, "continuity": 0.2, "presence": 0.3,
              "stress": 0.4}
    if source == "self_scores":
        m.self_scores = lambda: record  # type: ignore[attr-defined]
    elif source == "scores_mapping":
        m.scores = {"hb": {k: v for k, v in record.items() if k != "token_id"}}  # type: ignore[attr-defined]
    elif source == "scores_method":
        m.scores = lambda: [hb]  # type: ignore[attr-defined]
    elif source == "heartbeat":
        install_export_hook(m, exporter, scores=lambda _m: hb)
    else:
        install_export_hook(m, exporter, scores=lambda _m: [record, {**record, "token_id": "b"}])
    install_export_hook(m, exporter)
    m.update()
    assert [value(exporter, s, "hb") for s in ("coherence", "continuity", "presence",
                                                "stress")] == [0.1, 0.2, 0.3, 0.4]


def test_manager_without_scores_is_a_counted_failure() -> None:
    class Bare:
        def update(self) -> int:
            return 42

    handle = install_export_hook(Bare(), SelfMetricsExporter(enabled=True))
    assert handle.manager.update() == 42
    assert handle.failures == 1


def test_refuses_a_manager_without_update_or_without_dict() -> None:
    with pytest.raises(TypeError, match="object has no update\\(\\) method"):
        install_export_hook(object())

    class Slotted:
        __slots__ = ()

        def update(self) -> None:
            pass

    with pytest.raises(TypeError, match="cannot install the export hook on Slotted"):
        install_export_hook(Slotted())


def test_async_update_is_awaited_before_exporting() -> None:
    class AsyncManager(Manager):
        async def update(self, coherence: float, *, fail: bool = False) -> str:  # type: ignore[override]
            return Manager.update(self, coherence, fail=fail)

    manager, exporter = AsyncManager(), SelfMetricsExporter(enabled=True)
    install_export_hook(manager, exporter)
    assert asyncio.run(manager.update(0.33)) == "updated 1"
    assert value(exporter, "coherence") == 0.33


def test_default_exporter_path_honours_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import REGISTRY

    from pytest_selfslo.metrics.exporter import reset_default_exporter

    monkeypatch.setenv("AURIS_METRICS_EXP", "off")
    reset_default_exporter()
    manager = Manager()
    manager.token_id = "hook-default"
    handle: ExportHook = install_export_hook(manager)
    manager.update(0.5)
    assert REGISTRY.get_sample_value("self_coherence", {"token_id": "hook-default"}) is None
    monkeypatch.setenv("AURIS_METRICS_EXP", "on")
    manager.update(0.5)
    assert REGISTRY.get_sample_value("self_coherence", {"token_id": "hook-default"}) == 0.5
    assert handle.failures == 0
    reset_default_exporter()


errors = st.sampled_from([ValueError("v"), TypeError("t"), RuntimeError("r"), OSError("o"),
                          KeyError("k"), ZeroDivisionError(), MemoryError(), Exception("e")])


@settings(max_examples=80, deadline=None)
@given(exc=errors, results=st.lists(st.one_of(st.none(), st.integers(), st.text()), max_size=5),
       update_fails=st.booleans())
def test_exporter_errors_never_escape(exc: Exception, results: list[object],
                                      update_fails: bool) -> None:
    class M:
        token_id, coherence, continuity, presence, stress = "t", 0.5, 0.5, 0.5, 0.5

        def __init__(self) -> None:
            self.results = list(results)

        def update(self) -> object:
            if update_fails:
                raise LookupError("own error")
            return self.results.pop(0) if self.results else None

    manager, broken = M(), Broken(exc)
    expected = list(results)
    handle = install_export_hook(manager, broken)
    for _ in range(len(results) + 1):
        if update_fails:
            with pytest.raises(LookupError, match="own error"):
                manager.update()
        else:
            assert manager.update() == (expected.pop(0) if expected else None)
    assert handle.failures == broken.failures == (0 if update_fails else len(results) + 1)

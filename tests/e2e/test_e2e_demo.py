"""``selfslo demo`` runs the loop, shows the status view, and leaves nothing behind."""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import tempfile
import threading
from pathlib import Path

import pytest

from pytest_selfslo._core.errors import ConfigError, PrometheusUnavailable
from pytest_selfslo.canary.policy import DEFAULT_POLICY, ComparePolicy
from pytest_selfslo.cli import demo
from pytest_selfslo.prometheus import availability


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    demo.configure(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temp dirs of the demo and its Prometheus go here, so a check sees only ours."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    return private


def leftovers() -> set[str]:
    """Whatever is left in the private temp dir."""
    return {p.name for p in Path(tempfile.gettempdir()).iterdir()}


def child_pids() -> set[int]:
    """Live child processes of this process (all threads), from /proc."""
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        children = task / "children"
        if children.exists():
            pids |= {int(p) for p in children.read_text().split()}
    return pids


def run_demo(*argv: str) -> str:
    before_dirs, before_children = leftovers(), child_pids()
    assert before_dirs == set()
    before_threads = {t.name for t in threading.enumerate()}
    out = io.StringIO()
    assert demo.run(parse(*argv), out=out) == 0
    assert leftovers() - before_dirs == set()
    assert child_pids() - before_children == set()
    demo_threads = {t.name for t in threading.enumerate()} - before_threads
    assert not {n for n in demo_threads if n.startswith(("selfslo-demo", "uvicorn"))}
    return out.getvalue()


def test_demo_with_the_embedded_engine() -> None:
    # three frames, each after the first showing a tuner decision on heartbeats played since
    # the frame before: counted in demo events, not in seconds of a loaded machine
    text = run_demo("--frames", "3", "--prometheus", "embedded", "--refresh", "0.2")
    frames = text.strip().split("\n\n")
    assert len(frames) == 3
    last = frames[-1]
    assert "backend: embedded engine" in last
    for heading in ("scenario", "canary", "gates", "compare", "decision", "firing", "health",
                    "audit"):
        assert f"\n{heading}" in last, last
    assert "sampling 5%" in last
    compare = next(line for line in last.splitlines() if line.startswith("compare"))
    assert compare.startswith("compare    coherence U=") and " n=" in compare, compare


def test_demo_keeps_its_data_dir_when_given(tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    run_demo("--frames", "2", "--prometheus", "embedded", "--refresh", "0.2",
             "--data-dir", str(kept))
    assert (kept / "identity.jsonl").stat().st_size > 0
    assert (kept / "state").is_dir()


@pytest.mark.selfslo_prometheus
@pytest.mark.parametrize("backend", ["local", "docker"])
def test_demo_with_a_real_prometheus_cleans_up(backend: str) -> None:
    reason = availability(backend)
    if reason is not None:
        pytest.skip(f"selfslo demo --prometheus {backend}: {reason}")
    text = run_demo("--duration", "10", "--prometheus", backend, "--refresh", "2")
    assert "backend: prometheus http://127.0.0.1:" in text
    assert "stability_score_ema=0.9" in text  # gate values really came from Prometheus


def test_scaled_policy_shrinks_windows_and_dwell() -> None:
    compared = demo.scaled_policy(
        dataclasses.replace(DEFAULT_POLICY, compare=ComparePolicy(window="10m")), 60)
    assert compared.compare is not None and compared.compare.expr == "self_coherence[10s]"
    fast = demo.scaled_policy(DEFAULT_POLICY, 60)
    assert fast.min_dwell == tuple(d / 60 for d in DEFAULT_POLICY.min_dwell)
    assert {g.window for g in fast.gates} == {"10s"}
    assert all("[10s]" in g.expr for g in fast.gates)
    assert fast.steps == DEFAULT_POLICY.steps


def test_bad_demo_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="must be positive"):
        demo.run(parse("--tick", "0"), out=io.StringIO())
    with pytest.raises(ConfigError, match="--frames must be positive"):
        demo.run(parse("--frames", "0"), out=io.StringIO())


def test_demo_on_an_unavailable_backend_says_why_and_leaves_nothing() -> None:
    reason = availability("docker")
    if reason is None:
        pytest.skip("a Docker daemon answers: the docker backend is available here")
    before_dirs, before_children = leftovers(), child_pids()
    with pytest.raises(PrometheusUnavailable, match="no Docker daemon answers"):
        demo.run(parse("--duration", "1", "--prometheus", "docker"), out=io.StringIO())
    assert leftovers() == before_dirs and child_pids() == before_children
    assert not [t.name for t in threading.enumerate()
                if t.name.startswith(("selfslo-demo", "uvicorn"))]

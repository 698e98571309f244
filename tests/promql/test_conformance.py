"""Prometheus' promqltest scripts through our runner: one test per file, >= 99 % of non-skipped evals pass."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_selfslo.ruletest.promqltest import PromQLTestFileResult, run_promqltest_file

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "promqltest"
FILES = sorted(CONFORMANCE.glob("*.test")) if CONFORMANCE.is_dir() else []
THRESHOLD = 0.99
#: the scripts come from Prometheus at commit d15adb9ad7e5 (3.14): native-histogram
#: behaviour that changed after 3.5 (gauge results, Kahan sums, NHCB reconciliation) is
#: checked with that release's semantics
SEMANTICS = "3.14"
SUMMARY_PROPERTY = "promqltest_summary"  # printed by this folder's conftest.py


@functools.cache
def _run(path: Path) -> PromQLTestFileResult:
    """Each file runs once per process, shared by the per-file and the overall test."""
    return run_promqltest_file(path, SEMANTICS)


@pytest.mark.skipif(not FILES, reason=f"conformance data not found at {CONFORMANCE}")
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_promqltest_file(path: Path, record_property: Callable[[str, object], None]) -> None:
    result = _run(path)
    record_property(SUMMARY_PROPERTY, result.summary() + "".join(
        f"\n    FAIL {path.name}:{o.line}: {o.query}: {o.message[:200]}"
        for o in result.outcomes if o.status == "fail"))
    assert result.passed + result.failed > 0 or result.skipped > 0
    assert result.pass_ratio >= THRESHOLD, "\n".join(
        [result.summary()] + [f"line {o.line}: {o.query}: {o.message}"
                              for o in result.outcomes if o.status == "fail"])


@pytest.mark.skipif(not FILES, reason=f"conformance data not found at {CONFORMANCE}")
def test_promqltest_overall(record_property: Callable[[str, object], None]) -> None:
    results = [_run(p) for p in FILES]
    passed = sum(r.passed for r in results)
    failed = sum(r.failed for r in results)
    skipped = sum(r.skipped for r in results)
    record_property(SUMMARY_PROPERTY,
                    f"overall: {passed} passed, {failed} failed, {skipped} skipped "
                    f"({passed / max(passed + failed, 1):.1%} of non-skipped) in "
                    f"{len(results)} files")
    skips = [o for r in results for o in r.outcomes if o.status == "skip"]
    assert all(o.message for o in skips), "every skip must carry its reason"
    # native histograms are supported: no eval is skipped for them any more
    assert not [o for o in skips if "native histograms are not supported" in o.message]
    assert passed / max(passed + failed, 1) >= THRESHOLD

"""Generated tests for threshold SLIs and native-histogram (Pyrra ``latencyNative``) SLIs.

Both kinds: ``selfslo slo tests`` writes them, they pass under our engine and
every real promtool that can read them (2.x cannot read the native-histogram
series: skipped with that reason), and they fail against rules whose
thresholds or windows are wrong. Groups that replay days of traffic run under
the newest promtool only (``LONG_GROUPS``); for native histograms (slow to
replay in our engine too) also under our engine, and for custom buckets under
promtool, only with ``SELFSLO_PROMTOOL_FULL=1`` (the short-window native spec
of test_slo_mutation.py runs its 7d budget group in our engine in CI).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from promtool_runs import FULL_ENV, LONG_GROUPS, Promtool, params, promtool_file, run

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.cli import main
from pytest_selfslo.ruletest.runner import run_rule_tests
from pytest_selfslo.slo.importers import import_spec, import_text
from pytest_selfslo.slo.testgen import NATIVE_MAX_SAMPLES, generate_tests, native_layout
from pytest_selfslo.slo.thresholdtests import (
    BAD,
    GOOD,
    STALE,
    equivalent_move,
    nearest,
    window_ratio,
)

DATA = Path(__file__).parent / "data"
THRESHOLD = DATA / "selfslo_threshold.yml"
NATIVE = DATA / "pyrra_http_native_slo.yml"
CUSTOM = DATA / "native_custom_buckets.yml"


def _write(tmp_path: Path, spec: Path, *, short_only: bool = False) -> Path:
    (tmp_path / "tests").mkdir(exist_ok=True)
    assert main(["slo", "generate", str(spec), "-o", str(tmp_path / "slo.yml")]) == 0
    out = tmp_path / "tests" / "slo_test.yml"
    assert main(["slo", "tests", str(spec), "-o", str(out)]) == 0
    if short_only and os.environ.get(FULL_ENV) != "1":
        doc = yaml.safe_load(out.read_text())
        doc["tests"] = [g for g in doc["tests"] if not any(m in g["name"] for m in LONG_GROUPS)]
        out.write_text(yaml.safe_dump(doc, sort_keys=False, width=100_000))
    return out


def _groups(spec: Path) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load(generate_tests(import_spec(spec), "../slo.yml"))[
        "tests"]
    return tests


# ------------------------------------------------------------------ threshold SLIs
def test_threshold_groups_cover_every_pair() -> None:
    names = [g["name"] for g in _groups(THRESHOLD)]
    assert sum("budget exhaustion" in n for n in names) == 1
    assert sum("error ratio over" in n for n in names) == 7  # one per window
    for pair in ("page 1h/5m", "page 6h/30m", "ticket 1d/2h", "ticket 3d/6h"):
        assert sum(pair in n and "this pair fires" in n for n in names) == 1, pair
    # 1h at 5m evaluations: any bad point is 1/12 > 0.0336, so no history puts the 1h window
    # at or below the page threshold: no such group (the mutants that would need one are
    # equivalent, test_slo_mutation.py proves it)
    assert not any("page 1h/5m" in n and "long window just below" in n for n in names)
    for pair in ("page 6h/30m", "ticket 1d/2h", "ticket 3d/6h"):
        assert sum(pair in n and "long window just below" in n for n in names) == 1, pair


def test_threshold_tests_pass_under_our_engine_and_catch_wrong_rules(tmp_path: Path) -> None:
    out = _write(tmp_path, THRESHOLD)
    report = run_rule_tests([str(out)])
    assert report.passed, report.format_text()
    rules = tmp_path / "slo.yml"
    original = rules.read_text()
    for old, new in (("self_stress{job=\"self\"} > 0.3", "self_stress{job=\"self\"} > 0.31"),
                     ("> 0.014)", "> 0.0138)"),  # the 6h/30m page threshold, just below 1/72
                     ("[30m:]", "[1h:]")):
        assert old in original, old
        rules.write_text(original.replace(old, new, 1))
        assert not run_rule_tests([str(out)]).passed, (old, new)
    rules.write_text(original)


@pytest.mark.parametrize("comparison", ["<", "<=", ">", ">="])
def test_threshold_comparisons_and_bounds(tmp_path: Path, comparison: str) -> None:
    """Every comparison, a bound of 0 included: the good and bad gauge values sit at the
    bound and a hair past it, and the tests pass."""
    text = THRESHOLD.read_text().replace('comparison: "<="', f'comparison: "{comparison}"')
    text = text.replace("threshold: 0.3", "threshold: 0" if comparison == "<=" else
                        "threshold: 0.3")
    text = text.replace("window: 7d", "window: 7d\n    burn_rates:\n"
                        "      - {severity: page, long: 1h, short: 5m, factor: 14.4}\n"
                        "      - {severity: ticket, long: 6h, short: 30m, factor: 3}")
    spec = tmp_path / "spec.yml"
    spec.write_text(text)
    out = _write(tmp_path, spec)
    report = run_rule_tests([str(out)])
    assert report.passed, report.format_text()


@pytest.mark.parametrize("promtool", params())
def test_threshold_tests_pass_under_real_promtool(tmp_path: Path, promtool: Promtool) -> None:
    out = _write(tmp_path, THRESHOLD)
    name, left_out = promtool_file(promtool, out)
    output = run(promtool, [name], out.parent)
    assert "SUCCESS" in output and "FAILED" not in output, (
        f"{output[:4000]}\n({left_out} long group(s) left to the newest promtool)")


def test_nearest_achievable_ratios() -> None:
    # 1h at 5m: twelve points; the smallest ratio above 0.0336 is 1/12, none is below it
    assert nearest(12, 0.0336, True) == (1 / 12, [(1, 12)])
    assert nearest(12, 0.0336, False) is None
    # 1d: 288 points, threshold 0.007: 2/285 above (nearer than 1/142), 2/286 at or below
    up, down = nearest(288, 0.007, True), nearest(288, 0.007, False)
    assert up is not None and down is not None
    assert 0.007 < up[0] == 2 / 285 and (2, 285) in up[1]
    assert down[0] == 2 / 286 <= 0.007
    assert all(not 0.007 < j / m < up[0] for m in range(1, 289) for j in range(1, m + 1))
    assert all(not down[0] < j / m <= 0.007 for m in range(1, 289) for j in range(1, m + 1))
    # a single-point window (5m) is 1 or absent: no threshold in [0, 1) tells them apart
    assert equivalent_move(1, 0.0336, 0.03696) and equivalent_move(1, 0.0336, 0.0)
    assert not equivalent_move(12, 0.0336, 0.1)


def test_window_ratio_counts_points_as_both_range_rules_do() -> None:
    points = np.array([GOOD, STALE, BAD, BAD, GOOD], dtype=np.int8)
    left_open, closed = window_ratio(points, 2, False), window_ratio(points, 2, True)
    assert left_open[-1] == 1 / 2 and closed[-1] == 2 / 3  # (t-2E, t] vs [t-2E, t]
    # a stale point is no point: neither bad nor counted
    assert left_open[2] == 1 / 1 and closed[2] == 1 / 2
    assert np.isnan(window_ratio(np.array([GOOD, GOOD], dtype=np.int8), 2, False)[-1])


# ------------------------------------------------------------------ native histograms
def test_native_layouts_put_the_target_on_a_boundary() -> None:
    one, quarter, odd = native_layout(1.0), native_layout(0.25), native_layout(0.3)
    assert (one.offset, quarter.offset, odd.offset) == (0, -2, None)
    assert "offset:-2" in quarter.token(3.0, 2.0, 1.0)
    assert "custom_values:[0 0.3]" in odd.token(3.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        native_layout(0.0)


def _histogram_samples(values: str) -> int:
    """Samples of a series in promtool notation (``{{a}}+{{b}}xN`` is N + 1 of them)."""
    return sum(int(m.group(1)) + 1 if m.group(1) else 1 for m in _HISTOGRAMS.finditer(values))


_HISTOGRAMS = re.compile(r"\{\{[^}]*\}\}(?:[+-]\{\{[^}]*\}\})?(?:x(\d+))?")


def test_native_groups_cover_every_pair(tmp_path: Path) -> None:
    doc = yaml.safe_load(generate_tests(import_spec(NATIVE), "../slo.yml"))
    assert doc["evaluation_interval"] == "10m"  # 4d windows: 10m samples fit promtool's limit
    names = [g["name"] for g in doc["tests"]]
    for pair in ("page 1h/5m", "page 6h/30m", "ticket 1d/2h", "ticket 4d/6h"):
        assert sum(pair in n and "just above" in n for n in names) == 1, pair
        assert sum(pair in n and "just below" in n for n in names) >= 2, pair
    assert sum("budget exhaustion" in n for n in names) == 1
    series = {s["series"] for g in doc["tests"] for s in g["input_series"]}
    assert series == {'http_request_duration_seconds{code="200", '
                      'job="metrics-service-thanos-receive-default"}'}
    # at most NATIVE_MAX_SAMPLES histogram samples in any range the rules read, in any group
    # (promtool's query limit); the 4w budget group needs wider steps than its 20m to fit
    assert main(["slo", "generate", str(NATIVE), "-o", str(tmp_path / "slo.yml")]) == 0
    ranges = {parse_duration(r) for r in re.findall(r"\[(\w+)\]", (tmp_path / "slo.yml").read_text())}
    assert max(ranges) == parse_duration("4w")
    for g in doc["tests"]:
        (series,) = g["input_series"]
        step = parse_duration(g["interval"])
        samples = _histogram_samples(series["values"])
        assert samples > 1 and "offset:0" in series["values"]
        assert min(samples, max(ranges) // step + 1) <= NATIVE_MAX_SAMPLES, g["name"]
    # ... and still fills the window, in steps of whole evaluation intervals
    budget = next(g for g in doc["tests"] if "budget exhaustion" in g["name"])
    step = parse_duration(budget["interval"])
    assert step % parse_duration(doc["evaluation_interval"]) == 0
    assert _histogram_samples(budget["input_series"][0]["values"]) > parse_duration("4w") // step


@pytest.mark.parametrize("spec", [NATIVE, CUSTOM], ids=["schema0", "custom-buckets"])
def test_native_tests_pass_under_our_engine(tmp_path: Path, spec: Path) -> None:
    out = _write(tmp_path, spec, short_only=True)
    report = run_rule_tests([str(out)])
    assert report.passed, report.format_text()


def test_native_tests_catch_a_wrong_latency_target(tmp_path: Path) -> None:
    out = _write(tmp_path, NATIVE, short_only=True)
    rules = tmp_path / "slo.yml"
    text = rules.read_text()
    assert "histogram_fraction(0, 1," in text
    rules.write_text(text.replace("histogram_fraction(0, 1,", "histogram_fraction(0, 2,"))
    assert not run_rule_tests([str(out)]).passed


@pytest.mark.parametrize("promtool", params())
@pytest.mark.parametrize("spec", [NATIVE, CUSTOM], ids=["schema0", "custom-buckets"])
def test_native_tests_pass_under_real_promtool(tmp_path: Path, promtool: Promtool,
                                               spec: Path) -> None:
    if promtool.version < (3, 0, 0):
        pytest.skip(f"promtool {'.'.join(map(str, promtool.version))} cannot read the generated "
                    "native-histogram series: 2.42 has no histogram notation, 2.53 none after a "
                    "{{a}}+{{b}}xN expansion, and custom buckets are new in 3.0")
    # custom buckets differ from schema 0 in the notation only: their long groups (which
    # cost promtool ~17 CPU seconds) run with SELFSLO_PROMTOOL_FULL=1
    out = _write(tmp_path, spec, short_only=spec == CUSTOM)
    name, left_out = promtool_file(promtool, out)
    output = run(promtool, [name], out.parent)
    assert "SUCCESS" in output and "FAILED" not in output, (
        f"{output[:4000]}\n({left_out} long group(s) left to the newest promtool)")
    assert "{{schema:" in out.read_text()


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(("edit", "message"), [
    (("window: 7d", "window: 7d\n    min_events: 100"), "do not model the low-traffic guard"),
    (('self_stress{job="self"}', 'avg(self_stress)'), "must be one series selector"),
    (("window: 7d", "window: 7d\n    burn_rates:\n"
                    "      - {severity: page, long: 1h, short: 7m, factor: 14.4}"),
     "7m is not a whole number"),
])
def test_threshold_specs_tests_cannot_model_are_clear_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str],
        message: str) -> None:
    spec = tmp_path / "spec.yml"
    spec.write_text(THRESHOLD.read_text().replace(*edit))
    import_text(spec.read_text(), str(spec))  # the spec itself is valid
    out = tmp_path / "slo_test.yml"
    assert main(["slo", "tests", str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not out.exists()
    (line,) = err.strip().splitlines()
    assert line.startswith(f"selfslo slo: error: {spec}:6:11: slo 'stress': ")  # its name


def test_native_with_a_non_zero_lower_bound_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.yml"
    spec.write_text(CUSTOM.read_text().replace("histogram_fraction(0, 0.3", "histogram_fraction(0.1, 0.3"))
    out = tmp_path / "slo_test.yml"
    assert main(["slo", "tests", str(spec), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:7:11: slo 'latency': " in err
    assert "must run from 0 to a positive latency target" in err
    assert "Traceback" not in err and not out.exists()

"""The last-bit examples of issue 14, as rule unit tests with the values promtool prints.

Each example is a promtool test file expecting exactly what promtool 2.42,
2.53 and 3.5 print (recorded from the Debian binaries). Our runner must pass
it with that version's semantics and fail it when the expectation is one ulp
off (no tolerance without ``fuzzy_compare``); every available promtool whose
version has an expectation must pass it too, which keeps the recorded values
honest. The series start at different steps: promtool creates the series
loaded in one step in a random order (Go map iteration), and only then is
the summation order -- which decides these last bits -- the same on every run.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest
import yaml
from promtool_runs import Promtool, params

from pytest_selfslo.ruletest.runner import run_rule_tests

VERSIONS = ("2.42", "2.53", "3.5")
#: name -> (input series, rule (record, expr) or None, expression, eval time, value per version)
EXAMPLES: dict[str, tuple[list[tuple[str, str]], tuple[str, str] | None, str, str,
                          dict[str, float]]] = {
    # file (= creation) order 0.01 + 0.95 + 0.11 is 1.07; label order (a, b, c) gave
    # 1.0699999999999998
    "sum_in_creation_order": (
        [('m{job="a",i="b"}', "0.01"), ('m{job="a",i="c"}', "_ 0.95"),
         ('m{job="a",i="a"}', "_ _ 0.11")],
        None, "sum by (job) (m)", "2m", dict.fromkeys(VERSIONS, 1.07)),
    # plain left-to-right sum before 2.54, Kahan-Neumaier since
    "recorded_sum": (
        [('m{job="a",i="1"}', "0.01"), ('m{job="a",i="2"}', "_ 0.67"),
         ('m{job="a",i="3"}', "_ _ 1.12")],
        ("job:m:sum", "sum by (job) (m)"), "job:m:sum", "2m",
        {"2.42": 1.8000000000000003, "2.53": 1.8000000000000003, "3.5": 1.8}),
    # Welford's update over (1.13, 0.93); the other order gives 9.99999999999999E-02
    "stddev_in_creation_order": (
        [('m{job="a",i="2"}', "1.13"), ('m{job="a",i="1"}', "_ 0.93")],
        None, "stddev by (job) (m)", "1m", dict.fromkeys(VERSIONS, 9.999999999999995e-02)),
    # Go's math.Exp (amd64 assembly); the C library gives 6.126263941844161E-01
    "exp": ([('m{job="a"}', "0.01")], None, "exp(m - 0.5)", "0m",
            dict.fromkeys(VERSIONS, 6.12626394184416e-01)),
    # incremental mean before 2.55, sum/n + c/n since 3.5
    "avg_over_time": ([('m{job="a"}', "1.1 0.3 0.2")], None, "avg_over_time(m[5m])", "2m",
                      {"2.42": 0.5333333333333334, "2.53": 0.5333333333333334,
                       "3.5": 0.5333333333333333}),
    # mean += v/n - mean/n before 2.55
    "avg_aggregation": (
        [('m{job="a",i="1"}', "1.1"), ('m{job="a",i="2"}', "_ 0.3"),
         ('m{job="a",i="3"}', "_ _ 0.2")],
        None, "avg by (job) (m)", "2m",
        {"2.42": 0.5333333333333334, "2.53": 0.5333333333333334, "3.5": 0.5333333333333333}),
}


def _write(directory: Path, name: str, value: float) -> Path:
    series, rule, expr, at, _ = EXAMPLES[name]
    # every example's one result series is {job="a"} (plus the recorded name)
    exp_labels = (rule[0] if rule else "") + '{job="a"}'
    doc: dict[str, object] = {
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m",
                   "input_series": [{"series": s, "values": v} for s, v in series],
                   "promql_expr_test": [{"expr": expr, "eval_time": at, "exp_samples": [
                       {"labels": exp_labels, "value": value}]}]}]}
    if rule is not None:
        (directory / "rules.yml").write_text(yaml.safe_dump(
            {"groups": [{"name": "g", "rules": [{"record": rule[0], "expr": rule[1]}]}]}))
        doc["rule_files"] = ["rules.yml"]
    path = directory / f"{name}.yml"
    # repr() keeps every digit; promtool and we parse it to the same float64
    path.write_text(yaml.safe_dump(doc).replace(f"value: {value}", f"value: {value!r}"))
    return path


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_our_runner_prints_promtools_last_bit(name: str, version: str, tmp_path: Path) -> None:
    value = EXAMPLES[name][4][version]
    report = run_rule_tests([str(_write(tmp_path, name, value))], semantics=version)
    assert report.passed, report.format_text()
    off = math.nextafter(value, math.inf)
    report = run_rule_tests([str(_write(tmp_path, name, off))], semantics=version)
    assert not report.passed, f"{name}: one ulp off ({off!r}) must fail without fuzzy_compare"


@pytest.mark.parametrize("binary", params())
def test_recorded_values_are_what_promtool_prints(binary: Promtool, tmp_path: Path) -> None:
    if binary.semantics not in VERSIONS:
        pytest.skip(f"no recorded values for promtool {binary.semantics}")
    for name in sorted(EXAMPLES):
        path = _write(tmp_path, name, EXAMPLES[name][4][binary.semantics])
        proc = subprocess.run([binary.path, "test", "rules", path.name], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"{name}: {proc.stdout}{proc.stderr}"

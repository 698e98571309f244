"""Native histograms in promtool-format tests: our verdicts and output against real promtool 3.x.

* fixed files with ``{{...}}`` input series and ``histogram:`` expectations
  (passing and failing ones) get promtool's exit code, and a failing
  expectation prints the same ``exp:``/``got:`` lines promtool prints
  (histograms in series notation, ``TestExpression``);
* a differential test over generated histogram series (hypothesis,
  derandomised): every expression gets an impossible expectation, promtool
  prints what it computed (``got: ...``), and our runner must print exactly
  the same text -- histograms by their notation, floats bit for bit;
* ``FloatHistogram.go_string`` matches promtool's ``--debug`` data dump
  (``{count:4, sum:5, [-1,-0.5):1, (0.5,1]:1 ...}``).

Binaries come from :mod:`promtool_runs` (``$SELFSLO_PROMTOOLS`` or PATH); the
fixed files need 3.5 or later, the differential runs against every 3.x release,
each with its own semantics. Native histograms of 2.x (an experimental feature
there: no histogram ``irate``/``changes``, comparisons on the float field...)
are not emulated.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from promtool_runs import Promtool, available, run

from pytest_selfslo.promql.series import parse_series_samples
from pytest_selfslo.ruletest.runner import run_rule_tests

EXAMPLES = int(os.environ.get("SELFSLO_HIST_DIFF_EXAMPLES", "120"))
BATCH = 60
STEPS = 12

_PROMTOOL3 = [p for p in available() if p.version >= (3, 5, 0)]
needs_promtool3 = pytest.mark.skipif(
    not _PROMTOOL3, reason="no promtool >= 3.5 ($SELFSLO_PROMTOOLS or PATH): native-histogram "
                           "expectations need it")

_EXPR = re.compile(r'expr: "((?:[^"\\]|\\.)*)", time: ([^,\s]+),'
                   r'(?: err: (.*)|\n\s*exp: .*\n\s*got: (.*))')
_TAG = re.compile(r"# (c\d+e\d+)$")

RULES = """groups:
  - name: g
    rules:
      - record: job:h:rate5m
        expr: sum by (job) (rate(h[5m]))
"""

PASSING = """rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'h{job="a"}'
        values: '{{schema:0 sum:5 count:4 buckets:[1 2 1]}}+{{sum:2 count:1 buckets:[1]}}x10'
    promql_expr_test:
      - expr: h
        eval_time: 2m
        exp_samples:
          - labels: 'h{job="a"}'
            histogram: '{{schema:0 sum:9 count:6 buckets:[3 2 1] counter_reset_hint:not_reset}}'
      - expr: histogram_count(h)
        eval_time: 2m
        exp_samples:
          - labels: '{job="a"}'
            value: 6
      - expr: job:h:rate5m
        eval_time: 10m
        exp_samples:
          - labels: 'job:h:rate5m{job="a"}'
            histogram: '{{count:0.016666666666666666 sum:0.03333333333333333 counter_reset_hint:gauge buckets:[0.016666666666666666]}}'
"""


def _write(tmp_path: Path, test: str) -> Path:
    (tmp_path / "rules.yml").write_text(RULES)
    path = tmp_path / "t.yml"
    path.write_text(test)
    return path


def _ours(path: Path) -> tuple[int, str]:
    report = run_rule_tests([str(path)])
    return report.exit_code, report.format_text()


def _promtool(binary: Promtool, path: Path) -> tuple[int, str]:
    proc = subprocess.run([binary.path, "test", "rules", path.name], cwd=path.parent,
                          capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def _got_lines(text: str) -> dict[tuple[str, str], str]:
    """(expression, time) -> the ``got:`` (or ``err:``) text of each failing expression."""
    return {(raw, at): (err or got).strip() for raw, at, err, got in _EXPR.findall(text)}


# --------------------------------------------------------------------------- fixed files
def test_histogram_expectations_pass_without_promtool(tmp_path: Path) -> None:
    code, text = _ours(_write(tmp_path, PASSING))
    assert code == 0, text


def test_failure_shows_histograms_in_series_notation(tmp_path: Path) -> None:
    failing = PASSING.replace("sum:9 count:6 buckets:[3 2 1]", "sum:9 count:7 buckets:[3 2 1]")
    code, text = _ours(_write(tmp_path, failing))
    assert code == 1
    got = _got_lines(text)[("h", "2m")]
    assert got == ('{__name__="h", job="a"} {{count:6 sum:9 counter_reset_hint:not_reset '
                   'buckets:[3 2 1]}}')
    assert 'exp: {__name__="h", job="a"} {{count:7 sum:9 counter_reset_hint:not_reset' in text


def test_float_expected_but_histogram_got(tmp_path: Path) -> None:
    failing = PASSING.replace("""            histogram: '{{schema:0 sum:9 count:6 buckets:[3 2 1] counter_reset_hint:not_reset}}'""",
                              "            value: 6")
    code, text = _ours(_write(tmp_path, failing))
    assert code == 1 and "exp: {__name__=\"h\", job=\"a\"} 6E+00" in text


def test_bad_histogram_expectation_is_an_error(tmp_path: Path) -> None:
    failing = PASSING.replace("'{{schema:0 sum:9 count:6 buckets:[3 2 1] counter_reset_hint:not_reset}}'",
                              "'{{schema:0 sum:9 count:6 buckets:[3 2 1]'")
    code, text = _ours(_write(tmp_path, failing))
    assert code == 1 and "unterminated histogram" in text


@needs_promtool3
@pytest.mark.parametrize("variant", ["pass", "wrong_count", "wrong_hint", "float_for_histogram",
                                     "histogram_for_float", "bad_notation"])
def test_same_verdict_and_output_as_promtool(variant: str, tmp_path: Path) -> None:
    test = {
        "pass": PASSING,
        "wrong_count": PASSING.replace("sum:9 count:6", "sum:9 count:7"),
        "wrong_hint": PASSING.replace("counter_reset_hint:not_reset", "counter_reset_hint:gauge"),
        "float_for_histogram": PASSING.replace(
            "            histogram: '{{schema:0 sum:9 count:6 buckets:[3 2 1] "
            "counter_reset_hint:not_reset}}'", "            value: 6"),
        "histogram_for_float": PASSING.replace("            value: 6",
                                               "            histogram: '{{count:6}}'"),
        "bad_notation": PASSING.replace("counter_reset_hint:not_reset}}'",
                                        "counter_reset_hint:not_reset'"),
    }[variant]
    path = _write(tmp_path, test)
    ours_code, ours_text = _ours(path)
    theirs_code, theirs_text = _promtool(_PROMTOOL3[-1], path)
    assert ours_code == theirs_code, f"promtool:\n{theirs_text}\nours:\n{ours_text}"
    if variant != "bad_notation":  # parse errors are worded differently
        assert _got_lines(ours_text) == _got_lines(theirs_text), (theirs_text, ours_text)


@needs_promtool3
def test_go_string_matches_promtool_debug_dump(tmp_path: Path) -> None:
    # schemas <= 0 and custom buckets: bucket bounds are exact (see _last_bits_only)
    values = ("{{schema:-1 sum:-0.3 count:32.1 z_bucket:7.1 z_bucket_w:0.05 buckets:[5.1 10 7] "
              "offset:-3 n_buckets:[4.1 5] n_offset:-5}} {{schema:-53 sum:5 count:4 "
              "custom_values:[1 5] buckets:[1 2 1]}} {{schema:0 sum:5 count:4 buckets:[1 2 1] "
              "n_buckets:[1]}}")
    test = f"""rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'x'
        values: '{values}'
    promql_expr_test:
      - expr: x
        eval_time: 2m
"""
    path = _write(tmp_path, test)
    proc = subprocess.run([_PROMTOOL3[-1].path, "test", "rules", "--debug", path.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    dumped = re.findall(r"^(\{count:.*\}) @\[", proc.stdout + proc.stderr, re.M)
    ours = [h.go_string() for h in parse_series_samples(values)]  # type: ignore[union-attr]
    # the dump covers (0, 2m1s]: every sample but the first
    assert len(dumped) == 2 and dumped == ours[1:]


# --------------------------------------------------------------------------- differential
EXPRS = (
    "h", "rate(h[5m])", "increase(h[5m])", "delta(h[3m])", "irate(h[3m])", "idelta(h[3m])",
    "sum(rate(h[5m]))", "histogram_count(h)", "histogram_sum(rate(h[5m]))",
    "histogram_avg(h)", "histogram_stddev(h)", "histogram_stdvar(h)",
    "histogram_quantile(0.9, h)", "histogram_quantile(0.5, rate(h[5m]))",
    "histogram_fraction(0, 2, h)", "histogram_fraction(-1, 0.5, h)",
    # bounds inside a bucket of every schema: interpolated (log-linearly or, NHCB, linearly)
    "histogram_fraction(-0.997, 1.005, h)", "histogram_quantile(0.99, rate(h[5m]))",
    "histogram_quantile(0.1, h)",
    "h * 2", "h / 4", "h + h", "h - h", "-h", "resets(h[10m])", "changes(h[10m])",
    "sum_over_time(h[3m])", "avg_over_time(h[3m])", "count_over_time(h[5m])",
    "last_over_time(h[5m])", "sum(h)", "avg(h)", "count(h)", "h == h", "h > 1",
)


@st.composite
def series_values(draw: st.DrawFn) -> str:
    """One counter-like native-histogram series in notation: growth, resets, gaps, stale."""
    custom = draw(st.booleans())
    schema = -53 if custom else draw(st.integers(-4, 8))
    width = draw(st.integers(1, 4))
    neg = 0 if custom else draw(st.integers(0, 2))
    offset = 0 if custom else draw(st.integers(-3, 3))
    zero = 0 if custom else draw(st.sampled_from([0, 1]))
    pos = [draw(st.integers(0, 5)) for _ in range(width)]
    negs = [draw(st.integers(0, 5)) for _ in range(neg)]
    zc = draw(st.integers(0, 3)) if zero else 0
    total = float(draw(st.integers(0, 40))) / 2
    tokens = []
    for _ in range(STEPS):
        kind = draw(st.sampled_from(["grow"] * 6 + ["reset", "gap", "stale", "schema"]))
        if kind == "gap":
            tokens.append("_")
            continue
        if kind == "stale":
            tokens.append("stale")
            continue
        if kind == "reset":
            pos = [c // 3 for c in pos]
            negs = [c // 3 for c in negs]
            zc //= 3
            total /= 3
        else:
            pos = [c + draw(st.integers(0, 3)) for c in pos]
            negs = [c + draw(st.integers(0, 2)) for c in negs]
            zc += draw(st.integers(0, 1)) if zero else 0
            total += draw(st.integers(0, 8)) / 4
        this_schema = schema
        if kind == "schema" and not custom:
            this_schema = max(schema - 1, -4)
        count = sum(pos) + sum(negs) + zc
        parts = [f"schema:{this_schema}", f"sum:{total:g}", f"count:{count}"]
        if custom:
            parts.append("custom_values:[0.5 1 2 5]")
        if zero:
            parts += [f"z_bucket:{zc}", "z_bucket_w:0.001"]
        parts.append("buckets:[" + " ".join(map(str, pos)) + "]")
        if offset and this_schema == schema:
            parts.append(f"offset:{offset}")
        if negs:
            parts.append("n_buckets:[" + " ".join(map(str, negs)) + "]")
        tokens.append("{{" + " ".join(parts) + "}}")
    return " ".join(tokens)


@functools.cache
def generated(count: int) -> tuple[str, ...]:
    out: list[str] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(values=series_values())
    def collect(values: str) -> None:
        out.append(values)

    collect()
    return tuple(out[:count])


def _case_file(n: int, values: str) -> dict[str, Any]:
    exprs = [{"expr": f"{e} # c{n}e{j}", "eval_time": f"{t}m",
              "exp_samples": [{"labels": 'sentinel{never="matches"}', "value": -1}]}
             for j, e in enumerate(EXPRS) for t in (3, 7, STEPS - 1)]
    return {"evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": [{"series": 'h{job="a"}', "values": values}],
        "promql_expr_test": exprs}]}


_WITH_HISTOGRAMS = [p for p in available() if p.version >= (3, 0, 0)]


@pytest.mark.parametrize("binary", _WITH_HISTOGRAMS or [None],
                         ids=[p.name for p in _WITH_HISTOGRAMS] or ["no-promtool"])
def test_generated_histogram_series_agree_with_promtool(binary: Promtool | None,
                                                        tmp_path: Path) -> None:
    if binary is None:
        pytest.skip("no promtool 3.x ($SELFSLO_PROMTOOLS or PATH)")
    semantics = binary.semantics
    cases = generated(EXAMPLES)
    disagreements: list[str] = []
    compared = 0
    for start in range(0, len(cases), BATCH):
        names = []
        for n in range(start, min(start + BATCH, len(cases))):
            name = f"c{n}.yml"
            (tmp_path / name).write_text(json.dumps(_case_file(n, cases[n])))
            names.append(name)
        theirs = _got_lines(run(binary, names, tmp_path))
        for name in names:
            ours = _got_lines(run_rule_tests([str(tmp_path / name)],
                                             semantics=semantics).format_text())
            n = int(name[1:-4])
            for key, text in ours.items():
                compared += 1
                if theirs.get(key) == text:
                    continue
                disagreements.append(f"{name} {key}: promtool {theirs.get(key)!r}, "
                                     f"ours {text!r}\n  series: {cases[n]}")
    print(f"\nnative-histogram differential, {binary.name}: {compared} expression checks, "
          f"{len(disagreements)} disagreements")
    assert compared >= EXAMPLES * len(EXPRS), compared
    assert not disagreements, "\n".join(disagreements[:10]) + f"\n({len(disagreements)} total)"


ALERT_RULES = """groups:
  - name: g
    rules:
      - alert: HistAlert
        expr: h
        labels:
          v: '{{ $value }}'
        annotations:
          summary: 'value {{ $value }}'
"""

ALERT_TEST = """rule_files: [alerts.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'h{job="a"}'
        values: '{{schema:0 sum:5 count:4 buckets:[1 2 1] n_buckets:[1]}}x5'
    alert_rule_test:
      - eval_time: 2m
        alertname: HistAlert
        exp_alerts:
          - exp_labels: {job: a, v: "%s"}
            exp_annotations: {summary: "value %s"}
"""


@pytest.mark.parametrize("shown", ["{count:4, sum:5, [-1,-0.5):1, (0.5,1]:1, (1,2]:2, (2,4]:1}",
                                   "0"])
def test_alert_value_of_a_histogram_is_its_string(shown: str, tmp_path: Path) -> None:
    """``$value`` of an alert on a histogram sample renders the histogram's ``String()``."""
    (tmp_path / "alerts.yml").write_text(ALERT_RULES)
    path = tmp_path / "t.yml"
    path.write_text(ALERT_TEST % (shown, shown))
    code, text = _ours(path)
    assert code == (0 if shown != "0" else 1), text
    if _PROMTOOL3:
        assert _promtool(_PROMTOOL3[-1], path)[0] == code

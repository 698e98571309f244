"""End-to-end promtool semantics of rule evaluation: ALERTS series, limits, offsets, order."""

from __future__ import annotations

from pathlib import Path

from pytest_selfslo.ruletest.runner import load_test_file, observe_group, run_rule_tests


def _files(tmp_path: Path, rules: str, test: str) -> Path:
    (tmp_path / "r.yml").write_text(rules)
    path = tmp_path / "t.yml"
    path.write_text("rule_files: [r.yml]\n" + test)
    return path


def _observe(path: Path, semantics: str = "3") -> object:
    test_file = load_test_file(path, semantics=semantics)
    return observe_group(test_file, test_file.groups[0], semantics=semantics)


def test_alerts_series_pending_then_firing_with_stale_pending(tmp_path: Path) -> None:
    path = _files(tmp_path, "groups:\n  - name: g\n    rules:\n      - alert: A\n"
                            "        expr: up == 0\n        for: 2m\n",
                  "tests:\n  - input_series:\n      - {series: 'up{j=\"x\"}', values: '0x10'}\n"
                  "    promql_expr_test:\n"
                  "      - {expr: 'ALERTS', eval_time: 1m}\n"
                  "      - {expr: 'ALERTS', eval_time: 3m}\n"
                  "      - {expr: 'ALERTS_FOR_STATE', eval_time: 3m}\n")
    obs = _observe(path)
    samples = obs.samples  # type: ignore[attr-defined]
    pending = (("__name__", "ALERTS"), ("alertname", "A"), ("alertstate", "pending"), ("j", "x"))
    firing = (("__name__", "ALERTS"), ("alertname", "A"), ("alertstate", "firing"), ("j", "x"))
    assert samples[("ALERTS", 60_000)] == [(pending, 1.0)]
    # the pending series went stale when the alert fired: only the firing one remains
    assert samples[("ALERTS", 180_000)] == [(firing, 1.0)]
    assert samples[("ALERTS_FOR_STATE", 180_000)] == [
        ((("__name__", "ALERTS_FOR_STATE"), ("alertname", "A"), ("j", "x")), 0.0)]


def test_duplicate_alert_labelsets_error_at_first_step(tmp_path: Path) -> None:
    path = _files(tmp_path, "groups:\n  - name: g\n    rules:\n      - alert: A\n"
                            "        expr: '{__name__=~\"a|b\"}'\n",
                  "tests:\n  - input_series:\n      - {series: 'a{j=\"x\"}', values: '_ _ 1'}\n"
                  "      - {series: 'b{j=\"x\"}', values: '_ _ 1'}\n"
                  "    alert_rule_test:\n      - {eval_time: 5m, alertname: A}\n")
    text = run_rule_tests([str(path)]).format_text()
    assert "rule: A, time: 2m0s, err: vector contains metrics with the same labelset after " \
           "applying alert labels" in text


def test_group_limit(tmp_path: Path) -> None:
    path = _files(tmp_path, "groups:\n  - name: g\n    limit: 1\n    rules:\n      - record: r\n"
                            "        expr: up\n",
                  "tests:\n  - input_series:\n      - {series: 'up{j=\"x\"}', values: '1 1'}\n"
                  "      - {series: 'up{j=\"y\"}', values: '_ 1'}\n"
                  "    promql_expr_test:\n      - {expr: r, eval_time: 2m}\n")
    text = run_rule_tests([str(path)]).format_text()
    assert "rule: r, time: 1m0s, err: exceeded limit of 1 with 2 series" in text


def test_query_offset_and_order_and_start(tmp_path: Path) -> None:
    rules = ("groups:\n  - name: late\n    rules:\n      - record: second\n        expr: first * 2\n"
             "  - name: early\n    query_offset: 1m\n    rules:\n      - record: first\n"
             "        expr: m\n")
    test = ("group_eval_order: [early, late]\ntests:\n  - start_timestamp: 1000\n"
            "    input_series:\n      - {series: m, values: '1 2 3 4'}\n"
            "    promql_expr_test:\n      - {expr: 'timestamp(first)', eval_time: 3m}\n"
            "      - {expr: first, eval_time: 3m}\n      - {expr: second, eval_time: 3m}\n")
    obs = _observe(_files(tmp_path, rules, test), semantics="3.9")  # start_timestamp: 3.9
    samples = obs.samples  # type: ignore[attr-defined]
    # evaluated at 3m with a 1m offset: the sample is written at 2m and holds m@2m
    assert samples[("timestamp(first)", 180_000)] == [((), 1000.0 + 120.0)]
    assert samples[("first", 180_000)] == [((("__name__", "first"),), 3.0)]
    assert samples[("second", 180_000)] == [((("__name__", "second"),), 6.0)]


def test_external_labels_and_url_in_templates(tmp_path: Path) -> None:
    path = _files(tmp_path, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: m\n"
                            "        annotations:\n          s: '{{ $externalLabels.dc }} "
                            "{{ $externalURL }}'\n",
                  "tests:\n  - external_labels: {dc: eu}\n    external_url: http://x\n"
                  "    input_series:\n      - {series: m, values: '1'}\n"
                  "    alert_rule_test:\n      - eval_time: 0m\n        alertname: A\n"
                  "        exp_alerts:\n          - exp_annotations: {s: 'eu http://x'}\n")
    report = run_rule_tests([str(path)])
    assert report.passed, report.format_text()


def test_missing_rule_file_glob_warns(tmp_path: Path) -> None:
    path = tmp_path / "t.yml"
    path.write_text("rule_files: [nothing-*.yml]\ntests:\n  - promql_expr_test:\n"
                    "      - {expr: '1', eval_time: 0m, exp_samples: [{value: 1}]}\n")
    report = run_rule_tests([str(path)])
    assert report.passed
    assert "WARNING: no file match pattern" in report.format_text()


def test_alert_checks_before_a_rule_error_still_run(tmp_path: Path) -> None:
    path = _files(tmp_path, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: a\n"
                            "      - record: j\n        expr: a + on(x) b\n",
                  "tests:\n  - input_series:\n      - {series: 'a{x=\"1\"}', values: '1x5'}\n"
                  "      - {series: 'b{x=\"1\",y=\"1\"}', values: '_ _ 1'}\n"
                  "      - {series: 'b{x=\"1\",y=\"2\"}', values: '_ _ 1'}\n"
                  "    alert_rule_test:\n      - {eval_time: 1m, alertname: A}\n"
                  "      - {eval_time: 4m, alertname: A}\n")
    text = run_rule_tests([str(path)]).format_text()
    # promtool: the 1m check fails (A fires, nothing expected), then evaluation stops at 2m
    assert "alertname: A, time: 1m" in text
    assert "alertname: A, time: 4m" not in text
    assert text.index("alertname: A, time: 1m") < text.index("rule: j, time: 2m0s, err:")

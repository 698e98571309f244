"""A rule group's ``interval:`` under ``promtool test rules``: every group runs at every step.

promtool's unit-test loop evaluates every group at every ``evaluation_interval``
step, whatever the group's own ``interval`` (cmd/promtool/unittest.go); the
interval only paces a running Prometheus. Sloth's ``rule_intervals`` plugin
writes such intervals (5m), so generated SLO tests rely on this. Each case is
a rule file whose groups have intervals, with two test files: the expectations
of "every group at every step" and those of "each group at its own interval".
Every real promtool and the embedded runner must agree on both verdicts (and
the first passes). No group reads another's output: without ``group_eval_order``
promtool 2.x runs groups in Go map order. Skipped without a promtool.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from promtool_runs import Promtool, params

from pytest_selfslo.ruletest.runner import run_rule_tests

RULES = {"groups": [
    {"name": "slow", "interval": "5m", "rules": [
        {"record": "r:x", "expr": "x"},
        {"alert": "High", "expr": "r:x > 2", "for": "2m"}]},
    {"name": "fast", "interval": "30s", "rules": [
        {"record": "r:y", "expr": "x * 10"}]},
    {"name": "odd", "interval": "7m", "rules": [
        {"record": "r:z", "expr": "x * 10 + 1"}]},
]}


def _test_file(eval_s: int, honour: bool) -> dict[str, object]:
    """Expectations for ``x`` = 0, 1, 2, ... (one per minute), evaluated every ``eval_s``."""
    def last_eval(t_s: int, every_s: int) -> int:
        """Value x had at the group's last evaluation at or before ``t_s``."""
        step = max(every_s, eval_s) if honour else eval_s
        return (t_s // step * step) // 60

    exprs = []
    for minute in (3, 4, 6, 8):
        t = minute * 60
        x = last_eval(t, 300)
        exprs.append({"expr": "r:x", "eval_time": f"{minute}m",
                      "exp_samples": [{"labels": "r:x", "value": x}]})
        exprs.append({"expr": "r:z", "eval_time": f"{minute}m",
                      "exp_samples": [{"labels": "r:z", "value": last_eval(t, 420) * 10 + 1}]})
    # x > 2 from 3m: pending at 3m, firing after `for: 2m` at the first evaluation >= 5m
    alerts = [{"eval_time": "4m", "alertname": "High", "exp_alerts": []},
              {"eval_time": "5m", "alertname": "High",
               "exp_alerts": [] if honour else [{"exp_labels": {}}]}]
    return {"rule_files": ["rules.yml"], "evaluation_interval": f"{eval_s}s",
            "tests": [{"interval": "1m",
                       "input_series": [{"series": "x", "values": "0+1x12"}],
                       "promql_expr_test": exprs, "alert_rule_test": alerts}]}


@pytest.mark.parametrize("promtool", params())
@pytest.mark.parametrize("eval_s", [60, 30])
def test_group_interval_is_ignored_like_promtool(promtool: Promtool, eval_s: int,
                                                 tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(RULES, sort_keys=False))
    verdicts = {}
    for honour in (False, True):
        name = f"test_{'honour' if honour else 'every_step'}.yml"
        (tmp_path / name).write_text(yaml.safe_dump(_test_file(eval_s, honour), sort_keys=False))
        proc = subprocess.run([promtool.path, "test", "rules", name], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, check=False)
        ours = run_rule_tests([str(tmp_path / name)], semantics=promtool.semantics)
        assert ours.exit_code == proc.returncode, (
            f"{name}: promtool {promtool.name} exit {proc.returncode}, ours {ours.exit_code}\n"
            f"{proc.stdout}{proc.stderr}\n--- ours ---\n{ours.format_text()}")
        verdicts[honour] = proc.returncode
    assert verdicts == {False: 0, True: 1}

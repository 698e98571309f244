"""Vectorised rule evaluation must equal promtool-style step-by-step evaluation."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from pytest_selfslo.rulefmt.testfile import parse_test_text
from pytest_selfslo.ruletest.runner import observe_group

RULES = """\
groups:
  - name: g
    rules:
      - record: rec:m:sum
        expr: sum by (i) (m)
      - alert: A
        expr: {expr}
        for: {for_}
        keep_firing_for: {keep}
        annotations: {{summary: "{{{{ $value }}}}"}}
      - record: rec:alerts
        expr: count(ALERTS) by (alertstate)
"""


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.lists(st.sampled_from(["0", "1", "3", "_", "stale"]), min_size=3,
                                max_size=12), min_size=1, max_size=3),
       expr=st.sampled_from(["m > 0", "avg_over_time(m[2m]) > 0.5", "rec:m:sum >= 1",
                             "rate(m[5m]) > 0"]),
       for_=st.sampled_from(["0s", "1m", "3m"]), keep=st.sampled_from(["0s", "2m"]),
       times=st.lists(st.integers(0, 900), min_size=1, max_size=4))
def test_vectorised_equals_step_mode(values: list[list[str]], expr: str,
                                     for_: str, keep: str, times: list[int]) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "r.yml").write_text(RULES.format(expr=expr, for_=for_, keep=keep))
        group = {
            "input_series": [{"series": f'm{{i="{i}"}}', "values": " ".join(v)}
                             for i, v in enumerate(values)],
            "alert_rule_test": [{"eval_time": f"{t}s", "alertname": "A"} for t in times],
            "promql_expr_test": [{"expr": e, "eval_time": f"{t}s"} for t in times
                                 for e in ("rec:m:sum", "ALERTS", "ALERTS_FOR_STATE", "rec:alerts")],
        }
        text = json.dumps({"rule_files": ["r.yml"], "tests": [group]})
        test_file = parse_test_text(text, str(folder / "t.json"))
        fast = observe_group(test_file, test_file.groups[0], semantics="3")
        slow = observe_group(test_file, test_file.groups[0], semantics="3", mode="step")
    assert (fast.mode, slow.mode) == ("vectorised", "step") or fast.error is not None
    assert (fast.alerts, fast.samples, fast.error) == (slow.alerts, slow.samples, slow.error)

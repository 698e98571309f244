"""Rules reading the output of rules promtool evaluates after them ("forward reads").

At step ``t`` promtool evaluates the rules in file order, so a rule reading a
later rule (of its own group or a later one, as Sloth's
``denominator_corrected_rules`` SLIs read ``slo:numerator_correction:ratio<w>``)
sees that rule's series only up to the previous step. Vectorised evaluation
runs the later rule first and hides its newest samples from the reader; it must
equal step-by-step evaluation bit for bit: every stored sample (stale markers
included), the storage order of every series, every alert state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from pytest_selfslo.alerting.ruleeval import GroupRun, evaluate_groups
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.rulefmt.model import AlertingRule
from pytest_selfslo.rulefmt.rulefile import groups_from_text

STEP_MS = 60_000
#: how a rule reads one series name ``{x}``; ``sub`` marks subqueries
READS = ["{x}", "{x} * 2", "rate({x}[3m])", "avg_over_time({x}[2m])", "sum({x})",
         "timestamp({x})", "{x} offset 1m", "count_over_time({x}[5m])",
         "last_over_time({x}[4m])", "absent({x})", "increase({x}[2m] offset 1m)",
         "max_over_time({x}[3m:1m])", "sum(rate({x}[2m:1m]))"]
VALUES = ["0", "1", "3", "5", "_", "stale"]


@dataclass
class Case:
    rules_yaml: str
    inputs: list[list[str]]
    #: a subquery reads a rule the reader sees only up to an earlier step (a later rule, or
    #: one with a larger query_offset): step mode may be needed
    forward_in_subquery: bool
    forward: bool


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n_groups = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 3)) for _ in range(n_groups)]
    total = sum(sizes)
    # rule k may read rule j when rank[j] > rank[k]: reads form no cycle, in either direction
    rank = draw(st.permutations(range(total)))
    alert = [draw(st.integers(0, 4)) == 0 for _ in range(total)]
    names = [f"A{k}" if alert[k] else f"r{k}" for k in range(total)]
    offsets = [draw(st.sampled_from([0, 0, 0, 30, 60, 120])) for _ in range(n_groups)]
    group_of = [g for g, size in enumerate(sizes) for _ in range(size)]
    rules: list[dict[str, str]] = []
    forward_sub = forward = False
    for k in range(total):
        sources = [j for j in range(total) if rank[j] > rank[k]]
        # -1: the input series m
        picks = draw(st.lists(st.sampled_from([-1, *sources]), min_size=1, max_size=2))
        terms = []
        for src in picks:
            template = draw(st.sampled_from(READS))
            if src < 0:
                name = "m"
            elif alert[src]:
                name = f'ALERTS{{alertname="{names[src]}"}}'
            else:
                name = names[src]
            if src > k:
                forward = True
            if src >= 0 and ":" in template and (
                    src > k or offsets[group_of[src]] > offsets[group_of[k]]):
                forward_sub = True
            terms.append(f"sum({template.format(x=name)})")
        expr = " or ".join(terms) if len(terms) > 1 else terms[0].removeprefix("sum")
        if alert[k]:
            rules.append({"alert": names[k], "expr": f"{expr} > {draw(st.sampled_from([0, 1, 2]))}",
                          "for": draw(st.sampled_from(["0s", "1m", "2m"]))})
        else:
            rules.append({"record": names[k], "expr": expr})
    groups, at = [], 0
    for g, size in enumerate(sizes):
        group: dict[str, object] = {"name": f"g{g}", "rules": rules[at:at + size]}
        if offsets[g]:
            group["query_offset"] = f"{offsets[g]}s"
        groups.append(group)
        at += size
    inputs = draw(st.lists(st.lists(st.sampled_from(VALUES), min_size=3, max_size=14),
                           min_size=1, max_size=2))
    return Case(yaml.safe_dump({"groups": groups}, sort_keys=False), inputs, forward_sub, forward)


def _run(case: Case, mode: str | None) -> tuple[GroupRun, Storage]:
    storage = Storage()
    storage.load("\n".join(f'm{{i="{i}"}} {" ".join(v)}' for i, v in enumerate(case.inputs)),
                 interval_ms=STEP_MS)
    steps = np.arange(0, 16 * STEP_MS, STEP_MS, dtype=np.int64)
    run = evaluate_groups(groups_from_text(case.rules_yaml), storage, steps,
                          extra_exprs=["ALERTS"], mode=mode)
    return run, storage


def _contents(storage: Storage) -> list[tuple[object, list[int], list[int]]]:
    """Every series in storage order, samples as raw bits (stale markers and NaNs exact)."""
    return [(labels, t.tolist(), v.view(np.int64).tolist())
            for labels, t, v in storage.select([])]


def _alerts(run: GroupRun) -> list[object]:
    out: list[object] = []
    for _, rule in run.rules():
        if isinstance(rule, AlertingRule):
            # (instances come in no defined order: compare them sorted)
            out += [sorted((sorted(a.labels.items()), a.state.value, a.active_at_ms, a.value)
                           for a in run.alerts_at(rule, step, annotations=False))
                    for step in range(run.steps_done)]
    return out


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(case=cases())
def test_forward_reads_vectorised_equals_step_mode(case: Case) -> None:
    fast, fast_store = _run(case, None)
    slow, slow_store = _run(case, "step")
    assert slow.mode == "step"
    if not case.forward_in_subquery and slow.error is None:
        assert fast.mode == "vectorised", case.rules_yaml
    assert (fast.steps_done, str(fast.error)) == (slow.steps_done, str(slow.error))
    assert _contents(fast_store) == _contents(slow_store), case.rules_yaml
    assert _alerts(fast) == _alerts(slow), case.rules_yaml


@pytest.mark.parametrize(("semantics", "counts"), [("3", [1.0, 1.0, 1.0]), ("2.42", [1.0, 2.0, 2.0])])
def test_forward_read_sees_the_previous_step(semantics: str, counts: list[float]) -> None:
    """``early`` reads ``late`` (a later group): at step t it sees late's sample of t - 1m."""
    text = """
groups:
  - name: first
    rules:
      - record: early
        expr: late
      - record: early_range
        expr: count_over_time(late[2m])
  - name: second
    rules:
      - record: late
        expr: m
"""
    storage = Storage()
    storage.load("m 1 2 3 4", interval_ms=STEP_MS)
    run = evaluate_groups(groups_from_text(text), storage,
                          np.arange(0, 4 * STEP_MS, STEP_MS, dtype=np.int64), semantics=semantics)
    assert run.mode == "vectorised"
    by_name = {dict(labels)["__name__"]: (t.tolist(), v.tolist())
               for labels, t, v in storage.select([])}
    assert by_name["early"] == ([60_000, 120_000, 180_000], [1.0, 2.0, 3.0])
    # late's sample at t is not written yet: the window holds t - 1m (and t - 2m where
    # windows are closed, 2.x)
    assert by_name["early_range"] == ([60_000, 120_000, 180_000], counts)


def test_cycles_keep_step_mode() -> None:
    text = """
groups:
  - name: g
    rules:
      - record: a
        expr: b + 1 or m
      - record: b
        expr: a
"""
    storage = Storage()
    storage.load("m 1 2 3", interval_ms=STEP_MS)
    run = evaluate_groups(groups_from_text(text), storage,
                          np.arange(0, 3 * STEP_MS, STEP_MS, dtype=np.int64))
    assert run.mode == "step"

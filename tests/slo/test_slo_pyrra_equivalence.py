"""Behaviour equivalence with Pyrra: our rules fire the alerts Pyrra's rules fire.

``data/pyrra_http_slos.yml`` holds the ratio and the latency objective of Pyrra's
Go tests; ``data/pyrra_http_expected_rules.yml`` the rules Pyrra generates for
them (transcribed from its tests, see the files' headers). We import the
objectives, generate our rules and evaluate both rule files on the embedded
engine over hypothesis-generated traffic (random error/good counter series per
SLO: segments of random volume and error ratio near every burn-rate threshold,
counter resets, and gaps where one or every series of the SLO has no samples, so
the absent alerts fire too; histories from 2h10m to 2d10m at 1m steps). At
every step the active alerts — name, labels, state (pending, firing) — must be
the same, except for the bookkeeping labels our rules add (``slo_service``,
``slo_name``, ``slo_severity``). A promtool check runs a few cases through every
real promtool: each rule file against the alerts our engine computed for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st
from promtool_runs import Promtool, params, run

from pytest_selfslo.alerting.ruleeval import GroupRun, evaluate_groups
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.rulefmt.model import AlertingRule, RecordingRule, RuleGroup
from pytest_selfslo.rulefmt.rulefile import groups_from_text, load_rule_files
from pytest_selfslo.slo.burnrate import burn_rates, generate_rules
from pytest_selfslo.slo.importers import import_spec
from pytest_selfslo.slo.service import dump_service_slos, load_service_slos_text
from pytest_selfslo.slo.testgen import _inputs

DATA = Path(__file__).parent / "data"
SLOS = DATA / "pyrra_http_slos.yml"
EXPECTED = DATA / "pyrra_http_expected_rules.yml"
STEP_MS = 60_000
#: traffic cases; CI runs 25 (the run behind the reported numbers set
#: SELFSLO_SLO_EQUIVALENCE_CASES=200: minutes of CPU on a 2-core machine)
CASES = int(os.environ.get("SELFSLO_SLO_EQUIVALENCE_CASES", "25"))
#: labels only our rules carry (our label scheme); every other label must match Pyrra's
OURS_ONLY = {"slo_service", "slo_name", "slo_severity"}
SPEC = import_spec(SLOS)
OURS_TEXT = generate_rules(SPEC)
OURS = groups_from_text(OURS_TEXT, "ours.yml")
THEIRS = load_rule_files([EXPECTED])
#: every group of each rule file (the alert closures leave some out)
groups_of = {"ours.yml": OURS, "pyrra.yml": THEIRS}


@dataclass(frozen=True)
class Segment:
    fraction: float  #: share of the history
    volume: int  #: events per step
    ratio: float  #: error ratio
    reset: bool  #: the counters restart from 0 at the segment's start
    gap: int  #: -1 every series has samples; 0/1 that series has none; 2 no series has


@dataclass(frozen=True)
class Case:
    steps: int
    traffic: tuple[tuple[Segment, ...], ...]  #: one segment list per SLO


def _segments(thresholds: list[float]) -> st.SearchStrategy[list[Segment]]:
    ratio = st.one_of(st.just(0.0), st.floats(0, 1),
                      st.builds(lambda t, k: min(1.0, t * k), st.sampled_from(thresholds),
                                st.floats(0.8, 1.25)))
    gap = st.sampled_from([-1, -1, -1, -1, 0, 1, 2])
    seg = st.builds(Segment, st.floats(0.05, 1), st.sampled_from([0, 1, 3, 10, 100, 997, 5000]),
                    ratio, st.booleans(), gap)
    return st.lists(seg, min_size=1, max_size=5)


def _cases() -> st.SearchStrategy[Case]:
    thresholds = sorted({b.factor * s.error_budget for s in SPEC.slos for b in burn_rates(s)})
    lists = st.tuples(*[_segments(thresholds) for _ in SPEC.slos])
    return st.builds(lambda n, t: Case(n, tuple(tuple(x) for x in t)),
                     st.sampled_from([130, 490, 1500, 2900]), lists)


def _labels(series: str) -> dict[str, str]:
    name, _, rest = series.partition("{")
    out = {"__name__": name}
    for part in rest.rstrip("}").split(","):
        if part.strip():
            k, _, v = part.strip().partition("=")
            out[k] = v.strip('"')
    return out


def _series(case: Case) -> list[tuple[dict[str, str], np.ndarray, np.ndarray]]:
    """(labels, values, has-a-sample mask) of every input series."""
    n = case.steps
    out = []
    for slo, segments in zip(SPEC.slos, case.traffic, strict=True):
        inputs = _inputs(slo)
        err, good = np.zeros(n + 1), np.zeros(n + 1)
        present = [np.ones(n + 1, dtype=bool), np.ones(n + 1, dtype=bool)]
        total = sum(s.fraction for s in segments)
        start, e_acc, g_acc = 0, 0.0, 0.0
        for i, s in enumerate(segments):
            end = n + 1 if i == len(segments) - 1 else min(
                n + 1, start + round(s.fraction / total * (n + 1)))
            if s.reset:
                e_acc = g_acc = 0.0
            bad = float(round(s.volume * s.ratio))
            for j in range(start, end):
                e_acc += bad
                g_acc += s.volume - bad
                err[j], good[j] = e_acc, g_acc
            for k in range(2):
                if s.gap in (k, 2):
                    present[k][start:end] = False
            start = end
        if inputs.total_series:  # latency: the _count (total) and the le bucket (good)
            pairs = [(inputs.total_series, err + good), (inputs.good_series, good)]
        else:  # ratio: a 5xx series (errors) and a 2xx one (good)
            pairs = [(inputs.error_series, err), (inputs.good_series, good)]
        out += [(_labels(text), values, present[k]) for k, (text, values) in enumerate(pairs)]
    return out


def _evaluate(groups: list[RuleGroup], case: Case, semantics: str = "3") -> GroupRun:
    storage = Storage()
    steps = np.arange(case.steps + 1, dtype=np.int64) * STEP_MS
    for labels, values, present in _series(case):
        if present.any():
            storage.add_samples(labels, steps[present], values[present], created_ms=0)
    return evaluate_groups(groups, storage, steps, semantics=semantics)


def _timeline(run: GroupRun) -> dict[tuple[str, frozenset[tuple[str, str]]], bytes]:
    """(alert name, labels but ours-only ones) -> the state at every step."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], bytes] = {}
    for group in run.groups:
        for rule in group.rules:
            result = run.alerts.get(id(rule))
            if not isinstance(rule, AlertingRule) or result is None:
                continue
            for inst, (state, _active, _last) in zip(result.instances, result.timelines,
                                                     strict=True):
                if state.any():
                    labels = frozenset((k, v) for k, v in inst.labels.items() if k not in OURS_ONLY)
                    key = (rule.name, labels)
                    assert key not in out, f"two alerts with the same labels: {key}"
                    out[key] = state.astype(np.int8).tobytes()
    return out


def _describe(a: dict[Any, bytes], b: dict[Any, bytes]) -> str:
    for key in sorted(set(a) | set(b), key=str):
        sa, sb = a.get(key), b.get(key)
        if sa != sb:
            xa = np.frombuffer(sa or b"", dtype=np.int8)
            xb = np.frombuffer(sb or b"", dtype=np.int8)
            n = max(len(xa), len(xb))
            xa, xb = np.pad(xa, (0, n - len(xa))), np.pad(xb, (0, n - len(xb)))
            first = int(np.flatnonzero(xa != xb)[0])
            return (f"alert {key[0]} {dict(key[1])}: ours {int(xa[first])}, Pyrra's "
                    f"{int(xb[first])} at {first}m")
    return ""


def test_the_transcribed_rules_are_pyrras() -> None:
    """The data file holds Pyrra's rule shapes: four burn-rate alerts per SLO with Pyrra's
    for: and labels, and the absent alerts (two for the latency SLO: _count and bucket)."""
    doc = yaml.safe_load(EXPECTED.read_text())
    alerts = [r for g in doc["groups"] for r in g["rules"] if "alert" in r]
    burn = [a for a in alerts if a["alert"] == "ErrorBudgetBurn"]
    assert [(a["labels"]["long"], a["labels"]["short"], a["for"]) for a in burn[:4]] == [
        ("1h", "5m", "2m"), ("6h", "30m", "15m"), ("1d", "2h", "1h"), ("4d", "6h", "3h")]
    assert [a["for"] for a in alerts if a["alert"] == "SLOMetricAbsent"] == ["10m", "6m", "6m"]


def test_our_rules_carry_pyrras_alerts() -> None:
    """Same alert rules as Pyrra's: name, for:, labels, annotations (none: these objectives
    propagate no ``pyrra.dev/`` annotation; see ``test_slo_alert_annotations.py`` for one
    that does; ``pyrra_url`` is left out). ``slo`` and ``job`` come from the
    recorded series on our burn-rate alerts (from the rule on Pyrra's), ``le`` from
    ``absent()`` on our absent alert, so they are compared on the series here and on the
    alerts by the behaviour test."""
    series = {"slo", "job", "le"}

    def shape(groups: list[RuleGroup], drop: set[str]
              ) -> list[tuple[str, str, tuple[Any, ...], tuple[Any, ...]]]:
        return sorted((r.name, str(r.for_ms), tuple(sorted((k, v) for k, v in r.labels.items()
                                                           if k not in drop)),
                       tuple(sorted(r.annotations.items())))
                      for g in groups for r in g.rules if isinstance(r, AlertingRule))
    assert shape(OURS, OURS_ONLY | series) == shape(THEIRS, series)
    assert len(shape(OURS, set())) == 11
    records = [r for g in OURS for r in g.rules if isinstance(r, RecordingRule)]
    assert all({"slo", "job"} <= set(r.labels) for r in records)


def test_behaviour_equivalent_to_pyrra(record_property: Any) -> None:
    stats = {"cases": 0, "firing_steps": 0, "pending_steps": 0, "alert_instances": 0,
             "absent_firing_steps": 0}

    @settings(max_examples=CASES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(_cases())
    def check(case: Case) -> None:
        ours = _timeline(_evaluate(OURS, case))
        theirs = _timeline(_evaluate(THEIRS, case))
        assert ours == theirs, _describe(ours, theirs)
        stats["cases"] += 1
        stats["alert_instances"] += len(ours)
        for (name, _), v in ours.items():
            states = np.frombuffer(v, dtype=np.int8)
            stats["firing_steps"] += int(np.count_nonzero(states == 2))
            stats["pending_steps"] += int(np.count_nonzero(states == 1))
            if name == "SLOMetricAbsent":
                stats["absent_firing_steps"] += int(np.count_nonzero(states == 2))

    check()
    record_property("pyrra_equivalence", str(stats))
    print(f"pyrra equivalence: {stats}")
    assert stats["cases"] >= CASES
    # the traffic makes burn-rate and absent alerts fire and go pending: not vacuous
    assert stats["firing_steps"] > stats["absent_firing_steps"] > 0
    assert stats["pending_steps"] > 0


def _promtool_file(groups: list[RuleGroup], cases: list[Case], rule_file: str,
                   semantics: str) -> str:
    tests = []
    for case in cases:
        result = _evaluate(groups, case, semantics)
        checks = []
        for at in range(30, case.steps + 1, 30):
            # promtool checks every rule of an alert name at once (Pyrra's four pairs share one)
            by_name: dict[str, list[dict[str, Any]]] = {}
            for group in result.groups:
                for rule in group.rules:
                    if not isinstance(rule, AlertingRule):
                        continue
                    by_name.setdefault(rule.name, []).extend(
                        {"exp_labels": {k: v for k, v in a.labels.items() if k != "alertname"}}
                        for a in result.alerts_at(rule, at) if a.state.value == "firing")
            checks += [{"eval_time": f"{at}m", "alertname": name, "exp_alerts": exp}
                       for name, exp in by_name.items()]
        inputs = []
        for labels, values, present in _series(case):
            text = " ".join(repr(float(v)) if p else "_" for v, p in zip(values, present,
                                                                       strict=True))
            inputs.append({"series": "{" + ", ".join(f'{k}="{v}"' for k, v in
                                                     sorted(labels.items())) + "}",
                           "values": text})
        tests.append({"interval": "1m", "input_series": inputs, "alert_rule_test": checks})
    # every group in file order, as our engine runs them (promtool's default is random)
    names = [g.name for g in groups_of[rule_file]]
    order = {"group_eval_order": names} if len(names) > 1 else {}
    return yaml.safe_dump({"rule_files": [rule_file], "evaluation_interval": "1m", **order,
                           "tests": tests}, sort_keys=False, width=10_000)


@pytest.mark.parametrize("promtool", params())
def test_promtool_agrees_on_a_sample_of_cases(promtool: Promtool, tmp_path: Path) -> None:
    cases: list[Case] = []

    @settings(max_examples=12, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(_cases())
    def collect(case: Case) -> None:
        if case.steps <= 490 and len(cases) < 4:
            cases.append(case)

    collect()
    assert cases
    (tmp_path / "ours.yml").write_text(OURS_TEXT)
    (tmp_path / "pyrra.yml").write_text(EXPECTED.read_text())
    for rule_file, groups in (("ours.yml", OURS), ("pyrra.yml", THEIRS)):
        test = tmp_path / f"test_{rule_file}"
        text = _promtool_file(groups, cases, rule_file, promtool.semantics)
        assert "exp_labels" in text  # some alert fires in the sample
        test.write_text(text)
        output = run(promtool, [test.name], tmp_path)
        assert "SUCCESS" in output and "FAILED" not in output, output[:4000]


def test_pair_labels_and_for_round_trip_through_our_format() -> None:
    again = load_service_slos_text(dump_service_slos(SPEC), "slo.yml")
    assert again.slos == SPEC.slos and again.dialect == "pyrra"
    assert generate_rules(again) == OURS_TEXT

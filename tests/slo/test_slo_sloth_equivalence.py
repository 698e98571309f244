"""Behaviour equivalence with Sloth: our rules fire the alerts Sloth's rules fire.

For every Sloth example spec that has a generated output (``examples/*.yml``
and ``examples/_gen/*.yml`` of slok/sloth), we import the spec, generate our
rules and evaluate both rule files on the embedded engine over hypothesis-
generated traffic (random good/total counter series per SLO: segments of
random volume and error ratio near every burn-rate threshold, counter resets,
histories from 2h10m to 3d2h10m; a raw SLI of the shape ``errors / total``,
e.g. what Sloth's getting-started SLI plugin returns, gets the same counters;
other SLIs, gauge-based ones such as Sloth's home-wifi, get random values for
every selector: label values satisfying its matchers, regex ones included,
counters under ``rate``/``increase``, gauges elsewhere); at
every evaluation step the active alerts —
name, labels, state — must be the same. Recording-rule names may differ
(only rules that some alert depends on are evaluated). A promtool spot check
runs a few cases per example through every real promtool: each rule file
against the alerts our engine computed for it.

Sloth's SLI plugins are Go code: ``sli_plugins/`` beside this module holds the
Python port of the getting-started one (``examples/plugins/getting-started``),
passed as Sloth's ``-p`` is. Sloth's checkout is not part of this repository: set ``SELFSLO_SLOTH_EXAMPLES``
to its ``examples`` directory (``git -C <sloth.git> archive HEAD examples | tar
-x -C /tmp/sloth`` then ``SELFSLO_SLOTH_EXAMPLES=/tmp/sloth/examples``). Sloth
generated its examples with ``--extra-labels cmd=examplesgen.sh``
(``scripts/examplesgen.sh``), so the same label is added to ours here.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import promql_parser
import pytest
import yaml
from hypothesis import given, strategies as st
from promtool_runs import Promtool, params
from slo_equivalence import (
    STEP_MS,
    Segment,
    alert_checks,
    assert_promtool_passes,
    counters,
    derandomized,
    describe,
    firing_steps,
    labels_of,
    promtool_test_file,
    sample,
    segment_lists,
    series_text,
    timeline,
    values_text,
)

from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.alerting.ruleeval import GroupRun, evaluate_groups
from pytest_selfslo.promql.astwalk import selectors, walk
from pytest_selfslo.promql.engine import parse_expr
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.rulefmt.model import AlertingRule, RecordingRule, RuleGroup
from pytest_selfslo.rulefmt.rulefile import groups_from_text, load_rule_files
from pytest_selfslo.slo.burnrate import (
    SLOTH_INFO_GENERATOR,
    SLOTH_META_RECORDS,
    burn_rates,
    generate_rules,
)
from pytest_selfslo.slo.importers import import_spec, import_text
from pytest_selfslo.slo.service import ServiceSLOs
from pytest_selfslo.slo.testgen import _Inputs, _inputs, _pick

ENV = "SELFSLO_SLOTH_EXAMPLES"
ROOT = Path(os.environ[ENV]) if os.environ.get(ENV) else None
CASES = 200
EXTRA_LABELS = {"cmd": "examplesgen.sh"}
#: Python ports of the SLI plugins Sloth's examples use (Sloth: ``-p examples/plugins``)
SLI_PLUGINS = Path(__file__).parent / "sli_plugins"
#: examples whose import is a located error, with what the error must say
NOT_MAPPABLE = {# MetricsQL (histogram_share): nothing here can evaluate it
                "victoria-metrics.yml": "MetricsQL (VictoriaMetrics), which is not PromQL"}
#: examples with fields Sloth's CRD decoding ignores (Go's encoding/json drops unknown keys;
#: the API server prunes them): our import refuses them (never dropped silently), and the
#: spec Sloth actually read -- without them -- is what must behave as Sloth's output
SLOTH_IGNORED = {"plugin-k8s-getting-started.yml": ("page_alert", "ticket_alert")}
#: functions whose range-vector argument is a counter
COUNTER_FUNCTIONS = {"rate", "irate", "increase", "resets"}


def _examples() -> list[Any]:
    if ROOT is None:
        return [pytest.param(None, id="no-sloth", marks=pytest.mark.skip(
            reason=f"${ENV} is unset: point it at a checkout of slok/sloth's examples/ "
                   "(see this module's docstring)"))]
    found = sorted(p.name for p in ROOT.iterdir() if p.suffix in (".yml", ".yaml")
                   and (ROOT / "_gen" / p.name).is_file())
    return [pytest.param(name, id=name) for name in found]


@dataclass
class Example:
    name: str
    spec: ServiceSLOs
    ours: list[RuleGroup]
    theirs: list[RuleGroup]
    ours_text: str


def _load(name: str) -> Example:
    assert ROOT is not None
    if name in SLOTH_IGNORED:
        return _load_as_sloth_read(name, SLOTH_IGNORED[name])
    try:
        spec = import_spec(ROOT / name, [SLI_PLUGINS])
    except SLOSpecError as exc:
        if name in NOT_MAPPABLE:
            assert f"{ROOT / name}:" in str(exc) and NOT_MAPPABLE[name] in str(exc), str(exc)
            pytest.skip(f"not mappable (located error, as expected): {exc}")
        raise
    assert name not in NOT_MAPPABLE, f"{name} imports now: take it off NOT_MAPPABLE"
    return _example(name, spec)


def _load_as_sloth_read(name: str, ignored: tuple[str, ...]) -> Example:
    """Our import is an error at the first ignored field; without them it is Sloth's spec."""
    assert ROOT is not None
    with pytest.raises(SLOSpecError) as exc:
        import_spec(ROOT / name, [SLI_PLUGINS])
    assert f"{ROOT / name}:" in str(exc.value)
    assert f"unsupported field {ignored[0]!r}" in str(exc.value), str(exc.value)
    doc = yaml.safe_load((ROOT / name).read_text())
    removed = 0
    for slo in doc["spec"]["slos"]:
        for key in ignored:
            removed += slo.get("alerting", {}).pop(key, None) is not None
    assert removed, f"{name}: none of {ignored} found: take it off SLOTH_IGNORED"
    return _example(name, import_text(yaml.safe_dump(doc), str(ROOT / name), [SLI_PLUGINS]))


def _example(name: str, spec: ServiceSLOs) -> Example:
    assert ROOT is not None
    spec = replace(spec, labels={**spec.labels, **EXTRA_LABELS},
                   slos=tuple(replace(s, labels={**EXTRA_LABELS, **s.labels}) for s in spec.slos))
    text = generate_rules(spec)
    return Example(name, spec, _alert_closure(groups_from_text(text, "ours.yml")),
                   _alert_closure(load_rule_files([ROOT / "_gen" / name])), text)


def _alert_closure(groups: list[RuleGroup]) -> list[RuleGroup]:
    """Only the alerts and the recording rules they depend on (transitively)."""
    rules = [r for g in groups for r in g.rules]
    needed: set[str] = set()
    frontier: list[AlertingRule | RecordingRule] = [r for r in rules if isinstance(r, AlertingRule)]
    keep: set[int] = {id(r) for r in frontier}
    while frontier:
        names = {s.name for r in frontier for s in selectors(parse_expr(r.expr)) if s.name}
        names -= needed
        needed |= names
        frontier = [r for r in rules if isinstance(r, RecordingRule) and r.name in names]
        keep |= {id(r) for r in frontier}
    return [replace(g, rules=tuple(r for r in g.rules if id(r) in keep)) for g in groups
            if any(id(r) in keep for r in g.rules)]


# ------------------------------------------------------------------------------ traffic
@dataclass(frozen=True)
class Case:
    steps: int
    traffic: tuple[tuple[Segment, ...], ...]  #: one segment list per SLO
    gauges: tuple[float, ...]  #: values for SLOs whose queries are not good/total counters


def _cases(example: Example) -> st.SearchStrategy[Case]:
    thresholds = sorted({b.factor * s.error_budget for s in example.spec.slos for b in burn_rates(s)})
    lists = st.tuples(*[segment_lists(thresholds) for _ in example.spec.slos])
    # histories of 2h10m to 3d2h10m (1m steps); SLIs built on subqueries (Sloth's home-wifi:
    # sum_over_time((count(...))[3d:])) cost O(steps x window) per step: at most 1d1h there
    subqueries = any(":]" in q for s in example.spec.slos for q in s.sli.templates())
    lengths = [130, 490, 1500] if subqueries else [130, 490, 1500, 4450]
    return st.builds(lambda n, t, g: Case(n, tuple(tuple(x) for x in t), tuple(g)),
                     st.sampled_from(lengths), lists,
                     st.lists(st.floats(0, 1), min_size=8, max_size=8))


def _inputs_or_none(example: Example, i: int) -> _Inputs | None:
    try:
        return _inputs(example.spec.slos[i])
    except SLOSpecError:
        return None  # e.g. a gauge-based SLI (Sloth's home-wifi): random gauge values instead


def _counter_selectors(query: str) -> set[str]:
    """The selectors (as text) a counter function (``rate``...) reads in ``query``."""
    out = set()
    for node in walk(parse_expr(query.replace("{{.window}}", "5m"))):
        if isinstance(node, promql_parser.Call) and node.func.name in COUNTER_FUNCTIONS:
            out |= {str(s) for s in selectors(node)}
    return out


def _selector_labels(sel: Any, j: int) -> dict[str, str]:
    """Labels of a series ``sel`` selects: a value satisfying each label's matchers."""
    ops = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~",
           "MatchOp.NotRe": "!~"}
    labels = {"__name__": str(sel.name), "instance": f"i{j}"}
    names = sorted({m.name for m in sel.matchers.matchers if m.name != "__name__"})
    for n in names:
        value = _pick(n, [(ops[str(m.op)], m.value) for m in sel.matchers.matchers
                          if m.name == n], [])
        assert value is not None, f"no value of {n} satisfies {sel}"
        if value:  # an empty value is the label's absence
            labels[n] = value
    return labels


def _storage(example: Example, case: Case) -> tuple[Storage, list[tuple[dict[str, str], np.ndarray]]]:
    n = case.steps
    series: dict[tuple[tuple[str, str], ...], np.ndarray] = {}
    for i, slo in enumerate(example.spec.slos):
        inputs = _inputs_or_none(example, i)
        err, good = counters(case.traffic[i], n)
        if inputs is None:
            queries = slo.sli.templates()
            counted = {c for q in queries for c in _counter_selectors(q)}
            for j, sel in enumerate(s for q in queries
                                    for s in selectors(parse_expr(q.replace("{{.window}}", "5m")))):
                labels = _selector_labels(sel, j)
                values = np.array([case.gauges[(j + k // 60) % len(case.gauges)]
                                   for k in range(n + 1)])
                if str(sel) in counted:  # a counter: increments of the gauge values
                    values = np.cumsum(values * 100)
                series.setdefault(tuple(sorted(labels.items())), values)
            continue
        if inputs.total_series:
            pairs = [(inputs.total_series, err + good), (inputs.good_series, good)]
        else:
            pairs = [(inputs.error_series, err), (inputs.good_series, good)]
        for text, values in pairs:
            series.setdefault(tuple(sorted(labels_of(text).items())), values)
    storage = Storage()
    steps = np.arange(n + 1, dtype=np.int64) * STEP_MS
    out = []
    for key, values in series.items():
        storage.add_samples(dict(key), steps, values, created_ms=0)
        out.append((dict(key), values))
    return storage, out


def _evaluate(groups: list[RuleGroup], example: Example, case: Case) -> GroupRun:
    storage, _ = _storage(example, case)
    steps = np.arange(case.steps + 1, dtype=np.int64) * STEP_MS
    return evaluate_groups(groups, storage, steps)


@pytest.mark.parametrize("name", _examples())
def test_behaviour_equivalent_to_sloth(name: str, record_property: Any) -> None:
    example = _load(name)
    stats = {"cases": 0, "firing_steps": 0, "alert_instances": 0}

    @derandomized(CASES)
    @given(_cases(example))
    def check(case: Case) -> None:
        ours = timeline(_evaluate(example.ours, example, case))
        theirs = timeline(_evaluate(example.theirs, example, case))
        assert ours == theirs, describe(ours, theirs, "Sloth's")
        stats["cases"] += 1
        stats["alert_instances"] += len(ours)
        stats["firing_steps"] += firing_steps(ours)

    check()
    record_property("sloth_equivalence", f"{name}: {stats}")
    assert stats["cases"] >= CASES
    if any(s.page.enabled or s.ticket.enabled for s in example.spec.slos):
        # the traffic does make alerts fire, so the comparison is not vacuous
        assert stats["firing_steps"] > 0


# ------------------------------------------------------------------------ alert annotations
def _rule_annotations(groups: list[RuleGroup]) -> dict[tuple[str, str, frozenset[tuple[str, str]]],
                                                        dict[str, str]]:
    """(group name, alert name, rule labels) -> the rule's annotations (templates, as written).

    The group name is part of the key: two SLOs' ``ErrorBudgetExhausted`` rules may carry
    the same labels (none); our ``sloth`` dialect names its groups as Sloth does.
    """
    out: dict[tuple[str, str, frozenset[tuple[str, str]]], dict[str, str]] = {}
    for group in groups:
        for rule in group.rules:
            if isinstance(rule, AlertingRule):
                key = (group.name, rule.name, frozenset(rule.labels.items()))
                assert key not in out, f"two alert rules {key}"
                out[key] = dict(rule.annotations)
    return out


@pytest.mark.parametrize("name", _examples())
def test_alert_annotations_equal_to_sloths(name: str) -> None:
    """Every alert rule's annotations equal those of Sloth's rule with the same name and
    labels (Sloth's default ``title``/``summary``, the spec's on top): a static check of the
    rule files, no traffic; Alertmanager templates written for Sloth's alerts keep working."""
    example = _load(name)
    assert ROOT is not None
    ours = _rule_annotations(groups_from_text(example.ours_text, "ours.yml"))
    theirs = _rule_annotations(load_rule_files([ROOT / "_gen" / name]))
    assert ours.keys() == theirs.keys(), (sorted(map(str, ours.keys() - theirs.keys())),
                                          sorted(map(str, theirs.keys() - ours.keys())))
    for key, expected in theirs.items():
        assert ours[key] == expected, f"{key[1]} {dict(key[2])}: ours {ours[key]}, Sloth's {expected}"
    if theirs:
        assert any(theirs.values()), "Sloth's alerts carry annotations: the check is not vacuous"


# ------------------------------------------------------------------------ metadata series
META_CASES = 12


def _recorded(run: GroupRun, names: set[str]) -> dict[tuple[str, frozenset[tuple[str, str]]],
                                                         tuple[bytes, bytes]]:
    """Every recorded series named in ``names``: (timestamps, values) bit for bit.

    ``sloth_slo_info``'s generator labels (``sloth_mode``, ``sloth_spec``,
    ``sloth_version``) name the program that wrote the rules (Sloth's examples say
    ``dev``/``cli-gen-prom``; ours ``selfslo``): they are the one expected difference.
    """
    out = {}
    for labels, t, v, _order in run.storage.snapshot():
        d = dict(labels)
        name = d.pop("__name__", "")
        if name not in names:
            continue
        if name == "sloth_slo_info":
            d = {k: v for k, v in d.items() if k not in SLOTH_INFO_GENERATOR}
        out[(name, frozenset(d.items()))] = (t.tobytes(), v.tobytes())
    return out


@pytest.mark.parametrize("name", _examples())
def test_metadata_series_equal_to_sloths(name: str, record_property: Any) -> None:
    """Sloth's metadata (and every other same-named) recorded series: same labels, same values.

    The alert comparison above only evaluates what alerts read; this evaluates both
    whole rule files and compares every recorded series whose name both generate
    (``slo:objective:ratio`` ... ``sloth_slo_info``, the SLI ratios including the
    period's, denominator corrections), at every step.
    """
    example = _load(name)
    assert ROOT is not None
    ours = groups_from_text(example.ours_text, "ours.yml")
    theirs = load_rule_files([ROOT / "_gen" / name])

    def records(groups: list[RuleGroup]) -> set[str]:
        return {r.name for g in groups for r in g.rules if isinstance(r, RecordingRule)}

    names = records(ours) & records(theirs)
    if SLOTH_META_RECORDS[0] in records(theirs):
        assert set(SLOTH_META_RECORDS) <= names, sorted(records(theirs) - names)
    stats = {"cases": 0, "series": 0}

    @derandomized(META_CASES)
    @given(_cases(example))
    def check(case: Case) -> None:
        a = _recorded(_evaluate(ours, example, case), names)
        b = _recorded(_evaluate(theirs, example, case), names)
        assert a.keys() == b.keys(), (sorted(map(str, a.keys() - b.keys()))[:3],
                                      sorted(map(str, b.keys() - a.keys()))[:3])
        for key in a:
            ta, va = (np.frombuffer(x) for x in a[key])
            tb, vb = (np.frombuffer(x) for x in b[key])
            assert a[key] == b[key], (f"{key[0]} {dict(key[1])}: ours {len(ta)} samples, "
                                      f"Sloth's {len(tb)}; first values {va[:3]} / {vb[:3]}")
        stats["cases"] += 1
        stats["series"] += len(a)

    check()
    record_property("sloth_metadata_equivalence", f"{name}: {stats}")
    assert stats["cases"] >= META_CASES and stats["series"] > 0


# ------------------------------------------------------------------------ promtool spot check
def _legacy_names(path: Path) -> bool:
    """Every rule label name is a Prometheus 2.x name (``[a-zA-Z_][a-zA-Z0-9_]*``)."""
    groups = yaml.safe_load(_rule_file_text(path))["groups"]
    return all(re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", k) for g in groups for r in g["rules"]
               for k in r.get("labels", {}))


def _promtool_file(example: Example, groups: list[RuleGroup], cases: list[Case],
                   rule_file: str, group_names: list[str]) -> str:
    tests = []
    for case in cases:
        _, series = _storage(example, case)
        checks = alert_checks(_evaluate(groups, example, case), range(30, case.steps + 1, 30))
        inputs = [{"series": series_text(labels), "values": values_text(values)}
                  for labels, values in series]
        tests.append({"interval": "1m", "input_series": inputs, "alert_rule_test": checks})
    # every group of the file in file order, as our engine evaluates them
    return promtool_test_file(rule_file, group_names, tests)


def _rule_file_text(path: Path) -> str:
    """One rule file promtool reads with every group of Sloth's output.

    Sloth's ``-k`` output is a PrometheusRule manifest, whose ``spec`` holds
    the groups, and a multi-file input (``multifile``, ``k8s-multifile``,
    ``openslo-kubernetes-apiserver``) gives one YAML document per spec:
    promtool reads only a file's first document, so the groups are gathered.
    """
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    groups = [g for d in docs
              for g in (d["spec"]["groups"] if d.get("kind") == "PrometheusRule" else d["groups"])]
    return yaml.safe_dump({"groups": groups}, sort_keys=False, width=10_000)


@pytest.mark.parametrize("promtool", params())
@pytest.mark.parametrize("name", _examples())
def test_promtool_agrees_on_a_sample_of_cases(name: str, promtool: Promtool,
                                              tmp_path: Path) -> None:
    example = _load(name)
    cases = sample(_cases(example), 3, lambda case: case.steps <= 490, 3)
    assert cases
    assert ROOT is not None
    (tmp_path / "ours.yml").write_text(example.ours_text)
    (tmp_path / "sloth.yml").write_text(_rule_file_text(ROOT / "_gen" / name))
    if promtool.version[0] < 3 and not _legacy_names(ROOT / "_gen" / name):
        # Sloth's info_labels example writes label names such as plug-l1: Prometheus 3
        # accepts any UTF-8 name, 2.x rejects the rule file; ours is rejected alike
        for rule_file in ("ours.yml", "sloth.yml"):
            proc = subprocess.run([promtool.path, "check", "rules", rule_file], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=300, check=False)
            assert proc.returncode != 0 and "invalid label name" in proc.stdout + proc.stderr, \
                proc.stdout + proc.stderr
        return
    for rule_file, groups in (("ours.yml", example.ours), ("sloth.yml", example.theirs)):
        names = [str(g["name"]) for g in yaml.safe_load((tmp_path / rule_file).read_text())["groups"]]
        assert_promtool_passes(promtool, tmp_path, rule_file,
                               _promtool_file(example, groups, cases, rule_file, names))

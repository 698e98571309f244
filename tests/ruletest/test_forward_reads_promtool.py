"""Forward reads against real promtool: a rule reading a rule promtool evaluates after it.

Each rule file here has rules that read later rules (of their own group and of
later groups: Sloth's ``denominator_corrected_rules`` shape) through instant
selectors, range selectors, ``rate``, ``avg_over_time``, ``timestamp`` and
``offset``, over inputs with gaps and stale markers. Every recorded series is
queried at every step; promtool's answers (read back through impossible
expectations, see ``promtool_runs``) must equal ours bit for bit, and ours must
come from vectorised evaluation.

Group order: without ``group_eval_order`` promtool (2.42, 2.53, 3.5 alike:
``orderedGroups`` sorts Go map order with every rank 0) evaluates the groups of
a test in random order, so every file here lists all its groups there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from promtool_runs import Promtool, Sample, params, parse_output, run, same_samples

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo.rulefmt.testfile import parse_test_text
from pytest_selfslo.ruletest.runner import observe_group

MIN = 60_000
STEPS = 12

SLOTH_LIKE = {"groups": [
    {"name": "sli", "rules": [
        {"record": "sli:ratio_rate5m", "expr":
            "(corr:ratio5m * on() sum(rate(req_total{code=~\"5..\"}[5m]))) / sum(rate(req_total[5m]))"},
        {"record": "sli:ratio_rate10m", "expr":
            "(corr:ratio10m * on() sum(rate(req_total{code=~\"5..\"}[10m]))) / sum(rate(req_total[10m]))"},
    ]},
    {"name": "meta", "rules": [
        {"record": "burn:current", "expr": "sli:ratio_rate5m / 0.01"},
        {"record": "corr:ratio5m", "expr": "sum(rate(req_total[5m])) / sum(rate(req_total[10m]))"},
        {"record": "corr:ratio10m", "expr": "sum(rate(req_total[10m])) / sum(rate(req_total[10m]))"},
    ]},
]}

SHAPES = {"groups": [
    {"name": "first", "rules": [
        {"record": "early:plain", "expr": "late"},
        {"record": "early:count", "expr": "count_over_time(late[3m])"},
        {"record": "early:avg", "expr": "avg_over_time(late[2m])"},
        {"record": "early:rate", "expr": "rate(late_total[4m])"},
        {"record": "early:ts", "expr": "timestamp(late)"},
        {"record": "early:offset", "expr": "late offset 1m"},
        {"record": "early:absent", "expr": "absent(late)"},
        {"record": "early:same_group", "expr": "sum(mid) * 2"},
        {"record": "mid", "expr": "m * 3"},
    ]},
    {"name": "second", "rules": [
        {"record": "late", "expr": "m"},
        {"record": "late_total", "expr": "sum(c)"},
    ]},
]}

#: query_offset (2.53+): a group reading a later group with a smaller offset, and a group
#: reading an earlier group with a larger one (which the reader sees a step late too)
OFFSETS = {"groups": [
    {"name": "a", "query_offset": "1m", "rules": [
        {"record": "a:plain", "expr": "b"},
        {"record": "a:count", "expr": "count_over_time(b[3m])"},
        {"record": "a:ts", "expr": "timestamp(b)"},
    ]},
    {"name": "b", "rules": [{"record": "b", "expr": "m"}]},
    {"name": "c", "query_offset": "2m", "rules": [
        {"record": "c:plain", "expr": "a:plain"},
        {"record": "c:last", "expr": "last_over_time(a:ts[2m])"},
    ]},
    {"name": "d", "rules": [{"record": "d:sum", "expr": "sum(b) + sum(c:plain)"},
                            {"record": "d:e", "expr": "e"},
                            {"record": "d:e_count", "expr": "count_over_time(e[4m])"}]},
    {"name": "e", "query_offset": "1m", "rules": [{"record": "e", "expr": "m * 10"}]},
]}

INPUTS = [
    [{"series": 'req_total{code="200"}', "values": "0+60x12"},
     {"series": 'req_total{code="500"}', "values": "0+3x4 12+1x3 _ 20 22 25 30"}],
    [{"series": 'm{i="0"}', "values": "1 2 _ 4 stale 6 7 _ _ _ _ 12 13"},
     {"series": 'c', "values": "0 5 10 2 4 _ 9 11 stale 1 3 5 8"}],
]


def _names(doc: Any) -> list[str]:
    return [r["record"] for g in doc["groups"] for r in g["rules"]]


def _files(tmp: Path, offsets: bool) -> list[tuple[int, Path, list[str]]]:
    out = []
    docs = [(SLOTH_LIKE, INPUTS[0]), (SHAPES, INPUTS[1])]
    if offsets:
        docs.append((OFFSETS, INPUTS[1]))
    for n, (doc, inputs) in enumerate(docs):
        (tmp / f"c{n}_rules.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
        exprs = [f"{name} # c{n}e{j}" for j, name in enumerate(_names(doc))]
        test = {"rule_files": [f"c{n}_rules.yml"], "evaluation_interval": "1m",
                "group_eval_order": [g["name"] for g in doc["groups"]],
                "tests": [{"interval": "1m", "input_series": inputs, "promql_expr_test": [
                    {"expr": e, "eval_time": format_duration(k * MIN),
                     "exp_samples": [{"labels": f'sentinel{{case="{n}"}}', "value": -1}]}
                    for e in exprs for k in range(STEPS + 1)]}]}
        path = tmp / f"c{n}_test.json"
        path.write_text(json.dumps(test))
        out.append((n, path, exprs))
    return out


@pytest.mark.parametrize("binary", params())
def test_forward_reads_match_promtool(binary: Promtool, tmp_path: Path) -> None:
    files = _files(tmp_path, offsets=binary.version >= (2, 53, 0))
    output = parse_output(run(binary, [p.name for _, p, _ in files], tmp_path))
    compared = 0
    for n, path, exprs in files:
        test_file = parse_test_text(path.read_text(), str(path))
        ours = observe_group(test_file, test_file.groups[0], semantics=binary.semantics)
        assert ours.mode == "vectorised" and ours.error is None, (ours.mode, ours.error)
        theirs = output.get(n)
        assert theirs is not None, f"promtool printed nothing for case {n}"
        for j, expr in enumerate(exprs):
            for k in range(STEPS + 1):
                got = theirs.exprs.get((f"c{n}e{j}", format_duration(k * MIN)))
                assert isinstance(got, list), (expr, k, got)
                mine = ours.samples[(expr, k * MIN)]
                assert isinstance(mine, list), mine
                as_samples: list[Sample] = [(tuple(sorted(lab)), float(v))  # type: ignore[arg-type]
                                            for lab, v in mine]
                assert same_samples(as_samples, got), (binary.name, expr, f"{k}m", as_samples, got)
                compared += 1
    assert compared == sum(len(e) for _, _, e in files) * (STEPS + 1)

"""The promtool rule unit-test file format, parsed strictly with positions.

Same fields and defaults as ``promtool test rules`` (``cmd/promtool/unittest.go``):
``rule_files`` (globs relative to the test file), ``evaluation_interval``
(default 1m), ``group_eval_order``, ``fuzzy_compare`` and ``tests[]`` with
``interval`` (default: the evaluation interval), ``input_series``,
``alert_rule_test``, ``promql_expr_test``, ``external_labels``,
``external_url``, ``name`` and ``start_timestamp`` (RFC 3339 or unix seconds).
The YAML is read as promtool reads it, with ``yaml.v2`` ``UnmarshalStrict``
(:mod:`pytest_selfslo.rulefmt.goyaml`): unknown and repeated keys are errors,
``yes``/``on`` are bools, ``6E-01`` a float, merge keys apply in document
order. ``semantics`` names the promtool release whose fields and defaults
apply (:mod:`pytest_selfslo.rulefmt.releases`): ``fuzzy_compare`` from 3.5,
``start_timestamp`` from 3.9, and before 2.49 a group without ``interval``
loads every sample at 0s. Every error is a
:class:`~pytest_selfslo._core.errors.RuleTestFileError` of ``path:line:column:``
lines, in file order, each once.

Before anything is expanded or evaluated, a file is checked against its
:class:`~pytest_selfslo._core.limits.Limits` (file size, input samples, evaluation
steps, input series x steps) and PromQL size limits; exceeding one raises
:class:`~pytest_selfslo._core.errors.LimitError` at the offending line.
"""

from __future__ import annotations

import datetime as _dt
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo._core.errors import RuleTestFileError, SeriesNotationError
from pytest_selfslo._core.limits import DEFAULT_LIMITS, Limits, read_limited_text
from pytest_selfslo.promql.exprguard import check_expr
from pytest_selfslo.promql.series import (
    count_series_values,
    parse_series_labels,
    parse_series_line,
)
from pytest_selfslo.promql.values import Labels
from pytest_selfslo.rulefmt import releases
from pytest_selfslo.rulefmt.goyaml import Node, Problem, Reader, compose

__all__ = ["AlertCase", "ExpectedAlert", "ExpectedSample", "ExprCase", "InputSeries",
           "RuleTestFile", "TestGroup", "load_test_file", "parse_test_text"]



@dataclass(frozen=True)
class InputSeries:
    """``{series, values}``: one input series in expanding notation."""

    series: str
    values: str
    line: int
    #: labels and expanded values, parsed once when the file is loaded
    parsed: tuple[Labels, list[float | None]] = field(default=((), []), compare=False, repr=False)


@dataclass(frozen=True)
class ExpectedAlert:
    """One expected firing alert: labels (``alertname`` added) and annotations."""

    labels: dict[str, str]
    annotations: dict[str, str]


@dataclass(frozen=True)
class AlertCase:
    """``alert_rule_test`` item: which alerts of ``alertname`` fire at ``eval_time_ms``."""

    eval_time_ms: int
    alertname: str
    exp_alerts: tuple[ExpectedAlert, ...]
    line: int
    column: int = 1


@dataclass(frozen=True)
class ExpectedSample:
    """``exp_samples`` item; ``labels`` is the series descriptor text."""

    labels: str
    value: float
    line: int


@dataclass(frozen=True)
class ExprCase:
    """``promql_expr_test`` item: ``expr`` evaluated at ``eval_time_ms``."""

    expr: str
    eval_time_ms: int
    exp_samples: tuple[ExpectedSample, ...]
    line: int
    column: int = 1


@dataclass(frozen=True)
class TestGroup:
    """One item of ``tests``; ``index`` is its 0-based position in the file."""

    index: int
    name: str | None
    interval_ms: int
    input_series: tuple[InputSeries, ...]
    alert_cases: tuple[AlertCase, ...]
    expr_cases: tuple[ExprCase, ...]
    external_labels: dict[str, str]
    external_url: str
    start_ms: int
    line: int

    __test__ = False  # not a pytest test class

    @property
    def display_name(self) -> str:
        """The name promtool reports: ``name`` or ``unnamed#<index>``."""
        return self.name if self.name else f"unnamed#{self.index}"

    @property
    def max_eval_time_ms(self) -> int:
        """Latest ``eval_time`` of any test case (how long promtool evaluates)."""
        times = [c.eval_time_ms for c in self.alert_cases] + [c.eval_time_ms for c in self.expr_cases]
        return max(times, default=0)


@dataclass(frozen=True)
class RuleTestFile:
    """A parsed unit-test file; ``rule_files`` are already resolved and globbed."""

    path: str
    rule_files: tuple[str, ...]
    evaluation_interval_ms: int
    group_eval_order: tuple[str, ...]
    groups: list[TestGroup]
    fuzzy_compare: bool = False
    ignore_unknown_fields: bool = False
    #: rule-file patterns that matched nothing (promtool prints a warning)
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: the semantics it was read with (its rule files are read the same way)
    semantics: str = "3"
    #: the budgets the file was checked against; running it uses them too
    limits: Limits = DEFAULT_LIMITS

    __test__ = False


def load_test_file(path: str | Path, *, ignore_unknown_fields: bool = False,
                   semantics: str = "3", limits: Limits = DEFAULT_LIMITS) -> RuleTestFile:
    """Read and validate a promtool unit-test file (raises :class:`RuleTestFileError`).

    ``ignore_unknown_fields`` applies to the *rule files* it loads, like promtool's
    ``--ignore-unknown-fields``; the test file itself is always strict. A file over
    ``limits`` raises :class:`~pytest_selfslo.errors.LimitError`.
    """
    try:
        text = read_limited_text(path, "rule unit-test file", limits)
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleTestFileError(f"{path}: cannot read test file: {exc}") from exc
    return parse_test_text(text, str(path), ignore_unknown_fields=ignore_unknown_fields,
                           semantics=semantics, limits=limits)


def parse_test_text(text: str, path: str, *, ignore_unknown_fields: bool = False,
                    semantics: str = "3", limits: Limits = DEFAULT_LIMITS) -> RuleTestFile:
    """Parse unit-test file text; ``path`` locates errors and resolves ``rule_files``."""
    root, syntax = compose(text, path)
    if syntax is not None:
        raise RuleTestFileError(str(syntax))
    release = releases.release_of(semantics)
    reader = Reader(path, "v2")
    top = reader.mapping(root, "test file", releases.test_file_fields(release))

    def node(mapping: dict[str, tuple[Node, Node]], key: str) -> Node | None:
        return mapping[key][1] if key in mapping else None

    patterns = [reader.string(n, "rule_files item")
                for n in reader.sequence(node(top, "rule_files"), "rule_files")]
    eval_ms = reader.duration(node(top, "evaluation_interval"), "evaluation_interval") or 60_000
    interval_default = eval_ms if release >= releases.GROUP_INTERVAL_DEFAULT else 0
    order_nodes = reader.sequence(node(top, "group_eval_order"), "group_eval_order")
    order = [reader.string(n, "group_eval_order item") for n in order_nodes]
    seen: set[str] = set()
    for name, n in zip(order, order_nodes, strict=True):
        if name in seen:
            reader.problem(n, "group-order", f"group name repeated in evaluation order: {name}")
        seen.add(name)
    fuzzy = reader.boolean(node(top, "fuzzy_compare"), "fuzzy_compare")
    groups = [_group(reader, n, i, interval_default, release, limits)
              for i, n in enumerate(reader.sequence(node(top, "tests"), "tests"))]
    _raise(reader.problems)
    for group in groups:
        _check_budget(reader.path, group, eval_ms, limits)
    files, warnings = _resolve(path, patterns)
    return RuleTestFile(path, tuple(files), eval_ms, tuple(order), groups, fuzzy,
                        ignore_unknown_fields, tuple(warnings), semantics, limits)


def _check_budget(path: str, group: TestGroup, eval_ms: int, limits: Limits) -> None:
    """Evaluation steps and series x steps of a group, before anything is evaluated."""
    cases: list[AlertCase | ExprCase] = [*group.alert_cases, *group.expr_cases]
    if not cases or eval_ms <= 0:
        return
    last = max(cases, key=lambda c: c.eval_time_ms)
    steps = last.eval_time_ms // eval_ms + 1
    where = f"{path}:{last.line}:{last.column}"
    limits.check("max_steps", steps, f"evaluation steps (eval_time {_fmt(last.eval_time_ms)} "
                 f"at evaluation_interval {_fmt(eval_ms)}) in tests[{group.index}]", where)
    limits.check("max_samples", steps * len(group.input_series),
                 f"series x steps ({len(group.input_series):,} input series x {steps:,} "
                 f"evaluation steps) in tests[{group.index}]", where)


def _raise(problems: list[Problem]) -> None:
    """One :class:`RuleTestFileError` with every problem once, in file order."""
    if problems:
        ordered = sorted(set(problems), key=lambda p: (p.line, p.column, p.message))
        raise RuleTestFileError("\n".join(str(p) for p in ordered))


def _resolve(path: str, patterns: list[str]) -> tuple[list[str], list[str]]:
    base = os.path.dirname(path)
    files: list[str] = []
    warnings: list[str] = []
    for pattern in patterns:
        # Go's filepath.Join also cleans the path ("tests/../r.yml" -> "r.yml")
        full = pattern if not pattern or os.path.isabs(pattern) else \
            os.path.normpath(os.path.join(base, pattern))
        matches = sorted(glob.glob(full))
        if not matches:
            warnings.append(f"no file match pattern {full}")
        files.extend(matches)
    return files, warnings


def _group(reader: Reader, node: Node, index: int, interval_default: int,
           release: releases.Release, limits: Limits) -> TestGroup:
    fields = reader.mapping(node, f"tests[{index}]", releases.test_group_fields(release))

    def get(key: str) -> Node | None:
        return fields[key][1] if key in fields else None

    where = f"tests[{index}]"
    series: list[InputSeries] = []
    samples = 0
    for n in reader.sequence(get("input_series"), f"{where}.input_series"):
        f = reader.mapping(n, f"{where}.input_series item", ("series", "values"))
        text = reader.string(f["series"][1] if "series" in f else None, "series")
        values = reader.string(f["values"][1] if "values" in f else None, "values")
        check_expr(text, reader.where(f["series"][1] if "series" in f else n))
        samples += count_series_values(values)
        limits.check("max_samples", samples, f"input samples in {where}.input_series",
                     reader.where(f["values"][1] if "values" in f else n))
        try:
            parsed = parse_series_line(f"{text} {values}")
        except SeriesNotationError as exc:
            reader.problem(n, "series", f"{where}.input_series: {exc}")
            continue
        series.append(InputSeries(text, values, n.line, parsed))
    name_node = get("name")
    name = reader.string(name_node, f"{where}.name") if name_node is not None else ""
    return TestGroup(
        index=index, name=name or None,
        interval_ms=reader.duration(get("interval"), f"{where}.interval") or interval_default,
        input_series=tuple(series),
        alert_cases=tuple(_alert_case(reader, n, where, name)
                          for n in reader.sequence(get("alert_rule_test"), f"{where}.alert_rule_test")),
        expr_cases=tuple(_expr_case(reader, n, where, release)
                         for n in reader.sequence(get("promql_expr_test"), f"{where}.promql_expr_test")),
        external_labels=reader.string_map(get("external_labels"), f"{where}.external_labels"),
        external_url=reader.string(get("external_url"), f"{where}.external_url"),
        start_ms=_start(reader, get("start_timestamp"), where),
        line=node.line,
    )


def _alert_case(reader: Reader, node: Node, where: str, group_name: str) -> AlertCase:
    f = reader.mapping(node, f"{where}.alert_rule_test item", ("eval_time", "alertname", "exp_alerts"))
    eval_ms = reader.duration(f["eval_time"][1] if "eval_time" in f else None, "eval_time")
    alertname = reader.string(f["alertname"][1] if "alertname" in f else None, "alertname")
    if alertname == "":
        suffix = f" (in TestGroup {group_name})" if group_name else ""
        reader.problem(node, "alertname", "an item under alert_rule_test misses required attribute "
                                          f"alertname at eval_time {_fmt(eval_ms)}{suffix}")
    alerts = []
    for n in reader.sequence(f["exp_alerts"][1] if "exp_alerts" in f else None, "exp_alerts"):
        a = reader.mapping(n, "exp_alerts item", ("exp_labels", "exp_annotations"))
        labels = reader.string_map(a["exp_labels"][1] if "exp_labels" in a else None, "exp_labels")
        labels["alertname"] = alertname
        alerts.append(ExpectedAlert(
            labels, reader.string_map(a["exp_annotations"][1] if "exp_annotations" in a else None,
                                      "exp_annotations")))
    return AlertCase(eval_ms, alertname, tuple(alerts), node.line, node.column)


def _expr_case(reader: Reader, node: Node, where: str, release: releases.Release) -> ExprCase:
    f = reader.mapping(node, f"{where}.promql_expr_test item", ("expr", "eval_time", "exp_samples"))
    samples = []
    for n in reader.sequence(f["exp_samples"][1] if "exp_samples" in f else None, "exp_samples"):
        s = reader.mapping(n, "exp_samples item", releases.sample_fields(release))
        if "histogram" in s and reader.string(s["histogram"][1], "histogram"):
            reader.problem(s["histogram"][1], "histogram", "native histogram samples are not "
                           "supported by the embedded engine (float samples only)")
        samples.append(ExpectedSample(
            reader.string(s["labels"][1] if "labels" in s else None, "labels"),
            reader.number(s["value"][1] if "value" in s else None, "value"),
            n.line))
    expr_node = f["expr"][1] if "expr" in f else None
    expr = reader.string(expr_node, "expr")
    check_expr(expr, reader.where(expr_node or node))
    return ExprCase(expr,
                    reader.duration(f["eval_time"][1] if "eval_time" in f else None, "eval_time"),
                    tuple(samples), node.line, node.column)


def _start(reader: Reader, node: Node | None, where: str) -> int:
    text = reader.string(node, f"{where}.start_timestamp")
    if text == "":
        return 0
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    try:
        stamp = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        reader.problem(node, "start_timestamp", f"{where}.start_timestamp: cannot parse {text!r} "
                       "as RFC 3339 or unix seconds")
        return 0
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_dt.timezone.utc)
    return round(stamp.timestamp() * 1000)


def expected_labels(text: str) -> Labels:
    """Labels of an ``exp_samples`` descriptor (empty text: no labels)."""
    return () if text.strip() == "" else parse_series_labels(text)


def _fmt(ms: int) -> str:
    return format_duration(ms)

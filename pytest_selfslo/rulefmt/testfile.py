"""The promtool rule unit-test file format, parsed strictly with positions.

Same fields and defaults as ``promtool test rules`` (``cmd/promtool/unittest.go``):
``rule_files`` (globs relative to the test file), ``evaluation_interval``
(default 1m), ``group_eval_order``, ``fuzzy_compare`` and ``tests[]`` with
``interval`` (default: the evaluation interval), ``input_series``,
``alert_rule_test``, ``promql_expr_test``, ``external_labels``,
``external_url``, ``name`` and ``start_timestamp`` (RFC 3339 or unix seconds).
Unknown keys are errors, as with Go's ``yaml.UnmarshalStrict``; every error is a
:class:`~pytest_selfslo._core.errors.RuleTestFileError` starting ``path:line:column:``.
"""

from __future__ import annotations

import datetime as _dt
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pytest_selfslo._core.durations import format_duration
from pytest_selfslo._core.errors import RuleTestFileError, SeriesNotationError
from pytest_selfslo.promql.series import SeriesSample, parse_series_labels, parse_series_line
from pytest_selfslo.promql.values import Labels
from pytest_selfslo.rulefmt.yamlnodes import Problem, YamlReader, compose

__all__ = ["AlertCase", "ExpectedAlert", "ExpectedSample", "ExprCase", "InputSeries",
           "RuleTestFile", "TestGroup", "load_test_file", "parse_test_text"]

_FILE_FIELDS = ("rule_files", "evaluation_interval", "group_eval_order", "tests", "fuzzy_compare")
_GROUP_FIELDS = ("interval", "input_series", "alert_rule_test", "promql_expr_test",
                 "external_labels", "external_url", "name", "start_timestamp")


@dataclass(frozen=True)
class InputSeries:
    """``{series, values}``: one input series in expanding notation."""

    series: str
    values: str
    line: int
    #: labels and expanded values, parsed once when the file is loaded
    parsed: tuple[Labels, list[SeriesSample]] = field(default=((), []), compare=False, repr=False)


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


@dataclass(frozen=True)
class ExpectedSample:
    """``exp_samples`` item; ``labels`` is the series descriptor text."""

    labels: str
    value: float
    line: int
    #: the ``histogram:`` field (series notation of one native histogram); "" for a float
    histogram: str = ""


@dataclass(frozen=True)
class ExprCase:
    """``promql_expr_test`` item: ``expr`` evaluated at ``eval_time_ms``."""

    expr: str
    eval_time_ms: int
    exp_samples: tuple[ExpectedSample, ...]
    line: int


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

    __test__ = False


def load_test_file(path: str | Path, *, ignore_unknown_fields: bool = False) -> RuleTestFile:
    """Read and validate a promtool unit-test file (raises :class:`RuleTestFileError`).

    ``ignore_unknown_fields`` applies to the *rule files* it loads, like promtool's
    ``--ignore-unknown-fields``; the test file itself is always strict.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleTestFileError(f"{path}: cannot read test file: {exc}") from exc
    return parse_test_text(text, str(path), ignore_unknown_fields=ignore_unknown_fields)


def parse_test_text(text: str, path: str, *, ignore_unknown_fields: bool = False) -> RuleTestFile:
    """Parse unit-test file text; ``path`` locates errors and resolves ``rule_files``."""
    root, syntax = compose(text, path)
    if syntax is not None:
        raise RuleTestFileError(str(syntax))
    reader = YamlReader(path)
    top = reader.mapping(root, "test file", _FILE_FIELDS)

    def node(mapping: dict[str, tuple[yaml.Node, yaml.Node]], key: str) -> yaml.Node | None:
        return mapping[key][1] if key in mapping else None

    patterns = [reader.string(n, "rule_files item")
                for n in reader.sequence(node(top, "rule_files"), "rule_files")]
    eval_ms = reader.duration(node(top, "evaluation_interval"), "evaluation_interval") or 60_000
    order_nodes = reader.sequence(node(top, "group_eval_order"), "group_eval_order")
    order = [reader.string(n, "group_eval_order item") for n in order_nodes]
    seen: set[str] = set()
    for name, n in zip(order, order_nodes, strict=True):
        if name in seen:
            reader.problem(n, "group-order", f"group name repeated in evaluation order: {name}")
        seen.add(name)
    fuzzy = reader.boolean(node(top, "fuzzy_compare"), "fuzzy_compare")
    groups = [_group(reader, n, i, eval_ms)
              for i, n in enumerate(reader.sequence(node(top, "tests"), "tests"))]
    _raise(reader.problems)
    files, warnings = _resolve(path, patterns)
    return RuleTestFile(path, tuple(files), eval_ms, tuple(order), groups, fuzzy,
                        ignore_unknown_fields, tuple(warnings))


def _raise(problems: list[Problem]) -> None:
    if problems:
        ordered = sorted(problems, key=lambda p: (p.line, p.column))
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


def _group(reader: YamlReader, node: yaml.Node, index: int, eval_ms: int) -> TestGroup:
    fields = reader.mapping(node, f"tests[{index}]", _GROUP_FIELDS)

    def get(key: str) -> yaml.Node | None:
        return fields[key][1] if key in fields else None

    where = f"tests[{index}]"
    series: list[InputSeries] = []
    for n in reader.sequence(get("input_series"), f"{where}.input_series"):
        f = reader.mapping(n, f"{where}.input_series item", ("series", "values"))
        text = reader.string(f["series"][1] if "series" in f else None, "series")
        values = reader.string(f["values"][1] if "values" in f else None, "values")
        try:
            parsed = parse_series_line(f"{text} {values}")
        except SeriesNotationError as exc:
            reader.problem(n, "series", f"{where}.input_series: {exc}")
            continue
        series.append(InputSeries(text, values, n.start_mark.line + 1, parsed))
    name_node = get("name")
    name = reader.string(name_node, f"{where}.name") if name_node is not None else ""
    return TestGroup(
        index=index, name=name or None,
        interval_ms=reader.duration(get("interval"), f"{where}.interval") or eval_ms,
        input_series=tuple(series),
        alert_cases=tuple(_alert_case(reader, n, where, name)
                          for n in reader.sequence(get("alert_rule_test"), f"{where}.alert_rule_test")),
        expr_cases=tuple(_expr_case(reader, n, where)
                         for n in reader.sequence(get("promql_expr_test"), f"{where}.promql_expr_test")),
        external_labels=reader.string_map(get("external_labels"), f"{where}.external_labels"),
        external_url=reader.string(get("external_url"), f"{where}.external_url"),
        start_ms=_start(reader, get("start_timestamp"), where),
        line=node.start_mark.line + 1,
    )


def _alert_case(reader: YamlReader, node: yaml.Node, where: str, group_name: str) -> AlertCase:
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
    return AlertCase(eval_ms, alertname, tuple(alerts), node.start_mark.line + 1)


def _expr_case(reader: YamlReader, node: yaml.Node, where: str) -> ExprCase:
    f = reader.mapping(node, f"{where}.promql_expr_test item", ("expr", "eval_time", "exp_samples"))
    samples = []
    for n in reader.sequence(f["exp_samples"][1] if "exp_samples" in f else None, "exp_samples"):
        s = reader.mapping(n, "exp_samples item", ("labels", "value", "histogram"))
        samples.append(ExpectedSample(
            reader.string(s["labels"][1] if "labels" in s else None, "labels"),
            reader.number(s["value"][1] if "value" in s else None, "value"),
            n.start_mark.line + 1,
            reader.string(s["histogram"][1], "histogram") if "histogram" in s else ""))
    return ExprCase(reader.string(f["expr"][1] if "expr" in f else None, "expr"),
                    reader.duration(f["eval_time"][1] if "eval_time" in f else None, "eval_time"),
                    tuple(samples), node.start_mark.line + 1)


def _start(reader: YamlReader, node: yaml.Node | None, where: str) -> int:
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

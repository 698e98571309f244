"""Runner of Prometheus' ``.test`` scripts (``promql/promqltest`` format) on the embedded engine.

Commands: ``load <interval>`` (and ``load_with_nhcb``), ``clear``, ``eval instant
at <t> <query>``, ``eval range from <a> to <b> step <s> <query>`` (plus the
deprecated ``eval_fail``/``eval_warn``/``eval_info``/``eval_ordered`` forms),
with ``expect fail|warn|info [msg|regex: ...]``, ``expect no_warn|no_info``,
``expect ordered``, ``expect string "..."``, ``expect range vector from .. to ..
step ..``, ``expected_fail_message``/``expected_fail_regexp``.

Comparison follows ``promqltest``: the same series set, values equal within
a relative tolerance of 1e-6 (``util/almost.Equal``: both NaN counts as equal,
stale markers only equal each other), and instant queries are re-run in
range mode (``t-1m .. t+1m`` step 1m) whose middle step must agree, unless
the query uses ``start()``/``end()``/``range()``/``step()``.

Differences from Prometheus' runner, each deliberate:

* ``expect fail msg:`` passes when the expected message is *contained* in our
  error message (ours may add context such as the failing expression);
* evals are **skipped** (never passed) only for declared unsupported features,
  each with its reason: native histograms (``{{...}}`` samples or NHCB series
  in the query or the expectation), experimental functions the engine does not
  implement, and syntax that ``promql_parser`` 0.12 cannot parse yet
  (e.g. anchored/smoothed selectors, ``fill`` modifiers, duration arithmetic);
* ``warn``/``info`` annotations are matched without their ``(line:col)``
  position, which ``promql_parser`` does not expose.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pytest_selfslo._core.errors import PromQLError, SelfSloError, SeriesNotationError
from pytest_selfslo._core.goregex import GoRegexError, compile_go
from pytest_selfslo._core.limits import DEFAULT_LIMITS, Limits, read_limited_text
from pytest_selfslo.promql.astwalk import at_unsafe, selectors, unimplemented_experimental
from pytest_selfslo.promql.engine import Engine, _matchers, parse_expr
from pytest_selfslo.promql.exprguard import check_expr
from pytest_selfslo.promql.functions import FUNCTIONS
from pytest_selfslo.promql.semantics import Semantics, SemanticsLike
from pytest_selfslo.promql.series import (
    count_series_values,
    parse_series_labels,
    parse_series_values as _parse_values,
    split_series_line,
)
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import (
    METRIC_NAME,
    InstantSeries,
    InstantVector,
    Labels,
    RangeVector,
    ScalarValue,
    StringValue,
    Value,
    format_labels,
    is_stale_marker,
    labels_get,
)

__all__ = ["EvalOutcome", "PromQLTestFileResult", "almost_equal", "run_promqltest_file",
           "run_promqltest_text"]

_EPSILON = 1e-6
_MIN_NORMAL = 2.2250738585072014e-308
_PAT_LOAD = re.compile(r"^load(?:_(with_nhcb))?\s+(.+?)$")
_PAT_INSTANT = re.compile(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
_PAT_RANGE = re.compile(
    r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
_PAT_EXPECT_RANGE = re.compile(r"^expect range vector from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
_PAT_CONTEXT_FUNCS = re.compile(r"\b(range|step|start|end)\(")
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_DURATION_MS = (31_536_000_000, 604_800_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
_HISTOGRAM_FUNCS = re.compile(
    r"\bhistogram_(count|sum|avg|fraction|stddev|stdvar)\s*\(|\bhistogram_quantiles\s*\(")


def almost_equal(a: float, b: float, epsilon: float = _EPSILON) -> bool:
    """``util/almost.Equal``: relative tolerance, NaN equals NaN, stale only equals stale."""
    if is_stale_marker(a) or is_stale_marker(b):
        return is_stale_marker(a) and is_stale_marker(b)
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < epsilon * _MIN_NORMAL
    return diff / min(abs_sum, 1.7976931348623157e308) < epsilon


def _duration_ms(text: str, where: str, what: str) -> int:
    stripped = text.strip()
    if stripped == "0":
        return 0
    m = _DURATION.match(stripped)
    if not m or not stripped:
        raise PromQLTestScriptError(f"{where}: invalid {what} {text!r}: expected a duration "
                                    f"such as 1m or 30s")
    return sum(int(g) * mult for g, mult in zip(m.groups(), _DURATION_MS, strict=True) if g)


class PromQLTestScriptError(SelfSloError, ValueError):
    """A ``.test`` script itself is malformed (not a query failure)."""


@dataclass
class _Expect:
    kind: str                  # fail warn info no_warn no_info ordered
    match: str | None = None   # msg | regex
    text: str = ""


@dataclass
class _Eval:
    line: int
    query: str
    instant: bool
    start_ms: int
    end_ms: int
    step_ms: int
    expects: list[_Expect] = field(default_factory=list)
    series: list[tuple[Labels, list[float | None]]] = field(default_factory=list)
    scalar: float | None = None
    string: str | None = None
    range_vector: tuple[int, int, int] | None = None
    histogram_expected: bool = False

    def kinds(self, kind: str) -> list[_Expect]:
        return [e for e in self.expects if e.kind == kind]


@dataclass
class EvalOutcome:
    """Result of one ``eval`` command: ``status`` is ``pass``, ``fail`` or ``skip``."""

    line: int
    query: str
    status: str
    message: str = ""


@dataclass
class PromQLTestFileResult:
    """Per-file counts; ``outcomes`` keeps every eval with its message."""

    path: str
    outcomes: list[EvalOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def passed(self) -> int:
        return self.count("pass")

    @property
    def failed(self) -> int:
        return self.count("fail")

    @property
    def skipped(self) -> int:
        return self.count("skip")

    @property
    def pass_ratio(self) -> float:
        ran = self.passed + self.failed
        return 1.0 if ran == 0 else self.passed / ran

    def summary(self) -> str:
        return (f"{Path(self.path).name}: {self.passed} passed, {self.failed} failed, "
                f"{self.skipped} skipped ({self.pass_ratio:.1%} of non-skipped)")


def run_promqltest_file(path: str | Path, semantics: SemanticsLike = "3",
                        limits: Limits = DEFAULT_LIMITS) -> PromQLTestFileResult:
    """Run one ``.test`` script; every eval becomes an :class:`EvalOutcome`.

    A script over ``limits`` (file size, loaded samples, range steps) or the
    PromQL size limits raises :class:`~pytest_selfslo.errors.LimitError`.
    """
    text = read_limited_text(path, "PromQL test script", limits)
    return run_promqltest_text(text, str(path), semantics, limits)


def run_promqltest_text(text: str, name: str = "<string>", semantics: SemanticsLike = "3",
                        limits: Limits = DEFAULT_LIMITS) -> PromQLTestFileResult:
    """Run a ``.test`` script given as text.

    promqltest's engine enables delayed ``__name__`` removal (Prometheus 3 test
    scripts rely on it); so does the runner for a 3.x semantics.
    """
    return _Runner(name, semantics, limits).run(text)


class _Runner:
    def __init__(self, name: str, semantics: SemanticsLike,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.name = name
        self.limits = limits
        self.loaded = 0
        self.storage = Storage(limits)
        sem = Semantics.parse(semantics)
        if sem.major >= 3:
            sem = sem.with_options(delayed_name_removal=True)
        self.engine = Engine(self.storage, semantics=sem, limits=limits)
        self.histogram_names: set[str] = set()
        self.histogram_series: list[Labels] = []
        self.result = PromQLTestFileResult(name)

    def run(self, text: str) -> PromQLTestFileResult:
        lines = [("" if ln.strip().startswith("#") else ln.strip()) for ln in text.split("\n")]
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line:
                i += 1
                continue
            word = line.split(None, 1)[0].lower()
            if word == "clear":
                self.storage.clear()
                self.loaded = 0
                self.histogram_names.clear()
                self.histogram_series.clear()
                i += 1
            elif word.startswith("load"):
                i = self._load(lines, i)
            elif word.startswith("eval"):
                i = self._eval(lines, i)
            else:
                raise PromQLTestScriptError(f"{self.name}:{i + 1}: invalid command {line!r}")
        return self.result

    # ------------------------------------------------------------------ load
    def _load(self, lines: list[str], i: int) -> int:
        m = _PAT_LOAD.match(lines[i])
        if not m:
            raise PromQLTestScriptError(
                f"{self.name}:{i + 1}: invalid load command (load[_with_nhcb] <step:duration>)")
        interval = _duration_ms(m.group(2), f"{self.name}:{i + 1}", "load step")
        with_nhcb = m.group(1) == "with_nhcb"
        i += 1
        while i < len(lines) and lines[i]:
            try:
                selector, values = split_series_line(lines[i])
                labels = parse_series_labels(selector)
            except SeriesNotationError as exc:
                raise PromQLTestScriptError(f"{self.name}:{i + 1}: {exc}") from None
            name = labels_get(labels, METRIC_NAME)
            if "{{" in values:
                self.histogram_names.add(name)
                self.histogram_series.append(labels)
            else:
                try:
                    self.loaded += count_series_values(values)
                    self.limits.check("max_samples", self.loaded, "loaded samples",
                                      f"{self.name}:{i + 1}")
                    parsed = _parse_values(values)
                except SeriesNotationError as exc:
                    raise PromQLTestScriptError(f"{self.name}:{i + 1}: {exc}") from None
                ts = [k * interval for k, v in enumerate(parsed) if v is not None]
                self.storage.add_samples(labels, ts, [v for v in parsed if v is not None])
                if with_nhcb:
                    for suffix in ("_bucket", "_sum", "_count"):
                        if name.endswith(suffix):
                            self.histogram_names.add(name[: -len(suffix)])
                            base = tuple(kv for kv in labels if kv[0] not in ("le", METRIC_NAME))
                            self.histogram_series.append(
                                tuple(sorted((*base, (METRIC_NAME, name[: -len(suffix)])))))
            i += 1
        return i

    # ------------------------------------------------------------------ eval parsing
    def _eval(self, lines: list[str], i: int) -> int:
        head = lines[i]
        start = i
        mi, mr = _PAT_INSTANT.match(head), _PAT_RANGE.match(head)
        if mi is None and mr is None:
            raise PromQLTestScriptError(f"{self.name}:{i + 1}: invalid evaluation command {head!r}")
        if mi is not None:
            mod, at, query = mi.group(1), mi.group(2) or "0", mi.group(3)
            t = _duration_ms(at, f"{self.name}:{i + 1}", "eval time")
            ev = _Eval(i + 1, query, True, t, t, 0)
        else:
            assert mr is not None
            mod, query = mr.group(1), mr.group(5)
            where = f"{self.name}:{i + 1}"
            ev = _Eval(i + 1, query, False, _duration_ms(mr.group(2), where, "range start"),
                       _duration_ms(mr.group(3), where, "range end"),
                       _duration_ms(mr.group(4), where, "range step"))
        where = f"{self.name}:{start + 1}"
        check_expr(query, where)
        if not ev.instant and ev.step_ms > 0:
            self.limits.check("max_steps", (ev.end_ms - ev.start_ms) // ev.step_ms + 1,
                              "range evaluation steps", where)
        if mod:
            ev.expects.append(_Expect(mod))
        i += 1
        fail_text: tuple[str, str] | None = None
        while i < len(lines) and lines[i]:
            line = lines[i]
            i += 1
            if line.startswith("expected_fail_message"):
                fail_text = ("msg", line[len("expected_fail_message"):].strip())
                break
            if line.startswith("expected_fail_regexp"):
                fail_text = ("regex", line[len("expected_fail_regexp"):].strip())
                break
            if line.startswith("expect range vector"):
                m = _PAT_EXPECT_RANGE.match(line)
                if not m:
                    raise PromQLTestScriptError(
                        f"{self.name}:{i}: invalid range vector definition {line!r}: expected "
                        f"'expect range vector from <t> to <t> step <d>'")
                ev.range_vector = (_duration_ms(m.group(1), f"{self.name}:{i}", "from"),
                                   _duration_ms(m.group(2), f"{self.name}:{i}", "to"),
                                   _duration_ms(m.group(3), f"{self.name}:{i}", "step"))
                continue
            if line.startswith("expect string"):
                ev.string = _unquote(line[len("expect string"):].strip())
                continue
            if line.split(" ")[0] == "expect":
                ev.expects.append(_parse_expect(line, f"{self.name}:{i}"))
                continue
            number = _number(line)
            if number is not None:
                ev.scalar = number
                break
            try:
                selector, values = split_series_line(line)
                if "{{" in values:
                    ev.histogram_expected = True
                    continue
                ev.series.append((parse_series_labels(selector), _parse_values(values)))
            except SeriesNotationError as exc:
                raise PromQLTestScriptError(f"{self.name}:{i}: {exc}") from None
        if fail_text is not None:
            for e in ev.expects:
                if e.kind == "fail":
                    e.match, e.text = fail_text
        self.result.outcomes.append(self._run_eval(ev, start))
        return i

    # ------------------------------------------------------------------ eval running
    def _skip_reason(self, ev: _Eval) -> str | None:
        if ev.histogram_expected:
            return "native histograms are not supported (histogram samples expected)"
        if _HISTOGRAM_FUNCS.search(ev.query):
            return "native histograms are not supported (native-histogram function)"
        return None

    def _reads_histograms(self, node: Any) -> str | None:
        """A selector in ``node`` that matches a series loaded with native-histogram samples."""
        for selector in selectors(node):
            try:
                matchers = _matchers(selector)
            except PromQLError:
                continue
            for labels in self.histogram_series:
                if all(m.matches(labels_get(labels, m.name)) for m in matchers):
                    return format_labels(labels)
        return None

    def _run_eval(self, ev: _Eval, index: int) -> EvalOutcome:
        reason = self._skip_reason(ev)
        if reason:
            return EvalOutcome(ev.line, ev.query, "skip", reason)
        try:
            node = parse_expr(ev.query)
        except PromQLError as exc:
            if ev.kinds("fail"):
                return self._check_failure(ev, exc)
            return EvalOutcome(ev.line, ev.query, "skip",
                               f"promql-parser cannot parse this syntax: {exc}")
        histogram = self._reads_histograms(node)
        if histogram:
            return EvalOutcome(ev.line, ev.query, "skip", "native histograms are not supported "
                               f"(a selector matches native-histogram series {histogram})")
        experimental = unimplemented_experimental(node, FUNCTIONS)
        if experimental:
            return EvalOutcome(ev.line, ev.query, "skip",
                               f"experimental function {experimental}() is not implemented")
        problem = self._attempt(ev, lambda: self._execute(ev, node))
        if problem is None and ev.instant and not at_unsafe(node):
            t = ev.range_vector[1] if ev.range_vector else ev.start_ms
            for et in ([-1000, 0, 1000] if t == 0 else [-10 * t, 0, t // 5, t, 10 * t]):
                problem = self._attempt(
                    ev, functools.partial(self._instant_problem, ev, node, et, pin_at_ms=t))
                if problem:
                    problem = f"re-run with @ {t / 1000:g} on every selector at t={et}ms: {problem}"
                    break
        return EvalOutcome(ev.line, ev.query, "fail" if problem else "pass", problem or "")

    def _attempt(self, ev: _Eval, run: Callable[[], str | None]) -> str | None:
        """Run one variant of an eval; the failure message, or ``None`` when it passes."""
        try:
            message = run()
        except PromQLError as exc:
            if ev.kinds("fail"):
                return self._failure_problem(ev, exc)
            return f"unexpected error: {exc}"
        except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError) as exc:
            return f"engine crashed: {type(exc).__name__}: {exc}"
        if message is None and ev.kinds("fail"):
            return "expected the query to fail, but it succeeded"
        return message

    def _failure_problem(self, ev: _Eval, exc: Exception) -> str | None:
        text = str(exc)
        for e in ev.kinds("fail"):
            if e.match == "msg" and e.text not in text:
                return f"expected error message {e.text!r}, got {text!r}"
            if e.match == "regex" and not compile_go(e.text).search(text):
                return f"expected error matching {e.text!r}, got {text!r}"
        return None

    def _check_failure(self, ev: _Eval, exc: Exception) -> EvalOutcome:
        problem = self._failure_problem(ev, exc)
        return EvalOutcome(ev.line, ev.query, "fail" if problem else "pass", problem or "")

    def _instant_problem(self, ev: _Eval, node: Any, t: int,
                         pin_at_ms: int | None = None) -> str | None:
        result = self.engine.instant(node, t, pin_at_ms=pin_at_ms)
        return self._annotations(ev) or self._compare_instant(ev, result, t)

    def _execute(self, ev: _Eval, node: Any) -> str | None:
        if ev.instant:
            t = ev.range_vector[1] if ev.range_vector else ev.start_ms
            problem = self._instant_problem(ev, node, t)
            if problem or ev.range_vector or ev.string is not None:
                return problem
            if _PAT_CONTEXT_FUNCS.search(ev.query) or ev.kinds("fail") or ev.kinds("ordered"):
                return None
            ranged = self.engine.range(node, t - 60_000, t + 60_000, 60_000)
            problem = self._compare_instant(ev, _step_slice(ranged, 1), t, ordered=False)
            return f"in range mode (middle step): {problem}" if problem else None
        result = self.engine.range(node, ev.start_ms, ev.end_ms, ev.step_ms)
        return self._annotations(ev) or self._compare_range(ev, result)

    def _annotations(self, ev: _Eval) -> str | None:
        """Check ``expect warn|info|no_warn|no_info`` against the query's annotations.

        Every expect line must match an annotation, and once a kind has expect
        lines every annotation of that kind must be matched by one of them.
        """
        notes = self.engine.annotations
        for kind, prefix in (("warn", "PromQL warning:"), ("info", "PromQL info:")):
            got = [n for n in notes if n.startswith(prefix)]
            expects = ev.kinds(kind)
            if expects and not got:
                return f"expected a {kind} annotation, got none"
            for e in expects:
                if not any(_annotation_matches(e, g) for g in got):
                    return f"expected {kind} {e.match or ''} {e.text!r}, got {got}"
            for g in got if expects else ():
                if not any(_annotation_matches(e, g) for e in expects):
                    return f"unexpected {kind} annotation {g!r} (not matched by any expect line)"
            if ev.kinds("no_" + kind) and got:
                return f"expected no {kind} annotation, got {got}"
        return None

    def _compare_instant(self, ev: _Eval, result: Value, t: int,
                         ordered: bool | None = None) -> str | None:
        if ev.string is not None:
            if not isinstance(result, StringValue):
                return f"expected string {ev.string!r}, got {type(result).__name__}"
            return None if result.value == ev.string else (
                f'expected string "{ev.string}" but got "{result.value}"')
        if ev.scalar is not None:
            if not isinstance(result, ScalarValue):
                return f"expected scalar result, but got {type(result).__name__}"
            got = float(result.values[0])
            return None if almost_equal(ev.scalar, got) else f"expected scalar {ev.scalar} but got {got}"
        if isinstance(result, ScalarValue):
            return "expected vector or matrix result, but got scalar"
        if isinstance(result, RangeVector):
            if ev.range_vector is None:
                return "got a range vector but the eval has no 'expect range vector'"
            a, b, step = ev.range_vector
            actual = {rs.labels: (rs.window(0)) for rs in result.series}
            return _compare_series(ev, {k: (v[0].tolist(), v[1].tolist())
                                        for k, v in actual.items()}, a, b, step)
        if not isinstance(result, InstantVector):
            return f"unexpected result type {type(result).__name__}"
        expected = {labels: values for labels, values in ev.series}
        want_order = ev.kinds("ordered") if ordered is None else ordered
        position = {labels: k for k, (labels, _) in enumerate(ev.series)}
        seen: set[Labels] = set()
        for pos, s in enumerate(result.series):
            if not s.present[0]:
                continue
            got = float(s.values[0])
            if s.labels not in expected:
                return f"unexpected metric {format_labels(s.labels)} in result, has value {got}"
            if want_order and position[s.labels] != len(seen):
                return (f"expected metric {format_labels(s.labels)} at position "
                        f"{position[s.labels] + 1} but was at {pos + 1}")
            want = expected[s.labels][0]
            if want is None or not almost_equal(want, got):
                return f"expected {want} for {format_labels(s.labels)} but got {got}"
            seen.add(s.labels)
        for labels in expected:
            if labels not in seen:
                return f"expected metric {format_labels(labels)} with {expected[labels]} not found"
        return None

    def _compare_range(self, ev: _Eval, result: Value) -> str | None:
        steps = np.arange(ev.start_ms, ev.end_ms + 1, ev.step_ms, dtype=np.int64)
        if ev.scalar is not None:
            return "expected scalar result, but query returned a matrix"
        if ev.kinds("ordered"):
            return "expected ordered result, but query returned a matrix"
        actual: dict[Labels, tuple[list[int], list[float]]] = {}
        if isinstance(result, ScalarValue):
            actual[()] = (steps.tolist(), result.values.tolist())
        elif isinstance(result, InstantVector):
            for s in result.series:
                idx = np.flatnonzero(s.present)
                if len(idx):
                    actual[s.labels] = (steps[idx].tolist(), s.values[idx].tolist())
        else:
            return f"unexpected result type {type(result).__name__}"
        return _compare_series(ev, actual, ev.start_ms, ev.end_ms, ev.step_ms)


def _compare_series(ev: _Eval, actual: dict[Labels, tuple[list[int], list[float]]],
                    start: int, end: int, step: int) -> str | None:
    expected = {labels: values for labels, values in ev.series}
    for labels, (ts, vs) in actual.items():
        if labels not in expected:
            return f"unexpected metric {format_labels(labels)} in result, has {list(zip(ts, vs, strict=True))}"
        want = [(start + k * step, v) for k, v in enumerate(expected[labels]) if v is not None]
        if want and want[-1][0] > end:
            return (f"expected {len(expected[labels])} points for {format_labels(labels)}, but "
                    f"query time range cannot return this many points")
        if len(want) != len(ts):
            return (f"expected {len(want)} float points for {format_labels(labels)}, "
                    f"but got {list(zip(ts, vs, strict=True))}")
        for k, ((wt, wv), gt, gv) in enumerate(zip(want, ts, vs, strict=True)):
            if wt != gt:
                return (f"expected float value at index {k} for {format_labels(labels)} to have "
                        f"timestamp {wt}, but it had timestamp {gt}")
            if not almost_equal(wv, gv):
                return (f"expected float value at index {k} (t={gt}) for {format_labels(labels)} "
                        f"to be {wv}, but got {gv}")
    for labels in expected:
        if labels not in actual:
            return f"expected metric {format_labels(labels)} not found"
    return None


def _step_slice(result: Value, k: int) -> Value:
    """The ``k``-th step of a range-query result, as an instant result."""
    if isinstance(result, ScalarValue):
        return ScalarValue(result.values[k:k + 1])
    if isinstance(result, InstantVector):
        return InstantVector([InstantSeries(s.labels, s.values[k:k + 1], s.present[k:k + 1])
                              for s in sorted(result.series, key=lambda s: s.labels)])
    return result


def _parse_expect(line: str, where: str) -> _Expect:
    m = re.match(r"^expect\s+(fail|warn|info|no_warn|no_info|ordered)\b\s*(?:(msg|regex)\s*:\s*(.*))?$",
                 line)
    if not m:
        raise PromQLTestScriptError(
            f"{where}: invalid expect line {line!r}: expected 'expect <fail|warn|info|no_warn|"
            f"no_info|ordered> [msg|regex: <text>]'")
    text = m.group(3) or ""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    expect = _Expect(m.group(1), m.group(2), text.strip())
    if expect.match == "regex":
        for pattern in (expect.text, _strip_pos_regex(expect.text)):
            try:
                compile_go(pattern)
            except GoRegexError as exc:
                raise PromQLTestScriptError(f"{where}: invalid expect regex {pattern!r}: {exc}"
                                            ) from None
    return expect


def _annotation_matches(expect: _Expect, got: str) -> bool:
    """An expect line against one annotation, ignoring the ``(line:col)`` position."""
    if expect.match == "msg":
        return _strip_pos(expect.text) == _strip_pos(got)
    if expect.match == "regex":
        return compile_go(_strip_pos_regex(expect.text)).search(got)
    return True


def _strip_pos_regex(pattern: str) -> str:
    """Drop a trailing ``\\(1:5\\)``/``\\([0-9]+:[0-9]+\\)`` position from an annotation regex."""
    return re.sub(r"\s*\\\((?:\[0-9\]\+|\d+):(?:\[0-9\]\+|\d+)\\\)$", "", pattern)


def _strip_pos(text: str) -> str:
    return re.sub(r"\s*\(\d+:\d+\)$", "", text.strip())


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"`":
        body = text[1:-1]
        return body if text[0] == "`" else body.encode("utf-8").decode("unicode_escape")
    raise PromQLTestScriptError(f"expected string literal not valid: {text!r}")


def _number(line: str) -> float | None:
    try:
        values = _parse_values(line)
    except SeriesNotationError:
        return None
    if len(values) == 1 and values[0] is not None and " " not in line:
        return values[0]
    return None

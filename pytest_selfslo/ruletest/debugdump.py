"""What ``selfslo test-rules --debug`` prints per test group: promtool 3.x's ``DEBUG:`` lines.

promtool (``cmd/promtool/unittest.go``, 3.0+) prints ``DEBUG: Starting test
NAME``, then, after the checks, every sample in the group's storage (the input
series and what the rules wrote, ``ALERTS`` included) as the instant query
``{__name__=~".+"}[T]`` at ``T`` = the last ``eval_time`` plus one second,
truncated to a whole second, in Go's ``Matrix.String()`` form (``labels =>``
then ``value @[ms]`` lines, values in Go's shortest ``%f``), then ``DEBUG: Test
NAME finished, took 1.5ms``. The query runs with the test's semantics, so
under 3.x the sample at exactly ``now - T`` is left out (left-open windows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pytest_selfslo._core.errors import PromQLError
from pytest_selfslo._core.gofmt import go_quote
from pytest_selfslo.promql.aggregations import format_go_float
from pytest_selfslo.promql.engine import parse_expr
from pytest_selfslo.promql.histogram import FloatHistogram
from pytest_selfslo.promql.values import Labels, RangeVector

if TYPE_CHECKING:
    from pytest_selfslo.alerting.ruleeval import GroupRun
    from pytest_selfslo.rulefmt.testfile import TestGroup

__all__ = ["DEBUG_SELECTOR", "debug_dump", "go_duration"]

#: the selector promtool dumps (its range is added per group)
DEBUG_SELECTOR = '{__name__=~".+"}'


def dump_range_ms(group: TestGroup) -> int:
    """The last eval_time plus 1s, truncated to a whole second (promtool's rounding up)."""
    return (group.max_eval_time_ms + 1000) // 1000 * 1000


def debug_expr(group: TestGroup) -> str:
    """``{__name__=~".+"}[2m1s]``: the query of the dump."""
    return f"{DEBUG_SELECTOR}[{go_duration(dump_range_ms(group) / 1000)}]"


def _go_labels(labels: Labels) -> str:
    """Go's ``labels.Labels.String()``: every label, ``__name__`` too, sorted by name."""
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(labels)) + "}"


def debug_dump(run: GroupRun, group: TestGroup) -> list[str]:
    """promtool's ``DEBUG: Dump of all data ...`` lines for a finished group run."""
    expr = debug_expr(group)
    at = dump_range_ms(group)
    try:
        value = run.engine.evaluate(parse_expr(expr), np.array([group.start_ms + at],
                                                               dtype=np.int64))
    except PromQLError as exc:
        return [f"DEBUG: Failed query exec, expr: {expr!r}, err: {exc}"]
    if not isinstance(value, RangeVector):
        return [f"DEBUG: Got unexpected type {type(value).__name__}"]
    lines = [f"DEBUG: Dump of all data (input_series and rules) at {go_duration(at / 1000)}:"]
    if not value.series:  # Go prints the empty matrix as an empty line
        lines.append("")
    for series in sorted(value.series, key=lambda s: s.labels):
        ts, vs = series.window(0)
        lo = int(series.lo[0])
        lines.append(_go_labels(series.labels) + " =>")
        floats, hists = [], []
        for i, (t, v) in enumerate(zip(ts.tolist(), vs.tolist(), strict=True)):
            h = series.h[lo + i] if series.h is not None else None
            if isinstance(h, FloatHistogram):
                hists.append(f"{h.go_string()} @[{t}]")
            else:
                floats.append(f"{format_go_float(v)} @[{t}]")
        lines.extend(floats + hists)  # Go prints the floats first, then the histograms
    return lines


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` of a non-negative duration (``21.077402ms``, ``1.5s``)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return _trim(f"{ns / 1e3:.3f}") + "µs"
    if ns < 1_000_000_000:
        return _trim(f"{ns / 1e6:.6f}") + "ms"
    whole_minutes, rest = divmod(ns, 60_000_000_000)
    hours, minutes = divmod(whole_minutes, 60)
    secs = _trim(f"{rest / 1e9:.9f}") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    return f"{minutes}m{secs}" if minutes else secs


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text

"""Native histograms in operators, and the annotations Prometheus attaches to them.

:func:`elem_binop` is Prometheus' ``vectorElemBinop`` for one pair of samples
where at least one side is a histogram: ``h + h``, ``h - h`` (a gauge), ``h * f``,
``f * h``, ``h / f``, ``h == h``/``h != h`` (exact equality); every other
combination drops the sample with the info "incompatible sample types
encountered for binary operator". The annotation texts are those of
``util/annotations`` (without the ``(line:col)`` position).
"""

from __future__ import annotations

from pytest_selfslo.promql.histogram import GAUGE_TYPE, FloatHistogram, IncompatibleSchemaError
from pytest_selfslo.promql.semantics import DEFAULT_SEMANTICS, Semantics

__all__ = [
    "bucket_layout_warning",
    "elem_binop",
    "ignored_in_aggregation_info",
    "mismatched_custom_info",
    "mixed_custom_warning",
    "mixed_floats_histograms_warning",
    "not_counter_warning",
    "not_gauge_warning",
    "reset_collision_warning",
]

_OPNAMES = {"+": "addition", "-": "subtraction"}


def incompatible_types_info(lhs: str, op: str, rhs: str) -> str:
    return (f'PromQL info: incompatible sample types encountered for binary operator "{op}": '
            f"{lhs} {op} {rhs}")


def bucket_layout_warning(op: str) -> str:
    return f"PromQL warning: incompatible bucket layout encountered for binary operator {op}"


def reset_collision_warning(operation: str) -> str:
    return f"PromQL warning: conflicting counter resets during histogram {operation}"


def mismatched_custom_info(operation: str) -> str:
    return f"PromQL info: mismatched custom buckets were reconciled during {operation}"


def mixed_floats_histograms_warning(metric: str) -> str:
    return (f"PromQL warning: encountered a mix of histograms and floats for metric name "
            f'"{metric}"')


def mixed_floats_histograms_agg_warning(aggregation: str) -> str:
    return f"PromQL warning: encountered a mix of histograms and floats for {aggregation} aggregation"


def mixed_custom_warning(metric: str) -> str:
    return ("PromQL warning: vector contains a mix of histograms with exponential and custom "
            f'buckets schemas for metric name "{metric}"')


def incompatible_custom_warning(metric: str) -> str:
    return ("PromQL warning: vector contains histograms with incompatible custom buckets for "
            f'metric name "{metric}"')


def not_counter_warning(metric: str) -> str:
    return f'PromQL warning: this native histogram metric is not a counter: "{metric}"'


def not_gauge_warning(metric: str) -> str:
    return f'PromQL warning: this native histogram metric is not a gauge: "{metric}"'


def ignored_in_aggregation_info(aggregation: str) -> str:
    return f"PromQL info: ignored histogram in {aggregation} aggregation"


def ignored_in_mixed_range_info(metric: str) -> str:
    return ("PromQL info: ignored histograms in a range containing both floats and histograms "
            f'for metric name "{metric}"')


def elem_binop(op: str, lf: float, rf: float, lh: FloatHistogram | None,
               rh: FloatHistogram | None, semantics: Semantics = DEFAULT_SEMANTICS,
               ) -> tuple[float, FloatHistogram | None, bool, list[str]]:
    """One sample pair with at least one histogram: (float, histogram, keep, annotations).

    An incompatible pair comes back with annotations and ``keep`` False and is
    dropped even by a ``bool`` comparison (``errored``).
    """
    gauge = semantics.histogram_gauge_ops
    if lh is None and rh is not None:
        if op == "*":
            return 0.0, rh.mul(lf, gauge).compact(), True, []
        return 0.0, None, False, [incompatible_types_info("float", op, "histogram")]
    if lh is not None and rh is None:
        if op == "*":
            return 0.0, lh.mul(rf, gauge).compact(), True, []
        if op == "/":
            return 0.0, lh.div(rf, gauge).compact(), True, []
        return 0.0, None, False, [incompatible_types_info("histogram", op, "float")]
    assert lh is not None and rh is not None
    if op in ("+", "-"):
        reconcile = semantics.nhcb_reconcile
        try:
            res, collision, reconciled = (lh.add(rh, reconcile) if op == "+"
                                          else lh.sub(rh, reconcile))
        except IncompatibleSchemaError:
            return 0.0, None, False, [bucket_layout_warning(op)]
        notes = []
        if op == "-" and gauge:
            res = res.with_hint(GAUGE_TYPE)
        if collision and gauge:
            notes.append(reset_collision_warning(_OPNAMES[op]))
        if reconciled:
            notes.append(mismatched_custom_info(_OPNAMES[op]))
        return 0.0, res.compact(), True, notes
    if op in ("==", "!="):
        equal = lh.compact().matches(rh.compact())
        return 0.0, lh, equal if op == "==" else not equal, []
    return 0.0, None, False, [incompatible_types_info("histogram", op, "histogram")]

"""The PromQL function table: ``FUNCTIONS: dict[str, Function]``.

The analogue of Prometheus' ``FunctionCalls`` map in ``promql/functions.go``.
The engine evaluates a call's arguments in declared order (types come from
``promql_parser``'s signature) and calls
``FUNCTIONS[name](ctx, args, arg_exprs)``; ``arg_exprs`` are the AST nodes,
needed where Prometheus inspects the syntax (``absent``'s labels come from
the selector's matchers).

Implementations live in modules split by concern:

* :mod:`.rate`       rate increase delta irate idelta deriv predict_linear
                        changes resets double_exponential_smoothing
* :mod:`.over_time`  the ``*_over_time`` family, absent_over_time
* :mod:`.mathops`       element-wise math and trig, clamp*, round, scalar,
                        vector, pi, max_of/min_of, start/end/range/step
* :mod:`.timefns`       time, timestamp and the UTC calendar functions
* :mod:`.labels`     label_replace label_join sort* absent
* :mod:`.histograms`  histogram_quantile(s)/histogram_fraction (classic buckets)

Semantics (``EvalContext.semantics``): "3" follows Prometheus 3.x; "2"
switches every function-level difference to Prometheus 2.x:

* rate/increase extrapolation: the counter zero point is applied before the
  1.1-interval threshold (3.x: after capping) (:mod:`.rate`);
* ``avg_over_time``: Kahan-compensated incremental mean (3.x: direct mean)
  (:mod:`.over_time`);
* ``label_replace``/``label_join``: label names must match
  ``[a-zA-Z_][a-zA-Z0-9_]*`` (3.x: any UTF-8), and ``.`` in the regex does not
  match a newline (3.x wraps it in ``(?s:...)``) (:mod:`.labels`);
* ``histogram_fraction`` ignores classic buckets (2.x: native histograms only).

Against promtool 2.42, 2,686 instant evaluations of every function on
counters with resets, gaps, NaN, offsets, ``@`` and subqueries agree bit for
bit, except trigonometric/hyperbolic functions (numpy uses the C library,
Go its own pure-Go math: last-ulp differences) and ``holt_winters``, which
``promql_parser`` no longer parses. ``ln``/``log2``/``log10`` reproduce Go's
fdlibm-based logarithm bit for bit (Go's ``log10(1e15)`` is 14.999999999999998).

Declared unsupported (:data:`UNSUPPORTED`, each raises
:class:`~pytest_selfslo._core.errors.PromQLUnsupportedError` with the reason): the
native-histogram functions and the experimental ``info()``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import promql_parser

from pytest_selfslo._core.errors import PromQLUnsupportedError
from pytest_selfslo.promql.functions import (
    labels as fn_labels,
    mathops as fn_math,
    rate as fn_rate,
    timefns as fn_time,
)
from pytest_selfslo.promql.functions.histograms import (
    NATIVE_ONLY,
    fn_histogram_fraction,
    fn_histogram_quantile,
    fn_histogram_quantiles,
    native_only,
)
from pytest_selfslo.promql.functions.over_time import OVER_TIME
from pytest_selfslo.promql.values import EvalContext, Value

Function = Callable[[EvalContext, list[Value], list[promql_parser.Expr]], Value]
_Impl = Callable[[EvalContext, Sequence[Value], Sequence[promql_parser.Expr]], Value]


# === info(v Vector, data_labels Vector) Vector ===
def fn_info(ctx: EvalContext, args: Sequence[Value], exprs: Sequence[promql_parser.Expr]) -> Value:
    """Experimental ``info()`` joins ``target_info`` metadata; not supported."""
    raise PromQLUnsupportedError(
        "info(): this experimental function is not supported by the embedded engine; "
        "join target_info explicitly with '* on(job, instance) group_left(...) target_info'")


def _table() -> dict[str, _Impl]:
    table: dict[str, _Impl] = {
        "rate": fn_rate.fn_rate,
        "increase": fn_rate.fn_increase,
        "delta": fn_rate.fn_delta,
        "irate": fn_rate.fn_irate,
        "idelta": fn_rate.fn_idelta,
        "deriv": fn_rate.fn_deriv,
        "predict_linear": fn_rate.fn_predict_linear,
        "changes": fn_rate.fn_changes,
        "resets": fn_rate.fn_resets,
        "double_exponential_smoothing": fn_rate.fn_double_exponential_smoothing,
        "clamp": fn_math.fn_clamp,
        "clamp_min": fn_math.fn_clamp_min,
        "clamp_max": fn_math.fn_clamp_max,
        "round": fn_math.fn_round,
        "scalar": fn_math.fn_scalar,
        "vector": fn_math.fn_vector,
        "pi": fn_math.fn_pi,
        "max_of": fn_math.fn_max_of,
        "min_of": fn_math.fn_min_of,
        "start": fn_math.fn_start,
        "end": fn_math.fn_end,
        "range": fn_math.fn_range,
        "step": fn_math.fn_step,
        "time": fn_time.fn_time,
        "timestamp": fn_time.fn_timestamp,
        "label_replace": fn_labels.fn_label_replace,
        "label_join": fn_labels.fn_label_join,
        "sort": fn_labels.fn_sort,
        "sort_desc": fn_labels.fn_sort_desc,
        "sort_by_label": fn_labels.fn_sort_by_label,
        "sort_by_label_desc": fn_labels.fn_sort_by_label_desc,
        "absent": fn_labels.fn_absent,
        "histogram_quantile": fn_histogram_quantile,
        "histogram_fraction": fn_histogram_fraction,
        "histogram_quantiles": fn_histogram_quantiles,
        "info": fn_info,
    }
    table.update(OVER_TIME)
    table.update({name: fn_math.elementwise(name) for name in fn_math.ELEMENTWISE})
    table.update({name: fn_time.calendar(name) for name in fn_time.CALENDAR_FUNCTIONS})
    table.update({name: native_only(name) for name in NATIVE_ONLY})
    return table


#: name -> implementation; every function ``promql_parser`` knows has an entry
FUNCTIONS: dict[str, Function] = dict(_table())

#: functions that always raise PromQLUnsupportedError, with the reason
UNSUPPORTED: dict[str, str] = {
    **{name: "native histograms are not supported (float samples only)" for name in NATIVE_ONLY},
    "info": "experimental function info() is not implemented",
}

__all__ = ["FUNCTIONS", "UNSUPPORTED", "Function"]

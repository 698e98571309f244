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
* :mod:`.native`      native histograms: histogram_count/sum/avg/stddev/stdvar,
                        the native side of histogram_quantile(s)/fraction, and the
                        histogram versions of rate, increase, delta, irate, idelta,
                        resets, changes and sum/avg/count/last/first/present_over_time

Semantics (``EvalContext.semantics``, a :class:`~pytest_selfslo.promql.semantics.Semantics`):
each function-level difference between Prometheus releases is a property
there, named with the release that introduced it -- rate/increase
extrapolation (2.51, :mod:`.rate`), ``avg_over_time`` (2.55 and 3.5,
:mod:`.over_time`), ``histogram_quantile`` noise (2.49) and
``histogram_fraction`` on classic buckets (3.4) (:mod:`.histograms`), UTF-8
label names and ``.`` matching newlines in ``label_replace``/``label_join``
(3.0, :mod:`.labels`).

Float functions compute what Go's ``math`` computes on amd64
(:mod:`pytest_selfslo.promql.gomath`). Every available promtool (2.42, 2.53,
3.5 in CI) agrees bit for bit on every function, including the
trigonometric and hyperbolic ones (``tests/promql/functions/test_fn_promtool.py``,
``tests/promql/functions/test_gomath.py``). ``holt_winters`` (the 2.x name of
``double_exponential_smoothing``) exists under a 2.x semantics only.

Declared unsupported (:data:`UNSUPPORTED`, each raises
:class:`~pytest_selfslo._core.errors.PromQLUnsupportedError` with the reason): the
experimental ``info()``. Native histograms: see :mod:`.native`.
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
    fn_histogram_fraction,
    fn_histogram_quantile,
    fn_histogram_quantiles,
)
from pytest_selfslo.promql.functions.native import HISTOGRAM_AWARE, floats_only, native_table
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
    table.update(native_table(table))
    return table


#: name -> implementation; every function ``promql_parser`` knows has an entry
FUNCTIONS: dict[str, Function] = dict(_table())

#: functions that always raise PromQLUnsupportedError, with the reason
UNSUPPORTED: dict[str, str] = {
    "info": "experimental function info() is not implemented",
}

__all__ = ["FUNCTIONS", "HISTOGRAM_AWARE", "UNSUPPORTED", "Function", "floats_only"]

"""Multiwindow, multi-burn-rate alert rules from service SLOs (Google SRE Workbook, ch. 5).

For an objective with error budget ``b`` (0.001 for 99.9 %) and a window pair
``(long, short)`` with factor ``f``, the alert fires when the error ratio over
both windows exceeds ``f × b`` (written as one number, e.g. ``0.0144``). The defaults are budget fractions, so they
scale with the compliance window ``P``: ``f = fraction × P / long`` — page 2 %
in 1h (short 5m) and 5 % in 6h (30m), ticket 10 % in 1d (2h) and 10 % in 3d
(6h); for 30d that is 14.4, 6, 3 and 1. With ``min_events`` set, a pair only
fires when its long window saw at least that many events (low-traffic guard).

    >>> [(w.long, w.short, w.factor) for w in default_burn_rates("30d")]
    [('1h', '5m', 14.4), ('6h', '30m', 6.0), ('1d', '2h', 3.0), ('3d', '6h', 1.0)]

Besides the per-window error ratios and the alerts, each SLO gets its error
ratio over the whole compliance window and the error budget remaining,
``1 - ratio(P) / budget``: 1 with no errors, 0 when the budget is spent,
negative beyond.

Output is deterministic: same spec, same bytes.
"""

from __future__ import annotations

from typing import Any

import yaml

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.slo.service import (
    BurnRateWindow,
    ServiceLevel,
    ServiceSLOs,
    budget_literal,
    service_of,
)

__all__ = ["ALERT_LABEL_KEYS", "BUDGET_REMAINING_RECORD", "alert_name", "budget_remaining_expr",
           "burn_rates", "default_burn_rates", "error_ratio_record", "events_record",
           "generate_rules", "rule_groups", "selector", "series_labels", "threshold_expr",
           "window_seconds"]

#: labels every generated series and alert carries (default label scheme)
ALERT_LABEL_KEYS = ("slo_service", "slo_name")
#: the error budget remaining over the compliance window (1 = untouched, 0 = spent)
BUDGET_REMAINING_RECORD = "slo:error_budget_remaining:ratio"
_DEFAULTS: tuple[tuple[str, str, str, float], ...] = (
    ("page", "1h", "5m", 0.02),
    ("page", "6h", "30m", 0.05),
    ("ticket", "1d", "2h", 0.10),
    ("ticket", "3d", "6h", 0.10),
)


def default_burn_rates(window: str) -> tuple[BurnRateWindow, ...]:
    """The four SRE Workbook window pairs scaled to the compliance ``window``."""
    period = parse_duration(window)
    return tuple(BurnRateWindow(sev, long, short,  # type: ignore[arg-type]
                                round(frac * period / parse_duration(long), 6))
                 for sev, long, short, frac in _DEFAULTS)


def burn_rates(slo: ServiceLevel) -> tuple[BurnRateWindow, ...]:
    """The SLO's own ``burn_rates`` or the defaults for its window."""
    return slo.burn_rates or default_burn_rates(slo.window)


def error_ratio_record(window: str) -> str:
    """Name of the error-ratio recording rule for ``window``."""
    return f"slo:sli_error:ratio_rate{window}"


def events_record(window: str) -> str:
    """Name of the event-count recording rule for ``window`` (low-traffic guard)."""
    return f"slo:sli_total:events{window}"


def selector(spec: ServiceSLOs, slo: ServiceLevel) -> str:
    """Label matchers that pick this SLO's recorded series."""
    sc = spec.scheme
    return f'{{{sc.service}="{service_of(spec, slo)}",{sc.slo}="{slo.name}"}}'


def alert_name(spec: ServiceSLOs, slo: ServiceLevel) -> str:
    """The alert's name: the spec's, else ``<Service><Name>BudgetBurn``."""
    return slo.alert_name or _camel(f"{service_of(spec, slo)}-{slo.name}") + "BudgetBurn"


def budget_remaining_expr(spec: ServiceSLOs, slo: ServiceLevel) -> str:
    """``1 - error ratio over the compliance window / budget``."""
    ratio = f"{error_ratio_record(slo.window)}{selector(spec, slo)}"
    return f"1 - max without ({spec.scheme.window}) ({ratio}) / {budget_literal(spec, slo)}\n"


def threshold_expr(w: BurnRateWindow, slo: ServiceLevel, spec: ServiceSLOs | None = None) -> str:
    """The threshold ``factor × budget`` of a window pair as one number literal.

    One literal (not ``(14.4 * 0.001)``) so that mutation testing's threshold operators
    apply to it. The ``sloth`` dialect writes the exact float64 product of Sloth's
    ``(14.4 * 0.0009999999999999432)`` (see
    :func:`~pytest_selfslo.slo.service.budget_literal`); ours rounds to 12 significant
    digits (``0.0144``).
    """
    if spec is not None and spec.dialect == "sloth":
        return repr(w.factor * float(budget_literal(spec, slo)))
    return _num(float(f"{w.factor * slo.error_budget:.12g}"))


def _windows(slo: ServiceLevel) -> list[str]:
    ws = {w for b in burn_rates(slo) for w in (b.long, b.short)}
    return sorted(ws, key=parse_duration)


def series_labels(spec: ServiceSLOs, slo: ServiceLevel) -> dict[str, str]:
    """Labels of every recorded series of ``slo`` (and so of its alerts)."""
    sc = spec.scheme
    labels = {**spec.labels, **slo.labels}
    labels.update({sc.service: service_of(spec, slo), sc.slo: slo.name})
    if sc.id:
        labels[sc.id] = f"{service_of(spec, slo)}-{slo.name}"
    return labels


def rule_groups(spec: ServiceSLOs) -> list[dict[str, Any]]:
    """The rule groups (plain data, Prometheus rule-file shape) for every SLO."""
    groups = []
    sc = spec.scheme
    for slo in spec.slos:
        rules: list[dict[str, Any]] = []
        ratio = slo.sli.ratio_query()
        base = series_labels(spec, slo)
        for w in sorted({*_windows(slo), slo.window}, key=parse_duration):
            rules.append({"record": error_ratio_record(w),
                          "expr": ratio.replace("{{.window}}", w).rstrip("\n") + "\n",
                          "labels": {**base, sc.window: w}})
        rules.append({"record": BUDGET_REMAINING_RECORD,
                      "expr": budget_remaining_expr(spec, slo), "labels": dict(base)})
        longs = sorted({b.long for b in burn_rates(slo)}, key=parse_duration)
        if slo.min_events:
            total = slo.sli.error_query()[1]
            for w in longs:
                secs = parse_duration(w) // 1000
                rules.append({"record": events_record(w),
                              "expr": f"({total.replace('{{.window}}', w)}) * {secs}\n",
                              "labels": {**base, sc.window: w}})
        sel = selector(spec, slo)
        for severity, alert in (("page", slo.page), ("ticket", slo.ticket)):
            pairs = [b for b in burn_rates(slo) if b.severity == severity]
            if not alert.enabled or not pairs:
                continue
            parts = []
            for b in pairs:
                conds = [f"max without ({sc.window}) ({error_ratio_record(w)}{sel} > "
                         f"{threshold_expr(b, slo, spec)})" for w in (b.long, b.short)]
                if slo.min_events:
                    conds.append(f"max without ({sc.window}) ({events_record(b.long)}{sel} >= "
                                 f"{_num(slo.min_events)})")
                parts.append("(\n  " + "\nand\n  ".join(conds) + "\n)")
            labels = {**slo.alert_labels, **alert.labels, sc.severity: severity}
            annotations = {**slo.alert_annotations, **alert.annotations}
            rule: dict[str, Any] = {"alert": alert_name(spec, slo),
                                    "expr": "\nor\n".join(parts) + "\n", "labels": labels}
            if annotations:
                rule["annotations"] = annotations
            rules.append(rule)
        groups.append({"name": f"selfslo-slo-{service_of(spec, slo)}-{slo.name}", "rules": rules})
    return groups


def generate_rules(spec: ServiceSLOs) -> str:
    """The Prometheus rule file text for ``spec`` (deterministic)."""
    header = (f"# Generated by selfslo slo generate from the SLOs of {_services(spec)}.\n"
              "# Do not edit: change the SLO spec and regenerate.\n")
    return header + _dump({"groups": rule_groups(spec)})


def _services(spec: ServiceSLOs) -> str:
    return ", ".join(repr(s) for s in dict.fromkeys(service_of(spec, slo) for slo in spec.slos))


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def _dump(data: object) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _camel(text: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in text.replace("_", "-").split("-") if p)


def window_seconds(window: str) -> int:
    """Seconds in a duration string."""
    return parse_duration(window) // 1000


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

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import yaml

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo._core.gofmt import go_quote
from pytest_selfslo.promql.aggregations import format_go_float
from pytest_selfslo.promql.astwalk import selectors
from pytest_selfslo.promql.engine import parse_expr
from pytest_selfslo.slo.service import (
    BurnRateWindow,
    ServiceLevel,
    ServiceSLOs,
    budget_literal,
    service_of,
)
from pytest_selfslo.slo.slothplugins import (
    ALERT_RULES,
    DEFAULT_CHAIN,
    DENOMINATOR_CORRECTED,
    ERROR_BUDGET_EXHAUSTED,
    INFO_LABELS,
    METADATA_RULES,
    REMOVE_LABELS,
    RULE_INTERVALS,
    SLI_RULES,
)

__all__ = [
    "ALERT_LABEL_KEYS",
    "BUDGET_REMAINING_RECORD",
    "SLOTH_INFO_GENERATOR",
    "SLOTH_META_RECORDS",
    "absent_annotations",
    "absent_selectors",
    "alert_annotations",
    "alert_name",
    "budget_remaining_expr",
    "burn_rates",
    "default_burn_rates",
    "error_ratio_record",
    "events_record",
    "generate_rules",
    "pair_alert_labels",
    "rule_groups",
    "selector",
    "series_labels",
    "sloth_rule_groups",
    "threshold_expr",
    "window_seconds",
]

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
    if spec is not None and spec.dialect in ("sloth", "pyrra"):
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
    """The rule groups (plain data, Prometheus rule-file shape) for every SLO.

    The ``sloth`` dialect writes Sloth's three groups per SLO (SLI error ratios,
    metadata, alerts; see :func:`sloth_rule_groups`); ours one group per SLO.
    """
    if spec.dialect == "sloth":
        return [g for slo in spec.slos for g in sloth_rule_groups(spec, slo)]
    groups = []
    for slo in spec.slos:
        base = series_labels(spec, slo)
        rules = _sli_rules(spec, slo, optimized=False)
        rules.append({"record": BUDGET_REMAINING_RECORD,
                      "expr": budget_remaining_expr(spec, slo), "labels": dict(base)})
        rules += _events_rules(spec, slo)
        rules += _alert_rules(spec, slo)
        if slo.absent is not None:
            for query in absent_selectors(slo):
                rule: dict[str, Any] = {"alert": slo.absent.name, "expr": f"absent({query}) == 1\n"}
                if slo.absent.for_:
                    rule["for"] = slo.absent.for_
                rule["labels"] = {**base, **slo.absent.labels}
                if absent_annotations(spec, slo):
                    rule["annotations"] = absent_annotations(spec, slo)
                rules.append(rule)
        groups.append({"name": f"selfslo-slo-{service_of(spec, slo)}-{slo.name}", "rules": rules})
    return groups


def pair_alert_labels(spec: ServiceSLOs, slo: ServiceLevel, pair: BurnRateWindow,
                      severity_labels: dict[str, str]) -> dict[str, str]:
    """Labels of the alert rule of ``pair``: the SLO's alert labels, the severity's, the
    pair's own (when it is a rule of its own) and the scheme's severity label."""
    own = pair.labels if pair.own_rule else {}
    return {**slo.alert_labels, **severity_labels, **own, spec.scheme.severity: pair.severity}


def alert_annotations(spec: ServiceSLOs, slo: ServiceLevel, severity: str) -> dict[str, str]:
    """Annotations of the ``severity`` (``page``/``ticket``) burn-rate alert rule.

    The SLO's ``alerting.annotations`` with the severity's own on top. The ``sloth``
    dialect starts from Sloth's defaults (slok/sloth, ``alert_rules`` plugin): a ``title``
    naming the severity and a ``summary``, both templating the service and SLO labels,
    which the spec's annotations override key by key; keys sorted, as Sloth writes them.

    >>> from pytest_selfslo.slo.service import AlertSpec, Sli
    >>> slo = ServiceLevel("api", 99.9, Sli("raw", error_ratio="x"), page=AlertSpec(
    ...     annotations={"summary": "High error rate"}))
    >>> alert_annotations(ServiceSLOs("svc", (slo,), dialect="sloth"), slo, "page")["title"]
    '(page) {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is too fast.'
    >>> alert_annotations(ServiceSLOs("svc", (slo,)), slo, "page")
    {'summary': 'High error rate'}
    """
    alert = slo.page if severity == "page" else slo.ticket
    own = {**slo.alert_annotations, **alert.annotations}
    if spec.dialect != "sloth":
        return own
    sc = spec.scheme
    who = f"{{{{$labels.{sc.service}}}}} {{{{$labels.{sc.slo}}}}} SLO error budget burn rate"
    defaults = {"summary": f"{who} is over expected.",
                "title": f"({severity}) {who} is too fast."}
    return dict(sorted({**defaults, **own}.items()))


def absent_annotations(spec: ServiceSLOs, slo: ServiceLevel) -> dict[str, str]:
    """Annotations of the absent alerts: the ``pyrra`` dialect puts the SLO's
    ``alerting.annotations`` (Pyrra's propagated ``pyrra.dev/`` object annotations) on
    them, as Pyrra puts them on every alert it generates; the other dialects none."""
    return dict(slo.alert_annotations) if spec.dialect == "pyrra" else {}


def absent_selectors(slo: ServiceLevel) -> list[str]:
    """The selectors the absent alert watches: the first one of every metric the SLI's
    queries read (total query first), as written there (without the range)."""
    seen: dict[str, str] = {}
    for query in reversed(slo.sli.templates()):
        for sel in selectors(parse_expr(query.replace("{{.window}}", "5m"))):
            name = str(sel.name or "")
            if name and name not in seen:
                matchers = ",".join(f"{m.name}{_OPS[str(m.op)]}{go_quote(m.value)}"
                                    for m in sel.matchers.matchers if m.name != "__name__")
                seen[name] = f"{name}{{{matchers}}}" if matchers else name
    return list(seen.values())


_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def _sli_rules(spec: ServiceSLOs, slo: ServiceLevel, *, optimized: bool) -> list[dict[str, Any]]:
    """An error-ratio record per window; ``optimized``: Sloth's average for the period."""
    sc = spec.scheme
    ratio = slo.sli.ratio_query()
    good = slo.sli.good_query()
    if spec.dialect == "sloth" and good:
        # Sloth reads OpenSLO's good/total as the raw ratio 1 - good/total (its
        # openSLOErrorRatioRawQueryTpl), which rounds unlike (total - good) / total:
        # the same expression records the same series, bit for bit
        ratio = f"1 - (\n  ({good})\n  /\n  ({slo.sli.total})\n)"
    base = series_labels(spec, slo)
    rules: list[dict[str, Any]] = []
    for w in sorted({*_windows(slo), slo.window}, key=parse_duration):
        if optimized and w == slo.window and _quick_window(slo) != w:
            expr = _optimized_expr(spec, slo, _quick_window(slo))
        else:
            expr = ratio.replace("{{.window}}", w).rstrip("\n") + "\n"
        rules.append({"record": error_ratio_record(w), "expr": expr,
                      "labels": {**base, sc.window: w}})
    return rules


def _events_rules(spec: ServiceSLOs, slo: ServiceLevel) -> list[dict[str, Any]]:
    """Event counts per long window (the low-traffic guard), when ``min_events`` is set."""
    if not slo.min_events:
        return []
    _errors, total = slo.sli.error_query()
    base = series_labels(spec, slo)
    rules = []
    for w in sorted({b.long for b in burn_rates(slo)}, key=parse_duration):
        secs = parse_duration(w) // 1000
        rules.append({"record": events_record(w),
                      "expr": f"({total.replace('{{.window}}', w)}) * {secs}\n",
                      "labels": {**base, spec.scheme.window: w}})
    return rules


def _alert_rules(spec: ServiceSLOs, slo: ServiceLevel) -> list[dict[str, Any]]:
    """The page and ticket multiwindow multi-burn-rate alerts."""
    sc = spec.scheme
    rules: list[dict[str, Any]] = []
    sel = selector(spec, slo)
    for severity, alert in (("page", slo.page), ("ticket", slo.ticket)):
        pairs = [b for b in burn_rates(slo) if b.severity == severity]
        if not alert.enabled or not pairs:
            continue
        shared = [b for b in pairs if not b.own_rule]
        # the pairs without labels or for: one rule; each other pair: a rule of its own
        for chunk in ([shared] if shared else []) + [[b] for b in pairs if b.own_rule]:
            parts = []
            for b in chunk:
                conds = [f"max without ({sc.window}) ({error_ratio_record(w)}{sel} > "
                         f"{threshold_expr(b, slo, spec)})" for w in (b.long, b.short)]
                if slo.min_events:
                    conds.append(f"max without ({sc.window}) ({events_record(b.long)}{sel} "
                                 f">= {_num(slo.min_events)})")
                parts.append("(\n  " + "\nand\n  ".join(conds) + "\n)")
            rule: dict[str, Any] = {"alert": alert_name(spec, slo),
                                    "expr": "\nor\n".join(parts) + "\n"}
            if chunk[0].for_:
                rule["for"] = chunk[0].for_
            rule["labels"] = pair_alert_labels(spec, slo, chunk[0], alert.labels)
            annotations = alert_annotations(spec, slo, severity)
            if annotations:
                rule["annotations"] = annotations
            rules.append(rule)
    return rules


# ------------------------------------------------------------------ the sloth dialect
#: Sloth's metadata recording rules (its Grafana dashboards read them)
SLOTH_META_RECORDS = ("slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days",
                      "slo:current_burn_rate:ratio", "slo:period_burn_rate:ratio",
                      "slo:period_error_budget_remaining:ratio", "sloth_slo_info")
#: ``sloth_slo_info``'s generator labels: ours say selfslo wrote the rules from a selfslo/v1 spec
SLOTH_INFO_GENERATOR = {"sloth_mode": "selfslo", "sloth_spec": "selfslo/v1",
                        "sloth_version": "selfslo"}
_NUMERATOR_CORRECTION = "slo:numerator_correction:ratio"


@dataclass
class _SlothResult:
    """Sloth's ``PromSLORules``: the rules (and interval) of its three groups."""

    sli: list[dict[str, Any]] = field(default_factory=list)
    meta: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    intervals: dict[str, str] = field(default_factory=dict)


def sloth_rule_groups(spec: ServiceSLOs, slo: ServiceLevel) -> list[dict[str, Any]]:
    """Sloth's groups for one SLO: its plugin chain run over SLI, metadata and alert rules.

    Each plugin does what its Go code in slok/sloth ``internal/plugin/slo`` does (see
    ``docs/slo.md``); empty groups are left out, as Sloth does.
    """
    result = _SlothResult()
    for plugin in slo.plugins or DEFAULT_CHAIN:
        _SLOTH_PLUGINS[plugin.id](spec, slo, plugin.config, result)
    ident = f"{service_of(spec, slo)}-{slo.name}"
    groups = []
    for kind, prefix, rules in (("sli", "sloth-slo-sli-recordings-", result.sli),
                                ("meta", "sloth-slo-meta-recordings-", result.meta),
                                ("alert", "sloth-slo-alerts-", result.alerts)):
        if not rules:
            continue
        group: dict[str, Any] = {"name": prefix + ident}
        if kind in result.intervals:
            group["interval"] = result.intervals[kind]
        group["rules"] = rules
        groups.append(group)
    return groups


def _quick_window(slo: ServiceLevel) -> str:
    """Sloth's ``PageQuick.ShortWindow``: the short window of the fastest page pair."""
    pairs = sorted(burn_rates(slo), key=lambda b: (b.severity != "page", parse_duration(b.long)))
    return pairs[0].short


def _sloth_filter(spec: ServiceSLOs, slo: ServiceLevel) -> str:
    """Sloth's ``LabelsToPromFilter`` of the SLO id labels."""
    sc = spec.scheme
    ids = {sc.id or "sloth_id": f"{service_of(spec, slo)}-{slo.name}",
           sc.service: service_of(spec, slo), sc.slo: slo.name}
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(ids.items())) + "}"


def _optimized_expr(spec: ServiceSLOs, slo: ServiceLevel, short: str) -> str:
    metric = error_ratio_record(short) + _sloth_filter(spec, slo)
    return (f"sum_over_time({metric}[{slo.window}])\n/ ignoring ({spec.scheme.window})\n"
            f"count_over_time({metric}[{slo.window}])\n")


def _meta_labels(spec: ServiceSLOs, slo: ServiceLevel) -> dict[str, str]:
    labels = series_labels(spec, slo)
    return labels


def _sloth_sli_rules(spec: ServiceSLOs, slo: ServiceLevel, cfg: dict[str, Any],
                     out: _SlothResult) -> None:
    out.sli = _sli_rules(spec, slo, optimized=not cfg.get("disableOptimized")) + \
        _events_rules(spec, slo)


def _sloth_metadata_rules(spec: ServiceSLOs, slo: ServiceLevel, _cfg: dict[str, Any],
                          out: _SlothResult) -> None:
    labels = _meta_labels(spec, slo)
    filt = _sloth_filter(spec, slo)
    sc = spec.scheme
    objective = slo.objective / 100
    days = parse_duration(slo.window) / 86_400_000

    def burn(window: str) -> str:
        return (f"{error_ratio_record(window)}{filt}\n/ on({sc.id}, {sc.slo}, {sc.service}) "
                f"group_left\nslo:error_budget:ratio{filt}\n")

    exprs = (f"vector({_go_g(objective)})", f"vector(1-{_go_g(objective)})",
             f"vector({_go_g(days)})", burn(_quick_window(slo)), burn(slo.window),
             f"1 - slo:period_burn_rate:ratio{filt}", "vector(1)")
    out.meta = [{"record": name, "expr": expr, "labels": dict(labels)}
                for name, expr in zip(SLOTH_META_RECORDS, exprs, strict=True)]
    out.meta[-1]["labels"].update({**SLOTH_INFO_GENERATOR,
                                   "sloth_objective": format_go_float(slo.objective)})


def _sloth_alert_rules(spec: ServiceSLOs, slo: ServiceLevel, _cfg: dict[str, Any],
                       out: _SlothResult) -> None:
    out.alerts = _alert_rules(spec, slo)


def _sloth_denominator_corrected(spec: ServiceSLOs, slo: ServiceLevel, cfg: dict[str, Any],
                                 out: _SlothResult) -> None:
    """Error ratios corrected by the window's share of the period's events.

    The SLI record for window ``w`` is ``correction(w) * errors(w) / total(w)`` with
    ``correction(w) = total(w) / total(period)`` recorded in the *metadata* group, which
    Prometheus evaluates after the SLI group: the SLI at ``t`` reads the correction of
    the previous evaluation, as with Sloth's rules.
    """
    if slo.sli.kind == "raw":
        raise SLOSpecError(f"SLO {service_of(spec, slo)}/{slo.name}: the Sloth plugin "
                           f"{DENOMINATOR_CORRECTED} needs the errors and total queries of an "
                           "events SLI (a raw or plugin SLI has only an error ratio)")
    errors, total = slo.sli.error_query()
    filt = _sloth_filter(spec, slo)
    base = series_labels(spec, slo)
    sc = spec.scheme
    rules = []
    for w in sorted({*_windows(slo), slo.window}, key=parse_duration):
        e, t = errors.replace("{{.window}}", w), total.replace("{{.window}}", w)
        if w != slo.window:
            expr = f"(\n{_NUMERATOR_CORRECTION}{w}{filt}\n* on()\n{e}\n)\n/\n({t})\n"
        elif cfg.get("disableOptimized"):
            expr = f"({e})\n/\n({t})\n"
        else:
            expr = _optimized_expr(spec, slo, _quick_window(slo))
        rules.append({"record": error_ratio_record(w), "expr": expr,
                      "labels": {**base, sc.window: w}})
    out.sli = rules
    period = total.replace("{{.window}}", slo.window)
    out.meta = out.meta + [
        {"record": f"{_NUMERATOR_CORRECTION}{w}",
         "expr": f"({total.replace('{{.window}}', w)})/({period})",
         "labels": _meta_labels(spec, slo)}
        for w in _windows(slo)]


def _sloth_rule_intervals(_spec: ServiceSLOs, _slo: ServiceLevel, cfg: dict[str, Any],
                          out: _SlothResult) -> None:
    intervals = cfg["interval"]
    for kind, key in (("sli", "sliError"), ("meta", "metadata"), ("alert", "alert")):
        out.intervals[kind] = intervals.get(key) or intervals["default"]


def _sloth_info_labels(_spec: ServiceSLOs, _slo: ServiceLevel, cfg: dict[str, Any],
                       out: _SlothResult) -> None:
    name = cfg.get("metricName") or "sloth_slo_info"
    for rule in out.meta:
        if rule["record"] == name:
            rule["labels"] = {**rule["labels"], **cfg["labels"]}
            break


def _sloth_remove_labels(spec: ServiceSLOs, _slo: ServiceLevel, cfg: dict[str, Any],
                         out: _SlothResult) -> None:
    sc = spec.scheme
    keep = {sc.id or "sloth_id", sc.service, sc.slo, *cfg.get("preserveLabels", ())}
    skip = {"sloth_slo_info", *cfg.get("skipMetrics", ())}
    for rules, kept in ((out.sli, keep | {sc.window}), (out.meta, keep)):
        for rule in rules:
            if rule["record"] not in skip:
                rule["labels"] = {k: v for k, v in rule["labels"].items() if k in kept}


def _sloth_budget_exhausted(spec: ServiceSLOs, slo: ServiceLevel, cfg: dict[str, Any],
                            out: _SlothResult) -> None:
    sc = spec.scheme
    labels = {sc.slo: slo.name, sc.service: service_of(spec, slo),
              sc.id or "sloth_id": f"{service_of(spec, slo)}-{slo.name}",
              **{**spec.labels, **slo.labels}, **cfg.get("selector_labels", {})}
    matcher = "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in sorted(labels.items())) + "}"
    rule: dict[str, Any] = {
        "alert": cfg.get("alert_name") or "ErrorBudgetExhausted",
        "expr": f"slo:period_error_budget_remaining:ratio{matcher} <= "
                f"{_go_g(float(cfg.get('threshold', 0)))}",
        "for": cfg.get("for") or "5m"}
    if cfg.get("alert_labels"):
        rule["labels"] = dict(cfg["alert_labels"])
    if cfg.get("annotations"):
        rule["annotations"] = dict(cfg["annotations"])
    out.alerts = [*out.alerts, rule]


_SLOTH_PLUGINS = {
    SLI_RULES: _sloth_sli_rules, METADATA_RULES: _sloth_metadata_rules,
    ALERT_RULES: _sloth_alert_rules, DENOMINATOR_CORRECTED: _sloth_denominator_corrected,
    RULE_INTERVALS: _sloth_rule_intervals, INFO_LABELS: _sloth_info_labels,
    REMOVE_LABELS: _sloth_remove_labels, ERROR_BUDGET_EXHAUSTED: _sloth_budget_exhausted,
}


def _go_g(value: float) -> str:
    """Go's ``%g`` (shortest round-trip digits; exponent below 1e-4 or from 1e21).

    >>> _go_g(0.9990000000000001), _go_g(30.0), _go_g(1e-05), _go_g(0.0)
    ('0.9990000000000001', '30', '1e-05', '0')
    """
    if value == 0:
        return "0"
    sign, digits, exp = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exp)  # decimal point position (digits.dp)
    if point - 1 < -4 or point - 1 >= 21:
        mant = text[0] + ("." + text[1:] if len(text) > 1 else "")
        e = point - 1
        return f"{'-' if sign else ''}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    return ("-" if sign else "") + format_go_float(abs(value))


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


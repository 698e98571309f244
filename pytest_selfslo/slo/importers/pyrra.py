"""Pyrra ``pyrra.dev/v1alpha1`` ``ServiceLevelObjective`` manifests.

Mapping (see ``docs/slo.md``): ``indicator.ratio`` ``errors``/``total``
(counter selectors) → ratio SLI ``sum(rate(sel[window]))`` (``grouping`` →
``sum by``); ``indicator.latency`` ``success`` (a ``_bucket`` selector with
``le``) / ``total`` (the ``_count`` one) → latency SLI when both select the
same histogram with the same other matchers, else a ratio SLI ``total -
success``; ``indicator.latencyNative`` (a native histogram and a
``latency``) → ratio SLI ``(1 - histogram_fraction(0, latency, H)) *
histogram_count(H)`` over ``histogram_count(H)``, ``H = sum(rate(sel[window]))``
(Pyrra's burn rate ``1 - histogram_fraction(0, latency, H)``);
``indicator.bool_gauge`` → ratio SLI over samples (errors = ``count_over_time -
sum_over_time``); ``target`` (a string percentage) → objective, thresholds
written with Pyrra's arithmetic (``pyrra`` dialect); ``window`` (``4w``,
``28d``, ``30d``, ``1w``...) → window.

Alerts are the ones Pyrra generates: its four window pairs scaled to the
window (:func:`pyrra_windows`: for 28d 1h/5m ×14 ``for: 2m``, 6h/30m ×7 ``for:
15m``, 1d/2h ×2 ``for: 1h``, 4d/6h ×1 ``for: 3h``), each an alert rule of its
own (explicit ``burn_rates`` with ``for`` and labels ``severity``, ``long``,
``short``, ``exhaustion``); the first two are page, the last two ticket pairs;
``alerting.severities`` ``fastBurn``/``mediumBurn``/``slowBurn``/``longTermBurn``
→ the pairs' ``severity`` labels (defaults critical, critical, warning,
warning); ``alerting.name`` → alert name (default ``ErrorBudgetBurn``);
``alerting.disabled: true`` or ``burnrates: false`` → no burn-rate alerts.
``alerting.absent`` (default true, as in Pyrra) → the absent alert
``absent(<selector>) == 1`` per metric the SLI reads, named ``absentName``
(default ``SLOMetricAbsent``), ``severity`` ``severities.absent`` (default
critical), ``for`` Pyrra's :func:`absent_for`; Pyrra generates none for
``latencyNative``. Series labels: ``slo: <name>``, the ``=`` matchers of the
total selector (not grouped ones), ``metadata.labels`` ``pyrra.dev/<name>`` →
``<name>``; ``metadata.annotations`` ``pyrra.dev/<name>`` → annotation ``<name>`` of
every alert, burn-rate and absent (Pyrra's propagated annotations; the others are
Kubernetes object metadata, which Pyrra does not propagate either);
``metadata.namespace`` → service (``default`` when absent).

Not mapped (located errors): ``performanceOverAccuracy``. Pyrra's
``pyrra_url`` annotation (it needs the external URL Pyrra runs with) is not
generated; our rules also carry ``slo_service``/``slo_name``/``slo_severity``.
"""

from __future__ import annotations

import promql_parser

from pytest_selfslo._core.durations import format_duration, parse_duration
from pytest_selfslo.slo.nodes import Node
from pytest_selfslo.slo.service import (
    AbsentSpec,
    AlertSpec,
    BurnRateWindow,
    ServiceLevel,
    ServiceSLOs,
    Sli,
    check_objective,
    window_from,
)

__all__ = ["absent_for", "from_pyrra", "is_pyrra", "pyrra_windows"]

_W = "{{.window}}"
_MINUTE_NS = 60_000_000_000
#: Pyrra's window pairs as divisors of the compliance window (``slo/slo.go`` ``Windows``):
#: (severity, for, long, short, factor); e.g. for 28d: 2m, 1h, 5m, 14
_PAIRS = (("critical", 28 * 24 * 30, 28 * 24, 28 * 24 * 12, 14.0),
          ("critical", 28 * 24 * 4, 28 * 4, 28 * 24 * 2, 7.0),
          ("warning", 28 * 24, 28, 28 * 12, 2.0),
          ("warning", 28 * 8, 7, 28 * 4, 1.0))
_SEVERITY_KEYS = ("fastBurn", "mediumBurn", "slowBurn", "longTermBurn")


def _round_minute(ns: int) -> int:
    """Go's ``time.Duration.Round(time.Minute)`` of a positive duration (halves up), in ms."""
    rest = ns % _MINUTE_NS
    ns = ns - rest + (_MINUTE_NS if 2 * rest >= _MINUTE_NS else 0)
    return ns // 1_000_000


def pyrra_windows(window: str, severities: tuple[str, ...] = ()) -> tuple[BurnRateWindow, ...]:
    """Pyrra's four window pairs for the compliance ``window``, with its ``for:`` and the
    labels Pyrra puts on each burn-rate alert (``severity``, ``long``, ``short``,
    ``exhaustion``); ``severities`` overrides the four severity labels.

    >>> [(b.long, b.short, b.factor, b.for_) for b in pyrra_windows("28d")]
    [('1h', '5m', 14.0, '2m'), ('6h', '30m', 7.0, '15m'), ('1d', '2h', 2.0, '1h'), ('4d', '6h', 1.0, '3h')]
    >>> pyrra_windows("30d")[0].labels
    {'severity': 'critical', 'long': '1h4m', 'short': '5m', 'exhaustion': '2d3h25m42s'}
    """
    ns = parse_duration(window) * 1_000_000
    out = []
    for i, (sev, for_div, long_div, short_div, factor) in enumerate(_PAIRS):
        long = format_duration(_round_minute(ns // long_div))
        short = format_duration(_round_minute(ns // short_div))
        exhaustion = format_duration(int(ns / 1e9 / factor) * 1000)
        label = severities[i] if i < len(severities) and severities[i] else sev
        out.append(BurnRateWindow("page" if sev == "critical" else "ticket", long, short, factor,
                                  labels={"severity": label, "long": long, "short": short,
                                          "exhaustion": exhaustion},
                                  for_=format_duration(_round_minute(ns // for_div))))
    return tuple(out)


def absent_for(window: str, objective: float) -> str:
    """Pyrra's ``for:`` of the absent alert: the time a 100 % error ratio takes to push the
    first pair's long window over its threshold, plus that pair's ``for``, to the minute."""
    first = pyrra_windows(window)[0]
    threshold = first.factor * (1 - objective / 100)
    seconds = int(threshold * (parse_duration(first.long) / 1000))
    ns = (seconds * 1000 + parse_duration(first.for_)) * 1_000_000
    return format_duration(_round_minute(ns))


def is_pyrra(root: Node) -> bool:
    """True for a ``pyrra.dev/*`` ``ServiceLevelObjective``."""
    api, kind = root.get("apiVersion"), root.get("kind")
    return (api is not None and kind is not None and api.text("apiVersion").startswith("pyrra.dev/")
            and kind.text("kind") == "ServiceLevelObjective")


def from_pyrra(root: Node) -> ServiceSLOs:
    """One ``ServiceLevelObjective``."""
    api = root.req("apiVersion")
    if api.text("apiVersion") != "pyrra.dev/v1alpha1":
        raise api.error(f"apiVersion: {api.text('apiVersion')!r} is not supported "
                        "(pyrra.dev/v1alpha1)")
    root.only({"apiVersion", "kind", "metadata", "spec", "status"}, "ServiceLevelObjective")
    meta = root.req("metadata")
    name = meta.req("name").text("metadata.name")
    namespace = meta.opt_text("namespace", "default")
    labels: dict[str, str] = {}
    meta_labels = meta.get("labels")
    if meta_labels is not None:
        for key, value in meta_labels.items():
            if key.startswith("pyrra.dev/"):
                labels[key.removeprefix("pyrra.dev/")] = value.text(f"metadata.labels.{key}")
    labels = _labels_checked(meta_labels, labels)
    annotations: dict[str, str] = {}
    meta_annotations = meta.get("annotations")
    if meta_annotations is not None:
        for key, value in meta_annotations.items():
            if key.startswith("pyrra.dev/"):
                annotations[key.removeprefix("pyrra.dev/")] = value.text(
                    f"metadata.annotations.{key}")
    spec = root.req("spec")
    spec.only({"description", "target", "window", "indicator", "alerting",
               "partial_response_strategy", "performanceOverAccuracy", "ruleOutput"},
              "ServiceLevelObjective.spec")
    perf = spec.get("performanceOverAccuracy")
    if perf is not None and perf.boolean("performanceOverAccuracy"):
        raise perf.error("performanceOverAccuracy: cannot be mapped (the generated rules always "
                         "compute each window exactly)")
    target = spec.req("target")
    try:
        objective = float(target.text("target"))
    except ValueError:
        raise target.error(f"target: expected a percentage such as \"99.5\", got "
                           f"{target.text('target')!r}") from None
    objective = check_objective(target, objective)
    win = spec.req("window")
    window = window_from(win, win.text("window"))
    indicator = spec.req("indicator")
    sli, matched, native = _indicator(indicator)
    # Pyrra's rule labels: slo=<name>, the total selector's = matchers (not grouped ones)
    labels = {"slo": name, **matched, **labels}
    alert_name, enabled, severities, absent = _alerting(spec.get("alerting"))
    burn = pyrra_windows(window, severities)
    absent_spec = None
    if absent is not None and not native:
        absent_spec = AbsentSpec(name=absent[0], for_=absent_for(window, objective),
                                 labels={"severity": absent[1]})
    slo = ServiceLevel(name=name, objective=objective, sli=sli, window=window,
                       description=spec.opt_text("description"), labels=labels,
                       alert_name=alert_name, alert_annotations=annotations,
                       page=AlertSpec(enabled=enabled),
                       ticket=AlertSpec(enabled=enabled), burn_rates=burn, absent=absent_spec)
    return ServiceSLOs(service=namespace, slos=(slo,), source="pyrra.dev/v1alpha1",
                       dialect="pyrra")


def _labels_checked(node: Node | None, labels: dict[str, str]) -> dict[str, str]:
    for key in labels:
        if not key.replace("_", "a").isalnum() or key[0].isdigit():
            assert node is not None
            raise node.key_node(f"pyrra.dev/{key}").error(
                f"metadata.labels: 'pyrra.dev/{key}' is not a valid label name after the prefix")
    return labels


def _selector(node: Node, what: str) -> promql_parser.VectorSelector:
    node.only({"metric"}, what)
    m = node.req("metric")
    try:
        ast = promql_parser.parse(m.text(f"{what}.metric"))
    except (ValueError, RuntimeError) as exc:
        raise m.error(f"{what}.metric: invalid PromQL: {str(exc).splitlines()[0]}") from None
    if not isinstance(ast, promql_parser.VectorSelector):
        raise m.error(f"{what}.metric: expected a metric selector such as "
                      f"http_requests_total{{job=\"api\"}}, got {m.text('metric')!r}")
    return ast


def _grouping(node: Node) -> tuple[str, set[str]]:
    groups = [g.text("grouping") for g in node.opt_seq("grouping")]
    return (f" by ({', '.join(groups)}) " if groups else ""), set(groups)


def _equal_labels(sel: promql_parser.VectorSelector, grouped: set[str]) -> dict[str, str]:
    return {m.name: m.value for m in sel.matchers.matchers
            if str(m.op) == "MatchOp.Equal" and m.name != "__name__" and m.name not in grouped}


def _sum_rate(sel: promql_parser.VectorSelector, by: str) -> str:
    return f"sum{by}(rate({sel}[{_W}]))"


def _indicator(node: Node) -> tuple[Sli, dict[str, str], bool]:
    """The SLI, the labels Pyrra puts on its rules, and whether it is a native histogram."""
    kinds = node.keys()
    if len(kinds) != 1:
        raise node.error("indicator: exactly one of ratio, latency, latencyNative, bool_gauge "
                         "is required")
    kind = kinds[0]
    body = node.req(kind)
    if kind == "latencyNative":
        body.only({"total", "latency", "grouping"}, "indicator.latencyNative")
        by, grouped = _grouping(body)
        total = _selector(body.req("total"), "latencyNative.total")
        lat = body.req("latency")
        try:
            seconds = parse_duration(lat.text("latency")) / 1000
        except ValueError:
            raise lat.error(f"latencyNative.latency: {lat.text('latency')!r} is not a duration "
                            "(e.g. 300ms, 1s)") from None
        if seconds <= 0:
            raise lat.error("latencyNative.latency: must be > 0")
        hist = _sum_rate(total, by)
        count = f"histogram_count({hist})"
        bad = f"(1 - histogram_fraction(0, {_num(seconds)}, {hist})) * {count}"
        return Sli("ratio", errors=bad, total=count), _equal_labels(total, grouped), True
    if kind == "ratio":
        body.only({"errors", "total", "grouping"}, "indicator.ratio")
        by, grouped = _grouping(body)
        errors = _selector(body.req("errors"), "ratio.errors")
        total = _selector(body.req("total"), "ratio.total")
        return (Sli("ratio", errors=_sum_rate(errors, by), total=_sum_rate(total, by)),
                _equal_labels(total, grouped), False)
    if kind == "latency":
        body.only({"success", "total", "grouping"}, "indicator.latency")
        by, grouped = _grouping(body)
        success_node = body.req("success")
        success = _selector(success_node, "latency.success")
        total = _selector(body.req("total"), "latency.total")
        matched = _equal_labels(total, grouped)
        matchers = {(m.name, str(m.op), m.value) for m in success.matchers.matchers}
        le = [m for m in success.matchers.matchers if m.name == "le"]
        if len(le) != 1 or str(le[0].op) != "MatchOp.Equal":
            raise success_node.req("metric").error("latency.success.metric: expected a _bucket "
                                                   "selector with le=\"<seconds>\"")
        base = str(success.name or "").removesuffix("_bucket")
        others = matchers - {(le[0].name, str(le[0].op), le[0].value)}
        total_m = {(m.name, str(m.op), m.value) for m in total.matchers.matchers}
        if (not by and str(success.name).endswith("_bucket") and total.name == f"{base}_count"
                and others == total_m and all(op == "MatchOp.Equal" for _, op, _ in others)):
            sel = ",".join(f'{n}="{v}"' for n, _, v in sorted(others))
            return (Sli("latency", metric=base, selector=sel, threshold=float(le[0].value)),
                    matched, False)
        t = _sum_rate(total, by)
        return Sli("ratio", errors=f"({t}) - ({_sum_rate(success, by)})", total=t), matched, False
    if kind == "bool_gauge":
        body.only({"metric", "grouping"}, "indicator.bool_gauge")
        by, grouped = _grouping(body)
        gauge = _selector(body, "bool_gauge")
        samples = f"sum{by}(count_over_time({gauge}[{_W}]))"
        return (Sli("ratio", errors=f"({samples}) - (sum{by}(sum_over_time({gauge}[{_W}])))",
                    total=samples), _equal_labels(gauge, grouped), False)
    raise node.key_node(kind).error(f"indicator: unknown Pyrra indicator {kind!r} (expected "
                                    "ratio, latency, latencyNative or bool_gauge)")


def _alerting(node: Node | None) -> tuple[str, bool, tuple[str, ...], tuple[str, str] | None]:
    """(alert name, burn-rate alerts on, the four pair severities, (absent name, absent
    severity) or None)."""
    if node is None:
        return "ErrorBudgetBurn", True, (), ("SLOMetricAbsent", "critical")
    node.only({"disabled", "burnrates", "absent", "name", "absentName", "severities"}, "alerting")
    name = node.opt_text("name", "ErrorBudgetBurn")
    absent_node = node.get("absent")
    absent_sev = "critical"
    off = node.get("disabled")
    burn = node.get("burnrates")
    enabled = not ((off is not None and off.boolean("disabled"))
                   or (burn is not None and not burn.boolean("burnrates")))
    severities: tuple[str, ...] = ()
    sev = node.get("severities")
    if sev is not None:
        sev.only({"absent", *_SEVERITY_KEYS}, "alerting.severities")
        severities = tuple(sev.opt_text(k) for k in _SEVERITY_KEYS)
        absent_sev = sev.opt_text("absent", "critical")
    absent = None
    if absent_node is None or absent_node.boolean("absent"):
        absent = (node.opt_text("absentName", "SLOMetricAbsent"), absent_sev)
    return name, enabled, severities, absent


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)

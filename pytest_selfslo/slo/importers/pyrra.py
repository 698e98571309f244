"""Pyrra ``pyrra.dev/v1alpha1`` ``ServiceLevelObjective`` manifests.

Mapping (see ``docs/slo.md``): ``indicator.ratio`` ``errors``/``total``
(counter selectors) → ratio SLI ``sum(rate(sel[window]))`` (``grouping`` →
``sum by``); ``indicator.latency`` ``success`` (a ``_bucket`` selector with
``le``) / ``total`` (the ``_count`` one) → latency SLI when both select the
same histogram with the same other matchers, else a ratio SLI ``total -
success``; ``indicator.bool_gauge`` → ratio SLI over samples (errors =
``count_over_time - sum_over_time``); ``target`` (a string percentage) →
objective; ``window`` (``4w``, ``28d``, ``30d``, ``1w``...) → window;
``alerting.name`` → alert name (default ``ErrorBudgetBurn``);
``alerting.severities`` ``fastBurn``/``mediumBurn`` → the page alert's
``severity`` label, ``slowBurn``/``longTermBurn`` → the ticket's (defaults
critical, warning); ``alerting.disabled: true`` or ``burnrates: false`` →
no alerts; ``metadata.labels`` ``pyrra.dev/<name>`` → SLO label ``<name>``;
``metadata.namespace`` → service (``default`` when absent).

Not mapped (located errors): ``latencyNative`` (native histograms), two
severities in one tier, ``absent: true`` (the absent alert),
``performanceOverAccuracy``. Pyrra's own burn-rate windows differ from the
SRE Workbook pairs we generate (documented).
"""

from __future__ import annotations

import promql_parser

from pytest_selfslo.slo.nodes import Node
from pytest_selfslo.slo.service import (
    AlertSpec,
    ServiceLevel,
    ServiceSLOs,
    Sli,
    check_objective,
    window_from,
)

__all__ = ["from_pyrra", "is_pyrra"]

_W = "{{.window}}"


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
    sli = _indicator(spec.req("indicator"))
    alert_name, page, ticket = _alerting(spec.get("alerting"))
    slo = ServiceLevel(name=name, objective=objective, sli=sli, window=window,
                       description=spec.opt_text("description"), labels=labels,
                       alert_name=alert_name, page=page, ticket=ticket)
    return ServiceSLOs(service=namespace, slos=(slo,), source="pyrra.dev/v1alpha1")


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


def _grouping(node: Node) -> str:
    groups = [g.text("grouping") for g in node.opt_seq("grouping")]
    return f" by ({', '.join(groups)}) " if groups else ""


def _sum_rate(sel: promql_parser.VectorSelector, by: str) -> str:
    return f"sum{by}(rate({sel}[{_W}]))"


def _indicator(node: Node) -> Sli:
    kinds = node.keys()
    if len(kinds) != 1:
        raise node.error("indicator: exactly one of ratio, latency, bool_gauge is required")
    kind = kinds[0]
    body = node.req(kind)
    if kind == "latencyNative":
        raise node.key_node(kind).error("indicator.latencyNative: native histograms cannot be "
                                        "mapped (the engine and promtool tests use classic "
                                        "histogram buckets)")
    if kind == "ratio":
        body.only({"errors", "total", "grouping"}, "indicator.ratio")
        by = _grouping(body)
        errors = _selector(body.req("errors"), "ratio.errors")
        total = _selector(body.req("total"), "ratio.total")
        return Sli("ratio", errors=_sum_rate(errors, by), total=_sum_rate(total, by))
    if kind == "latency":
        body.only({"success", "total", "grouping"}, "indicator.latency")
        by = _grouping(body)
        success_node = body.req("success")
        success = _selector(success_node, "latency.success")
        total = _selector(body.req("total"), "latency.total")
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
            return Sli("latency", metric=base, selector=sel, threshold=float(le[0].value))
        t = _sum_rate(total, by)
        return Sli("ratio", errors=f"({t}) - ({_sum_rate(success, by)})", total=t)
    if kind == "bool_gauge":
        body.only({"metric", "grouping"}, "indicator.bool_gauge")
        by = _grouping(body)
        gauge = _selector(body, "bool_gauge")
        samples = f"sum{by}(count_over_time({gauge}[{_W}]))"
        return Sli("ratio", errors=f"({samples}) - (sum{by}(sum_over_time({gauge}[{_W}])))",
                   total=samples)
    raise node.key_node(kind).error(f"indicator: unknown Pyrra indicator {kind!r} (expected "
                                    "ratio, latency or bool_gauge)")


def _alerting(node: Node | None) -> tuple[str, AlertSpec, AlertSpec]:
    page_sev, ticket_sev = "critical", "warning"
    name = "ErrorBudgetBurn"
    if node is None:
        return name, AlertSpec(labels={"severity": page_sev}), \
            AlertSpec(labels={"severity": ticket_sev})
    node.only({"disabled", "burnrates", "absent", "name", "absentName", "severities"}, "alerting")
    name = node.opt_text("name", name)
    absent = node.get("absent")
    if absent is not None and absent.boolean("absent"):
        raise absent.error("alerting.absent: the absent-metric alert is not generated (set "
                           "absent: false; a missing metric is a lint finding, SL050)")
    off = node.get("disabled")
    burn = node.get("burnrates")
    if (off is not None and off.boolean("disabled")) or (burn is not None and
                                                         not burn.boolean("burnrates")):
        return name, AlertSpec(enabled=False), AlertSpec(enabled=False)
    sev = node.get("severities")
    if sev is not None:
        sev.only({"absent", "fastBurn", "mediumBurn", "slowBurn", "longTermBurn"},
                 "alerting.severities")
        for first, second, default in (("fastBurn", "mediumBurn", "critical"),
                                       ("slowBurn", "longTermBurn", "warning")):
            a, b = sev.opt_text(first, default), sev.opt_text(second, default)
            if a != b:
                raise sev.key_node(second).error(
                    f"alerting.severities: {first} {a!r} and {second} {b!r} differ (both pairs "
                    "of one tier are one alert with one severity label)")
            if first == "fastBurn":
                page_sev = a
            else:
                ticket_sev = a
    return name, AlertSpec(labels={"severity": page_sev}), AlertSpec(labels={"severity": ticket_sev})

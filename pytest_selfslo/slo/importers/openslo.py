"""OpenSLO: ``openslo/v1`` (SLO, SLI, AlertPolicy, AlertCondition, DataSource, Service)
and ``openslo/v1alpha`` (the SLO shape Sloth reads).

``openslo/v1`` objects come as YAML documents or lists in one file; an SLO's
``indicatorRef``, ``alertPolicyRef``, ``conditionRef`` and ``metricSourceRef``
name objects of the same file. Mapping (see ``docs/slo.md``):

* ``ratioMetric`` ``good`` or ``bad`` with ``total`` → ratio SLI (errors =
  ``bad``, or ``total - good``); ``ratioMetric.raw`` (a query of the ratio over
  ``{{.window}}``) → raw SLI, ``rawType: failure`` as is, ``success`` as
  ``1 - (query)``; ``thresholdMetric`` with an objective's ``op``
  and ``value`` → threshold SLI; ``metricSource`` must be Prometheus (``type``,
  or the referenced ``DataSource``'s); a query either uses ``{{.window}}`` or
  is a counter selector (optionally ``sum``/``sum by``), wrapped in
  ``rate(...[{{.window}}])``;
* ``timeWindow`` one rolling window of 7d, 28d or 30d; ``budgetingMethod:
  Occurrences``; each objective (``target`` 0-1 or ``targetPercent``) is one
  SLO, named after the SLO (plus ``-<displayName>`` when there are several);
* ``alertPolicies``: each ``burnrate`` condition (``op: gt``, ``threshold``,
  ``lookbackWindow`` L, ``severity`` page or ticket) is a window pair (L,
  L/12) — the SRE Workbook's short window; no policy: the default pairs;
  notification targets become the ``openslo_notification_targets``
  annotation.

Everything else — ``Timeslices``/``RatioTimeslices``, calendar windows,
non-Prometheus sources, ``alertAfter``, alerting on no data or
resolution, composite SLOs — is a located error that says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import promql_parser

from pytest_selfslo._core.durations import format_duration, parse_duration
from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.slo.nodes import Doc, Node
from pytest_selfslo.slo.service import (
    AlertSpec,
    BurnRateWindow,
    ServiceLevel,
    ServiceSLOs,
    Sli,
    check_objective,
    check_query,
    window_from,
)

__all__ = ["from_openslo", "is_openslo"]

_V1, _V1ALPHA = "openslo/v1", "openslo/v1alpha"
_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_KINDS = {"SLO", "SLI", "AlertPolicy", "AlertCondition", "AlertNotificationTarget", "DataSource",
          "Service"}


def is_openslo(root: Node) -> bool:
    """True for an OpenSLO object, or a list whose first element is one."""
    if _is_seq(root):
        items = root.seq()
        return bool(items) and is_openslo(items[0])
    api = _mapping_get(root, "apiVersion")
    return api is not None and api.text("apiVersion") in (_V1, _V1ALPHA)


def _is_seq(node: Node) -> bool:
    try:
        node.seq()
    except SLOSpecError:
        return False
    return True


def _mapping_get(node: Node, key: str) -> Node | None:
    try:
        return node.get(key)
    except SLOSpecError:
        return None


def _objects(docs: list[Doc]) -> Iterator[Node]:
    for doc in docs:
        if _is_seq(doc.root):
            yield from doc.root.seq()
        else:
            yield doc.root


def from_openslo(docs: list[Doc]) -> ServiceSLOs:
    """Every SLO of the OpenSLO objects in ``docs`` (one file)."""
    objects = list(_objects(docs))
    registry: dict[tuple[str, str], Node] = {}
    slos: list[ServiceLevel] = []
    services: list[str] = []
    versions: set[str] = set()
    for obj in objects:
        api = obj.req("apiVersion")
        version = api.text("apiVersion")
        if version not in (_V1, _V1ALPHA):
            raise api.error(f"apiVersion: expected {_V1} or {_V1ALPHA} in an OpenSLO file, "
                            f"got {version!r}")
        versions.add(version)
        kind_node = obj.req("kind")
        kind = kind_node.text("kind")
        if kind not in _KINDS:
            raise kind_node.error(f"kind: unknown OpenSLO kind {kind!r} (expected one of "
                                  f"{', '.join(sorted(_KINDS))})")
        name = obj.req("metadata").req("name").text("metadata.name")
        registry[(kind, name)] = obj
    if len(versions) > 1:
        raise objects[-1].req("apiVersion").error(
            "apiVersion: one file mixes openslo/v1 and openslo/v1alpha objects")
    for obj in objects:
        if obj.req("kind").text("kind") != "SLO":
            continue
        made = _slo_v1alpha(obj) if _V1ALPHA in versions else _slo_v1(obj, registry)
        services.extend(s.service for s in made)
        slos.extend(made)
    if not slos:
        raise objects[0].error("no SLO object in this OpenSLO file (kind: SLO)")
    first = services[0]
    slos = [s if s.service != first else _replace_service(s, "") for s in slos]
    return ServiceSLOs(service=first, slos=tuple(slos),
                       source=_V1ALPHA if _V1ALPHA in versions else _V1,
                       dialect="sloth" if _V1ALPHA in versions else "selfslo")


def _replace_service(slo: ServiceLevel, service: str) -> ServiceLevel:
    return replace(slo, service=service)


# --- openslo/v1alpha (Sloth's reading: ratioMetrics, 30-day windows, no alerts) -------------

def _slo_v1alpha(obj: Node) -> list[ServiceLevel]:
    obj.only({"apiVersion", "kind", "metadata", "spec"}, "SLO")
    name = obj.req("metadata").req("name").text("metadata.name")
    spec = obj.req("spec")
    spec.only({"service", "description", "budgetingMethod", "objectives", "timeWindows"},
              "SLO.spec")
    service = spec.req("service").text("spec.service")
    _occurrences(spec)
    windows = spec.req("timeWindows").seq()
    if len(windows) != 1:
        raise spec.req("timeWindows").error("timeWindows: exactly one window is supported")
    tw = windows[0]
    tw.only({"count", "unit", "isRolling"}, "timeWindows")
    unit = tw.req("unit").text("unit")
    count = tw.req("count").number("count")
    units = {"day": "d", "week": "w", "hour": "h"}
    if unit.lower() not in units:
        raise tw.req("unit").error(f"unit: {unit!r} is not supported (Day, Week or Hour)")
    rolling = tw.get("isRolling")
    if rolling is not None and not rolling.boolean("isRolling"):
        raise rolling.error("isRolling: calendar windows cannot be mapped (burn-rate alerts "
                            "need a rolling window)")
    window = window_from(tw, f"{int(count)}{units[unit.lower()]}", "timeWindows")
    out = []
    for i, objective in enumerate(spec.req("objectives").seq()):
        objective.only({"ratioMetrics", "target", "displayName"}, "objectives")
        target = objective.req("target")
        rm = objective.req("ratioMetrics")
        rm.only({"good", "bad", "total", "incremental"}, "ratioMetrics")
        sli = _ratio(rm, _query_v1alpha)
        out.append(ServiceLevel(name=f"{name}-{i}", objective=check_objective(
            target, target.number("target") * 100), sli=sli, window=window,
            description=spec.opt_text("description"), service=service,
            page=AlertSpec(enabled=False), ticket=AlertSpec(enabled=False)))
    return out


def _query_v1alpha(node: Node) -> tuple[str, Node]:
    node.only({"source", "queryType", "query", "metadata"}, "ratioMetrics query")
    source = node.req("source")
    if source.text("source").lower() != "prometheus":
        raise source.error(f"source: {source.text('source')!r} cannot be mapped (only "
                           "prometheus queries can be turned into rules)")
    q = node.req("query")
    return check_query(q, "query"), q


# --- openslo/v1 ----------------------------------------------------------------------------

def _occurrences(spec: Node) -> None:
    method = spec.get("budgetingMethod")
    if method is not None and method.text("budgetingMethod") != "Occurrences":
        raise method.error(f"budgetingMethod: {method.text('budgetingMethod')!r} cannot be mapped "
                           "(only Occurrences: burn-rate alerts count events, not time slices)")


def _ref(registry: dict[tuple[str, str], Node], kind: str, node: Node, what: str) -> Node:
    name = node.text(what)
    found = registry.get((kind, name))
    if found is None:
        raise node.error(f"{what}: no {kind} named {name!r} in this file")
    return found


def _slo_v1(obj: Node, registry: dict[tuple[str, str], Node]) -> list[ServiceLevel]:
    obj.only({"apiVersion", "kind", "metadata", "spec"}, "SLO")
    meta = obj.req("metadata")
    name = meta.req("name").text("metadata.name")
    spec = obj.req("spec")
    spec.only({"description", "service", "indicator", "indicatorRef", "timeWindow",
               "budgetingMethod", "objectives", "alertPolicies"}, "SLO.spec")
    if spec.get("budgetingMethod") is None:
        raise spec.error("missing required key 'budgetingMethod'")
    _occurrences(spec)
    service = spec.req("service").text("spec.service")
    window = _time_window(spec)
    slo_indicator = _indicator(spec, registry)
    pairs, page, ticket = _alerting(spec, registry, window)
    objectives = spec.req("objectives").seq()
    if not objectives:
        raise spec.req("objectives").error("objectives: at least one objective is required")
    out = []
    for i, objective in enumerate(objectives):
        objective.only({"displayName", "op", "value", "target", "targetPercent",
                        "timeSliceTarget", "timeSliceWindow", "indicator", "indicatorRef",
                        "compositeWeight"}, "objectives")
        for key in ("timeSliceTarget", "timeSliceWindow", "compositeWeight"):
            if objective.get(key) is not None:
                raise objective.key_node(key).error(
                    f"{key}: cannot be mapped ({'composite SLOs' if key == 'compositeWeight' else 'time slices'} "
                    "are not supported; budgetingMethod must be Occurrences)")
        indicator = _indicator(objective, registry) or slo_indicator
        if indicator is None:
            raise objective.error("objective has no indicator (the SLO's indicator or "
                                  "indicatorRef, or the objective's)")
        objective_pct = _target(objective)
        sli = _sli(indicator, objective, registry)
        label = objective.opt_text("displayName") or str(i)
        slo_name = name if len(objectives) == 1 else f"{name}-{_slug(label)}"
        out.append(ServiceLevel(name=slo_name, objective=objective_pct, sli=sli, window=window,
                                description=spec.opt_text("description"), service=service,
                                page=page, ticket=ticket, burn_rates=pairs))
    return out


def _slug(text: str) -> str:
    out = "".join(c.lower() if c.isalnum() else "-" for c in text).strip("-")
    return "-".join(p for p in out.split("-") if p) or "objective"


def _target(objective: Node) -> float:
    t, tp = objective.get("target"), objective.get("targetPercent")
    if (t is None) == (tp is None):
        raise objective.error("objective: exactly one of target (0-1) and targetPercent "
                              "(0-100) is required")
    if t is not None:
        value = t.number("target")
        if not 0 < value < 1:
            raise t.error(f"target: must be a ratio strictly between 0 and 1, got {value:g} "
                          "(use targetPercent for a percentage)")
        return check_objective(t, round(value * 100, 10))
    assert tp is not None
    return check_objective(tp, tp.number("targetPercent"))


def _time_window(spec: Node) -> str:
    node = spec.get("timeWindow")
    if node is None:
        raise spec.error("missing required key 'timeWindow'")
    windows = node.seq()
    if len(windows) != 1:
        raise node.error("timeWindow: exactly one window is supported")
    tw = windows[0]
    tw.only({"duration", "isRolling", "calendar"}, "timeWindow")
    rolling = tw.get("isRolling")
    if tw.get("calendar") is not None or (rolling is not None and not rolling.boolean("isRolling")):
        at = tw.key_node("calendar") if tw.get("calendar") is not None else rolling
        assert at is not None
        raise at.error("timeWindow: calendar windows cannot be mapped (burn-rate alerts need a "
                       "rolling window: isRolling: true)")
    dur = tw.req("duration")
    return window_from(dur, dur.text("duration"), "timeWindow.duration")


def _indicator(node: Node, registry: dict[tuple[str, str], Node]) -> Node | None:
    inline, ref = node.get("indicator"), node.get("indicatorRef")
    if inline is not None and ref is not None:
        raise ref.error("indicatorRef: give either indicator or indicatorRef, not both")
    if ref is not None:
        sli = _ref(registry, "SLI", ref, "indicatorRef")
        sli.only({"apiVersion", "kind", "metadata", "spec"}, "SLI")
        return sli.req("spec")
    if inline is not None:
        inline.only({"metadata", "spec"}, "indicator")
        return inline.req("spec")
    return None


def _sli(spec: Node, objective: Node, registry: dict[tuple[str, str], Node]) -> Sli:
    spec.only({"description", "thresholdMetric", "ratioMetric"}, "SLI.spec")
    ratio, threshold = spec.get("ratioMetric"), spec.get("thresholdMetric")
    if (ratio is None) == (threshold is None):
        raise spec.error("SLI: exactly one of ratioMetric and thresholdMetric is required")
    if threshold is not None:
        op, value = objective.get("op"), objective.get("value")
        if op is None or value is None:
            raise objective.error("objective: a thresholdMetric SLI needs op and value")
        if op.text("op") not in _OPS:
            raise op.error(f"op: expected one of {', '.join(_OPS)}, got {op.text('op')!r}")
        query, qnode = _metric_source(threshold, registry, counter=False)
        return Sli("threshold", metric=check_query(qnode, "thresholdMetric query",
                                                   needs_window=False) if query else query,
                   threshold=value.number("value"), comparison=_OPS[op.text("op")])
    assert ratio is not None
    ratio.only({"counter", "good", "bad", "total", "rawType", "raw"}, "ratioMetric")
    raw = ratio.get("raw")
    if raw is not None:
        return _raw_ratio(ratio, raw, registry)
    if ratio.get("rawType") is not None:
        raise ratio.key_node("rawType").error("ratioMetric.rawType: only valid with raw")
    counter_node = ratio.get("counter")
    counter = counter_node.boolean("counter") if counter_node is not None else True
    return _ratio(ratio, lambda n: _metric_source(n, registry, counter=counter))


_RAW_TYPES = ("success", "failure")


def _raw_ratio(ratio: Node, raw: Node, registry: dict[tuple[str, str], Node]) -> Sli:
    """``ratioMetric.raw`` (a precomputed ratio) → raw SLI; ``rawType: success`` → ``1 - (q)``."""
    for key in ("good", "bad", "total"):
        if ratio.get(key) is not None:
            raise ratio.key_node(key).error(f"ratioMetric.{key}: give either raw or "
                                            "good/bad and total, not both")
    raw_type = ratio.get("rawType")
    if raw_type is None:
        raise ratio.error("ratioMetric: raw needs rawType (success or failure)")
    kind = raw_type.text("rawType")
    if kind not in _RAW_TYPES:
        raise raw_type.error(f"ratioMetric.rawType: expected one of {', '.join(_RAW_TYPES)}, "
                             f"got {kind!r}")
    _, qnode = _metric_source(raw, registry, counter=False)
    query = check_query(qnode, "ratioMetric.raw query")  # a ratio over {{.window}}
    return Sli("raw", error_ratio=query if kind == "failure" else f"1 - (\n{query}\n)")


def _ratio(node: Node, read: Callable[[Node], tuple[str, Node]]) -> Sli:
    good, bad, total = node.get("good"), node.get("bad"), node.get("total")
    if (good is None) == (bad is None):
        raise node.error("ratio: exactly one of good and bad is required (with total)")
    if total is None:
        raise node.error("missing required key 'total'")
    t, _ = read(total)
    if bad is not None:
        b, _ = read(bad)
        return Sli("ratio", errors=b, total=t)
    assert good is not None
    g, gnode = read(good)
    errors = f"({t}) - ({g})"
    try:
        promql_parser.parse(errors.replace("{{.window}}", "5m"))
    except (ValueError, RuntimeError) as exc:
        raise gnode.error(f"good: total - good is invalid PromQL: {str(exc).splitlines()[0]}") \
            from None
    return Sli("ratio", errors=errors, total=t)


def _metric_source(node: Node, registry: dict[tuple[str, str], Node], *,
                   counter: bool) -> tuple[str, Node]:
    node.only({"metricSource"}, "metric")
    ms = node.req("metricSource")
    ms.only({"metricSourceRef", "type", "spec"}, "metricSource")
    kind = ms.get("type")
    source_type = kind.text("type") if kind is not None else ""
    ref = ms.get("metricSourceRef")
    if not source_type and ref is not None:
        ds = registry.get(("DataSource", ref.text("metricSourceRef")))
        if ds is not None:
            source_type = ds.req("spec").req("type").text("type")
    if source_type.lower() != "prometheus":
        at = kind or ref or ms
        raise at.error(f"metricSource: type {source_type or '(none)'!r} cannot be mapped (only "
                       "Prometheus queries can be turned into Prometheus rules)")
    spec = ms.req("spec")
    q = spec.req("query")
    return _windowed(q, counter), q


def _windowed(node: Node, counter: bool) -> str:
    text = node.text("query").strip()
    if "{{.window}}" in text:
        return check_query(node, "query")
    if not counter:
        return check_query(node, "query", needs_window=False)
    try:
        ast = promql_parser.parse(text)
    except (ValueError, RuntimeError) as exc:
        raise node.error(f"query: invalid PromQL: {str(exc).splitlines()[0]}") from None
    if isinstance(ast, promql_parser.VectorSelector):
        return f"sum(rate({ast}[{{{{.window}}}}]))"
    if (isinstance(ast, promql_parser.AggregateExpr) and str(ast.op) == "sum"
            and isinstance(ast.expr, promql_parser.VectorSelector)):
        grouping = f" {ast.modifier} " if ast.modifier is not None else ""
        return f"sum{grouping}(rate({ast.expr}[{{{{.window}}}}]))"
    raise node.error("query: a counter query must use {{.window}} as its range or be a counter "
                     "selector, optionally inside sum(...) (it is wrapped in rate(...[window]))")


def _alerting(spec: Node, registry: dict[tuple[str, str], Node], window: str
              ) -> tuple[tuple[BurnRateWindow, ...], AlertSpec, AlertSpec]:
    policies = spec.get("alertPolicies")
    if policies is None:
        return (), AlertSpec(), AlertSpec()
    pairs: list[BurnRateWindow] = []
    targets: dict[str, list[str]] = {"page": [], "ticket": []}
    for item in policies.seq():
        if item.get("alertPolicyRef") is not None:
            item.only({"alertPolicyRef"}, "alertPolicies")
            policy = _ref(registry, "AlertPolicy", item.req("alertPolicyRef"), "alertPolicyRef")
        else:
            policy = item
        policy.only({"apiVersion", "kind", "metadata", "spec"}, "AlertPolicy")
        pspec = policy.req("spec")
        pspec.only({"description", "alertWhenNoData", "alertWhenResolved", "alertWhenBreaching",
                    "conditions", "notificationTargets"}, "AlertPolicy.spec")
        for key in ("alertWhenNoData", "alertWhenResolved"):
            flag = pspec.get(key)
            if flag is not None and flag.boolean(key):
                raise flag.error(f"{key}: cannot be mapped (the generated alerts fire on a "
                                 "breaching burn rate only)")
        breach = pspec.get("alertWhenBreaching")
        if breach is not None and not breach.boolean("alertWhenBreaching"):
            raise breach.error("alertWhenBreaching: false cannot be mapped (a policy that never "
                               "alerts on breaches)")
        names = []
        for t in pspec.opt_seq("notificationTargets"):
            tr = t.get("targetRef")
            names.append(tr.text("targetRef") if tr is not None else
                         t.req("metadata").req("name").text("notificationTargets.metadata.name"))
        for cond in pspec.req("conditions").seq():
            if cond.get("conditionRef") is not None:
                cond.only({"conditionRef"}, "conditions")
                cond = _ref(registry, "AlertCondition", cond.req("conditionRef"), "conditionRef")
            cond.only({"apiVersion", "kind", "metadata", "spec"}, "AlertCondition")
            pair = _condition(cond.req("spec"))
            pairs.append(pair)
            targets[pair.severity].extend(names)
    def spec_for(sev: str) -> AlertSpec:
        if not any(p.severity == sev for p in pairs):
            return AlertSpec(enabled=False)
        names = list(dict.fromkeys(targets[sev]))
        return AlertSpec(annotations={"openslo_notification_targets": ",".join(names)}
                         if names else {})
    return tuple(pairs), spec_for("page"), spec_for("ticket")


def _condition(spec: Node) -> BurnRateWindow:
    spec.only({"description", "severity", "condition"}, "AlertCondition.spec")
    sev = spec.req("severity")
    severity = {"page": "page", "critical": "page", "ticket": "ticket",
                "warning": "ticket"}.get(sev.text("severity").lower())
    if severity is None:
        raise sev.error(f"severity: {sev.text('severity')!r} cannot be mapped (page or critical "
                        "→ page; ticket or warning → ticket)")
    c = spec.req("condition")
    c.only({"kind", "op", "threshold", "lookbackWindow", "alertAfter"}, "condition")
    kind = c.req("kind")
    if kind.text("kind").lower() != "burnrate":
        raise kind.error(f"kind: {kind.text('kind')!r} cannot be mapped (only burnrate)")
    op = c.req("op")
    if op.text("op") not in ("gt", "gte"):
        raise op.error(f"op: {op.text('op')!r} cannot be mapped (a burn-rate alert fires above "
                       "its threshold: gt)")
    after = c.get("alertAfter")
    if after is not None and parse_duration(after.text("alertAfter")) != 0:
        raise after.error("alertAfter: cannot be mapped (the generated alerts have no for: "
                          "delay; the short window of each pair confirms the burn instead)")
    thr = c.req("threshold")
    factor = thr.number("threshold")
    if factor <= 0:
        raise thr.error(f"threshold: must be > 0, got {factor:g}")
    lb = c.req("lookbackWindow")
    try:
        long_ms = parse_duration(lb.text("lookbackWindow"))
    except ValueError:
        raise lb.error(f"lookbackWindow: {lb.text('lookbackWindow')!r} is not a duration") \
            from None
    if long_ms < 12 * 60_000 or long_ms % 12:
        raise lb.error("lookbackWindow: must be at least 12m (the short window is 1/12 of it)")
    return BurnRateWindow(severity, format_duration(long_ms),  # type: ignore[arg-type]
                          format_duration(long_ms // 12), factor)

"""Sloth specs: ``version: prometheus/v1`` files and the ``sloth.slok.dev/v1`` CRD.

Mapping (see ``docs/slo.md``): ``sli.events.error_query/total_query`` → ratio
SLI; ``sli.raw.error_ratio_query`` and ``sli.plugin`` cannot be mapped to an
events SLI and are located errors; ``page_alert``/``ticket_alert`` → page/ticket
(``disable: true`` → disabled). Sloth's SLO period is always 30d.
"""

from __future__ import annotations

from pytest_selfslo.slo.nodes import Node
from pytest_selfslo.slo.service import (
    AlertSpec,
    ServiceLevel,
    ServiceSLOs,
    Sli,
    _labels,
    _map,
    check_objective,
    check_query,
)

__all__ = ["from_sloth", "from_sloth_crd", "is_sloth", "is_sloth_crd"]


def is_sloth(root: Node) -> bool:
    """True for a ``version: prometheus/v1`` document."""
    v = root.get("version")
    return v is not None and v.text("version") == "prometheus/v1"


def is_sloth_crd(root: Node) -> bool:
    """True for a ``PrometheusServiceLevel`` manifest."""
    api, kind = root.get("apiVersion"), root.get("kind")
    return (api is not None and kind is not None and api.text("apiVersion").startswith("sloth.slok.dev/")
            and kind.text("kind") == "PrometheusServiceLevel")


def from_sloth(root: Node) -> ServiceSLOs:
    """A ``prometheus/v1`` document."""
    root.only({"version", "service", "labels", "slos"}, "sloth spec")
    return _service(root, "sloth prometheus/v1")


def from_sloth_crd(root: Node) -> ServiceSLOs:
    """A ``PrometheusServiceLevel`` manifest (its ``spec`` has the same shape)."""
    root.only({"apiVersion", "kind", "metadata", "spec"}, "PrometheusServiceLevel")
    spec = root.req("spec")
    spec.only({"service", "labels", "slos"}, "PrometheusServiceLevel.spec")
    return _service(spec, "sloth.slok.dev/v1")


def _service(node: Node, source: str) -> ServiceSLOs:
    service = node.req("service").text("service")
    slos = tuple(_slo(n) for n in node.req("slos").seq())
    if not slos:
        raise node.req("slos").error("slos: at least one SLO is required")
    return ServiceSLOs(service=service, slos=slos, labels=_labels(node.get("labels"), "labels"),
                       source=source)


def _slo(node: Node) -> ServiceLevel:
    node.only({"name", "objective", "description", "labels", "sli", "alerting"}, "sloth slo")
    obj = node.req("objective")
    sli_node = node.req("sli")
    kinds = sli_node.keys()
    if "events" not in kinds:
        what = kinds[0] if kinds else "(none)"
        raise (sli_node.key_node(what) if kinds else sli_node).error(
            f"sli: Sloth SLI kind {what!r} cannot be mapped (only 'events' with error_query and "
            "total_query is supported: a raw ratio or a plugin has no event counts for the "
            "low-traffic guard and generated tests)")
    sli_node.only({"events"}, "sli")
    ev = sli_node.req("events")
    ev.only({"error_query", "total_query"}, "sli.events")
    sli = Sli("ratio", errors=check_query(ev.req("error_query"), "sli.events.error_query"),
              total=check_query(ev.req("total_query"), "sli.events.total_query"))
    alerting = node.get("alerting")
    name, labels, ann = "", {}, {}
    page, ticket = AlertSpec(), AlertSpec()
    if alerting is not None:
        alerting.only({"name", "labels", "annotations", "page_alert", "ticket_alert"}, "alerting")
        name = alerting.req("name").text("alerting.name")
        labels = _labels(alerting.get("labels"), "alerting.labels")
        ann = _map(alerting.get("annotations"), "alerting.annotations")
        page = _alert(alerting.get("page_alert"), "page_alert")
        ticket = _alert(alerting.get("ticket_alert"), "ticket_alert")
    else:
        page = ticket = AlertSpec(enabled=False)
    return ServiceLevel(name=node.req("name").text("name"),
                        objective=check_objective(obj, obj.number("objective")), sli=sli,
                        window="30d",
                        description=node.opt_text("description"),
                        labels=_labels(node.get("labels"), "labels"), alert_name=name,
                        alert_labels=labels, alert_annotations=ann, page=page, ticket=ticket)


def _alert(node: Node | None, what: str) -> AlertSpec:
    if node is None:
        return AlertSpec()
    node.only({"disable", "labels", "annotations"}, f"alerting.{what}")
    disable = node.get("disable")
    return AlertSpec(enabled=not (disable.boolean(f"{what}.disable") if disable else False),
                     labels=_labels(node.get("labels"), f"alerting.{what}.labels"),
                     annotations=_map(node.get("annotations"), f"alerting.{what}.annotations"))

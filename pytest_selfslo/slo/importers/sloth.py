"""Sloth specs: ``version: prometheus/v1`` files and the ``sloth.slok.dev/v1`` CRD.

Mapping (see ``docs/slo.md``): ``sli.events.error_query/total_query`` (CRD:
``errorQuery``/``totalQuery``) → ratio SLI; ``sli.raw.error_ratio_query`` (CRD:
``errorRatioQuery``) → raw SLI; ``sli.plugin: {id, options}`` → the raw SLI the
Python port of the SLI plugin returns (:mod:`~pytest_selfslo.slo.sliplugins`,
directories named by the caller as Sloth's ``-p DIR``); SLO plugins
(``slo_plugins``/CRD ``sloPlugins`` and per-SLO ``plugins``, with ``priority`` and
``overridePrevious``) → the SLO's resolved plugin chain (see
:mod:`pytest_selfslo.slo.slothplugins`); ``page_alert``/``ticket_alert`` (CRD:
``pageAlert``/``ticketAlert``)
→ page/ticket (``disable: true`` → disabled). Sloth's SLO period is 30d.
Imported specs use Sloth's label names (``dialect: sloth``), so the
generated alerts carry the labels Sloth's alerts carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
from pytest_selfslo.slo.sliplugins import SliPlugins
from pytest_selfslo.slo.slothplugins import ChainEntry, parse_chain_entries, resolve_chain

__all__ = ["from_sloth", "from_sloth_crd", "is_sloth", "is_sloth_crd"]


@dataclass(frozen=True)
class _Keys:
    """Field names of one Sloth dialect (the CRD spells them in camelCase)."""

    error_query: str = "error_query"
    total_query: str = "total_query"
    error_ratio_query: str = "error_ratio_query"
    page: str = "page_alert"
    ticket: str = "ticket_alert"
    slo_plugins: str = "slo_plugins"


_FILE = _Keys()
_CRD = _Keys("errorQuery", "totalQuery", "errorRatioQuery", "pageAlert", "ticketAlert",
             "sloPlugins")


def is_sloth(root: Node) -> bool:
    """True for a ``version: prometheus/v1`` document."""
    v = root.get("version")
    return v is not None and v.text("version") == "prometheus/v1"


def is_sloth_crd(root: Node) -> bool:
    """True for a ``PrometheusServiceLevel`` manifest."""
    api, kind = root.get("apiVersion"), root.get("kind")
    return (api is not None and kind is not None and api.text("apiVersion").startswith("sloth.slok.dev/")
            and kind.text("kind") == "PrometheusServiceLevel")


def from_sloth(root: Node, sli_plugins: SliPlugins | Sequence[str | Path] = ()) -> ServiceSLOs:
    """A ``prometheus/v1`` document; ``sli_plugins``: where ``sli.plugin`` ids are found."""
    root.only({"version", "service", "labels", "slos", _FILE.slo_plugins}, "sloth spec")
    return _service(root, "sloth prometheus/v1", _FILE, SliPlugins.of(sli_plugins))


def from_sloth_crd(root: Node, sli_plugins: SliPlugins | Sequence[str | Path] = ()
                   ) -> ServiceSLOs:
    """A ``PrometheusServiceLevel`` manifest (its ``spec`` has the same shape, camelCase)."""
    root.only({"apiVersion", "kind", "metadata", "spec"}, "PrometheusServiceLevel")
    spec = root.req("spec")
    spec.only({"service", "labels", "slos", _CRD.slo_plugins}, "PrometheusServiceLevel.spec")
    return _service(spec, "sloth.slok.dev/v1", _CRD, SliPlugins.of(sli_plugins))


def _chain(node: Node, key: str) -> tuple[list[ChainEntry], bool]:
    """A ``{overridePrevious, chain}`` plugins block: its entries and override flag."""
    body = node.get(key)
    if body is None:
        return [], False
    body.only({"overridePrevious", "chain"}, key)
    override = body.get("overridePrevious")
    chain = body.get("chain")
    return (parse_chain_entries(chain, f"{key}.chain") if chain is not None else [],
            override.boolean(f"{key}.overridePrevious") if override is not None else False)


def _service(node: Node, source: str, keys: _Keys, plugins: SliPlugins) -> ServiceSLOs:
    service = node.req("service").text("service")
    labels = _labels(node.get("labels"), "labels")
    group = _chain(node, keys.slo_plugins)
    slos = tuple(_slo(n, keys, _Context(service, labels, plugins), group)
                 for n in node.req("slos").seq())
    if not slos:
        raise node.req("slos").error("slos: at least one SLO is required")
    return ServiceSLOs(service=service, slos=slos, labels=labels, source=source, dialect="sloth")


@dataclass(frozen=True)
class _Context:
    """What an SLI plugin is called with besides its options."""

    service: str
    labels: dict[str, str]
    plugins: SliPlugins


_SLI_KINDS = ("events", "raw", "plugin")


def _sli(node: Node, keys: _Keys, slo_name: str, objective: float, ctx: _Context) -> Sli:
    kinds = node.keys()
    if len(kinds) != 1 or kinds[0] not in _SLI_KINDS:
        what = next((k for k in kinds if k not in _SLI_KINDS), kinds[-1] if kinds else "")
        raise (node.key_node(what) if kinds else node).error(
            f"sli: Sloth SLI kind {', '.join(kinds) or '(none)'!r} cannot be mapped "
            f"(expected exactly one of {', '.join(_SLI_KINDS)})")
    if kinds[0] == "events":
        ev = node.req("events")
        ev.only({keys.error_query, keys.total_query}, "sli.events")
        return Sli("ratio",
                   errors=check_query(ev.req(keys.error_query), f"sli.events.{keys.error_query}"),
                   total=check_query(ev.req(keys.total_query), f"sli.events.{keys.total_query}"))
    if kinds[0] == "raw":
        raw = node.req("raw")
        raw.only({keys.error_ratio_query}, "sli.raw")
        return Sli("raw", error_ratio=check_query(raw.req(keys.error_ratio_query),
                                                  f"sli.raw.{keys.error_ratio_query}"))
    return _plugin_sli(node.req("plugin"), slo_name, objective, ctx)


def _plugin_sli(node: Node, slo_name: str, objective: float, ctx: _Context) -> Sli:
    """Sloth's ``sli.plugin``: call the plugin, its query becomes a raw SLI."""
    node.only({"id", "options"}, "sli.plugin")
    id_node = node.req("id")
    plugin_id = id_node.text("sli.plugin.id")
    plugin = ctx.plugins.get(plugin_id)
    if plugin is None:
        where = ", ".join(str(d) for d in ctx.plugins.dirs) or "none given"
        raise id_node.error(
            f"sli.plugin.id: unknown SLI plugin {plugin_id!r} (directories searched: {where}; "
            "port the Go plugin to Python and name its directory with --sli-plugins, see "
            "docs/slo.md 'Sloth SLI plugins')")
    options = _map(node.get("options"), "sli.plugin.options")
    meta = {"service": ctx.service, "slo": slo_name, "objective": f"{objective:f}"}
    try:
        query = plugin.func(dict(meta), dict(ctx.labels), dict(options))
    except Exception as exc:  # user code: its failure is this spec's error
        raise node.error(f"sli.plugin: SLI plugin {plugin_id!r} ({plugin.path}) failed: "
                         f"{exc}") from None
    if not isinstance(query, str):
        raise node.error(f"sli.plugin: SLI plugin {plugin_id!r} ({plugin.path}) returned "
                         f"{type(query).__name__}, expected the error-ratio query (str)")
    return Sli("raw", error_ratio=check_query(node, f"sli.plugin: the query of {plugin_id!r}",
                                              text=query))


def _slo(node: Node, keys: _Keys, ctx: _Context, group: tuple[list[ChainEntry], bool]
         ) -> ServiceLevel:
    node.only({"name", "objective", "description", "labels", "sli", "alerting", "plugins"},
              "sloth slo")
    own, own_override = _chain(node, "plugins")
    obj = node.req("objective")
    objective = check_objective(obj, obj.number("objective"))
    slo_name = node.req("name").text("name")
    sli = _sli(node.req("sli"), keys, slo_name, objective, ctx)
    alerting = node.get("alerting")
    name, labels, ann = "", {}, {}
    page = ticket = AlertSpec(enabled=False)
    if alerting is not None:
        alerting.only({"name", "labels", "annotations", keys.page, keys.ticket}, "alerting")
        labels = _labels(alerting.get("labels"), "alerting.labels")
        ann = _map(alerting.get("annotations"), "alerting.annotations")
        page = _alert(alerting.get(keys.page), keys.page)
        ticket = _alert(alerting.get(keys.ticket), keys.ticket)
        if page.enabled or ticket.enabled:
            name = alerting.req("name").text("alerting.name")
        else:
            name = alerting.opt_text("name")
    return ServiceLevel(name=slo_name, objective=objective, sli=sli,
                        window="30d",
                        description=node.opt_text("description"),
                        labels=_labels(node.get("labels"), "labels"), alert_name=name,
                        alert_labels=labels, alert_annotations=ann, page=page, ticket=ticket,
                        plugins=resolve_chain(group[0], group[1], own, own_override))


def _alert(node: Node | None, what: str) -> AlertSpec:
    if node is None:
        return AlertSpec()
    node.only({"disable", "labels", "annotations"}, f"alerting.{what}")
    disable = node.get("disable")
    return AlertSpec(enabled=not (disable.boolean(f"{what}.disable") if disable else False),
                     labels=_labels(node.get("labels"), f"alerting.{what}.labels"),
                     annotations=_map(node.get("annotations"), f"alerting.{what}.annotations"))

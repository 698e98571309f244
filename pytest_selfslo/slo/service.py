"""Service SLOs (the interop model): what Sloth, OpenSLO and Pyrra specs are imported into.

A :class:`ServiceSLOs` holds one service's SLOs; each :class:`ServiceLevel` has
an SLI of one kind (``ratio``: errors/total queries; ``latency``: a histogram
and a threshold; ``threshold``: a gauge compared with a bound; ``raw``: an
error-ratio query, e.g. what a Sloth SLI plugin returns), an objective
in percent, a compliance window (30d default, 7d or 28d), labels, page/ticket
alerting and ``min_events`` (the low-traffic guard). The YAML format
(``version: selfslo/v1``) is documented in ``docs/slo.md``::

    >>> spec = load_service_slos_text('''
    ... version: selfslo/v1
    ... service: api
    ... slos:
    ...   - name: availability
    ...     objective: 99.9
    ...     sli:
    ...       ratio:
    ...         errors: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
    ...         total: sum(rate(http_requests_total[{{.window}}]))
    ... ''', "slo.yml")
    >>> spec.slos[0].error_budget
    0.001
    >>> spec.slos[0].window
    '30d'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import promql_parser
import yaml

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.rulefmt.goyaml import read_document
from pytest_selfslo.slo.nodes import Doc, Node
from pytest_selfslo.slo.slothplugins import SlothPlugin, parse_plugin

__all__ = [
    "LABEL_SCHEMES",
    "WINDOWS",
    "AbsentSpec",
    "AlertSpec",
    "BurnRateWindow",
    "LabelScheme",
    "ServiceLevel",
    "ServiceSLOs",
    "Sli",
    "budget_literal",
    "dump_service_slos",
    "load_service_slos",
    "load_service_slos_text",
    "service_from_doc",
    "service_of",
]

#: compliance windows we accept (the burn-rate defaults are defined for these)
WINDOWS = ("7d", "28d", "30d")
SliKind = Literal["ratio", "latency", "threshold", "raw"]
_KINDS = ("ratio", "latency", "threshold", "raw")
_WINDOW_PLACEHOLDER = "{{.window}}"
_COMPARISONS = ("<", "<=", ">", ">=")


@dataclass(frozen=True)
class Sli:
    """The indicator; queries contain ``{{.window}}`` where the range goes."""

    kind: SliKind
    errors: str = ""  #: ratio: bad events per second
    total: str = ""  #: ratio: all events per second
    metric: str = ""  #: latency: histogram name (without _bucket); threshold: gauge query
    selector: str = ""  #: latency: label matchers, e.g. ``job="api"``
    threshold: float = 0.0  #: latency: le bound in seconds; threshold: the bound
    comparison: str = "<="  #: threshold: good when ``metric <comparison> threshold``
    error_ratio: str = ""  #: raw: the error ratio (0..1) over ``{{.window}}``

    def ratio_query(self) -> str:
        """The error-ratio query template (what each window's recording rule evaluates)."""
        if self.kind == "raw":
            return self.error_ratio
        errors, total = self.error_query()
        return f"({errors})\n/\n({total})"

    def templates(self) -> tuple[str, ...]:
        """Every query template of this SLI (``errors, total``; ``raw``: the ratio)."""
        return (self.error_ratio,) if self.kind == "raw" else self.error_query()

    def good_query(self) -> str:
        """``G`` when a ratio SLI is given by its good events (errors ``(total) - (G)``, as
        ``good`` reads in our spec and OpenSLO's), else ``""``.

            >>> Sli("ratio", errors="(sum(all)) - (sum(ok))", total="sum(all)").good_query()
            'sum(ok)'
        """
        head = f"({self.total}) - ("
        if self.kind == "ratio" and self.errors.startswith(head) and self.errors.endswith(")"):
            return self.errors[len(head):-1]
        return ""

    def error_query(self) -> tuple[str, str]:
        """``(errors, total)`` query templates (every kind but ``raw``, which has no event
        counts: :class:`ValueError`)."""
        if self.kind == "raw":
            raise ValueError("a raw SLI has an error-ratio query, no errors/total queries")
        sel = f"{{{self.selector}}}" if self.selector else ""
        if self.kind == "ratio":
            return self.errors, self.total
        if self.kind == "latency":
            inner = f'{self.selector},le="{_go_float(self.threshold)}"' if self.selector \
                else f'le="{_go_float(self.threshold)}"'
            total = f"sum(rate({self.metric}_count{sel}[{_WINDOW_PLACEHOLDER}]))"
            good = f"sum(rate({self.metric}_bucket{{{inner}}}[{_WINDOW_PLACEHOLDER}]))"
            return f"({total} - {good})", total
        bad = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}[self.comparison]
        thr = _go_float(self.threshold)
        errors = f"sum(count_over_time(({self.metric} {bad} {thr})[{_WINDOW_PLACEHOLDER}:]))"
        total = f"sum(count_over_time(({self.metric})[{_WINDOW_PLACEHOLDER}:]))"
        return errors, total


@dataclass(frozen=True)
class LabelScheme:
    """Names of the labels generated series and alerts carry.

    ``selfslo`` (default) uses ``slo_*`` labels; ``sloth`` uses Sloth's
    (``sloth_id``, ``sloth_service``, ``sloth_slo``, ``sloth_window``,
    ``sloth_severity``) so Alertmanager routes written for Sloth keep matching
    (the ``sloth`` dialect of :attr:`ServiceSLOs.dialect`).
    """

    service: str
    slo: str
    window: str
    severity: str
    id: str = ""  #: when set, ``<service>-<slo>`` goes into this label


LABEL_SCHEMES = {
    "selfslo": LabelScheme("slo_service", "slo_name", "slo_window", "slo_severity"),
    "sloth": LabelScheme("sloth_service", "sloth_slo", "sloth_window", "sloth_severity",
                         "sloth_id"),
    "pyrra": LabelScheme("slo_service", "slo_name", "slo_window", "slo_severity"),
}


@dataclass(frozen=True)
class AlertSpec:
    """One severity (page or ticket): enabled flag, extra labels and annotations."""

    enabled: bool = True
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AbsentSpec:
    """The absent-metric alert: ``absent(selector) == 1`` for every metric the SLI reads."""

    name: str = "SLOMetricAbsent"
    for_: str = ""  #: ``for:`` of the alert ("" = none)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BurnRateWindow:
    """One window pair: fire when both error ratios exceed ``factor`` × budget.

    A pair with ``labels`` or ``for_`` is an alert rule of its own (its labels on top of
    the severity's, its ``for:``); the other pairs of a severity are one rule (``or``).
    """

    severity: Literal["page", "ticket"]
    long: str
    short: str
    factor: float
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    for_: str = ""

    @property
    def own_rule(self) -> bool:
        """True when this pair is an alert rule of its own."""
        return bool(self.labels or self.for_)


@dataclass(frozen=True)
class ServiceLevel:
    """One SLO of a service."""

    name: str
    objective: float  #: percent, 0 < objective < 100
    sli: Sli
    window: str = "30d"
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    alert_name: str = ""
    alert_labels: dict[str, str] = field(default_factory=dict)
    alert_annotations: dict[str, str] = field(default_factory=dict)
    page: AlertSpec = field(default_factory=AlertSpec)
    ticket: AlertSpec = field(default_factory=AlertSpec)
    min_events: float = 0.0  #: no alert when the long window saw fewer events
    burn_rates: tuple[BurnRateWindow, ...] = ()  #: empty: the defaults for ``window``
    service: str = ""  #: this SLO's service when it differs from the file's (merged documents)
    absent: AbsentSpec | None = None  #: the absent-metric alert (none by default)
    #: the ``sloth`` dialect's Sloth SLO plugin chain, in run order; empty: Sloth's default
    #: chain (SLI, metadata and alert rules), see :mod:`pytest_selfslo.slo.slothplugins`
    plugins: tuple[SlothPlugin, ...] = ()

    @property
    def error_budget(self) -> float:
        """Allowed error ratio, e.g. 0.001 for 99.9 %."""
        return round(1 - self.objective / 100, 12)


@dataclass(frozen=True)
class ServiceSLOs:
    """Every SLO of one service (one spec file)."""

    service: str
    slos: tuple[ServiceLevel, ...]
    labels: dict[str, str] = field(default_factory=dict)
    source: str = "selfslo/v1"  #: the format it was read from
    #: ``selfslo``, ``sloth`` or ``pyrra``: a key of :data:`LABEL_SCHEMES`; ``sloth`` and
    #: ``pyrra`` also write thresholds with their generator's arithmetic (see
    #: :func:`budget_literal`)
    dialect: str = "selfslo"

    @property
    def scheme(self) -> LabelScheme:
        """The :class:`LabelScheme` of generated series and alerts."""
        return LABEL_SCHEMES[self.dialect]


def budget_literal(spec: ServiceSLOs, slo: ServiceLevel) -> str:
    """The error budget as written into generated rules.

    Ours is the decimal budget (``0.001`` for 99.9 %). The ``sloth`` dialect
    writes Sloth's binary floating-point result of ``(100 - objective) / 100``
    (``0.0009999999999999432``), so that an error ratio of exactly the
    threshold fires (or not) as it does with Sloth's rules; ``pyrra`` writes
    Pyrra's ``1 - objective / 100`` (``0.010000000000000009`` for 99).
    """
    if spec.dialect == "sloth":
        return repr((100 - slo.objective) / 100)
    if spec.dialect == "pyrra":  # Pyrra's (1-0.99): the target as a fraction, then 1 - it
        return repr(1 - slo.objective / 100)
    value = slo.error_budget
    return str(int(value)) if value == int(value) else repr(value)


def service_of(spec: ServiceSLOs, slo: ServiceLevel) -> str:
    """The service an SLO belongs to (its own ``service`` or the file's)."""
    return slo.service or spec.service


def load_service_slos(path: str | Path) -> ServiceSLOs:
    """Read a ``selfslo/v1`` spec file (errors are ``path:line:col: why``)."""
    return load_service_slos_text(read_document(path, "SLO spec"), str(path))


def load_service_slos_text(text: str, path: str = "<slo>") -> ServiceSLOs:
    """Parse a ``selfslo/v1`` spec from text."""
    return service_from_doc(Doc.parse(text, path).root)


def service_from_doc(root: Node) -> ServiceSLOs:
    """Validate and build the model from a composed ``selfslo/v1`` document."""
    root.only({"version", "service", "labels", "slos", "dialect"}, "spec")
    version = root.req("version")
    if version.text("version") != "selfslo/v1":
        raise version.error(f"version: expected 'selfslo/v1', got {version.text('version')!r}")
    service = root.req("service").text("service")
    labels = _labels(root.get("labels"), "labels")
    slos_node = root.req("slos")
    slos = tuple(_slo(n) for n in slos_node.seq())
    if not slos:
        raise slos_node.error("slos: at least one SLO is required")
    check_unique(slos_node.seq(), slos, service)
    scheme = "selfslo"
    scheme_node = root.get("dialect")
    if scheme_node is not None:
        scheme = scheme_node.text("dialect")
        if scheme not in LABEL_SCHEMES:
            raise scheme_node.error(f"dialect: expected one of {', '.join(LABEL_SCHEMES)}, "
                                    f"got {scheme!r}")
    if scheme != "sloth":
        for node, slo in zip(slos_node.seq(), slos, strict=True):
            if slo.plugins:
                raise node.key_node("plugins").error(
                    "plugins: Sloth SLO plugins apply to the sloth dialect only "
                    "(add 'dialect: sloth')")
    return ServiceSLOs(service=service, slos=slos, labels=labels, dialect=scheme)


def check_unique(nodes: list[Node], slos: tuple[ServiceLevel, ...], service: str) -> None:
    """Error at the second SLO with the same (service, name)."""
    seen: set[tuple[str, str]] = set()
    for node, slo in zip(nodes, slos, strict=True):
        key = (slo.service or service, slo.name)
        if key in seen:
            raise node.error(f"duplicate SLO name {slo.name!r} (service {key[0]!r})")
        seen.add(key)


def _slo(node: Node) -> ServiceLevel:
    node.only({"name", "objective", "window", "description", "labels", "sli", "alerting",
               "min_events", "burn_rates", "service", "plugins"}, "slo")
    name = node.req("name").text("name")
    obj_node = node.req("objective")
    objective = check_objective(obj_node, obj_node.number("objective"))
    window = check_window(node.get("window"))
    sli = _sli(node.req("sli"))
    alerting = node.get("alerting")
    page, ticket = AlertSpec(), AlertSpec()
    alert_name, alert_labels, alert_ann = "", {}, {}
    absent: AbsentSpec | None = None
    if alerting is not None:
        alerting.only({"name", "labels", "annotations", "page", "ticket", "absent"},
                      "alerting")
        alert_name = alerting.opt_text("name")
        absent = _absent(alerting.get("absent"))
        alert_labels = _labels(alerting.get("labels"), "alerting.labels")
        alert_ann = _map(alerting.get("annotations"), "alerting.annotations")
        page = _alert(alerting.get("page"), "page")
        ticket = _alert(alerting.get("ticket"), "ticket")
    min_node = node.get("min_events")
    min_events = min_node.number("min_events") if min_node else 0.0
    if min_node is not None and min_events < 0:
        raise min_node.error(f"min_events: must be >= 0, got {min_events:g}")
    if min_node is not None and min_events and sli.kind == "raw":
        raise min_node.error("min_events: a raw SLI has no event counts for the low-traffic "
                             "guard (use a ratio SLI: errors and total queries)")
    burn = tuple(_burn(n) for n in node.opt_seq("burn_rates"))
    return ServiceLevel(name=name, objective=objective, sli=sli, window=window,
                        description=node.opt_text("description"),
                        labels=_labels(node.get("labels"), "labels"), alert_name=alert_name,
                        alert_labels=alert_labels, alert_annotations=alert_ann, page=page,
                        ticket=ticket, min_events=min_events, burn_rates=burn,
                        service=node.opt_text("service"), absent=absent,
                        plugins=_plugins(node))


def _plugins(node: Node) -> tuple[SlothPlugin, ...]:
    """``plugins:``: the Sloth plugin chain, in run order (each ``{id, config}``)."""
    out = []
    for i, item in enumerate(node.opt_seq("plugins")):
        item.only({"id", "config"}, f"plugins[{i}]")
        plugin = parse_plugin(item, f"plugins[{i}]", allow_no_effect=False)
        assert plugin is not None
        out.append(plugin)
    return tuple(out)


def check_objective(node: Node, value: float) -> float:
    """The objective in percent, strictly between 0 and 100."""
    if not 0 < value < 100:
        raise node.error(f"objective: must be a percentage strictly between 0 and 100, got {value:g}")
    return value


def check_window(node: Node | None) -> str:
    """A compliance window: 7d, 28d or 30d (default 30d)."""
    if node is None:
        return "30d"
    text = node.text("window")
    try:
        parse_duration(text)
    except ValueError:
        raise node.error(f"window: {text!r} is not a duration (expected one of "
                         f"{', '.join(WINDOWS)})") from None
    if text not in WINDOWS:
        raise node.error(f"window: {text!r} is not supported (expected one of {', '.join(WINDOWS)})")
    return text


def window_from(node: Node, text: str, what: str = "window") -> str:
    """An importer's window (``4w``, ``28d``, ``720h``...) as one of :data:`WINDOWS`."""
    try:
        ms = parse_duration(text)
    except ValueError:
        raise node.error(f"{what}: {text!r} is not a duration (expected one of "
                         f"{', '.join(WINDOWS)})") from None
    for window in WINDOWS:
        if parse_duration(window) == ms:
            return window
    raise node.error(f"{what}: {text!r} is not supported (the burn-rate pairs are defined for "
                     f"{', '.join(WINDOWS)})")


def check_query(node: Node, what: str, *, needs_window: bool = True,
                text: str | None = None) -> str:
    """A PromQL template: parses (with the window filled in) and uses ``{{.window}}``.

    ``text``: a query that did not come from the file (an SLI plugin's), errors at ``node``.
    """
    text = (node.text(what) if text is None else text).strip()
    if needs_window and _WINDOW_PLACEHOLDER not in text:
        raise node.error(f"{what}: the query must use {_WINDOW_PLACEHOLDER} as its range")
    try:
        promql_parser.parse(text.replace(_WINDOW_PLACEHOLDER, "5m"))
    except (ValueError, RuntimeError) as exc:
        raise node.error(f"{what}: invalid PromQL: {str(exc).splitlines()[0]}") from None
    return text


def _sli(node: Node) -> Sli:
    kinds = node.keys()
    if len(kinds) != 1 or kinds[0] not in _KINDS:
        raise (node.key_node(kinds[0]) if kinds else node).error(
            f"sli: unknown SLI kind {', '.join(kinds) or '(none)'!r} "
            f"(expected exactly one of {', '.join(_KINDS)})")
    kind = kinds[0]
    body = node.req(kind)
    if kind == "raw":
        body.only({"error_ratio"}, "sli.raw")
        return Sli("raw", error_ratio=check_query(body.req("error_ratio"), "sli.raw.error_ratio"))
    if kind == "ratio":
        body.only({"errors", "total"}, "sli.ratio")
        return Sli("ratio", errors=check_query(body.req("errors"), "sli.ratio.errors"),
                   total=check_query(body.req("total"), "sli.ratio.total"))
    if kind == "latency":
        body.only({"metric", "selector", "threshold"}, "sli.latency")
        thr = body.req("threshold")
        sli = Sli("latency", metric=body.req("metric").text("sli.latency.metric"),
                  selector=body.opt_text("selector"),
                  threshold=thr.number("sli.latency.threshold"))
        if sli.threshold <= 0:
            raise thr.error("sli.latency.threshold: must be > 0 seconds")
        _check_built(body, sli)
        return sli
    body.only({"metric", "comparison", "threshold"}, "sli.threshold")
    comp_node = body.get("comparison")
    comparison = comp_node.text("comparison") if comp_node else "<="
    if comp_node is not None and comparison not in _COMPARISONS:
        raise comp_node.error(f"sli.threshold.comparison: expected one of "
                              f"{', '.join(_COMPARISONS)}, got {comparison!r}")
    sli = Sli("threshold", metric=check_query(body.req("metric"), "sli.threshold.metric",
                                              needs_window=False),
              threshold=body.req("threshold").number("sli.threshold.threshold"),
              comparison=comparison)
    _check_built(body, sli)
    return sli


def _check_built(node: Node, sli: Sli) -> None:
    for query in sli.error_query():
        try:
            promql_parser.parse(query.replace(_WINDOW_PLACEHOLDER, "5m"))
        except (ValueError, RuntimeError) as exc:
            raise node.error(f"sli.{sli.kind}: the generated query is invalid PromQL "
                             f"({str(exc).splitlines()[0]}): {query}") from None


def _alert(node: Node | None, what: str) -> AlertSpec:
    if node is None:
        return AlertSpec()
    node.only({"enabled", "labels", "annotations"}, f"alerting.{what}")
    enabled = node.get("enabled")
    return AlertSpec(enabled=enabled.boolean(f"{what}.enabled") if enabled else True,
                     labels=_labels(node.get("labels"), f"alerting.{what}.labels"),
                     annotations=_map(node.get("annotations"), f"alerting.{what}.annotations"))


def _for(node: Node | None, what: str) -> str:
    if node is None:
        return ""
    text = node.text(what)
    try:
        parse_duration(text)
    except ValueError:
        raise node.error(f"{what}: {text!r} is not a duration") from None
    return text


def _absent(node: Node | None) -> AbsentSpec | None:
    if node is None:
        return None
    node.only({"name", "for", "labels"}, "alerting.absent")
    return AbsentSpec(name=node.opt_text("name", "SLOMetricAbsent"),
                      for_=_for(node.get("for"), "alerting.absent.for"),
                      labels=_labels(node.get("labels"), "alerting.absent.labels"))


def _burn(node: Node) -> BurnRateWindow:
    node.only({"severity", "long", "short", "factor", "labels", "for"}, "burn_rates")
    sev = node.req("severity")
    if sev.text("severity") not in ("page", "ticket"):
        raise sev.error(f"burn_rates.severity: expected page or ticket, got {sev.text('severity')!r}")
    durations = []
    for key in ("long", "short"):
        d = node.req(key)
        try:
            durations.append((parse_duration(d.text(key)), d.text(key)))
        except ValueError:
            raise d.error(f"burn_rates.{key}: {d.text(key)!r} is not a duration") from None
    if durations[1][0] >= durations[0][0] or durations[1][0] <= 0:
        raise node.error("burn_rates: short window must be positive and shorter than long window")
    fac = node.req("factor")
    factor = fac.number("factor")
    if factor <= 0:
        raise fac.error(f"burn_rates.factor: must be > 0, got {factor:g}")
    return BurnRateWindow(sev.text("severity"), durations[0][1], durations[1][1],  # type: ignore[arg-type]
                          factor, labels=_labels(node.get("labels"), "burn_rates.labels"),
                          for_=_for(node.get("for"), "burn_rates.for"))


def _labels(node: Node | None, what: str) -> dict[str, str]:
    out = _map(node, what)
    for key in out:
        if not key.replace("_", "a").isalnum() or key[0].isdigit():
            assert node is not None
            raise node.key_node(key).error(f"{what}: invalid label name {key!r}")
    return out


def _map(node: Node | None, what: str) -> dict[str, str]:
    return {} if node is None else node.str_map(what)


def _go_float(value: float) -> str:
    return repr(value) if value != int(value) else str(int(value))


def _dump_pair(b: BurnRateWindow) -> dict[str, object]:
    out: dict[str, object] = {"severity": b.severity, "long": b.long, "short": b.short,
                              "factor": b.factor}
    if b.for_:
        out["for"] = b.for_
    if b.labels:
        out["labels"] = dict(b.labels)
    return out


def dump_service_slos(spec: ServiceSLOs) -> str:
    """The ``selfslo/v1`` YAML of ``spec`` (stable key order: deterministic output)."""
    slos = []
    for slo in spec.slos:
        item: dict[str, object] = {"name": slo.name, "objective": slo.objective,
                                   "window": slo.window}
        if slo.service and slo.service != spec.service:
            item["service"] = slo.service
        if slo.description:
            item["description"] = slo.description
        if slo.labels:
            item["labels"] = dict(slo.labels)
        s = slo.sli
        if s.kind == "ratio":
            item["sli"] = {"ratio": {"errors": s.errors, "total": s.total}}
        elif s.kind == "raw":
            item["sli"] = {"raw": {"error_ratio": s.error_ratio}}
        elif s.kind == "latency":
            lat: dict[str, object] = {"metric": s.metric, "threshold": s.threshold}
            if s.selector:
                lat["selector"] = s.selector
            item["sli"] = {"latency": lat}
        else:
            item["sli"] = {"threshold": {"metric": s.metric, "comparison": s.comparison,
                                         "threshold": s.threshold}}
        alerting: dict[str, object] = {}
        if slo.alert_name:
            alerting["name"] = slo.alert_name
        if slo.alert_labels:
            alerting["labels"] = dict(slo.alert_labels)
        if slo.alert_annotations:
            alerting["annotations"] = dict(slo.alert_annotations)
        for sev, a in (("page", slo.page), ("ticket", slo.ticket)):
            body: dict[str, object] = {}
            if not a.enabled:
                body["enabled"] = False
            if a.labels:
                body["labels"] = dict(a.labels)
            if a.annotations:
                body["annotations"] = dict(a.annotations)
            if body:
                alerting[sev] = body
        if slo.absent is not None:
            absent: dict[str, object] = {"name": slo.absent.name}
            if slo.absent.for_:
                absent["for"] = slo.absent.for_
            if slo.absent.labels:
                absent["labels"] = dict(slo.absent.labels)
            alerting["absent"] = absent
        if alerting:
            item["alerting"] = alerting
        if slo.min_events:
            item["min_events"] = slo.min_events
        if slo.burn_rates:
            item["burn_rates"] = [_dump_pair(b) for b in slo.burn_rates]
        if slo.plugins:
            item["plugins"] = [{"id": p.id, **({"config": p.config} if p.config else {})}
                               for p in slo.plugins]
        slos.append(item)
    doc: dict[str, object] = {"version": "selfslo/v1", "service": spec.service}
    if spec.labels:
        doc["labels"] = dict(spec.labels)
    if spec.dialect != "selfslo":
        doc["dialect"] = spec.dialect
    doc["slos"] = slos
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000)

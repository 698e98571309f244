"""Sloth's SLO plugins: ids, validated configs, and the chain order Sloth runs them in.

Sloth builds an SLO's rules by running a chain of plugins over three rule
groups (SLI error ratios, metadata, alerts). The default chain is
``validate``, ``sli_rules``, ``metadata_rules``, ``alert_rules``; a spec adds
plugins at service level (``slo_plugins``, CRD ``sloPlugins``) and per SLO
(``plugins``), each ``{id, priority, config}``. Sloth sorts them by priority
(stable), runs the negative ones before the default chain and the others
after it; ``overridePrevious: true`` drops the default chain (service level)
or the default chain and the service's plugins (SLO level).

:func:`resolve_chain` turns that into the flat chain stored on
:attr:`~pytest_selfslo.slo.service.ServiceLevel.plugins` (empty: the default);
:mod:`pytest_selfslo.slo.burnrate` applies it in the ``sloth`` dialect. Plugins
without an effect on the rules (``debug``, ``noop``, ``validate``) are
accepted and left out of the chain.

    >>> [p.id.split("/")[-2] for p in DEFAULT_CHAIN]
    ['sli_rules', 'metadata_rules', 'alert_rules']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.slo.nodes import Node

__all__ = ["ALERT_RULES", "DEFAULT_CHAIN", "DENOMINATOR_CORRECTED", "ERROR_BUDGET_EXHAUSTED",
           "INFO_LABELS", "METADATA_RULES", "NO_EFFECT", "REMOVE_LABELS", "RULE_INTERVALS",
           "SLI_RULES", "SUPPORTED", "VICTORIA_METRICS", "ChainEntry", "SlothPlugin",
           "parse_chain_entries", "parse_plugin", "resolve_chain"]

SLI_RULES = "sloth.dev/core/sli_rules/v1"
METADATA_RULES = "sloth.dev/core/metadata_rules/v1"
ALERT_RULES = "sloth.dev/core/alert_rules/v1"
DENOMINATOR_CORRECTED = "sloth.dev/contrib/denominator_corrected_rules/v1"
RULE_INTERVALS = "sloth.dev/contrib/rule_intervals/v1"
INFO_LABELS = "sloth.dev/contrib/info_labels/v1"
REMOVE_LABELS = "sloth.dev/contrib/remove_labels/v1"
ERROR_BUDGET_EXHAUSTED = "sloth.dev/contrib/error_budget_exhausted_alert/v1"
VICTORIA_METRICS = "sloth.dev/contrib/validate_victoria_metrics/v1"
#: accepted, no effect on the generated rules
NO_EFFECT = ("sloth.dev/core/debug/v1", "sloth.dev/core/noop/v1", "sloth.dev/core/validate/v1")
#: what a chain may hold, with the config keys each plugin accepts
_CONFIG_KEYS: dict[str, set[str]] = {
    SLI_RULES: {"disableOptimized"},
    METADATA_RULES: set(),
    ALERT_RULES: set(),
    DENOMINATOR_CORRECTED: {"disableOptimized"},
    RULE_INTERVALS: {"interval"},
    INFO_LABELS: {"labels", "metricName"},
    REMOVE_LABELS: {"preserveLabels", "skipMetrics"},
    ERROR_BUDGET_EXHAUSTED: {"threshold", "for", "annotations", "alert_name", "alert_labels",
                             "selector_labels"},
}
SUPPORTED = (*_CONFIG_KEYS, *NO_EFFECT)
_INTERVAL_KINDS = ("default", "sliError", "metadata", "alert")


@dataclass(frozen=True)
class SlothPlugin:
    """One plugin of a resolved chain: its id and its validated config (Sloth's JSON keys)."""

    id: str
    config: dict[str, Any] = field(default_factory=dict)


DEFAULT_CHAIN = (SlothPlugin(SLI_RULES), SlothPlugin(METADATA_RULES), SlothPlugin(ALERT_RULES))


@dataclass(frozen=True)
class ChainEntry:
    """A chain entry as a Sloth spec declares it (before ordering)."""

    plugin: SlothPlugin | None  #: None for a plugin without effect
    priority: int


def parse_plugin(node: Node, where: str, *, allow_no_effect: bool = True) -> SlothPlugin | None:
    """A chain entry's ``id`` and ``config`` (``None`` for debug/noop/validate)."""
    id_node = node.req("id")
    pid = id_node.text(f"{where}.id")
    if pid == VICTORIA_METRICS:
        raise id_node.error(
            f"{where}.id: {pid} declares the SLI queries MetricsQL (VictoriaMetrics), which is "
            "not PromQL: Prometheus, promtool and selfslo's engine cannot evaluate them "
            "(e.g. histogram_share), so these rules can neither be generated nor tested here")
    if pid in NO_EFFECT and allow_no_effect:
        return None
    if pid not in _CONFIG_KEYS:
        raise id_node.error(f"{where}.id: unknown Sloth SLO plugin {pid!r} (supported: "
                            f"{', '.join(SUPPORTED if allow_no_effect else _CONFIG_KEYS)})")
    cfg = node.get("config")
    return SlothPlugin(pid, _config(pid, cfg, f"{where}.config") if cfg is not None else
                       _config(pid, None, f"{where}.config", at=id_node))


def parse_chain_entries(node: Node, where: str) -> list[ChainEntry]:
    """The entries of one Sloth ``chain:`` list (``id``, ``priority``, ``config``)."""
    out = []
    for i, item in enumerate(node.seq()):
        item.only({"id", "priority", "config"}, f"{where}[{i}]")
        prio_node = item.get("priority")
        priority = 0
        if prio_node is not None:
            value = prio_node.number(f"{where}[{i}].priority")
            if value != int(value):
                raise prio_node.error(f"{where}[{i}].priority: expected an integer, got "
                                      f"{prio_node.text('priority')!r}")
            priority = int(value)
        out.append(ChainEntry(parse_plugin(item, f"{where}[{i}]"), priority))
    return out


def resolve_chain(service: Sequence[ChainEntry], service_override: bool,
                  slo: Sequence[ChainEntry], slo_override: bool) -> tuple[SlothPlugin, ...]:
    """The chain Sloth runs for one SLO; ``()`` when that is the default chain."""
    entries = list(slo) if slo_override else [*service, *slo]
    override = service_override or slo_override
    ordered = sorted(entries, key=lambda e: e.priority)  # stable, as Go's SortStableFunc
    pre = [e.plugin for e in ordered if e.priority < 0 and e.plugin is not None]
    post = [e.plugin for e in ordered if e.priority >= 0 and e.plugin is not None]
    chain = (*pre, *(() if override else DEFAULT_CHAIN), *post)
    return () if chain == DEFAULT_CHAIN else chain


def _config(pid: str, node: Node | None, where: str, *, at: Node | None = None) -> dict[str, Any]:
    """Validate ``pid``'s config; errors at ``node`` (or ``at`` for a missing config)."""
    if node is not None:
        node.only(_CONFIG_KEYS[pid], where)
    where_node = node if node is not None else at
    assert where_node is not None
    get = node.get if node is not None else (lambda _key: None)
    out: dict[str, Any] = {}
    if pid in (SLI_RULES, DENOMINATOR_CORRECTED):
        flag = get("disableOptimized")
        if flag is not None and flag.boolean(f"{where}.disableOptimized"):
            out["disableOptimized"] = True
    elif pid == RULE_INTERVALS:
        body = get("interval")
        if body is None:
            raise where_node.error(f"{where}.interval.default: at least the default interval is "
                                   "required (as Sloth's rule_intervals plugin requires)")
        body.only(set(_INTERVAL_KINDS), f"{where}.interval")
        intervals = {}
        for kind in _INTERVAL_KINDS:
            value = body.get(kind)
            if value is not None:
                intervals[kind] = _duration(value, f"{where}.interval.{kind}")
        if not intervals.get("default"):
            raise body.error(f"{where}.interval.default: at least the default interval is "
                             "required (as Sloth's rule_intervals plugin requires)")
        out["interval"] = intervals
    elif pid == INFO_LABELS:
        labels = get("labels")
        # any UTF-8 name, as Prometheus 3 accepts (Sloth's own example uses ``plug-l1``,
        # which Prometheus 2 rejects in a rule file)
        out["labels"] = (_label_map(labels, f"{where}.labels", utf8=True) if labels is not None
                         else {})
        if not out["labels"]:
            raise (labels or where_node).error(f"{where}.labels: at least one label is required "
                                               "(as Sloth's info_labels plugin requires)")
        metric = get("metricName")
        if metric is not None and metric.text(f"{where}.metricName"):
            out["metricName"] = metric.text(f"{where}.metricName")
    elif pid == REMOVE_LABELS:
        for key in ("preserveLabels", "skipMetrics"):
            items = get(key)
            if items is not None:
                out[key] = [n.text(f"{where}.{key}[{i}]") for i, n in enumerate(items.seq())]
    elif pid == ERROR_BUDGET_EXHAUSTED:
        thr = get("threshold")
        if thr is not None:
            out["threshold"] = thr.number(f"{where}.threshold")
        for_node = get("for")
        if for_node is not None:
            out["for"] = _duration(for_node, f"{where}.for")
        name = get("alert_name")
        if name is not None and name.text(f"{where}.alert_name"):
            out["alert_name"] = name.text(f"{where}.alert_name")
        for key in ("annotations", "alert_labels", "selector_labels"):
            value = get(key)
            if value is not None:
                out[key] = (value.str_map(f"{where}.{key}") if key == "annotations"
                            else _label_map(value, f"{where}.{key}"))
    return out


def _duration(node: Node, what: str) -> str:
    text = node.text(what)
    try:
        ms = parse_duration(text)
    except ValueError:
        raise node.error(f"{what}: {text!r} is not a duration") from None
    if ms <= 0:
        raise node.error(f"{what}: must be a positive duration, got {text!r}")
    return text


def _label_map(node: Node, what: str, *, utf8: bool = False) -> dict[str, str]:
    out = node.str_map(what)
    for key in out:
        if key == "__name__" or not key or (
                not utf8 and (not key.replace("_", "a").isalnum() or not key.isascii()
                              or key[0].isdigit())):
            raise node.key_node(key).error(f"{what}: invalid label name {key!r}")
    return out

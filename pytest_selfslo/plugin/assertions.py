"""``assert_*`` helpers whose failure messages say what was expected, what happened and why.

Registered for pytest's assertion rewriting by the plugin, and usable from any
test::

    from pytest_selfslo.plugin.assertions import assert_alert_fires, assert_metric

    def test_coherence_drop_pages(tmp_path):
        assert_alert_fires("rules/phase_c_rules.yml",
                           {'self_coherence{token_id="a"}': "0.95x10 0.5x20"},
                           "AURIS_SELF_Coherence_Drop", at="25m")

Each failure is an :class:`AssertionError` whose first line states the
expectation and the following lines the evidence (values, states, durations).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_selfslo.alerting.timeline import AlertTimeline, SeriesInput, simulate_alert

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from pytest_selfslo.heartbeat import Heartbeat
    from pytest_selfslo.slo.spec import SLOSpec

__all__ = [
    "assert_alert_fires",
    "assert_alert_silent",
    "assert_metric",
    "assert_rules_valid",
    "assert_slo_met",
]


def _labels_text(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def assert_alert_fires(rules: str | Path | Sequence[Any], series: SeriesInput, alertname: str,
                       at: str | float, labels: Mapping[str, str] | None = None, *,
                       interval: str = "1m") -> None:
    """Assert ``alertname`` is *firing* at ``at`` given ``series`` (promtool notation).

    ``rules`` is a rule file path, rule YAML text or loaded groups; ``series`` maps
    series selectors to promtool value notation (``"0.9x10 0.5x20"``) or is the
    multi-line ``metric{labels} values`` text; ``at`` is a duration (``"25m"``) or
    seconds since the first sample; ``labels`` must be a subset of the firing
    instance's labels. On failure the message shows the alert's state over time,
    e.g. that it was pending for 4m while ``for`` is 5m.
    """
    __tracebackhide__ = True
    timeline = simulate_alert(rules, series, alertname, at, interval=interval)
    matching = timeline.instances_at_end(labels)
    if any(i.state == "firing" for i in matching):
        return
    raise AssertionError(
        f"expected alert {alertname}{_labels_text(labels or {})} to be firing at "
        f"{timeline.at_text}, but it was {timeline.state_summary(labels)}\n"
        f"{timeline.explain(labels)}"
    )


def assert_alert_silent(rules: str | Path | Sequence[Any], series: SeriesInput, alertname: str,
                        at: str | float, labels: Mapping[str, str] | None = None, *,
                        interval: str = "1m", allow_pending: bool = True) -> None:
    """Assert ``alertname`` is not firing at ``at`` (nor pending, with ``allow_pending=False``).

    Same arguments as :func:`assert_alert_fires`; the message names the firing
    instances, since when they fire and the expression value that made them.
    """
    __tracebackhide__ = True
    timeline = simulate_alert(rules, series, alertname, at, interval=interval)
    bad_states = {"firing"} if allow_pending else {"firing", "pending"}
    offending = [i for i in timeline.instances_at_end(labels) if i.state in bad_states]
    if not offending:
        return
    raise AssertionError(
        f"expected alert {alertname}{_labels_text(labels or {})} to be silent at "
        f"{timeline.at_text}, but it was {timeline.state_summary(labels)}\n"
        f"{timeline.explain(labels)}"
    )


def assert_slo_met(heartbeats: str | Path | Iterable[Heartbeat], spec: SLOSpec | None = None) -> None:
    """Assert every objective of ``spec`` (default: Phase C) holds over ``heartbeats``.

    ``heartbeats`` is a JSONL path or records. No heartbeats never meets an SLO
    (missing data is not a pass). The message lists each failed objective with
    the average, how far it is from the target and the p50/p95/p99.
    """
    __tracebackhide__ = True
    from pytest_selfslo.heartbeat import read_heartbeats
    from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, evaluate

    source = ""
    if isinstance(heartbeats, (str, Path)):
        source = f" in {heartbeats}"
        records: Sequence[Heartbeat] = read_heartbeats(heartbeats)
    else:
        records = list(heartbeats)
    report = evaluate(spec or DEFAULT_SLO_SPEC, records)
    if report.passed:
        return
    if report.count == 0:
        raise AssertionError(f"expected the SLOs to be met, but there are no heartbeats{source}: "
                             "missing data never meets an SLO")
    lines = [f"expected every SLO to be met over {report.count} heartbeats{source}, "
             f"but {len(report.failed)} of {len(report.objectives)} failed:"]
    for result in report.failed:
        lines.append("  " + describe_objective_result(result, report.percentiles))
    raise AssertionError("\n".join(lines))


def describe_objective_result(result: Any, percentiles: Mapping[str, Mapping[str, float | None]]
                              ) -> str:
    """One line about an objective's outcome: target, average, gap and percentiles."""
    objective = result.objective
    if result.actual is None:
        return f"{objective.describe()}: no data"
    gap = abs(result.actual - objective.target)
    side = "below" if objective.comparison == ">=" else "above"
    pcts = percentiles.get(objective.score, {})
    pct_text = ", ".join(f"{k} {_fmt(v)}" for k, v in pcts.items() if v is not None)
    verdict = "met" if result.passed else f"{_fmt(gap)} {side} the target"
    return (f"{objective.describe()}: average {objective.score} {_fmt(result.actual)} "
            f"({verdict}; {pct_text})")


def assert_metric(registry: CollectorRegistry, name: str, labels: Mapping[str, str] | None = None,
                  value: float | None = None, *, rel_tol: float = 1e-9) -> None:
    """Assert ``registry`` has sample ``name{labels}`` (and, if given, that it equals ``value``).

    The message lists the label sets the metric does have, so a typo in a label
    or a missing ``token_id`` is obvious.
    """
    __tracebackhide__ = True
    wanted = dict(labels or {})
    got = registry.get_sample_value(name, wanted)
    if got is None:
        present = [(s.labels, s.value) for family in registry.collect() for s in family.samples
                   if s.name == name]
        if present:
            listing = "; ".join(f"{_labels_text(lab)} = {_fmt(val)}" for lab, val in present)
            why = f"samples of {name}: {listing}"
        else:
            why = f"the registry has no metric named {name!r}"
        raise AssertionError(f"expected a sample {name}{_labels_text(wanted)}, but there is none; "
                             f"{why}")
    if value is not None and not (
            got == value or math.isclose(got, value, rel_tol=rel_tol, abs_tol=1e-12)):
        raise AssertionError(f"expected {name}{_labels_text(wanted)} == {_fmt(value)}, "
                             f"got {_fmt(got)} (difference {_fmt(got - value)})")


def assert_rules_valid(path: str | Path) -> None:
    """Assert the rule file at ``path`` is valid (what ``promtool check rules`` accepts).

    The message lists every problem as ``path:line:column: message``.
    """
    __tracebackhide__ = True
    from pytest_selfslo.rulefmt.rulefile import check_rule_file, format_problems

    if not Path(path).is_file():
        raise AssertionError(f"expected a valid rule file at {path}, but there is no such file")
    problems = check_rule_file(path)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise AssertionError(f"expected {path} to be a valid rule file, but it has {count}:\n"
                             + format_problems(problems))


__all__ += ["AlertTimeline", "describe_objective_result"]

from pytest_selfslo.plugin.assertions_canary import (  # noqa: E402  (re-exported; imported last to stay cheap)
    assert_canary_reaches,
    assert_canary_rolls_back,
    assert_canary_safe,
)

__all__ += ["assert_canary_reaches", "assert_canary_rolls_back", "assert_canary_safe"]

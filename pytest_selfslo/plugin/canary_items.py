"""``pytest --self-slo`` items that prove canary policies safe (engineer D's properties).

Each file matching ``--self-slo-canary-policies`` (default ``canary/*.yml``)
becomes a :class:`CanaryPolicyFile`, and the built-in default policy is
checked too, as the virtual collector ``selfslo::canary-default``. Items:

* ``valid`` -- the policy loads (schema, steps strictly increasing in (0, 1],
  gates well formed: ``path:line: key: expected ..., got ...``) and its gate
  thresholds agree with the run's SLO spec (the linter's drift check, SL041);
* ``property[<name>]`` -- one per safety property of
  :mod:`pytest_selfslo.plugin.canary_properties` (never advances on missing data or
  a failing gate, a firing rollback alert rolls back, a green run reaches 100%
  respecting ``min_dwell``, no flapping, gates agree with the SLO), checked
  with hypothesis against ``decide()`` under *that* policy. A violation shows
  the property and hypothesis' shrunk counterexample as a timeline.

* ``scenario[<name>]`` -- one per ``fixtures/scenarios/*.jsonl`` (ini
  ``selfslo_canary_scenarios``): a heartbeat log whose first line is a header
  ``{"expect": {...}, "series": [...], "rules": [...]}`` (paths relative to the
  scenario file; ``rules`` defaults to the run's rule files) is simulated
  through the policy (:func:`pytest_selfslo.canary.simulate.simulate_files`) and
  the expectations checked: ``final_sampling``, ``reaches`` (a sampling reached
  at some point), ``rollback_by`` (a duration after the first decision),
  ``no_rollback: true``. A failure prints the decision timeline.

Hypothesis runs derandomised with ``selfslo_canary_max_examples`` examples per
property (ini, default 100), so results are the same on every run and worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_selfslo.plugin.nodes import (
    SelfSloFailure,
    SelfSloItem,
    configured_spec,
    item_name,
    settings_of,
)

if TYPE_CHECKING:
    from pytest_selfslo.canary.policy import CanaryPolicy

EXPECT_KEYS = ("final_sampling", "reaches", "rollback_by", "no_rollback")

__all__ = ["CanaryDefaultPolicy", "CanaryPolicyFile", "property_names"]


def property_names(policy: CanaryPolicy | None = None) -> list[str]:
    """Names of the safety properties that apply to ``policy``, in the order they are checked.

    Without a (loadable) policy: every property except the adaptive-activation ones.
    """
    from pytest_selfslo.canary.policy import DEFAULT_POLICY
    from pytest_selfslo.plugin.canary_properties import applicable_properties

    return applicable_properties(DEFAULT_POLICY if policy is None else policy)


class _PolicyItems:
    """Shared item factory of the file and the built-in-default collectors."""

    def policy_items(self: Any) -> Iterator[pytest.Item]:
        valid = SelfSloItem.from_parent(self, name="valid", check=_check_valid)
        valid.kind = valid.selfslo_data["kind"] = "canary-policy"
        yield valid
        for name in property_names(self._policy_or_none()):
            item = SelfSloItem.from_parent(self, name=f"property[{name}]", check=_check_property)
            item.kind = item.selfslo_data["kind"] = "canary-property"
            item.selfslo_data["property"] = name
            yield item
        settings = settings_of(self)
        for path in settings.resolve_globs(settings.canary_scenarios):
            item = SelfSloItem.from_parent(self, name=f"scenario[{item_name(path.stem)}]",
                                           check=_check_scenario)
            item.kind = item.selfslo_data["kind"] = "canary-scenario"
            item.selfslo_data["scenario"] = str(path)
            yield item


    def _policy_or_none(self: Any) -> Any:
        """The collector's policy, or None when it does not load (``valid`` reports why)."""
        from pytest_selfslo._core.errors import PolicyError
        from pytest_selfslo.canary.policy import DEFAULT_POLICY, load_policy

        if not isinstance(self, CanaryPolicyFile):
            return DEFAULT_POLICY
        try:
            return load_policy(self.path)
        except (PolicyError, OSError):
            return None


class CanaryPolicyFile(_PolicyItems, pytest.File):
    """A team's canary policy YAML: ``valid`` plus one item per safety property."""

    def collect(self) -> Iterator[pytest.Item]:
        return self.policy_items()


class CanaryDefaultPolicy(_PolicyItems, pytest.Collector):
    """The built-in default policy (``selfslo::canary-default``), checked like a file."""

    def collect(self) -> Iterator[pytest.Item]:
        return self.policy_items()


def _policy_path(item: pytest.Item) -> str | None:
    return str(item.path) if isinstance(item.parent, CanaryPolicyFile) else None


def _load(item: pytest.Item) -> Any:
    """The item's policy (PolicyError propagates: its message names file, line and key)."""
    from pytest_selfslo.canary.policy import DEFAULT_POLICY, load_policy

    path = _policy_path(item)
    return DEFAULT_POLICY if path is None else load_policy(path)


def _check_valid(item: SelfSloItem) -> None:
    from pytest_selfslo.lint.drift import check_drift

    policy = _load(item)
    settings = settings_of(item)
    spec = configured_spec(item.config)
    # the linter attaches a finding about the built-in policy (no file of its own) to a rule
    # file, so check with the rule files and keep only what the policy adds
    rules = [str(p) for p in settings.resolve_globs(settings.rules)]
    without = set(check_drift(rules, spec, spec_path=settings.slo))
    findings = [f for f in check_drift(rules, spec, policy, policy_path=_policy_path(item),
                                       spec_path=settings.slo) if f not in without]
    item.selfslo_data["findings"] = [f.to_dict() for f in findings]
    if findings:
        raise SelfSloFailure("the canary policy's gates disagree with the SLO spec:\n"
                             + "\n".join(f.format() for f in findings))


def _check_property(item: SelfSloItem) -> None:
    from pytest_selfslo._core.errors import PolicyError
    from pytest_selfslo.plugin.canary_properties import PolicyPropertyError, check_policy

    name = item.selfslo_data["property"]
    try:
        policy = _load(item)
    except PolicyError as exc:
        pytest.skip(f"the policy does not load (see ::valid): {exc}")
    try:
        check_policy(policy, properties=[name], spec=configured_spec(item.config),
                     max_examples=settings_of(item).canary_max_examples)
    except PolicyPropertyError as exc:
        raise SelfSloFailure(str(exc)) from None


def _header(path: Path) -> dict[str, Any]:
    """The scenario's first-line header, validated (SelfSloFailure names the problem)."""
    from pytest_selfslo._core.safeio import open_regular

    try:  # a FIFO or a device is refused at once; the header line is read up to 1 MiB
        with open_regular(path) as f:
            first = f.readline(1 << 20).decode("utf-8", "replace")
    except OSError as exc:
        raise SelfSloFailure(f"{path}: cannot read the scenario: {exc.strerror or exc}") from None
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or not isinstance(header.get("expect"), dict):
        raise SelfSloFailure(f"{path}:1: expected a header line such as "
                             '{"expect": {"final_sampling": 0.05}}, got ' + repr(first.strip()[:80]))
    unknown = sorted(set(header["expect"]) - set(EXPECT_KEYS))
    if unknown:
        raise SelfSloFailure(f"{path}:1: unknown expect key(s) {', '.join(unknown)} "
                             f"(known: {', '.join(EXPECT_KEYS)})")
    return header


def _check_scenario(item: SelfSloItem) -> None:
    from pytest_selfslo.canary.machine import Action
    from pytest_selfslo.canary.simulate import simulate_files
    from pytest_selfslo.slo.spec import parse_duration

    path = Path(item.selfslo_data["scenario"])
    header = _header(path)
    expect = header["expect"]
    settings = settings_of(item)
    rules = ([str(path.parent / r) for r in header["rules"]] if "rules" in header
             else [str(p) for p in settings.resolve_globs(settings.rules)])
    result = simulate_files(_load(item), heartbeats=[path],
                            series=[path.parent / s for s in header.get("series", [])],
                            rules=rules, semantics=settings.effective_semantics)
    t0 = result.decisions[0].at if result.decisions else 0.0
    rollback = result.first(Action.ROLLBACK)
    problems = []
    if "final_sampling" in expect and result.final_sampling != expect["final_sampling"]:
        problems.append(f"final sampling {result.final_sampling:g}, expected "
                        f"{expect['final_sampling']:g}")
    if "reaches" in expect and not any(d.next >= expect["reaches"] for d in result.decisions):
        problems.append(f"never reached {expect['reaches']:g}")
    if "rollback_by" in expect:
        by = expect["rollback_by"]
        limit = parse_duration(by) if isinstance(by, str) else float(by)
        if rollback is None:
            problems.append(f"never rolled back (expected by {by})")
        elif rollback.at - t0 > limit:
            problems.append(f"rolled back only {rollback.at - t0:g}s after the first decision "
                            f"(expected by {by})")
    if expect.get("no_rollback") and rollback is not None:
        problems.append(f"rolled back {rollback.at - t0:g}s after the first decision "
                        "(expected no rollback)")
    if problems:
        raise SelfSloFailure(f"scenario {path.name} under this policy: " + "; ".join(problems)
                             + "\n" + result.timeline())

"""``pytest --self-slo`` items that prove canary policies safe (engineer D's properties).

Each file matching ``--self-slo-canary-policies`` (default ``canary/*.yml``)
becomes a :class:`CanaryPolicyFile`, and the built-in default policy is
checked too, as the virtual collector ``selfslo::canary-default``. Items:

* ``valid`` -- the policy loads (schema, steps strictly increasing in (0, 1],
  gates well formed: ``path:line: key: expected ..., got ...``) and its gate
  thresholds agree with the run's SLO spec (the linter's drift check, SL041);
* ``property[<name>]`` -- one per safety property of
  :mod:`pytest_selfslo.canary.properties` (never advances on missing data or
  a failing gate, a firing rollback alert rolls back, a green run reaches 100%
  respecting ``min_dwell``, no flapping, gates agree with the SLO), checked
  with hypothesis against ``decide()`` under *that* policy. A violation shows
  the property and hypothesis' shrunk counterexample as a timeline.

Hypothesis runs derandomised with ``selfslo_canary_max_examples`` examples per
property (ini, default 100), so results are the same on every run and worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .collect import SelfSloFailure, SelfSloItem, settings_of

__all__ = ["CanaryDefaultPolicy", "CanaryPolicyFile", "property_names"]


def property_names() -> list[str]:
    """Names of the safety properties, in the order they are checked."""
    from .canary.properties import PROPERTIES

    return list(PROPERTIES)


class _PolicyItems:
    """Shared item factory of the file and the built-in-default collectors."""

    def policy_items(self: Any) -> Iterator[pytest.Item]:
        valid = SelfSloItem.from_parent(self, name="valid", check=_check_valid)
        valid.kind = valid.selfslo_data["kind"] = "canary-policy"
        yield valid
        for name in property_names():
            item = SelfSloItem.from_parent(self, name=f"property[{name}]", check=_check_property)
            item.kind = item.selfslo_data["kind"] = "canary-property"
            item.selfslo_data["property"] = name
            yield item


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
    from .canary.policy import DEFAULT_POLICY, load_policy

    path = _policy_path(item)
    return DEFAULT_POLICY if path is None else load_policy(path)


def _check_valid(item: SelfSloItem) -> None:
    from .collect_items import _spec
    from .rules.drift import check_drift

    policy = _load(item)
    settings = settings_of(item)
    spec = _spec(item.config)
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
    from .canary.properties import PolicyPropertyError, check_policy
    from .errors import PolicyError

    name = item.selfslo_data["property"]
    try:
        policy = _load(item)
    except PolicyError as exc:
        pytest.skip(f"the policy does not load (see ::valid): {exc}")
    try:
        check_policy(policy, properties=[name],
                     max_examples=settings_of(item).canary_max_examples)
    except PolicyPropertyError as exc:
        raise SelfSloFailure(str(exc)) from None

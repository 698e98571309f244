"""``pytest --self-slo --self-slo-mutate``: one ``rules/x.yml::mutants[<rule>]`` item per rule.

Each item generates the mutants of its rule and runs them against the rule
unit tests (:mod:`pytest_selfslo.mutate`); it fails when a mutant survives or is
an unmarked equivalent-suspect -- or, with ``--self-slo-mutation-fail-under
PCT``, only when the rule's score is below PCT. The failure message lists each
open mutant with ``file:line:col``, operator, diff and a suggested test.

Parsed rule and test files and the original rules' runs are shared by the
items of one process (one :class:`~pytest_selfslo.mutate.MutationSuite` per
process on ``config.stash``), so ``pytest -n`` splits the rules across workers.
Each item reports its counts and score in its test report (for the terminal
summary and ``--self-slo-report``, also from xdist workers) and as junit
properties (``mutation_score``, ``mutants_killed``...); the controller adds the
total as the testsuite property ``selfslo_mutation_score``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_selfslo.plugin.config import MUTATION_FAIL_UNDER_OPTION, SelfSloSettings
from pytest_selfslo.plugin.nodes import SelfSloFailure, SelfSloItem, item_name, settings_of

__all__ = ["MutationItem", "MutationTracker", "mutation_items"]

_SUITE_KEY = pytest.StashKey[Any]()
_STATUSES = ("killed", "survived", "equivalent-suspect", "equivalent")


class MutationItem(SelfSloItem):
    """All mutants of one rule, run against the rule tests."""

    kind = "mutation"

    def __init__(self, *, rule_key: tuple[str, int, int], rule_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule_key = rule_key
        self.rule_name = rule_name

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"mutation {self.nodeid}"


def mutation_items(parent: pytest.File) -> Iterator[MutationItem]:
    """One item per rule of ``parent``'s rule file (none when it does not load: ``valid`` says why)."""
    from pytest_selfslo._core.errors import SelfSloError
    from pytest_selfslo.mutate.sites import load_rule_sites

    try:
        sites = load_rule_sites(parent.path)
    except SelfSloError:
        return
    seen: dict[str, int] = {}
    for site in sites:
        name = item_name(site.name)
        seen[name] = seen.get(name, 0) + 1
        label = name if seen[name] == 1 else f"{name} #{seen[name]}"
        key = (os.path.realpath(parent.path), site.group_index, site.rule_index)
        yield MutationItem.from_parent(parent, name=f"mutants[{label}]", check=_run_mutants,
                                       rule_key=key, rule_name=site.name)


def _suite(config: pytest.Config, settings: SelfSloSettings) -> Any:
    """The process's :class:`MutationSuite` (loaded on first use)."""
    if _SUITE_KEY not in config.stash:
        from pytest_selfslo.mutate import MutationSuite

        rules = [str(p) for p in settings.resolve_globs(settings.rules)]
        tests = [str(p) for p in settings.resolve_globs(settings.rule_tests)]
        from pytest_selfslo.promql.features import parse_features

        semantics = settings.effective_semantics
        config.stash[_SUITE_KEY] = MutationSuite.load(
            rules, tests, semantics=semantics,
            features=parse_features(settings.enable_feature, semantics))
    return config.stash[_SUITE_KEY]


def _run_mutants(item: SelfSloItem) -> None:
    from pytest_selfslo.mutate.report import format_results

    assert isinstance(item, MutationItem)
    settings = settings_of(item)
    suite = _suite(item.config, settings)
    site = next((s for s in suite.sites
                 if (os.path.realpath(s.path), s.group_index, s.rule_index) == item.rule_key), None)
    if site is None:
        from pytest_selfslo.mutate.sites import load_rule_sites

        # a rule file named on the command line but outside --self-slo-rules
        site = next(s for s in load_rule_sites(item.path)
                    if (s.group_index, s.rule_index) == item.rule_key[1:])
    result = suite.run_rule(site)
    root = settings.rootpath
    counts = result.counts
    item.selfslo_data["mutation"] = {
        "file": _relative(site.path, root), "group": site.group.name, "rule": site.name,
        "counts": counts, "score": round(result.score, 2),
        "mutants": [m.to_json(root) for m in result.mutants],
    }
    item.user_properties += [("mutation_score", f"{result.score:.1f}"),
                             *((f"mutants_{k.replace('-', '_')}", str(counts[k]))
                               for k in _STATUSES)]
    open_ = result.open
    threshold = settings.mutation_fail_under
    total = sum(counts[k] for k in _STATUSES)
    if threshold is None and open_:
        raise SelfSloFailure(
            f"{len(open_)} of {total} mutants of {site.name} survived the rule tests "
            f"(mutation score {result.score:.1f}%):\n\n"
            + "\n\n".join(format_results(open_, root)))
    if threshold is not None and result.score < threshold:
        raise SelfSloFailure(
            f"mutation score of {site.name} is {result.score:.1f}%, below "
            f"{MUTATION_FAIL_UNDER_OPTION} {threshold:g}%:\n\n"
            + "\n\n".join(format_results(open_, root)))


def _relative(path: str, root: Path) -> str:
    rel = os.path.relpath(os.path.abspath(path), root)
    return path if rel.startswith("..") else Path(rel).as_posix()


class MutationTracker:
    """The controller's view of the mutation items: per-rule counts, the total score."""

    def __init__(self) -> None:
        self.rules: list[dict[str, Any]] = []

    def add(self, payload: dict[str, Any] | None) -> None:
        """Record one item's ``mutation`` payload."""
        if payload:
            self.rules.append(payload)

    @property
    def counts(self) -> dict[str, int]:
        """Mutants per status over every rule."""
        out = dict.fromkeys(_STATUSES, 0)
        for rule in self.rules:
            for k in _STATUSES:
                out[k] += int(rule["counts"].get(k, 0))
        return out

    @property
    def score(self) -> float:
        """killed / (killed + survived + equivalent-suspect), in percent."""
        c = self.counts
        counted = c["killed"] + c["survived"] + c["equivalent-suspect"]
        return 100.0 if counted == 0 else 100.0 * c["killed"] / counted

    def format_table(self) -> str:
        """One line per rule, then the total."""
        rows = sorted(self.rules, key=lambda r: (r["file"], r["group"], r["rule"]))
        width = max((len(r["rule"]) for r in rows), default=4)
        lines = [f"{'rule':<{width}}  killed  survived  suspect  equivalent   score"]
        for r in rows:
            c = r["counts"]
            lines.append(f"{r['rule']:<{width}}  {c['killed']:>6}  {c['survived']:>8}  "
                         f"{c['equivalent-suspect']:>7}  {c['equivalent']:>10}  "
                         f"{r['score']:>5.1f}%")
        c = self.counts
        lines.append(f"mutation score: {self.score:.1f}% (killed {c['killed']}, survived "
                     f"{c['survived']}, equivalent-suspect {c['equivalent-suspect']}, marked "
                     f"equivalent {c['equivalent']}; {sum(c.values())} mutants of "
                     f"{len(self.rules)} rules)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The ``mutation`` section of ``--self-slo-report``."""
        return {"score": round(self.score, 2), "counts": self.counts,
                "rules": sorted(self.rules, key=lambda r: (r["file"], r["group"], r["rule"]))}

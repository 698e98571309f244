"""The baseline comparison's statistics and their verdict under a ``compare:`` policy (pure).

The statistics of a comparison (Mann-Whitney U, p, effect size, cohort sizes)
are computed *outside* :func:`~pytest_selfslo.canary.machine.decide` -- by
:mod:`pytest_selfslo.canary.cohorts` from the heartbeat log, Prometheus or the
embedded engine -- and handed in as :class:`CohortStats` on the
:class:`~pytest_selfslo.canary.machine.Observation`. :func:`judge` turns them
into a verdict under the policy's thresholds; it does no I/O and reads no clock,
so ``decide()`` stays pure and runs at >100k decisions/s.

Verdicts (first match wins):

``inconclusive``  no statistics, a note saying why not (no data, source error,
                  non-finite samples), fewer than ``min_samples`` in either
                  cohort, a missing or non-finite p or effect, or an effect beyond
                  ``max_relative_drop`` that is not significant yet (p >= alpha):
                  the canary holds -- an inconclusive comparison never passes;
``regression``    p < alpha and the canary's relative drop exceeds
                  ``max_relative_drop``: a failing observation;
``pass``          otherwise (no significant difference, or one too small to matter).

    >>> from pytest_selfslo.canary.policy import ComparePolicy
    >>> judge(ComparePolicy(), CohortStats(n_canary=80, n_baseline=900, u=12000.0,
    ...                                    p=0.0001, effect=0.07)).verdict.value
    'regression'
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any, NamedTuple

from pytest_selfslo.canary.policy import ComparePolicy

__all__ = ["CohortStats", "CompareResult", "Verdict", "judge"]


class Verdict(str, enum.Enum):
    """The outcome of a comparison; the string values are the wire format."""

    PASS = "pass"
    REGRESSION = "regression"
    INCONCLUSIVE = "inconclusive"


@dataclasses.dataclass(frozen=True)
class CohortStats:
    """Statistics of one canary-vs-baseline comparison (computed outside ``decide()``).

    ``effect`` is the canary's relative drop against the baseline, in the
    direction that is worse (positive = the canary is worse; ``0.05`` = 5%
    worse median). ``u`` is the canary cohort's Mann-Whitney U, ``p`` the
    one-sided p-value (alternative: the canary is worse). ``note`` says why the
    statistics are missing when they are.
    """

    n_canary: int
    n_baseline: int
    u: float | None = None
    p: float | None = None
    effect: float | None = None
    canary_median: float | None = None
    baseline_median: float | None = None
    sampling: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (non-finite numbers become ``None``)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        return out


class CompareResult(NamedTuple):
    """A comparison judged under the policy: verdict, one-line reason and the statistics."""

    verdict: Verdict
    reason: str
    stats: CohortStats | None
    policy: ComparePolicy

    def to_dict(self) -> dict[str, Any]:
        """``{verdict, reason, metric, test, alpha, min_samples, max_relative_drop, u, p, ...}``."""
        p = self.policy
        out: dict[str, Any] = {
            "verdict": self.verdict.value, "reason": self.reason, "metric": p.metric,
            "direction": p.direction, "test": p.test, "alpha": p.alpha,
            "min_samples": p.min_samples, "max_relative_drop": p.max_relative_drop,
            "window": p.window,
        }
        stats = self.stats if self.stats is not None else CohortStats(0, 0, note="no statistics")
        out.update(stats.to_dict())
        return out

    def summary(self) -> str:
        """``U=1234 p=0.0012 drop=6.1% n=80/720 REGRESSION`` -- one token-efficient line."""
        s = self.stats
        if s is None:
            return f"{self.verdict.value.upper()} (no statistics)"
        parts = [f"U={_fmt(s.u, '.0f')}", f"p={_fmt(s.p, '.3g')}",
                 f"drop={_fmt(None if s.effect is None else s.effect * 100, '+.2f')}%",
                 f"n={s.n_canary}/{s.n_baseline}"]
        return " ".join(parts) + f" {self.verdict.value.upper()}"


def _fmt(value: float | None, spec: str) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return format(value, spec)


def _finite(value: float | None) -> bool:
    return value is not None and not isinstance(value, bool) and math.isfinite(value)


def judge(policy: ComparePolicy, stats: CohortStats | None) -> CompareResult:
    """The verdict of ``stats`` under ``policy`` (pure; see the module docstring)."""
    what = policy.metric
    if stats is None:
        return CompareResult(Verdict.INCONCLUSIVE, f"compare {what}: inconclusive (no statistics)",
                             None, policy)
    if stats.note is not None:
        return CompareResult(Verdict.INCONCLUSIVE, f"compare {what}: inconclusive ({stats.note})",
                             stats, policy)
    need = policy.min_samples
    if stats.n_canary < need or stats.n_baseline < need:
        return CompareResult(
            Verdict.INCONCLUSIVE, f"compare {what}: inconclusive (n={stats.n_canary} canary / "
            f"{stats.n_baseline} baseline samples, need {need} each)", stats, policy)
    p, effect = stats.p, stats.effect
    if not _finite(p) or effect is None or effect != effect:  # NaN effect; +-inf is allowed
        return CompareResult(Verdict.INCONCLUSIVE,
                             f"compare {what}: inconclusive (p={p!r}, effect={effect!r})",
                             stats, policy)
    assert p is not None
    big = effect > policy.max_relative_drop
    if big and p < policy.alpha:
        return CompareResult(
            Verdict.REGRESSION, f"compare {what}: canary {effect:.2%} worse than baseline "
            f"(p={p:.3g} < {policy.alpha:g}, drop > {policy.max_relative_drop:.2%})",
            stats, policy)
    if big:
        return CompareResult(
            Verdict.INCONCLUSIVE, f"compare {what}: canary {effect:.2%} worse but not "
            f"significant yet (p={p:.3g} >= {policy.alpha:g})", stats, policy)
    return CompareResult(Verdict.PASS, f"compare {what}: pass (drop {effect:.2%}, p={p:.3g})",
                         stats, policy)

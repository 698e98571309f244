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
from collections.abc import Mapping
from typing import Any, NamedTuple

from pytest_selfslo.canary.policy import ComparePolicy

__all__ = ["CohortStats", "CompareResult", "Verdict", "judge", "summarize"]


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
    """A comparison judged under the policy: the verdict and the statistics behind it.

    :attr:`reason` (one line) is formatted only when asked for: ``decide()``
    judges at >100k decisions/s and most decisions never print it.
    """

    verdict: Verdict
    stats: CohortStats | None
    policy: ComparePolicy
    #: which rule gave the verdict (see :func:`judge`); :attr:`reason` spells it out
    why: str

    @property
    def reason(self) -> str:
        """``compare coherence: canary 10.91% worse than baseline (p=6e-27 < 0.05, drop > 3.00%)``."""
        p, s, why = self.policy, self.stats, self.why
        head, alpha, drop = _texts(p)
        if s is None:
            return head + "inconclusive (no statistics)"
        if why == "note":
            return head + f"inconclusive ({s.note})"
        if why == "samples":
            return head + (f"inconclusive (n={s.n_canary} canary / {s.n_baseline} baseline "
                           f"samples, need {p.min_samples} each)")
        if why == "numbers":
            return head + f"inconclusive (p={s.p!r}, effect={s.effect!r})"
        effect, pvalue = float(s.effect or 0.0), float(s.p or 0.0)
        if why == "regression":
            return (f"{head}canary {effect:.2%} worse than baseline (p={pvalue:.3g} < {alpha}, "
                    f"drop > {drop})")
        if why == "insignificant":
            return f"{head}canary {effect:.2%} worse but not significant yet (p={pvalue:.3g} >= {alpha})"
        return head + f"pass (drop {effect:.2%}, p={pvalue:.3g})"

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
        """``U=1234 p=0.0012 drop=+6.10% n=80/720 REGRESSION`` -- one compact line."""
        return summarize(self.to_dict())


def summarize(data: Mapping[str, Any]) -> str:
    """A comparison dict (``Decision.to_dict()["comparison"]``) as one compact line:
    ``U=1234 p=0.0012 drop=+6.10% n=80/720 REGRESSION``."""
    effect = data.get("effect")
    parts = [f"U={_fmt(data.get('u'), '.0f')}", f"p={_fmt(data.get('p'), '.3g')}",
             f"drop={_fmt(None if effect is None else float(effect) * 100, '+.2f')}%",
             f"n={data.get('n_canary')}/{data.get('n_baseline')}"]
    return " ".join(parts) + f" {str(data.get('verdict', '?')).upper()}"


def _fmt(value: Any, spec: str) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        return "n/a"
    return format(value, spec)


_INF = float("inf")


def _texts(policy: ComparePolicy) -> tuple[str, str, str]:
    """The parts of a reason that only depend on the policy, formatted once per policy object
    (kept beside its fields: equality, hashing and ``asdict`` only see the fields)."""
    texts: tuple[str, str, str] | None = policy.__dict__.get("_reason_texts")
    if texts is None:
        texts = (f"compare {policy.metric}: ", f"{policy.alpha:g}",
                 f"{policy.max_relative_drop:.2%}")
        object.__setattr__(policy, "_reason_texts", texts)
    return texts


def judge(policy: ComparePolicy, stats: CohortStats | None) -> CompareResult:
    """The verdict of ``stats`` under ``policy`` (pure; see the module docstring)."""
    if stats is None:
        return CompareResult(Verdict.INCONCLUSIVE, None, policy, "none")
    if stats.note is not None:
        return CompareResult(Verdict.INCONCLUSIVE, stats, policy, "note")
    need = policy.min_samples
    if stats.n_canary < need or stats.n_baseline < need:
        return CompareResult(Verdict.INCONCLUSIVE, stats, policy, "samples")
    p, effect = stats.p, stats.effect
    # p finite; effect not NaN (+-inf allowed: a zero baseline median)
    if p is None or p != p or p == _INF or p == -_INF or effect is None or effect != effect:
        return CompareResult(Verdict.INCONCLUSIVE, stats, policy, "numbers")
    if effect > policy.max_relative_drop:
        if p < policy.alpha:
            return CompareResult(Verdict.REGRESSION, stats, policy, "regression")
        return CompareResult(Verdict.INCONCLUSIVE, stats, policy, "insignificant")
    return CompareResult(Verdict.PASS, stats, policy, "pass")

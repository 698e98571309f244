"""Canary vs baseline cohorts, and the statistical test between them (outside ``decide()``).

The cohorts come from the same sticky bucketing
:func:`~pytest_selfslo.canary.runtime.should_activate_self` uses: a sample
belongs to the *canary* cohort when its series' ``label`` (``token_id``) is
active at the current sampling (:func:`~pytest_selfslo.canary.bucketing.is_active`),
else to the *baseline*. Samples are read from

* a heartbeat log (:class:`HeartbeatCohorts`: the SELF scores of the last
  ``window``),
* a Prometheus API (:meth:`pytest_selfslo.canary.source.PrometheusSource.cohort_samples`:
  ``self_coherence[10m]`` split by label, or one PromQL expression per cohort),
* the embedded engine (:meth:`pytest_selfslo.canary.source.EmbeddedSource.cohort_samples`,
  :func:`pytest_selfslo.canary.simulate.simulate`).

:func:`compare_samples` runs scipy's one-sided Mann-Whitney U test (alternative:
the canary is worse) and measures the effect as the canary median's relative
drop against the baseline median. Missing or non-finite data is never
papered over: it becomes a :class:`~pytest_selfslo.canary.comparison.CohortStats`
with a ``note``, which :func:`~pytest_selfslo.canary.comparison.judge` calls
inconclusive (the canary holds).

    >>> stats = compare_samples(ComparePolicy(), [0.86] * 60, [0.97] * 600)   # doctest: +SKIP
    >>> judge(ComparePolicy(), stats).verdict                                  # doctest: +SKIP
    <Verdict.REGRESSION: 'regression'>
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
from scipy.stats import mannwhitneyu

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.canary.bucketing import is_active
from pytest_selfslo.canary.comparison import CohortStats
from pytest_selfslo.canary.policy import ComparePolicy
from pytest_selfslo.heartbeat import read_heartbeats

__all__ = [
    "CohortSource",
    "Cohorts",
    "HeartbeatCohorts",
    "compare_samples",
    "observe_comparison",
    "split_series",
    "window_seconds",
]

_EMPTY = np.zeros(0, dtype=np.float64)


class Cohorts(NamedTuple):
    """The samples of both cohorts, or a ``note`` saying why they could not be read."""

    canary: np.ndarray
    baseline: np.ndarray
    note: str | None = None

    @classmethod
    def failed(cls, note: str) -> Cohorts:
        """No samples: the source failed (the comparison is inconclusive)."""
        return cls(_EMPTY, _EMPTY, note)


class CohortSource(Protocol):
    """Anything that can read both cohorts' samples of a ``compare:`` block at time ``at``."""

    def cohort_samples(self, policy: ComparePolicy, sampling: float, at: float) -> Cohorts:
        """Samples of the last ``policy.window`` before ``at``, split at ``sampling``."""
        ...


def window_seconds(policy: ComparePolicy) -> float:
    """The comparison window in seconds."""
    return parse_duration(policy.window) / 1000.0


def split_series(series: Iterable[tuple[Mapping[str, str], Any]], label: str,
                 sampling: float) -> Cohorts:
    """Pool each series' values into the canary or baseline cohort by bucketing its ``label``.

    Series without the label belong to neither cohort; when that leaves both
    cohorts empty the ``note`` says so.
    """
    canary: list[np.ndarray] = []
    baseline: list[np.ndarray] = []
    unlabelled = 0
    for labels, values in series:
        key = labels.get(label)
        if not key:
            unlabelled += 1
            continue
        (canary if is_active(key, sampling) else baseline).append(
            np.asarray(values, dtype=np.float64))
    c = np.concatenate(canary) if canary else _EMPTY
    b = np.concatenate(baseline) if baseline else _EMPTY
    note = None
    if unlabelled and not len(c) and not len(b):
        note = f"{unlabelled} series without the label {label!r}: no cohorts"
    return Cohorts(c, b, note)


def compare_samples(policy: ComparePolicy, canary: Any, baseline: Any, *,
                    sampling: float | None = None) -> CohortStats:
    """Mann-Whitney U (scipy, one-sided: the canary is worse) and the relative median drop.

    Non-finite samples or an empty cohort give statistics with a ``note``
    (inconclusive); small cohorts are tested anyway (the verdict calls them
    inconclusive below ``min_samples``, but the numbers are shown).
    """
    c = np.asarray(canary, dtype=np.float64).ravel()
    b = np.asarray(baseline, dtype=np.float64).ravel()
    n_c, n_b = int(c.shape[0]), int(b.shape[0])
    for name, values in (("canary", c), ("baseline", b)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            return CohortStats(n_c, n_b, sampling=sampling,
                               note=f"{bad} missing/NaN sample(s) in the {name} cohort")
    if n_c == 0 or n_b == 0:
        empty = "canary" if n_c == 0 else "baseline"
        return CohortStats(n_c, n_b, sampling=sampling, note=f"no samples in the {empty} cohort")
    higher = policy.higher_is_better
    result = mannwhitneyu(c, b, alternative="less" if higher else "greater")
    med_c, med_b = float(np.median(c)), float(np.median(b))
    worse = (med_b - med_c) if higher else (med_c - med_b)
    if med_b != 0:
        effect = worse / abs(med_b)
    else:
        effect = 0.0 if worse == 0 else math.copysign(math.inf, worse)
    return CohortStats(n_c, n_b, u=float(result.statistic), p=float(result.pvalue),
                       effect=effect, canary_median=med_c, baseline_median=med_b,
                       sampling=sampling)


def observe_comparison(source: CohortSource | None, policy: ComparePolicy, sampling: float,
                       at: float) -> CohortStats:
    """Read the cohorts from ``source`` and compare them; any failure is a ``note``, never raised."""
    if source is None:
        return CohortStats(0, 0, sampling=sampling,
                           note="no cohort source (give the tuner a heartbeat log or a "
                                "Prometheus source)")
    try:
        cohorts = source.cohort_samples(policy, sampling, at)
    except Exception as exc:  # the source's trouble is data here: the comparison holds
        return CohortStats(0, 0, sampling=sampling, note=f"{type(exc).__name__}: {exc}")
    if cohorts.note is not None:
        return CohortStats(len(cohorts.canary), len(cohorts.baseline), sampling=sampling,
                           note=cohorts.note)
    return compare_samples(policy, cohorts.canary, cohorts.baseline, sampling=sampling)


class HeartbeatCohorts:
    """Cohorts from a heartbeat JSON Lines log: the SELF score of every beat in the window.

    Reads at most the last ``max_records`` valid records (an O(N) tail read),
    then keeps those in ``(at - window, at]``.

    >>> HeartbeatCohorts("data/identity.jsonl").cohort_samples(
    ...     ComparePolicy(), sampling=0.05, at=time.time())          # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, max_records: int = 200_000) -> None:
        self.path = Path(path)
        self.max_records = max_records

    def cohort_samples(self, policy: ComparePolicy, sampling: float, at: float) -> Cohorts:
        """The window's samples of ``policy``'s SELF score, split at ``sampling``."""
        score = policy.score
        if score is None or policy.canary is not None:
            return Cohorts.failed(f"a heartbeat log holds SELF scores only, not {policy.metric!r}")
        if not self.path.exists():
            return Cohorts.failed(f"no heartbeat log at {self.path}")
        beats = read_heartbeats(self.path, last=self.max_records)
        start = at - window_seconds(policy)
        by_token: dict[str, list[float]] = {}
        for hb in beats:
            if start < hb.ts <= at:
                by_token.setdefault(hb.token_id, []).append(getattr(hb, score))
        return split_series((({policy.label: token}, values) for token, values in by_token.items()),
                            policy.label, sampling)

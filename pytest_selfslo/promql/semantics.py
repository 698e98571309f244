"""Which Prometheus release the embedded engine imitates: :class:`Semantics`.

A semantics names a Prometheus version, ``major.minor``: ``"2.42"``,
``"2.53"``, ``"3.5"``. ``"2"`` and ``"3"`` are shorthands for the last 2.x
long-term-support release and the 3.x release we check, :data:`DEFAULTS`.
Every behaviour that differs between the versions we support is a property
here, named after what it does and documented with the release that
introduced it (found in Prometheus' git history), so the engine never
compares version numbers itself:

=================================  =========  ===================================================
property                           since      what changes
=================================  =========  ===================================================
``atan2_drops_name``               2.47       ``atan2`` drops ``__name__`` like the other
                                              arithmetic operators (before: keeps it)
``histogram_small_deltas``         2.49       ``histogram_quantile`` flattens bucket-count noise
                                              (1e-12 relative) before forcing monotonicity
``rate_caps_gap_first``            2.51       ``rate``/``increase``: the gap to the window start
                                              is capped at half an interval *before* the
                                              counter's zero point may shorten it
``kahan_sum``                      2.54       ``sum`` uses Kahan-Neumaier compensation (before:
                                              plain left-to-right addition); a running sum that
                                              reaches ±Inf resets the compensation
``avg_mode``                       2.55, 3.5  ``avg``/``avg_over_time``: incremental mean
                                              (``"incremental"``) until 2.54; direct Kahan mean
                                              ``(sum + c) / n`` with an incremental fallback on
                                              overflow (``"direct"``) in 2.55-3.4;
                                              ``sum/n + c/n`` (``"direct_split"``) from 3.5
``left_open``                      3.0        range windows ``(t - range, t]``, lookback and
                                              subquery steps left-open (before: closed)
``regex_dotall``                   3.0        ``.`` in label-matcher and ``label_replace``
                                              regexes matches a newline
``utf8_label_names``               3.0        any UTF-8 label name in ``count_values``,
                                              ``label_replace``, ``label_join``
``stddev_nan_for_inf``             3.0        ``stddev``/``stdvar`` of a lone Inf/NaN is NaN
                                              (before: 0)
``holt_winters``                   < 3.0      the function exists (renamed
                                              ``double_exponential_smoothing`` in 3.0)
``histogram_fraction_classic``     3.4        ``histogram_fraction`` over classic buckets
                                              (before: no result)
=================================  =========  ===================================================

Two settings are not versions: ``delayed_name_removal`` (Prometheus'
``promql-delayed-name-removal`` feature, off in ``promtool`` and the server by
default; ``promqltest`` turns it on) and ``exp_fma``: Go's ``math.Exp`` on
amd64 takes a fused-multiply-add path on CPUs with AVX and FMA (the default,
true of any x86-64 CPU since about 2013) and a plain path otherwise, and the
last bits of ``exp``, ``^``, ``sinh``, ``cosh`` and ``tanh`` depend on it
(see :mod:`.gomath`).

Releases after 3.5 are accepted and behave like 3.5 (later changes, such as
3.12's start timestamps in ``rate``, are not emulated).

    >>> Semantics.parse("2")
    Semantics(major=2, minor=53, exp_fma=True, delayed_name_removal=False)
    >>> Semantics.parse("2.42").kahan_sum, Semantics.parse("3").avg_mode
    (False, 'direct_split')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = ["DEFAULTS", "DEFAULT_SEMANTICS", "Semantics", "SemanticsLike"]

#: what a bare major version means
DEFAULTS = {2: (2, 53), 3: (3, 5)}
_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.\d+)?(?:[+-][\w.+-]*)?")


@dataclass(frozen=True)
class Semantics:
    """A Prometheus version to imitate, plus two non-version settings (see the module doc)."""

    major: int
    minor: int
    exp_fma: bool = True
    delayed_name_removal: bool = False

    @classmethod
    def parse(cls, value: SemanticsLike) -> Semantics:
        """``"2"``, ``"3"``, ``"2.42"``, ``"3.5"``, ``"v2.53.1"`` or a :class:`Semantics`."""
        if isinstance(value, Semantics):
            return value
        match = _VERSION.fullmatch(str(value).strip())
        major = int(match.group(1)) if match else 0
        if major not in DEFAULTS:
            raise ValueError(f"semantics must be a Prometheus version such as 2, 3, 2.42, 2.53 or "
                             f"3.5, got {value!r}")
        assert match is not None
        minor = int(match.group(2)) if match.group(2) is not None else DEFAULTS[major][1]
        return cls(major, minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def with_options(self, *, exp_fma: bool | None = None,
                     delayed_name_removal: bool | None = None) -> Semantics:
        """A copy with the non-version settings changed (``None`` keeps a setting)."""
        return replace(self,
                       exp_fma=self.exp_fma if exp_fma is None else exp_fma,
                       delayed_name_removal=(self.delayed_name_removal
                                             if delayed_name_removal is None
                                             else delayed_name_removal))

    def since(self, major: int, minor: int) -> bool:
        """This version is ``major.minor`` or newer."""
        return (self.major, self.minor) >= (major, minor)

    @property
    def atan2_drops_name(self) -> bool:
        """``atan2`` removes the metric name (2.47)."""
        return self.since(2, 47)

    @property
    def histogram_small_deltas(self) -> bool:
        """histogram_quantile ignores float noise between bucket counts (2.49)."""
        return self.since(2, 49)

    @property
    def rate_caps_gap_first(self) -> bool:
        """rate/increase cap the gap to the window start before the zero point (2.51)."""
        return self.since(2, 51)

    @property
    def kahan_sum(self) -> bool:
        """``sum`` with Kahan-Neumaier compensation, reset at ±Inf (2.54)."""
        return self.since(2, 54)

    @property
    def avg_mode(self) -> str:
        """``"incremental"`` (< 2.55), ``"direct"`` (2.55-3.4) or ``"direct_split"`` (3.5+)."""
        if self.since(3, 5):
            return "direct_split"
        return "direct" if self.since(2, 55) else "incremental"

    @property
    def left_open(self) -> bool:
        """Left-open range windows, lookback and subquery alignment (3.0)."""
        return self.major >= 3

    @property
    def regex_dotall(self) -> bool:
        """``.`` matches a newline in regexes (3.0)."""
        return self.major >= 3

    @property
    def utf8_label_names(self) -> bool:
        """Any UTF-8 string is a valid label name (3.0)."""
        return self.major >= 3

    @property
    def stddev_nan_for_inf(self) -> bool:
        """stddev/stdvar of a lone Inf or NaN is NaN, not 0 (3.0)."""
        return self.major >= 3

    @property
    def holt_winters(self) -> bool:
        """``holt_winters`` exists (renamed in 3.0)."""
        return self.major < 3

    @property
    def histogram_hint_in_notation(self) -> bool:
        """promtool prints (and compares) a histogram's ``counter_reset_hint`` (3.0)."""
        return self.major >= 3

    @property
    def histogram_rate_zero_point(self) -> bool:
        """rate/increase of native histograms stop extrapolating at the count's zero
        point, as for floats (3.6)."""
        return self.since(3, 6)

    @property
    def histogram_gauge_ops(self) -> bool:
        """Native histograms: subtraction and negative scaling give gauge histograms, and
        conflicting counter-reset hints are warned about (3.7)."""
        return self.since(3, 7)

    @property
    def nhcb_reconcile(self) -> bool:
        """NHCBs with different custom bounds combine over their common bounds (3.8);
        before, they are incompatible."""
        return self.since(3, 8)

    @property
    def histogram_kahan(self) -> bool:
        """``sum``/``sum_over_time`` of native histograms with Kahan compensation and ``avg``
        as a direct mean (incremental only on overflow) (3.10); before, plain addition and
        an incremental mean."""
        return self.since(3, 10)

    @property
    def histogram_fraction_classic(self) -> bool:
        """histogram_fraction works on classic buckets (3.4)."""
        return self.since(3, 4)


SemanticsLike = str | Semantics
#: what an engine uses when no semantics is given: ``"3"``
DEFAULT_SEMANTICS = Semantics(*DEFAULTS[3])

"""Hypothesis strategies for SELF data: heartbeats, promtool-notation series, canary observations.

For users writing their own properties of rules, SLOs and canary policies::

    from hypothesis import given
    from pytest_selfslo.plugin.strategies import heartbeats, series_values

    @given(heartbeats(min_size=1))
    def test_report_has_every_objective(beats):
        assert len(evaluate(DEFAULT_SLO_SPEC, beats).objectives) == 3

    @given(series_values())
    def test_notation_round_trips(text):
        parse_series_values(text)   # never raises on what we generate

Scores are drawn mostly near the Phase C thresholds (0.30, 0.80, 0.90), where
off-by-one and boundary bugs live, plus the extremes 0 and 1.
``canary_observations`` (and ``canary_states``, ``firing_alerts``) come from
:mod:`pytest_selfslo.plugin.canary_strategies` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from pytest_selfslo.plugin.canary_strategies import (
    canary_observations,
    canary_states,
    comparison_stats,
    firing_alerts,
    green_observations,
    observation_sequences,
)

if TYPE_CHECKING:
    from pytest_selfslo.heartbeat import Heartbeat

__all__ = [
    "canary_observations",
    "canary_states",
    "comparison_stats",
    "firing_alerts",
    "green_observations",
    "heartbeat",
    "heartbeats",
    "observation_sequences",
    "score",
    "series",
    "series_values",
    "token_ids",
]

#: values where SLO and alert logic changes its mind
THRESHOLDS = (0.0, 0.30, 0.80, 0.90, 1.0)


def score() -> st.SearchStrategy[float]:
    """A score in [0, 1]: uniform, or a threshold, or one ulp-ish step either side of one."""
    near = st.sampled_from(THRESHOLDS).flatmap(
        lambda t: st.sampled_from([t, max(0.0, t - 1e-9), min(1.0, t + 1e-9)]))
    return st.one_of(st.floats(0.0, 1.0, allow_nan=False), near)


def token_ids() -> st.SearchStrategy[str]:
    """Token ids like the exporter's label values (short, printable, non-empty)."""
    return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                 exclude_characters='"\\{},='), min_size=1, max_size=16)


def heartbeat(ts: float = 1_700_000_000.0, token_id: str | None = None
              ) -> st.SearchStrategy[Heartbeat]:
    """One valid heartbeat at ``ts`` (any token when ``token_id`` is None)."""
    from pytest_selfslo.heartbeat import Heartbeat

    return st.builds(Heartbeat, ts=st.just(ts),
                     token_id=st.just(token_id) if token_id else token_ids(),
                     coherence=score(), continuity=score(), presence=score(), stress=score())


@st.composite
def heartbeats(draw: st.DrawFn, *, min_size: int = 0, max_size: int = 50,
               tokens: Sequence[str] | None = None, start: float = 1_700_000_000.0,
               max_gap: float = 120.0) -> list[Heartbeat]:
    """A log's worth of heartbeats in time order (gaps up to ``max_gap`` s, repeats allowed)."""
    count = draw(st.integers(min_size, max_size))
    token_choice = st.sampled_from(list(tokens)) if tokens else token_ids()
    out: list[Heartbeat] = []
    ts = start
    for _ in range(count):
        ts += draw(st.floats(0.0, max_gap, allow_nan=False))
        out.append(draw(heartbeat(round(ts, 3), draw(token_choice))))
    return out


def _number() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["0", "0.3", "0.8", "0.9", "1", "0.95", "-1", "1e3", "NaN", "Inf", "-Inf"]),
        st.floats(-10, 10, allow_nan=False).map(lambda v: f"{v:.4g}"))


def _increment() -> st.SearchStrategy[str]:
    return st.sampled_from(["0.1", "0.05", "1", "-0.1", "-1", "0"]).map(
        lambda v: v if v.startswith("-") else f"+{v}")


@st.composite
def series_values(draw: st.DrawFn, *, max_terms: int = 6, gaps: bool = True,
                  stale: bool = True) -> str:
    """promtool value notation: ``1 _x3 0.5+0.1x4 stale 0.9x2``-like strings.

    Terms are plain values, ``a+bxn``/``a-bxn`` expansions, ``axn`` repeats and,
    when enabled, ``_``/``_xn`` gaps and ``stale`` markers (never first: a
    series starting stale is legal but says nothing).
    """
    terms: list[str] = []
    for index in range(draw(st.integers(1, max_terms))):
        kinds = ["value", "expand", "repeat"]
        if gaps:
            kinds.append("gap")
        if stale and index > 0:
            kinds.append("stale")
        kind = draw(st.sampled_from(kinds))
        times = draw(st.integers(1, 5))
        if kind == "value":
            terms.append(draw(_number()))
        elif kind == "expand":
            terms.append(f"{draw(_number())}{draw(_increment())}x{times}")
        elif kind == "repeat":
            terms.append(f"{draw(_number())}x{times}")
        elif kind == "gap":
            terms.append(draw(st.sampled_from(["_", f"_x{times}"])))
        else:
            terms.append("stale")
    return " ".join(terms)


@st.composite
def series(draw: st.DrawFn, metric: str = "self_coherence", *, max_series: int = 3,
           gaps: bool = True, stale: bool = True) -> dict[str, str]:
    """``{selector: values}`` input series for one metric, distinct ``token_id`` labels.

    Feed it to :func:`~pytest_selfslo.plugin.assertions.assert_alert_fires` or a
    ``promql_engine.load`` call (``"\\n".join(f"{k} {v}" ...)``).
    """
    tokens = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1,
                           max_size=max_series, unique=True))
    return {f'{metric}{{token_id="{tok}"}}': draw(series_values(gaps=gaps, stale=stale))
            for tok in tokens}

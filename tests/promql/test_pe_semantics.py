"""Semantics: a Prometheus version and the behaviours that depend on it."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_selfslo.promql.engine import Engine
from pytest_selfslo.promql.semantics import DEFAULT_SEMANTICS, Semantics
from pytest_selfslo.promql.storage import Storage
from pytest_selfslo.promql.values import EvalContext


@pytest.mark.parametrize(("text", "version"), [
    ("2", (2, 53)), ("3", (3, 5)), ("2.42", (2, 42)), ("v2.53.3", (2, 53)), ("3.5.3+ds1", (3, 5)),
    (" 3.14 ", (3, 14)), ("2.55.0-rc.1", (2, 55)),
])
def test_parse(text: str, version: tuple[int, int]) -> None:
    sem = Semantics.parse(text)
    assert (sem.major, sem.minor) == version
    assert str(sem) == f"{version[0]}.{version[1]}"
    assert Semantics.parse(sem) is sem


@pytest.mark.parametrize("text", ["", "1", "4", "x", "2.x", "3.5.3.1.2", "two"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="semantics must be a Prometheus version such as 2, 3"):
        Semantics.parse(text)


@pytest.mark.parametrize(("prop", "first"), [
    ("atan2_drops_name", (2, 47)), ("histogram_small_deltas", (2, 49)),
    ("rate_caps_gap_first", (2, 51)), ("kahan_sum", (2, 54)), ("left_open", (3, 0)),
    ("regex_dotall", (3, 0)), ("utf8_label_names", (3, 0)), ("stddev_nan_for_inf", (3, 0)),
    ("histogram_fraction_classic", (3, 4)),
])
def test_each_difference_starts_at_its_release(prop: str, first: tuple[int, int]) -> None:
    before = Semantics(first[0], first[1] - 1) if first[1] else Semantics(first[0] - 1, 55)
    assert getattr(Semantics(*first), prop) is True
    assert getattr(Semantics(first[0], first[1] + 7), prop) is True
    assert getattr(before, prop) is False


def test_avg_mode_and_holt_winters_by_release() -> None:
    modes = {v: Semantics.parse(v).avg_mode for v in ("2.42", "2.54", "2.55", "3.4", "3.5", "3.9")}
    assert modes == {"2.42": "incremental", "2.54": "incremental", "2.55": "direct",
                     "3.4": "direct", "3.5": "direct_split", "3.9": "direct_split"}
    assert Semantics.parse("2.53").holt_winters and not Semantics.parse("3.0").holt_winters


def test_options_are_not_versions() -> None:
    sem = Semantics.parse("3").with_options(exp_fma=False, delayed_name_removal=True)
    assert (sem.major, sem.minor, sem.exp_fma, sem.delayed_name_removal) == (3, 5, False, True)
    assert sem.with_options() == sem
    assert Semantics.parse("3") == DEFAULT_SEMANTICS
    assert not DEFAULT_SEMANTICS.delayed_name_removal  # promtool's default


def test_context_and_engine_accept_strings() -> None:
    assert EvalContext(np.zeros(1, dtype=np.int64), semantics="2.42").semantics == Semantics(2, 42)  # type: ignore[arg-type]
    assert Engine(Storage(), semantics="2.42").semantics == Semantics(2, 42)


def test_exp_path_is_a_semantics_option() -> None:
    store = Storage()
    store.add_samples({"__name__": "x"}, [0], [7.5209543920571065])
    fma, plain = (Engine(store, semantics=Semantics.parse("3").with_options(exp_fma=f))
                  .instant_samples("exp(x)", 0)[0].value for f in (True, False))
    # the two branches of Go's amd64 Exp assembly (checked against promtool on both)
    assert (fma, plain) == (1846.3285747700022, 1846.328574770002)

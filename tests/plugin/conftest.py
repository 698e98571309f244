"""Import compiled (PyO3) extensions before any in-process pytester run.

``pytester.runpytest`` restores ``sys.modules`` after each in-process run, so a
module first imported *inside* a run is imported again by the next one, and
PyO3 extensions (promql-parser, orjson, pydantic-core) refuse a second
initialisation in one process. Importing them here keeps them loaded.
"""

from __future__ import annotations

import numpy  # noqa: F401  (numpy refuses a second initialisation too)
import orjson  # noqa: F401
import promql_parser  # noqa: F401
import pydantic_core  # noqa: F401
import pytest
import scipy.stats  # noqa: F401  (numpy.fft and scipy's extensions, via canary.cohorts)
import yaml  # noqa: F401  (libyaml's _yaml keeps the first yaml.nodes classes it saw)

import pytest_selfslo.mutate.runner
import pytest_selfslo.plugin.canary_items
import pytest_selfslo.plugin.items
import pytest_selfslo.plugin.mutation_items  # noqa: F401

#: inner pytester runs under an xdist worker make pytest-benchmark warn that it is disabled
_QUIET_BENCHMARK = pytest.mark.filterwarnings(
    "ignore:Benchmarks are automatically disabled because xdist plugin is active")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "pytester" in getattr(item, "fixturenames", ()):
            item.add_marker(_QUIET_BENCHMARK)

"""pytest entry point (``pytest11``): options, ini keys, markers, fixtures, collection.

Kept thin on purpose: each hook is a few lines that call into ordinary modules,
and heavy imports happen inside hooks so that merely having the plugin
installed costs (almost) nothing.
"""

from __future__ import annotations

import pytest

SELF_SLO_OPTION = "--self-slo"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("self-slo", "SELF SLO harness (pytest-selfslo)")
    group.addoption(
        SELF_SLO_OPTION,
        action="store_true",
        dest="self_slo",
        default=False,
        help="Collect and check the project's SLO assets (rules, rule tests, SLO spec)",
    )
    parser.addini("selfslo_enabled", "Turn on --self-slo by default", type="bool", default=False)

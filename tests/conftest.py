"""Shared test configuration.

The differential tests against real ``promtool`` binaries (``tests/promtool_runs.py``)
attach one summary line per binary as a ``user_property``; xdist ships those to
the controller, where :func:`pytest_terminal_summary` prints them, so the
counts show under ``pytest -n 2`` too.

Tests that run a real ``promtool`` and take a ``promtool_bin`` argument are
parametrised over every binary ``promtool_runs.available()`` finds
(``$SELFSLO_PROMTOOLS``, set by ``.ci/run`` to Debian's 2.42, 2.53 and 3.5;
else ``promtool`` on PATH), with ids such as ``promtool-3.5.3``, and skipped
with the reason when there is none.
"""

from __future__ import annotations

import pytest
from promtool_runs import params as promtool_params

pytest_plugins = ["pytester"]

#: the ``user_properties`` name of a differential test's summary line
DIFFERENTIAL_SUMMARY = "promtool_differential"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = sorted({str(value)
                    for reports in terminalreporter.stats.values() for report in reports
                    if getattr(report, "when", None) == "call"
                    for name, value in getattr(report, "user_properties", ())
                    if name == DIFFERENTIAL_SUMMARY})
    if lines:
        terminalreporter.section("promtool differential")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "promtool_bin" in metafunc.fixturenames:
        metafunc.parametrize("promtool_bin", promtool_params())

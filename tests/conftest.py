"""Shared test configuration.

The differential tests against real ``promtool`` binaries (``tests/promtool_runs.py``)
attach one summary line per binary as a ``user_property``; xdist ships those to
the controller, where :func:`pytest_terminal_summary` prints them, so the
counts show under ``pytest -n 2`` too.
"""

from __future__ import annotations

import pytest

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

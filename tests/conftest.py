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

Hypothesis runs derandomised, without an example database, unless
``HYPOTHESIS_PROFILE=explore`` asks for random exploration: a failure in CI must
reproduce on every machine from the same commit, and a falsifying example found
while exploring becomes an ``@example`` or a test of its own.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from hypothesis import settings
from promtool_runs import params as promtool_params

pytest_plugins = ["pytester"]

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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


@pytest.fixture
def refused_url() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` where every connection is refused, for the whole test.

    The port stays bound (never listening) by this socket, so no server of a
    parallel test can take it: a "free port a moment ago" could answer later.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"

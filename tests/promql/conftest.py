"""Print the promqltest conformance counts in the terminal summary (works under xdist).

The conformance tests attach their per-file and overall counts as
``user_properties``; xdist ships those to the controller, where this hook prints
them, so ``pytest -n 2`` shows the numbers too.
"""

from __future__ import annotations

import pytest

SUMMARY_PROPERTY = "promqltest_summary"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines: list[str] = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, value in getattr(report, "user_properties", ()):
                if name == SUMMARY_PROPERTY:
                    lines.append(str(value))
    if lines:
        terminalreporter.section("promqltest conformance")
        overall = [line for line in lines if line.startswith("overall")]
        for line in sorted(set(lines) - set(overall)) + overall:
            terminalreporter.write_line(line)

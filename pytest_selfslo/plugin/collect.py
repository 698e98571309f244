"""What ``pytest --self-slo`` collects and reports: rule tests, rule files, SLO items.

Registered as a plugin object by :mod:`pytest_selfslo.plugin` only under ``--self-slo``.

Collection
    Files are collected like test modules, from the paths you give (or
    ``testpaths``): a file matching ``--self-slo-rule-tests`` becomes a
    :class:`RuleTestFile` (one item per ``tests[]`` entry, named by its
    ``name`` or ``test-<index>``, plus a ``promtool`` cross-check item when a real
    ``promtool`` is there under ``auto``/``local``); a file matching
    ``--self-slo-rules`` becomes a :class:`RuleFile` (``valid``, ``lint`` and,
    with promtool, ``promtool-check``).

    Assets that are not files under the given paths -- the SLO spec, the drift
    check between rules and spec, the heartbeat log -- hang off one virtual
    collector ``selfslo`` (items ``selfslo::slo-spec``, ``selfslo::drift``,
    ``selfslo::heartbeats[<objective>]``). It is added whenever at least one
    rule or rule-test file was collected, so ``pytest --self-slo rules`` runs
    everything while ``pytest --self-slo tests/test_x.py`` runs only that file.

Reporting
    Items attach their rule coverage to their test report (so it travels from
    xdist workers); the controlling process merges it, prints the coverage
    table, applies ``--self-slo-coverage-fail-under`` and writes
    ``--self-slo-report``.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_selfslo.plugin.config import (
    CANARY_POLICIES_OPTION,
    RULE_TESTS_OPTION,
    RULES_OPTION,
    SelfSloConfigWarning,
    SelfSloSettings,
)
from pytest_selfslo.plugin.coverage_table import CoverageTracker
from pytest_selfslo.plugin.items import RuleFile, RuleTestFile, SloAssets
from pytest_selfslo.plugin.nodes import REPORT_ATTR, SelfSloItem


class SelfSloCollection:
    """The ``--self-slo`` plugin object: collection hooks, coverage, summary, report."""

    def __init__(self, config: pytest.Config, settings: SelfSloSettings) -> None:
        self.config = config
        self.settings = settings
        self.rule_files = set(settings.resolve_globs(settings.rules))
        self.rule_test_files = set(settings.resolve_globs(settings.rule_tests)) - self.rule_files
        self.policy_files = (set(settings.resolve_globs(settings.canary_policies))
                             - self.rule_files - self.rule_test_files)
        self.coverage = CoverageTracker(sorted(self.rule_files), settings.rootpath)
        self.results: list[dict[str, Any]] = []
        self._collected_assets = False
        for option, patterns, found in ((RULES_OPTION, settings.rules, self.rule_files),
                                        (RULE_TESTS_OPTION, settings.rule_tests,
                                         self.rule_test_files)):
            for pattern in patterns:
                named = Path(pattern) if Path(pattern).is_absolute() else settings.rootpath / pattern
                if not glob.has_magic(pattern) and not named.is_file():
                    raise pytest.UsageError(f"{option}: no such file: {pattern} (looked at {named})")
            if not found:
                self._warn_unmatched(option, patterns)
        if settings.canary_policies_explicit and not self.policy_files:
            self._warn_unmatched(CANARY_POLICIES_OPTION, settings.canary_policies)

    def _warn_unmatched(self, option: str, patterns: tuple[str, ...]) -> None:
        self.config.issue_config_time_warning(SelfSloConfigWarning(
            f"{option} {' '.join(patterns)!r} matched no file under "
            f"{self.settings.rootpath}: nothing of that kind is checked"), stacklevel=3)

    # -- collection ----------------------------------------------------------------
    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector
                            ) -> pytest.Collector | None:
        resolved = file_path.resolve()
        kind = self._kind(resolved)
        if kind == "rule-test":

            self._collected_assets = True
            return RuleTestFile.from_parent(parent, path=file_path)
        if kind == "rules":

            self._collected_assets = True
            return RuleFile.from_parent(parent, path=file_path)
        if kind == "policy":
            from pytest_selfslo.plugin.canary_items import CanaryPolicyFile

            self._collected_assets = True
            return CanaryPolicyFile.from_parent(parent, path=file_path)
        return None

    def _kind(self, path: Path) -> str | None:
        """What ``path`` is: by the globs, else -- for a YAML file named on the command line --
        by its top-level keys (``groups``: rules; ``tests``: rule tests; ``steps``: a policy)."""
        if path in self.rule_test_files:
            return "rule-test"
        if path in self.rule_files:
            return "rules"
        if path in self.policy_files:
            return "policy"
        if path.suffix not in (".yml", ".yaml") or path not in self._named_args():
            return None
        import yaml

        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return "rules"  # the validity item reports what is wrong with it
        keys = set(data) if isinstance(data, dict) else set()
        return ("rule-test" if "tests" in keys else "policy" if "steps" in keys
                else "rules")

    def _named_args(self) -> set[Path]:
        """Files named explicitly on the command line (``pytest --self-slo x.yml``)."""
        named = set()
        for arg in self.config.args:
            path = Path(self.config.invocation_params.dir, arg.split("::")[0]).resolve()
            if path.is_file():
                named.add(path)
        return named

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if not self._collected_assets:
            return

        assets = SloAssets.from_parent(session, name="selfslo", nodeid="selfslo")
        items.extend(session.genitems(assets))

    # -- reports -------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Iterator[None]:
        report = yield
        if isinstance(item, SelfSloItem) and call.when == "call":
            setattr(report, REPORT_ATTR, item.selfslo_data)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, REPORT_ATTR, None)
        if data is None or report.when != "call":
            return
        self.coverage.add(data.get("coverage"))
        self.results.append({"nodeid": report.nodeid, "kind": data.get("kind"),
                             "outcome": report.outcome, "duration": round(report.duration, 6),
                             "message": str(report.longrepr) if report.failed else None})

    def _reporting(self) -> bool:
        """Coverage is reported only when SLO assets ran (this process collected them, or
        their reports arrived from xdist workers) and there are rules to report on."""
        return (self._collected_assets or bool(self.results)) and self.coverage.has_rules()

    def _is_controller(self) -> bool:
        return not hasattr(self.config, "workerinput")

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int,
                                config: pytest.Config) -> None:
        if not self._is_controller() or not self._reporting():
            return
        summary = self.coverage.summary()
        config.hook.pytest_selfslo_coverage(config=config, coverage=summary)
        terminalreporter.write_sep("=", "SELF rule coverage")
        for line in self.coverage.format_table().splitlines():
            terminalreporter.write_line(line)
        threshold = self.settings.coverage_fail_under
        if threshold is not None and summary["percentage"] < threshold:
            terminalreporter.write_line(
                f"FAIL: rule coverage {summary['percentage']:.1f}% is below "
                f"--self-slo-coverage-fail-under {threshold:g}%", red=True, bold=True)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self._is_controller():
            return
        summary = self.coverage.summary()
        threshold = self.settings.coverage_fail_under
        below = (threshold is not None and self._reporting()
                 and summary["percentage"] < threshold)
        if below and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.settings.report is not None:
            self._write_report(summary, threshold, below, int(session.exitstatus))

    def _write_report(self, summary: dict[str, Any], threshold: float | None, below: bool,
                      exitstatus: int) -> None:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
        report: dict[str, Any] = {
            "version": 1,
            "exitstatus": exitstatus,
            "counts": counts,
            "items": sorted(self.results, key=lambda r: r["nodeid"]),
            "coverage": summary,
            "coverage_fail_under": threshold,
            "coverage_ok": not below,
        }
        self.config.hook.pytest_selfslo_report(config=self.config, report=report)
        path = self.settings.report
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)

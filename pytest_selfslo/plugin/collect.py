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

    Rule-test files also get a ``lint`` item; every ``lint`` item reports its
    file's share of one lint of all collected rule and rule-test files
    (:meth:`SelfSloCollection.lint_findings`), the same lint ``selfslo lint``
    runs on those files with the project's lint configuration.

    Input over a documented limit (``docs/limits.md``) is an input error, not a
    failed check: found while collecting it is a collection error; found while an
    item runs (a template's output, a rule file a test loads) the item fails with
    the one-line message and the session ends with exit status 2 all the same.

    Assets that are not files under the given paths -- the SLO spec, the drift
    check between rules and spec, the heartbeat log, the built-in canary
    policy -- hang off one virtual collector ``selfslo`` (items
    ``selfslo::slo-spec``, ``selfslo::drift``, ``selfslo::heartbeats[<objective>]``,
    ``selfslo::canary-default::*``). It is added when at least one rule or
    rule-test file was collected, so ``pytest --self-slo rules`` runs everything
    while ``pytest --self-slo tests/test_x.py`` runs only that file. Its SELF
    items run only in a SELF project (:meth:`SelfSloCollection.self_project`:
    an SLO spec, heartbeat log or canary policy is configured, or a collected
    file uses a SELF metric), or when their switch (``--self-slo-drift``,
    ``--self-slo-canary-default``) says ``on``.

Reporting
    Items attach their rule coverage to their test report (so it travels from
    xdist workers; a rule file's ``valid`` item sends its rules as untested);
    the controlling process merges it, prints the coverage table (untested and
    silent rules; every rule with ``-v``), applies
    ``--self-slo-coverage-fail-under`` (a miss is the failed report
    ``selfslo::coverage``, also in junit XML) and writes ``--self-slo-report``
    (with the lint findings under ``lint``).
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_selfslo._core.limits import read_head
from pytest_selfslo.plugin.config import (
    CANARY_POLICIES_OPTION,
    RULE_TESTS_OPTION,
    RULES_OPTION,
    SelfSloConfigWarning,
    SelfSloSettings,
)
from pytest_selfslo.plugin.coverage_table import CoverageTracker
from pytest_selfslo.plugin.items import RuleFile, RuleTestFile, SloAssets
from pytest_selfslo.plugin.mutation_items import MutationTracker
from pytest_selfslo.plugin.nodes import REPORT_ATTR, SelfSloItem, warn_lint

_SKIP_DIRS = frozenset({"node_modules", "venv", "env", "site-packages", "__pycache__", "build",
                        "dist"})
_POLICY_KEY = re.compile(r"^steps\s*:", re.M)
_RULES_KEY = re.compile(r"^groups\s*:", re.M)
_TESTS_KEY = re.compile(r"^tests\s*:", re.M)


def _yaml_near(root: Path, limit: int = 2000) -> list[Path]:
    """YAML files under ``root`` (4 levels deep; hidden, virtualenv and build folders skipped)."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and d not in _SKIP_DIRS and depth < 4)
        out += [Path(dirpath, f) for f in sorted(filenames)
                if f.endswith((".yml", ".yaml"))]
        if len(out) >= limit:
            break
    return out


def _looks_like(path: Path, kind: str) -> bool:
    """Whether a YAML file's top-level keys say it is a rule file / rule-test file / policy."""
    text = read_head(path, 200_000)  # never blocks on a FIFO nor reads a huge file whole
    if text is None:
        return False
    if kind == "rules":
        return _RULES_KEY.search(text) is not None and _TESTS_KEY.search(text) is None
    if kind == "rule-test":
        return _TESTS_KEY.search(text) is not None and "rule_files" in text
    return _POLICY_KEY.search(text) is not None


class SelfSloCollection:
    """The ``--self-slo`` plugin object: collection hooks, coverage, summary, report."""

    def __init__(self, config: pytest.Config, settings: SelfSloSettings) -> None:
        self.config = config
        self.settings = settings
        self.rule_files = set(settings.resolve_globs(settings.rules))
        self.rule_test_files = set(settings.resolve_globs(settings.rule_tests)) - self.rule_files
        self.policy_files = (set(settings.resolve_globs(settings.canary_policies))
                             - self.rule_files - self.rule_test_files)
        if not settings.canary_policies_explicit:  # canary/*.yml: only what is a policy
            self.policy_files = {p for p in self.policy_files if _looks_like(p, "policy")}
        self.coverage = CoverageTracker(settings.rootpath)
        self.mutation = MutationTracker()
        self.results: list[dict[str, Any]] = []
        #: LimitError messages of items (their reports carry them from xdist workers)
        self.limit_errors: list[str] = []
        #: files collected in this session, by kind ("rules", "rule-test", "policy")
        self.collected: dict[str, set[Path]] = {"rules": set(), "rule-test": set(),
                                                 "policy": set()}
        self._collected_assets = False
        self._self_project: tuple[bool, str] | None = None
        self._lint: list[Any] | None = None
        self.lint_config = self._lint_config()
        for option, patterns, found, kind in (
                (RULES_OPTION, settings.rules, self.rule_files, "rules"),
                (RULE_TESTS_OPTION, settings.rule_tests, self.rule_test_files, "rule-test")):
            for pattern in patterns:
                named = Path(pattern) if Path(pattern).is_absolute() else settings.rootpath / pattern
                if not glob.has_magic(pattern) and not named.is_file():
                    raise pytest.UsageError(f"{option}: no such file: {pattern} (looked at {named})")
            if not found:
                self._warn_unmatched(option, patterns, kind)
        if settings.canary_policies_explicit and not self.policy_files:
            self._warn_unmatched(CANARY_POLICIES_OPTION, settings.canary_policies, "policy")

    def _lint_config(self) -> Any:
        """The project's lint configuration (``[tool.selfslo.lint]`` or ``selfslo_lint_*``)."""
        from pytest_selfslo._core.errors import ConfigError
        from pytest_selfslo.lint.config import config_file, load_lint_config

        path = self.config.inipath or config_file(self.settings.rootpath)
        try:
            config = load_lint_config(path) if path is not None else None
        except ConfigError as exc:
            raise pytest.UsageError(f"lint configuration: {exc}") from None
        if config is None:
            from pytest_selfslo.lint.config import LintConfig

            config = LintConfig()
        if self.settings.lint_domain is not None:
            config = config.replace(domain=self.settings.lint_domain)
        return config

    def _warn_unmatched(self, option: str, patterns: tuple[str, ...], kind: str) -> None:
        root = self.settings.rootpath
        nearby = [p for p in _yaml_near(root) if _looks_like(p, kind)]
        what = {"rules": "rule files (top-level groups:)",
                "rule-test": "rule unit tests (top-level tests: and rule_files:)",
                "policy": "canary policies (top-level steps:)"}[kind]
        if nearby:
            names = ", ".join(_rel(p, root) for p in nearby[:6])
            more = f" and {len(nearby) - 6} more" if len(nearby) > 6 else ""
            hint = (f"; {len(nearby)} {what} found nearby: {names}{more} "
                    f"(point {option} or its ini key at them)")
        else:
            other = _yaml_near(root, 50)
            hint = (f"; no {what} under it (YAML files there: "
                    f"{', '.join(_rel(p, root) for p in other[:6])}"
                    f"{' ...' if len(other) > 6 else ''})" if other
                    else "; no YAML file under it either")
        self.config.issue_config_time_warning(SelfSloConfigWarning(
            f"{option} {' '.join(patterns)!r} matched no file under "
            f"{root}: nothing of that kind is checked{hint}"), stacklevel=3)

    # -- the SELF families ---------------------------------------------------------
    def self_project(self) -> tuple[bool, str]:
        """(whether this is a SELF project, why): an SLO spec, heartbeat log or canary policy
        is configured, a conftest provides the spec, or a collected rule or rule-test file
        uses a SELF metric. Decides the ``auto`` SELF families."""
        if self._self_project is None:
            self._self_project = self._decide_self_project()
        return self._self_project

    def explicit_opt_in(self) -> str | None:
        """Why the project configured SELF assets, or None."""
        s = self.settings
        if s.slo is not None:
            return "an SLO spec is configured"
        if s.heartbeats is not None:
            return "a heartbeat log is configured"
        if self.policy_files:
            return "a canary policy is configured"
        if self.config.pluginmanager.hook.pytest_selfslo_slo_spec.get_hookimpls():
            return "a pytest_selfslo_slo_spec hook provides the SLO spec"
        return None

    def _decide_self_project(self) -> tuple[bool, str]:
        from pytest_selfslo.lint.domain import text_uses_self_metrics

        why = self.explicit_opt_in()
        if why is not None:
            return True, why
        for path in sorted(self.collected["rules"] | self.collected["rule-test"]):
            text = read_head(path, self.settings.limits.max_file_bytes)
            if text is None:
                continue
            if text_uses_self_metrics(text):
                return True, f"{_rel(path, self.settings.rootpath)} uses SELF metrics"
        return False, "no SLO spec, heartbeat log or canary policy configured and no SELF metric in the rules"

    def family_on(self, mode: str) -> bool:
        """Whether a SELF family with switch ``mode`` (auto/on/off) runs."""
        return mode == "on" or (mode == "auto" and self.self_project()[0])

    def lint_findings(self) -> list[Any]:
        """The one lint of the session: every collected rule and rule-test file, linted
        together as ``selfslo lint`` lints them (once per process)."""
        if self._lint is None:
            from pytest_selfslo.lint.runner import lint_paths

            files = sorted(self.collected["rules"] | self.collected["rule-test"])
            self._lint = lint_paths(files, root=self.settings.rootpath,
                                    config=self.lint_config,
                                    opted_in=self.explicit_opt_in() is not None,
                                    metric_types=self._metric_types()) if files else []
        return self._lint

    def _metric_types(self) -> dict[str, str]:
        """Metric types from the configured server's metadata (a URL ``--self-slo-prometheus``)."""
        mode = self.settings.prometheus
        if "://" not in mode:
            return {}
        from pytest_selfslo._core.errors import PrometheusError
        from pytest_selfslo.prometheus.client import metric_types

        try:
            return metric_types(mode)
        except PrometheusError as exc:
            warn_lint(f"no metric metadata from {mode}: {exc}; SL030 decides from names and "
                      "the repository only")
            return {}

    # -- collection ----------------------------------------------------------------
    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector
                            ) -> pytest.Collector | None:
        resolved = file_path.resolve()
        kind = self._kind(resolved)
        if kind is None:
            return None
        self._collected_assets = True
        self.collected[kind].add(resolved)
        if kind == "rule-test":
            return RuleTestFile.from_parent(parent, path=file_path)
        if kind == "rules":
            return RuleFile.from_parent(parent, path=file_path)
        from pytest_selfslo.plugin.canary_items import CanaryPolicyFile

        return CanaryPolicyFile.from_parent(parent, path=file_path)

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
        from pytest_selfslo.rulefmt.goyaml import MAPPING, SCALAR, compose

        # bounded and never blocking: a FIFO or /dev/zero is None here, and the
        # validity item then reports what is wrong with it
        text = read_head(path, self.settings.limits.max_file_bytes)
        if text is None:
            return "rules"
        root, problem = compose(text, str(path))  # the one YAML reader (bombs refused)
        keys: set[str] = set()
        if problem is None and root is not None and root.deref.kind == MAPPING:
            keys = {str(k.value) for k, _v in root.deref.value if k.kind == SCALAR}
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
            from pytest_selfslo._core.errors import LimitError

            if call.excinfo is not None and isinstance(call.excinfo.value, LimitError):
                item.selfslo_data["limit_error"] = str(call.excinfo.value)
            setattr(report, REPORT_ATTR, item.selfslo_data)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, REPORT_ATTR, None)
        if data is None or report.when != "call":
            return
        self.coverage.add(data.get("coverage"))
        if data.get("mutation"):
            self.mutation.add(data["mutation"])
            self._junit_mutation_score()
        if data.get("limit_error"):
            self.limit_errors.append(f"{report.nodeid}: {data['limit_error']}")
        result = {"nodeid": report.nodeid, "kind": data.get("kind"),
                  "outcome": report.outcome, "duration": round(report.duration, 6),
                  "message": str(report.longrepr) if report.failed else None}
        if "findings" in data:
            result["findings"] = data["findings"]
        self.results.append(result)

    def _junit_mutation_score(self) -> None:
        """The total mutation score as a junit testsuite property (kept current per report)."""
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # pragma: no cover - pytest moved it
            return
        xml = self.config.stash.get(xml_key, None)
        if xml is None:
            return
        props = [p for p in xml.global_properties if p[0] != "selfslo_mutation_score"]
        props.append(("selfslo_mutation_score", f"{self.mutation.score:.1f}"))
        xml.global_properties[:] = props

    def _below_mutation_bar(self) -> str | None:
        """The fail-under message when the total mutation score misses its bar."""
        bar = self.settings.mutation_fail_under
        if bar is None or not self.mutation.rules or self.mutation.score >= bar:
            return None
        return (f"mutation score {self.mutation.score:.1f}% is below "
                f"--self-slo-mutation-fail-under {bar:g}%")

    def _reporting(self) -> bool:
        """Coverage is reported only when SLO assets ran (this process collected them, or
        their reports arrived from xdist workers) and there are rules to report on."""
        return (self._collected_assets or bool(self.results)) and self.coverage.has_rules()

    def _is_controller(self) -> bool:
        return not hasattr(self.config, "workerinput")

    def _below_threshold(self) -> str | None:
        """The fail-under message when coverage misses ``--self-slo-coverage-fail-under``."""
        threshold = self.settings.coverage_fail_under
        if threshold is None or not self._reporting():
            return None
        summary = self.coverage.summary()
        if summary["percentage"] >= threshold:
            return None
        untested = [f"{r['file']}: {r['kind']} {r['name']} ({r['status']})"
                    for r in summary["rules"] if r["status"] in ("untested", "silent")]
        return (f"rule coverage {summary['percentage']:.1f}% is below "
                f"--self-slo-coverage-fail-under {threshold:g}% "
                f"({summary['covered']} of {summary['total']} rules covered); not covered:\n  "
                + "\n  ".join(untested))

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int,
                                config: pytest.Config) -> None:
        if not self._is_controller():
            return
        for message in self.limit_errors:
            terminalreporter.write_line(f"ERROR: input refused: {message}", red=True, bold=True)
        if self._reporting():
            self._coverage_summary(terminalreporter, config)
        if self.mutation.rules:
            terminalreporter.write_sep("=", "mutation score")
            for line in self.mutation.format_table().splitlines():
                terminalreporter.write_line(line)
            below = self._below_mutation_bar()
            if below is not None:
                terminalreporter.write_line(f"FAIL: {below}", red=True, bold=True)

    def _coverage_summary(self, terminalreporter: Any, config: pytest.Config) -> None:
        summary = self.coverage.summary()
        config.hook.pytest_selfslo_coverage(config=config, coverage=summary)
        terminalreporter.write_sep("=", "rule coverage")
        verbose = config.get_verbosity() > 0
        for line in self.coverage.format_table(all_rows=verbose).splitlines():
            terminalreporter.write_line(line)
        threshold = self.settings.coverage_fail_under
        if threshold is not None and summary["percentage"] < threshold:
            terminalreporter.write_line(
                f"FAIL: rule coverage {summary['percentage']:.1f}% is below "
                f"--self-slo-coverage-fail-under {threshold:g}%", red=True, bold=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self._is_controller():
            return
        summary = self.coverage.summary()
        below = self._below_threshold()
        if below is not None:
            self._report_coverage_failure(below)
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        below_mutation = self._below_mutation_bar()
        if below_mutation is not None:
            self._report_coverage_failure(below_mutation, "selfslo::mutation")
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.limit_errors and session.exitstatus in (pytest.ExitCode.OK,
                                                        pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = pytest.ExitCode.INTERRUPTED  # 2, as for a collection error
        if self.settings.report is not None:
            self._write_report(summary, self.settings.coverage_fail_under, below is not None,
                               int(session.exitstatus))

    def _report_coverage_failure(self, message: str, nodeid: str = "selfslo::coverage") -> None:
        """The fail-under miss as a failed test report ``selfslo::coverage`` (or
        ``selfslo::mutation``), so junit XML (``--junitxml``) and the short summary show it
        like any failed item."""
        report = pytest.TestReport(
            nodeid=nodeid, location=("selfslo", None, nodeid),
            keywords={"selfslo": 1}, outcome="failed", longrepr=message, when="call",
            sections=[], duration=0.0, start=0.0, stop=0.0, user_properties=[])
        self.config.hook.pytest_runtest_logreport(report=report)

    def _write_report(self, summary: dict[str, Any], threshold: float | None, below: bool,
                      exitstatus: int) -> None:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
        lint = sorted((f for r in self.results if r.get("kind") == "lint"
                       for f in r.get("findings", [])),
                      key=lambda f: (f["path"], f["line"], f["column"], f["code"], f["message"]))
        report: dict[str, Any] = {
            "version": 1,
            "exitstatus": exitstatus,
            "counts": counts,
            "items": sorted(self.results, key=lambda r: r["nodeid"]),
            "coverage": summary,
            "coverage_fail_under": threshold,
            "coverage_ok": not below,
            "lint": lint,
        }
        if self.mutation.rules:
            report["mutation"] = self.mutation.to_json()
            report["mutation_fail_under"] = self.settings.mutation_fail_under
        self.config.hook.pytest_selfslo_report(config=self.config, report=report)
        path = self.settings.report
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)

"""The collectors and items of ``pytest --self-slo`` (see :mod:`.collect` for the rules).

Node ids are junit-friendly: ``rules/tests/self_slo_test.yml::<test name>``,
``rules/phase_c_rules.yml::valid``, ``selfslo::drift``,
``selfslo::heartbeats[coherence]`` (classname = file or ``selfslo``, name = the
check).
"""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_selfslo.plugin.nodes import (
    SelfSloFailure,
    SelfSloItem,
    collection_of,
    configured_spec,
    features_of,
    item_name,
    promtool_available,
    promtool_path,
    settings_of,
    warn_lint,
)


def _unique(names: Iterable[str]) -> list[str]:
    """Disambiguate repeated names with ``#2``, ``#3``... (node ids must be unique)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return out


# ---------------------------------------------------------------- rule unit-test files
class RuleTestFile(pytest.File):
    """A promtool-format rule unit-test file: one item per ``tests[]`` entry, ``lint``
    and, with a real promtool, ``promtool``."""

    def collect(self) -> Iterator[pytest.Item]:
        from pytest_selfslo._core.errors import SelfSloError
        from pytest_selfslo.ruletest.runner import load_test_file, rule_groups_of

        try:
            test_file = load_test_file(self.path,
                                       semantics=settings_of(self).effective_semantics,
                                       limits=settings_of(self).limits)
            if test_file.groups:  # a bad rule file is reported once, not once per group
                rule_groups_of(test_file)
        except (SelfSloError, OSError) as exc:
            raise self.CollectError(f"invalid rule test file: {exc}") from exc
        for warning in test_file.warnings:  # e.g. a rule_files glob that matches nothing
            warn_lint(f"{self.path.name}: {warning}")
        names = _unique(item_name(group.display_name) for group in test_file.groups)
        for name, group in zip(names, test_file.groups, strict=True):
            yield RuleTestItem.from_parent(self, name=name, check=_run_rule_test,
                                           test_file=test_file, group=group)
        yield _item(self, _unused("lint", names), "lint", _check_lint)
        if promtool_available(settings_of(self)):
            item = SelfSloItem.from_parent(self, name="promtool", check=_promtool_cross_check)
            item.kind = "promtool"
            item.add_marker(pytest.mark.selfslo_slow)
            yield item


class RuleTestItem(SelfSloItem):
    """One entry of a rule test file, run on the embedded engine."""

    kind = "rule-test"

    def __init__(self, *, test_file: Any, group: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test_file = test_file
        self.group = group


def _run_rule_test(item: SelfSloItem) -> None:
    from pytest_selfslo.plugin.coverage_table import coverage_payload
    from pytest_selfslo.ruletest.runner import run_test_group

    assert isinstance(item, RuleTestItem)
    result = run_test_group(item.test_file, item.group,
                            semantics=settings_of(item).effective_semantics,
                            features=features_of(item))
    item.selfslo_data["coverage"] = coverage_payload(result.coverage, settings_of(item).rootpath)
    if not result.passed:
        raise SelfSloFailure(
            f"rule test {item.group.display_name!r} in {item.path.name} failed "
            f"(embedded engine, Prometheus {settings_of(item).effective_semantics}.x semantics):\n"
            + "\n".join(result.failures))


def _unused(name: str, taken: list[str]) -> str:
    """``name``, or ``name #2``... when a test entry already has that name."""
    out, n = name, 1
    while out in taken:
        n += 1
        out = f"{name} #{n}"
    return out


class SemanticsMismatchWarning(pytest.PytestWarning):
    """The real promtool's Prometheus major version is not the semantics the run selected."""


_MISMATCH_WARNED = pytest.StashKey[bool]()


def _promtool_cross_check(item: SelfSloItem) -> None:
    """Run the file with real promtool: fail when promtool fails it (with promtool's output),
    and when promtool passes it but the embedded engine (promtool's semantics) does not."""
    from pytest_selfslo.prometheus.client import binary_version
    from pytest_selfslo.ruletest.runner import run_rule_tests

    promtool = promtool_path(settings_of(item))
    assert promtool is not None  # the item exists only when there is one
    numbers = binary_version(promtool)
    version = ".".join(str(n) for n in numbers)
    semantics = "2" if numbers[0] < 3 else "3"
    selected = settings_of(item).effective_semantics
    if semantics != selected and not item.config.stash.get(_MISMATCH_WARNED, False):
        item.config.stash[_MISMATCH_WARNED] = True  # once per run, not once per file
        warnings.warn(SemanticsMismatchWarning(
            f"promtool {version} evaluates with Prometheus {semantics}.x semantics, the run "
            f"selected {selected}.x (--self-slo-semantics): the rule-test items run with "
            f"{selected}.x, the ::promtool cross-checks with promtool's {semantics}.x"),
            stacklevel=2)
    # ours first, with that release's numerics and file formats (fields, defaults): input
    # over a limit (rule_files: [/dev/zero]...) raises LimitError here, before promtool is
    # handed a file it would read forever
    release = f"{numbers[0]}.{numbers[1]}"
    ours = run_rule_tests([str(item.path)], semantics=release, limits=settings_of(item).limits,
                          features=features_of(item, release))
    ours_ok = bool(ours.passed)
    names = settings_of(item).enable_feature
    flags = [f"--enable-feature={','.join(names)}"] if names else []
    proc = subprocess.run([promtool, "test", "rules", *flags, item.path.name],
                          cwd=item.path.parent, capture_output=True, text=True, timeout=300)
    theirs_ok = proc.returncode == 0
    item.selfslo_data["promtool"] = {"promtool_passed": theirs_ok, "embedded_passed": ours_ok,
                                     "semantics": semantics, "promtool_version": version,
                                     "selected_semantics": selected}
    output = (f"--- promtool test rules {item.path.name} (promtool {version}, "
              f"exit {proc.returncode}) ---\n{(proc.stdout + proc.stderr).strip()}")
    if not theirs_ok:
        agree = ("the embedded engine fails it too" if not ours_ok else
                 "the embedded engine passes it: they disagree")
        raise SelfSloFailure(
            f"promtool {version} FAILED {item.path.name} ({agree}; Prometheus "
            f"{semantics}.x semantics)\n{output}"
            + ("" if not ours_ok else f"\n--- embedded engine ---\n{_format_report(ours)}"))
    if not ours_ok:
        raise SelfSloFailure(
            f"real promtool and the embedded engine disagree on {item.path.name}: "
            f"promtool {version} PASSED, embedded engine FAILED "
            f"(Prometheus {semantics}.x semantics)\n{output}\n"
            f"--- embedded engine ---\n{_format_report(ours)}")


def _format_report(report: Any) -> str:
    return str(report.format_text()).strip()


# ---------------------------------------------------------------- rule files
class RuleFile(pytest.File):
    """A Prometheus rule file: ``valid``, ``lint`` and (with promtool) ``promtool-check``."""

    def collect(self) -> Iterator[pytest.Item]:
        yield _item(self, "valid", "rule-file", _check_valid)
        yield _item(self, "lint", "lint", _check_lint)
        if promtool_available(settings_of(self)):
            yield _item(self, "promtool-check", "promtool", _check_promtool_rules)
        if settings_of(self).mutate:
            from pytest_selfslo.plugin.mutation_items import mutation_items

            yield from mutation_items(self)


def _item(parent: pytest.Collector, name: str, kind: str, check: Any) -> SelfSloItem:
    item: SelfSloItem = SelfSloItem.from_parent(parent, name=name, check=check)
    item.kind = kind
    item.selfslo_data["kind"] = kind
    return item


def _check_valid(item: SelfSloItem) -> None:
    from pytest_selfslo.plugin.coverage_table import rules_payload
    from pytest_selfslo.rulefmt.rulefile import check_rule_file, format_problems

    limits = settings_of(item).limits
    problems = check_rule_file(item.path, semantics=settings_of(item).effective_semantics,
                               limits=limits)
    if not problems:  # the rules of every collected rule file count in the coverage
        item.selfslo_data["coverage"] = rules_payload(item.path, settings_of(item).rootpath,
                                                      limits, settings_of(item).effective_semantics)
    if problems:
        raise SelfSloFailure(f"{item.path.name} is not a valid rule file "
                             f"({len(problems)} problem(s)):\n{format_problems(problems)}")
    gated = _gated(item)  # as promtool check rules: experimental functions need the feature
    if gated:
        raise SelfSloFailure(f"{item.path.name} is not a valid rule file "
                             f"({len(gated.splitlines())} problem(s)):\n{gated}")


def _gated(item: SelfSloItem) -> str:
    """promtool's parse errors for the rules calling functions the selected release does not
    offer with ``--self-slo-enable-feature`` (``function "sort_by_label" is not enabled``)."""
    from pytest_selfslo._core.errors import SelfSloError
    from pytest_selfslo.rulefmt.rulefile import load_rule_files
    from pytest_selfslo.ruletest.runner import gated_rules

    settings = settings_of(item)
    try:
        groups = load_rule_files([item.path], semantics=settings.effective_semantics,
                                 limits=settings.limits)
    except SelfSloError:  # check_rule_file found nothing: nothing more to say here
        return ""
    return gated_rules(groups, settings.effective_semantics, features_of(item))


def _check_lint(item: SelfSloItem) -> None:
    """This file's share of the session's one lint (``SelfSloCollection.lint_findings``)."""
    mine = str(item.path.resolve())
    findings = [f for f in collection_of(item).lint_findings()
                if str(Path(f.path).resolve()) == mine]
    if settings_of(item).lint_prometheus is not None:
        findings = _lint_online(item, findings)
    errors = [f for f in findings if _severity(f) == "error"]
    for finding in findings:
        if _severity(finding) != "error":
            warn_lint(finding.format())
    item.selfslo_data["findings"] = [f.to_dict() for f in findings]
    if errors:
        raise SelfSloFailure(f"the rule linter found {len(errors)} error(s) in {item.path.name}:\n"
                             + "\n".join(f.format() for f in errors))


def _lint_online(item: SelfSloItem, findings: list[Any]) -> list[Any]:
    """The online checks of ``--self-slo-lint-prometheus`` merged into the offline findings.

    ``fixture`` is the session's real server (the ``prometheus`` fixture's); a
    server that cannot be had, like a check the server cannot answer, is a
    warning ("skipped: why") and leaves the offline findings as they are.
    """
    from pytest_selfslo._core.durations import parse_duration
    from pytest_selfslo._core.errors import PrometheusUnavailable
    from pytest_selfslo.lint.online import OnlineSettings, lint_online
    from pytest_selfslo.plugin.fixtures import session_prometheus

    settings = settings_of(item)
    target = settings.lint_prometheus
    if target == "fixture":
        try:
            target = session_prometheus(item.config).url
        except PrometheusUnavailable as exc:
            warn_lint(f"{item.path.name}: online lint skipped: no real Prometheus "
                      f"(--self-slo-prometheus={settings.prometheus}): {exc}")
            return findings
    assert target is not None
    result = lint_online([str(item.path)], OnlineSettings(
        target, lookback=parse_duration(settings.lint_lookback) / 1000.0,
        max_series=settings.lint_max_series, max_samples=settings.lint_max_samples))
    for line in result.skip_lines():
        warn_lint(f"{item.path.name}: online lint against {target}: {line}")
    item.selfslo_data["online"] = {"url": target, "requests": result.stats.distinct,
                                   "skipped": result.skip_lines()}
    return result.merge(findings)


def _severity(finding: Any) -> str:
    return str(getattr(finding.severity, "value", finding.severity))


def _check_promtool_rules(item: SelfSloItem) -> None:
    from pytest_selfslo._core.limits import read_limited_text
    from pytest_selfslo.rulefmt.manifests import is_manifest, rule_documents

    try:  # a regular file within the budget (a FIFO or /dev/zero is refused, never read)
        text = read_limited_text(item.path, "rule file", settings_of(item).limits)
    except (OSError, UnicodeDecodeError):
        text = ""  # promtool reads it itself and says what is wrong
    if not is_manifest(text):
        _promtool_check(item, [item.path], {})
        return
    # promtool refuses manifests: give it each rule file they hold, blanked in place so
    # that its line numbers are the manifest's, and name the manifest in its messages
    import tempfile

    documents, _problems = rule_documents(text)  # the ``valid`` item reports problems
    with tempfile.TemporaryDirectory(prefix="selfslo-promtool-") as tmp:
        paths = []
        for number, doc in enumerate(documents, start=1):
            path = Path(tmp) / f"{number}-{item.path.name}"
            path.write_text(doc.text, encoding="utf-8")
            paths.append(path)
        if paths:
            _promtool_check(item, paths, {str(p): str(item.path) for p in paths})


def _promtool_check(item: SelfSloItem, paths: list[Path], rename: dict[str, str]) -> None:
    promtool = promtool_path(settings_of(item))
    assert promtool is not None  # the item exists only when there is one
    names = settings_of(item).enable_feature
    flags = [f"--enable-feature={','.join(names)}"] if names else []
    proc = subprocess.run([promtool, "check", "rules", *flags, *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        for temp, original in rename.items():
            output = output.replace(temp, original)
        raise SelfSloFailure(f"promtool check rules rejected {item.path.name}:\n{output}")


# ---------------------------------------------------------------- session-level assets
class SloAssets(pytest.Collector):
    """Virtual collector ``selfslo``: SLO spec, drift, heartbeat objectives, default canary
    policy -- the SELF items, only in a SELF project (``SelfSloCollection.self_project``)
    or when switched on (``--self-slo-drift``, ``--self-slo-canary-default``)."""

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        settings = settings_of(self)
        collection = collection_of(self)
        if settings.slo is not None and _is_service_spec(settings.slo):
            yield from self._service_items(settings.drift)
            return
        drift = collection.family_on(settings.drift)
        if drift or collection.explicit_opt_in() is not None:
            yield _item(self, "slo-spec", "slo-spec", _check_spec)
        if drift:
            yield _item(self, "drift", "drift", _check_drift)
        if collection.family_on(settings.canary_default):
            from pytest_selfslo.plugin.canary_items import CanaryDefaultPolicy

            yield CanaryDefaultPolicy.from_parent(self, name="canary-default")
        if settings.heartbeats is not None:
            try:
                spec = configured_spec(self.config)
            except ValueError:
                return  # the slo-spec item reports it
            for objective in spec.objectives:
                item = _item(self, f"heartbeats[{item_name(objective.name)}]", "heartbeats",
                             _check_objective)
                item.selfslo_data["objective"] = objective.name
                yield item


    def _service_items(self, drift_mode: str) -> Iterator[pytest.Item | pytest.Collector]:
        """A service SLO spec (Sloth, OpenSLO, Pyrra, selfslo/v1): it imports, the rules
        generated from it pass the tests generated from it, the repo's rules agree with it."""
        yield _item(self, "slo-spec", "slo-spec", _check_service_spec)
        yield _item(self, "slo-generated-tests", "slo-generated-tests", _check_service_tests)
        if drift_mode != "off":
            yield _item(self, "drift", "drift", _check_service_drift)


def _is_service_spec(path: Path) -> bool:
    from pytest_selfslo.slo.importers import is_service_spec

    return is_service_spec(path)


def _service_slos(item: SelfSloItem) -> Any:
    from pytest_selfslo._core.errors import SLOSpecError
    from pytest_selfslo.plugin.fixtures import configured_service_slos

    try:
        return configured_service_slos(item.config)
    except SLOSpecError as exc:
        raise SelfSloFailure(str(exc)) from None


def _check_service_spec(item: SelfSloItem) -> None:
    spec = _service_slos(item)
    item.selfslo_data["slos"] = [f"{slo.service or spec.service}/{slo.name}: {slo.objective:g}% "
                                 f"over {slo.window} ({slo.sli.kind})" for slo in spec.slos]
    item.selfslo_data["format"] = spec.source


def _check_service_tests(item: SelfSloItem) -> None:
    import tempfile

    from pytest_selfslo._core.errors import SLOSpecError
    from pytest_selfslo.ruletest.runner import run_rule_tests
    from pytest_selfslo.slo.burnrate import generate_rules
    from pytest_selfslo.slo.testgen import generate_tests

    spec = _service_slos(item)
    try:
        tests = generate_tests(spec, "slo.yml")
    except SLOSpecError as exc:
        raise SelfSloFailure(f"cannot generate tests for {settings_of(item).slo}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="selfslo-slo-") as tmp:
        (Path(tmp) / "slo.yml").write_text(generate_rules(spec), encoding="utf-8")
        (Path(tmp) / "slo_test.yml").write_text(tests, encoding="utf-8")
        report = run_rule_tests([str(Path(tmp) / "slo_test.yml")],
                                semantics=settings_of(item).semantics or "3")
        if not report.passed:
            raise SelfSloFailure("the burn-rate rules generated from "
                                 f"{settings_of(item).slo} fail their generated tests:\n"
                                 + report.format_text())


def _check_service_drift(item: SelfSloItem) -> None:
    from pytest_selfslo.lint.drift import check_service_drift

    settings = settings_of(item)
    spec = _service_slos(item)
    collected = collection_of(item).collected["rules"] or settings.resolve_globs(settings.rules)
    paths = [str(p) for p in sorted(collected)]
    findings = check_service_drift(paths, spec, spec_path=settings.slo)
    item.selfslo_data["findings"] = [f.to_dict() for f in findings]
    if findings:
        raise SelfSloFailure(f"the rules disagree with the SLO spec ({len(findings)} finding(s)):\n"
                             + "\n".join(f.format() for f in findings))


def _check_spec(item: SelfSloItem) -> None:
    spec = configured_spec(item.config)
    item.selfslo_data["objectives"] = [o.describe() for o in spec.objectives]


def _check_drift(item: SelfSloItem) -> None:
    from pytest_selfslo.lint.drift import check_drift

    settings = settings_of(item)
    collected = collection_of(item).collected["rules"] or settings.resolve_globs(settings.rules)
    paths = [str(p) for p in sorted(collected)]
    findings = check_drift(paths, configured_spec(item.config), spec_path=settings.slo)
    item.selfslo_data["findings"] = [f.to_dict() for f in findings]
    if findings:
        raise SelfSloFailure(f"the rules disagree with the SLO spec ({len(findings)} finding(s)):\n"
                             + "\n".join(f.format() for f in findings))


def _check_objective(item: SelfSloItem) -> None:
    from pytest_selfslo.heartbeat import read_heartbeats
    from pytest_selfslo.plugin.assertions import describe_objective_result
    from pytest_selfslo.slo.spec import evaluate

    settings = settings_of(item)
    assert settings.heartbeats is not None
    spec = configured_spec(item.config)
    objective = spec.objective(item.selfslo_data["objective"])
    records = read_heartbeats(settings.heartbeats)
    if records.skipped:  # counted, never silently: a corrupt log is worth a look
        warn_lint(f"{_rel(settings.heartbeats, settings.rootpath)}: skipped {records.skipped} "
                  f"malformed line(s), first at line {records.bad_lines[0]}: {records.reasons[0]}")
    report = evaluate(spec, records)
    result = next(r for r in report.objectives if r.name == objective.name)
    item.selfslo_data["result"] = result.to_dict()
    line = describe_objective_result(result, report.percentiles)
    if report.count == 0:
        raise SelfSloFailure(f"{settings.heartbeats} has no heartbeats: missing data never "
                             f"meets {objective.describe()}")
    if not result.passed:
        raise SelfSloFailure(f"SLO not met over {report.count} heartbeats in "
                             f"{_rel(settings.heartbeats, settings.rootpath)}:\n  {line}")


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)

"""Option parsing and the resolved settings of the pytest plugin.

Every ``--self-slo*`` option has an ``selfslo_*`` ini twin; the command line
wins, then the ini file, then the built-in default. Both sources go through the
same ``parse_*`` function, so a bad value is the same clear
:class:`pytest.UsageError` whether it was typed or configured (xdist's
``parse_ramp_duration`` pattern). Only the standard library is imported here:
this module is loaded with the plugin, by every pytest run.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pytest_selfslo._core.limits import DEFAULT_LIMITS, LIMIT_NAMES, Limits
from pytest_selfslo.promql.semantics import Semantics

#: option names, in one place (hypothesis ``SEED_OPTION`` style)
SELF_SLO_OPTION = "--self-slo"
RULES_OPTION = "--self-slo-rules"
RULE_TESTS_OPTION = "--self-slo-rule-tests"
SLO_OPTION = "--self-slo-slo"
SLI_PLUGINS_OPTION = "--self-slo-sli-plugins"
HEARTBEATS_OPTION = "--self-slo-heartbeats"
PROMETHEUS_OPTION = "--self-slo-prometheus"
ALERTMANAGER_OPTION = "--self-slo-alertmanager"
PROMTOOL_OPTION = "--self-slo-promtool"
SEMANTICS_OPTION = "--self-slo-semantics"
COVERAGE_FAIL_UNDER_OPTION = "--self-slo-coverage-fail-under"
REPORT_OPTION = "--self-slo-report"
CANARY_POLICIES_OPTION = "--self-slo-canary-policies"
DRIFT_OPTION = "--self-slo-drift"
CANARY_DEFAULT_OPTION = "--self-slo-canary-default"
LINT_DOMAIN_OPTION = "--self-slo-lint-domain"
LINT_PROMETHEUS_OPTION = "--self-slo-lint-prometheus"
MUTATE_OPTION = "--self-slo-mutate"
MUTATION_FAIL_UNDER_OPTION = "--self-slo-mutation-fail-under"
ENABLE_FEATURE_OPTION = "--self-slo-enable-feature"

DEFAULT_RULES_GLOBS = ("rules/*.yml", "rules/*.yaml")
DEFAULT_RULE_TESTS_GLOBS = ("rules/tests/*.yml", "rules/tests/*.yaml")
DEFAULT_CANARY_GLOBS = ("canary/*.yml", "canary/*.yaml")
DEFAULT_RULES_GLOB = " ".join(DEFAULT_RULES_GLOBS)
DEFAULT_RULE_TESTS_GLOB = " ".join(DEFAULT_RULE_TESTS_GLOBS)
DEFAULT_CANARY_GLOB = " ".join(DEFAULT_CANARY_GLOBS)
#: values of the SELF family switches (drift, default canary policy, SELF lint domain)
FAMILY_MODES = ("auto", "on", "off")
DEFAULT_CANARY_MAX_EXAMPLES = 100
DEFAULT_SCENARIO_GLOB = "fixtures/scenarios/*.jsonl"
PROMETHEUS_MODES = ("auto", "embedded", "local", "docker")
ALERTMANAGER_MODES = ("auto", "local", "docker")
#: examples of --self-slo-semantics values (any Prometheus 2.x/3.x version is accepted)
SEMANTICS = ("2", "3", "2.42", "2.53", "3.5")
#: ``--self-slo-prometheus local:/path/to/prometheus`` names the binary to run
LOCAL_PREFIX = "local:"


class SelfSloConfigWarning(pytest.PytestWarning):
    """A --self-slo setting is suspicious but not fatal (e.g. a glob that matches no file)."""


def _mode_or_url(value: str, modes: tuple[str, ...], expected: str) -> str:
    """``value`` as one of ``modes`` (any case) or an ``http(s)://`` URL without a trailing
    ``/``; else a usage error ``{expected}, got {value!r}``."""
    text = value.strip()
    if text.lower() in modes:
        return text.lower()
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.netloc:
        return text.rstrip("/")
    raise pytest.UsageError(f"{expected}, got {value!r}")


def parse_prometheus(value: str) -> str:
    """``auto``/``embedded``/``local``/``docker``, ``local:PATH`` or an ``http(s)://`` URL.

    A ``local:PATH`` stays relative here; :func:`resolve_settings` anchors it
    (command line: the current directory, ini: the rootdir) and checks it exists.
    """
    text = value.strip()
    if text.startswith(LOCAL_PREFIX) and text[len(LOCAL_PREFIX):].strip():
        return LOCAL_PREFIX + text[len(LOCAL_PREFIX):].strip()
    return _mode_or_url(value, PROMETHEUS_MODES,
                        f"{PROMETHEUS_OPTION}: expected one of {', '.join(PROMETHEUS_MODES)}, "
                        "local:PATH or an http(s):// URL")


def parse_lint_prometheus(value: str) -> str:
    """Where the rule lint's online checks go: ``fixture`` (the session's real server) or a URL."""
    return _mode_or_url(value, ("fixture",),
                        f"{LINT_PROMETHEUS_OPTION}: expected 'fixture' (the real Prometheus "
                        "this session starts) or an http(s):// URL")


def parse_lint_number(value: str) -> int:
    """A lint budget (``selfslo_lint_max_series``/``_samples``): a whole number >= 0."""
    text = str(value).strip()
    if not text.isdigit():
        raise pytest.UsageError(f"expected a whole number >= 0, got {value!r}")
    return int(text)


def parse_lint_lookback(value: str) -> str:
    """The online lint's lookback window, a Prometheus duration such as ``1d``."""
    from pytest_selfslo._core.durations import parse_duration

    try:
        if parse_duration(str(value).strip()) <= 0:
            raise ValueError(value)
    except ValueError:
        raise pytest.UsageError(f"expected a duration such as '1d', got {value!r}") from None
    return str(value).strip()


def _executable(text: str, base: Path, what: str, origin: str) -> str:
    """The absolute path of an executable named by a path (relative to ``base``) or on PATH."""
    if os.sep not in text and (os.altsep is None or os.altsep not in text):
        found = shutil.which(text)
        if found is None:
            raise pytest.UsageError(f"{what} ({origin}): no {text!r} on PATH")
        return found
    path = (base / text).resolve()
    if not path.is_file() or not os.access(path, os.X_OK):
        raise pytest.UsageError(f"{what} ({origin}): no such executable file: {text} "
                                f"(looked at {path})")
    return str(path)


def parse_alertmanager(value: str) -> str:
    """``auto``/``local``/``docker`` or an ``http(s)://host:port`` URL of an Alertmanager."""
    return _mode_or_url(value, ALERTMANAGER_MODES,
                        f"{ALERTMANAGER_OPTION}: expected one of "
                        f"{', '.join(ALERTMANAGER_MODES)} or an http(s):// URL")


def parse_semantics(value: str) -> str:
    """PromQL semantics of the embedded engine: a Prometheus version, normalised to ``major.minor``.

    ``2`` and ``3`` mean 2.53 and 3.5 (:data:`pytest_selfslo.promql.semantics.DEFAULTS`);
    ``2.42``, ``v2.53.1`` or ``3.5`` name a release.
    """
    try:
        return str(Semantics.parse(value))
    except ValueError:
        raise pytest.UsageError(
            f"{SEMANTICS_OPTION}: expected a Prometheus version such as "
            f"{', '.join(SEMANTICS)}, got {value!r}") from None


def parse_percentage(value: str, option: str = COVERAGE_FAIL_UNDER_OPTION) -> float:
    """A coverage threshold in percent, 0 to 100 (a trailing ``%`` is allowed)."""
    text = value.strip().removesuffix("%")
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not 0.0 <= number <= 100.0:  # also rejects NaN
        raise pytest.UsageError(
            f"{option}: expected a percentage between 0 and 100, got {value!r}"
        )
    return number


def parse_mutation_percentage(value: str) -> float:
    """A mutation-score threshold in percent, 0 to 100."""
    return parse_percentage(value, MUTATION_FAIL_UNDER_OPTION)


def parse_globs(value: str) -> tuple[str, ...]:
    """One or more glob patterns separated by commas or whitespace; at least one."""
    patterns = tuple(p for p in re.split(r"[,\s]+", value.strip()) if p)
    if not patterns:
        raise pytest.UsageError(f"expected a glob pattern such as {DEFAULT_RULES_GLOBS[1]!r}, got ''")
    return patterns


def parse_feature_names(value: str) -> tuple[str, ...]:
    """promtool ``--enable-feature`` names, separated by commas (promtool's) or whitespace.

    Any name is accepted here: as with ``selfslo test-rules --enable-feature``, names the
    selected release does not know are warned about (:mod:`pytest_selfslo.promql.features`).
    """
    return tuple(p for p in re.split(r"[,\s]+", str(value).strip()) if p)


def parse_max_examples(value: str) -> int:
    """Hypothesis examples per canary property: a whole number from 1 to 100000."""
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise pytest.UsageError(
            f"selfslo_canary_max_examples: expected a whole number from 1 to 100000, got {value!r}")
    return int(text)


def parse_family(value: str, what: str = "selfslo") -> str:
    """A SELF family switch: ``auto`` (when the project opts in), ``on`` or ``off``."""
    text = str(value).strip().lower()
    text = {"true": "on", "yes": "on", "1": "on", "false": "off", "no": "off",
            "0": "off"}.get(text, text)
    if text not in FAMILY_MODES:
        raise pytest.UsageError(f"{what}: expected auto, on or off, got {value!r}")
    return text


def _family_type(option: str) -> Any:
    def parse(value: str) -> str:
        return parse_family(value, option)
    return parse


def parse_limit(name: str) -> Callable[[str], int]:
    """The parser of budget ``name`` (``max_samples``...): a positive whole number."""
    option = f"--self-slo-{name.replace('_', '-')}"

    def parse(value: str) -> int:
        text = str(value).strip().replace("_", "")
        if not text.isdigit() or int(text) < 1:
            raise pytest.UsageError(f"{option}: expected a positive whole number, got {value!r}")
        return int(text)

    parse.__name__ = f"parse_{name}"
    return parse


def parse_bool(value: str, key: str = "selfslo_enabled") -> bool:
    """An ini boolean as pytest spells them (true/false, yes/no, on/off, 1/0)."""
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise pytest.UsageError(f"{key}: expected true or false, got {value!r}")


@dataclasses.dataclass(frozen=True)
class SelfSloSettings:
    """The resolved ``--self-slo*`` settings of one run (command line > ini > default)."""

    enabled: bool
    rootpath: Path
    rules: tuple[str, ...]
    rule_tests: tuple[str, ...]
    slo: Path | None
    heartbeats: Path | None
    prometheus: str
    semantics: str | None
    coverage_fail_under: float | None
    report: Path | None
    canary_policies: tuple[str, ...] = DEFAULT_CANARY_GLOBS
    #: whether the canary globs were configured (a default that matches nothing is no warning)
    canary_policies_explicit: bool = False
    canary_max_examples: int = DEFAULT_CANARY_MAX_EXAMPLES
    canary_scenarios: tuple[str, ...] = (DEFAULT_SCENARIO_GLOB,)
    #: SELF families: drift against the SLO spec, the built-in canary policy's properties,
    #: the linter's SELF domain checks; ``auto`` runs them when the project opts in
    drift: str = "auto"
    canary_default: str = "auto"
    lint_domain: str | None = None
    #: whether the rule/rule-test globs were configured (defaults that match nothing are
    #: a hint, with what was found nearby)
    rules_explicit: bool = False
    #: online checks of the ``lint`` items: None (off), ``fixture`` or a URL
    lint_prometheus: str | None = None
    lint_lookback: str = "1d"
    lint_max_series: int | None = None
    lint_max_samples: int | None = None
    alertmanager: str = "auto"
    #: mutation-test every rule (one ``mutants[<rule>]`` item per rule)
    mutate: bool = False
    #: fail when a rule's mutation score (and the total) is below this; None: any survivor fails
    mutation_fail_under: float | None = None
    #: the promtool the cross-checks run: ``--self-slo-promtool``, else the one next to a
    #: ``local:PATH`` prometheus, else None (``promtool`` on PATH, when there is one)
    promtool: str | None = None
    #: resource budgets of rule tests and the promql_engine fixture (docs/limits.md)
    limits: Limits = DEFAULT_LIMITS
    #: promtool's ``--enable-feature`` names for the rule tests, the mutants and the
    #: promtool cross-checks (``promql-experimental-functions``...)
    enable_feature: tuple[str, ...] = ()
    #: directories of Sloth SLI plugins ported to Python (``sli.plugin`` of a Sloth spec)
    sli_plugins: tuple[Path, ...] = ()

    def resolve_globs(self, patterns: tuple[str, ...]) -> list[Path]:
        """Files matched by ``patterns`` (relative to the rootdir), sorted, deduplicated."""
        found: set[Path] = set()
        for pattern in patterns:
            base = pattern if os.path.isabs(pattern) else str(self.rootpath / pattern)
            found.update(Path(p).resolve() for p in glob.glob(base, recursive=True)
                         if os.path.isfile(p))
        return sorted(found)

    def matches(self, path: Path, patterns: tuple[str, ...]) -> bool:
        """Whether ``path`` is one of the files ``patterns`` match."""
        return path.resolve() in set(self.resolve_globs(patterns))

    @property
    def effective_semantics(self) -> str:
        """The engine semantics: the option when given, else ``3`` (Prometheus 3.x)."""
        return self.semantics or "3"


def _raw(config: pytest.Config, dest: str, ini: str) -> tuple[Any, str]:
    """The command-line value of ``dest`` if given, else the ini value; plus where it came from."""
    value = config.getoption(dest, default=None)
    # identity checks: ``0.0 in (None, False)`` is True, which would let the ini win over
    # an explicit ``--self-slo-coverage-fail-under 0``
    if value is not None and value is not False:
        return value, "command line"
    return config.getini(ini), f"ini {ini}"


def _path(config: pytest.Config, value: Any, what: str, origin: str) -> Path | None:
    """An existing file named by an option or ini value, relative to the rootdir for ini values."""
    if not value:
        return None
    text = str(value)
    base = Path.cwd() if origin == "command line" else config.rootpath
    path = (base / text).resolve()
    if not path.is_file():  # a FIFO or a device is refused here, never opened
        why = "not a regular file" if path.exists() else "no such file"
        raise pytest.UsageError(f"{what} ({origin}): {why}: {text} (looked at {path})")
    return path


def _dirs(config: pytest.Config, value: Any, what: str, origin: str) -> tuple[Path, ...]:
    """Existing directories named by a repeatable option (a list) or an ini value (one per
    line or whitespace-separated, relative to the rootdir)."""
    if not value:
        return ()
    texts = [str(v) for v in value] if isinstance(value, list) else str(value).split()
    base = Path.cwd() if origin == "command line" else config.rootpath
    out = []
    for text in texts:
        path = (base / text).resolve()
        if not path.is_dir():
            raise pytest.UsageError(f"{what} ({origin}): no such directory: {text} "
                                    f"(looked at {path})")
        out.append(path)
    return tuple(out)


def _reparse(parse: Any, value: Any, origin: str) -> Any:
    """Run ``parse`` on an ini value, naming the ini key in its usage error."""
    if origin == "command line" or value in (None, ""):
        return value
    try:
        return parse(str(value))
    except pytest.UsageError as exc:
        raise pytest.UsageError(f"{origin}: {exc}") from None


def resolve_settings(config: pytest.Config) -> SelfSloSettings:
    """Merge command line, ini and defaults into :class:`SelfSloSettings` (usage errors eager)."""
    enabled_cli = config.getoption("self_slo", default=False)
    enabled = bool(enabled_cli) or parse_bool(str(config.getini("selfslo_enabled")))

    rules, origin = _raw(config, "self_slo_rules", "selfslo_rules")
    rules_explicit = bool(rules)
    rules = _reparse(parse_globs, rules, origin) or DEFAULT_RULES_GLOBS
    tests, origin = _raw(config, "self_slo_rule_tests", "selfslo_rule_tests")
    rules_explicit = rules_explicit or bool(tests)
    tests = _reparse(parse_globs, tests, origin) or DEFAULT_RULE_TESTS_GLOBS
    families = {}
    for dest, ini in (("self_slo_drift", "selfslo_drift"),
                      ("self_slo_canary_default", "selfslo_canary_default"),
                      ("self_slo_lint_domain", "selfslo_lint_domain")):
        value, origin = _raw(config, dest, ini)
        families[dest] = _reparse(_family_type(ini), value, origin) or None
    prom, origin = _raw(config, "self_slo_prometheus", "selfslo_prometheus")
    prom = _reparse(parse_prometheus, prom, origin) or "auto"
    base = Path.cwd() if origin == "command line" else config.rootpath
    if prom.startswith(LOCAL_PREFIX):
        prom = LOCAL_PREFIX + _executable(prom[len(LOCAL_PREFIX):], base, PROMETHEUS_OPTION,
                                          origin)
    promtool, origin = _raw(config, "self_slo_promtool", "selfslo_promtool")
    if promtool:
        base = Path.cwd() if origin == "command line" else config.rootpath
        promtool = _executable(str(promtool).strip(), base, PROMTOOL_OPTION, origin)
    elif prom.startswith(LOCAL_PREFIX):  # the promtool shipped beside that prometheus
        sibling = Path(prom[len(LOCAL_PREFIX):]).with_name("promtool")
        promtool = str(sibling) if os.access(sibling, os.X_OK) else None
    am, origin = _raw(config, "self_slo_alertmanager", "selfslo_alertmanager")
    am = _reparse(parse_alertmanager, am, origin) or "auto"
    sem, origin = _raw(config, "self_slo_semantics", "selfslo_semantics")
    sem = _reparse(parse_semantics, sem, origin) or None
    cov, origin = _raw(config, "self_slo_coverage_fail_under", "selfslo_coverage_fail_under")
    cov = _reparse(parse_percentage, cov, origin)
    slo, origin = _raw(config, "self_slo_slo", "selfslo_slo")
    slo_path = _path(config, slo, SLO_OPTION, origin) if enabled else None
    plugin_dirs, origin = _raw(config, "self_slo_sli_plugins", "selfslo_sli_plugins")
    sli_plugins = _dirs(config, plugin_dirs, SLI_PLUGINS_OPTION, origin) if enabled else ()
    beats, origin = _raw(config, "self_slo_heartbeats", "selfslo_heartbeats")
    beats_path = _path(config, beats, HEARTBEATS_OPTION, origin) if enabled else None
    canary, origin = _raw(config, "self_slo_canary_policies", "selfslo_canary_policies")
    canary = _reparse(parse_globs, canary, origin) or None
    examples = config.getini("selfslo_canary_max_examples")
    max_examples = parse_max_examples(examples) if examples else DEFAULT_CANARY_MAX_EXAMPLES
    lint_prom, origin = _raw(config, "self_slo_lint_prometheus", "selfslo_lint_prometheus")
    lint_prom = _reparse(parse_lint_prometheus, lint_prom, origin) or None
    lint_numbers = {key: _reparse(parse_lint_number, config.getini(f"selfslo_lint_{key}"),
                                  f"ini selfslo_lint_{key}")
                    for key in ("max_series", "max_samples")}
    lint_numbers = {k: (None if v in (None, "") else v) for k, v in lint_numbers.items()}
    lookback = _reparse(parse_lint_lookback, config.getini("selfslo_lint_lookback"),
                        "ini selfslo_lint_lookback") or "1d"
    mutate = bool(config.getoption("self_slo_mutate", default=False)) or parse_bool(
        str(config.getini("selfslo_mutate")), "selfslo_mutate")
    mut, origin = _raw(config, "self_slo_mutation_fail_under", "selfslo_mutation_fail_under")
    mut = _reparse(parse_mutation_percentage, mut, origin)
    report, origin = _raw(config, "self_slo_report", "selfslo_report")
    features, origin = _raw(config, "self_slo_enable_feature", "selfslo_enable_feature")
    if origin == "command line":  # one tuple per repeated option
        features = tuple(name for names in features for name in names)
    else:
        features = parse_feature_names(features or "")
    report_base = Path.cwd() if origin == "command line" else config.rootpath
    budgets = {}
    for name in LIMIT_NAMES:
        value, origin = _raw(config, f"self_slo_{name}", f"selfslo_{name}")
        budgets[name] = _reparse(parse_limit(name), value, origin) or getattr(DEFAULT_LIMITS, name)
    return SelfSloSettings(
        enabled=enabled,
        rootpath=config.rootpath,
        rules=tuple(rules),
        rule_tests=tuple(tests),
        slo=slo_path,
        heartbeats=beats_path,
        prometheus=str(prom),
        promtool=promtool or None,
        semantics=sem,
        coverage_fail_under=None if cov in (None, "") else float(cov),
        report=(report_base / str(report)).resolve() if report else None,
        canary_policies=tuple(canary) if canary else DEFAULT_CANARY_GLOBS,
        canary_policies_explicit=bool(canary),
        canary_max_examples=max_examples,
        canary_scenarios=_reparse(parse_globs, config.getini("selfslo_canary_scenarios"),
                                  "ini selfslo_canary_scenarios") or (DEFAULT_SCENARIO_GLOB,),
        drift=families["self_slo_drift"] or "auto",
        canary_default=families["self_slo_canary_default"] or "auto",
        lint_domain=families["self_slo_lint_domain"],
        rules_explicit=rules_explicit,
        lint_prometheus=lint_prom,
        lint_lookback=lookback,
        lint_max_series=lint_numbers["max_series"],
        lint_max_samples=lint_numbers["max_samples"],
        alertmanager=str(am),
        mutate=mutate,
        mutation_fail_under=None if mut in (None, "") else float(mut),
        limits=Limits(**budgets),
        enable_feature=features,
        sli_plugins=sli_plugins,
    )


def add_options(parser: pytest.Parser) -> None:
    """Register every ``--self-slo*`` option and its ``selfslo_*`` ini twin."""
    group = parser.getgroup("self-slo", "SELF SLO harness (pytest-selfslo)")
    group.addoption(SELF_SLO_OPTION, action="store_true", dest="self_slo", default=False,
                    help="Collect and check the project's SLO assets (rules, rule tests, SLO spec)")
    group.addoption(RULES_OPTION, dest="self_slo_rules", metavar="GLOB", type=parse_globs,
                    help=f"Prometheus rule files to check (default: {DEFAULT_RULES_GLOB})")
    group.addoption(RULE_TESTS_OPTION, dest="self_slo_rule_tests", metavar="GLOB",
                    type=parse_globs,
                    help=f"promtool-format rule unit tests (default: {DEFAULT_RULE_TESTS_GLOB})")
    group.addoption(SLO_OPTION, dest="self_slo_slo", metavar="FILE",
                    help="SLO spec YAML (default: the built-in Phase C spec)")
    group.addoption(SLI_PLUGINS_OPTION, dest="self_slo_sli_plugins", metavar="DIR",
                    action="append",
                    help="Directory of Sloth SLI plugins ported to Python, for a Sloth spec's "
                         "sli.plugin (repeatable; Sloth's -p DIR; docs/slo.md)")
    group.addoption(HEARTBEATS_OPTION, dest="self_slo_heartbeats", metavar="FILE",
                    help="Heartbeat log (JSON Lines) to check against every SLO objective")
    group.addoption(PROMETHEUS_OPTION, dest="self_slo_prometheus", type=parse_prometheus,
                    metavar="auto|embedded|local|local:PATH|docker|URL",
                    help="Where a real Prometheus comes from (default: auto; local:PATH runs "
                         "that prometheus binary)")
    group.addoption(PROMTOOL_OPTION, dest="self_slo_promtool", metavar="PATH",
                    help="The promtool binary of the cross-checks (default: the one beside a "
                         "local:PATH prometheus, else promtool on PATH)")
    group.addoption(ALERTMANAGER_OPTION, dest="self_slo_alertmanager", type=parse_alertmanager,
                    metavar="auto|local|docker|URL",
                    help="Where the alertmanager fixture's server comes from (default: auto)")
    group.addoption(SEMANTICS_OPTION, dest="self_slo_semantics", type=parse_semantics,
                    metavar="VERSION",
                    help="Prometheus version the embedded engine imitates: 2, 3 (= 2.53, 3.5), "
                         "2.42, 2.53, 3.5... (default: 3)")
    group.addoption(COVERAGE_FAIL_UNDER_OPTION, dest="self_slo_coverage_fail_under",
                    type=parse_percentage, metavar="PCT",
                    help="Fail the session when rule coverage is below PCT percent")
    group.addoption(CANARY_POLICIES_OPTION, dest="self_slo_canary_policies", metavar="GLOB",
                    type=parse_globs,
                    help=f"Canary policy files to prove safe, besides the built-in default "
                         f"(default: {DEFAULT_CANARY_GLOB})")
    group.addoption(MUTATE_OPTION, action="store_true", dest="self_slo_mutate", default=False,
                    help="Mutation-test the rules: one mutants[<rule>] item per rule, failing "
                         "when a mutant survives the rule tests")
    group.addoption(MUTATION_FAIL_UNDER_OPTION, dest="self_slo_mutation_fail_under",
                    type=parse_mutation_percentage, metavar="PCT",
                    help="With --self-slo-mutate: fail only when a rule's (or the total) "
                         "mutation score is below PCT percent")
    group.addoption(REPORT_OPTION, dest="self_slo_report", metavar="FILE",
                    help="Write a JSON report of the SLO items and rule coverage to FILE")
    group.addoption(DRIFT_OPTION, dest="self_slo_drift", metavar="auto|on|off",
                    type=_family_type(DRIFT_OPTION),
                    help="Check the rules against the SLO spec (selfslo::drift); auto: when "
                         "the project is a SELF one (default)")
    group.addoption(CANARY_DEFAULT_OPTION, dest="self_slo_canary_default",
                    metavar="auto|on|off", type=_family_type(CANARY_DEFAULT_OPTION),
                    help="Prove the built-in canary policy's properties "
                         "(selfslo::canary-default); auto: when the project is a SELF one")
    group.addoption(LINT_DOMAIN_OPTION, dest="self_slo_lint_domain", metavar="auto|on|off",
                    type=_family_type(LINT_DOMAIN_OPTION),
                    help="The linter's SELF domain checks (SELF metric domains and gauges); "
                         "auto: when the project is a SELF one")
    group.addoption(LINT_PROMETHEUS_OPTION, dest="self_slo_lint_prometheus",
                    type=parse_lint_prometheus, metavar="fixture|URL",
                    help="Also lint rule files against a running server (SL050-SL055): "
                         "'fixture' is the real Prometheus this session starts")
    group.addoption(ENABLE_FEATURE_OPTION, dest="self_slo_enable_feature", action="append",
                    type=parse_feature_names, metavar="NAME[,NAME]",
                    help="promtool's --enable-feature for the rule tests, mutants and promtool "
                         "cross-checks (repeatable): promql-experimental-functions lets rules "
                         "and tests call the experimental functions (sort_by_label, limitk...; "
                         "promtool 3.4+), promql-delayed-name-removal; other names are warned "
                         "about, as the selected release of promtool does")
    for name, what in LIMIT_NAMES.items():
        group.addoption(f"--self-slo-{name.replace('_', '-')}", dest=f"self_slo_{name}",
                        type=parse_limit(name), metavar="N",
                        help=f"Limit on {what} (default: {getattr(DEFAULT_LIMITS, name)})")
        parser.addini(f"selfslo_{name}", f"Limit on {what} "
                      f"(default: {getattr(DEFAULT_LIMITS, name)}; docs/limits.md)")
    parser.addini("selfslo_enabled", "Turn on --self-slo by default (true/false)", default="false")
    parser.addini("selfslo_rules", f"Rule file globs (default: {DEFAULT_RULES_GLOB})")
    parser.addini("selfslo_rule_tests", f"Rule test globs (default: {DEFAULT_RULE_TESTS_GLOB})")
    parser.addini("selfslo_slo", "SLO spec YAML, relative to the rootdir")
    parser.addini("selfslo_sli_plugins", "Directories of Sloth SLI plugins ported to Python, "
                  "relative to the rootdir (whitespace-separated)")
    parser.addini("selfslo_heartbeats", "Heartbeat log to check, relative to the rootdir")
    parser.addini("selfslo_prometheus",
                  "auto|embedded|local|local:PATH|docker|URL (default: auto)")
    parser.addini("selfslo_promtool", "promtool binary of the cross-checks, relative to the "
                                      "rootdir (default: promtool on PATH)")
    parser.addini("selfslo_alertmanager", "auto|local|docker|URL (default: auto)")
    parser.addini("selfslo_semantics", "Prometheus version to imitate: 2, 3, 2.42... (default: 3)")
    parser.addini("selfslo_coverage_fail_under", "Minimum rule coverage in percent")
    parser.addini("selfslo_report", "JSON report file, relative to the rootdir")
    parser.addini("selfslo_mutate", "Turn on --self-slo-mutate by default (true/false)",
                  default="false")
    parser.addini("selfslo_mutation_fail_under", "Minimum mutation score in percent")
    parser.addini("selfslo_enable_feature",
                  "promtool --enable-feature names for rule tests and mutants (comma-separated)")
    parser.addini("selfslo_canary_policies", f"Canary policy globs (default: {DEFAULT_CANARY_GLOB})")
    parser.addini("selfslo_canary_scenarios",
                  f"Canary scenario logs with an expect header (default: {DEFAULT_SCENARIO_GLOB})")
    parser.addini("selfslo_lint_prometheus", "Online rule lint: fixture|URL (default: off)")
    parser.addini("selfslo_lint_lookback", "Online rule lint lookback window (default: 1d)")
    parser.addini("selfslo_lint_max_series", "Online rule lint budget: series per rule")
    parser.addini("selfslo_lint_max_samples", "Online rule lint budget: samples per rule")
    parser.addini("selfslo_canary_max_examples",
                  f"Hypothesis examples per canary property (default: {DEFAULT_CANARY_MAX_EXAMPLES})")
    parser.addini("selfslo_drift", "SLO drift check: auto|on|off (default: auto)")
    parser.addini("selfslo_canary_default",
                  "Properties of the built-in canary policy: auto|on|off (default: auto)")
    # the lint configuration (pytest_selfslo.lint.config; or [tool.selfslo.lint])
    parser.addini("selfslo_lint_domain", "The linter's SELF domain checks: auto|on|off")
    parser.addini("selfslo_lint_disable", "Lint checks to turn off (ids or names)")
    parser.addini("selfslo_lint_severity",
                  "Per-check lint severity, e.g. SL020=error SL033=off")
    parser.addini("selfslo_lint_allowed_severities",
                  "Allowed values of an alert's severity label (SL021)")
    parser.addini("selfslo_lint_required_annotations",
                  "Annotations every alert must have (SL022; default summary runbook_url)")
    parser.addini("selfslo_lint_scrape_interval",
                  "Scrape interval the short-range check assumes (default 1m)")


#: where the resolved settings live on ``config.stash``
SETTINGS_KEY = pytest.StashKey[SelfSloSettings]()


def get_settings(config: pytest.Config) -> SelfSloSettings:
    """The resolved ``--self-slo*`` settings of this run (command line > ini > default)."""
    return config.stash[SETTINGS_KEY]

"""Lint configuration, read from one place for ``selfslo lint`` and ``pytest --self-slo``.

Either a ``[tool.selfslo.lint]`` table in ``pyproject.toml``::

    [tool.selfslo.lint]
    disable = ["SL035"]                          # ids or names
    severity = { SL020 = "error", SL033 = "off" }  # error | warning | off, per check
    allowed_severities = ["critical", "warning", "info", "page"]   # SL021
    required_annotations = ["summary"]           # SL022
    scrape_interval = "30s"                      # SL035
    domain = "auto"                              # SELF domain checks: auto | on | off

or the same keys as pytest ini keys, prefixed ``selfslo_lint_`` (``pytest.ini``,
``tox.ini``, ``setup.cfg`` or ``[tool.pytest.ini_options]``)::

    [pytest]
    selfslo_lint_disable = SL035
    selfslo_lint_severity = SL020=error SL033=off
    selfslo_lint_allowed_severities = critical, warning, info, page

Both at once is an error (one place). :func:`find_lint_config` is what both
front ends call, so they lint with the same settings; the command line's
``--disable``/``--severities``/``--domain`` and the plugin's
``--self-slo-domain-lint`` then override single keys.
"""

from __future__ import annotations

import configparser
import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo._core.errors import ConfigError
from pytest_selfslo._core.safeio import read_regular_text
from pytest_selfslo.lint.context import DEFAULT_SCRAPE_INTERVAL, DEFAULT_SEVERITIES
from pytest_selfslo.lint.findings import Finding, Severity, resolve_codes

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "DEFAULT_REQUIRED_ANNOTATIONS",
    "DOMAIN_MODES",
    "INI_KEYS",
    "LintConfig",
    "find_lint_config",
    "lint_config_from_ini",
    "load_lint_config",
    "parse_lint_table",
]

#: annotations SL022 asks every alert for (house policy, a warning by default)
DEFAULT_REQUIRED_ANNOTATIONS: tuple[str, ...] = ("summary", "runbook_url")
#: SELF domain checks (metric domains, known SELF gauges): auto = when the project is a SELF one
DOMAIN_MODES = ("auto", "on", "off")
_SEVERITY_WORDS = ("error", "warning", "off")
_KEYS = ("disable", "severity", "allowed_severities", "required_annotations",
         "scrape_interval", "domain")
#: table key -> pytest ini key
INI_KEYS: dict[str, str] = {key: f"selfslo_lint_{key}" for key in _KEYS}
#: pytest's ini files, in the order pytest looks for them in one directory
#: largest configuration file read (pyproject.toml, pytest.ini, tox.ini, setup.cfg)
MAX_CONFIG_BYTES = 4 << 20
_INI_FILES = (("pytest.ini", "pytest"), ("pyproject.toml", None), ("tox.ini", "pytest"),
              ("setup.cfg", "tool:pytest"))


@dataclasses.dataclass(frozen=True)
class LintConfig:
    """Settings of one lint run; the defaults are what a repository without config gets.

        >>> cfg = parse_lint_table({"disable": ["SL035"], "severity": {"SL020": "error"}}, "x")
        >>> found = [Finding("r.yml", 3, 5, "SL020", Severity.WARNING, "no for"),
        ...          Finding("r.yml", 4, 9, "SL035", Severity.WARNING, "short range")]
        >>> [(f.code, f.severity.value) for f in cfg.apply(found)]  # overrides, disables
        [('SL020', 'error')]
    """

    disabled: frozenset[str] = frozenset()
    #: check id -> severity that replaces the check's default
    severity: tuple[tuple[str, Severity], ...] = ()
    allowed_severities: frozenset[str] = DEFAULT_SEVERITIES
    required_annotations: tuple[str, ...] = DEFAULT_REQUIRED_ANNOTATIONS
    scrape_interval: float = DEFAULT_SCRAPE_INTERVAL
    domain: str = "auto"
    #: where the settings came from (``pyproject.toml [tool.selfslo.lint]``), for messages
    source: str | None = None

    def apply(self, findings: Iterable[Finding]) -> list[Finding]:
        """``findings`` without the disabled checks, with the per-check severities applied."""
        overrides = dict(self.severity)
        out = []
        for f in findings:
            if f.code in self.disabled:
                continue
            sev = overrides.get(f.code)
            out.append(f if sev is None or sev is f.severity else dataclasses.replace(f, severity=sev))
        return out

    def replace(self, **changes: Any) -> LintConfig:
        """A copy with ``changes`` (command-line overrides)."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """One line for cache keys and reports: every setting that changes findings."""
        return (f"disabled={sorted(self.disabled)}|severity={sorted((c, s.value) for c, s in self.severity)}"
                f"|allowed={sorted(self.allowed_severities)}|required={list(self.required_annotations)}"
                f"|scrape={self.scrape_interval}|domain={self.domain}")


def _names(value: Any, key: str, source: str) -> list[str]:
    """A list of words from a TOML list or an ini string (commas or blanks between)."""
    if isinstance(value, str):
        return [w for w in re.split(r"[,\s]+", value.strip()) if w]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise ConfigError(f"{source}: {key}: expected a list of strings, got {value!r}")


def _severity_map(value: Any, source: str) -> dict[str, str]:
    """``{SL020 = "error"}`` (TOML) or ``SL020=error SL033=off`` (ini)."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str):
        out = {}
        for word in re.split(r"[,\s]+", value.strip()):
            if not word:
                continue
            code, eq, sev = word.partition("=")
            if not eq:
                raise ConfigError(f"{source}: severity: expected CHECK=error|warning|off, "
                                  f"got {word!r}")
            out[code] = sev
        return out
    raise ConfigError(f"{source}: severity: expected a table such as "
                      f'{{SL020 = "error"}}, got {value!r}')


def parse_lint_table(table: Mapping[str, Any], source: str) -> LintConfig:
    """A :class:`LintConfig` from a ``[tool.selfslo.lint]`` table (or the ini keys' values).

    Raises :class:`ConfigError` naming ``source`` and the key for an unknown key,
    an unknown check or a bad value.
    """
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(_KEYS)})")
    disabled: set[str] = set()
    severity: dict[str, Severity] = {}
    try:
        if "disable" in table:
            disabled |= resolve_codes(_names(table["disable"], "disable", source))
        for raw, word in _severity_map(table.get("severity", {}), source).items():
            (code,) = resolve_codes([raw])
            word = word.strip().lower()
            if word not in _SEVERITY_WORDS:
                raise ConfigError(f"{source}: severity of {raw}: expected one of "
                                  f"{', '.join(_SEVERITY_WORDS)}, got {word!r}")
            if word == "off":
                disabled.add(code)
            else:
                severity[code] = Severity(word)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{source}: {exc}") from None
    cfg = LintConfig(disabled=frozenset(disabled), severity=tuple(sorted(severity.items())),
                     source=source)
    if "allowed_severities" in table:
        allowed = _names(table["allowed_severities"], "allowed_severities", source)
        if not allowed:
            raise ConfigError(f"{source}: allowed_severities: expected at least one value")
        cfg = cfg.replace(allowed_severities=frozenset(allowed))
    if "required_annotations" in table:
        cfg = cfg.replace(required_annotations=tuple(
            _names(table["required_annotations"], "required_annotations", source)))
    if "scrape_interval" in table:
        cfg = cfg.replace(scrape_interval=_seconds(table["scrape_interval"], source))
    if "domain" in table:
        cfg = cfg.replace(domain=parse_domain(str(table["domain"]), f"{source}: domain"))
    return cfg


def parse_domain(value: str, what: str = "domain") -> str:
    """``auto``, ``on`` or ``off`` (also true/false, yes/no)."""
    word = value.strip().lower()
    word = {"true": "on", "yes": "on", "1": "on", "false": "off", "no": "off",
            "0": "off"}.get(word, word)
    if word not in DOMAIN_MODES:
        raise ConfigError(f"{what}: expected auto, on or off, got {value!r}")
    return word


def _seconds(value: Any, source: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    try:
        ms = parse_duration(str(value).strip())
    except ValueError:
        ms = 0
    if ms <= 0:
        raise ConfigError(f"{source}: scrape_interval: expected a duration such as '1m', "
                          f"got {value!r}")
    return ms / 1000.0


def lint_config_from_ini(get: Callable[[str], str | None], source: str) -> LintConfig:
    """A :class:`LintConfig` from ``selfslo_lint_*`` ini values (``get(key)``: None/"" unset)."""
    table = {}
    for key, ini in INI_KEYS.items():
        value = get(ini)
        if value not in (None, "") and not (isinstance(value, list) and not value):
            table[key] = value
    return parse_lint_table(table, source)


def _pyproject_tables(path: Path) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(``[tool.selfslo.lint]`` or None, the ``selfslo_lint_*`` keys of the pytest ini table)."""
    try:
        data = tomllib.loads(read_regular_text(path, MAX_CONFIG_BYTES, "the lint configuration"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"{path}: cannot read the lint configuration: {why}") from None
    tool = data.get("tool", {})
    lint = tool.get("selfslo", {}).get("lint") if isinstance(tool.get("selfslo"), dict) else None
    ini = tool.get("pytest", {}).get("ini_options", {}) if isinstance(tool.get("pytest"), dict) \
        else {}
    keys = {k: v for k, v in ini.items() if k.startswith("selfslo_lint_")}
    if lint is not None and not isinstance(lint, dict):
        raise ConfigError(f"{path}: [tool.selfslo.lint] must be a table")
    return lint, keys


def load_lint_config(path: str | Path) -> LintConfig:
    """The lint configuration in ``path`` (``pyproject.toml`` or an ini file).

    The file must exist: a path the user named that is not there is a
    :class:`ConfigError` (a typo in ``--config`` must not lint with the defaults).
    A file without a pytest section or ``[tool.selfslo.lint]`` gives the defaults.
    """
    path = Path(path)
    if path.name == "pyproject.toml" or path.suffix == ".toml":
        table, keys = _pyproject_tables(path)
        if table is not None and keys:
            raise ConfigError(
                f"{path}: lint configured twice, in [tool.selfslo.lint] and as "
                f"{', '.join(sorted(keys))} in [tool.pytest.ini_options]: keep one place")
        if table is not None:
            return parse_lint_table(table, f"{path} [tool.selfslo.lint]")
        return lint_config_from_ini(lambda k: _ini_text(keys.get(k)),
                                    f"{path} [tool.pytest.ini_options]")
    parser = configparser.ConfigParser(interpolation=None)
    try:  # a regular file only: a FIFO or /dev/zero is refused, never read
        parser.read_string(read_regular_text(path, MAX_CONFIG_BYTES, "the lint configuration"),
                           str(path))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read the lint configuration: not UTF-8 text "
                          f"({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the lint configuration: "
                          f"{exc.strerror or exc}") from None
    except configparser.Error as exc:
        raise ConfigError(f"{path}: cannot read the lint configuration: {exc}") from None
    section = next((s for s in ("pytest", "tool:pytest") if parser.has_section(s)), None)
    if section is None:
        return LintConfig(source=str(path))
    return lint_config_from_ini(lambda k: parser.get(section, k, fallback=None),
                                f"{path} [{section}]")


def _ini_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def config_file(start: str | Path) -> Path | None:
    """The file pytest would read its ini from, searching ``start`` and its parents.

    pytest's order per directory: ``pytest.ini``, ``pyproject.toml`` with
    ``[tool.pytest.ini_options]`` (or, here, ``[tool.selfslo.lint]``),
    ``tox.ini`` / ``setup.cfg`` with a pytest section.
    """
    here = Path(start).resolve()
    if here.is_file():
        here = here.parent
    for directory in (here, *here.parents):
        for name, section in _INI_FILES:
            candidate = directory / name
            if not candidate.is_file():
                continue
            if name == "pytest.ini":
                return candidate
            try:
                text = read_regular_text(candidate, MAX_CONFIG_BYTES, "the configuration")
            except (OSError, UnicodeDecodeError):
                continue
            if section is None:
                if "[tool.pytest.ini_options]" in text or "[tool.selfslo" in text:
                    return candidate
            elif f"[{section}]" in text:
                return candidate
    return None


def find_lint_config(start: str | Path) -> LintConfig:
    """The lint configuration of the project ``start`` is in (defaults when there is none)."""
    found = config_file(start)
    return load_lint_config(found) if found is not None else LintConfig()

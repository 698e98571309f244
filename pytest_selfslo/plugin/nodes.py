"""The building blocks of ``--self-slo`` items: the item base class, failures, names, settings.

Shared by every item module (:mod:`.items`, :mod:`.canary_items`) and the
collector (:mod:`.collect`), which imports those; this module imports none of them.
"""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import pytest

from pytest_selfslo._core.errors import SelfSloError
from pytest_selfslo.lint.findings import Finding
from pytest_selfslo.plugin.config import SelfSloSettings, get_settings
from pytest_selfslo.plugin.fixtures import load_configured_spec
from pytest_selfslo.slo.spec import SLOSpec

if TYPE_CHECKING:
    from pytest_selfslo.promql.features import FeatureSet

#: attribute of a TestReport carrying an item's SELF data (survives xdist serialisation)
REPORT_ATTR = "selfslo"


class SelfSloFailure(Exception):
    """A check failed; the message is the whole, readable failure (no traceback shown)."""


class SelfSloLintWarning(pytest.PytestWarning):
    """A rule-linter finding below error severity (shown in the warnings summary)."""


class SelfSloItem(pytest.Item):
    """Base of every --self-slo item: failures print the check's message, not a traceback."""

    kind = "selfslo"

    def __init__(self, *, name: str, parent: pytest.Collector, check: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, parent=parent, **kwargs)
        self._check = check
        #: JSON-ready data this item adds to its report (coverage, details)
        self.selfslo_data: dict[str, Any] = {"kind": self.kind}

    def runtest(self) -> None:
        self._check(self)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, (SelfSloFailure, AssertionError)):
            return str(excinfo.value)
        if isinstance(excinfo.value, SelfSloError):
            return f"{type(excinfo.value).__name__}: {excinfo.value}"
        # an unexpected error: a short traceback through our code only, not pytest's internals
        ours = excinfo.traceback.filter(lambda entry: "pytest_selfslo" in str(entry.path))
        if ours:
            excinfo.traceback = ours
        return str(excinfo.getrepr(style="short", chain=False))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.kind} {self.nodeid}"


def settings_of(node: pytest.Item | pytest.Collector) -> SelfSloSettings:
    """The run's resolved settings, from any node."""
    return get_settings(node.config)


def features_of(node: pytest.Item | pytest.Collector,
                semantics: str | None = None) -> FeatureSet:
    """The run's ``--self-slo-enable-feature`` as the promtool of ``semantics`` (default: the
    run's) reads them: a :class:`~pytest_selfslo.promql.features.FeatureSet`."""
    from pytest_selfslo.promql.features import parse_features

    settings = settings_of(node)
    return parse_features(settings.enable_feature, semantics or settings.effective_semantics)


def promtool_path(settings: SelfSloSettings) -> str | None:
    """The real ``promtool`` the cross-checks run, or None when there is none to run.

    ``--self-slo-promtool`` (or the promtool beside a ``local:PATH`` prometheus)
    always counts, except under ``embedded``; otherwise ``promtool`` on PATH
    under ``auto``/``local``.
    """
    if settings.prometheus == "embedded":
        return None
    if settings.promtool is not None:
        return settings.promtool
    if settings.prometheus in ("auto", "local"):
        return shutil.which("promtool")
    return None


def promtool_available(settings: SelfSloSettings) -> bool:
    """Whether rule files are also checked by a real ``promtool`` (see :func:`promtool_path`)."""
    return promtool_path(settings) is not None


def warn_lint(message: str) -> None:
    """Surface a non-error lint finding in pytest's warnings summary."""
    warnings.warn(SelfSloLintWarning(message), stacklevel=2)


_UNSAFE = re.compile(r"[\[\]:\n\r\t]+")


def item_name(text: str) -> str:
    """A node-id-safe name: no ``::``, brackets or newlines (junit/xdist friendly)."""
    return _UNSAFE.sub(" ", text).strip() or "unnamed"


def configured_spec(config: pytest.Config) -> SLOSpec:
    """The SLO spec this run uses (``--self-slo-slo``, else the built-in one)."""
    return load_configured_spec(config)


class SessionAssets(Protocol):
    """What items ask the session's collection plugin (``plugin.collect.SelfSloCollection``)."""

    #: files collected in this session, by kind ("rules", "rule-test", "policy")
    collected: dict[str, set[Path]]

    def family_on(self, mode: str) -> bool:
        """Whether a SELF family with switch ``mode`` (auto/on/off) runs."""

    def explicit_opt_in(self) -> str | None:
        """Why the project configured SELF assets, or None."""

    def lint_findings(self) -> list[Finding]:
        """The session's one lint of every collected rule and rule-test file."""


def collection_of(node: pytest.Item | pytest.Collector) -> SessionAssets:
    """The session's collection plugin (registered as ``selfslo-collection`` under
    ``--self-slo``)."""
    plugin = node.config.pluginmanager.get_plugin("selfslo-collection")
    if plugin is None:
        raise RuntimeError("--self-slo items need the selfslo-collection plugin")
    return cast(SessionAssets, plugin)

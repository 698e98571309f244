"""Settings shared by every lint check (repo root, scrape interval, severities)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_SCRAPE_INTERVAL", "DEFAULT_SEVERITIES", "LintContext", "find_repo_root"]

#: Prometheus' default global scrape_interval, in seconds.
DEFAULT_SCRAPE_INTERVAL = 60.0
#: Severity label values an alert may carry (canary rollback reacts to warning and critical).
DEFAULT_SEVERITIES: frozenset[str] = frozenset({"critical", "warning", "info"})


#: files that mark a project's root: version control, or an ini file pytest takes its rootdir from
_ROOT_MARKERS = (".git", "pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg")


def find_repo_root(start: Path) -> Path:
    """The nearest ancestor holding ``.git``, ``pyproject.toml`` or a pytest ini file
    (runbook links are repo-relative; pytest's rootdir is found the same way)."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if any((candidate / marker).exists() for marker in _ROOT_MARKERS):
            return candidate
    return start


@dataclass
class LintContext:
    """What checks may consult besides the file itself.

    ``root`` is the repository the runbook links are resolved against (None:
    found from each file's location); ``known_series`` maps a rule file path
    to the label sets of the unit-test input series that load it, one list per
    ``tests[]`` entry (SL036: series of independent test groups never meet).
    """

    root: Path | None = None
    scrape_interval: float = DEFAULT_SCRAPE_INTERVAL
    severities: frozenset[str] = DEFAULT_SEVERITIES
    #: annotations SL022 requires on every alert
    required_annotations: tuple[str, ...] = ("summary", "runbook_url")
    #: whether the SELF domain facts (metric domains, SELF gauges) apply
    self_domain: bool = True
    #: metric name -> type from a Prometheus server's ``/api/v1/metadata`` (SL030)
    metric_types: dict[str, str] = field(default_factory=dict)
    known_series: dict[str, list[list[dict[str, str]]]] = field(default_factory=dict)
    #: names of every test file that supplied series, for messages
    series_sources: dict[str, str] = field(default_factory=dict)
    #: rule file path -> metric -> how its unit tests' values look ("counter"/"gauge") (SL030)
    series_shapes: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    #: rule file path -> metric -> where the file uses it as a gauge (deriv(), delta()...) (SL030)
    gauge_uses: dict[str, dict[str, str]] = field(default_factory=dict)
    #: per-run memo, template text -> whether it parses (rule files repeat templates;
    #: kept here, not in a module cache, so every run starts cold and nothing goes stale)
    template_ok: dict[str, bool] = field(default_factory=dict)
    #: per-run memo, template text -> the label names it reads, in order of use
    template_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: per-run memo, expression text -> its ``checks_promql.Facts`` (SL030-SL035 problems,
    #: has a threshold, has a condition, gauge-function uses); they depend on the text,
    #: ``scrape_interval`` and ``self_domain`` only, all fixed for a run
    expr_problems: dict[str, tuple[list[tuple[str, str, str]], bool, bool,
                                   tuple[tuple[str, str], ...]]] = field(default_factory=dict)

    def root_for(self, path: str) -> Path:
        """Repository root used for ``path``'s runbook links."""
        return self.root if self.root is not None else find_repo_root(Path(path).parent)

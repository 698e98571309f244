"""Settings shared by every lint check (repo root, scrape interval, severities)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_SCRAPE_INTERVAL", "DEFAULT_SEVERITIES", "LintContext", "find_repo_root"]

#: Prometheus' default global scrape_interval, in seconds.
DEFAULT_SCRAPE_INTERVAL = 60.0
#: Severity label values an alert may carry (canary rollback reacts to warning and critical).
DEFAULT_SEVERITIES: frozenset[str] = frozenset({"critical", "warning", "info"})


def find_repo_root(start: Path) -> Path:
    """The nearest ancestor holding ``.git`` or ``pyproject.toml`` (runbook links are repo-relative)."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists() or (candidate / "pyproject.toml").exists():
            return candidate
    return start


@dataclass
class LintContext:
    """What checks may consult besides the file itself.

    ``root`` is the repository the runbook links are resolved against (None:
    found from each file's location); ``known_series`` maps a rule file path
    to the label sets of the unit-test input series that load it (SL036).
    """

    root: Path | None = None
    scrape_interval: float = DEFAULT_SCRAPE_INTERVAL
    severities: frozenset[str] = DEFAULT_SEVERITIES
    known_series: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    #: names of every test file that supplied series, for messages
    series_sources: dict[str, str] = field(default_factory=dict)
    #: per-run memo, template text -> whether it parses (rule files repeat templates;
    #: kept here, not in a module cache, so every run starts cold and nothing goes stale)
    template_ok: dict[str, bool] = field(default_factory=dict)
    #: per-run memo, template text -> the label names it reads, in order of use
    template_labels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: per-run memo, expression text -> (its SL030-SL035 problems as ``checks_promql.Problem``,
    #: has a threshold, has a condition); they depend on the text and ``scrape_interval``
    #: only, both fixed for a run
    expr_problems: dict[str, tuple[list[tuple[str, str, str]], bool, bool]] = field(
        default_factory=dict)

    def root_for(self, path: str) -> Path:
        """Repository root used for ``path``'s runbook links."""
        return self.root if self.root is not None else find_repo_root(Path(path).parent)

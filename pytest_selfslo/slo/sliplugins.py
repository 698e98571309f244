"""Sloth SLI plugins, ported to Python: user code that turns options into an error-ratio query.

Sloth loads Go SLI plugins from the directories given with ``-p DIR``; a spec's
``sli.plugin: {id, options}`` calls the plugin with that ``SLIPluginID``. Ours
are Python files under the directories the user names (``--sli-plugins DIR``,
recursive): every ``*.py`` file that assigns a top-level ``SLI_PLUGIN_ID`` string
and defines ``sli_plugin``, with Sloth's contract (``pkg/prometheus/plugin/v1``)::

    SLI_PLUGIN_ID = "getting_started_availability"

    def sli_plugin(meta: Mapping[str, str], labels: Mapping[str, str],
                   options: Mapping[str, str]) -> str:
        ...  # the error-ratio query, with {{.window}} where the range goes

``meta`` holds ``service``, ``slo`` and ``objective`` (Sloth's ``%f``:
``"99.900000"``), ``labels`` the service's labels, ``options`` the spec's
``options``. An exception the plugin raises is the spec's error. Files without
``SLI_PLUGIN_ID`` are not executed (a plugin directory may hold other code);
a file that assigns it is imported, so only name directories you trust. The
loading is file I/O and runs user code: it happens only when a spec names a
plugin, never inside the PromQL engine.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from pytest_selfslo._core.errors import SLOSpecError

__all__ = ["PLUGIN_FUNCTION", "PLUGIN_ID", "SliPlugin", "SliPlugins"]

#: the module attribute holding the plugin's id
PLUGIN_ID = "SLI_PLUGIN_ID"
#: the module attribute holding the plugin's function
PLUGIN_FUNCTION = "sli_plugin"

SliPluginFunc = Callable[[Mapping[str, str], Mapping[str, str], Mapping[str, str]], str]


@dataclass(frozen=True)
class SliPlugin:
    """One loaded plugin."""

    id: str
    func: SliPluginFunc
    path: Path


@dataclass
class SliPlugins:
    """The SLI plugins under ``dirs``, loaded on first :meth:`get`."""

    dirs: tuple[Path, ...] = ()
    _loaded: dict[str, SliPlugin] | None = field(default=None, repr=False)

    @classmethod
    def of(cls, dirs: Sequence[str | Path] | SliPlugins | None) -> SliPlugins:
        """A registry from directory names (or the registry itself)."""
        if isinstance(dirs, SliPlugins):
            return dirs
        return cls(tuple(Path(d) for d in dirs or ()))

    def get(self, plugin_id: str) -> SliPlugin | None:
        """The plugin with ``plugin_id`` or ``None``; loading errors are :class:`SLOSpecError`."""
        if self._loaded is None:
            self._loaded = _load_all(self.dirs)
        return self._loaded.get(plugin_id)

    def ids(self) -> list[str]:
        """Every loaded plugin id, sorted."""
        if self._loaded is None:
            self._loaded = _load_all(self.dirs)
        return sorted(self._loaded)


def _load_all(dirs: tuple[Path, ...]) -> dict[str, SliPlugin]:
    found: dict[str, SliPlugin] = {}
    for directory in dirs:
        if not directory.is_dir():
            raise SLOSpecError(f"{directory}: SLI plugin directory does not exist or is not a "
                               "directory")
        for path in sorted(p for p in directory.rglob("*.py") if p.is_file()):
            plugin = _load(path)
            if plugin is None:
                continue
            if plugin.id in found:
                raise SLOSpecError(f"{path}:{_id_line(path)}:1: SLI plugin id {plugin.id!r} is "
                                   f"already defined by {found[plugin.id].path}")
            found[plugin.id] = plugin
    return found


def _id_line(path: Path) -> int:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return next((n.lineno for n in tree.body if _assigns_id(n)), 1)


def _assigns_id(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == PLUGIN_ID for t in node.targets)
    return isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
        and node.target.id == PLUGIN_ID


def _load(path: Path) -> SliPlugin | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SLOSpecError(f"{path}: cannot read the SLI plugin: {exc}") from None
    if PLUGIN_ID not in text:
        return None
    try:
        tree = ast.parse(text, str(path))
    except SyntaxError as exc:
        raise SLOSpecError(f"{path}:{exc.lineno or 1}:{exc.offset or 1}: SLI plugin is not valid "
                           f"Python: {exc.msg}") from None
    line = next((n.lineno for n in tree.body if _assigns_id(n)), None)
    if line is None:
        return None  # mentions the name without assigning it at top level: not a plugin
    module = _execute(path, line)
    plugin_id = getattr(module, PLUGIN_ID, None)
    if not isinstance(plugin_id, str) or not plugin_id:
        raise SLOSpecError(f"{path}:{line}:1: {PLUGIN_ID} must be a non-empty string, got "
                           f"{plugin_id!r}")
    func = getattr(module, PLUGIN_FUNCTION, None)
    if not callable(func):
        raise SLOSpecError(f"{path}:{line}:1: SLI plugin {plugin_id!r} defines no "
                           f"{PLUGIN_FUNCTION}(meta, labels, options) function")
    return SliPlugin(plugin_id, func, path)


def _execute(path: Path, line: int) -> ModuleType:
    name = f"_selfslo_sli_plugin_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has a loader
        raise SLOSpecError(f"{path}:{line}:1: cannot import the SLI plugin")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look the module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # user code: any failure is the plugin's error
        sys.modules.pop(name, None)
        raise SLOSpecError(f"{path}:{line}:1: importing the SLI plugin failed: "
                           f"{type(exc).__name__}: {exc}") from None
    return module

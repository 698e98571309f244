"""PEP 562 lazy exports shared by the package ``__init__`` modules.

Each package keeps a table ``name -> module`` and gets its ``__all__``,
``__getattr__`` and ``__dir__`` from :func:`lazy_exports`: importing the package stays cheap (the pytest
plugin is imported on every pytest run), and the heavy module behind a name
is imported the first time the name is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any


def resolve(package: str, namespace: MutableMapping[str, Any], exports: Mapping[str, str],
            name: str) -> Any:
    """The object ``name`` of ``package``, imported from the module the table names and cached.

    A table entry is a full module name or one relative to ``package``
    (``"policy"`` in ``pytest_selfslo.canary`` means ``pytest_selfslo.canary.policy``).
    """
    module = exports.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    if not module.startswith("pytest_selfslo"):
        module = f"{package}.{module}"
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value


def lazy_exports(package: str, namespace: MutableMapping[str, Any], exports: Mapping[str, str],
                 extra: Sequence[str] = ()) -> tuple[
                     list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for a package whose names load lazily.

        >>> _EXPORTS = {"DEFAULT_SLO_SPEC": "pytest_selfslo.slo.spec"}
        >>> __all__, __getattr__, __dir__ = lazy_exports("pytest_selfslo.slo", {}, _EXPORTS)
        >>> __all__, __getattr__("DEFAULT_SLO_SPEC").objectives[0].metric
        (['DEFAULT_SLO_SPEC'], 'self_coherence')

    ``extra`` names are defined in the package itself (``__version__``) and listed too.
    """
    names = [*sorted(exports), *extra]

    def module_getattr(name: str) -> Any:
        return resolve(package, namespace, exports, name)

    def module_dir() -> list[str]:
        return list(names)

    return names, module_getattr, module_dir

"""PEP 562 lazy exports shared by the package ``__init__`` modules.

Each package keeps a table ``name -> module`` and a two-line ``__getattr__``
that calls :func:`resolve`: importing the package stays cheap (the pytest
plugin is imported on every pytest run), and the heavy module behind a name
is imported the first time the name is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, MutableMapping
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

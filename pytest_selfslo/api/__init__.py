"""The operator HTTP API (FastAPI): ``create_app``, ``create_router``, ``ApiConfig``.

    >>> from pytest_selfslo.api import ApiConfig, create_app

Modules: ``app`` (config and app factory), ``routes``, ``auth``, ``errors`` (the one
JSON error shape), ``health``, ``models``, ``server`` (uvicorn in a thread). Names
are imported lazily so importing the package does not import FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_selfslo._lazy import lazy_exports

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo.api.app import (
        create_app as create_app,
        create_router as create_router,
    )
    from pytest_selfslo.api.config import (
        DEFAULT_MAX_BODY_BYTES as DEFAULT_MAX_BODY_BYTES,
        ApiConfig as ApiConfig,
    )

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "DEFAULT_MAX_BODY_BYTES": "pytest_selfslo.api.config",
    "ApiConfig": "pytest_selfslo.api.config",
    "create_app": "pytest_selfslo.api.app",
    "create_router": "pytest_selfslo.api.app",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

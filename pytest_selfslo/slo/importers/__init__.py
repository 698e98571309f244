"""Importers of SLO specs teams already have, one module per source format.

:func:`import_spec` detects the format of a file (our ``selfslo/v1``, Sloth
``prometheus/v1`` or its ``PrometheusServiceLevel`` CRD) and returns the
:class:`~pytest_selfslo.slo.service.ServiceSLOs`; anything that cannot be
mapped is an :class:`~pytest_selfslo._core.errors.SLOSpecError` with
``path:line:col`` and the reason — never dropped silently.
"""

from __future__ import annotations

from pathlib import Path

from pytest_selfslo.slo.importers.sloth import from_sloth, from_sloth_crd, is_sloth, is_sloth_crd
from pytest_selfslo.slo.nodes import Doc
from pytest_selfslo.slo.service import ServiceSLOs, service_from_doc

__all__ = ["import_spec", "import_text"]


def import_spec(path: str | Path) -> ServiceSLOs:
    """Read any supported SLO spec file."""
    return import_text(Path(path).read_text(encoding="utf-8"), str(path))


def import_text(text: str, path: str = "<slo>") -> ServiceSLOs:
    """Parse any supported SLO spec format from text."""
    docs = Doc.parse_all(text, path)
    if len(docs) > 1:
        raise docs[1].root.error("one SLO spec per file is supported (found another YAML document)")
    root = docs[0].root
    if is_sloth(root):
        return from_sloth(root)
    if is_sloth_crd(root):
        return from_sloth_crd(root)
    version = root.get("version") or root.get("apiVersion")
    if version is not None and version.text("version") == "selfslo/v1":
        return service_from_doc(root)
    raise (version or root).error(
        "unknown SLO spec format (expected version: selfslo/v1, version: prometheus/v1 (Sloth) "
        "or kind: PrometheusServiceLevel)")

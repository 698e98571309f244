"""Importers of SLO specs teams already have, one module per source format.

:func:`import_spec` detects the format of a file from its ``version`` or
``apiVersion``/``kind`` — our ``selfslo/v1``, Sloth ``prometheus/v1`` or its
``PrometheusServiceLevel`` CRD, OpenSLO ``openslo/v1`` (``v1alpha``), Pyrra
``pyrra.dev/v1alpha1`` ``ServiceLevelObjective`` — and returns the
:class:`~pytest_selfslo.slo.service.ServiceSLOs`. A file of several YAML
documents (several Sloth services, Pyrra objects or CRDs) becomes one spec
whose SLOs keep their own service and labels. Anything that cannot be mapped
is an :class:`~pytest_selfslo._core.errors.SLOSpecError` with
``path:line:col`` and the reason — never dropped silently. ``sli_plugins``
names the directories of Sloth SLI plugins ported to Python (Sloth's ``-p
DIR``, see :mod:`~pytest_selfslo.slo.sliplugins`); they are loaded only when a
spec uses ``sli.plugin``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pytest_selfslo._core.errors import SLOSpecError
from pytest_selfslo.rulefmt.goyaml import read_document
from pytest_selfslo.slo.importers.openslo import from_openslo, is_openslo
from pytest_selfslo.slo.importers.pyrra import from_pyrra, is_pyrra
from pytest_selfslo.slo.importers.sloth import from_sloth, from_sloth_crd, is_sloth, is_sloth_crd
from pytest_selfslo.slo.nodes import Doc, Node
from pytest_selfslo.slo.service import ServiceSLOs, service_from_doc, service_of
from pytest_selfslo.slo.sliplugins import SliPlugins

#: what ``sli_plugins`` arguments accept: directories or a loaded registry
PluginDirs = SliPlugins | Sequence[str | Path]

__all__ = ["FORMATS", "PluginDirs", "detect_format", "import_spec", "import_text", "is_service_spec"]

#: the formats :func:`detect_format` names
FORMATS = ("selfslo/v1", "sloth prometheus/v1", "sloth.slok.dev/v1", "openslo", "pyrra.dev/v1alpha1")


def import_spec(path: str | Path, sli_plugins: PluginDirs = ()) -> ServiceSLOs:
    """Read any supported SLO spec file."""
    return import_text(read_document(path, "SLO spec"), str(path), sli_plugins)


def is_service_spec(path: str | Path) -> bool:
    """Whether ``path`` holds a service SLO spec this package imports (its first document's
    format is detected); ``False`` for anything else, unreadable files included (the SELF
    spec reader reports those)."""
    try:
        docs = Doc.parse_all(read_document(path, "SLO spec"), str(path))
    except (OSError, UnicodeDecodeError, SLOSpecError):
        return False
    return detect_format(docs[0].root) is not None


def detect_format(root: Node) -> str | None:
    """Which of :data:`FORMATS` a document is, or ``None``."""
    if is_openslo(root):
        return "openslo"
    try:
        root.keys()
    except SLOSpecError:
        return None
    if is_sloth(root):
        return "sloth prometheus/v1"
    if is_sloth_crd(root):
        return "sloth.slok.dev/v1"
    if is_pyrra(root):
        return "pyrra.dev/v1alpha1"
    version = root.get("version")
    if version is not None and version.text("version") == "selfslo/v1":
        return "selfslo/v1"
    return None


def import_text(text: str, path: str = "<slo>", sli_plugins: PluginDirs = ()) -> ServiceSLOs:
    """Parse any supported SLO spec format from text."""
    plugins = SliPlugins.of(sli_plugins)
    docs = Doc.parse_all(text, path)
    formats = [detect_format(d.root) for d in docs]
    for doc, fmt in zip(docs, formats, strict=True):
        if fmt is None:
            at = doc.root
            with contextlib.suppress(SLOSpecError):  # not a mapping: point at the document
                at = doc.root.get("apiVersion") or doc.root.get("version") or doc.root
            raise at.error(
                "unknown SLO spec format (expected version: selfslo/v1, version: prometheus/v1 "
                "(Sloth), kind: PrometheusServiceLevel (Sloth CRD), apiVersion: openslo/v1 or "
                "openslo/v1alpha (OpenSLO), kind: ServiceLevelObjective (Pyrra))")
    if "openslo" in formats:
        if set(formats) != {"openslo"}:
            other = next(d for d, f in zip(docs, formats, strict=True) if f != "openslo")
            raise other.root.error("an OpenSLO file cannot also hold other SLO formats")
        return from_openslo(docs)
    specs = [_one(doc.root, fmt, plugins) for doc, fmt in zip(docs, formats, strict=True) if fmt]
    return specs[0] if len(specs) == 1 else _merge(specs, docs)


def _one(root: Node, fmt: str, plugins: SliPlugins) -> ServiceSLOs:
    if fmt == "sloth prometheus/v1":
        return from_sloth(root, plugins)
    if fmt == "sloth.slok.dev/v1":
        return from_sloth_crd(root, plugins)
    if fmt == "pyrra.dev/v1alpha1":
        return from_pyrra(root)
    return service_from_doc(root)


def _merge(specs: list[ServiceSLOs], docs: list[Doc]) -> ServiceSLOs:
    """Several documents as one spec: each SLO keeps its service and the document's labels."""
    first = specs[0]
    slos = []
    seen: set[tuple[str, str]] = set()
    for spec, doc in zip(specs, docs, strict=True):
        if spec.dialect != first.dialect:
            raise doc.root.error(f"this document's format ({spec.source}) names generated labels "
                                 f"differently from the first one's ({first.source})")
        for slo in spec.slos:
            service = service_of(spec, slo)
            if (service, slo.name) in seen:
                raise doc.root.error(f"duplicate SLO {slo.name!r} of service {service!r}")
            seen.add((service, slo.name))
            slos.append(replace(slo, service="" if service == first.service else service,
                                labels={**spec.labels, **slo.labels}))
    return ServiceSLOs(service=first.service, slos=tuple(slos), source=first.source,
                       dialect=first.dialect)

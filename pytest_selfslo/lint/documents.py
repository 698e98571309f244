"""Load a path as the rule files it holds: itself, or those inside a Kubernetes manifest.

A plain rule file (or unit-test file) is one :class:`~.loader.RuleFile`. A
manifest -- ``PrometheusRule`` objects, rule files in ``ConfigMap`` data,
several YAML documents -- is one ``RuleFile`` per rule file found
(:func:`pytest_selfslo.rulefmt.manifests.rule_documents`), each with the
path and the positions of the manifest, so every check reports
``manifest.yaml:line:col``; what cannot be read becomes an SL001/SL002 finding.
"""

from __future__ import annotations

from pathlib import Path

from pytest_selfslo.lint.findings import CHECKS, Finding
from pytest_selfslo.lint.loader import load_file, read_rule_text
from pytest_selfslo.lint.model import RuleFile
from pytest_selfslo.rulefmt.manifests import is_manifest, rule_documents

__all__ = ["load_files"]


def load_files(path: str | Path, text: str | None = None) -> list[RuleFile]:
    """The rule files at ``path`` (one for a plain file; one per rule file of a manifest)."""
    if text is None:
        read = read_rule_text(path)  # bounded, regular files only
        if isinstance(read, RuleFile):
            return [read]  # says why it cannot be read
        text = read
    if not is_manifest(text):
        return [load_file(path, text)]
    documents, problems = rule_documents(text)
    files = [load_file(path, doc.text) for doc in documents]
    if problems or not files:
        holder = RuleFile(str(path), "invalid", text=text)
        for problem in problems:
            code = "SL001" if problem.kind == "syntax" else "SL002"
            holder.findings.append(Finding(str(path), problem.line, problem.column, code,
                                           CHECKS[code].severity, problem.message))
        files.append(holder)
    return files

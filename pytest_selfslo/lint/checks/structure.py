"""Checks on the shape of rules (names, labels, annotations, templates, runbook links)
and :func:`check_file`, the one pass over a file's rules that runs every rule check.

These need no PromQL knowledge beyond the per-expression facts of
:func:`.checks.promql.expr_facts`; the PromQL checks live in
:mod:`.checks.promql`. A check's helper here is called only for a rule that
has the problem and yields its finding; disable comments are honoured by
:meth:`RuleFile.finding`, which returns None for a disabled code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

from pytest_selfslo._core.errors import TemplateError
from pytest_selfslo._core.safeio import read_regular_text
from pytest_selfslo.lint.checks.promql import (
    dropped_label_findings,
    expr_facts,
    labels_read,
    problem_finding,
    rate_on_gauge_reason,
)
from pytest_selfslo.lint.context import LintContext
from pytest_selfslo.lint.findings import Finding
from pytest_selfslo.lint.model import Field, Rule, RuleFile
from pytest_selfslo.template.parse import parse_template

__all__ = ["check_file", "markdown_anchors", "runbook_candidates"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_EXPLICIT_ANCHOR = re.compile(r"""(?:<a\s+(?:name|id)=["']([^"']+)["']|\{#([\w\-]+)\})""")
#: a URL scheme (http:, https:, mailto:...): such runbook links are not checkable offline
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_NO_FIELD = Field("", 0, 0)


def _emit(found: Finding | None) -> Iterator[Finding]:
    if found is not None:
        yield found


def check_file(rf: RuleFile, ctx: LintContext) -> list[Finding]:
    """Every rule check (SL004, SL010-SL035) over ``rf`` in one pass over its rules.

    One pass instead of one per check: the per-rule work is a few dictionary
    reads, and what depends on the expression only (SL030-SL035) is computed
    once per distinct expression of the run (``ctx.expr_problems``, :func:`.checks.promql.expr_facts`). SL036
    needs the unit tests' series and runs separately
    (:func:`.checks.promql.check_vector_matching`).
    """
    out = _duplicates(rf)
    allowed = ", ".join(sorted(ctx.severities))
    severities = ctx.severities
    required = ctx.required_annotations
    memo, interval = ctx.expr_problems, ctx.scrape_interval
    known, used_memo = ctx.template_ok, ctx.template_labels
    root: list[Path] = []  # the repo root, looked up on the first checkable runbook link
    for rule in rf.rules():
        index = rule.expr_index
        threshold = conditional = False
        if index is not None:
            text = rule.expr.value
            facts = memo.get(text)
            if facts is None:
                facts = memo[text] = expr_facts(text, index, interval, ctx.self_domain)
            problems, threshold, conditional, _uses = facts
            for code, needle, message in problems:
                if code == "SL030":  # a candidate: the metric's kind depends on the run
                    reason = rate_on_gauge_reason(ctx, rf.path, needle)
                    if reason is None:
                        continue
                    message = (f"{message}() over gauge {needle}: {reason}; a gauge is not a "
                               "counter, use deriv(), delta() or avg_over_time()")
                out.extend(problem_finding(rf, rule, code, needle, message))
        if rule.kind != "alert":
            continue
        if index is not None:
            if threshold and (rule.for_ is None or rule.for_ms == 0):
                out.extend(_missing_for(rf, rule))
            if not conditional:
                out.extend(_no_condition(rf, rule))
        labels, annotations = rule.labels, rule.annotations
        sev = labels.get("severity")
        if sev is None or sev.value not in severities:
            out.extend(_severity_findings(rf, rule, sev, allowed))
        link = annotations.get("runbook_url")
        for name in required:
            if not annotations.get(name, _NO_FIELD).value.strip():
                out.extend(_annotation_findings(rf, rule, required))
                break
        if link is not None and "{{" not in link.value and link.value.strip() and \
                not _SCHEME.match(link.value.strip()):
            if not root:
                root.append(ctx.root_for(rf.path))
            out.extend(_runbook_findings(rf, rule, link, root[0]))
        for kind, fields in (("label", labels), ("annotation", annotations)):
            for name, fld in fields.items():
                value = fld.value
                if not (known.get(value) or ("{{" not in value and "}}" not in value)):
                    out.extend(_template_findings(rf, rule, kind, name, fld, known))
                if index is not None and "$labels" in value:  # else labels_read is ()
                    used = used_memo.get(value)
                    if used is None:
                        used = labels_read(value, used_memo)
                    if used:
                        lacks = index.labels(rule.ast).lacks
                        for label in used:
                            if lacks(label):  # else the expression keeps them all: no SL032
                                out.extend(dropped_label_findings(rf, rule, kind, name, fld,
                                                                  used))
                                break
    return out


def _duplicates(rf: RuleFile) -> list[Finding]:
    """SL010/SL011: duplicate group names; same rule name + labels twice.

    promtool: recording rules must be unique per file, alerts per group. Rules
    are first told apart by name; the labels are compared only when a name repeats.
    """
    out: list[Finding] = []
    seen_groups: dict[str, Field] = {}
    seen_rules: dict[tuple[str, str, str], list[Rule]] = {}
    for group in rf.groups:
        first = seen_groups.get(group.name.value)
        if first is not None:
            out.extend(_emit(rf.finding(
                "SL010", group.name.line, group.name.column,
                f'duplicate group name "{group.name.value}" (first defined at line {first.line})')))
        else:
            seen_groups[group.name.value] = group.name
        for rule in group.rules:
            key = (rule.kind, "" if rule.kind == "record" else group.name.value, rule.name.value)
            same_name = seen_rules.get(key)
            if same_name is None:
                seen_rules[key] = [rule]
                continue
            labels = _label_key(rule)
            prev = next((p for p in same_name if _label_key(p) == labels), None)
            if prev is None:
                same_name.append(rule)
                continue
            out.extend(_emit(rf.finding(
                "SL011", rule.name.line, rule.name.column,
                f'{rule.where}: duplicate {rule.kind} "{rule.name.value}" with the same '
                f"labels (first defined at line {prev.name.line})", rule)))
    return out


def _label_key(rule: Rule) -> tuple[tuple[str, str], ...]:
    return tuple(sorted([(k, v.value) for k, v in rule.labels.items()]))


def _missing_for(rf: RuleFile, rule: Rule) -> Iterator[Finding]:
    """SL020: a threshold alert without ``for`` fires on a single bad evaluation."""
    at = rule.for_ or rule.name
    yield from _emit(rf.finding(
        "SL020", at.line, at.column,
        f"{rule.where}: threshold alert without 'for': one bad evaluation fires it; "
        "add e.g. 'for: 5m'", rule))


def _no_condition(rf: RuleFile, rule: Rule) -> Iterator[Finding]:
    """SL024: without a comparison (or absent/and/unless) every returned series is an alert."""
    yield from _emit(rf.finding(
        "SL024", rule.expr.line, rule.expr.column,
        f"{rule.where}: the expression has no condition (comparison, absent(), and, "
        "unless): the alert fires for every series it returns", rule))


def _annotation_findings(rf: RuleFile, rule: Rule,
                         required: tuple[str, ...]) -> Iterator[Finding]:
    """SL022: an alert lacks a non-empty required annotation (``summary``, ``runbook_url``)."""
    for name in required:
        if not rule.annotations.get(name, _NO_FIELD).value.strip():
            yield from _emit(rf.finding("SL022", rule.name.line, rule.name.column,
                                        f"{rule.where}: missing annotation {name!r}", rule))


def _severity_findings(rf: RuleFile, rule: Rule, sev: Field | None,
                       allowed: str) -> Iterator[Finding]:
    """SL021: the severity label is missing or outside the allowed set."""
    if sev is None:
        yield from _emit(rf.finding("SL021", rule.name.line, rule.name.column,
                                    f"{rule.where}: missing label 'severity' "
                                    f"(expected one of {allowed})", rule))
    else:
        yield from _emit(rf.finding("SL021", sev.line, sev.column,
                                    f"{rule.where}: label severity: expected one of "
                                    f"{allowed}, got {sev.value!r}", rule))


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"`|\*|_{2,}|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


#: largest Markdown runbook whose anchors are read (a runbook is a few KiB)
_MAX_RUNBOOK_BYTES = 16 << 20


@functools.lru_cache(maxsize=64)
def markdown_anchors(path: Path, mtime: float) -> frozenset[str]:
    """Anchors a Markdown file defines: heading slugs (with -1, -2 for repeats) and explicit ids."""
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    in_code = False
    try:  # a regular file of bounded size (a runbook link can name anything in the repo)
        text = read_regular_text(path, _MAX_RUNBOOK_BYTES, "the runbook", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        for m in _EXPLICIT_ANCHOR.finditer(line):
            anchors.add(m.group(1) or m.group(2))
        h = _HEADING.match(line)
        if h:
            slug = _slug(_EXPLICIT_ANCHOR.sub("", h.group(2)))
            n = counts.get(slug, 0)
            counts[slug] = n + 1
            anchors.add(slug if n == 0 else f"{slug}-{n}")
    return frozenset(anchors)


def runbook_candidates(rf: RuleFile, ctx: LintContext) -> list[Path]:
    """Every file a runbook_url of ``rf`` may resolve to (the lint cache's dependencies)."""
    root = ctx.root_for(rf.path)
    out = []
    for rule in rf.rules():
        link = rule.annotations.get("runbook_url")
        if link is None or "{{" in link.value or _SCHEME.match(link.value):
            continue
        target = link.value.strip().partition("#")[0]
        if target:
            out += [root / target, Path(rf.path).parent / target]
    return sorted(set(out))


def _runbook_findings(rf: RuleFile, rule: Rule, link: Field, root: Path) -> Iterator[Finding]:
    """SL023: a repo-relative runbook_url must name an existing file and #anchor."""
    url = link.value.strip()
    target, _, anchor = url.partition("#")
    candidates = [root / target, Path(rf.path).parent / target] if target else []
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        yield from _emit(rf.finding(
            "SL023", link.line, link.column,
            f"{rule.where}: runbook_url {url!r}: file {target!r} does not exist "
            f"(looked in {root})", rule))
        return
    if anchor and path.suffix.lower() in (".md", ".markdown"):
        anchors = markdown_anchors(path, path.stat().st_mtime)
        if anchor not in anchors:
            near = ", ".join(sorted(a for a in anchors if anchor.split("-")[0] in a)[:3])
            hint = f"; similar: {near}" if near else ""
            yield from _emit(rf.finding(
                "SL023", link.line, link.column,
                f"{rule.where}: runbook_url {url!r}: no heading or anchor "
                f"#{anchor} in {target}{hint}", rule))


def _template_findings(rf: RuleFile, rule: Rule, kind: str, name: str, fld: Field,
                       known: dict[str, bool]) -> Iterator[Finding]:
    """SL004: a label or annotation template must parse (engineer C's Go-template parser,
    the one the embedded engine renders alerts with, so lint and evaluation agree).

    Whether a template parses depends on its text only (the name is only quoted
    in the error), so ``known`` remembers each text's verdict for the run."""

    text = fld.value
    try:
        parse_template(text, f"__alert_{rule.name.value}")
    except TemplateError as exc:
        known[text] = False
        yield from _emit(rf.finding("SL004", fld.line, fld.column,
                                    f"{rule.where}: {kind} {name!r}: {exc}", rule))
    else:
        known[text] = True

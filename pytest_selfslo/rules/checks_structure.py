"""Checks on the shape of rules: names, labels, annotations, templates, runbook links.

These need no PromQL knowledge (beyond "is this a threshold"); the PromQL
checks live in :mod:`.checks_promql`. Each check is a generator
``check(rf, ctx) -> Iterator[Finding]``; disable comments are honoured by
:meth:`RuleFile.finding`, which returns None for a disabled code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path

from .context import LintContext
from .findings import Finding
from .loader import Field, Rule, RuleFile
from .promql_walk import COMPARISONS

__all__ = ["STRUCTURE_CHECKS", "markdown_anchors", "runbook_candidates"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_EXPLICIT_ANCHOR = re.compile(r"""(?:<a\s+(?:name|id)=["']([^"']+)["']|\{#([\w\-]+)\})""")
#: a URL scheme (http:, https:, mailto:...): such runbook links are not checkable offline
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_NO_FIELD = Field("", 0, 0)


def _emit(found: Finding | None) -> Iterator[Finding]:
    if found is not None:
        yield found


def check_duplicates(rf: RuleFile, ctx: LintContext) -> Iterator[Finding]:
    """SL010/SL011: duplicate group names; same rule name + labels twice."""
    seen_groups: dict[str, Field] = {}
    seen_rules: dict[tuple[str, str, tuple[tuple[str, str], ...]], Rule] = {}
    for group in rf.groups:
        first = seen_groups.get(group.name.value)
        if first is not None:
            yield from _emit(rf.finding(
                "SL010", group.name.line, group.name.column,
                f'duplicate group name "{group.name.value}" (first defined at line {first.line})'))
        else:
            seen_groups[group.name.value] = group.name
        for rule in group.rules:
            labels = tuple(sorted([(k, v.value) for k, v in rule.labels.items()]))
            # promtool: recording rules must be unique per file; alerts per group
            scope = "" if rule.kind == "record" else group.name.value
            key = (rule.kind + ":" + scope, rule.name.value, labels)
            prev = seen_rules.get(key)
            if prev is not None:
                yield from _emit(rf.finding(
                    "SL011", rule.name.line, rule.name.column,
                    f'{rule.where}: duplicate {rule.kind} "{rule.name.value}" with the same '
                    f"labels (first defined at line {prev.name.line})", rule))
            else:
                seen_rules[key] = rule


def check_missing_for(rf: RuleFile, ctx: LintContext) -> Iterator[Finding]:
    """SL020: an alert comparing against a threshold fires on a single bad evaluation."""
    for rule in rf.rules():
        if rule.kind != "alert" or rule.ast is None or not rule.expr_index.has_threshold():
            continue
        if rule.for_ is None or rule.for_ms == 0:
            at = rule.for_ or rule.name
            yield from _emit(rf.finding(
                "SL020", at.line, at.column,
                f"{rule.where}: threshold alert without 'for': one bad evaluation fires it; "
                "add e.g. 'for: 5m'", rule))


_CONDITION_FUNCS = frozenset({"absent", "absent_over_time"})
_CONDITION_OPS = COMPARISONS | {"and", "unless"}


def check_no_condition(rf: RuleFile, ctx: LintContext) -> Iterator[Finding]:
    """SL024: without a comparison (or absent/and/unless) every returned series is an alert."""
    for rule in rf.rules():
        if rule.kind != "alert" or rule.ast is None:
            continue
        index = rule.expr_index
        conditional = (any(op in _CONDITION_OPS for _n, op in index.binaries)
                       or any(name in _CONDITION_FUNCS for _n, name in index.calls))
        if not conditional:
            yield from _emit(rf.finding(
                "SL024", rule.expr.line, rule.expr.column,
                f"{rule.where}: the expression has no condition (comparison, absent(), and, "
                "unless): the alert fires for every series it returns", rule))


def check_required_labels(rf: RuleFile, ctx: LintContext) -> Iterator[Finding]:
    """SL021/SL022: severity label in the allowed set; summary and runbook_url annotations."""
    allowed = ", ".join(sorted(ctx.severities))
    for rule in rf.rules():
        if rule.kind != "alert":
            continue
        sev = rule.labels.get("severity")
        if sev is None:
            yield from _emit(rf.finding("SL021", rule.name.line, rule.name.column,
                                        f"{rule.where}: missing label 'severity' "
                                        f"(expected one of {allowed})", rule))
        elif sev.value not in ctx.severities:
            yield from _emit(rf.finding("SL021", sev.line, sev.column,
                                        f"{rule.where}: label severity: expected one of "
                                        f"{allowed}, got {sev.value!r}", rule))
        for name in ("summary", "runbook_url"):
            if not rule.annotations.get(name, _NO_FIELD).value.strip():
                yield from _emit(rf.finding("SL022", rule.name.line, rule.name.column,
                                            f"{rule.where}: missing annotation {name!r}", rule))


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"`|\*|_{2,}|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@functools.lru_cache(maxsize=64)
def markdown_anchors(path: Path, mtime: float) -> frozenset[str]:
    """Anchors a Markdown file defines: heading slugs (with -1, -2 for repeats) and explicit ids."""
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    in_code = False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
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


def check_runbook_links(rf: RuleFile, ctx: LintContext) -> Iterator[Finding]:
    """SL023: a repo-relative runbook_url must name an existing file and #anchor."""
    root = ctx.root_for(rf.path)
    for rule in rf.rules():
        link = rule.annotations.get("runbook_url")
        if link is None or not link.value.strip() or "{{" in link.value:
            continue
        url = link.value.strip()
        if _SCHEME.match(url):
            continue  # http(s)://, mailto: ...: not checkable offline
        target, _, anchor = url.partition("#")
        candidates = [root / target, Path(rf.path).parent / target] if target else []
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            yield from _emit(rf.finding(
                "SL023", link.line, link.column,
                f"{rule.where}: runbook_url {url!r}: file {target!r} does not exist "
                f"(looked in {root})", rule))
            continue
        if anchor and path.suffix.lower() in (".md", ".markdown"):
            anchors = markdown_anchors(path, path.stat().st_mtime)
            if anchor not in anchors:
                near = ", ".join(sorted(a for a in anchors if anchor.split("-")[0] in a)[:3])
                hint = f"; similar: {near}" if near else ""
                yield from _emit(rf.finding(
                    "SL023", link.line, link.column,
                    f"{rule.where}: runbook_url {url!r}: no heading or anchor "
                    f"#{anchor} in {target}{hint}", rule))


def check_templates(rf: RuleFile, ctx: LintContext) -> Iterator[Finding]:
    """SL004: label and annotation templates must parse (engineer C's Go-template parser,
    the one the embedded engine renders alerts with, so lint and evaluation agree)."""
    from ..errors import TemplateError
    from ..promql.templates import parse_template

    known = ctx.template_ok
    for rule in rf.rules():
        if rule.kind != "alert":
            continue
        for kind, fields in (("label", rule.labels), ("annotation", rule.annotations)):
            for name, fld in fields.items():
                text = fld.value
                if known.get(text) or ("{{" not in text and "}}" not in text):
                    continue
                # whether a template parses depends on its text only (the name is only
                # quoted in the error), so a text that parsed once is not parsed again
                try:
                    parse_template(text, f"__alert_{rule.name.value}")
                except TemplateError as exc:
                    known[text] = False
                    yield from _emit(rf.finding("SL004", fld.line, fld.column,
                                                f"{rule.where}: {kind} {name!r}: {exc}", rule))
                else:
                    known[text] = True


STRUCTURE_CHECKS = (check_duplicates, check_missing_for, check_no_condition,
                    check_required_labels,
                    check_runbook_links, check_templates)

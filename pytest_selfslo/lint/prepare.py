"""Preparing a lint run: which files, and every expression parsed once.

Used by the checks' runner (:mod:`.runner`) and the drift check (:mod:`.drift`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_selfslo._core.errors import ConfigError, LimitError, located
from pytest_selfslo.lint.checks.promql import expr_facts
from pytest_selfslo.lint.context import LintContext
from pytest_selfslo.lint.model import RuleFile
from pytest_selfslo.lint.promql_walk import index_expr, parse_promql

__all__ = ["expand_paths", "parse_exprs"]

_SUFFIXES = (".yml", ".yaml")


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files to lint: plain files as given, directories searched recursively for *.yml/*.yaml."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
        elif path.is_file():
            out.append(path)
        elif path.exists():  # a FIFO would block the read, a device never end
            raise ConfigError(f"{path}: not a regular file (expected a rule file or a directory)")
        else:
            raise ConfigError(f"{path}: no such file or directory")
    return out


def parse_exprs(rf: RuleFile, cache: dict[str, Any] | None = None,
                ctx: LintContext | None = None) -> None:
    """SL003 for expressions that do not parse; put the AST and its index on the rule.

    ``cache`` maps expression text to its (AST, ExprIndex) or parse error; pass
    one dict for every file of a run so equal expressions are parsed once.

    With ``ctx``, the ASTs are not kept: each expression's facts
    (``ctx.expr_problems``, :func:`.checks.promql.expr_facts`) and output labels
    are computed at once, then ``rule.ast`` stays None and the index is
    released, so a run never holds every AST at the same time (a cold lint
    pays for each page of memory it touches first). :func:`.checks.structure.check_file`
    needs no more than that; SL036 and the drift check need the ASTs.
    """
    if cache is None:
        cache = {}
    for rule in rf.rules():
        text = rule.expr.value
        parsed = cache.get(text)
        if parsed is None or (ctx is None and type(parsed) is tuple and parsed[0] is None):
            try:
                ast = parse_promql(text)
            except ValueError as exc:
                parsed = exc
            except LimitError as exc:
                raise LimitError(located(str(exc), rf.path, rule.expr.line, rule.expr.column)
                                 ) from None
            else:
                index = index_expr(ast)
                if ctx is None:
                    parsed = (ast, index)
                else:
                    if text not in ctx.expr_problems:
                        ctx.expr_problems[text] = expr_facts(text, index, ctx.scrape_interval,
                                                             ctx.self_domain)
                    index.release(ast)
                    parsed = (None, index)
            cache[text] = parsed
        if isinstance(parsed, ValueError):
            found = rf.finding("SL003", rule.expr.line, rule.expr.column,
                               f"{rule.where}: could not parse expression {text.strip()!r}: "
                               f"{parsed}", rule)
            if found is not None:
                rf.findings.append(found)
        else:
            rule.ast, rule.expr_index = parsed
            rule.nodes = rule.expr_index.nodes

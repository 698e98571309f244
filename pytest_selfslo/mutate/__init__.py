"""Mutation testing of alert rules: would the rule tests notice a broken rule?

    >>> from pytest_selfslo.mutate import MutationSuite
    >>> suite = MutationSuite.load(["rules/*.yml"], ["rules/tests/*.yml"], only=["MU05"])
    >>> report = suite.run()
    >>> report.counts["killed"] == sum(report.counts.values()), f"{report.score:.0f}%"
    (True, '100%')

Operators (:mod:`.operators`) change one thing in a rule on the PromQL AST (a
threshold, a comparison, ``for``, a window, a matcher, an aggregation...) through
a printable mirror of the promql-parser tree (:mod:`.tree`); :mod:`.engine` checks
every mutant is a valid rule and numbers it; :mod:`.runner` runs each against the
promtool-format unit tests that load its rule file (:mod:`.sources`), on the
embedded engine (:mod:`.deps` decides which test groups and rules), and classifies
it killed, survived or equivalent-suspect; survivors come with a verified boundary
test to paste (:mod:`.suggest`, :mod:`.boundary`); :mod:`.sites` reads rules with
their positions and
``selfslo-mutate`` equivalence markers; :mod:`.report` renders results. Used by
``selfslo mutate`` (:mod:`pytest_selfslo.cli.mutate`) and ``pytest --self-slo
--self-slo-mutate``; see ``docs/mutation.md``. Names are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_selfslo._lazy import lazy_exports

if TYPE_CHECKING:  # real types for mypy; at run time names are resolved lazily
    from pytest_selfslo.mutate.engine import (
        Mutant as Mutant,
        generate_mutants as generate_mutants,
    )
    from pytest_selfslo.mutate.operators import (
        OPERATORS as OPERATORS,
        Operator as Operator,
        resolve_operators as resolve_operators,
    )
    from pytest_selfslo.mutate.report import (
        MutantResult as MutantResult,
        MutationReport as MutationReport,
        RuleResult as RuleResult,
    )
    from pytest_selfslo.mutate.runner import (
        MutationSetupError as MutationSetupError,
        MutationSuite as MutationSuite,
    )

_EXPORTS: dict[str, str] = {
    "OPERATORS": "pytest_selfslo.mutate.operators",
    "Operator": "pytest_selfslo.mutate.operators",
    "resolve_operators": "pytest_selfslo.mutate.operators",
    "Mutant": "pytest_selfslo.mutate.engine",
    "generate_mutants": "pytest_selfslo.mutate.engine",
    "MutantResult": "pytest_selfslo.mutate.report",
    "MutationReport": "pytest_selfslo.mutate.report",
    "RuleResult": "pytest_selfslo.mutate.report",
    "MutationSetupError": "pytest_selfslo.mutate.runner",
    "MutationSuite": "pytest_selfslo.mutate.runner",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

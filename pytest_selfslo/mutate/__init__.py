"""Mutation testing of alert rules: would the rule tests notice a broken rule?

Operators (:mod:`.operators`) change one thing in a rule on the PromQL AST
(a threshold, a comparison, ``for``, a window, a matcher, an aggregation...);
:mod:`.engine` checks every mutant is a valid rule; :mod:`.runner` runs each
against the promtool-format unit tests that load its rule file, on the embedded
engine, and classifies it killed, survived or equivalent-suspect; survivors
come with a verified boundary test to paste (:mod:`.boundary`). Used by
``selfslo mutate`` and ``pytest --self-slo --self-slo-mutate``; see
``docs/mutation.md``.
"""

from pytest_selfslo.mutate.engine import Mutant, generate_mutants
from pytest_selfslo.mutate.operators import OPERATORS, Operator, resolve_operators
from pytest_selfslo.mutate.report import MutantResult, MutationReport, RuleResult
from pytest_selfslo.mutate.runner import MutationSetupError, MutationSuite

__all__ = ["OPERATORS", "Mutant", "MutantResult", "MutationReport", "MutationSetupError",
           "MutationSuite", "Operator", "RuleResult", "generate_mutants", "resolve_operators"]

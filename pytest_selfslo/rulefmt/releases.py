"""Which Prometheus release's file formats apply: the fields and defaults each one knows.

A *semantics* string names the Prometheus the embedded engine and the file
readers follow, parsed by :class:`pytest_selfslo.promql.semantics.Semantics`
(one meaning for numerics and formats): ``"2"`` is 2.53, ``"3"`` is 3.5, or a
release such as ``"2.42"``, ``"3.9"`` or ``"v3.5.3"`` (what a real
``promtool --version`` says, so a cross-check reads files exactly as that
promtool does). :func:`release_of` gives the readers the ``(major, minor)``
they compare with the releases below. Each entry comes from Prometheus' history
(``cmd/promtool/unittest.go``, ``model/rulefmt/rulefmt.go``) and is checked
against promtool 2.42, 2.53 and 3.5 by ``tests/rulefmt/test_yaml_dialect.py``.
"""

from __future__ import annotations

from pytest_selfslo.promql.semantics import Semantics

__all__ = ["Release", "release_of", "release_text",
           "rule_fields", "rule_group_fields", "sample_fields", "test_file_fields",
           "test_group_fields"]

Release = tuple[int, int]

#: test files: ``fuzzy_compare`` came in 3.5 (#16395)
FUZZY_COMPARE: Release = (3, 5)
#: test groups: ``start_timestamp`` came in 3.9
START_TIMESTAMP: Release = (3, 9)
#: test groups without ``interval`` use ``evaluation_interval`` from 2.49 (#13011); before,
#: the interval is 0 and every input sample lands at 0s (the first one per series stays)
GROUP_INTERVAL_DEFAULT: Release = (2, 49)
#: ``exp_samples`` items: ``histogram`` came in 2.47 (#12668)
SAMPLE_HISTOGRAM: Release = (2, 47)
#: rule groups: ``query_offset`` came in 2.53 (#14061), ``labels`` in 3.0
QUERY_OFFSET: Release = (2, 53)
GROUP_LABELS: Release = (3, 0)
#: rule and group labels: any non-empty UTF-8 name from 3.0 (``model.NameValidationScheme``
#: is ``UTF8Validation``); before, ``[a-zA-Z_][a-zA-Z0-9_]*``
UTF8_LABEL_NAMES: Release = (3, 0)
#: rules: ``keep_firing_for`` came in 2.42
KEEP_FIRING_FOR: Release = (2, 42)
#: rules: aliases in ``record``/``alert``/``expr`` resolve from 3.3 (#14957); before, the
#: field is the raw YAML node: an alias gives the anchor name, ``~``/``null`` their text
RULE_NAME_ALIASES: Release = (3, 3)
#: ``promtool test rules`` output: each file's ``Unit Testing:  FILE`` heading went in 2.55
#: (#14506, with ``--junit``); before, it opens every file's block
NO_UNIT_TESTING_HEADING: Release = (2, 55)


def release_of(semantics: str) -> Release:
    """``(major, minor)`` of a semantics string (``"2"`` -> 2.53, ``"3"`` -> 3.5).

    >>> release_of("3.5.3+ds1"), release_of("2"), release_of("2.42")
    ((3, 5), (2, 53), (2, 42))
    """
    parsed = Semantics.parse(semantics)
    return parsed.major, parsed.minor


def release_text(release: Release) -> str:
    """``3.5`` for ``(3, 5)``."""
    return f"{release[0]}.{release[1]}"


def test_file_fields(release: Release) -> tuple[str, ...]:
    """Top-level keys of a promtool test file."""
    base = ("rule_files", "evaluation_interval", "group_eval_order", "tests")
    return (*base, "fuzzy_compare") if release >= FUZZY_COMPARE else base


def test_group_fields(release: Release) -> tuple[str, ...]:
    """Keys of one ``tests[]`` group."""
    base = ("interval", "input_series", "alert_rule_test", "promql_expr_test",
            "external_labels", "external_url", "name")
    return (*base, "start_timestamp") if release >= START_TIMESTAMP else base


def sample_fields(release: Release) -> tuple[str, ...]:
    """Keys of one ``exp_samples`` item."""
    return ("labels", "value", "histogram") if release >= SAMPLE_HISTOGRAM else ("labels", "value")


def rule_group_fields(release: Release) -> tuple[str, ...]:
    """Keys of one rule group."""
    fields = ["name", "interval"]
    if release >= QUERY_OFFSET:
        fields.append("query_offset")
    fields += ["limit", "rules"]
    if release >= GROUP_LABELS:
        fields.append("labels")
    return tuple(fields)


def rule_fields(release: Release) -> tuple[str, ...]:
    """Keys of one rule."""
    base = ("record", "alert", "expr", "for")
    rest = ("labels", "annotations")
    return (*base, "keep_firing_for", *rest) if release >= KEEP_FIRING_FOR else (*base, *rest)

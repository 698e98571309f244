"""A project whose one rule needs ``promql-experimental-functions`` (``sort_by_label``).

``rules/sorted.yml`` and its test ``rules/tests/sorted_test.yml``, shared by the
``--enable-feature`` tests of ``selfslo mutate`` (``tests/mutate/test_mutate_cli.py``)
and of the plugin (``tests/plugin/test_plugin_enable_feature.py``). Imported as
``from sorted_project import ...`` (``tests/`` is on ``sys.path``: ``tests/conftest.py``).
"""

from __future__ import annotations

from pathlib import Path

RULES = """\
groups:
  - name: g
    rules:
      - record: job:up:sorted
        expr: sort_by_label(up > 0, "instance")
"""

TESTS = """\
rule_files:
  - ../sorted.yml
evaluation_interval: 1m
tests:
  - name: sorted
    interval: 1m
    input_series:
      - series: 'up{job="a", instance="x"}'
        values: '1 1 1'
      - series: 'up{job="a", instance="y"}'
        values: '0 0 0'
    promql_expr_test:
      - expr: job:up:sorted
        eval_time: 1m
        exp_samples:
          - labels: 'job:up:sorted{job="a", instance="x"}'
            value: 1
"""

#: what promtool 3.4+ says of the rule without the feature, after ``rules/``
#: (``sorted.yml:5:15`` is ``expr``)
NOT_ENABLED = ("sorted.yml:5:15: group 'g', rule 1 ('job:up:sorted'): could not parse expression "
               "'sort_by_label(up > 0, \"instance\")': 1:1: parse error: "
               "function \"sort_by_label\" is not enabled")


def write_sorted_project(root: Path) -> None:
    """``rules/sorted.yml`` and ``rules/tests/sorted_test.yml`` below ``root``."""
    (root / "rules" / "tests").mkdir(parents=True, exist_ok=True)
    (root / "rules" / "sorted.yml").write_text(RULES, encoding="utf-8")
    (root / "rules" / "tests" / "sorted_test.yml").write_text(TESTS, encoding="utf-8")

"""The rule-file and promtool test-file formats: positioned YAML, models and validation.

Like Prometheus' ``model/rulefmt``: one place reads and validates the files and
returns neutral problems with ``file:line:col``; the engine, the test runner and
the linter consume the models.
"""

"""``pytest --self-slo --self-slo-lint-prometheus URL|fixture``: the lint items go online.

The real-server case (``fixture``) is in ``tests/e2e/test_e2e_online_lint.py``;
here a fake API of ours (``tests/fakeprom.py``) and a server that is down.
"""

from __future__ import annotations

import socket

import pytest
from fakeprom import FakePrometheus

RULES = """\
groups:
  - name: app
    rules:
      - alert: Typo
        expr: app_request_total > 100
        for: 5m
        labels: {severity: warning}
        annotations: {summary: requests, runbook_url: "https://runbooks.example/requests"}
"""
INI = "[pytest]\nselfslo_prometheus = embedded\nselfslo_canary_max_examples = 2\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    (pytester.path / "rules").mkdir()
    (pytester.path / "rules" / "app.yml").write_text(RULES)
    pytester.makeini(INI)
    return pytester


def test_online_findings_fail_the_lint_item(project: pytest.Pytester) -> None:
    with FakePrometheus() as fake:
        result = project.runpytest("--self-slo", "rules", "-p", "no:cacheprovider",
                                   "-k", "lint", "--self-slo-lint-prometheus", fake.url)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*rules/app.yml:5:15 SL050 *app_request_total has no series*"
                                 "did you mean app_requests_total?*"])


def test_a_server_that_is_down_is_a_warning_not_a_failure(project: pytest.Pytester) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    project.makeini(INI + f"selfslo_lint_prometheus = http://127.0.0.1:{port}\n")
    result = project.runpytest("--self-slo", "rules", "-p", "no:cacheprovider", "-k", "lint")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*app.yml: online lint against http://127.0.0.1:*: "
                                 "SL050 series-missing skipped: cannot reach*"])
    assert "Traceback" not in result.stdout.str()


def test_fixture_without_a_real_server_is_a_warning(project: pytest.Pytester) -> None:
    result = project.runpytest("--self-slo", "rules", "-p", "no:cacheprovider", "-k", "lint",
                               "--self-slo-lint-prometheus", "fixture")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*app.yml: online lint skipped: no real Prometheus "
                                 "(--self-slo-prometheus=embedded)*"])


@pytest.mark.parametrize(("args", "ini", "message"), [
    (["--self-slo-lint-prometheus", "localhost:9090"], "",
     "*--self-slo-lint-prometheus: expected 'fixture'*or an http(s):// URL, got 'localhost:9090'"),
    ([], "selfslo_lint_max_series = many\n",
     "*ini selfslo_lint_max_series: expected a whole number >= 0, got 'many'"),
    ([], "selfslo_lint_lookback = yesterday\n",
     "*ini selfslo_lint_lookback: expected a duration such as '1d', got 'yesterday'"),
])
def test_bad_values_are_usage_errors(project: pytest.Pytester, args: list[str], ini: str,
                                     message: str) -> None:
    project.makeini(INI + ini)
    result = project.runpytest("--self-slo", "rules", "-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])

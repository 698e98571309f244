"""Online lint against a server that is down, lacks an endpoint or answers garbage.

A fake Prometheus API of ours (``fakeprom``) answers from a fixed series list
and misbehaves on purpose. Whatever it does: one "skipped: why" line per
affected check, no finding the server did not justify (so the exit status is
the offline one), no traceback, and a bounded number of requests.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fakeprom import FakePrometheus

from pytest_selfslo.cli import main
from pytest_selfslo.lint.online import OnlineSettings, lint_online
from pytest_selfslo.lint.runner import lint_paths

RULES = """\
groups:
  - name: app
    rules:
      - alert: ErrorsHigh
        expr: sum by (code) (rate(app_requests_total{code="500"}[2m])) > 1
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: "errors with code {{ $labels.code }}"
          runbook_url: https://runbooks.example/errors
      - alert: QueueDeep
        expr: app_queue_depth > 10
        for: 5m
        labels: {severity: warning}
        annotations:
          summary: "queue {{ $labels.queue }} is deep"
          runbook_url: https://runbooks.example/queue
      - alert: Typo
        expr: app_request_total > 100
        for: 5m
        labels: {severity: warning}
        annotations: {summary: requests, runbook_url: "https://runbooks.example/requests"}
      - alert: RecordedElsewhere
        expr: app:requests:rate5m > 100
        for: 5m
        labels: {severity: warning}
        annotations: {summary: requests, runbook_url: "https://runbooks.example/requests"}
"""
#: the online checks these rules give work to (SL055 needs a budget)
AFFECTED = ["SL050", "SL051", "SL052", "SL053", "SL054"]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    path = tmp_path / "rules.yml"
    path.write_text(RULES)
    assert lint_paths([path]) == []  # offline: clean
    return path


def run(rules: Path, url: str, capsys: pytest.CaptureFixture[str], *extra: str
        ) -> tuple[int, list[str], list[str]]:
    code = main(["lint", str(rules), "--prometheus", url, "--prometheus-timeout", "2s",
                 *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    skipped = [line for line in err.splitlines() if " skipped" in line]
    return code, out.splitlines(), skipped


def codes(lines: list[str]) -> list[str]:
    return sorted(line.split(" ")[1] for line in lines)


def skipped_codes(lines: list[str]) -> list[str]:
    return sorted(line.split(": ")[1].split(" ")[0] for line in lines)


def test_a_healthy_server_gives_the_online_findings(rules: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with FakePrometheus() as fake:
        code, out, skipped = run(rules, fake.url, capsys)
    assert (code, codes(out), skipped) == (1, ["SL050", "SL054"], [])
    assert "did you mean app_requests_total?" in out[0]
    assert out[0].startswith(f"{rules}:19:15 SL050 ")


def test_a_server_that_is_down_skips_every_check(rules: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out, skipped = run(rules, f"http://127.0.0.1:{port}", capsys)
    assert (code, out) == (0, [])
    assert skipped_codes(skipped) == AFFECTED
    assert all("cannot reach http://127.0.0.1" in line for line in skipped)


@pytest.mark.parametrize(("path", "fault", "affected"), [
    ("/api/v1/targets", "404", ["SL052"]),
    ("/api/v1/metadata", "500", ["SL053"]),
    ("/api/v1/labels", "garbage", ["SL050", "SL051", "SL052", "SL054"]),
    ("/api/v1/labels", "shape", ["SL050", "SL051", "SL052", "SL054"]),
    ("/api/v1/rules", "404", ["SL054"]),
    ("/api/v1/label/job/values", "500", ["SL052"]),
])
def test_a_broken_endpoint_skips_the_checks_that_need_it(
        rules: Path, capsys: pytest.CaptureFixture[str], path: str, fault: str,
        affected: list[str]) -> None:
    with FakePrometheus({path: fault}) as fake:
        code, out, skipped = run(rules, fake.url, capsys, "--prometheus-retries", "2")
    assert skipped_codes(skipped) == affected
    assert all(path in line for line in skipped), skipped
    healthy = {"SL050", "SL054"} - set(affected)
    if "SL050" in affected:  # the colon name is not SL050's to report when SL054 cannot run
        healthy.discard("SL054")
    assert codes(out) == sorted(healthy)
    assert code == (1 if healthy else 0)
    # a 5xx is retried (3 attempts), then the endpoint is not asked again; 404s are not retried
    assert fake.requests[path] == (3 if fault == "500" else 1) or fault in ("garbage", "shape")


def test_a_hanging_server_costs_a_bounded_number_of_requests(
        rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakePrometheus({"*": "hang"}, hang_seconds=30) as fake:
        code, out, skipped = run(rules, fake.url, capsys, "--prometheus-timeout", "300ms",
                                 "--prometheus-concurrency", "2", "--prometheus-retries", "1")
        received = sum(fake.requests.values())
    assert (code, out) == (0, [])
    assert skipped_codes(skipped) == AFFECTED
    assert all("no answer within 0.3s" in line for line in skipped)
    # two workers, two attempts each, then the server counts as down for every other request
    assert received <= 4


def test_a_server_stopped_mid_run(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakePrometheus(stop_after=1) as fake:
        code, out, skipped = run(rules, fake.url, capsys, "--prometheus-concurrency", "1")
    assert (code, out) == (0, [])
    assert {"SL050", "SL051", "SL054"} <= set(skipped_codes(skipped))
    assert sum(fake.requests.values()) <= 3


def test_each_distinct_request_is_sent_once(rules: Path) -> None:
    doubled = rules.parent / "twice.yml"
    doubled.write_text(RULES.replace("name: app", "name: again"))
    with FakePrometheus() as fake:
        result = lint_online([rules, doubled], OnlineSettings(fake.url))
        sent = list(fake.queries)
    assert len(sent) == len(set(sent)) == result.stats.sent == result.stats.distinct
    assert result.stats.cached > 0  # the second file's selectors came from the cache
    assert sorted({f.code for f in result.findings}) == ["SL050", "SL054"]
    assert len(result.findings) == 4


def test_budget_and_errors_of_single_queries(rules: Path) -> None:
    """A query the server rejects skips that rule for that check, and says so once."""
    with FakePrometheus({"/api/v1/query": "shape"}) as fake:
        result = lint_online([rules], OnlineSettings(fake.url, max_series=0))
    assert result.skip_lines() == [
        "SL055 query-cost skipped: /api/v1/query answered success but not with a query result"]
    assert "SL055" not in {f.code for f in result.findings}
    with FakePrometheus() as fake:
        result = lint_online([rules], OnlineSettings(fake.url, max_series=0))
    over = [f for f in result.findings if f.code == "SL055"]
    assert len(over) == 4 and "(--max-series 0)" in over[0].message


@pytest.mark.parametrize("argv", [
    ["--prometheus", "localhost:9090"],
    ["--prometheus", "http://x", "--lookback", "soon"],
    ["--prometheus", "http://x", "--max-series", "-1"],
    ["--prometheus", "http://x", "--prometheus-concurrency", "0"],
    ["--prometheus", "http://x", "--prometheus-header", "no colon"],
])
def test_bad_online_options_are_usage_errors(rules: Path, argv: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(rules), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("selfslo lint: error: --") and "Traceback" not in err

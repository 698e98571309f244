"""Online lint against real Prometheus servers scraping a target of ours every 30 s.

The target exposes known metrics: a counter ``e2e_requests_total`` (10 series:
code x handler) and a gauge ``e2e_queue_depth{queue}``. Each problem the
online checks exist for -- a missing metric, a label typo in ``by``, a
``$labels`` typo, ``rate(x[1m])`` at a 30 s scrape interval, ``rate()`` on a
gauge, a query over the budget -- gives exactly one finding at its
``file:line:col``, and its correct twin none. Servers: the plugin's own
(``prometheus`` fixture: Prometheus 2.x here) and Prometheus 3.x where
``.ci/fetch-prometheus`` unpacked it (skipped with the reason otherwise).
Also: the repository's own rules are clean online against the demo loop.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from pytest_selfslo.cli import main
from pytest_selfslo.lint.runner import lint_paths
from pytest_selfslo.prometheus.managed import LocalPrometheus, ManagedPrometheus

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_3 = Path("/work/cache/prom-sid/usr/bin/prometheus")

ALERT = """\
      - alert: {name}
        expr: {expr}
        for: 5m
        labels: {{severity: warning}}
        annotations:
          summary: "{summary}"
          runbook_url: https://runbooks.example/e2e
"""
#: (alert, expression, summary, expected finding code or None, the text it points at)
CASES = [
    ("MissingMetric", "sum(rate(e2e_requets_total[2m])) > 1", "requests", "SL050",
     "e2e_requets_total"),
    ("MissingMetricTwin", "sum(rate(e2e_requests_total[2m])) > 1", "requests", None, ""),
    ("ByLabelTypo", "sum by (hanlder) (rate(e2e_requests_total[2m])) > 1", "requests",
     "SL051", "hanlder"),
    ("ByLabelTwin", "sum by (handler) (rate(e2e_requests_total[2m])) > 1", "requests", None, ""),
    ("TemplateTypo", "e2e_queue_depth > 100", "queue {{ $labels.queu }} is deep", "SL051",
     '"queue {{'),
    ("TemplateTwin", "e2e_queue_depth > 100", "queue {{ $labels.queue }} is deep", None, ""),
    ("ShortWindow", "sum by (code) (rate(e2e_requests_total[1m])) > 1", "requests", "SL052",
     "[1m]"),
    ("ShortWindowTwin", "sum by (code) (rate(e2e_requests_total[2m])) > 1", "requests", None, ""),
    ("RateOnGauge", "rate(e2e_queue_depth[2m]) > 1", "queue", "SL053", "e2e_queue_depth"),
    ("RateOnGaugeTwin", "deriv(e2e_queue_depth[2m]) > 1", "queue", None, ""),
]
BUDGET = [
    ("OverBudget", "sum(rate(e2e_requests_total[2m])) > 1", "requests", "SL055", "sum("),
    ("OverBudgetTwin", 'sum(rate(e2e_requests_total{code="200"}[2m])) > 1', "requests", None,
     ""),
]


def rule_file(path: Path, cases: list[tuple[str, str, str, str | None, str]]) -> Path:
    path.write_text("groups:\n  - name: online\n    rules:\n" + "".join(
        ALERT.format(name=n, expr=e, summary=s) for n, e, s, _c, _t in cases))
    return path


def expected(path: Path, cases: list[tuple[str, str, str, str | None, str]]
             ) -> list[tuple[int, int, str]]:
    """(line, column, code) of the one finding each bad case must give."""
    lines = path.read_text().split("\n")
    out = []
    for name, _expr, _summary, code, needle in cases:
        if code is None:
            continue
        start = lines.index(f"      - alert: {name}")
        for offset, text in enumerate(lines[start:start + 7]):
            col = text.find(needle, text.index(":") + 1)
            if col >= 0:
                out.append((start + offset + 1, col + 1, code))
                break
    return sorted(out)


@contextlib.contextmanager
def scraped_target(server: ManagedPrometheus) -> Iterator[str]:
    """Our target, scraped every 30 s by ``server`` until the first scrape is in."""
    registry = CollectorRegistry()
    requests = Counter("e2e_requests", "Requests served", ["code", "handler"], registry=registry)
    depth = Gauge("e2e_queue_depth", "Items waiting", ["queue"], registry=registry)
    for i, code in enumerate(("200", "404", "500", "503", "302")):
        for handler in ("/api", "/health"):
            requests.labels(code=code, handler=handler).inc(i + 1)
    depth.labels(queue="jobs").set(3)
    http, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        server.set_scrape_targets([f"127.0.0.1:{http.server_port}"], interval="30s")
        # the first scrape comes within one interval (Prometheus spreads targets over it)
        server.wait_until(lambda: server.query("e2e_queue_depth"), timeout=120,
                          what="the first 30s scrape of the e2e target")
        yield server.url
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)
        if server.ready():
            server.set_scrape_targets([])


@pytest.fixture(scope="module", params=["plugin", "prometheus-3"])
def online_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A real server scraping our target every 30 s: the plugin's, then a 3.x one."""
    if request.param == "plugin":
        server = request.getfixturevalue("prometheus")
        if not isinstance(server, ManagedPrometheus):
            pytest.skip(f"the online lint test configures its server; {server!r} cannot be")
        with scraped_target(server) as url:
            yield url
        return
    if not PROMETHEUS_3.is_file():
        pytest.skip(f"no Prometheus 3.x at {PROMETHEUS_3} (.ci/fetch-prometheus sid puts it "
                    "there)")
    with LocalPrometheus.start(binary=str(PROMETHEUS_3)) as own, scraped_target(own) as url:
        assert own.buildinfo()["version"].startswith("3.")
        yield url


def lint(path: Path, url: str, capsys: pytest.CaptureFixture[str], *extra: str
         ) -> tuple[int, list[tuple[int, int, str]], str]:
    code = main(["lint", str(path), "--prometheus", url, *extra])
    out, err = capsys.readouterr()
    found = []
    for line in out.splitlines():
        where, rule_code = line.split(" ")[:2]
        _path, row, col = where.rsplit(":", 2)
        found.append((int(row), int(col), rule_code))
    return code, sorted(found), err


def test_each_problem_gives_one_finding_and_its_twin_none(
        online_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    path = rule_file(tmp_path / "online.yml", CASES)
    offline = {f.code for f in lint_paths([path])}
    assert offline <= {"SL030", "SL035"}  # the two guesses the server decides
    code, found, err = lint(path, online_url, capsys)
    assert found == expected(path, CASES), err
    assert " skipped" not in err and code == 1


def test_a_query_over_the_budget(online_url: str, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    path = rule_file(tmp_path / "budget.yml", BUDGET)
    code, found, err = lint(path, online_url, capsys, "--max-series", "5")
    assert found == expected(path, BUDGET), err
    assert code == 1
    code, found, _err = lint(path, online_url, capsys, "--max-series", "10")
    assert (code, found) == (0, [])


def test_the_repositorys_rules_are_clean_against_the_demo_loop(
        e2e_loop: object, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``rules/`` online against the live loop: exporter + API scraped by Prometheus."""
    url = e2e_loop.prometheus.url  # type: ignore[attr-defined]
    monkeypatch.chdir(REPO)
    e2e_loop.prometheus.wait_until(  # type: ignore[attr-defined]
        lambda: e2e_loop.prometheus.query("stability_score_ema"),  # type: ignore[attr-defined]
        timeout=30, what="the loop's first scrape")
    code = main(["lint", "rules/", "--prometheus", url])
    out, err = capsys.readouterr()
    assert (code, out) == (0, ""), out + err
    assert " skipped" not in err
    assert "online checks against" in err


def test_pytest_lints_online_against_the_plugins_server(pytester: pytest.Pytester) -> None:
    """``--self-slo-lint-prometheus fixture``: the server the plugin starts, which a
    ``pytest_selfslo_prometheus_started`` hook points at a target."""
    pytester.makeconftest(textwrap.dedent("""
        from prometheus_client import CollectorRegistry, Gauge, start_http_server

        REGISTRY = CollectorRegistry()
        Gauge("e2e_queue_depth", "Items waiting", ["queue"], registry=REGISTRY).labels(
            queue="jobs").set(3)

        def pytest_selfslo_prometheus_started(server):
            http, _thread = start_http_server(0, addr="127.0.0.1", registry=REGISTRY)
            server.set_scrape_targets([f"127.0.0.1:{http.server_port}"], interval="1s")
            server.wait_until(lambda: server.query("e2e_queue_depth"), timeout=60,
                              what="a scrape")
    """))
    (pytester.path / "rules").mkdir()
    rule_file(pytester.path / "rules" / "queue.yml", [
        ("QueueDeep", "e2e_queue_depth > 100", "queue {{ $labels.queue }}", None, ""),
        ("QueueTypo", "e2e_queue_dpeth > 100", "queue", "SL050", "e2e_queue_dpeth")])
    pytester.makeini("[pytest]\nselfslo_prometheus = local\n")
    result = pytester.runpytest("--self-slo", "rules", "-p", "no:cacheprovider", "-k", "lint",
                                "--self-slo-lint-prometheus", "fixture")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*rules/queue.yml:12:15 SL050 *e2e_queue_dpeth has no series"
                                 "*did you mean e2e_queue_depth?*"])

"""The parts of the online lint: edit distance, selectors, label inference, the bounded client."""

from __future__ import annotations

import httpx
import promql_parser as pp
import pytest
from hypothesis import given, settings, strategies as st

from pytest_selfslo.lint.online.client import PromAPI, Unavailable, request
from pytest_selfslo.lint.online.exprs import label_names, selector_text, selector_uses
from pytest_selfslo.lint.online.facts import ServerFacts
from pytest_selfslo.lint.online.names import edit_distance, nearest


def _reference(a: str, b: str) -> int:
    """Textbook recursion with memo (independent of the row-by-row version)."""
    memo: dict[tuple[int, int], int] = {}

    def d(i: int, j: int) -> int:
        if (i, j) not in memo:
            if i == 0 or j == 0:
                memo[i, j] = i + j
            else:
                memo[i, j] = min(d(i - 1, j) + 1, d(i, j - 1) + 1,
                                 d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))
        return memo[i, j]
    return d(len(a), len(b))


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.text("abc_", max_size=8), st.text("abc_", max_size=8), st.integers(0, 4))
def test_edit_distance_matches_the_definition(a: str, b: str, limit: int) -> None:
    exact = _reference(a, b)
    assert edit_distance(a, b) == exact
    assert edit_distance(a, b, limit) == min(exact, limit + 1)


def test_nearest_names() -> None:
    names = ["http_requests_total", "http_request_duration_seconds_bucket", "up",
             "process_cpu_seconds_total", "http_requests_created"]
    assert nearest("http_requets_total", names) == ["http_requests_total"]
    assert nearest("htp_requests_totl", names) == ["http_requests_total"]
    assert nearest("something_else_entirely", names) == []
    assert nearest("up", ["up", "upp", "ap"]) == ["ap", "upp"]


@pytest.mark.parametrize(("expr", "text"), [
    ("x", "x"),
    ('x{a="b", c!~"d.*"}', 'x{a="b",c!~"d.*"}'),
    ('{__name__=~"x|y", job="a"}', '{__name__=~"x|y",job="a"}'),
    ('x{a="quote\\"and\\\\slash"} offset 5m', 'x{a="quote\\"and\\\\slash"}'),
    ('{"utf8.name"="v"}', '{"utf8.name"="v"}'),
])
def test_selector_text_is_a_series_selector(expr: str, text: str) -> None:
    sel = pp.parse(expr)
    assert selector_text(sel) == text
    again = pp.parse(text)
    assert [(m.name, m.value) for m in again.matchers.matchers] == \
        [(m.name, m.value) for m in sel.matchers.matchers]


def test_selector_uses_know_absent_ranges_and_functions() -> None:
    uses = list(selector_uses(pp.parse(
        "rate(a_total[5m]) / on(job) group_left absent(b{job='x'}) + (irate((c_total[1m])))")))
    assert [(u.node.name, u.in_absent, u.range_s, u.function) for u in uses] == [
        ("a_total", False, 300.0, "rate"), ("b", True, None, "absent"),
        ("c_total", False, 60.0, "irate")]


LEAF = {"x": frozenset({"job", "instance", "a"}), "y": frozenset({"job", "b"})}


@pytest.mark.parametrize(("expr", "labels"), [
    ("sum by (job) (x)", {"job"}),
    ("sum without (a) (x)", {"job", "instance"}),
    ("count_values('v', x)", {"v"}),
    ("topk(3, x)", {"job", "instance", "a"}),
    ('label_replace(x, "dst", "$1", "a", "(.*)")', {"job", "instance", "a", "dst"}),
    ("histogram_quantile(0.9, x)", {"job", "instance", "a"}),
    ("x / on(job) y", {"job"}),
    ("x / ignoring(a, instance) y", {"job"}),
    ("x * on(job) group_left(b) y", {"job", "instance", "a", "b"}),
    ("x * on(job) group_right y", {"job", "b"}),
    ("x and y", {"job", "instance", "a"}),
    ("x or y", {"job", "instance", "a", "b"}),
    ("x > 1", {"job", "instance", "a"}),
    ("absent(x{job='j', a=~'.+'})", {"job"}),
    ("vector(1)", set()),
    ("x + z", {"job", "instance", "a"}),  # one-to-one: the left side's labels
    ("z + x", None),
    ("z or x", None),
])
def test_label_names_follow_the_engine(expr: str, labels: set[str] | None) -> None:
    got = label_names(pp.parse(expr), lambda sel: LEAF.get(sel.name))
    assert got == (None if labels is None else frozenset(labels))


def _api(handler: object, **kwargs: float) -> PromAPI:
    return PromAPI("http://prom.test", transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
                   **kwargs)  # type: ignore[arg-type]


def test_client_retries_5xx_and_marks_the_endpoint_broken() -> None:
    calls: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req.url.path)
        if req.url.path == "/api/v1/metadata":
            return httpx.Response(503, text="overloaded")
        return httpx.Response(200, json={"status": "success", "data": ["__name__", "job"]})

    with _api(handler, retries=2) as api:
        first = api.get(request("/api/v1/metadata"))
        again = api.get(request("/api/v1/metadata", metric="x"))
        labels = api.get(request("/api/v1/labels", match=["up"]))
        stats = api.stats
    assert isinstance(first, Unavailable) and first.scope == "endpoint"
    assert "HTTP 503" in first.reason
    assert isinstance(again, Unavailable) and again.reason == first.reason  # not asked again
    assert labels == ["__name__", "job"]
    assert calls.count("/api/v1/metadata") == 3 and (stats.sent, stats.retried) == (4, 2)


def test_client_answers_errors_and_garbage_without_raising() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/api/v1/query":
            return httpx.Response(400, json={"status": "error", "errorType": "bad_data",
                                             "error": "unknown function limitk"})
        if req.url.path == "/api/v1/targets":
            return httpx.Response(200, content=b"\xff\xfe not json")
        return httpx.Response(404, text="404 page not found")

    with _api(handler) as api:
        query = api.get(request("/api/v1/query", query="limitk(1, up)"))
        targets = api.get(request("/api/v1/targets"))
        rules = api.get(request("/api/v1/rules"))
        query_again = api.get(request("/api/v1/query", query="up"))
    assert isinstance(query, Unavailable) and query.scope == "query"
    assert query.reason == "/api/v1/query rejected the request: bad_data: unknown function limitk"
    assert isinstance(targets, Unavailable) and "not a Prometheus API response" in targets.reason
    assert isinstance(rules, Unavailable) and "has no such endpoint" in rules.reason
    assert isinstance(query_again, Unavailable) and query_again.scope == "query"  # not broken


def test_a_server_that_is_down_stops_all_further_requests() -> None:
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req.url.path)
        raise httpx.ConnectError("connection refused", request=req)

    with _api(handler, retries=1, concurrency=1) as api:
        answers = api.fetch([request("/api/v1/labels", match=[f"m{i}"]) for i in range(50)])
    assert all(isinstance(a, Unavailable) and a.scope == "server" for a in answers.values())
    assert len(calls) == 2  # the first request and its retry; then the server is down


def test_the_run_deadline_stops_the_run() -> None:
    with _api(lambda req: httpx.Response(200, json={"status": "success", "data": []}),
              deadline=0.000001) as api:
        answer = api.get(request("/api/v1/labels"))
    assert isinstance(answer, Unavailable) and "time budget" in answer.reason


def test_facts_reject_answers_of_the_wrong_shape() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        data: object = {"/api/v1/targets": {"activeTargets": "all of them"},
                        "/api/v1/metadata": ["not", "a", "mapping"],
                        "/api/v1/labels": [1, 2]}.get(req.url.path)
        return httpx.Response(200, json={"status": "success", "data": data})

    with _api(handler) as api:
        facts = ServerFacts(api, 1_700_000_000.0, 3600.0)
        for read in (facts.intervals, facts.metric_types, lambda: facts.labels("up"),
                     facts.server_records, lambda: facts.query("up")):
            with pytest.raises(Unavailable, match="answered success but not with"):
                read()


def test_metric_types_from_metadata_families() -> None:
    metadata = {"http_requests": [{"type": "counter"}], "queue": [{"type": "gauge"}],
                "latency_seconds": [{"type": "histogram"}], "odd": [{"type": "gauge"},
                                                                    {"type": "counter"}]}

    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "success", "data": metadata})

    with _api(handler) as api:
        facts = ServerFacts(api, 1_700_000_000.0, 3600.0)
        kinds = {name: facts.metric_type(name) for name in (
            "http_requests_total", "queue", "latency_seconds_bucket", "latency_seconds_count",
            "odd", "unknown_metric", "queue_total")}
    assert kinds == {"http_requests_total": "counter", "queue": "gauge",
                     "latency_seconds_bucket": "counter", "latency_seconds_count": "counter",
                     "odd": None, "unknown_metric": None, "queue_total": None}

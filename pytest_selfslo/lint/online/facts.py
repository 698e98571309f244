"""What the online checks ask the server, as requests and as checked answers.

Each accessor of :class:`ServerFacts` returns the decoded answer or raises the
:class:`~.client.Unavailable` of its request -- also when the server answered
``success`` with data of the wrong shape, which is an endpoint problem, never
an exception of ours. Answers come from :meth:`ServerFacts.prefetch` (many
requests at once, concurrently) or, for anything not prefetched, one request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from pytest_selfslo._core.durations import parse_duration
from pytest_selfslo.lint.online.client import PromAPI, Request, Unavailable, request

__all__ = ["ServerFacts"]

_COUNTERISH = ("counter", "histogram", "summary", "gaugehistogram")
#: suffixes of the series of a metric family (``x_total`` is a sample of family ``x``)
_FAMILY_SUFFIXES = ("_total", "_count", "_sum", "_bucket")


def _shape(req: Request, ok: bool, what: str) -> None:
    if not ok:
        raise Unavailable(f"{req[0]} answered success but not with {what}", "endpoint")


class ServerFacts:
    """The server's answers for one run, at one evaluation time ``now`` (unix seconds)."""

    def __init__(self, api: PromAPI, now: float, lookback: float) -> None:
        self.api = api
        self.now = now
        self.start = now - lookback
        self.answers: dict[Request, Any] = {}
        self._intervals: dict[str, float] | None = None
        self._types: dict[str, str] | None = None

    # -- requests ----------------------------------------------------------------
    def labels_request(self, selector: str) -> Request:
        """Label names of the series ``selector`` matches in the lookback window."""
        return request("/api/v1/labels", match=[selector], start=self.start, end=self.now)

    def values_request(self, label: str, selector: str) -> Request:
        """Values of ``label`` on the series ``selector`` matches in the lookback window."""
        return request(f"/api/v1/label/{label}/values", match=[selector], start=self.start,
                       end=self.now)

    def names_request(self) -> Request:
        """Every metric name with series in the lookback window."""
        return request("/api/v1/label/__name__/values", start=self.start, end=self.now)

    def query_request(self, expr: str, stats: bool = False) -> Request:
        """An instant query at ``now`` (with ``stats=all``: samples loaded)."""
        if stats:
            return request("/api/v1/query", query=expr, time=self.now, stats="all")
        return request("/api/v1/query", query=expr, time=self.now)

    TARGETS = request("/api/v1/targets")
    METADATA = request("/api/v1/metadata")
    RULES = request("/api/v1/rules", type="record")

    def prefetch(self, requests: Iterable[Request]) -> None:
        """Send the requests not answered yet, concurrently."""
        asked = list(requests)
        wanted = [r for r in dict.fromkeys(asked) if r not in self.answers]
        self.api.stats.cached += len(asked) - len(wanted)
        if wanted:
            self.answers.update(self.api.fetch(wanted))

    def _get(self, req: Request) -> Any:
        if req in self.answers:
            answer = self.answers[req]
            self.api.stats.cached += 1
        else:
            answer = self.answers[req] = self.api.get(req)
        if isinstance(answer, Unavailable):
            raise answer
        return answer

    # -- answers -----------------------------------------------------------------
    def labels(self, selector: str) -> frozenset[str]:
        """Label names (``__name__`` included) on the series of ``selector``; empty: none."""
        req = self.labels_request(selector)
        data = self._get(req)
        _shape(req, isinstance(data, list) and all(isinstance(x, str) for x in data),
               "a list of label names")
        return frozenset(data)

    def values(self, label: str, selector: str) -> list[str]:
        """Values of ``label`` on the series of ``selector``."""
        req = self.values_request(label, selector)
        data = self._get(req)
        _shape(req, isinstance(data, list) and all(isinstance(x, str) for x in data),
               "a list of label values")
        return sorted(data)

    def names(self) -> list[str]:
        """Metric names with series in the lookback window."""
        req = self.names_request()
        data = self._get(req)
        _shape(req, isinstance(data, list) and all(isinstance(x, str) for x in data),
               "a list of metric names")
        return list(data)

    def intervals(self) -> dict[str, float]:
        """Longest scrape interval (seconds) of the active targets of each job."""
        if self._intervals is None:
            data = self._get(self.TARGETS)
            targets = data.get("activeTargets") if isinstance(data, dict) else None
            _shape(self.TARGETS, isinstance(targets, list), "activeTargets")
            out: dict[str, float] = {}
            assert isinstance(targets, list)
            for target in targets:
                labels = target.get("labels") if isinstance(target, dict) else None
                text = target.get("scrapeInterval") if isinstance(target, dict) else None
                if not isinstance(labels, dict) or not isinstance(text, str):
                    continue  # older servers: no scrapeInterval, nothing to say
                try:
                    seconds = parse_duration(text) / 1000.0
                except ValueError:
                    continue
                job = str(labels.get("job", ""))
                out[job] = max(out.get(job, 0.0), seconds)
            self._intervals = out
        return self._intervals

    def metric_types(self) -> dict[str, str]:
        """Metric family -> type from ``/api/v1/metadata`` (families with one type only)."""
        if self._types is None:
            data = self._get(self.METADATA)
            _shape(self.METADATA, isinstance(data, dict), "a mapping of metric metadata")
            out: dict[str, str] = {}
            for name, entries in data.items():
                kinds = {str(e.get("type", "")).lower() for e in entries
                         if isinstance(e, dict)} if isinstance(entries, list) else set()
                if len(kinds) == 1:
                    out[str(name)] = kinds.pop()
            self._types = out
        return self._types

    def metric_type(self, name: str) -> str | None:
        """``counter`` or ``gauge`` (histogram and summary series count as counters) or None."""
        types = self.metric_types()
        kind = types.get(name)
        if kind is None:
            for suffix in _FAMILY_SUFFIXES:
                if name.endswith(suffix) and name[:-len(suffix)] in types:
                    base = types[name[:-len(suffix)]]
                    kind = base if base in _COUNTERISH else None
                    break
        if kind in _COUNTERISH:
            return "counter"
        return "gauge" if kind == "gauge" else None

    def server_records(self) -> set[str]:
        """Names the server's recording rules record."""
        data = self._get(self.RULES)
        groups = data.get("groups") if isinstance(data, dict) else None
        _shape(self.RULES, isinstance(groups, list), "rule groups")
        assert isinstance(groups, list)
        out: set[str] = set()
        for group in groups:
            for rule in group.get("rules", []) if isinstance(group, dict) else []:
                if isinstance(rule, dict) and rule.get("type") == "recording":
                    out.add(str(rule.get("name", "")))
        return out

    def query(self, expr: str, stats: bool = False) -> tuple[list[Any], int | None]:
        """(result samples, samples loaded from ``stats=all`` or None) of an instant query."""
        req = self.query_request(expr, stats)
        data = self._get(req)
        result = data.get("result") if isinstance(data, dict) else None
        _shape(req, isinstance(result, list), "a query result")
        assert isinstance(data, dict) and isinstance(result, list)
        loaded = None
        samples = data.get("stats", {}).get("samples") if isinstance(data.get("stats"),
                                                                      dict) else None
        if isinstance(samples, dict) and isinstance(samples.get("totalQueryableSamples"),
                                                    (int, float)):
            loaded = int(samples["totalQueryableSamples"])
        return result, loaded

    def count(self, expr: str) -> tuple[int, int | None]:
        """(value, samples loaded or None) of a ``count(...)`` probe run with ``stats=all``."""
        result, loaded = self.query(expr, stats=True)
        return int(self._value(expr, result)), loaded

    def scalar(self, expr: str) -> float:
        """The single value of a ``count(...)``/``sum(...)`` probe (0 when it is empty)."""
        result, _loaded = self.query(expr)
        return self._value(expr, result)

    @staticmethod
    def _value(expr: str, result: list[Any]) -> float:
        if not result:
            return 0.0
        value = result[0].get("value") if isinstance(result[0], dict) else None
        try:
            number = float(value[1]) if isinstance(value, list) and len(value) == 2 else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if math.isnan(number):
            raise Unavailable(f"/api/v1/query answered {expr!r} with {str(result)[:80]}",
                              "query")
        return number

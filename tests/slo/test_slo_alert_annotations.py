"""Alert annotations as Sloth and Pyrra write them (CI guard; no checkout of either needed).

Teams that switch from Sloth or Pyrra keep Alertmanager templates reading the annotations
those generators put on their alerts, so the ``sloth`` and ``pyrra`` dialects write the
same ones. The expectations below are transcribed from the generators' own outputs and
tests (Apache License 2.0):

* Sloth: slok/sloth at commit 0e395d81513ff701f5d27b7aa47d794cb764fd5e,
  ``examples/getting-started.yml`` and ``examples/home-wifi.yml`` with their generated
  ``examples/_gen/*.yml``; the merge order (SLO ``alerting.annotations``, then the
  severity's, then over Sloth's defaults) from ``internal/storage/io/sloth.go`` and
  ``internal/plugin/slo/core/alert_rules_v1/plugin.go``.
* Pyrra: pyrra-dev/pyrra at commit 1ba95afbf90b2311cb9332b1633cf09218b7de9f,
  ``kubernetes/controllers/servicelevelobjective_test.go`` (``Test_makePrometheusRule``,
  objective ``http``): ``pyrra.dev/``-prefixed object annotations on every alert.

With Sloth's examples checked out (``SELFSLO_SLOTH_EXAMPLES``),
``test_slo_sloth_equivalence.py::test_alert_annotations_equal_to_sloths`` checks every
example against Sloth's generated rules.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from promtool_runs import Promtool, params, promtool_file, run

from pytest_selfslo.rulefmt.model import AlertingRule
from pytest_selfslo.rulefmt.rulefile import groups_from_text
from pytest_selfslo.ruletest.runner import run_rule_tests
from pytest_selfslo.slo.burnrate import generate_rules, series_labels
from pytest_selfslo.slo.importers import import_text
from pytest_selfslo.slo.service import dump_service_slos, load_service_slos_text
from pytest_selfslo.slo.testgen import generate_tests

#: the alerting block of Sloth's examples/getting-started.yml (rest shortened)
SLOTH_GETTING_STARTED = """\
version: "prometheus/v1"
service: "myservice"
labels:
  owner: "myteam"
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))
    alerting:
      name: MyServiceHighErrorRate
      labels:
        category: "availability"
      annotations:
        summary: "High error rate on 'myservice' requests responses"
      page_alert:
        labels:
          severity: pageteam
          routing_key: myteam
      ticket_alert:
        labels:
          severity: "slack"
          slack_channel: "#alerts-myteam"
"""
_WHO = "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate"
#: (rule labels, annotations) of its page and ticket rules in examples/_gen/getting-started.yml
SLOTH_GETTING_STARTED_ALERTS = [
    ({"category": "availability", "routing_key": "myteam", "severity": "pageteam",
      "sloth_severity": "page"},
     {"summary": "High error rate on 'myservice' requests responses",
      "title": f"(page) {_WHO} is too fast."}),
    ({"category": "availability", "severity": "slack", "slack_channel": "#alerts-myteam",
      "sloth_severity": "ticket"},
     {"summary": "High error rate on 'myservice' requests responses",
      "title": f"(ticket) {_WHO} is too fast."}),
]
#: Sloth's defaults, when the spec sets no annotation (examples/_gen/home-wifi.yml)
SLOTH_DEFAULTS = {sev: {"summary": f"{_WHO} is over expected.",
                        "title": f"({sev}) {_WHO} is too fast."} for sev in ("page", "ticket")}


def _alerts(rules_text: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    return [(r.name, dict(r.labels), dict(r.annotations))
            for g in groups_from_text(rules_text, "ours.yml") for r in g.rules
            if isinstance(r, AlertingRule)]


def test_sloth_getting_started_annotations_are_sloths() -> None:
    rules = generate_rules(import_text(SLOTH_GETTING_STARTED, "getting-started.yml"))
    assert _alerts(rules) == [("MyServiceHighErrorRate", labels, annotations)
                              for labels, annotations in SLOTH_GETTING_STARTED_ALERTS]
    # written as Sloth writes them: keys sorted
    doc = yaml.safe_load(rules)
    assert [list(r["annotations"]) for g in doc["groups"] for r in g["rules"] if "alert" in r] \
        == [["summary", "title"]] * 2


def _without_annotations() -> str:
    return SLOTH_GETTING_STARTED.replace(
        "      annotations:\n        summary: \"High error rate on 'myservice' requests "
        "responses\"\n", "")


def test_sloth_defaults_when_the_spec_sets_none() -> None:
    text = _without_annotations()
    assert "annotations" not in text
    alerts = _alerts(generate_rules(import_text(text, "spec.yml")))
    assert [a for _, _, a in alerts] == [SLOTH_DEFAULTS["page"], SLOTH_DEFAULTS["ticket"]]


def test_sloth_merge_order_severity_over_slo_over_defaults() -> None:
    text = SLOTH_GETTING_STARTED.replace(
        "          routing_key: myteam\n",
        "          routing_key: myteam\n        annotations:\n          summary: paged\n"
        "          title: custom page title\n          runbook: https://runbooks/x\n")
    (page, ticket) = [a for _, _, a in _alerts(generate_rules(import_text(text, "spec.yml")))]
    assert page == {"runbook": "https://runbooks/x", "summary": "paged",
                    "title": "custom page title"}
    assert ticket == {"summary": "High error rate on 'myservice' requests responses",
                      "title": f"(ticket) {_WHO} is too fast."}


def test_sloth_defaults_survive_export_to_our_format() -> None:
    """The defaults come from the dialect, not the spec: an imported spec written as
    selfslo/v1 (``dialect: sloth``) generates the same alerts."""
    spec = import_text(_without_annotations(), "spec.yml")
    exported = dump_service_slos(spec)
    assert "SLO error budget burn rate" not in exported
    assert generate_rules(load_service_slos_text(exported, "slo.yml")) == generate_rules(spec)


def test_selfslo_dialect_has_no_default_annotations() -> None:
    spec = import_text(_without_annotations(), "spec.yml")
    text = dump_service_slos(spec).replace("dialect: sloth\n", "")
    assert "dialect:" not in text
    assert [a for _, _, a in _alerts(generate_rules(load_service_slos_text(text, "slo.yml")))] \
        == [{}, {}]


def test_generated_tests_expect_the_rendered_sloth_titles() -> None:
    """promtool compares annotations after template expansion: the generated tests expect
    ``(page) myservice requests-availability SLO ...`` (that they pass, under our engine
    and real promtool, is ``test_slo_testgen.py``'s Sloth spec, which sets no annotation)."""
    tests = generate_tests(import_text(SLOTH_GETTING_STARTED, "spec.yml"), "slo.yml")
    expected = [a.get("exp_annotations") for t in yaml.safe_load(tests)["tests"]
                for c in t.get("alert_rule_test", ()) for a in c["exp_alerts"]]
    who = "myservice requests-availability SLO error budget burn rate"
    summary = "High error rate on 'myservice' requests responses"
    assert {"summary": summary, "title": f"(page) {who} is too fast."} in expected
    assert {"summary": summary, "title": f"(ticket) {who} is too fast."} in expected
    assert expected and None not in expected and "{{$labels" not in tests


# ------------------------------------------------------------------------------------ Pyrra
#: objective ``http`` of Pyrra's Test_makePrometheusRule, as the manifest it stands for
PYRRA_HTTP = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: http
  labels:
    pyrra.dev/team: foo
    team: bar
  annotations:
    pyrra.dev/description: foo
    description: bar
spec:
  target: "99.5"
  window: 28d
  indicator:
    ratio:
      errors:
        metric: http_requests_total{job="app",status=~"5.."}
      total:
        metric: http_requests_total{job="app"}
"""
#: its alerts there: (name, labels, annotations); our rules add slo_service/slo_name/slo_severity
PYRRA_HTTP_ALERTS = [
    ("ErrorBudgetBurn", {"severity": sev, "job": "app", "long": long, "slo": "http",
                         "short": short, "team": "foo", "exhaustion": exhaustion},
     {"description": "foo"})
    for sev, long, short, exhaustion in (("critical", "1h", "5m", "2d"),
                                         ("critical", "6h", "30m", "4d"),
                                         ("warning", "1d", "2h", "2w"),
                                         ("warning", "4d", "6h", "4w"))
] + [("SLOMetricAbsent", {"severity": "critical", "job": "app", "slo": "http", "team": "foo"},
      {"description": "foo"})]
OURS_ONLY = {"slo_service", "slo_name", "slo_severity"}


def test_pyrra_propagated_annotations_are_on_every_alert() -> None:
    """Pyrra writes the SLO's labels on each rule; ours come from the recorded series the
    expression returns: compared are the labels the alerts carry (series + rule labels)."""
    spec = import_text(PYRRA_HTTP, "http.yml")
    series = series_labels(spec, spec.slos[0])
    ours = [(name, {k: v for k, v in {**series, **labels}.items() if k not in OURS_ONLY},
             annotations) for name, labels, annotations in _alerts(generate_rules(spec))]

    def key(alert: tuple[str, dict[str, str], dict[str, str]]) -> str:
        return repr((alert[0], sorted(alert[1].items()), sorted(alert[2].items())))

    assert sorted(ours, key=key) == sorted(PYRRA_HTTP_ALERTS, key=key)


def test_pyrra_without_propagated_annotations_has_none() -> None:
    text = PYRRA_HTTP.replace("    pyrra.dev/description: foo\n", "")
    assert all(a == {} for _, _, a in _alerts(generate_rules(import_text(text, "http.yml"))))


TEMPLATED = "{{ $labels.job }} burns"


def _generated_tests_expecting(value: str, tmp_path: Any) -> None:
    """Write the rules and generated tests of PYRRA_HTTP with ``pyrra.dev/description``
    set to ``value`` into ``tmp_path``; every expected alert carries it, rendered."""
    text = PYRRA_HTTP.replace("pyrra.dev/description: foo", f"pyrra.dev/description: {value!r}")
    spec = import_text(text, "http.yml")
    (tmp_path / "slo.yml").write_text(generate_rules(spec))
    tests = generate_tests(spec, "slo.yml")
    doc = yaml.safe_load(tests)
    expected = [a.get("exp_annotations") for t in doc["tests"]
                for c in t.get("alert_rule_test", ()) for a in c["exp_alerts"]]
    assert expected and all(e == {"description": value.replace("{{ $labels.job }}", "app")}
                            for e in expected)
    (tmp_path / "slo_test.yml").write_text(tests)


@pytest.mark.parametrize("value", [TEMPLATED, "plain"])
def test_pyrra_generated_tests_expect_the_annotations(tmp_path: Any, value: str) -> None:
    """Generated tests expect the annotations, rendered, and pass under our engine."""
    _generated_tests_expecting(value, tmp_path)
    report = run_rule_tests([str(tmp_path / "slo_test.yml")])
    assert report.passed, report.format_text()


@pytest.mark.parametrize("promtool", params()[-1:])
def test_pyrra_generated_annotation_tests_pass_under_promtool(tmp_path: Any,
                                                               promtool: Promtool) -> None:
    """The templated annotation's generated tests pass under the newest real promtool
    (every binary renders ``$labels`` alike); skipped with the reason when there is
    none. The short groups hold every alert the annotation is on (page pairs, absent
    alerts); the multi-day groups, a minute of promtool, are the round trip's to run."""
    _generated_tests_expecting(TEMPLATED, tmp_path)
    name, left_out = promtool_file(promtool, tmp_path / "slo_test.yml", long=False)
    output = run(promtool, [name], tmp_path)
    assert "SUCCESS" in output and "FAILED" not in output, output[:4000]
    doc = yaml.safe_load((tmp_path / name).read_text())
    assert any(a.get("exp_annotations") for t in doc["tests"]
               for c in t.get("alert_rule_test", ()) for a in c["exp_alerts"]), left_out

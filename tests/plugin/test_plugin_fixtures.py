"""Every fixture the plugin provides, used from a user's test file (pytester)."""

from __future__ import annotations

import shutil

import pytest

import pytest_selfslo.metrics.exporter

# compiled extensions cannot be imported twice per process (in-process pytester drops modules)
import pytest_selfslo.plugin.fixtures
import pytest_selfslo.promql.engine  # noqa: F401
from pytest_selfslo.plugin.fixtures import EmbeddedPromQL

needs_binary = pytest.mark.skipif(shutil.which("prometheus") is None,
                                  reason="the Debian 'prometheus' package is not installed")


def test_fixtures_are_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    for name in ("selfslo_settings", "slo_spec", "self_metrics_registry", "self_exporter",
                 "heartbeat_factory", "heartbeat_log", "promql_engine", "prometheus",
                 "prometheus_scrape_target"):
        result.stdout.fnmatch_lines([f"{name}*"])


def test_registry_and_exporter(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        from pytest_selfslo.plugin.assertions import assert_metric

        def test_fresh(self_metrics_registry):
            assert list(self_metrics_registry.collect()) == []

        def test_exporter_writes_to_the_fixture_registry(self_exporter, self_metrics_registry):
            self_exporter.update("tok", 0.9, 0.95, 0.8, 0.1)
            assert self_exporter.registry is self_metrics_registry
            assert_metric(self_metrics_registry, "self_coherence", {"token_id": "tok"}, 0.9)
            assert_metric(self_metrics_registry, "self_stress", {"token_id": "tok"}, 0.1)

        def test_gate_is_on_even_when_the_environment_says_off(self_exporter, monkeypatch):
            monkeypatch.setenv("AURIS_METRICS_EXP", "off")
            self_exporter.update("tok", 0.5, 0.5, 0.5, 0.5)
            assert self_exporter.registry.get_sample_value(
                "self_coherence", {"token_id": "tok"}) == 0.5
    """)
    pytester.runpytest().assert_outcomes(passed=3)


def test_heartbeat_factory_and_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        from pytest_selfslo.heartbeat import read_heartbeats, generate_heartbeats

        def test_factory_is_seeded(heartbeat_factory):
            beats = heartbeat_factory("coherence_drop", n=50, seed=7)
            assert beats == generate_heartbeats("coherence_drop", 50, 7)
            assert heartbeat_factory("steady", 10, interval=1.0)[1].ts - \\
                heartbeat_factory("steady", 10, interval=1.0)[0].ts == 1.0

        def test_factory_writes_jsonl(heartbeat_factory, tmp_path):
            path = heartbeat_factory.write("stress_spike", 30, seed=1)
            assert path.parent == tmp_path and path.suffix == ".jsonl"
            assert list(read_heartbeats(path)) == heartbeat_factory("stress_spike", 30, seed=1)
            again = heartbeat_factory.write(heartbeat_factory("steady", 5), name="x.jsonl")
            assert again.name == "x.jsonl" and len(read_heartbeats(again)) == 5

        def test_log_appends(heartbeat_log, heartbeat_factory):
            heartbeat_log.extend(heartbeat_factory("steady", 4))
            assert heartbeat_log.path.name == "identity.jsonl"
            assert len(read_heartbeats(heartbeat_log.path)) == 4
    """)
    pytester.runpytest().assert_outcomes(passed=3)


def test_promql_engine(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        def test_load_and_query(promql_engine):
            promql_engine.load('''
                self_stress{token_id="a"} 0.1+0.1x5
                self_stress{token_id="b"} 0.2x5
            ''')
            assert promql_engine.query_value("max(self_stress)", at="5m") == pytest.approx(0.6)
            samples = promql_engine.query("self_stress", at="1m")
            assert sorted(round(s.value, 6) for s in samples) == [0.2, 0.2]
            rng = promql_engine.query_range('self_stress{token_id="b"}', 0, "2m", "1m")
            assert [s.timestamp_ms for s in rng] == [0, 60000, 120000]

        def test_several_samples_is_an_error(promql_engine):
            promql_engine.load('up{i="1"} 1\\nup{i="2"} 1')
            with pytest.raises(ValueError, match="returned 2 samples, expected at most one"):
                promql_engine.query_value("up")

        def test_semantics_option(promql_engine):
            assert str(promql_engine.engine.semantics) == "2.53"  # "2" names the 2.x LTS
    """)
    pytester.runpytest("--self-slo-semantics=2").assert_outcomes(passed=3)


def test_slo_spec_default_file_and_hook(pytester: pytest.Pytester) -> None:
    from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, dump_slo_spec

    pytester.makepyfile("""
        def test_spec(slo_spec):
            print("TARGET", slo_spec.objective("coherence").target)
    """)
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(["*TARGET 0.8*"])
    (pytester.path / "slo.yml").write_text(dump_slo_spec(DEFAULT_SLO_SPEC).replace("0.8", "0.85"))
    pytester.makeini("[pytest]\nselfslo_slo = slo.yml\n")
    pytester.runpytest("-s").stdout.fnmatch_lines(["*TARGET 0.85*"])
    pytester.makeconftest("""
        import dataclasses
        from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC

        def pytest_selfslo_slo_spec(config):
            objectives = tuple(dataclasses.replace(o, target=0.75) if o.name == "coherence" else o
                               for o in DEFAULT_SLO_SPEC.objectives)
            return dataclasses.replace(DEFAULT_SLO_SPEC, objectives=objectives)
    """)
    pytester.runpytest("-s").stdout.fnmatch_lines(["*TARGET 0.75*"])


@needs_binary
def test_prometheus_fixture_and_scrape_target_in_a_user_project(
        pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        def pytest_selfslo_prometheus_started(server):
            print("STARTED", server.kind)
    """)
    pytester.makepyfile("""
        import pytest
        from prometheus_client import Gauge

        @pytest.mark.selfslo_prometheus
        def test_marker_runs_with_a_server():
            pass

        def test_scraped(prometheus, prometheus_scrape_target):
            Gauge("self_presence", "p", ["token_id"],
                  registry=prometheus_scrape_target.registry).labels("t").set(0.42)
            prometheus_scrape_target.wait_scraped()
            value = prometheus.wait_until(
                lambda: prometheus.query_value('self_presence{token_id="t"}'), what="sample")
            assert value == 0.42
    """)
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*STARTED local*"])


def test_prometheus_fixture_skips_with_reason_without_binary(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(pytester.path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no.sock")
    pytester.makepyfile("""
        def test_one(prometheus): pass
        def test_two(prometheus): pass
    """)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines([
        "SKIPPED [[]1[]]*no real Prometheus (--self-slo-prometheus=auto): no 'prometheus' binary "
        "on PATH; no Docker daemon answers*"])


def test_prometheus_fixture_docker_mode_skips_without_daemon(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no.sock")
    pytester.makepyfile("def test_one(prometheus): pass")
    result = pytester.runpytest("-rs", "--self-slo-prometheus=docker")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*--self-slo-prometheus=docker): no Docker daemon answers*"])


def test_canary_tuner_factory(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        from pytest_selfslo.canary.machine import Observation
        from pytest_selfslo.canary.policy import DEFAULT_POLICY

        def test_missing_data_holds_and_a_firing_alert_is_seen(canary_tuner):
            alert = {"alertname": "AURIS_SELF_Stress_High", "severity": "warning"}
            tuner = canary_tuner(observations=[Observation(gates={}),
                                               Observation(gates={}, firing_alerts=[alert])])
            assert tuner.store.load().sampling == DEFAULT_POLICY.steps[0]
            assert tuner.check_and_tune()["action"] == "hold"
            canary_tuner.clock.advance(600)
            decision = tuner.check_and_tune()
            assert decision["at"] == canary_tuner.clock.now
            assert decision["reasons"][0].startswith("rollback alert firing")

        def test_each_tuner_has_its_own_state(canary_tuner, tmp_path):
            first, second = canary_tuner(observations=[]), canary_tuner(observations=[])
            assert first.store is not second.store
            assert first.clock() == second.clock() == canary_tuner.clock.now
    """)
    pytester.runpytest().assert_outcomes(passed=2)


def test_api_client(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        from pytest_selfslo.plugin.fixtures import API_TOKEN

        def test_health_and_canary(selfslo_api_client):
            assert selfslo_api_client.get("/self/health").status_code == 200
            resp = selfslo_api_client.post("/self/canary",
                                           json={"new_sampling": 0.25, "reason": "widen"})
            assert resp.status_code == 200, resp.text

        def test_without_token_is_refused(selfslo_api_client):
            resp = selfslo_api_client.post("/self/canary",
                                           json={"new_sampling": 0.25, "reason": "widen"},
                                           headers={"Authorization": "Bearer wrong"})
            assert resp.status_code == 401
    """)
    pytester.runpytest().assert_outcomes(passed=2)


def test_promql_engine_fixture_refuses_a_histogram_as_a_value() -> None:
    engine = EmbeddedPromQL()
    engine.load("load 1m\n  h {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x3")
    assert engine.query_value("histogram_count(h)", at="2m") == 4
    (sample,) = engine.query("h", at="2m")
    assert sample.histogram is not None and sample.histogram.count == 4
    with pytest.raises(ValueError, match="native histogram, not a float"):
        engine.query_value("h", at="2m")

"""Options, ini keys, markers and hooks of the plugin, end to end with pytester."""

from __future__ import annotations

import pytest

from pytest_selfslo.plugin.config import (
    parse_feature_names,
    parse_globs,
    parse_percentage,
    parse_prometheus,
    parse_semantics,
)

SHOW_SETTINGS = """
def test_show(selfslo_settings):
    s = selfslo_settings
    print("SETTINGS", s.enabled, s.rules, s.rule_tests, s.prometheus, s.semantics,
          s.coverage_fail_under, s.report and s.report.name)
"""


@pytest.mark.parametrize(("value", "expected"), [
    ("auto", "auto"), ("EMBEDDED", "embedded"), (" local ", "local"), ("docker", "docker"),
    ("local:/opt/prom/prometheus", "local:/opt/prom/prometheus"), ("local: bin/p", "local:bin/p"),
    ("http://127.0.0.1:9090/", "http://127.0.0.1:9090"), ("https://prom.example:443", "https://prom.example:443"),
])
def test_prometheus_values_accepted(value: str, expected: str) -> None:
    assert parse_prometheus(value) == expected


@pytest.mark.parametrize("value", ["", "remote", "ftp://x", "http://", "127.0.0.1:9090", "local:",
                                   "local: "])
def test_prometheus_values_rejected(value: str) -> None:
    with pytest.raises(pytest.UsageError,
                       match=r"--self-slo-prometheus: expected one of auto, embedded, local, "
                             r"docker, local:PATH or an http\(s\):// URL, got"):
        parse_prometheus(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("2", "2.53"), ("3", "3.5"), ("v2.42.0", "2.42"), ("3.1", "3.1"), (" 2.53.3+ds1 ", "2.53")])
def test_semantics_accepted(value: str, expected: str) -> None:
    assert parse_semantics(value) == expected


@pytest.mark.parametrize("value", ["1", "4", "x", "", "2.x"])
def test_semantics_rejected(value: str) -> None:
    with pytest.raises(pytest.UsageError,
                       match=r"--self-slo-semantics: expected a Prometheus version such as 2, 3, "
                             r"2.42, 2.53, 3.5, got"):
        parse_semantics(value)


@pytest.mark.parametrize(("value", "expected"), [("0", 0.0), ("87.5", 87.5), ("100%", 100.0)])
def test_percentage_accepted(value: str, expected: float) -> None:
    assert parse_percentage(value) == expected


@pytest.mark.parametrize("value", ["-1", "100.1", "nan", "eighty", ""])
def test_percentage_rejected(value: str) -> None:
    with pytest.raises(pytest.UsageError, match=r"expected a percentage between 0 and 100, got"):
        parse_percentage(value)


def test_globs_split_on_commas_and_spaces() -> None:
    assert parse_globs("a/*.yml, b/*.yaml  c.yml") == ("a/*.yml", "b/*.yaml", "c.yml")
    with pytest.raises(pytest.UsageError, match="expected a glob pattern"):
        parse_globs(" , ")


def test_feature_names_split_on_commas_and_spaces() -> None:
    assert parse_feature_names("a,b  c, ") == ("a", "b", "c")
    assert parse_feature_names(" ") == ()


def test_enable_feature_option_is_repeatable_and_wins_over_the_ini(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_show(selfslo_settings):
            print("FEATURES", selfslo_settings.enable_feature)
    """)
    assert "FEATURES ()" in pytester.runpytest("-s").stdout.str()
    pytester.makeini("""
        [pytest]
        selfslo_enable_feature = promql-experimental-functions,
            promql-delayed-name-removal
    """)
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(["*FEATURES ('promql-experimental-functions', "
                                 "'promql-delayed-name-removal')"])
    result = pytester.runpytest("-s", "--self-slo-enable-feature=a,b",
                                "--self-slo-enable-feature", "c")
    result.stdout.fnmatch_lines(["*FEATURES ('a', 'b', 'c')"])


def test_defaults_without_any_configuration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SHOW_SETTINGS)
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SETTINGS False ('rules/*.yml', 'rules/*.yaml') "
                                 "('rules/tests/*.yml', 'rules/tests/*.yaml') "
                                 "auto None None None"])


def test_command_line_options_are_parsed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SHOW_SETTINGS)
    result = pytester.runpytest(
        "-s", "--self-slo-rules=a/*.yml,b/*.yml", "--self-slo-rule-tests=t/*.yml",
        "--self-slo-prometheus=embedded", "--self-slo-semantics=2",
        "--self-slo-coverage-fail-under=75", "--self-slo-report=out.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SETTINGS False ('a/*.yml', 'b/*.yml') ('t/*.yml',) "
                                 "embedded 2.53 75.0 out.json"])


def test_ini_keys_apply_and_command_line_wins(pytester: pytest.Pytester) -> None:
    pytester.makeini("""
        [pytest]
        selfslo_rules = alerts/*.yml
        selfslo_rule_tests = alerts/tests/*.yml
        selfslo_prometheus = embedded
        selfslo_semantics = 3
        selfslo_coverage_fail_under = 50
        selfslo_report = r.json
    """)
    pytester.makepyfile(SHOW_SETTINGS)
    result = pytester.runpytest("-s", "--self-slo-semantics=2")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SETTINGS False ('alerts/*.yml',) ('alerts/tests/*.yml',) "
                                 "embedded 2.53 50.0 r.json"])


def test_a_zero_on_the_command_line_still_wins_over_the_ini(pytester: pytest.Pytester) -> None:
    """``--self-slo-coverage-fail-under 0`` is falsy but explicit: it must override the ini."""
    pytester.makeini("""
        [pytest]
        selfslo_coverage_fail_under = 90
    """)
    pytester.makepyfile(SHOW_SETTINGS)
    result = pytester.runpytest("-s", "--self-slo-coverage-fail-under", "0")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*SETTINGS False * 0.0 None"])


@pytest.mark.parametrize(("args", "message"), [
    (["--self-slo-prometheus=remote"],
     "*--self-slo-prometheus: expected one of auto, embedded, local, docker, local:PATH or an "
     "http(s):// URL, got 'remote'*"),
    (["--self-slo-prometheus=local:nowhere/prometheus"],
     "*--self-slo-prometheus (command line): no such executable file: nowhere/prometheus "
     "(looked at *nowhere/prometheus)*"),
    (["--self-slo-promtool=./no-promtool"],
     "*--self-slo-promtool (command line): no such executable file: ./no-promtool*"),
    (["--self-slo-promtool=no-such-promtool-binary"],
     "*--self-slo-promtool (command line): no 'no-such-promtool-binary' on PATH*"),
    (["--self-slo-semantics=4"], "*--self-slo-semantics: expected a Prometheus version*got '4'*"),
    (["--self-slo-coverage-fail-under=120"],
     "*--self-slo-coverage-fail-under: expected a percentage between 0 and 100, got '120'*"),
    (["--self-slo", "--self-slo-slo=missing.yml"],
     "*--self-slo-slo (command line): no such file: missing.yml*"),
    (["--self-slo", "--self-slo-heartbeats=nope.jsonl"],
     "*--self-slo-heartbeats (command line): no such file: nope.jsonl*"),
    (["--self-slo-max-steps=0"], "*--self-slo-max-steps: expected a positive whole number, got '0'*"),
    (["--self-slo-max-samples=lots"],
     "*--self-slo-max-samples: expected a positive whole number, got 'lots'*"),
])
def test_bad_command_line_values_are_usage_errors(pytester: pytest.Pytester, args: list[str],
                                                   message: str) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(("ini", "message"), [
    ("selfslo_promtool = bin/promtool",
     "*--self-slo-promtool (ini selfslo_promtool): no such executable file: bin/promtool*"),
    ("selfslo_prometheus = sometimes",
     "*ini selfslo_prometheus: --self-slo-prometheus: expected one of*got 'sometimes'*"),
    ("selfslo_semantics = three",
     "*ini selfslo_semantics: --self-slo-semantics: expected a Prometheus version*"),
    ("selfslo_coverage_fail_under = lots", "*ini selfslo_coverage_fail_under: *got 'lots'*"),
    ("selfslo_enabled = maybe", "*selfslo_enabled: expected true or false, got 'maybe'*"),
    ("selfslo_enabled = true\nselfslo_slo = nowhere.yml",
     "*--self-slo-slo (ini selfslo_slo): no such file: nowhere.yml*"),
    ("selfslo_max_template_bytes = -5",
     "*ini selfslo_max_template_bytes: --self-slo-max-template-bytes: expected a positive whole "
     "number, got '-5'*"),
])
def test_unknown_ini_values_are_usage_errors(pytester: pytest.Pytester, ini: str,
                                             message: str) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_limits_come_from_the_command_line_then_the_ini_then_the_defaults(
        pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nselfslo_max_steps = 1_000\nselfslo_max_file_bytes = 2048\n")
    pytester.makepyfile("""
        def test_show(selfslo_settings, promql_engine):
            print("LIMITS", selfslo_settings.limits)
            assert promql_engine.engine.limits is selfslo_settings.limits
    """)
    result = pytester.runpytest("-s", "--self-slo-max-steps", "77")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*LIMITS Limits(max_samples=10000000, max_steps=77, "
                                 "max_template_bytes=1048576, max_file_bytes=2048)*"])


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.selfslo_prometheus: needs a real Prometheus*",
                                 "@pytest.mark.selfslo_slow: a slow SLO check*"])


def test_markers_pass_strict_markers_and_select(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.selfslo_slow
        def test_slow(): pass
        def test_fast(): pass
    """)
    result = pytester.runpytest("--strict-markers", "-m", "not selfslo_slow")
    result.assert_outcomes(passed=1, deselected=1)


def test_prometheus_marker_skips_with_reason_without_a_server(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(pytester.path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no.sock")
    pytester.makepyfile("""
        import pytest
        @pytest.mark.selfslo_prometheus
        def test_needs_server(): pass
    """)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*selfslo_prometheus: no real Prometheus: no 'prometheus' "
                                 "binary on PATH and no Docker daemon answers*"])


def test_prometheus_marker_skips_under_embedded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.selfslo_prometheus
        def test_needs_server(): pass
    """)
    result = pytester.runpytest("-rs", "--self-slo-prometheus=embedded")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*a real Prometheus is disabled (--self-slo-prometheus=embedded)*"])


def test_our_hooks_are_known_to_pytest(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        def pytest_selfslo_slo_spec(config):
            return None
        def pytest_selfslo_prometheus_started(server):
            pass
        def pytest_selfslo_coverage(config, coverage):
            pass
        def pytest_selfslo_report(config, report):
            pass
    """)
    pytester.makepyfile("""
        def test_hooks(pytestconfig):
            names = {h for h in dir(pytestconfig.hook) if h.startswith("pytest_selfslo_")}
            assert names == {"pytest_selfslo_slo_spec", "pytest_selfslo_prometheus_started",
                             "pytest_selfslo_coverage", "pytest_selfslo_report"}
    """)
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_misspelled_hook_argument_is_rejected(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        def pytest_selfslo_report(config, reprot):
            pass
    """)
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*pytest_selfslo_report*reprot*"])

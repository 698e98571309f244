"""Alert template rendering: Go text/template semantics and Prometheus helper output."""

from __future__ import annotations

import pytest

from pytest_selfslo._core.errors import TemplateError
from pytest_selfslo._core.gofmt import format_float_g, go_sprintf
from pytest_selfslo.template.parse import expand_template, parse_template

LABELS = {"instance": "localhost:9090", "job": "prometheus"}


def render(text: str, value: float = 0.5, **kw: object) -> str:
    return expand_template(text, "__alert_T", LABELS, value, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "value", "expected"), [
    ("Instance {{ $labels.instance }} down", 0.5, "Instance localhost:9090 down"),
    ("{{ .Labels.job }}/{{ $labels.missing }}|", 0.5, "prometheus/|"),
    ("{{ $value }}", 0.75, "0.75"),
    ("{{ $value }}", 1e6, "1e+06"),
    ("{{ $value }}", 123456.0, "123456"),
    ("{{ humanize $value }}", 1234567.0, "1.235M"),
    ("{{ humanize $value }}", 0.0012, "1.2m"),
    ("{{ humanize1024 $value }}", 1048576.0, "1Mi"),
    ("{{ $value | humanizePercentage }}", 0.1234567, "12.35%"),
    ("{{ humanizeDuration $value }}", 899.99, "14m 59s"),
    ("{{ humanizeDuration $value }}", 0.12345, "123.5ms"),
    ("{{ humanizeTimestamp $value }}", 1435065584.128, "2015-06-23 13:19:44.128 +0000 UTC"),
    ('{{ printf "%.2f" $value }}', 0.456, "0.46"),
    ("{{ if gt $value 0.5 }}hi{{ else if eq $value 0.5 }}eq{{ else }}lo{{ end }}", 0.5, "eq"),
    ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", 0.5,
     "instance=localhost:9090;job=prometheus;"),
    ("{{ with $labels.nope }}x{{ else }}none{{ end }}", 0.5, "none"),
    ("a  {{- $labels.job -}}  b", 0.5, "aprometheusb"),
    ("{{/* comment */}}c", 0.5, "c"),
    ('{{ reReplaceAll "(.*):(.*)" "$2" $labels.instance }}', 0.5, "9090"),
    ('{{ toUpper "ab" }}{{ title "foo bar" }}{{ len $labels }}', 0.5, "ABFoo Bar2"),
    ('{{ and 1 0 }} {{ or 0 "" "z" }} {{ not true }} {{ index $labels "job" }}', 0.5,
     "0 z false prometheus"),
    ('{{ if match "^local" $labels.instance }}yes{{ end }}', 0.5, "yes"),
    ("{{ $externalLabels.cluster }} {{ $externalURL }}", 0.5, "eu http://p"),
])
def test_render_matches_prometheus(text: str, value: float, expected: str) -> None:
    assert render(text, value, external_labels={"cluster": "eu"},
                  external_url="http://p") == expected


def test_execution_error_is_rendered_like_prometheus() -> None:
    # Go refuses to compare a float64 with an int constant
    out = render("{{ if gt $value 1 }}x{{ end }}")
    assert out.startswith("<error expanding template: ")
    assert "incompatible types for comparison" in out


@pytest.mark.parametrize(("text", "message"), [
    ("{{ $label.foo }}", 'undefined variable "$label"'),
    ('{{ query "up" }}', "'query' is not supported"),
    ('{{ define "x" }}{{ end }}', "{{define}} is not supported"),
    ('{{ template "x" }}', "{{template}} is not supported"),
    ("{{ if true }}", "unexpected EOF"),
    ("{{ nope }}", 'function "nope" not defined'),
    ("{{ end }}", "unexpected {{end}}"),
    ("{{ $labels.job ", "unclosed action"),
])
def test_bad_templates_raise_with_name(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as err:
        parse_template(text, "__alert_Down")
    assert "__alert_Down" in str(err.value)
    assert message in str(err.value)


@pytest.mark.parametrize(("value", "expected"), [
    (0.1, "0.1"), (1 / 3, "0.3333333333333333"), (1e21, "1e+21"), (1e-05, "1e-05"),
    (0.0001, "0.0001"), (-2.5, "-2.5"), (float("inf"), "+Inf"), (float("nan"), "NaN"),
])
def test_go_float_formatting(value: float, expected: str) -> None:
    assert format_float_g(value) == expected


def test_go_sprintf_bad_verbs_like_go() -> None:
    assert go_sprintf("%d", 1.5) == "%!d(float64=1.5)"
    assert go_sprintf("%s") == "%!s(MISSING)"
    assert go_sprintf("%s %5.1f|%-3d|", "a", 2.25, 7) == "a   2.2|7  |"


# Expected strings: promtool 2.42 output for the same templates (with label `i`
# instead of `job` in the first one, which shifts the column by 2).
@pytest.mark.parametrize(("text", "expected"), [
    ("{{ $labels.job | toUpper }}{{ 1 | toUpper }}",
     'template: __alert_A:1:146: executing "__alert_A" at <toUpper>: wrong type for value; '
     "expected string; got int"),
    ("{{ index $labels 1 }}",
     'template: __alert_A:1:115: executing "__alert_A" at <index $labels 1>: error calling index: '
     "value has type int; should be string"),
    ("{{ if gt $value 1 }}a{{ end }}",
     'template: __alert_A:1:118: executing "__alert_A" at <gt $value 1>: error calling gt: '
     "incompatible types for comparison"),
    ("{{ $labels.job.x }}",
     'template: __alert_A:1:122: executing "__alert_A" at <$labels.job.x>: can\'t evaluate field x '
     "in type string"),
])
def test_execution_errors_match_go_positions(text: str, expected: str) -> None:
    out = expand_template(text, "__alert_A", LABELS, 0.5)
    assert out == f"<error expanding template: error executing template __alert_A: {expected}>"


def test_title_and_timestamp_like_go() -> None:
    assert render('{{ title "don\'t o\'neil x.y_z 3am éa" }}') == "Don'T O'Neil X.Y_z 3am Éa"
    assert render("{{ humanizeTimestamp 0.0015 }}") == "1970-01-01 00:00:00.001 +0000 UTC"
    assert render('{{ printf "%s" 1 2 }}') == "%!s(int=1)%!(EXTRA int=2)"

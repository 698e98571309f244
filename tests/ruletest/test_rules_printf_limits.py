"""printf widths and precisions past Go's limit: what promtool prints, not a gigabyte.

Go's ``fmt`` stops reading a width or precision once it exceeds 10^6 and a
digit follows ("crazy long number"), consumes the rest of the format and
prints ``%!(NOVERB)``; our ``go_sprintf`` does the same, so
``printf "%0999999999d"`` costs nothing. Checked against real promtool 2.x
and 3.x where present.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_selfslo._core.gofmt import go_sprintf
from pytest_selfslo.errors import LimitError
from pytest_selfslo.template.parse import expand_template

PROMTOOLS = ("/usr/bin/promtool", "/work/cache/prom-trixie/usr/bin/promtool",
             "/work/cache/prom-sid/usr/bin/promtool")
TEMPLATES = {
    "width": '{{ printf "%0999999999d" 1 }}',
    "precision": '{{ printf "%.99999999f|%s" 1.5 "x" }}',
    "largest_width": '{{ printf "%07d|%010000009d" 1 2 | len }}',
    "text_after": '{{ printf "a%099999999d b %s" 1 "x" }}',
}


@pytest.mark.parametrize(("fmt", "args", "expected"), [
    ("%0999999999d", (5,), "%!(NOVERB)%!(EXTRA int=5)"),
    ("a%010000010d b %s", (5, "x"), "a%!(NOVERB)%!(EXTRA int=5, string=x)"),
    ("%.99999999f", (1.5,), "%!(NOVERB)%!(EXTRA float64=1.5)"),
    ("%05d|%3s", (7, "ab"), "00007| ab"),
])
def test_go_sprintf_gives_up_on_crazy_long_numbers(fmt: str, args: tuple[object, ...],
                                                   expected: str) -> None:
    assert go_sprintf(fmt, *args) == expected


def test_the_largest_width_go_accepts_is_bounded_by_the_template_budget() -> None:
    assert len(go_sprintf("%010000009d", 1)) == 10_000_009  # 10^6 * 10 + 9: Go accepts it
    assert expand_template('{{ printf "%010000009d" 1 | len }}', "t", {}, 1.0,
                           max_bytes=20_000_000) == "10000009"
    with pytest.raises(LimitError, match="printf returned 10,000,009 characters"):
        expand_template('{{ printf "%010000009d" 1 }}', "t", {}, 1.0)


@pytest.mark.parametrize("binary", PROMTOOLS)
def test_promtool_renders_the_same(binary: str, tmp_path: Path) -> None:
    if not Path(binary).exists() or shutil.which(binary) is None:
        pytest.skip(f"no promtool at {binary} (Debian package, or .ci/fetch-prometheus)")
    ours = {key: expand_template(text, "__alert_A", {}, 1.0, max_bytes=20_000_000)
            for key, text in TEMPLATES.items()}
    annotations = "\n".join(f"      {key}: {json.dumps(text)}" for key, text in TEMPLATES.items())
    (tmp_path / "rules.yml").write_text(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: vector(1)\n    annotations:\n"
        f"{annotations}\n", encoding="utf-8")
    expected = "\n".join(f"        {key}: {json.dumps(value)}" for key, value in ours.items())
    (tmp_path / "test.yml").write_text(
        "rule_files: [rules.yml]\ntests:\n- input_series: []\n  alert_rule_test:\n"
        "  - alertname: A\n    eval_time: 0m\n    exp_alerts:\n    - exp_labels: {}\n"
        f"      exp_annotations:\n{expected}\n", encoding="utf-8")
    proc = subprocess.run([binary, "test", "rules", "test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (ours, proc.stdout + proc.stderr)

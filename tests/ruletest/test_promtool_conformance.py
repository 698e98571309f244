"""Every promtool unit-test file of ../shared/conformance gets promtool's verdict.

The expected verdicts come from the table in that folder's README (current
Prometheus). The embedded engine always enables ``@`` and negative offsets, so
the "disabled" rows do not apply; the native-histogram file is declared
unsupported.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from pytest_selfslo.ruletest.runner import run_rule_tests

#: the release the README's verdicts are those of (the data's commit is after 3.9)
CURRENT = "3.9"

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT.parent / "shared" / "conformance" / "promtool"
UNSUPPORTED = {"unittest.yml": "uses native-histogram samples, which the embedded engine "
                               "does not support (float samples only)"}


def _rows() -> list[tuple[str, str, int]]:
    readme = FOLDER.parent / "README.md"
    if not readme.is_file():
        return []
    rows = []
    for line in readme.read_text().splitlines():
        match = re.match(r"\|\s*(\S+\.yml)\s*\|\s*(.*?)\s*\|\s*(\d)", line)
        if match:
            rows.append((match.group(1), match.group(2), int(match.group(3))))
    return rows


ROWS = _rows()


@pytest.mark.skipif(not ROWS, reason=f"conformance data not found at {FOLDER}")
@pytest.mark.parametrize(("name", "options", "exit_code"), ROWS or [("-", "-", 0)],
                         ids=[f"{n}[{o}]" for n, o, _ in ROWS] or ["absent"])
def test_promtool_verdict(name: str, options: str, exit_code: int) -> None:
    if "disabled" in options:
        pytest.skip("@ modifier and negative offsets are always enabled in the embedded engine")
    if name in UNSUPPORTED:
        pytest.skip(UNSUPPORTED[name])
    run = [v for k, v in zip(shlex.split(options.strip("`"))[::2],
                             shlex.split(options.strip("`"))[1::2], strict=False) if k == "--run"]
    # the README gives current Prometheus' verdicts (start_timestamp came in 3.9)
    report = run_rule_tests([str(FOLDER / name)], run=run or None, semantics=CURRENT,
                            ignore_unknown_fields="ignore unknown fields" in options)
    assert report.exit_code == exit_code, report.format_text()
    if exit_code:
        assert "FAILED" in report.format_text()


@pytest.mark.skipif(not (FOLDER / "unittest.yml").is_file(),
                    reason=f"conformance data not found at {FOLDER}")
def test_unittest_yml_without_native_histograms(tmp_path: Path) -> None:
    """The float parts of unittest.yml (staleness, lookback, ALERTS, intervals) all pass."""
    import shutil

    import yaml

    doc = yaml.safe_load((FOLDER / "unittest.yml").read_text())
    dropped = 0
    for group in doc["tests"]:
        series = group.get("input_series") or []
        keep = [s for s in series if not str(s["values"]).startswith("{{")]
        dropped += len(series) - len(keep)
        group["input_series"] = keep
        cases = group.get("promql_expr_test") or []
        group["promql_expr_test"] = [c for c in cases
                                     if not any("histogram" in s for s in c.get("exp_samples") or [])]
    assert dropped == 3
    for rule_file in doc["rule_files"]:
        shutil.copy(FOLDER / rule_file, tmp_path / rule_file)
    (tmp_path / "unittest.yml").write_text(yaml.safe_dump(doc))
    report = run_rule_tests([str(tmp_path / "unittest.yml")])
    assert report.passed, report.format_text()
    assert sum(len(f.groups) for f in report.files) == 5

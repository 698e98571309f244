"""``selfslo test-rules`` gives each real promtool's verdict on the conformance files and rules/tests.

For every promtool binary available (``$SELFSLO_PROMTOOLS``; 2.42, 2.53 and
3.5 in CI) and every promtool unit-test file of ``../shared/conformance/promtool``
and ``rules/tests``, the embedded runner reads the file with that release's
fields and defaults (``semantics="2.53"``: e.g. no ``start_timestamp`` before
3.9, no default group ``interval`` before 2.49) and must pass exactly when
promtool passes. Skipped, with the reason, without a promtool or the data.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from promtool_runs import Promtool

from pytest_selfslo.rulefmt.releases import SAMPLE_HISTOGRAM
from pytest_selfslo.ruletest.runner import run_rule_tests

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "promtool"
FILES = sorted(
    [p for p in CONFORMANCE.glob("*.yml") if "\ntests:" in "\n" + p.read_text(encoding="utf-8")]
    + list((ROOT / "rules" / "tests").glob("*.yml")))
NATIVE_HISTOGRAMS = {"unittest.yml"}


@pytest.mark.parametrize("path", FILES or [None], ids=[
    f"{p.parent.name}/{p.name}" for p in FILES] or ["no-files"])
def test_embedded_verdict_is_promtools(promtool_bin: Promtool, path: Path | None) -> None:
    if path is None:
        pytest.skip(f"no promtool test files at {CONFORMANCE} or rules/tests")
    release = promtool_bin.version[:2]
    if path.name in NATIVE_HISTOGRAMS and release >= SAMPLE_HISTOGRAM:
        pytest.skip("native-histogram samples: the embedded engine has float samples only")
    proc = subprocess.run([promtool_bin.path, "test", "rules", path.name], cwd=path.parent,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    report = run_rule_tests([str(path)], semantics=f"{release[0]}.{release[1]}")
    assert report.exit_code == proc.returncode, (
        f"promtool {promtool_bin.name} exit {proc.returncode}, ours {report.exit_code}\n"
        f"--- promtool ---\n{proc.stdout}{proc.stderr}\n--- ours ---\n{report.format_text()}")


@pytest.mark.skipif(not (CONFORMANCE / "start-time-test.yml").is_file(),
                    reason=f"conformance data not found at {CONFORMANCE}")
@pytest.mark.parametrize(("name", "verdicts"), [
    # semantics -> exit code ("2" is 2.53, "3" is 3.5, as for the engine)
    ("no-test-group-interval.yml", {"2.42": 1, "2.48": 1, "2.49": 0, "2": 0, "3": 0}),
    ("start-time-test.yml", {"2": 1, "2.53": 1, "3.5": 1, "3": 1, "3.9": 0}),
])
def test_version_specific_formats(name: str, verdicts: dict[str, int]) -> None:
    got = {sem: run_rule_tests([str(CONFORMANCE / name)], semantics=sem).exit_code
           for sem in verdicts}
    assert got == verdicts
    text = run_rule_tests([str(CONFORMANCE / name)], semantics="3.5").format_text()
    if name == "start-time-test.yml":
        assert "start-time-test.yml:23:5: tests[1]: field 'start_timestamp' not found" in text


def test_cli_takes_a_release(tmp_path: Path) -> None:
    test = tmp_path / "t.yml"
    test.write_text("fuzzy_compare: true\ntests: []\n")
    ok = subprocess.run(["selfslo", "test-rules", "--semantics", "3.5", str(test)],
                        capture_output=True, text=True, timeout=120, check=False)
    old = subprocess.run(["selfslo", "test-rules", "--semantics", "v2.53.3", str(test)],
                         capture_output=True, text=True, timeout=120, check=False)
    bad = subprocess.run(["selfslo", "test-rules", "--semantics", "4.0", str(test)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert (ok.returncode, old.returncode, bad.returncode) == (0, 1, 2), (ok, old, bad)
    assert "t.yml:1:1: test file: field 'fuzzy_compare' not found" in old.stderr + old.stdout
    assert "must be a Prometheus version such as 2, 3, 2.42, 2.53 or 3.5, got '4.0'" in bad.stderr

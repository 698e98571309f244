"""``selfslo lint``: formats, exit codes, usage errors; the conformance files never crash it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_selfslo.cli import main
from pytest_selfslo.lint.findings import CHECKS
from pytest_selfslo.lint.runner import lint_paths

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "promtool"
BAD = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: self_stress > 1\n"


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    path = tmp_path / "bad.yml"
    path.write_text(BAD)
    return path


def test_text_output_and_exit_code(bad_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(bad_file)]) == 1
    out, err = capsys.readouterr()
    assert f"{bad_file}:5:15 SL031 " in out
    assert f"{bad_file}:4:16 SL021 " in out
    assert "error(s)" in err


def test_json_output(bad_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "json", str(bad_file)]) == 1
    data = json.loads(capsys.readouterr().out)
    entry = next(d for d in data if d["code"] == "SL031")
    assert entry == {"path": str(bad_file), "line": 5, "column": 15, "code": "SL031",
                     "severity": "error", "name": "impossible-comparison",
                     "message": entry["message"]}


def test_github_output(bad_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lint", "--format", "github", "--disable", "SL021,SL022", "--disable", "SL020",
          str(bad_file)])
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"::error file={bad_file},line=5,col=15,title=SL031 impossible-comparison::"
                   "group \"g\", rule 1, \"A\": comparison '> 1' is never true: self_stress is "
                   "always in [0, 1]"]


def test_warnings_only_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.yml"
    path.write_text("groups:\n  - name: g\n    rules:\n      - record: r\n"
                    "        expr: avg_over_time(self_stress[30s])\n")
    assert main(["lint", str(path)]) == 0
    assert "SL035" in capsys.readouterr().out


def test_clean_project_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(ROOT / "rules"), "--slo", "default", "--policy", "default"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("argv", "message"), [
    (["lint"], "expected at least one PATH"),
    (["lint", "/nonexistent/x.yml"], "/nonexistent/x.yml: no such file or directory"),
    (["lint", "rules", "--disable", "SL999"], "--disable: unknown lint check 'SL999'"),
    (["lint", "rules", "--scrape-interval", "soon"], "expected a duration such as '5m'"),
])
def test_usage_errors_exit_2(argv: list[str], message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_list_checks_names_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--list-checks"]) == 0
    out = capsys.readouterr().out
    assert all(code in out for code in CHECKS)


def test_every_check_is_documented() -> None:
    doc = (ROOT / "docs" / "lint.md").read_text()
    for check in CHECKS.values():
        assert f"## {check.code} {check.name}" in doc, check.code


needs_conformance = pytest.mark.skipif(not CONFORMANCE.is_dir(),
                                       reason=f"conformance data not found at {CONFORMANCE}")

KNOWN_BAD = {
    "bad-promql.yml": "SL036",
    "bad-rules-syntax.yml": "SL003",
    "bad-rules-error.yml": "SL036",
    "rules-bad.yml": "SL004",
    "rules_duplicates.yml": "SL011",
    "bad-input-series.yml": "SL005",
    "rules_extrafields.yml": "SL002",
}


@needs_conformance
@pytest.mark.parametrize("name", sorted(p.name for p in CONFORMANCE.glob("*.yml"))
                         if CONFORMANCE.is_dir() else [])
def test_conformance_file_never_crashes(name: str) -> None:
    # a file is linted alone; its unit test (feeding SL036) only when it is given too
    partner = CONFORMANCE / name.replace(".yml", "-test.yml")
    findings = lint_paths([CONFORMANCE / name, *([partner] if partner.is_file() else [])])
    assert all(f.code in CHECKS for f in findings)
    if name in KNOWN_BAD:
        assert KNOWN_BAD[name] in {f.code for f in findings}, [f.format() for f in findings]


def test_package_exports_resolve() -> None:
    import pytest_selfslo.lint as pkg

    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = pkg.nope


def test_severities_option(bad_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_file.write_text(BAD.replace("      - alert: A\n", "      - alert: A\n"
                                    "        labels: {severity: page}\n"))
    main(["lint", str(bad_file), "--severities", "page,ticket"])
    assert "SL021" not in capsys.readouterr().out
    main(["lint", str(bad_file)])
    assert "label severity: expected one of critical, info, warning, got 'page'" in \
        capsys.readouterr().out


def test_github_format_escapes_properties_and_newlines() -> None:
    from pytest_selfslo.cli.lint import format_findings
    from pytest_selfslo.lint.findings import Finding, Severity

    f = Finding("a,b:c.yml", 1, 2, "SL035", Severity.WARNING, "50% done\nnext")
    assert format_findings([f], "github") == (
        "::warning file=a%2Cb%3Ac.yml,line=1,col=2,title=SL035 short-range::50%25 done%0Anext")

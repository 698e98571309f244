"""``--changed-since REF``: only what changed since a git revision is reported (like pint ci)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fakeprom import FakePrometheus

from pytest_selfslo._core.gitdiff import changed_since
from pytest_selfslo.cli import main

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

ALERT = """\
      - alert: {name}
        expr: {expr}
        for: 5m
        labels: {{severity: warning}}
        annotations: {{summary: s, runbook_url: "https://runbooks.example/x"}}
"""


def rules(*alerts: tuple[str, str]) -> str:
    return "groups:\n  - name: g\n    rules:\n" + "".join(
        ALERT.format(name=n, expr=e) for n, e in alerts)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git(tmp_path, "init", "-q")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yml").write_text(rules(
        ("Old", "self_stress > 1"), ("Stays", "self_presence < -1"), ("Fine", "self_stress > 0.3")))
    (tmp_path / "rules" / "b.yml").write_text(rules(("Other", "self_coherence > 2")))
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def findings(capsys: pytest.CaptureFixture[str]) -> list[tuple[str, int, str]]:
    return sorted((Path(d["path"]).name, d["line"], d["code"])
                  for d in json.loads(capsys.readouterr().out))


def test_only_findings_in_changed_rules_and_new_files(repo: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "rules", "--format", "json"]) == 1
    assert len(findings(capsys)) == 3  # Old, Stays, Other: SL031 each
    lines = (repo / "rules" / "a.yml").read_text().split("\n")
    assert lines[4].endswith("self_stress > 1") and lines[15].endswith("for: 5m")
    lines[4] += ".5"                    # Old's expression
    lines[15] = lines[15][:-2] + "6m"   # Fine's for
    (repo / "rules" / "a.yml").write_text("\n".join(lines))
    (repo / "rules" / "new.yml").write_text(rules(("Brand", "self_stress < -2")))
    assert main(["lint", "rules", "--format", "json", "--changed-since", "HEAD"]) == 1
    # Old changed (its expr), Fine changed (its for, no finding), Stays untouched: dropped;
    # b.yml untouched: dropped; new.yml untracked: all of it
    assert findings(capsys) == [("a.yml", 5, "SL031"), ("new.yml", 5, "SL031")]


def test_nothing_changed_reports_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "rules", "--changed-since", "HEAD"]) == 0
    assert capsys.readouterr().out == ""


def test_a_deleted_line_marks_its_rule_changed(repo: Path) -> None:
    path = repo / "rules" / "b.yml"
    path.write_text(path.read_text().replace("        for: 5m\n", ""))
    changes = changed_since("HEAD", ["rules"])
    assert changes.touches(str(path), 4, 8) and not changes.touches(str(path), 1, 3)


def test_bad_revision_or_no_repository_is_a_usage_error(
        repo: Path, tmp_path_factory: pytest.TempPathFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "rules", "--changed-since", "no-such-ref"]) == 2
    assert "--changed-since" in capsys.readouterr().err
    outside = tmp_path_factory.mktemp("nogit")
    (outside / "r.yml").write_text(rules(("A", "self_stress > 1")))
    assert main(["lint", str(outside / "r.yml"), "--changed-since", "HEAD"]) == 2
    assert "not a git repository" in capsys.readouterr().err.lower()


def test_test_rules_reports_changed_tests_and_rules(repo: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "rules" / "a.yml").write_text(rules(("Fine", "self_stress > 0.3"),
                                                ("Quiet", "self_presence < 0.1")))
    tests = repo / "rules" / "t.yml"
    tests.write_text("rule_files: [a.yml]\nevaluation_interval: 1m\ntests:\n"
                     "  - name: wrong\n    interval: 1m\n    input_series:\n"
                     "      - series: 'self_stress{token_id=\"a\"}'\n        values: '0.9x10'\n"
                     "    alert_rule_test:\n      - eval_time: 8m\n        alertname: Fine\n"
                     "        exp_alerts: []\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "tests")
    assert main(["test-rules", str(tests), "--changed-since", "HEAD", "--coverage"]) == 0
    assert capsys.readouterr().out == ""
    (repo / "rules" / "a.yml").write_text(rules(("Fine", "self_stress > 0.3"),
                                                ("Quiet", "self_presence < 0.2")))
    assert main(["test-rules", str(tests), "--changed-since", "HEAD", "--coverage"]) == 1
    out = [line for line in capsys.readouterr().out.splitlines()
           if re.match(r"^\S+:\d+:\d+ RT\d{3} ", line)]
    # the failing test loads the changed file; of the untested rules only Quiet changed
    assert sorted(line.split(" ")[1] for line in out) == ["RT001", "RT003"]
    assert any("a.yml:9:9 RT003" in line and "Quiet" in line for line in out)


def test_online_checks_only_query_for_changed_rules(repo: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "rules" / "b.yml").unlink()
    (repo / "rules" / "a.yml").write_text(rules(("Typo", "app_request_total > 100"),
                                                ("Elsewhere", "app:requests:rate5m > 100")))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "online")
    (repo / "rules" / "a.yml").write_text(rules(("Typo", "app_request_total > 101"),
                                                ("Elsewhere", "app:requests:rate5m > 100")))
    with FakePrometheus() as fake:
        assert main(["lint", "rules", "--format", "json", "--prometheus", fake.url,
                     "--changed-since", "HEAD"]) == 1
        asked = " ".join(fake.queries)
    assert findings(capsys) == [("a.yml", 5, "SL050")]
    assert "app_request_total" in asked and "app%3Arequests" not in asked
    assert "requests%3Arate5m" not in asked and "/api/v1/rules" not in asked

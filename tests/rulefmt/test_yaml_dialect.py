"""Go's YAML dialect, case by case, as real promtool 2.42, 2.53 and 3.5 read it.

Prometheus reads rule files with ``gopkg.in/yaml.v3`` (a ``Decoder`` with
``KnownFields(true)``, ``model/rulefmt``) and promtool test files with
``gopkg.in/yaml.v2`` ``UnmarshalStrict`` (``cmd/promtool/unittest.go``), the
same two libraries (v2.4.0, v3.0.1) in all three releases. Each directory of
``yaml_dialect/`` is one case (merge keys, Go's scalar resolution, duplicate
keys, aliases, hostile input, fields that came and went between releases);
``manifest.json`` holds the verdict each promtool gave
(``record_yaml_dialect.py`` writes it).

* :func:`test_our_verdict_is_promtools` runs our loader or test runner on every
  case with the format of each recorded release and wants the same verdict;
  where promtool names the line of a YAML problem, our message names it too
  (a file the reader refuses for a limit, such as a billion-laughs bomb, names
  the limit and the alias instead).
* :func:`test_recorded_verdict_is_still_promtools` reruns the case through
  each real promtool present and wants the recorded verdict (skipped, with
  the reason, for releases not installed).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
from promtool_runs import Promtool, available

from pytest_selfslo.rulefmt.rulefile import check_rule_file, format_problems
from pytest_selfslo.ruletest.runner import run_rule_tests

CORPUS = Path(__file__).resolve().parent / "yaml_dialect"
PROMTOOLS = available()
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))["cases"]
RECORDED = sorted((name, version) for name, case in MANIFEST.items() for version in case["verdicts"])
#: where promtool names a line: yaml errors ("line 7:"), rulefmt positions ("rules.yml: 5:15:")
_LINE = re.compile(r"(?:^|\s)line (\d+)[:,]|\.yml: (\d+):\d+:")


def _ours(name: str, version: str) -> tuple[int, str]:
    """Our exit code and output for one case under the file format of ``version``."""
    case = CORPUS / name
    if (case / "test.yml").is_file():
        report = run_rule_tests([str(case / "test.yml")], semantics=version)
        return report.exit_code, report.format_text()
    problems = check_rule_file(case / "rules.yml", semantics=version)
    return (1 if problems else 0), format_problems(problems)


@pytest.mark.parametrize(("name", "version"), RECORDED, ids=[f"{n}@{v}" for n, v in RECORDED])
def test_our_verdict_is_promtools(name: str, version: str) -> None:
    recorded = MANIFEST[name]["verdicts"][version]
    code, text = _ours(name, version)
    assert code == recorded["exit"], (
        f"{name} ({MANIFEST[name]['note']}): promtool {version} exit {recorded['exit']}, "
        f"ours {code}\n--- promtool ---\n" + "\n".join(recorded["output"])
        + f"\n--- ours ---\n{text}")
    assert "Traceback" not in text
    lines = [int(a or b) for a, b in _LINE.findall("\n".join(recorded["output"]))]
    # a bomb is refused by the reader's limits (MAX_...) before any field is looked at
    if code and lines and "(MAX_" not in text:
        assert f":{lines[0]}:" in text, (name, recorded["output"], text)


def _recorder() -> Any:
    """``record_yaml_dialect.py`` (beside this file; not importable by name under xdist)."""
    spec = importlib.util.spec_from_file_location(
        "record_yaml_dialect", Path(__file__).with_name("record_yaml_dialect.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _promtool_for(version: str, promtools: list[Promtool]) -> Promtool | None:
    return next((p for p in promtools if f"{p.version[0]}.{p.version[1]}" == version), None)


@pytest.mark.parametrize(("name", "version"), RECORDED, ids=[f"{n}@{v}" for n, v in RECORDED])
def test_recorded_verdict_is_still_promtools(name: str, version: str) -> None:
    run = _recorder().run
    promtool = _promtool_for(version, PROMTOOLS)
    if promtool is None:
        pytest.skip(f"no promtool {version} here (set $SELFSLO_PROMTOOLS; .ci/run does)")
    code, output = run(promtool.path, CORPUS / name)
    assert code == MANIFEST[name]["verdicts"][version]["exit"], output


def test_the_corpus_covers_the_issue() -> None:
    """Merge keys in rules and tests, Go scalars, duplicates and bombs are all there."""
    for needed in ("rules-merge-common", "rules-merge-list", "rules-merge-unknown-key",
                   "test-merge-series-defaults", "test-merge-list-ok", "test-merge-unknown-key",
                   "test-value-float-6E-01", "test-value-float-8E-1", "test-value-bool-yes",
                   "test-value-int-octal-0o17", "test-value-int-1_000", "test-value-inf",
                   "test-value-tilde", "test-value-timestamp", "test-duplicate-key",
                   "rules-duplicate-key", "rules-billion-laughs", "test-deep-nesting"):
        assert needed in MANIFEST, needed
    assert {v for case in MANIFEST.values() for v in case["verdicts"]} >= {"2.42", "2.53", "3.5"}

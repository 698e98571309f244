"""Every file a user names, as an attacker would name it (issue 21, items 5 and 6; acceptance 1).

Special files: a FIFO nobody writes to blocks ``open()`` forever and
``/dev/zero`` never ends. Hostile YAML: a billion-laughs alias bomb, nesting
50,000 deep. Each is handed to every command that reads a file of that kind
-- the SLO spec (``replay``, ``lint``, ``serve``, ``selfslo slo``), the canary
policy (``canary``, ``lint``, ``serve``), the lint configuration, a series file
of ``canary simulate``, a Kubernetes manifest of rule files -- and each must
end by itself in bounded time and memory, not by a signal, without a
traceback, with exit 2 and one line naming the file (``lint`` reports a bad
rule file as an SL001 finding at ``file:line:col`` and exits 1).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _limits import REPO, _environment, run_limited, selfslo

HEARTBEATS = REPO / "fixtures" / "identity.jsonl"
#: nine levels of ten aliases each: 10^9 nodes once expanded
BOMB = "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10) if i else ', '.join(['x'] * 10)}]\n"
    for i in range(9))
DEEP = "[" * 50_000 + "]" * 50_000

#: command -> (argv with {} for the file, what its error says it was reading)
READERS: dict[str, tuple[tuple[str, ...], str]] = {
    "replay --slo": (("replay", "--slo", "{}", "--file", str(HEARTBEATS)), "SLO spec"),
    "lint --slo": (("lint", "{rules}", "--slo", "{}"), "SLO spec"),
    "lint --policy": (("lint", "{rules}", "--policy", "{}"), "policy file"),
    "lint --config": (("lint", "{rules}", "--config", "{}"), "lint configuration"),
    "canary status --policy": (("canary", "status", "--policy", "{}", "--state-dir", "{state}"),
                               "policy file"),
    "serve --policy": (("serve", "--port", "1", "--policy", "{}", "--state-dir", "{state}"),
                       "policy file"),
    "serve --slo-spec": (("serve", "--port", "1", "--slo-spec", "{}", "--state-dir", "{state}"),
                         "SLO spec"),
    "slo import": (("slo", "import", "{}"), "SLO spec"),
    "slo generate": (("slo", "generate", "{}"), "SLO spec"),
    "canary simulate --series": (("canary", "simulate", "--series", "{}"), "series file"),
}


def _argv(command: str, path: Path | str, tmp_path: Path) -> list[str]:
    rules = tmp_path / "rules.yml"
    if not rules.exists():
        rules.write_text("groups: []\n")
    template, _what = READERS[command]
    return selfslo(*(part.format(path, rules=rules, state=tmp_path / "state")
                     for part in template))


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
@pytest.mark.parametrize("command", sorted(READERS))
def test_special_files_are_refused_without_blocking(tmp_path: Path, fifo: Path, command: str,
                                                    special: str) -> None:
    path = fifo if special == "fifo" else Path(special)
    outcome = run_limited(_argv(command, path, tmp_path))
    kind = "FIFO (named pipe)" if special == "fifo" else "character device"
    outcome.assert_clean_error(2, [str(path), READERS[command][1], f"is a {kind}, expected a "
                                                                  "regular file"])


@pytest.mark.parametrize(("command", "key"), [
    ("replay --slo", "objectives"), ("canary status --policy", "steps"),
    ("serve --policy", "steps"), ("canary simulate --series", "input_series")])
@pytest.mark.parametrize("shape", ["bomb", "deep"])
def test_hostile_yaml_is_refused_at_its_position(tmp_path: Path, command: str, key: str,
                                                 shape: str) -> None:
    path = tmp_path / "hostile.yml"
    path.write_text(BOMB + f"{key}: *a8\n" if shape == "bomb" else f"{key}: {DEEP}\n")
    outcome = run_limited(_argv(command, path, tmp_path))
    if shape == "bomb":  # the alias that tips the expansion over Go's ratio: a3's first *a2
        expected = [f"{path}:4:", "excessive aliasing: *a2"]
    else:
        expected = [f"{path}:1:", "nesting deeper than 1000 levels (MAX_DEPTH)"]
    outcome.assert_clean_error(2, expected)


def test_a_policy_file_over_the_document_limit_is_refused_unread(tmp_path: Path) -> None:
    """A sparse 100 GB file costs nothing: its size is checked before anything is read."""
    path = tmp_path / "huge.yml"
    with path.open("wb") as fh:
        fh.truncate(100 << 30)
    outcome = run_limited(_argv("canary status --policy", path, tmp_path))
    outcome.assert_clean_error(2, [str(path), "the policy file is larger than 67108864 bytes"])


MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
data:
  a.yml: |
    groups: []
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: hostile}
spec:
  groups: %s
"""


@pytest.mark.parametrize("shape", ["bomb", "deep", "syntax"])
def test_hostile_manifest_is_one_finding_at_its_position(tmp_path: Path, shape: str) -> None:
    """Manifests are read by the one YAML reader too: its limits hold in every document."""
    path = tmp_path / "manifest.yml"
    if shape == "bomb":  # in the second document: every document is bounded
        path.write_text(MANIFEST % "[]" + "---\n" + BOMB + "y: *a8\n")
    elif shape == "deep":
        path.write_text(MANIFEST % DEEP)
    else:
        path.write_text(MANIFEST % "[unclosed")
    outcome = run_limited(selfslo("lint", path))
    outcome.assert_ended_cleanly(1)
    (line,) = outcome.stdout.splitlines()
    expected = {"bomb": f"{path}:17:10 SL001 ",  # a3's first *a2, line 4 of the bomb
                "deep": f"{path}:12:1009 SL001 ",  # the 1001st level of nesting
                "syntax": f"{path}:13:1 SL001 "}
    assert line.startswith(expected[shape]), outcome.describe()
    assert {"bomb": "excessive aliasing", "deep": "MAX_DEPTH",
            "syntax": "invalid YAML"}[shape] in line, outcome.describe()


def test_pytest_refuses_a_special_file_as_the_slo_spec(tmp_path: Path, fifo: Path) -> None:
    outcome = run_limited([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--self-slo", "--self-slo-slo", str(fifo), str(tmp_path)],
                          cwd=tmp_path, wall=30, cpu=30)
    outcome.assert_ended_cleanly(4)  # pytest's usage error
    assert f"--self-slo-slo (command line): not a regular file: {fifo}" in outcome.stderr, \
        outcome.describe()


def test_pytest_sniffs_a_named_bomb_without_expanding_it(tmp_path: Path) -> None:
    """A YAML file named on the command line is classified by its top-level keys, read by
    the one YAML reader (bounded): the bomb becomes the rule file's failed ``::valid``."""
    path = tmp_path / "bomb.yml"
    path.write_text(BOMB + "groups: *a8\n")
    outcome = run_limited([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "-rN", "--tb=line", "--self-slo", f"{path}::valid"], cwd=tmp_path,
                          wall=30, cpu=30)
    outcome.assert_ended_cleanly(1)
    assert "bomb.yml:4:10: document contains excessive aliasing" in outcome.stdout, \
        outcome.describe()


# -- a closed pipe (item: `selfslo lint rules | head -1`) -------------------------------------

@pytest.mark.parametrize("command", ["lint", "canary history"])
def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path, command: str) -> None:
    """The reader of stdout closes it before a byte is read: exit 141 (128 + SIGPIPE, as a
    shell reports for ``cat``), nothing on stderr -- no "Broken pipe", no traceback."""
    state = tmp_path / "state"
    if command == "lint":
        bad = tmp_path / "bad.yml"  # one finding per rule: plenty of output
        bad.write_text("groups:\n  - name: g\n    rules:\n"
                       + "".join(f"      - alert: A{i}\n        expr: up ==\n" for i in range(300)))
        argv = selfslo("lint", bad)
    else:
        for value in ("0.1", "0.25", "0.5"):
            run_limited(selfslo("canary", "set", value, "--reason", "r", "--state-dir", state)
                        ).assert_ended_cleanly(0)
        argv = selfslo("canary", "history", "--state-dir", state)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_environment(None))
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command writes anything
    try:
        err = proc.stderr.read()
        code = proc.wait(timeout=60)
    finally:
        proc.kill()
    assert code == 141, err.decode()
    assert err == b""


# -- item 4: rollback_alerts patterns run on RE2 -------------------------------------------

ROLLBACK_CHILD = """
import sys
from pytest_selfslo.canary.policy import load_policy
policy = load_policy(sys.argv[1])
hostile = {"alertname": "a" * 40, "severity": "critical"}
print(sum(m.matches(hostile) for m in policy.rollback_alerts for _ in range(1000)),
      sum(m.matches({"alertname": "a" * 40 + "b"}) for m in policy.rollback_alerts))
"""


def test_rollback_alert_patterns_match_in_linear_time(tmp_path: Path) -> None:
    """``(a+)+b`` on 40 ``a``s backtracked for minutes in Python's ``re``; 1000 matches on
    RE2 take milliseconds. The pattern is anchored like Alertmanager's ``=~``."""
    policy = tmp_path / "policy.yml"
    policy.write_text('rollback_alerts:\n  - {alertname: "(a+)+b"}\n')
    outcome = run_limited([sys.executable, "-c", ROLLBACK_CHILD, str(policy)])
    outcome.assert_ended_cleanly(0)
    assert outcome.stdout.split() == ["0", "1"], outcome.describe()


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_mutate_refuses_a_special_rule_file(fifo: Path, special: str) -> None:
    path = fifo if special == "fifo" else Path(special)
    outcome = run_limited(selfslo("mutate", "--rules", path))
    outcome.assert_clean_error(2, [f"{path}: not a regular file"])


@pytest.mark.parametrize("cached", [False, True])
def test_lint_reports_a_file_over_the_document_limit_unread(tmp_path: Path, cached: bool) -> None:
    """A sparse 100 GB rule file: an SL001 finding from its size alone, with or without
    the findings cache (which would otherwise read it whole to hash it)."""
    path = tmp_path / "huge.yml"
    with path.open("wb") as fh:
        fh.truncate(100 << 30)
    extra = ["--cache-dir", str(tmp_path / "cache")] if cached else []
    outcome = run_limited(selfslo("lint", path, *extra))
    outcome.assert_ended_cleanly(1)
    assert outcome.stdout.strip() == (
        f"{path}:1:1 SL001 cannot read the file: the rule file is larger than 67108864 bytes "
        "(MAX_DOCUMENT_BYTES)"), outcome.describe()


def test_selfslo_slo_refuses_deep_yaml(tmp_path: Path) -> None:
    path = tmp_path / "deep.yml"
    path.write_text(f"slos: {DEEP}\n")
    outcome = run_limited(selfslo("slo", "import", path))
    outcome.assert_clean_error(2, [f"{path}:1:", "MAX_DEPTH"])

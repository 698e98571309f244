"""docs/guide.md "Your own rules: from install to a green CI run", run as written.

The files of the section (fenced blocks with ``file=PATH``) are written into a
fresh project; its ``$`` commands run in order in a fresh virtualenv, then the
CI workflow's ``run:`` steps. Adaptations, so the test needs no network and
leaves the checkout alone: the checkout is a copy of this repository's package
files; ``pip`` runs as ``python -m pip`` of the virtualenv with
``--no-build-isolation`` (and ``--no-deps`` for installs: the virtualenv sees
the machine's packages, ``--system-site-packages``); ``pytest``/``selfslo`` run
as ``python -m`` of the virtualenv; ``sudo`` steps (the optional Debian
promtool) are left out.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TITLE = "## Your own rules: from install to a green CI run"


def _section() -> str:
    text = (REPO / "docs" / "guide.md").read_text(encoding="utf-8")
    start = text.index(TITLE)
    end = text.find("\n## ", start + len(TITLE))
    return text[start:end if end >= 0 else None]


def _files(section: str) -> dict[str, str]:
    return {m.group(2): m.group(3)
            for m in re.finditer(r"```(\w+) file=(\S+)\n(.*?)```", section, re.S)}


def _commands(section: str) -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", section, re.S)
    return [line[2:].strip() for block in blocks for line in block.splitlines()
            if line.startswith("$ ")]


def _adapt(command: str, python: Path, checkout: Path) -> list[str]:
    """The doc's command as it runs here (see the module docstring)."""
    words = shlex.split(command.replace("/path/to/pytest-selfslo", str(checkout)))
    if words[0] == "pip":
        extra = ["--no-build-isolation"]
        if words[1] == "install":
            extra += ["--no-deps", "--force-reinstall", "--quiet"]
        return [str(python), "-m", "pip", words[1], *extra, *words[2:]]
    if words[0] == "pytest":
        return [str(python), "-m", "pytest", "-p", "no:cacheprovider", *words[1:]]
    if words[0] == "selfslo":
        return [str(python), "-m", "pytest_selfslo", *words[1:]]
    raise AssertionError(f"the walkthrough has a command this test does not know: {command}")


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (f"{shlex.join(argv)} exited {proc.returncode}:\n"
                                  f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def test_the_guide_walks_a_non_self_team_to_a_green_ci_run(tmp_path: Path) -> None:
    section = _section()
    files, commands = _files(section), _commands(section)
    assert {"rules/alerts.yaml", "rules/tests/alerts_test.yaml", "pyproject.toml",
            ".github/workflows/rules.yml"} <= set(files)
    assert not any("self_" in body for body in files.values())  # no SELF metric anywhere
    checkout = tmp_path / "pytest-selfslo"
    checkout.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, checkout / name)
    shutil.copytree(REPO / "pytest_selfslo", checkout / "pytest_selfslo",
                    ignore=shutil.ignore_patterns("__pycache__"))
    project = tmp_path / "team-rules"
    for name, body in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(body, encoding="utf-8")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"

    outputs = [_run(_adapt(c, python, checkout), project, env) for c in commands]
    where = _run([str(python), "-c", "import pytest_selfslo; print(pytest_selfslo.__file__)"],
                 project, env).stdout
    assert where.startswith(str(venv)), where  # the installed copy, not this checkout
    pytest_out = next(o.stdout for c, o in zip(commands, outputs, strict=True)
                      if c.startswith("pytest"))
    expected = re.search(r"```text\n(.*?)```", section, re.S)
    assert expected is not None
    for line in expected.group(1).splitlines():
        assert line in pytest_out, f"{line!r} not in:\n{pytest_out}"
    assert "selfslo::" not in pytest_out and "FAILED" not in pytest_out

    workflow = yaml.safe_load(files[".github/workflows/rules.yml"])
    runs = [step["run"] for step in workflow["jobs"]["rules"]["steps"] if "run" in step]
    assert any(r.startswith("pytest --self-slo") for r in runs)
    for run in runs:
        if run.startswith("sudo "):
            continue  # the optional Debian promtool; the machine has it or not
        _run(_adapt(run.split("#")[0].strip(), python, checkout), project, env)
    junit = (project / "rules-junit.xml").read_text(encoding="utf-8")
    assert 'name="errors page after 10 minutes"' in junit and "<failure" not in junit


@pytest.mark.parametrize("doc", ["README.md", "docs/guide.md"])
def test_no_doc_installs_from_a_package_index(doc: str) -> None:
    """pytest-selfslo is not on an index: the docs install from a checkout or a wheel."""
    text = (REPO / doc).read_text(encoding="utf-8")
    assert "pip install pytest-selfslo" not in text
    assert "pip install /path/to/pytest-selfslo" in text

"""The bundled canary scenarios (fixtures/scenarios/*.jsonl) run under the main job and pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "fixtures" / "scenarios").glob("*.jsonl"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_header_names_existing_files(path: Path) -> None:
    header = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert header["expect"], path
    for ref in [*header.get("series", []), *header.get("rules", [])]:
        assert (path.parent / ref).is_file(), f"{path.name}: {ref} does not exist"


def test_main_job_simulates_every_bundled_scenario() -> None:
    assert len(SCENARIOS) >= 2
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--self-slo", "rules", "-p", "no:cacheprovider",
         "-q", "-rA", "-k", "scenario", "--self-slo-coverage-fail-under", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for path in SCENARIOS:
        assert f"PASSED selfslo::canary-default::scenario[{path.stem}]" in out.stdout, out.stdout

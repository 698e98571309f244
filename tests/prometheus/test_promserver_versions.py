"""Each Prometheus version CI fetches, found and run as a user would pin it.

``.ci/run`` lists the promtool binaries in ``$SELFSLO_PROMTOOLS`` (Debian's
2.42 on PATH, 2.53 from trixie and 3.5 from sid, unpacked by
``.ci/fetch-prometheus``); the ``prometheus`` binary sits beside each. A
server is started with ``local:/path/to/prometheus`` (what
``--self-slo-prometheus`` takes), and the project's rules load into it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from promtool_runs import PROMTOOLS_ENV, Promtool, available

from pytest_selfslo._core.errors import PrometheusUnavailable
from pytest_selfslo.prometheus.client import binary_version
from pytest_selfslo.prometheus.managed import start_prometheus

ROOT = Path(__file__).resolve().parents[2]
FETCH = ROOT / ".ci" / "fetch-prometheus"


def _fake(directory: Path, name: str, version: str) -> Path:
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{name}, version {version} (branch: x)'\n")
    path.chmod(0o755)
    return path


def test_available_reads_the_list_dedups_and_sorts(tmp_path: Path) -> None:
    new = _fake(tmp_path, "promtool-3", "3.5.3+ds1")
    old = _fake(tmp_path, "promtool-2", "2.53.3+ds1")
    (tmp_path / "again").symlink_to(new)
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho no version here\n")
    broken.chmod(0o755)
    listed = os.pathsep.join([str(new), str(tmp_path / "missing"), str(old),
                              str(tmp_path / "again"), str(broken)])
    found = available({PROMTOOLS_ENV: listed})
    assert [(p.path, p.version, p.semantics) for p in found] == [
        (str(old), (2, 53, 3), "2.53"), (str(new), (3, 5, 3), "3.5")]
    assert found[1].name == "promtool-3.5.3"


def test_without_the_list_promtool_on_path_is_used(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(tmp_path, "promtool", "2.42.0+ds")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert [p.version for p in available({})] == [(2, 42, 0)]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert available({}) == []


def test_a_path_that_is_not_there_is_named(tmp_path: Path) -> None:
    with pytest.raises(PrometheusUnavailable, match="no-such/promtool: no such executable file"):
        binary_version(str(tmp_path / "no-such" / "promtool"))


@pytest.mark.skipif(os.environ.get("SELFSLO_CI") != "1",
                    reason="only .ci/run (SELFSLO_CI=1) promises Prometheus 2.x and 3.x binaries")
def test_ci_checks_prometheus_2_and_3() -> None:
    majors = {p.version[0] for p in available()}
    assert majors >= {2, 3}, f"${PROMTOOLS_ENV}={os.environ.get(PROMTOOLS_ENV)!r}"


def test_fetch_script_wants_a_suite_and_a_dir() -> None:
    proc = subprocess.run(["bash", str(FETCH), "sid"], capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: ")


def test_a_pinned_prometheus_starts_and_loads_the_rules(promtool_bin: Promtool) -> None:
    binary = Path(promtool_bin.path).with_name("prometheus")
    if not os.access(binary, os.X_OK):
        pytest.skip(f"no prometheus binary beside {promtool_bin.path}")
    assert binary_version(str(binary))[:2] == promtool_bin.version[:2]
    server = start_prometheus(f"local:{binary}")
    try:
        assert server.query_value("vector(1)") == 1.0
        server.load_rules([str(p) for p in sorted((ROOT / "rules").glob("*.yml"))])
        names = {rule["name"] for group in server.rules() for rule in group["rules"]}
        assert "AURIS_SELF_Coherence_Drop" in names
    finally:
        server.close()

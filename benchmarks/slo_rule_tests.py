"""Generated SLO tests (``selfslo slo tests``): our runner vs ``promtool test rules``.

For each SLO spec under tests/slo/data (Sloth, OpenSLO, Pyrra), generates the
rules and their tests, then times ``promtool test rules`` (the promtool on
PATH) and our in-process runner on the same files in the same run. These files
replay weeks of traffic against 30-day and 28-day windows, so the cost is in
the long ``*_over_time`` windows; both must pass. The last line is the total
ratio ours/promtool (< 1.0: we are faster).

    python benchmarks/slo_rule_tests.py [SPEC...]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from rule_tests import _time_ours, _time_promtool  # noqa: E402

from pytest_selfslo.cli import main as selfslo  # noqa: E402
from pytest_selfslo.prometheus.client import binary_semantics  # noqa: E402

SPECS = ("sloth_getting_started.yml", "openslo_checkout.yml", "pyrra_http_slos.yml")


def _generate(spec: Path, where: Path) -> Path:
    (where / "tests").mkdir(parents=True)
    rules, tests = where / "slo.yml", where / "tests" / "slo_test.yml"
    for command, out in (("generate", rules), ("tests", tests)):
        if selfslo(["slo", command, str(spec), "-o", str(out)]) != 0:
            raise SystemExit(f"selfslo slo {command} {spec} failed")
    return tests


def main() -> None:
    specs = sys.argv[1:] or [str(ROOT / "tests" / "slo" / "data" / s) for s in SPECS]
    if shutil.which("promtool") is None:
        print("promtool not on PATH: nothing to compare against")
        print("ratio: n/a")
        return
    semantics = binary_semantics("promtool")
    ours_total = theirs_total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i, spec in enumerate(specs):
            tests = _generate(Path(spec), Path(tmp) / str(i))
            theirs, rc_t = _time_promtool(tests)
            ours, rc_o = _time_ours(tests, semantics)
            ours_total += ours
            theirs_total += theirs
            print(f"{Path(spec).name:28s} promtool {theirs:7.2f} s (exit {rc_t})  "
                  f"ours {ours:6.2f} s (exit {rc_o})")
    print(f"ratio (ours/promtool, generated SLO tests): {ours_total / theirs_total:.3f}")


if __name__ == "__main__":
    main()

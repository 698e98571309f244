"""Mutation testing of the repo's rules: cost against one plain run, and against a naive baseline.

1. One plain in-process run of ``rules/tests/*.yml`` (``run_rule_tests``): CPU time,
   median of ``--repeat`` runs after a warm-up.
2. The full mutation run (``MutationSuite.load(...).run()``, what ``selfslo mutate``
   does): CPU and wall time. Targets: at most 30x the plain run, at most 60 s CPU.
3. Where ``promtool`` is on PATH, the naive baseline: every mutant written to disk
   (the whole rule file, mutated) and ``promtool test rules`` run on the test files;
   killed when promtool exits non-zero. Timed over ``--naive-sample`` mutants spread
   evenly over the list (default: all) and scaled to all of them. Target: ours at
   least 20x faster. The verdicts are compared with ours (promtool has 2.x semantics
   when it is the Debian 2.42; the rule tests are written to hold in both).

The last line is the ratio of the mutation run to the plain run (CPU).

    python benchmarks/mutation.py [--repeat 5] [--naive-sample N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from pytest_selfslo.mutate.engine import Mutant, rule_document  # noqa: E402
from pytest_selfslo.mutate.report import KILLED, MutationReport  # noqa: E402
from pytest_selfslo.mutate.runner import MutationSuite  # noqa: E402
from pytest_selfslo.ruletest.runner import run_rule_tests  # noqa: E402

RULES = str(ROOT / "rules" / "*.yml")
TESTS = str(ROOT / "rules" / "tests" / "*.yml")


def plain_cpu(repeat: int) -> float:
    """Median CPU seconds of one in-process run of the rule tests (after a warm-up run)."""
    assert run_rule_tests([TESTS]).passed
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run_rule_tests([TESTS])
        times.append(time.process_time() - start)
    return statistics.median(times)


def mutation_run() -> tuple[MutationReport, float, float]:
    """The full mutation run: report, CPU seconds, wall seconds."""
    cpu, wall = time.process_time(), time.perf_counter()
    report = MutationSuite.load([RULES], [TESTS]).run()
    return report, time.process_time() - cpu, time.perf_counter() - wall


def _mutated_file(original: str, mutant: Mutant) -> str:
    doc = yaml.safe_load(original)
    own = [k.split(".", 1)[1] for k in mutant.site.positions if k.startswith("labels.")]
    group = doc["groups"][mutant.site.group_index]
    group["rules"][mutant.site.rule_index] = rule_document(mutant.rule, own)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1000)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def naive(report: MutationReport, sample: int | None) -> tuple[int, int, float, float, int]:
    """(mutants timed, all mutants, wall s, child CPU s, verdicts that agree with ours)."""
    results = [m for r in report.rules for m in r.mutants]
    step = 1 if not sample or sample >= len(results) else len(results) / sample
    chosen = [results[int(i * step)] for i in range(min(len(results), sample or len(results)))]
    agree = 0
    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules"
        shutil.copytree(ROOT / "rules", rules)
        tests = sorted(str(p.relative_to(rules)) for p in (rules / "tests").glob("*.yml"))
        originals = {p: Path(p).read_text(encoding="utf-8") for p in
                     {r.mutant.site.path for r in results}}
        cpu, wall = _children_cpu(), time.perf_counter()
        for result in chosen:
            site = result.mutant.site
            target = rules / Path(site.path).name
            target.write_text(_mutated_file(originals[site.path], result.mutant), encoding="utf-8")
            proc = subprocess.run(["promtool", "test", "rules", *tests], cwd=rules,
                                  capture_output=True, text=True, timeout=600, check=False)
            target.write_text(originals[site.path], encoding="utf-8")
            agree += (proc.returncode != 0) == (result.status == KILLED)
        return (len(chosen), len(results), time.perf_counter() - wall, _children_cpu() - cpu,
                agree)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="Plain runs to take the median of")
    parser.add_argument("--naive-sample", type=int, default=None, metavar="N",
                        help="Time the naive baseline on N mutants and scale (default: all)")
    args = parser.parse_args(argv)
    plain = plain_cpu(args.repeat)
    report, cpu, wall = mutation_run()
    counts = report.counts
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"plain run of the rule tests (in-process, median of {args.repeat}): "
          f"cpu {plain * 1000:.0f} ms")
    print(f"mutation run: {sum(counts.values())} mutants of {len(report.rules)} rules, "
          f"score {report.score:.1f}% (killed {counts['killed']}, marked equivalent "
          f"{counts['equivalent']}); cpu {cpu:.2f} s, wall {wall:.2f} s")
    if shutil.which("promtool") is None:
        print("naive baseline: promtool not on PATH, not measured")
    else:
        timed, total, naive_wall, naive_cpu, agree = naive(report, args.naive_sample)
        scale = total / timed
        print(f"naive baseline (mutant written to disk + promtool test rules): {timed} of {total} "
              f"mutants timed, {naive_wall / timed * 1000:.0f} ms each; all {total}: "
              f"wall {naive_wall * scale:.1f} s, promtool cpu {naive_cpu * scale:.1f} s "
              f"(verdicts agree with ours on {agree} of {timed})")
        print(f"speed-up over the naive baseline: wall {naive_wall * scale / wall:.0f}x, "
              f"cpu {naive_cpu * scale / cpu:.0f}x (target >= 20x)")
    print(f"ratio (mutation run / plain run, cpu): {cpu / plain:.1f}x (target <= 30x; "
          f"cpu {cpu:.1f} s, target <= 60 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

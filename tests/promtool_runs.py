"""Running real ``promtool`` binaries from the differential tests.

Which binaries: the paths in ``$SELFSLO_PROMTOOLS`` (``os.pathsep``-separated;
``.ci/run`` lists Debian's 2.42, 2.53 and 3.5 there), else ``promtool`` on
PATH. Each is compared with the engine semantics its ``--version`` implies,
``major.minor`` (the numerics change between minor releases).

How results come back: promtool prints what a ``promql_expr_test`` returned
(``got: {labels} value, ...``, each value with Go's shortest round-trip
``%E``) only when the expectation fails, so tests give every expression an
impossible expectation and read the values back, bit for bit. Many test files
go to one promtool process; 3.x prints failures without the file name, so
every expression carries a ``# c<case>e<n>`` comment and every rule the case
number in its name, which identify the case in the output.
"""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

PROMTOOLS_ENV = "SELFSLO_PROMTOOLS"
_VERSION = re.compile(r"version\s+v?(\d+)\.(\d+)\.(\d+)")
_GO = re.compile(r"go version:\s+(\S+)")


@dataclass(frozen=True)
class Promtool:
    """One runnable promtool and what its ``--version`` says."""

    path: str
    version: tuple[int, int, int]
    go: str = ""

    @property
    def semantics(self) -> str:
        """The engine semantics of this release: ``"2.42"``, ``"3.5"``..."""
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def name(self) -> str:
        """``promtool-2.53.3``."""
        return "promtool-" + ".".join(map(str, self.version))


@functools.cache
def _describe(path: str) -> Promtool | None:
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = proc.stdout + proc.stderr
    match = _VERSION.search(text)
    if match is None:
        return None
    go = _GO.search(text)
    version = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return Promtool(path, version, go.group(1) if go else "")


def available(environ: Mapping[str, str] | None = None) -> list[Promtool]:
    """Every usable promtool (each real file once), oldest first."""
    env = os.environ if environ is None else environ
    listed = [p.strip() for p in env.get(PROMTOOLS_ENV, "").split(os.pathsep) if p.strip()]
    found: dict[str, Promtool] = {}
    for name in listed or ["promtool"]:
        path = shutil.which(name)
        if path is None or os.path.realpath(path) in found:
            continue
        described = _describe(path)
        if described is not None:
            found[os.path.realpath(path)] = described
    return sorted(found.values(), key=lambda p: p.version)


def params() -> list[object]:
    """A ``pytest.param`` per promtool, or one skipped param that says why there is none."""
    binaries = available()
    if not binaries:
        return [pytest.param(None, id="no-promtool", marks=pytest.mark.skip(
            reason=f"no promtool: none on PATH and ${PROMTOOLS_ENV} names none"))]
    return [pytest.param(p, id=p.name) for p in binaries]


def run(binary: Promtool, files: Iterable[str], cwd: Path, env: Mapping[str, str] | None = None,
        timeout: int = 900) -> str:
    """``promtool test rules FILES...`` in ``cwd``; stdout and stderr together."""
    proc = subprocess.run([binary.path, "test", "rules", *files], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, check=False,
                          env=None if env is None else {**os.environ, **env})
    return proc.stdout + proc.stderr


Sample = tuple[tuple[tuple[str, str], ...], float]


@dataclass
class CaseOutput:
    """What promtool printed about one case (one test file)."""

    #: (expression tag, eval time as printed) -> samples, or the error text
    exprs: dict[tuple[str, str], list[Sample] | str] = field(default_factory=dict)
    #: (alertname, eval time as printed) -> the failure text
    alerts: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (rule name, time as printed) of a rule evaluation error, with the message
    rule_errors: list[tuple[str, str, str]] = field(default_factory=list)


_EXPR = re.compile(r'expr: "((?:[^"\\]|\\.)*)", time: ([^,\s]+),'
                   r'(?: err: (.*)|\n\s*exp: .*\n\s*got: (.*))')
_TAG = re.compile(r"# (c(\d+)e\d+)$")
_ALERT = re.compile(r"alertname: (\S+), time: ([^,\s]+),")
_RULE = re.compile(r"rule: (\S+), time: ([^,\s]+), err: (.*)")
_CASE_NAME = re.compile(r"[A-Za-z_:]+?(\d+)$")
_ITEM = re.compile(r"\{([^}]*)\} (\S+?)(?:, |$)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_got(text: str) -> list[Sample]:
    """``{a="b", c="d"} 1E+00, ...`` (or ``nil``) as sorted (labels, value) pairs."""
    if text.strip() == "nil":
        return []
    out = [(tuple(sorted(_LABEL.findall(body))), float(value))
           for body, value in _ITEM.findall(text.strip())]
    return sorted(out)


def parse_output(output: str) -> dict[int, CaseOutput]:
    """promtool's failure output, per case number."""
    cases: dict[int, CaseOutput] = {}
    for raw, at, err, got in _EXPR.findall(output):
        tag = _TAG.search(raw.replace('\\"', '"'))
        if tag is None:
            continue
        case = cases.setdefault(int(tag.group(2)), CaseOutput())
        case.exprs[(tag.group(1), at)] = err if err else parse_got(got)
    for name, at in _ALERT.findall(output):
        number = _CASE_NAME.match(name)
        if number:
            cases.setdefault(int(number.group(1)), CaseOutput()).alerts[(name, at)] = name
    for name, at, message in _RULE.findall(output):
        number = _CASE_NAME.match(name)
        if number:
            cases.setdefault(int(number.group(1)), CaseOutput()).rule_errors.append(
                (name, at, message))
    return cases


def same_samples(ours: list[Sample], theirs: list[Sample]) -> bool:
    """Equal label sets and values bit for bit (every NaN equal to every NaN, -0 != 0)."""
    if len(ours) != len(theirs):
        return False
    for (la, va), (lb, vb) in zip(sorted(ours), sorted(theirs), strict=True):
        if la != lb:
            return False
        if math.isnan(va) or math.isnan(vb):
            if not (math.isnan(va) and math.isnan(vb)):
                return False
        elif va != vb or math.copysign(1.0, va) != math.copysign(1.0, vb):
            return False
    return True


def same_up_to_ties(ours: list[Sample], theirs: list[Sample], inputs: list[Sample],
                    by: tuple[str, ...] = ()) -> bool:
    """:func:`same_samples` for ``topk``/``bottomk``, where ties at the k-th place are a set.

    Which of several series with the k-th value a k-aggregation keeps depends on
    the order the series were created in, and promtool creates the series loaded
    in one step in Go's map order (random on every run). So a tie is compared as
    a set: within each group (the ``by`` labels), both answers keep as many
    series of each value (0 and -0 tie, as all NaNs do), and every series either
    answer keeps is an input series with exactly its value, bit for bit. Where
    no value ties, that is the plain comparison.
    """
    pool = {tuple(sorted(labels)): value for labels, value in inputs}

    def kept(samples: list[Sample]) -> Counter[tuple[tuple[str, ...], object]] | None:
        counts: Counter[tuple[tuple[str, ...], object]] = Counter()
        for labels, value in samples:
            key = tuple(sorted(labels))
            if key not in pool or not same_samples([(key, pool[key])], [(key, value)]):
                return None
            group = tuple(v for k, v in key if k in by)
            counts[(group, "NaN" if math.isnan(value) else value)] += 1
        return counts

    mine, promtool = kept(ours), kept(theirs)
    return mine is not None and mine == promtool


#: set to 1 to run every generated SLO test group under every promtool (slow: minutes each)
FULL_ENV = "SELFSLO_PROMTOOL_FULL"
#: generated SLO test groups that replay days of traffic: promtool needs seconds to a minute
#: for each (it evaluates every rule of the file at every step), so they run in full under
#: the newest promtool only, unless $SELFSLO_PROMTOOL_FULL=1
LONG_GROUPS = ("budget exhaustion", "ticket ", "over 1d ", "over 3d ", "over 4d ",
               "the period's error ratio covers ")


def promtool_file(binary: Promtool, test_file: Path, *, long: bool = True) -> tuple[str, int]:
    """The test file ``binary`` runs and how many of its groups were left out.

    The newest promtool available runs ``test_file`` itself; an older one a copy
    without the long groups (:data:`LONG_GROUPS`), which the newest one and the
    embedded engine do run: the versions are still compared on every short group.
    ``long=False``: no promtool runs the long groups (another test runs the same
    generator's long groups under the newest one), unless $SELFSLO_PROMTOOL_FULL=1.
    """
    newest = available()[-1] if available() else binary
    if os.environ.get(FULL_ENV) == "1" or (long and binary.version >= newest.version):
        return test_file.name, 0
    doc = yaml.safe_load(test_file.read_text(encoding="utf-8"))
    groups = doc["tests"]
    kept = [g for g in groups if not any(m in str(g.get("name", "")) for m in LONG_GROUPS)]
    assert kept, f"every group of {test_file} is long"
    short = test_file.with_name(test_file.stem + ".short.yml")
    short.write_text(yaml.safe_dump({**doc, "tests": kept}, sort_keys=False), encoding="utf-8")
    return short.name, len(groups) - len(kept)

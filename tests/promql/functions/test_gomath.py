"""``promql.gomath`` against Go's ``math`` on linux/amd64, bit for bit.

The reference table ``tests/data/gomath_go1.19_amd64.json`` was made once with
Go 1.19 (the toolchain of Debian's promtool 2.42) by a 40-line Go program, not
kept in the repository, that read the inputs of :func:`reference_inputs`
(written to a file as little-endian float64) and wrote ``math.F(x)`` for every
function below; it ran twice, as is and with ``GODEBUG=cpu.fma=off``, which
makes ``math.Exp`` take the assembly's non-FMA path. The table holds, per
function and path, the SHA-256 of all outputs (NaNs canonicalised, the sign of
zero kept) and the outputs for the first :data:`SPECIAL_COUNT` inputs
(:data:`SPECIAL_PAIRS` pairs) -- the edge cases -- as zlib-compressed base64
little-endian bits, so a failure names the inputs that differ.

Inputs are derived from PCG64's raw output (stable across numpy versions) with
exactly rounded operations only, so they are the same on every machine.

The same functions also go through every available promtool's PromQL
(``exp(x)``, ``a ^ b``...) on this machine, both ``math.Exp`` paths
(``GODEBUG=cpu.fma=off`` for the plain one): Debian's 2.42 (Go 1.19), 2.53
(Go 1.24) and 3.5 (Go 1.27) agree with the ports bit for bit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from promtool_runs import Promtool, params as promtool_params, parse_output, run

from pytest_selfslo.promql import gomath

TABLE = Path(__file__).resolve().parents[2] / "data" / "gomath_go1.19_amd64.json"
_NAN_BITS = np.uint64(0x7FF8000000000000)


def _uniform(raw: np.ndarray, lo: float, hi: float) -> np.ndarray:
    unit = (raw >> np.uint64(11)).astype(np.float64) * 2.0**-53
    out: np.ndarray = lo + unit * (hi - lo)
    return out


def _special_values() -> list[float]:
    tiny = 5e-324
    values = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0,
              -3.0, tiny, -tiny, 2.2250738585072009e-308, 2.2250738585072014e-308,
              1.7976931348623157e308, -1.7976931348623157e308, math.sqrt(2), math.sqrt(2) / 2,
              math.pi, math.pi / 2, math.pi / 4, 3 * math.pi / 4, math.e, 10.0, 100.0, 1e15, 1e-15,
              709.782712893384, 709.7827128933841, 709.78, -708.39, -708.4, -745.1332191019411,
              -745.2, -744.0, -740.0, 21.0, 0.625, 0.66, 0.7, 2.414213562373095, 2.0**28, 2.0**-28,
              2.0**29, 2.0**29 - 1, 2.0**29 + 2.0**-23, 2.0**-29, 2.0**-54, 2.0**53, 2.0**63,
              44.014845965556525, 0.34657359027997264, 1.0397207708399179, 38.816242111356935,
              0.41421356237309503, -0.2928932188134524, 1e300, -1e300, 1e-300, 1.0000000000000002,
              0.9999999999999999, 0.01 - 0.5, 0.1, 0.2, 0.3, 1.1, 1.8, 1.07, 0.47, -0.49,
              6.123233995736766e-17, 1e22, 2.0**1023, 2.0**-1022, 2.0**-1074 * 3]
    out: list[float] = []
    for v in values:
        out += [v, -v]
        if math.isfinite(v) and v != 0:
            out += [math.nextafter(v, math.inf), math.nextafter(v, -math.inf)]
    for k in range(1, 13):  # multiples of pi/4 and their neighbours
        q = k * math.pi / 4
        out += [q, math.nextafter(q, 0), math.nextafter(q, math.inf)]
    return out


#: the first inputs of each kind, whose outputs the table lists one by one
SPECIAL_COUNT = len(_special_values())
_PAIR_VALUES = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0,
                -3.0, 1.5, -1.5, 0.1, 5e-324, 1.7976931348623157e308, 10.0, -10.0, 1e300, 1e-300,
                math.pi, 2.0**63]
SPECIAL_PAIRS = len(_PAIR_VALUES) ** 2


def reference_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(xs, px, py)``: inputs of the one-argument functions and pairs for the others."""
    specials = np.array(_special_values())
    gen = np.random.PCG64(20240614)
    raw = gen.random_raw(400_000).astype(np.uint64)
    chunks = [specials,
              _uniform(raw[:40_000], -1.0, 1.0),
              _uniform(raw[40_000:80_000], -10.0, 10.0),
              _uniform(raw[80_000:120_000], -800.0, 800.0),
              raw[120_000:160_000].copy().view(np.float64),  # any bit pattern
              np.ldexp(_uniform(raw[160_000:200_000], 0.5, 1.0),
                       (raw[200_000:240_000] % np.uint64(121)).astype(np.int64) - 60)
              * np.where(raw[:40_000] & np.uint64(1), -1.0, 1.0),
              1.0 + _uniform(raw[240_000:260_000], -1e-3, 1e-3),
              _uniform(raw[260_000:270_000], 2.0**29, 2.0**45),
              (raw[270_000:310_000] % np.uint64(200_001)).astype(np.float64) / 1000 - 100.0,
              (raw[310_000:340_000] % np.uint64(20_001)).astype(np.float64) / 100 - 100.0]
    xs = np.concatenate(chunks)
    # pairs: a grid of edge cases, every special with every special, then random families
    gx, gy = np.meshgrid(np.array(_PAIR_VALUES), np.array(_PAIR_VALUES))
    sx, sy = np.meshgrid(specials, specials)
    gen2 = np.random.PCG64(20240615)
    r = gen2.random_raw(600_000).astype(np.uint64)
    ints = (r[:50_000] % np.uint64(81)).astype(np.float64) - 40.0
    halves = (r[50_000:100_000] % np.uint64(41)).astype(np.float64) / 2 - 10.0
    px = np.concatenate([gx.ravel(), sx.ravel(), _uniform(r[100_000:150_000], -20, 20),
                         _uniform(r[150_000:200_000], 0, 3), _uniform(r[200_000:250_000], -4, 4),
                         _uniform(r[250_000:300_000], 0.9, 1.1),
                         r[300_000:340_000].copy().view(np.float64)])
    py = np.concatenate([gy.ravel(), sy.ravel(), ints, _uniform(r[350_000:400_000], -5, 5), halves,
                         _uniform(r[400_000:450_000], -2000, 2000),
                         r[450_000:490_000].copy().view(np.float64)])
    return xs, px, py


def _quiet(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """numpy's rounding without its NaN warning (Go's Floor is silent)."""
    def call(x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            out: np.ndarray = fn(x)
        return out
    return call


def unary_functions(fma: bool) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Name (as in the table) -> our port, for one ``math.Exp`` path."""
    return {
        "Exp": lambda x: gomath.exp(x, fma), "Log": gomath.log, "Log2": gomath.log2,
        "Log10": gomath.log10, "Log1p": gomath.log1p, "Sqrt": gomath.sqrt, "Sin": gomath.sin,
        "Cos": gomath.cos, "Tan": gomath.tan, "Asin": gomath.asin, "Acos": gomath.acos,
        "Atan": gomath.atan, "Sinh": lambda x: gomath.sinh(x, fma),
        "Cosh": lambda x: gomath.cosh(x, fma), "Tanh": lambda x: gomath.tanh(x, fma),
        "Asinh": gomath.asinh, "Acosh": gomath.acosh, "Atanh": gomath.atanh,
        "Floor": _quiet(np.floor), "Ceil": _quiet(np.ceil),
    }


def binary_functions(fma: bool) -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """Two-argument functions: ``F(px, py)``."""
    return {"Pow": lambda x, y: gomath.pow_(x, y, fma), "Atan2": gomath.atan2,
            "Mod": gomath.mod, "Max": gomath.max_, "Min": gomath.min_}


def canonical_bits(values: np.ndarray) -> np.ndarray:
    """Output bits with every NaN the same (Go and numpy NaN payloads differ)."""
    bits: np.ndarray = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64).copy()
    bits[np.isnan(values)] = _NAN_BITS
    return bits


def digest(values: np.ndarray) -> str:
    """SHA-256 of the canonical little-endian output bits."""
    return hashlib.sha256(canonical_bits(values).astype("<u8").tobytes()).hexdigest()


def _load_table() -> dict[str, dict[str, dict[str, str]]]:
    table: dict[str, dict[str, dict[str, str]]] = json.loads(TABLE.read_text())
    return {path: table[path] for path in ("fma", "nofma")}


def _mismatches(ours: np.ndarray, special: str, inputs: list[str]) -> list[str]:
    expected = np.frombuffer(zlib.decompress(base64.b64decode(special)), dtype="<u8")
    got = canonical_bits(ours[:len(expected)])
    bad = np.flatnonzero(got != expected)
    return [f"{inputs[i]}: go {float(expected[i:i + 1].view(np.float64)[0])!r} ours {ours[i]!r}"
            for i in bad[:10]]


@pytest.fixture(scope="module")
def inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return reference_inputs()


@pytest.mark.parametrize("path", ["fma", "nofma"])
def test_unary_ports_match_go_bit_for_bit(inputs: tuple[np.ndarray, np.ndarray, np.ndarray],
                                          path: str) -> None:
    xs = inputs[0]
    table = _load_table()[path]
    failures = []
    for name, fn in unary_functions(path == "fma").items():
        ours = fn(xs)
        entry = table[name]
        if digest(ours) != entry["sha256"]:
            detail = _mismatches(ours, entry["special"], [repr(v) for v in xs])
            failures.append(f"{name}: digest differs; first special cases: {detail or 'none'}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", ["fma", "nofma"])
def test_binary_ports_match_go_bit_for_bit(inputs: tuple[np.ndarray, np.ndarray, np.ndarray],
                                           path: str) -> None:
    _, px, py = inputs
    table = _load_table()[path]
    failures = []
    for name, fn in binary_functions(path == "fma").items():
        ours = fn(px, py)
        entry = table[name]
        if digest(ours) != entry["sha256"]:
            pairs = [f"({a!r}, {b!r})" for a, b in zip(px, py, strict=True)]
            detail = _mismatches(ours, entry["special"], pairs)
            failures.append(f"{name}: digest differs; first special cases: {detail or 'none'}")
    assert not failures, "\n".join(failures)


def test_table_covers_many_inputs_and_both_paths(inputs: tuple[np.ndarray, ...]) -> None:
    table = _load_table()
    assert len(inputs[0]) + len(inputs[1]) > 300_000
    assert set(table) == {"fma", "nofma"}
    names = set(unary_functions(True)) | set(binary_functions(True))
    assert set(table["fma"]) == set(table["nofma"]) == names
    # the two paths of Exp really differ somewhere (else the nofma half would prove nothing)
    assert table["fma"]["Exp"]["sha256"] != table["nofma"]["Exp"]["sha256"]


def test_issue_examples() -> None:
    # exp(m - 0.5) at m = 0.01: Go prints 6.12626394184416E-01, the C library ...161E-01
    assert float(gomath.exp(np.array([0.01 - 0.5]))[0]) == 0.612626394184416
    # log10(1e15) is 14.999999999999998 in Go
    assert float(gomath.log10(np.array([1e15]))[0]) == 14.999999999999998


# --------------------------------------------------------------------------- real promtools
#: PromQL spelling of each ported function (one-argument ones are applied to the series x)
PROMQL_UNARY = {"exp": "Exp", "ln": "Log", "log2": "Log2", "log10": "Log10", "sqrt": "Sqrt",
                "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin", "acos": "Acos",
                "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "tanh": "Tanh", "asinh": "Asinh",
                "acosh": "Acosh", "atanh": "Atanh", "floor": "Floor", "ceil": "Ceil"}
PROMQL_BINARY = {"^": "Pow", "%": "Mod", "atan2": "Atan2"}
#: series per query: promtool's engine refuses queries that load more than 10,000 samples
_CHUNK = 700


def _cpu_has_fma() -> bool | None:
    """Whether this x86-64 CPU has AVX and FMA (Go's Exp takes its FMA path); None if unknown."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return None
    return "fma" in flags and "avx" in flags


def _literal(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    return ("Inf" if v > 0 else "-Inf") if math.isinf(v) else repr(float(v))


@pytest.mark.parametrize("path", ["fma", "nofma"])
@pytest.mark.parametrize("binary", promtool_params())
def test_math_matches_promtool_bit_for_bit(binary: Promtool, path: str, tmp_path: Path,
                                           inputs: tuple[np.ndarray, np.ndarray, np.ndarray]
                                           ) -> None:
    """Every ported function through promtool's PromQL on this machine (``GODEBUG`` picks the path)."""
    if path == "fma" and not _cpu_has_fma():
        pytest.skip("this CPU has no AVX+FMA (or /proc/cpuinfo is unreadable): Go's Exp "
                    "takes its plain path here")
    xs, px, py = inputs
    rng = np.random.default_rng(7)
    xv = np.concatenate([xs[:SPECIAL_COUNT], xs[rng.choice(len(xs), 1400, replace=False)]])
    pick = np.concatenate([np.arange(SPECIAL_PAIRS), rng.choice(len(px), 1400, replace=False)])
    pxv, pyv = px[pick], py[pick]
    series = [{"series": f'x{{c="{i // _CHUNK}",i="{i}"}}', "values": _literal(v)}
              for i, v in enumerate(xv)]
    series += [{"series": f'{n}{{c="{i // _CHUNK}",i="{i}"}}', "values": _literal(v)}
               for n, vals in (("a", pxv), ("b", pyv)) for i, v in enumerate(vals)]
    queries = [(f'{f}(x{{c="{c}"}})', name) for f, name in PROMQL_UNARY.items()
               for c in range(-(-len(xv) // _CHUNK))]
    queries += [(f'a{{c="{c}"}} {op} b{{c="{c}"}}', name) for op, name in PROMQL_BINARY.items()
                for c in range(-(-len(pxv) // _CHUNK))]
    tests = [{"expr": f"{q} # c0e{j}", "eval_time": "0s",
              "exp_samples": [{"labels": 'impossible{x="1"}', "value": -1}]}
             for j, (q, _) in enumerate(queries)]
    doc = {"tests": [{"interval": "1m", "input_series": series, "promql_expr_test": tests}]}
    (tmp_path / "math_test.yml").write_text(json.dumps(doc))
    env = {} if path == "fma" else {"GODEBUG": "cpu.fma=off"}
    theirs = parse_output(run(binary, ["math_test.yml"], tmp_path, env=env))[0].exprs
    fma = path == "fma"
    failures, checked = [], 0
    for j, (query, name) in enumerate(queries):
        got = theirs.get((f"c0e{j}", "0s"))
        assert isinstance(got, list) and got, f"{query}: promtool said {got!r}"
        unary = name in unary_functions(fma)
        ours = unary_functions(fma)[name](xv) if unary else binary_functions(fma)[name](pxv, pyv)
        for labels, value in got:
            i = int(dict(labels)["i"])
            checked += 1
            if canonical_bits(np.array([value]))[0] != canonical_bits(ours[i:i + 1])[0]:
                args = repr(xv[i]) if unary else f"({pxv[i]!r}, {pyv[i]!r})"
                failures.append(f"{name}{args}: promtool {value!r}, ours {ours[i]!r}")
    assert checked >= len(PROMQL_UNARY) * len(xv)
    assert not failures, f"{binary.name} ({binary.go}): " + "\n".join(failures[:20])

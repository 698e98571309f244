"""Load on the operator API: ``/self/health`` against ``/healthz`` on the same uvicorn server.

Two runs, each on a fresh ``selfslo serve`` process bound to 127.0.0.1 (a
separate process, so the load generator does not share the server's GIL):

1. a heartbeat log of SIZE records (default 1,000,000);
2. a log FACTOR times bigger (default 10x).

In each run the server first answers one cold ``/self/health`` (it counts the
whole log once; reported separately), then both endpoints get the same number
of requests from the same async client with the same concurrency, phases
alternated in slices so background noise hits both alike. Every phase is
bounded by a request count and a time limit, and the server is always stopped.

Reported per run: throughput (req/s) and p50/p99 latency of both endpoints.
Targets (issue 7): ``/self/health`` throughput >= 0.5x ``/healthz``; run 2's
``/self/health`` p99 within 1.5x of run 1's. The LAST line holds the ratios.

    python benchmarks/api_load.py [SIZE] [--factor 10] [--requests 2000]
                                  [--concurrency 8] [--max-seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from pytest_selfslo._core.net import free_port
from pytest_selfslo.heartbeat import generate_heartbeats

_BLOCK = 1000


@dataclass
class Phase:
    """Latencies (seconds) of one endpoint's requests and the wall time they took."""

    latencies: list[float]
    wall: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def write_log(path: Path, size: int) -> None:
    """``size`` valid records: a repeated 1000-record block, then distinct newest ones."""
    block = b"".join(orjson.dumps(hb.to_dict()) + b"\n"
                     for hb in generate_heartbeats("steady", _BLOCK, seed=1, start=1.7e9))
    tail = b"".join(orjson.dumps(hb.to_dict()) + b"\n"
                    for hb in generate_heartbeats("coherence_drop", _BLOCK, seed=2,
                                                  start=1.8e9))
    with open(path, "wb") as fh:
        for _ in range(max(size // _BLOCK - 1, 0)):
            fh.write(block)
        fh.write(tail)


async def hammer(client: httpx.AsyncClient, path: str, requests: int, concurrency: int,
                 deadline: float) -> Phase:
    """``requests`` GETs of ``path`` from ``concurrency`` workers, stopping at ``deadline``."""
    latencies: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            began = time.perf_counter()
            resp = await client.get(path)
            latencies.append(time.perf_counter() - began)
            if resp.status_code != 200:
                raise SystemExit(f"{path} answered {resp.status_code}: {resp.text[:200]}")

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Phase(latencies, time.perf_counter() - began)


async def measure(base: str, requests: int, concurrency: int,
                  max_seconds: float) -> tuple[Phase, Phase]:
    """Alternate slices of /healthz and /self/health until each got ``requests``."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    live, health = Phase([], 0.0), Phase([], 0.0)
    slices = 4
    per_slice = max(requests // slices, 1)
    deadline = time.monotonic() + max_seconds
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await hammer(client, "/healthz", concurrency * 4, concurrency, deadline)  # warm-up
        for _ in range(slices):
            for phase, path in ((live, "/healthz"), (health, "/self/health")):
                got = await hammer(client, path, per_slice, concurrency, deadline)
                phase.latencies += got.latencies
                phase.wall += got.wall
    return live, health


def start_server(log: Path, state: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "pytest_selfslo", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--heartbeats", str(log), "--state-dir", str(state),
           "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    stop_server(proc)
    raise SystemExit("server did not start within 60s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def one_run(size: int, args: argparse.Namespace, tmp: Path) -> tuple[Phase, Phase]:
    log = tmp / f"identity-{size}.jsonl"
    began = time.perf_counter()
    write_log(log, size)
    written = time.perf_counter() - began
    proc, base = start_server(log, tmp / f"state-{size}")
    try:
        began = time.perf_counter()
        cold = httpx.get(f"{base}/self/health", timeout=120).json()
        cold_s = time.perf_counter() - began
        if cold["heartbeat_count"] != size - size % _BLOCK or size < _BLOCK:
            print(f"  note: heartbeat_count {cold['heartbeat_count']} for size {size}")
        live, health = asyncio.run(measure(base, args.requests, args.concurrency,
                                           args.max_seconds))
    finally:
        stop_server(proc)
        log.unlink(missing_ok=True)
    print(f"run size={size:,} (log written in "
          f"{written:.1f}s, cold /self/health {cold_s * 1000:.0f} ms)")
    for name, ph in (("/healthz", live), ("/self/health", health)):
        print(f"  {name:<13} {len(ph.latencies):>6} req  {ph.rate:8.0f} req/s  "
              f"p50 {ph.pct(0.50):6.2f} ms  p99 {ph.pct(0.99):6.2f} ms")
    return live, health


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size", nargs="?", type=int, default=1_000_000,
                        help="Heartbeats in the first run's log (default 1,000,000)")
    parser.add_argument("--factor", type=int, default=10, help="Second run's log multiplier")
    parser.add_argument("--requests", type=int, default=2000,
                        help="Requests per endpoint per run (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="Concurrent clients")
    parser.add_argument("--max-seconds", type=float, default=30.0,
                        help="Time bound of each run's measurement (default 30)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="selfslo-api-load-") as tmp:
        live1, health1 = one_run(args.size, args, Path(tmp))
        live2, health2 = one_run(args.size * args.factor, args, Path(tmp))
    thr1 = health1.rate / live1.rate
    thr2 = health2.rate / live2.rate
    p99 = health2.pct(0.99) / health1.pct(0.99)
    print(f"ratios: health/healthz throughput {thr1:.2f} (run 1) {thr2:.2f} (run 2), target "
          f">= 0.5; health p99 run2/run1 {p99:.2f} ({health1.pct(0.99):.2f} -> "
          f"{health2.pct(0.99):.2f} ms), target <= 1.5")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

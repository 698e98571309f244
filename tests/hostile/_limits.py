"""Run one hostile-input case in a subprocess under resource limits and judge how it ended.

Every case of the hostile suite is a real process -- the ``selfslo`` CLI, or
``selfslo serve`` answering HTTP -- started with ``resource`` limits, so a
crash, a hang or a memory blow-up is contained and reported instead of
taking the test run down:

* ``RLIMIT_CPU`` (default 10 s): a busy loop is killed (SIGXCPU/SIGKILL);
* ``RLIMIT_AS`` (default 1 GiB): an allocation beyond it fails (MemoryError);
* a wall-clock limit (default 10 s, times ``$SELFSLO_HOSTILE_SLACK`` on a
  slow machine): a process blocked without using CPU (a FIFO ``open()``) is
  killed, its whole process group with it;
* no core files.

:func:`run_limited` runs a command to its end; :func:`start_limited` starts a
long-running one (a server) and :meth:`Running.stop` ends it. Both give an
:class:`Outcome`, whose :meth:`Outcome.assert_clean_error` is the suite's
standard verdict: ended in time, not by a signal, the expected exit status,
exactly one line on stderr, no traceback.

Generic on purpose: any command, any expected status. Used as
``from _limits import run_limited`` in this folder (pytest puts it on
``sys.path``) or through the ``run_limited`` fixture of ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = [
    "ADDRESS_SPACE",
    "CPU_SECONDS",
    "REPO",
    "WALL_SECONDS",
    "Outcome",
    "Running",
    "run_limited",
    "selfslo",
    "start_limited",
]

REPO = Path(__file__).resolve().parents[2]
#: CPU seconds a case may use (RLIMIT_CPU)
CPU_SECONDS = 10
#: bytes of address space a case may map (RLIMIT_AS)
ADDRESS_SPACE = 1 << 30
#: seconds of wall-clock time before the case is killed
WALL_SECONDS = 10.0


def _slack() -> float:
    try:
        return max(1.0, float(os.environ.get("SELFSLO_HOSTILE_SLACK", "1")))
    except ValueError:
        return 1.0


@dataclasses.dataclass
class Outcome:
    """How a limited process ended."""

    argv: Sequence[str]
    returncode: int
    stdout: str
    stderr: str
    wall: float
    timed_out: bool
    limits: str

    @property
    def signal(self) -> str | None:
        """Name of the signal that ended the process, if one did."""
        if self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"

    def describe(self) -> str:
        """Everything a failing assertion should show."""
        how = (f"killed after the {self.wall:.1f}s wall-clock limit" if self.timed_out
               else f"ended by {self.signal}" if self.signal else f"exit {self.returncode}")
        return (f"{' '.join(self.argv)}\n  {how} in {self.wall:.2f}s ({self.limits})\n"
                f"  stdout: {self.stdout[-2000:]!r}\n  stderr: {self.stderr[-4000:]!r}")

    def assert_ended_cleanly(self, *codes: int) -> None:
        """Ended by itself within the limits, not by a signal, no traceback, status in ``codes``."""
        assert not self.timed_out, self.describe()
        assert self.signal is None, self.describe()
        assert "Traceback (most recent call last)" not in self.stderr, self.describe()
        assert "Traceback (most recent call last)" not in self.stdout, self.describe()
        if codes:
            assert self.returncode in codes, self.describe()

    def assert_clean_error(self, status: int = 2, contains: str | Sequence[str] = ()) -> str:
        """The suite's verdict for refused input: exit ``status`` and one line on stderr.

        ``contains`` are substrings that line must hold. Returns the line.
        """
        self.assert_ended_cleanly(status)
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected a one-line error\n{self.describe()}"
        for part in [contains] if isinstance(contains, str) else contains:
            assert part in lines[0], f"{part!r} not in the error\n{self.describe()}"
        return lines[0]


def _limiter(cpu: int, memory: int) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _environment(env: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [out.get("PYTHONPATH")])])
    # fewer thread arenas and BLAS threads: the address-space limit measures the program,
    # not the allocator's per-thread reservations
    out.setdefault("MALLOC_ARENA_MAX", "2")
    out.setdefault("OPENBLAS_NUM_THREADS", "1")
    out.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    out.update(env or {})
    return out


class Running:
    """A limited process started by :func:`start_limited` (a server, usually)."""

    def __init__(self, proc: subprocess.Popen[str], argv: Sequence[str], started: float,
                 wall: float, limits: str) -> None:
        self.proc = proc
        self.argv = argv
        self.started = started
        self.wall = wall
        self.limits = limits

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGINT, grace: float = 15.0) -> Outcome:
        """Send ``sig``, wait up to ``grace`` seconds (then kill), and report how it ended."""
        timed_out = False
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(self.proc)
            out, err = self.proc.communicate()
        return Outcome(self.argv, self.proc.returncode, out, err,
                       time.monotonic() - self.started, timed_out, self.limits)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _popen(argv: Sequence[str], cwd: str | Path | None, env: Mapping[str, str] | None,
           stdin: int | None, cpu: int, memory: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        list(argv), cwd=cwd, env=_environment(env), stdin=stdin, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, errors="backslashreplace",
        preexec_fn=_limiter(cpu, memory), start_new_session=True)


def run_limited(argv: Sequence[str], *, cwd: str | Path | None = None,
                env: Mapping[str, str] | None = None, input: str | None = None,
                cpu: int = CPU_SECONDS, memory: int = ADDRESS_SPACE,
                wall: float = WALL_SECONDS) -> Outcome:
    """Run ``argv`` to its end under the limits and return how it ended.

    ``env`` adds to (overrides) the current environment; the repository is put
    first on ``PYTHONPATH`` so a subprocess imports the code under test.
    """
    limit = wall * _slack()
    described = f"cpu {cpu}s, address space {memory >> 20} MiB, wall {limit:g}s"
    started = time.monotonic()
    proc = _popen(argv, cwd, env, subprocess.PIPE if input is not None else subprocess.DEVNULL,
                  cpu, memory)
    timed_out = False
    try:
        out, err = proc.communicate(input, timeout=limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        out, err = proc.communicate()
    return Outcome(argv, proc.returncode, out, err, time.monotonic() - started, timed_out,
                   described)


def start_limited(argv: Sequence[str], *, cwd: str | Path | None = None,
                  env: Mapping[str, str] | None = None, cpu: int = 60,
                  memory: int = ADDRESS_SPACE) -> Running:
    """Start ``argv`` under the CPU and memory limits; :meth:`Running.stop` ends it."""
    described = f"cpu {cpu}s, address space {memory >> 20} MiB"
    proc = _popen(argv, cwd, env, subprocess.DEVNULL, cpu, memory)
    return Running(proc, argv, time.monotonic(), WALL_SECONDS * _slack(), described)


def selfslo(*args: str | Path) -> list[str]:
    """The argv of ``selfslo ARGS...`` run by this interpreter."""
    return [sys.executable, "-m", "pytest_selfslo", *map(str, args)]

"""``selfslo replay``: analyse the last N heartbeats against the SLOs, optionally snapshot.

    $ selfslo replay --file data/identity.jsonl --count 50
    Analyzing last 50 heartbeats (of 1234 total) from data/identity.jsonl
    ...
    [PASS] coherence >= 0.80 (actual 0.9213)
    ...
    ALL SLO TARGETS PASSED

Exit codes: 0 every objective met, 1 at least one failed, 2 usage or file
error (a message, never a traceback). ``--count 0`` analyses the whole log in
one pass (the total is counted in the same pass); any other count reads only
the end of the file. ``--save-snapshot`` writes ``data/self_state.json`` (or
PATH) atomically for the operator API and dashboards.

Output is plain ASCII unless stdout is a terminal that can show emoji
(UTF-8 encoding, ``TERM`` not ``dumb``, ``NO_COLOR`` unset). A progress bar is
drawn on stderr only when stderr is a terminal and the scan runs for more
than a second.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import orjson

from pytest_selfslo._core.atomicio import atomic_write_bytes
from pytest_selfslo._core.errors import InputError
from pytest_selfslo._core.safetext import printable
from pytest_selfslo.heartbeat.logio import DEFAULT_MAX_LINE_BYTES, read_heartbeats
from pytest_selfslo.heartbeat.model import SCORES, Heartbeat
from pytest_selfslo.heartbeat.scan import scan_heartbeats
from pytest_selfslo.slo.spec import (
    DEFAULT_SLO_SPEC,
    SLOReport,
    SLOSpec,
    evaluate,
    evaluate_columns,
)

__all__ = [
    "DEFAULT_FILE",
    "DEFAULT_SNAPSHOT",
    "ReplayResult",
    "format_text",
    "replay",
    "save_snapshot",
    "supports_emoji",
]

DEFAULT_FILE = "data/identity.jsonl"
DEFAULT_SNAPSHOT = "data/self_state.json"
DEFAULT_COUNT = 50


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """One replay: what was read and what the SLO evaluation found."""

    source: str
    requested: int            # 0 = all
    token_id: str | None
    total: int
    total_exact: bool
    skipped: int
    bad_lines: tuple[int, ...]      # line numbers, or positions from the end (see below)
    reasons: tuple[str, ...]
    last_heartbeat: Heartbeat | None
    report: SLOReport
    #: True when ``bad_lines`` count from the end of the file (1 = last line): a
    #: tail read of a big log does not know absolute line numbers without a full scan.
    bad_lines_from_end: bool = False

    @property
    def passed(self) -> bool:
        return self.report.passed

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (``--json``): the SLO report plus where the data came from."""
        return {
            "source": self.source,
            "requested": self.requested,
            "token_id": self.token_id,
            "total": self.total,
            "total_exact": self.total_exact,
            "skipped": self.skipped,
            "bad_lines": list(self.bad_lines),
            "bad_lines_from_end": self.bad_lines_from_end,
            "bad_reasons": list(self.reasons),
            **self.report.to_dict(),
            "last_heartbeat": None if self.last_heartbeat is None
            else self.last_heartbeat.to_dict(rfc3339=True),
        }

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """Content of the snapshot file (``data/self_state.json``)."""
        moment = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
        return {
            "generated_at": moment.isoformat().replace("+00:00", "Z"),
            "source": self.source,
            "token_id": self.token_id,
            "count": self.report.count,
            "total": self.total,
            "total_exact": self.total_exact,
            "skipped": self.skipped,
            "averages": dict(self.report.averages),
            "percentiles": {k: dict(v) for k, v in self.report.percentiles.items()},
            "slo_status": self.report.slo_status(),
            "passed": self.report.passed,
            "last_heartbeat": None if self.last_heartbeat is None
            else self.last_heartbeat.to_dict(rfc3339=True),
        }


def replay(path: str | Path = DEFAULT_FILE, count: int = DEFAULT_COUNT,
           token_id: str | None = None, spec: SLOSpec = DEFAULT_SLO_SPEC, *,
           progress: Any = None,
           max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> ReplayResult:
    """Read the last ``count`` heartbeats (0 = all) and evaluate ``spec`` on them.

    Lines longer than ``max_line_bytes`` are malformed (skipped and reported).

    Raises :class:`InputError` when the file holds no valid heartbeat (for the
    token), since there is nothing to judge; file errors propagate as
    :class:`~pytest_selfslo._core.errors.HeartbeatFormatError`.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InputError(f"count must be an integer >= 0 (0 = all), got {count!r}")
    if count == 0:  # one columnar pass: no Heartbeat objects, total counted on the way
        cols = scan_heartbeats(path, token_id=token_id, progress=progress,
                               max_line_bytes=max_line_bytes)
        seen = _Seen(cols.count, True, cols.skipped, cols.bad_lines, cols.reasons, cols.last,
                     False)
        report = evaluate_columns(spec, cols.scores) if cols.count else None
    else:
        read = read_heartbeats(path, last=count, token_id=token_id,
                               max_line_bytes=max_line_bytes)
        from_end = not read.total_exact and read.bad_from_end is not None
        seen = _Seen(read.total, read.total_exact, read.skipped,
                     read.bad_from_end if from_end and read.bad_from_end is not None
                     else read.bad_lines, read.reasons, read[-1] if read else None, from_end)
        report = evaluate(spec, read) if read else None
    if report is None:
        what = f"for token {token_id!r} " if token_id else ""
        detail = " (empty file)" if Path(path).stat().st_size == 0 else ""
        if seen.skipped:
            where = f"{seen.bad_lines[0]}{' from the end' if seen.from_end else ''}"
            detail = (f" ({seen.skipped} malformed line(s) skipped, first at line {where}: "
                      f"{seen.reasons[0]})")
        raise InputError(f"{path}: no valid heartbeats {what}to analyze{detail}")
    return ReplayResult(
        source=str(path), requested=count, token_id=token_id, total=seen.total,
        total_exact=seen.exact, skipped=seen.skipped, bad_lines=tuple(seen.bad_lines),
        reasons=tuple(seen.reasons), last_heartbeat=seen.last, report=report,
        bad_lines_from_end=seen.from_end,
    )


@dataclass(frozen=True, slots=True)
class _Seen:
    """What either read path found, in one shape."""

    total: int
    exact: bool
    skipped: int
    bad_lines: list[int]
    reasons: list[str]
    last: Heartbeat | None
    from_end: bool


def save_snapshot(result: ReplayResult, path: str | Path = DEFAULT_SNAPSHOT,
                  now: float | None = None) -> Path:
    """Write the snapshot atomically (temp file, fsync, rename); returns the path."""
    target = Path(path)
    atomic_write_bytes(target, orjson.dumps(result.snapshot(now), option=orjson.OPT_INDENT_2)
                       + b"\n")
    return target


# ---------------------------------------------------------------------------
# Text output
# ---------------------------------------------------------------------------


def supports_emoji(stream: IO[str], environ: Mapping[str, str] | None = None) -> bool:
    """Emoji only for a UTF-8 terminal that is not ``dumb`` and without ``NO_COLOR``."""
    env = os.environ if environ is None else environ
    if "NO_COLOR" in env or env.get("TERM", "") == "dumb":
        return False
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return encoding == "utf8"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def format_text(result: ReplayResult, emoji: bool = False) -> str:
    """The human report, in the shape of the original replay tool."""
    report = result.report
    mark = {True: "\u2705 ", False: "\u274c "} if emoji else {True: "", False: ""}
    scope = f"all {report.count}" if result.requested == 0 else f"last {report.count}"
    total = f"{result.total}" if result.total_exact else f"~{result.total}"
    token = f" for token {result.token_id}" if result.token_id else ""
    lines = [f"{'🔍 ' if emoji else ''}Analyzing {scope} heartbeats (of {total} total)"
             f"{token} from {result.source}"]
    if result.skipped:
        shown = ", ".join(str(n) for n in result.bad_lines)
        which = "lines from the end" if result.bad_lines_from_end else "first"
        lines.append(f"{'⚠️  ' if emoji else ''}Skipped {result.skipped} malformed line(s)"
                     f" ({which}: {shown}; {result.reasons[0]})")
    lines += ["", "Averages:"]
    lines += [f"  {s:<11} {_num(report.averages[s])}" for s in SCORES]
    lines += ["", "Percentiles:        p50      p95      p99"]
    lines += [f"  {s:<11} " + "  ".join(f"{_num(report.percentiles[s][p]):>7}"
                                        for p in ("p50", "p95", "p99")) for s in SCORES]
    lines += ["", "SLO status:"]
    for r in report.objectives:
        tag = "[PASS]" if r.passed else "[FAIL]"
        lines.append(f"  {mark[r.passed]}{tag} {r.objective.describe()} "
                     f"(actual {_num(r.actual)})")
    lines.append("")
    if report.passed:
        lines.append(f"{mark[True]}ALL SLO TARGETS PASSED")
    else:
        failed = ", ".join(r.name for r in report.failed)
        lines.append(f"{mark[False]}SLO TARGETS FAILED: {failed}")
    return "\n".join(printable(line) for line in lines)


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------



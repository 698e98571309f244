"""``selfslo replay``: analyse the last N heartbeats against the SLOs (exit 1 if one fails)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import IO

import orjson

from pytest_selfslo.cli.args import count_arg
from pytest_selfslo.heartbeat.logio import DEFAULT_MAX_LINE_BYTES, check_max_line_bytes
from pytest_selfslo.slo.replay import (
    DEFAULT_COUNT,
    DEFAULT_FILE,
    DEFAULT_SNAPSHOT,
    format_text,
    replay,
    save_snapshot,
    supports_emoji,
)
from pytest_selfslo.slo.spec import DEFAULT_SLO_SPEC, load_slo_spec

__all__ = ["configure", "run"]


class _Progress:
    """``[#####.....]  42%`` on a TTY stderr, drawn only once a scan passes one second."""

    def __init__(self, stream: IO[str], delay: float = 1.0, width: int = 30) -> None:
        self.stream = stream
        self.delay = delay
        self.width = width
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self.started < self.delay or total <= 0:
            return
        frac = min(done / total, 1.0)
        filled = int(frac * self.width)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {frac:4.0%} "
                          f"{done >> 20}/{total >> 20} MiB")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * (self.width + 30) + "\r")
            self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``selfslo replay``."""
    parser.add_argument("--file", default=DEFAULT_FILE,
                        help=f"Heartbeat log, JSON Lines (default {DEFAULT_FILE})")
    parser.add_argument("--count", type=count_arg, default=DEFAULT_COUNT,
                        help=f"Analyse the last N heartbeats, 0 = all (default {DEFAULT_COUNT})")
    parser.add_argument("--token", default=None, help="Only heartbeats of this token_id")
    parser.add_argument("--slo", default=None,
                        help="SLO spec YAML (default: the built-in Phase C targets)")
    parser.add_argument("--json", action="store_true", help="Print the report as JSON")
    parser.add_argument("--max-line-bytes", type=_max_line_arg, default=DEFAULT_MAX_LINE_BYTES,
                        metavar="N",
                        help=f"Longer lines are malformed and skipped unread "
                             f"(default {DEFAULT_MAX_LINE_BYTES})")
    parser.add_argument("--save-snapshot", nargs="?", const=DEFAULT_SNAPSHOT, default=None,
                        metavar="PATH",
                        help=f"Also write the snapshot atomically (default {DEFAULT_SNAPSHOT})")


def _max_line_arg(text: str) -> int:
    try:
        return check_max_line_bytes(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 64, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    """Run the replay; 0 pass, 1 an SLO failed, 2 is raised as InputError/OSError."""
    spec = load_slo_spec(args.slo) if args.slo else DEFAULT_SLO_SPEC
    progress = _Progress(sys.stderr) if args.count == 0 and _isatty(sys.stderr) else None
    try:
        result = replay(args.file, args.count, args.token, spec, progress=progress,
                        max_line_bytes=args.max_line_bytes)
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        sys.stdout.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2).decode()
                         + "\n")
    else:
        print(format_text(result, emoji=supports_emoji(sys.stdout)))
    if args.save_snapshot:
        saved = save_snapshot(result, args.save_snapshot)
        print(f"snapshot written to {saved}", file=sys.stderr)
    return 0 if result.passed else 1

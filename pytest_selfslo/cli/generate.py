"""``selfslo generate``: write a seeded heartbeat scenario as JSON Lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_selfslo._core.atomicio import atomic_write_bytes
from pytest_selfslo._core.errors import InputError
from pytest_selfslo.cli.args import count_arg
from pytest_selfslo.heartbeat.scenarios import SCENARIOS, generate_heartbeats

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``selfslo generate``."""
    parser.add_argument("--scenario", required=True, choices=sorted(SCENARIOS),
                        help="Which scenario to generate")
    parser.add_argument("-n", "--count", type=count_arg, default=100, dest="count",
                        help="Number of heartbeats (default 100)")
    parser.add_argument("-o", "--output", default="-",
                        help="Output file, replaced atomically ('-' = stdout, the default)")
    parser.add_argument("--seed", type=int, default=0, help="Random seed (default 0)")
    parser.add_argument("--tokens", default="token-a",
                        help="Comma-separated token ids (default token-a)")
    parser.add_argument("--start", type=float, default=1_700_000_000.0,
                        help="Unix time of the first tick (default 1700000000)")
    parser.add_argument("--interval", type=float, default=10.0,
                        help="Seconds between ticks (default 10)")
    parser.add_argument("--append", action="store_true",
                        help="Append to the output file instead of replacing it")
    parser.add_argument("--rfc3339", action="store_true",
                        help="Write ts as RFC 3339 text instead of unix seconds")


def run(args: argparse.Namespace) -> int:
    """Generate and write; 2 with a message for bad arguments (via ``InputError``)."""
    tokens = [t.strip() for t in str(args.tokens).split(",") if t.strip()]
    try:
        heartbeats = generate_heartbeats(args.scenario, args.count, seed=args.seed,
                                         start=args.start, interval=args.interval,
                                         tokens=tokens)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    data = "".join(hb.to_json_line(rfc3339=args.rfc3339) + "\n" for hb in heartbeats).encode()
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    elif args.append:
        with open(args.output, "ab") as f:
            f.write(data)
    else:
        atomic_write_bytes(Path(args.output), data)
    if args.output != "-":
        print(f"wrote {len(heartbeats)} {args.scenario} heartbeats to {args.output}",
              file=sys.stderr)
    return 0

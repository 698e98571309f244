"""``selfslo canary``: inspect, tune and steer the percentage canary from a shell.

::

    selfslo canary status [--json]
    selfslo canary tune [--apply] [--dry-run] [--prometheus URL]
    selfslo canary set VALUE --reason TEXT
    selfslo canary pause --reason TEXT | resume --reason TEXT
    selfslo canary history [--limit N] [--json]
    selfslo canary verify-audit
    selfslo canary repair-audit --reason TEXT
    selfslo canary run --every 10m [--apply]
    selfslo canary simulate --heartbeats FILE | --series FILE [--policy FILE] [--rules GLOB]

Every command takes ``--state-dir DIR`` (default ``$SELFSLO_STATE_DIR`` or
``data/``), ``--policy FILE`` (default: the built-in policy) and
``--audit-key-file FILE`` (default ``$SELFSLO_AUDIT_KEY_FILE``; keys the audit
chain). Exit codes: 0 ok, 1 the audit does not verify, 2 usage or input error
(including a write refused because the audit log does not end where the state
file says). Text from the log (reasons, actors, alert names) is printed with
control characters escaped (:func:`~pytest_selfslo._core.safetext.printable`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import getpass
import glob
import json
import os
import signal
import sys
import threading
import time
from typing import Any

from pytest_selfslo._core.errors import AuditChainError
from pytest_selfslo._core.safetext import printable
from pytest_selfslo.canary.comparison import summarize
from pytest_selfslo.canary.policy import DEFAULT_POLICY, CanaryPolicy, load_policy
from pytest_selfslo.canary.store import CanaryStore

__all__ = ["configure", "run"]

PROMETHEUS_ENV = "PROMETHEUS_URL"
DEFAULT_PROMETHEUS = "http://127.0.0.1:9090"


def _duration(text: str) -> float:
    from pytest_selfslo._core.durations import parse_duration

    try:
        seconds = parse_duration(text) / 1000.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration such as 10m or 30s, got {text!r}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {text!r}")
    return seconds


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:operator"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``selfslo canary``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=None,
                        help="Directory of the canary state and audit log "
                             "(default $SELFSLO_STATE_DIR or data/)")
    common.add_argument("--policy", default=None, help="Canary policy YAML (default: built-in)")
    common.add_argument("--audit-key-file", default=None, metavar="FILE",
                        help="HMAC key for the audit chain, a file only you can read "
                             "(default $SELFSLO_AUDIT_KEY_FILE; none: unkeyed chain)")
    sub = parser.add_subparsers(dest="canary_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("status", parents=[common], help="Show the current sampling and last decision")
    p.add_argument("--json", action="store_true", help="Print JSON")

    def tuning(p: argparse.ArgumentParser) -> None:
        p.add_argument("--prometheus", default=os.environ.get(PROMETHEUS_ENV, DEFAULT_PROMETHEUS),
                       help=f"Prometheus API base URL (default ${PROMETHEUS_ENV} or {DEFAULT_PROMETHEUS})")
        p.add_argument("--apply", action="store_true", help="Apply advance/rollback decisions")
        p.add_argument("--dry-run", action="store_true", help="Decide only; persist nothing")
        p.add_argument("--json", action="store_true", help="Print JSON")
        p.add_argument("--heartbeats", default=None, metavar="FILE",
                       help="Read the compare: block's cohorts from this heartbeat log "
                            "(default: from Prometheus, by token_id)")

    tuning(sub.add_parser("tune", parents=[common], help="Observe, decide once and print the decision"))
    p = sub.add_parser("run", parents=[common], help="Run the tuner loop until SIGTERM/Ctrl-C")
    tuning(p)
    p.add_argument("--every", type=_duration, default=600.0, help="Interval between decisions (default 10m)")
    p.add_argument("--iterations", type=int, default=0, help="Stop after N decisions (default: never)")

    p = sub.add_parser("set", parents=[common], help="Set the sampling by hand (audited)")
    p.add_argument("value", type=float, help="New sampling fraction, e.g. 0.25")
    p.add_argument("--reason", required=True, help="Why (required, at most 500 characters)")
    p.add_argument("--actor", default=None, help="Who (default cli:$USER)")
    p.add_argument("--expected-old", type=float, default=None,
                   help="Refuse unless the current sampling is this (optimistic concurrency)")
    for name, text in (("pause", "Stop automatic changes (audited)"),
                       ("resume", "Let the controller act again (audited)")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("--reason", required=True, help="Why (required)")
        p.add_argument("--actor", default=None, help="Who (default cli:$USER)")
    p = sub.add_parser("history", parents=[common], help="Print the audit log")
    p.add_argument("--limit", type=int, default=20, help="Last N records (0 = all, default 20)")
    p.add_argument("--json", action="store_true", help="Print JSON Lines")
    sub.add_parser("verify-audit", parents=[common],
                   help="Verify the audit log's hash chain against the state file (read-only)")
    p = sub.add_parser("repair-audit", parents=[common],
                       help="Fix the end of the audit log after verify-audit (audited)")
    p.add_argument("--reason", required=True, help="Why (required; recorded in the repair record)")
    p.add_argument("--actor", default=None, help="Who (default cli:$USER)")

    p = sub.add_parser("simulate", parents=[common],
                       help="Replay recorded data through the policy and print the decisions")
    p.add_argument("--heartbeats", action="append", default=[], metavar="FILE",
                   help="Heartbeat JSON Lines log (repeatable)")
    p.add_argument("--series", action="append", default=[], metavar="FILE",
                   help="Series YAML file (promtool input_series style; repeatable)")
    p.add_argument("--rules", action="append", default=None, metavar="GLOB",
                   help="Alert rule files for rollback alerts (default rules/*.yml when present)")
    p.add_argument("--every", type=_duration, default=60.0, help="Decision interval (default 1m)")
    p.add_argument("--all", action="store_true", help="Print every decision, not only changes")
    p.add_argument("--json", action="store_true", help="Print JSON")


def _policy(args: argparse.Namespace) -> CanaryPolicy:
    return load_policy(args.policy) if args.policy else DEFAULT_POLICY


def _store(args: argparse.Namespace, policy: CanaryPolicy) -> CanaryStore:
    return CanaryStore(args.state_dir, policy=policy, audit_key_file=args.audit_key_file)


def _stamp(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def _status(args: argparse.Namespace, policy: CanaryPolicy) -> int:
    store = _store(args, policy)
    state = store.load()
    if args.json:
        _print_json({"state": state.to_dict(), "state_path": str(store.state_path),
                     "persisted": store.state_path.exists(),
                     "history": [r.to_dict() for r in store.history(limit=5)]})
        return 0
    index = policy.step_index(state.sampling)
    where = f"step {index + 1} of {len(policy.steps)}" if policy.snap(state.sampling) else "off-step"
    print(f"canary sampling: {state.sampling:.0%} ({where})  paused: {'yes' if state.paused else 'no'}"
          f"  version: {state.version}")
    print(printable(f"since: {_stamp(state.since)}  ({store.state_path}"
                    f"{'' if store.state_path.exists() else ', not written yet'})"))
    last = state.last_decision
    if last:
        print(printable(f"last decision: {last.get('action')} -> {last.get('next_canary')}"))
        for reason in last.get("reasons", []):
            print(f"  - {printable(str(reason))}")
        if isinstance(last.get("comparison"), dict):
            print(printable(f"comparison: {last['comparison'].get('metric')} "
                            f"{summarize(last['comparison'])}"))
    else:
        print("last decision: none yet")
    return 0


def _print_decision(out: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(out)
        return
    print(printable(f"{_stamp(out['at'])}  {out['action'].upper()}  {out['current_canary']:.0%} -> "
                    f"{out['next_canary']:.0%}  {out['note']}".rstrip()))
    for reason in out["reasons"]:
        print(f"  - {printable(str(reason))}")
    if isinstance(out.get("comparison"), dict):
        print(printable(f"  comparison: {out['comparison'].get('metric')} "
                        f"{summarize(out['comparison'])}"))


def _tuner(args: argparse.Namespace, policy: CanaryPolicy) -> Any:
    from prometheus_client import CollectorRegistry

    from pytest_selfslo.canary.cohorts import HeartbeatCohorts
    from pytest_selfslo.canary.tuner import CanaryAutoTuner

    cohorts = HeartbeatCohorts(args.heartbeats) if args.heartbeats else None
    # the command serves no metrics: a registry of its own, so main() can run twice in a process
    return CanaryAutoTuner(prometheus_url=args.prometheus, policy=policy,
                           store=_store(args, policy), dry_run=args.dry_run, auto_apply=args.apply,
                           cohorts=cohorts, registry=CollectorRegistry())


def _run_loop(args: argparse.Namespace, policy: CanaryPolicy) -> int:
    tuner = _tuner(args, policy)
    stop = threading.Event()
    count = 0

    def on_signal(signum: int, frame: Any) -> None:
        print(f"received {signal.Signals(signum).name}: stopping after this decision", file=sys.stderr)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.is_set():
            _print_decision(tuner.check_and_tune(), args.json)
            sys.stdout.flush()
            count += 1
            if args.iterations and count >= args.iterations:
                break
            stop.wait(args.every)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"canary tuner stopped after {count} decision(s)", file=sys.stderr)
    return 0


def _simulate(args: argparse.Namespace, policy: CanaryPolicy) -> int:
    from pytest_selfslo.canary.simulate import simulate_files

    rules = args.rules
    if rules is None:
        rules = sorted(glob.glob("rules/*.yml"))
    started = time.perf_counter()
    result = simulate_files(policy, heartbeats=args.heartbeats, series=args.series, rules=rules,
                            every=args.every)
    if args.json:
        _print_json(result.to_dict() | {"rules": list(rules)})
        return 0
    sources = [*args.heartbeats, *args.series]
    print(f"simulating {', '.join(sources)} every {args.every:g}s; alerts from "
          f"{', '.join(rules) if rules else 'no rule files (no rollback alerts)'}")
    for note in result.notes:
        print(f"note: {note}")
    print(result.timeline(every_decision=args.all))
    rollback = next((d for d in result.decisions if d.action.value == "rollback"), None)
    print(f"final sampling {result.final_sampling:.0%} after {len(result.decisions)} decisions"
          + (f"; first rollback at {_stamp(rollback.at)}" if rollback else "")
          + f" ({time.perf_counter() - started:.2f}s)")
    return 0


def _verify(store: CanaryStore) -> int:
    """Print what :meth:`CanaryStore.inspect_audit` found: 0 verifies, 1 does not. Read-only."""
    try:
        report = store.inspect_audit()
    except AuditChainError as exc:  # the log cannot be read at all
        print(printable(f"audit log does NOT verify: {exc}"), file=sys.stderr)
        return 1
    for note in report.notes:
        print(printable(f"note: {note}"), file=sys.stderr)
    if report.problems:
        for problem in report.problems:
            print(printable(f"audit log does NOT verify: {problem}"), file=sys.stderr)
        return 1
    keyed = (f", {report.keyed} with a valid MAC" if store.audit.key is not None
             else (f" ({report.keyed} carry a MAC: pass --audit-key-file to check them)"
                   if report.keyed else ""))
    print(printable(f"audit log OK: {report.records} record(s){keyed}, chain and head verified "
                    f"({store.audit_path})"))
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch ``selfslo canary ACTION``; returns the exit code."""
    policy = _policy(args)
    command = args.canary_command
    if command == "status":
        return _status(args, policy)
    if command == "tune":
        _print_decision(_tuner(args, policy).check_and_tune(), args.json)
        return 0
    if command == "run":
        return _run_loop(args, policy)
    if command == "simulate":
        return _simulate(args, policy)
    store = _store(args, policy)
    actor = getattr(args, "actor", None) or _actor()
    if command == "set":
        record = store.apply(args.value, reason=args.reason, actor=actor,
                             expected_old_sampling=args.expected_old)
        print(f"canary sampling {record.old:.0%} -> {record.new:.0%} (audit record {record.seq}); "
              "services pick it up without a restart")
        return 0
    if command in ("pause", "resume"):
        record = getattr(store, command)(reason=args.reason, actor=actor)
        print(f"canary {'paused' if record.paused else 'resumed'} at {record.new:.0%} "
              f"(audit record {record.seq})")
        return 0
    if command == "history":
        records = store.history(limit=args.limit or None)
        for r in records:
            if args.json:
                print(json.dumps(r.to_dict(), sort_keys=True))
            else:
                print(f"{r.seq:>5}  {_stamp(r.ts)}  {printable(r.action):<8} {r.old:>5.0%} -> "
                      f"{r.new:<5.0%} {printable(r.actor)}: {printable(r.reason)}")
        if not records and not args.json:
            print("no audit records yet")
        return 0
    if command == "verify-audit":
        return _verify(store)
    if command == "repair-audit":
        done = store.repair_audit(reason=args.reason, actor=actor)
        for line in done:
            print(printable(f"repaired: {line}"))
        if not done:
            print(printable(f"nothing to repair: {store.audit_path} verifies and ends where "
                            "the state file says"))
        return 0
    raise AssertionError(f"unhandled canary command {command!r}")  # pragma: no cover

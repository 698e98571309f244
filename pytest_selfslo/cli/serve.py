"""``selfslo serve``: the operator API on uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from pytest_selfslo.api.app import create_app
from pytest_selfslo.api.config import DEFAULT_READ_TIMEOUT, ApiConfig
from pytest_selfslo.api.server import uvicorn_options
from pytest_selfslo.heartbeat.logio import DEFAULT_MAX_LINE_BYTES

__all__ = ["configure", "run"]

_log = logging.getLogger("pytest_selfslo.api")


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``selfslo serve``."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="Interface to bind (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--heartbeats", default="data/identity.jsonl",
                        help="Heartbeat JSON Lines log (default data/identity.jsonl)")
    parser.add_argument("--window", type=int, default=50,
                        help="Heartbeats averaged by /self/health (default 50)")
    parser.add_argument("--state-dir", default="data",
                        help="Canary state and audit log directory (default data/)")
    parser.add_argument("--slo-spec", default=None, help="SLO spec YAML (default built in)")
    parser.add_argument("--policy", default=None, help="Canary policy YAML (default built in)")
    parser.add_argument("--token-file", default=None,
                        help="File of 'TOKEN' or 'NAME TOKEN' lines (else SELFSLO_API_TOKEN)")
    parser.add_argument("--insecure-no-auth", action="store_true",
                        help="Allow mutations without a token (trusted networks only)")
    parser.add_argument("--audit-key-file", default=None, metavar="FILE",
                        help="HMAC key for the canary audit chain (default "
                             "$SELFSLO_AUDIT_KEY_FILE; none: unkeyed)")
    parser.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT,
                        metavar="SECONDS",
                        help=f"A /self/health read of the heartbeat log taking longer "
                             f"answers 503 (default {DEFAULT_READ_TIMEOUT:g})")
    parser.add_argument("--max-line-bytes", type=int, default=DEFAULT_MAX_LINE_BYTES,
                        metavar="N",
                        help=f"Longer heartbeat lines are malformed (default "
                             f"{DEFAULT_MAX_LINE_BYTES})")
    parser.add_argument("--log-level", default="info",
                        choices=["critical", "error", "warning", "info", "debug"],
                        help="uvicorn log level (default info)")


def _auth_mode(args: argparse.Namespace) -> str:
    """One phrase for the start-up line: how mutations are authorised."""
    if args.token_file:
        return f"bearer tokens from {args.token_file}"
    if os.environ.get("SELFSLO_API_TOKEN"):
        return "bearer token from SELFSLO_API_TOKEN"
    if args.insecure_no_auth:
        return "ALLOWED WITHOUT AUTH (--insecure-no-auth)"
    return "refused (no token configured: set SELFSLO_API_TOKEN or --token-file)"


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; configuration errors exit 2 before binding."""
    import uvicorn

    config = ApiConfig(heartbeats=args.heartbeats, window=args.window,
                       state_dir=args.state_dir, slo_spec=args.slo_spec, policy=args.policy,
                       token_file=args.token_file, insecure_no_auth=args.insecure_no_auth,
                       export_log=True, audit_key_file=args.audit_key_file,
                       read_timeout=args.read_timeout, max_line_bytes=args.max_line_bytes)
    app = create_app(config)
    if args.insecure_no_auth:
        _log.warning("--insecure-no-auth: anyone who can reach %s:%s may change the canary",
                     args.host, args.port)
    print(f"selfslo serve: http://{args.host}:{args.port}  heartbeats {config.heartbeats} "
          f"(window {config.window})  state {config.state_dir}  "
          f"mutations: {_auth_mode(args)}", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                **uvicorn_options())
    return 0

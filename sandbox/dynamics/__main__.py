"""``python -m sandbox.dynamics serve --state PATH [...]``: create (if missing) and serve an environment."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sandbox.dynamics.app import build_app
from sandbox.dynamics.config import API_VERSION, DynamicsStandinConfig
from sandbox.dynamics.org import Org, create_org
from sandbox.serve import prepare_state, serve_https


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.dynamics")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a Dataverse environment over HTTPS on 127.0.0.1")
    serve.add_argument("--state", required=True, type=Path, help="SQLite state file (created if missing)")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--tls-dir", type=Path, default=None, help="default: <state dir>/tls")
    serve.add_argument(
        "--users-file",
        type=Path,
        default=None,
        help="JSON list of {firstname, lastname, internalemailaddress, isdisabled}; used only when creating the state",
    )
    serve.add_argument("--sku", choices=("enterprise", "professional"), default="enterprise")
    serve.add_argument("--field-service", action=argparse.BooleanOptionalAction, default=False)
    serve.add_argument("--requests-per-window", type=int, default=6000)
    serve.add_argument("--window-s", type=float, default=300.0)
    serve.add_argument("--max-concurrency", type=int, default=52)
    serve.add_argument("--fault-5xx-rate", type=float, default=0.0)
    serve.add_argument("--fault-throttle-rate", type=float, default=0.0)
    serve.add_argument("--fault-timeout-rate", type=float, default=0.0,
                       help="share of calls that stall for --fault-timeout-s, then answer 504")
    serve.add_argument("--fault-timeout-s", type=float, default=20.0)
    serve.add_argument("--fault-retry-after-s", type=int, default=5, help="Retry-After sent with injected 429s")
    serve.add_argument("--latency-ms", type=int, default=0)
    serve.add_argument("--fault-seed", type=int, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    state = prepare_state(args.state, args.users_file, create_org)
    config = DynamicsStandinConfig(
        sku=args.sku,
        field_service=args.field_service,
        requests_per_window=args.requests_per_window,
        window_s=args.window_s,
        max_concurrency=args.max_concurrency,
        fault_5xx_rate=args.fault_5xx_rate,
        fault_throttle_rate=args.fault_throttle_rate,
        fault_timeout_rate=args.fault_timeout_rate,
        fault_timeout_s=args.fault_timeout_s,
        fault_retry_after_s=args.fault_retry_after_s,
        latency_ms=args.latency_ms,
        fault_seed=args.fault_seed,
    )
    app = build_app(state, config)
    org: Org = app.state.org
    info = {
        "kind": "dynamics",
        "state_path": str(state),
        "org_id": org.org_id,
        "tenant_id": org.tenant_id,
        "credentials": org.credentials(),
        "api_version": API_VERSION,
    }
    serve_https(app, port=args.port, tls_dir=args.tls_dir or state.parent / "tls", info=info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m sandbox.salesforce serve --state PATH [...]``: create (if missing) and serve an org."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sandbox.salesforce.app import build_app
from sandbox.salesforce.config import API_VERSION, SalesforceStandinConfig
from sandbox.salesforce.org import Org, create_org
from sandbox.serve import prepare_state, serve_https


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.salesforce")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve an org over HTTPS on 127.0.0.1")
    serve.add_argument("--state", required=True, type=Path, help="SQLite state file (created if missing)")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--tls-dir", type=Path, default=None, help="default: <state dir>/tls")
    serve.add_argument(
        "--users-file",
        type=Path,
        default=None,
        help="JSON list of {FirstName, LastName, Email, IsActive}; used only when creating the state",
    )
    serve.add_argument("--audit-fields-permission", action=argparse.BooleanOptionalAction, default=True)
    serve.add_argument("--api-daily-limit", type=int, default=100_000)
    serve.add_argument("--bulk-daily-batches", type=int, default=15_000)
    serve.add_argument("--fault-5xx-rate", type=float, default=0.0)
    serve.add_argument("--fault-limit-rate", type=float, default=0.0)
    serve.add_argument("--fault-lock-row-rate", type=float, default=0.0)
    serve.add_argument("--latency-ms", type=int, default=0)
    serve.add_argument("--fault-seed", type=int, default=None)
    serve.add_argument("--fault-timeout-rate", type=float, default=0.0,
                       help="share of calls that stall for --fault-timeout-s, then answer 504")
    serve.add_argument("--fault-timeout-s", type=float, default=20.0)
    serve.add_argument("--fault-retry-after-s", type=int, default=30,
                       help="Retry-After sent with injected REQUEST_LIMIT_EXCEEDED faults")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    state = prepare_state(args.state, args.users_file, create_org)
    config = SalesforceStandinConfig(
        audit_fields_permission=args.audit_fields_permission,
        api_daily_limit=args.api_daily_limit,
        bulk_daily_batches=args.bulk_daily_batches,
        fault_5xx_rate=args.fault_5xx_rate,
        fault_limit_rate=args.fault_limit_rate,
        fault_lock_row_rate=args.fault_lock_row_rate,
        latency_ms=args.latency_ms,
        fault_seed=args.fault_seed,
        fault_retry_after_s=args.fault_retry_after_s,
        fault_timeout_rate=args.fault_timeout_rate,
        fault_timeout_s=args.fault_timeout_s,
    )
    app = build_app(state, config)
    org: Org = app.state.org
    creds = org.credentials()
    info = {
        "kind": "salesforce",
        "state_path": str(state),
        "org_id": org.org_id,
        "credentials": {k: creds[k] for k in ("username", "password", "client_id", "client_secret")},
        "api_version": f"v{API_VERSION}",
    }
    serve_https(app, port=args.port, tls_dir=args.tls_dir or state.parent / "tls", info=info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m sandbox.zoho serve --state PATH [...]``: create (if missing) and serve a Zoho CRM org."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sandbox.serve import prepare_state, serve_https
from sandbox.zoho.app import build_app
from sandbox.zoho.config import API_VERSION, EDITION_ORDER, ZohoStandinConfig
from sandbox.zoho.org import Org, create_org


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.zoho")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a Zoho CRM org over HTTPS on 127.0.0.1")
    serve.add_argument("--state", required=True, type=Path, help="SQLite state file (created if missing)")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--tls-dir", type=Path, default=None, help="default: <state dir>/tls")
    serve.add_argument("--users-file", type=Path, default=None,
                       help="JSON list of {first_name, last_name, email, status}; used only when creating the state")
    serve.add_argument("--edition", choices=EDITION_ORDER, default="enterprise")
    serve.add_argument("--user-licences", type=int, default=None)
    serve.add_argument("--credits-per-day", type=int, default=None, help="override the edition's formula")
    serve.add_argument("--concurrency-limit", type=int, default=None)
    serve.add_argument("--fault-5xx-rate", type=float, default=0.0)
    serve.add_argument("--fault-throttle-rate", type=float, default=0.0)
    serve.add_argument("--fault-timeout-rate", type=float, default=0.0)
    serve.add_argument("--fault-timeout-s", type=float, default=20.0)
    serve.add_argument("--latency-ms", type=int, default=0)
    serve.add_argument("--fault-seed", type=int, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    state = prepare_state(args.state, args.users_file, create_org)
    config = ZohoStandinConfig(
        edition=args.edition, user_licences=args.user_licences, credits_per_day=args.credits_per_day,
        concurrency_limit=args.concurrency_limit, fault_5xx_rate=args.fault_5xx_rate,
        fault_throttle_rate=args.fault_throttle_rate, fault_timeout_rate=args.fault_timeout_rate,
        fault_timeout_s=args.fault_timeout_s, latency_ms=args.latency_ms, fault_seed=args.fault_seed,
    )
    app = build_app(state, config)
    org: Org = app.state.org
    info = {
        "kind": "zoho",
        "state_path": str(state),
        "org_id": org.org_id,
        "credentials": org.credentials(),
        "api_version": API_VERSION,
        "accounts_path": "/accounts",
        "content_path": "/content",
        "edition": config.edition,
    }
    serve_https(app, port=args.port, tls_dir=args.tls_dir or state.parent / "tls", info=info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

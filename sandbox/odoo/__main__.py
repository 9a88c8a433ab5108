"""``python -m sandbox.odoo serve --state PATH [...]``: create (if missing) and serve a database."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sandbox.odoo.app import build_app
from sandbox.odoo.config import OdooStandinConfig
from sandbox.odoo.seed import create_db
from sandbox.odoo.transport import ExposeTransport
from sandbox.serve import serve_https


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.odoo")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve an Odoo database over HTTPS on 127.0.0.1")
    serve.add_argument("--state", required=True, type=Path, help="SQLite state file (created if missing)")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--tls-dir", type=Path, default=None, help="default: <state dir>/tls")
    serve.add_argument("--db-name", default="flitstack", help="database name (used only when creating the state)")
    serve.add_argument("--users-file", type=Path, default=None,
                       help="JSON list of {name, login, email, active, share, password}; used only when creating")
    serve.add_argument("--version", type=int, choices=(17, 18, 19), default=17)
    serve.add_argument("--online", action=argparse.BooleanOptionalAction, default=False)
    serve.add_argument("--online-plan", choices=("custom", "standard", "one_app_free"), default="custom")
    serve.add_argument("--inventory", action=argparse.BooleanOptionalAction, default=False,
                       help="the Inventory app is installed (stock.picking, stock.move.line)")
    serve.add_argument("--limit-time-real", type=float, default=120.0)
    serve.add_argument("--attachment-max-bytes", type=int, default=0)
    serve.add_argument("--fault-5xx-rate", type=float, default=0.0)
    serve.add_argument("--fault-drop-rate", type=float, default=0.0)
    serve.add_argument("--fault-slow-rate", type=float, default=0.0)
    serve.add_argument("--fault-slow-s", type=float, default=0.0)
    serve.add_argument("--latency-ms", type=int, default=0)
    serve.add_argument("--fault-seed", type=int, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    state = args.state.resolve()
    state.parent.mkdir(parents=True, exist_ok=True)
    if not state.exists():
        users: list[dict[str, Any]] | None = json.loads(args.users_file.read_text()) if args.users_file else None
        create_db(state, users, args.db_name)
    elif args.users_file:
        print(f"note: {state} exists; --users-file ignored", file=sys.stderr)
    config = OdooStandinConfig(
        version=args.version, online=args.online, online_plan=args.online_plan, inventory_installed=args.inventory,
        limit_time_real_s=args.limit_time_real, attachment_max_bytes=args.attachment_max_bytes,
        fault_5xx_rate=args.fault_5xx_rate, fault_drop_rate=args.fault_drop_rate,
        fault_slow_rate=args.fault_slow_rate, fault_slow_s=args.fault_slow_s, latency_ms=args.latency_ms,
        fault_seed=args.fault_seed)
    app = build_app(state, config)
    creds = app.state.credentials
    info = {"kind": "odoo", "state_path": str(state), "version": f"{args.version}.0", "db": creds["db"],
            "credentials": creds}
    serve_https(ExposeTransport(app), port=args.port, tls_dir=args.tls_dir or state.parent / "tls", info=info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

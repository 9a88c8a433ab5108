"""``python -m sandbox.zoho serve --state PATH [...]``: create (if missing) and serve a Zoho CRM org.

Every scalar knob of :class:`ZohoStandinConfig` is a flag (``edition`` → ``--edition``,
``fault_5xx_rate`` → ``--fault-5xx-rate``), derived from the model so the CLI and the admin API
can never disagree; pydantic converts and validates the values.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sandbox.serve import prepare_state, serve_https
from sandbox.zoho.app import build_app
from sandbox.zoho.config import API_VERSION, ZohoStandinConfig
from sandbox.zoho.org import Org, create_org

SCALARS = (str, int, float, bool, type(None))


def _knob_flags() -> list[str]:
    return [name for name, info in ZohoStandinConfig.model_fields.items()
            if not isinstance(info.default, list | dict) and isinstance(info.default, SCALARS)]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.zoho")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a Zoho CRM org over HTTPS on 127.0.0.1")
    serve.add_argument("--state", required=True, type=Path, help="SQLite state file (created if missing)")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--tls-dir", type=Path, default=None, help="default: <state dir>/tls")
    serve.add_argument("--users-file", type=Path, default=None,
                       help="JSON list of {first_name, last_name, email, status}; used only when creating the state")
    knobs = serve.add_argument_group("knobs", "initial values of ZohoStandinConfig (see docs/zoho-standin.md)")
    for name in _knob_flags():
        knobs.add_argument("--" + name.replace("_", "-"), dest=f"knob_{name}", default=None, metavar="VALUE",
                           help=ZohoStandinConfig.model_fields[name].description)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    given: dict[str, Any] = {name: getattr(args, f"knob_{name}") for name in _knob_flags()
                             if getattr(args, f"knob_{name}") is not None}
    try:
        config = ZohoStandinConfig.model_validate(given)
    except ValidationError as exc:
        print(f"invalid knob value: {exc}", file=sys.stderr)
        return 2
    state = prepare_state(args.state, args.users_file, create_org)
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

"""``python -m sandbox.slack serve --state PATH [--port 0] [--tls-dir DIR] [--interactivity-url URL ...]``.

Creates the state (webhook URL with a random token, signing secret) when the file is missing
and serves an existing one as it is. Prints one JSON line before serving::

    {"kind": "slack", "url", "ca_path", "pid", "state_path", "webhook_url", "signing_secret"}
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from sandbox.serve import LOOPBACK, serve_https
from sandbox.slack.app import SlackStandinConfig, build_app
from sandbox.slack.store import SlackStore, create_state


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.slack", description="Slack stand-in")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a Slack workspace's webhook and interactivity over HTTPS")
    serve.add_argument("--state", required=True, type=Path, help="SQLite state file (created if missing)")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--tls-dir", type=Path, default=None, help="default: <state dir>/tls")
    serve.add_argument("--interactivity-url", default=None, help="the app's endpoint clicks are POSTed to")
    serve.add_argument("--interactivity-ca-path", default=None, help="CA PEM that signs the interactivity endpoint")
    serve.add_argument("--interactivity-timeout-s", type=float, default=None, help="default 3 (Slack's deadline)")
    return parser.parse_args(argv)


def _free_port() -> int:
    """A free loopback port, picked here because the webhook URL (printed first) must name it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    state: Path = args.state.resolve()
    if not state.exists():
        create_state(state)
    knobs = {
        k: v
        for k, v in {
            "interactivity_url": args.interactivity_url,
            "interactivity_ca_path": args.interactivity_ca_path,
            "interactivity_timeout_s": args.interactivity_timeout_s,
        }.items()
        if v is not None
    }
    port = args.port or _free_port()
    base_url = f"https://{LOOPBACK}:{port}"
    app = build_app(state, SlackStandinConfig(**knobs) if knobs else None, base_url=base_url)
    store: SlackStore = app.state.store
    info = {
        "kind": "slack",
        "state_path": str(state),
        "webhook_url": base_url + store.webhook_path,
        "signing_secret": store.signing_secret,
    }
    serve_https(app, port=port, tls_dir=args.tls_dir or state.parent / "tls", info=info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

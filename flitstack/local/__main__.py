"""``python -m flitstack.local --endpoint-file PATH``: run the local engine until SIGINT/SIGTERM.

Writes PATH (JSON: pid, endpoint_url, stack names and ARNs) once everything is deployed, and
removes it on shutdown. Used by ``flitstack up``.
"""

from __future__ import annotations

import argparse

from flitstack.local.engine import LocalEngine
from flitstack.local.naming import LOCAL_PREFIX


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flitstack.local")
    parser.add_argument("--endpoint-file", required=True, help="where to write the endpoint JSON")
    parser.add_argument("--port", type=int, default=0, help="0 (default): a free port")
    parser.add_argument("--prefix", default=LOCAL_PREFIX)
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra env var for every function (repeatable)"
    )
    args = parser.parse_args(argv)
    extra_env = dict(item.split("=", 1) for item in args.env)
    LocalEngine(port=args.port, prefix=args.prefix).serve_forever(args.endpoint_file, extra_env=extra_env)


if __name__ == "__main__":
    main()

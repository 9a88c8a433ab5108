"""Command line of the Sercom stand-in.

    python -m sandbox.sercom serve --state PATH [--records N --seed S | --tenant DIR] [--port 0]
                                   [--tls-dir DIR] [--api-key KEY] [--rate-limit-per-s R]
                                   [--fault-5xx-rate F] [--latency-ms N] [--<dirty knob> RATE ...]
    python -m sandbox.sercom generate --records N --seed S --out DIR [--tailored] [--<dirty knob> RATE ...]
    python -m sandbox.sercom validate --tenant DIR

``serve`` creates the state file from a generated tenant or a dump directory when it does
not exist yet, and serves an existing state file as it is (so mutations survive a
restart). It prints one JSON line (see ``sandbox/serve.py``) before serving.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from pydantic import ValidationError

from sandbox.sercom.app import StandinConfig, build_app
from sandbox.sercom.dump import DumpError, read_dump, write_state_dump
from sandbox.sercom.generator import DirtyKnobs, generate_state
from sandbox.sercom.store import Store
from sandbox.serve import serve_https


def _add_dirty_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("dirty-data knobs (rates 0..1; defaults are small)")
    for name, info in DirtyKnobs.model_fields.items():
        group.add_argument(f"--{name.replace('_', '-')}", type=float, default=None, metavar="RATE",
                           help=f"{info.description} (default {info.default})")


def _dirty(args: argparse.Namespace) -> DirtyKnobs:
    given = {name: getattr(args, name) for name in DirtyKnobs.model_fields if getattr(args, name) is not None}
    if args.clean:
        return DirtyKnobs.clean().model_copy(update=given)
    return DirtyKnobs(**given)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox.sercom", description="Sercom API stand-in")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve a tenant over HTTPS on 127.0.0.1")
    serve.add_argument("--state", type=Path, required=True, help="SQLite state file (created if missing)")
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--records", type=int, help="generate a tenant of N records")
    source.add_argument("--tenant", type=Path, help="load a tenant dump directory")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--name", help="tenant name (generated tenants)")
    serve.add_argument("--clean", action="store_true", help="all dirty knobs default to 0")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--tls-dir", type=Path, help="CA and certificate folder (default: <state dir>/tls)")
    serve.add_argument("--api-key", help="accept this key (default: generated once and stored in the state)")
    serve.add_argument("--rate-limit-per-s", type=int, default=25)
    serve.add_argument("--fault-5xx-rate", type=float, default=0.0)
    serve.add_argument("--fault-seed", type=int)
    serve.add_argument("--latency-ms", type=int, default=0)
    _add_dirty_flags(serve)

    gen = sub.add_parser("generate", help="write a generated tenant as a dump directory")
    gen.add_argument("--records", type=int, required=True)
    gen.add_argument("--tailored", action="store_true",
                     help="add renamed/abbreviated custom fields and two custom objects (the proposer's test tenant)")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--name", help="tenant name")
    gen.add_argument("--clean", action="store_true", help="all dirty knobs default to 0")
    _add_dirty_flags(gen)

    check = sub.add_parser("validate", help="check a dump directory and print its counts")
    check.add_argument("--tenant", type=Path, required=True)
    return parser


def _serve(args: argparse.Namespace) -> int:
    config = StandinConfig(
        rate_limit_per_s=args.rate_limit_per_s,
        fault_5xx_rate=args.fault_5xx_rate,
        latency_ms=args.latency_ms,
        fault_seed=args.fault_seed,
    )
    state: Path = args.state
    if state.exists():
        store = Store(state)
        if args.api_key:
            store.add_api_key(args.api_key)
    elif args.tenant is not None:
        store = Store.create(state, read_dump(args.tenant), api_key=args.api_key)
    elif args.records is not None:  # streamed into the state: flat memory at any size
        store = generate_state(state, args.records, args.seed, _dirty(args), name=args.name, api_key=args.api_key)
    else:
        print("error: --state does not exist; give --records N or --tenant DIR to create it", file=sys.stderr)
        return 2
    api_key = args.api_key or store.api_keys()[0]
    info = {
        "kind": "sercom",
        "state_path": str(state.resolve()),
        "api_key": api_key,
        "api_prefix": "/api/v1",
        "tenant": store.meta().get("tenant"),
        "records": store.counts(),
    }
    serve_https(build_app(state, config), port=args.port, tls_dir=args.tls_dir or state.resolve().parent / "tls",
                info=info)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "generate":
            started = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="sercom-generate-") as folder:
                store = generate_state(Path(folder) / "tenant.sqlite", args.records, args.seed, _dirty(args),
                                       name=args.name, tailored=args.tailored)
                write_state_dump(store, args.out)
                tenant_name, counts = store.meta()["tenant"], store.counts()
                store.close()
            print(json.dumps({"out": str(args.out), "tenant": tenant_name, "records": sum(counts.values()),
                              "counts": counts, "seconds": round(time.perf_counter() - started, 2)}))
            return 0
        tenant = read_dump(args.tenant)
        print(json.dumps({"tenant": tenant.name, "records": tenant.total(), "counts": tenant.counts()}))
        return 0
    except DumpError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (ValidationError, ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

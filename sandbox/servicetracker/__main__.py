"""Command line of the ServiceTracker stand-in.

    python -m sandbox.servicetracker serve [--state PATH] [--records N --seed S | --tenant DIR] [--port 0]
                                          [--tls-dir DIR] [--api-token T] [--<knob> VALUE ...]
    python -m sandbox.servicetracker generate --records N --seed S --out DIR [--<dirty knob> RATE ...]
    python -m sandbox.servicetracker validate --tenant DIR

``serve`` creates the state file (streaming a generated tenant or a dump into SQLite) when
it does not exist, and serves an existing one as it is. Without ``--state`` the state goes
to a fresh temporary folder. It prints one JSON line (see ``sandbox/serve.py``) first.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from pydantic import ValidationError

from sandbox.serve import serve_https
from sandbox.servicetracker.app import build_app
from sandbox.servicetracker.config import API_PREFIX, StandinConfig
from sandbox.servicetracker.dirt import DirtyKnobs
from sandbox.servicetracker.dump import DumpError, read_dump, write_dump
from sandbox.servicetracker.generator import GeneratedTenant
from sandbox.servicetracker.store import Store
from sandbox.servicetracker.tenant import TenantSource

_CLI_KNOBS = ("daily_request_limit", "rate_limit_per_s", "max_concurrent_exports", "export_processing_s",
              "export_page_records", "export_ttl_s", "max_offset", "schema_hidden_custom_field_share", "latency_ms",
              "fault_5xx_rate", "fault_429_rate", "fault_timeout_rate", "fault_timeout_s", "fault_seed")


def _generation_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", help="tenant name (generated tenants)")
    parser.add_argument("--clean", action="store_true", help="all dirty knobs default to 0")
    parser.add_argument("--unsynced-devices", type=int, default=2, help="mobile devices holding unsynced changes")
    parser.add_argument("--large-file-rate", type=float, default=0.005,
                        help="share of attachments declaring more than 25 MB (at least one when > 0)")
    group = parser.add_argument_group("dirty-data knobs (rates 0..1)")
    for name, info in DirtyKnobs.model_fields.items():
        group.add_argument(f"--{name.replace('_', '-')}", type=float, default=None, metavar="RATE",
                           help=f"{info.description} (default {info.default})")


def _generated(args: argparse.Namespace) -> GeneratedTenant:
    given = {n: getattr(args, n) for n in DirtyKnobs.model_fields if getattr(args, n) is not None}
    dirty = DirtyKnobs.clean().model_copy(update=given) if args.clean else DirtyKnobs(**given)
    return GeneratedTenant(args.records, args.seed, dirty, name=args.name, unsynced_devices=args.unsynced_devices,
                           large_file_rate=args.large_file_rate)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox.servicetracker", description="ServiceTracker stand-in")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a tenant over HTTPS on 127.0.0.1")
    serve.add_argument("--state", type=Path, help="SQLite state file (created if missing; default: a temp dir)")
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--records", type=int, help="generate a tenant of N records")
    source.add_argument("--tenant", type=Path, help="load a tenant dump directory")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--tls-dir", type=Path, help="CA and certificate folder (default: <state dir>/tls)")
    serve.add_argument("--api-token", help="accept this bearer token (default: generated, stored in the state)")
    _generation_flags(serve)
    knobs = serve.add_argument_group("behaviour knobs (see POST /__standin/config)")
    for name in _CLI_KNOBS:
        info = StandinConfig.model_fields[name]
        kind = int if info.annotation in (int, int | None) else float
        knobs.add_argument(f"--{name.replace('_', '-')}", type=kind, default=None, help=info.description)
    gen = sub.add_parser("generate", help="write a generated tenant as a dump directory")
    gen.add_argument("--records", type=int, required=True)
    gen.add_argument("--out", type=Path, required=True)
    _generation_flags(gen)
    check = sub.add_parser("validate", help="check a dump directory and print its counts")
    check.add_argument("--tenant", type=Path, required=True)
    return parser


def _serve(args: argparse.Namespace) -> int:
    config = StandinConfig(**{n: getattr(args, n) for n in _CLI_KNOBS if getattr(args, n) is not None})
    state: Path = (args.state or Path(tempfile.mkdtemp(prefix="servicetracker-")) / "state.sqlite").resolve()
    if state.exists():
        store = Store(state)
        if args.api_token:
            store.add_api_token(args.api_token)
    else:
        source: TenantSource
        if args.tenant is not None:
            source = read_dump(args.tenant)
        elif args.records is not None:
            source = _generated(args)
        else:
            print("error: the state does not exist; give --records N or --tenant DIR to create it", file=sys.stderr)
            return 2
        store = Store.create(state, source, api_token=args.api_token)
    info = {
        "kind": "servicetracker", "state_path": str(state), "api_token": args.api_token or store.api_tokens()[0],
        "auth_header": "Authorization: Bearer <api_token>", "api_prefix": API_PREFIX,
        "tenant": store.meta().get("tenant"), "seed": store.meta().get("seed") or None, "records": store.counts(),
        "rate_limit_per_s": config.rate_limit_per_s,
    }
    store.close()
    serve_https(build_app(state, config), port=args.port, tls_dir=args.tls_dir or state.parent / "tls", info=info)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "generate":
            started = time.perf_counter()
            tenant = _generated(args)
            counts = write_dump(tenant, args.out)
            print(json.dumps({"out": str(args.out), "tenant": tenant.name, "records": sum(counts.values()),
                              "counts": counts, "seconds": round(time.perf_counter() - started, 2)}))
            return 0
        dump = read_dump(args.tenant)
        print(json.dumps({"tenant": dump.name, "records": sum(dump.record_counts.values()),
                          "counts": dump.record_counts}))
        return 0
    except DumpError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (ValidationError, ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The ``flitstack`` command: local mode (up, demo, status) and the stand-ins.

    flitstack demo [--source KIND] [--dest KIND] [--approve auto|manual [--sample-env]] [--records N] [--seed S]
                   [--json]
    flitstack up [--source KIND] [--dest KIND] [--records N] [--seed S] [--tenant DIR]
    flitstack status RUN
    flitstack outbox [--run RUN] [--json]          # local mail: sign-off requests and their links
    flitstack approve RUN                          # approve the sign-off RUN waits for
    flitstack reject RUN --reason TEXT             # reject it (the run ends; a sample is removed)
    flitstack rollback RUN [--json]
    flitstack sandbox serve KIND --state PATH [stand-in options...]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.connectors import registry

HOME = Path(os.environ.get("FLITSTACK_HOME", ".flitstack"))



def write_private(path: Path, text: str) -> None:
    """Write a file holding a key or secret readable by its owner only (0600, also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)

def _runs_dir() -> Path:
    return HOME / "runs"


def _new_run_id() -> str:
    return datetime.now(UTC).strftime("run-%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class _Progress:
    """Reads the run's progress from the data bucket: partitions extracted, batches loaded."""

    def __init__(self, runtime: Any, run_id: str, progress: Progress) -> None:
        self.s3 = runtime.engine.client("s3")
        self.bucket = runtime.engine.stack.bucket
        self.prefix = f"runs/{run_id}/"
        self.progress = progress
        self.extract = progress.add_task("extract partitions", total=None)
        self.load = progress.add_task("load batches", total=None)

    def _count(self, prefix: str) -> int:
        n = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            n += len(page.get("Contents", []))
        return n

    def _json(self, key: str) -> Any:
        try:
            return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None

    def tick(self) -> None:
        manifest = self._json(self.prefix + "extract/manifest.json")
        if manifest is not None:
            self.progress.update(self.extract, total=len(manifest),
                                 completed=self._count(self.prefix + "extract/outcomes/"))
        levels = self._json(self.prefix + "levels.json")
        if levels:
            planned = [self._json(self.prefix + f"levels/{i:02d}/manifest.json") for i in range(len(levels))]
            done = [p for p in planned if p is not None]
            # Levels are planned one after another: the total grows as each level is planned.
            self.progress.update(self.load, total=sum(len(p) for p in done),
                                 completed=self._count(self.prefix + "levels/") - len(done),
                                 description=f"load level {len(done)}/{len(levels)}")


def cmd_demo(args: argparse.Namespace) -> int:
    from flitstack.runtime import LocalRuntime, local_environment
    from flitstack.state_export import save_state
    from shared.models import RunOptions

    console = Console(stderr=args.json)
    run_id = _new_run_id()
    folder = (_runs_dir() / run_id).resolve()
    local_environment(folder / "logs" / "lambda.jsonl")
    tenant = Path(args.tenant).resolve() if args.tenant else None
    started = time.monotonic()
    manual = args.approve == "manual"
    if args.sample_env and not manual:
        console.print("[red]--sample-env needs --approve manual: the sample in the sandbox is what a person "
                      "approves before the target is touched[/red]")
        return 2
    runtime = LocalRuntime(folder=folder, records=args.records, seed=args.seed, tenant=tenant, with_slack=manual,
                           source=args.source, destination=args.dest,
                           destination_args=registry.destination(args.dest).standin_args(args),
                           sample_environment=args.sample_env, settle_heap=True)
    with console.status("starting the stand-ins and the embedded AWS (moto)..."):
        runtime.start()
    try:
        options = RunOptions(fallback_owner_email=args.fallback_owner, delta_window_s=args.delta_window,
                             delta_poll_s=max(1, args.delta_poll), approval=args.approve,
                             approvers=args.approver or (["admin@example.com"] if manual else []),
                             approval_timeout_s=args.approval_timeout)
        run = runtime.run_ref(run_id, options)
        dest = runtime.destination_standin
        if manual:
            api = runtime.start_api()
            api_file = folder / "api.json"
            slack = runtime.slack
            write_private(api_file, json.dumps({**api, "slack": {"url": slack.url, "ca_path": slack.ca_path}
                                                if slack else None}))
        console.print(f"[bold]FlitStack demo[/] run [cyan]{run_id}[/]: {registry.source(args.source).label} "
                      f"({runtime.source_standin.url}) -> {registry.destination(args.dest).label} ({dest.url}), "
                      f"approvals: {'manual' if manual else 'automatic'}")
        arn = runtime.start_migration(run)
        with Progress(TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            watcher = _Progress(runtime, run_id, progress)
            mail = _Outbox(runtime, folder / "outbox", run_id, progress.console) if manual else None

            def tick() -> None:
                watcher.tick()
                if mail is not None:
                    mail.sync()

            desc = runtime.wait(arn, on_tick=tick, timeout_s=max(3600, args.approval_timeout * 2 + 3600))
        reports = runtime.download_reports(run_id, folder / "reports")
        assert runtime.engine is not None
        save_state(runtime.engine, run, runtime.aws_state_dir)  # what `flitstack rollback RUN` needs later
    finally:
        runtime.stop()
    summary_path = folder / "reports" / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    result = {
        "run_id": run_id, "run_folder": str(folder), "execution_status": desc["status"],
        "status": summary.get("status", "failed"), "seconds": round(time.monotonic() - started, 1),
        "counts": summary.get("objects", {}), "rejected": summary.get("rejected"),
        "reports": {p.name: str(p) for p in sorted(reports)},
        "source": args.source,
        "destination": args.dest,
        "standins": {
            args.dest: {"state_path": str(folder / "standins" / f"{args.dest}.sqlite"),
                        "serve": " ".join([f"flitstack sandbox serve {args.dest} --state "
                                           f"{folder}/standins/{args.dest}.sqlite", *runtime.destination_args])},
            args.source: {"state_path": str(folder / "standins" / f"{args.source}.sqlite")},
        },
    }
    ended = summary.get("ended") or _read_json(folder / "reports" / "ended.json")
    if ended:
        result["status"], result["ended"] = ended["status"], ended
    (folder / "run.json").write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result))
    else:
        _print_summary(console, result)
    ok = desc["status"] == "SUCCEEDED" and result["status"] in ("succeeded", "rejected")
    return 0 if ok else 1


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


class _Outbox:
    """Local mode's mail sink: every message SES accepted, saved under the run folder as it arrives."""

    def __init__(self, runtime: Any, folder: Path, run_id: str, console: Console) -> None:
        self.runtime, self.folder, self.run_id, self.console = runtime, folder, run_id, console
        self.seen: set[str] = set()
        folder.mkdir(parents=True, exist_ok=True)

    def sync(self) -> None:
        for n, message in enumerate(self.runtime.outbox()):
            if message["id"] in self.seen:
                continue
            self.seen.add(message["id"])
            (self.folder / f"{n:03d}-{message['id']}.json").write_text(json.dumps(message, indent=1))
            links = message["links"]
            self.console.print(f"[bold yellow]Sign-off needed[/]: {message['subject']}\n"
                               f"  report:  {links.get('report')}\n  approve: {links.get('approve')}\n"
                               f"  reject:  {links.get('reject')}\n"
                               f"  or: [cyan]flitstack approve {self.run_id}[/] / "
                               f"[cyan]flitstack reject {self.run_id} --reason ...[/]  (`flitstack outbox` lists mail)")


def cmd_outbox(args: argparse.Namespace) -> int:
    runs = [args.run] if args.run else sorted(p.name for p in _runs_dir().glob("*") if (p / "outbox").is_dir())
    messages = []
    for run in runs:
        for path in sorted((_runs_dir() / run / "outbox").glob("*.json")):
            message = json.loads(path.read_text())
            messages.append({"run": run, **{k: v for k, v in message.items() if k != "html"}})
    if args.json:
        print(json.dumps(messages))
        return 0
    if not messages:
        print("the outbox is empty (sign-off mail appears here during `flitstack demo --approve manual`)")
    for m in messages:
        print(f"[{m['run']}] to {', '.join(m['to'])}: {m['subject']}")
        for name in ("approve", "reject", "report"):
            if m["links"].get(name):
                print(f"    {name:<8} {m['links'][name]}")
    return 0


def _api_call(run: str, path: str, body: dict[str, Any]) -> int:
    import httpx

    api_file = _runs_dir() / run / "api.json"
    if not api_file.exists():
        print(f"run {run!r} is not being served here (start it with `flitstack demo --approve manual`)",
              file=sys.stderr)
        return 2
    api = json.loads(api_file.read_text())
    try:
        resp = httpx.post(f"{api['url']}/migrations/{run}/{path}", json=body, trust_env=False, timeout=30,
                          headers={api["api_key_header"]: api["api_key"]})
    except httpx.TransportError as exc:
        print(f"the run's API at {api['url']} does not answer ({type(exc).__name__}): has the demo ended?",
              file=sys.stderr)
        return 2
    print(resp.text)
    return 0 if resp.status_code == 200 else 1


def cmd_approve(args: argparse.Namespace) -> int:
    return _api_call(args.run, "approve", {})


def cmd_reject(args: argparse.Namespace) -> int:
    return _api_call(args.run, "reject", {"reason": args.reason})


def _print_summary(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"Run {result['run_id']} — {result['status']} in {result['seconds']} s")
    if result.get("ended"):
        console.print(f"[bold]Run {result['run_id']} ended without the full load[/]: "
                      f"{escape(str(result['ended']['reason']))}")
        return
    for col in ("mapping", "source", "loaded", "rejected", "filtered out", f"in {result['destination']}"):
        table.add_column(col, justify="left" if col == "mapping" else "right")
    for name, c in result["counts"].items():
        table.add_row(name, str(c["source"]), str(c["loaded"]), str(c["rejected"]), str(c["filtered_out"]),
                      str(c["destination"]))
    console.print(table)
    console.print(f"Reports: [cyan]{Path(result['run_folder']) / 'reports'}[/]")
    for name in ("mapping.md", "exceptions.md", "reconciliation.html"):
        if name in result["reports"]:
            console.print(f"  {name:<22} {result['reports'][name]}")
    console.print(f"Serve the migrated org again: [cyan]{result['standins'][result['destination']]['serve']}[/]")


def cmd_rollback(args: argparse.Namespace) -> int:
    """Roll a local run back: serve its saved org and its AWS state again, run the rollback machine."""
    from flitstack.runtime import LocalRuntime, local_environment
    from flitstack.state_export import read_manifest, restore_state, save_state

    console = Console(stderr=True)
    folder = (_runs_dir() / args.run).resolve()
    try:
        read_manifest(folder / "aws-state")
    except FileNotFoundError as exc:
        print(f"cannot roll back {args.run!r}: {exc}", file=sys.stderr)
        return 2
    local_environment(folder / "logs" / "lambda.jsonl")
    started = time.monotonic()
    saved = _read_json(folder / "run.json") or {}
    # the stand-ins' saved states are served again as they are
    runtime = LocalRuntime(folder=folder, source=str(saved.get("source", "sercom")),
                           destination=str(saved.get("destination", "salesforce")))
    with console.status("starting the saved stand-ins and the embedded AWS (moto)..."):
        runtime.start()
    try:
        assert runtime.engine is not None
        run = restore_state(runtime.engine, runtime.aws_state_dir)  # DynamoDB: read in place
        with console.status(f"rolling back {run.run_id}..."):
            desc = runtime.wait(runtime.start_rollback(run))
        runtime.download_reports(run.run_id, folder / "reports")
        save_state(runtime.engine, run, runtime.aws_state_dir)  # the run's S3 objects moved on too
    finally:
        runtime.stop()
    report_path = folder / "reports" / "rollback.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    totals = report.get("totals", {})
    result = {"run_id": args.run, "execution_status": desc["status"], "status": report.get("status", "rollback_failed"),
              "passed": bool(report.get("passed")), "seconds": round(time.monotonic() - started, 1),
              "deleted": totals.get("deleted", 0), "restored": totals.get("restored", 0),
              "verified": bool(report.get("passed")), "problems": {k: totals.get(k, 0) for k in (
                  "failed", "still_present", "mismatched", "unrestorable")},
              "report": str(report_path) if report_path.exists() else None}
    if args.json:
        print(json.dumps(result))
    else:
        console = Console()
        console.print(f"Rollback of [cyan]{args.run}[/]: [bold]{result['status']}[/] in {result['seconds']} s — "
                      f"deleted {result['deleted']}, restored {result['restored']}, "
                      f"verified by read-back: {'yes' if result['passed'] else 'NO'}")
        table = Table()
        for col in ("object", "deleted", "restored"):
            table.add_column(col, justify="left" if col == "object" else "right")
        for obj in sorted(set(report.get("deleted", {})) | set(report.get("restored", {}))):
            table.add_row(obj, str(report["deleted"].get(obj, 0)), str(report["restored"].get(obj, 0)))
        console.print(table)
        console.print(f"Report: [cyan]{report_path}[/]")
    return 0 if desc["status"] == "SUCCEEDED" and result["passed"] else 1


def cmd_status(args: argparse.Namespace) -> int:
    path = _runs_dir() / args.run / "run.json"
    if not path.exists():
        print(f"no run {args.run!r} under {_runs_dir()} (known: "
              f"{sorted(p.name for p in _runs_dir().glob('*'))[-5:]})", file=sys.stderr)
        return 2
    print(path.read_text())
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    """Grade and price a migration before any credentials (the same domain function as ``POST /estimates``)."""
    from pydantic import ValidationError

    from shared.api import field_errors
    from shared.domain.estimate import counts_from_dump
    from shared.estimates import EstimateRequest, estimate_request

    counts: dict[str, int] = {}
    files = args.files_bytes
    if args.tenant:
        try:
            counts, dumped = counts_from_dump(Path(args.tenant))
        except ValueError as exc:
            print(f"--tenant: {exc}", file=sys.stderr)
            return 2
        files = files if files is not None else dumped
    for item in args.count or []:
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            print(f"--count {item!r}: expected OBJECT=RECORDS, e.g. customers=1200", file=sys.stderr)
            return 2
        counts[name.strip()] = int(value)
    body = {"source": args.source, "destination": args.dest, "counts": counts, "attachments_bytes": files or 0,
            "api_budget_per_day": args.api_budget, "seconds_per_call": args.seconds_per_call}
    try:
        request = EstimateRequest.model_validate(body)
    except ValidationError as exc:
        for err in field_errors(exc, EstimateRequest):
            print(f"{err['field']}: {err['message']}", file=sys.stderr)
        return 2
    result = estimate_request(request)
    if args.json:
        print(result.model_dump_json(indent=2))
        return 0
    print(f"{result.pair}: grade {result.grade} — {'; '.join(result.reasons)}")
    print(f"{result.records:,} records, {result.calls:,} write calls, {result.quota.needed:,} {result.quota.unit}; "
          f"projected {result.duration} at {result.max_parallel_loads} loads at once")
    print(f"days at quota: {result.quota.days_at_quota if result.quota.days_at_quota else 'n/a'} "
          f"({result.quota.note})")
    for row in result.objects:
        print(f"  {row.object:<28} {row.records:>12,}  {row.compatibility:<24} -> {', '.join(row.lands_in) or '?'}"
              f"  ({row.calls:,} calls)")
    for line in result.assumptions:
        print(f"  assumes: {line}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from flitstack.runtime import LocalRuntime, local_environment

    folder = (HOME / "up").resolve()
    local_environment(folder / "logs" / "lambda.jsonl")
    runtime = LocalRuntime(folder=folder, records=args.records, seed=args.seed,
                           tenant=Path(args.tenant).resolve() if args.tenant else None, source=args.source,
                           destination=args.dest, destination_args=registry.destination(args.dest).standin_args(args),
                           settle_heap=True)
    runtime.start()
    assert runtime.engine is not None and runtime.engine.stack is not None
    info = {"aws_endpoint": runtime.engine.endpoint_url, "stack": runtime.engine.stack.to_dict(),
            "pair": runtime.run_ref("up-info").pair,
            "source": {"kind": args.source, **runtime.source_standin.info},
            "destination": {"kind": args.dest, **{k: v for k, v in runtime.destination_standin.info.items()
                                                  if k != "credentials"}},
            "secrets": [runtime.secret_name(args.source), runtime.secret_name(args.dest)],
            "api": runtime.start_api()}
    write_private(folder / "up.json", json.dumps(info, indent=2))
    print(json.dumps(info), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()
    return 0


def cmd_sandbox(args: argparse.Namespace, extra: list[str]) -> int:
    """Serve a stand-in in the foreground (prints its URL, credentials and CA path as JSON)."""
    import runpy

    sys.argv = [f"sandbox.{args.kind}", "serve", "--state", args.state, *extra]
    runpy.run_module(f"sandbox.{args.kind}", run_name="__main__")
    return 0


def _standin_kinds() -> list[str]:
    """Every stand-in under ``sandbox/`` (a package with a ``__main__``)."""
    import sandbox

    root = Path(sandbox.__file__).parent
    return sorted(p.parent.name for p in root.glob("*/__main__.py"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flitstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("demo", "up"):
        p = sub.add_parser(name, help="run a whole migration locally" if name == "demo" else
                           "start local mode and keep it running")
        p.add_argument("--records", type=int, default=5000, help="size of the generated source tenant")
        p.add_argument("--source", choices=registry.kinds("source"), default="sercom",
                       help="source system (default: sercom)")
        p.add_argument("--dest", choices=registry.kinds("destination"), default="salesforce",
                       help="destination CRM (default: salesforce)")
        p.add_argument("--seed", type=int, default=7, help="seed of the generated tenant")
        p.add_argument("--tenant", help="serve this tenant dump directory instead of a generated tenant")
        for opt in (o for c in registry.connectors() for o in c.standin_options):
            p.add_argument(opt.flag, choices=opt.choices, help=opt.help)
        if name == "demo":
            p.add_argument("--json", action="store_true", help="end by printing one JSON object")
            p.add_argument("--fallback-owner", help="email of the destination user who owns unmatched records")
            p.add_argument("--delta-window", type=int, default=0, metavar="SECONDS",
                           help="keep picking up source changes this long after the full load (default: none)")
            p.add_argument("--delta-poll", type=int, default=30, metavar="SECONDS",
                           help="time between delta passes (default: 30)")
            p.add_argument("--approve", choices=["auto", "manual"], default="auto",
                           help="manual: pause for the mapping and sample sign-offs (email link, Slack, CLI)")
            p.add_argument("--approver", action="append", metavar="EMAIL", help="who gets the sign-off mail")
            p.add_argument("--sample-env", action="store_true",
                           help="with --approve manual: migrate the sample into a sandbox (a second destination "
                                "stand-in copied from the target); the target is written only once it is approved")
            p.add_argument("--approval-timeout", type=int, default=3600, metavar="SECONDS",
                           help="end the run if a sign-off waits longer (default: 3600)")
    p = sub.add_parser("estimate", help="grade and estimate a migration before any credentials")
    p.add_argument("--source", choices=registry.kinds("source"), default="sercom", help="source system")
    p.add_argument("--dest", choices=registry.kinds("destination"), default="salesforce", help="destination CRM")
    p.add_argument("--count", action="append", metavar="OBJECT=RECORDS",
                   help="records of one source object (repeat); added to or overriding --tenant's")
    p.add_argument("--tenant", help="count the records (and files) of this tenant dump directory")
    p.add_argument("--files-bytes", type=int, help="total size of the files (default: the dump's attachments)")
    p.add_argument("--api-budget", type=int, metavar="PER_DAY",
                   help="the destination's daily API allowance (Salesforce calls, Zoho credits)")
    p.add_argument("--seconds-per-call", type=float, default=1.0, help="assumed time of one write call")
    p.add_argument("--json", action="store_true", help="print the estimate as JSON")
    p = sub.add_parser("rollback", help="undo a local run: delete what it created, restore what it updated")
    p.add_argument("run")
    p.add_argument("--json", action="store_true", help="end by printing one JSON object")
    p = sub.add_parser("status", help="show a run")
    p.add_argument("run")
    p = sub.add_parser("outbox", help="local mail: sign-off requests with their approve/reject links")
    p.add_argument("--run", help="only this run's mail")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("approve", help="approve the sign-off a running local run waits for")
    p.add_argument("run")
    p = sub.add_parser("reject", help="reject the sign-off a running local run waits for (the run ends)")
    p.add_argument("run")
    p.add_argument("--reason", required=True)
    p = sub.add_parser("sandbox", help="the stand-ins")
    sandbox = p.add_subparsers(dest="action", required=True)
    serve = sandbox.add_parser("serve", help="serve a stand-in (a saved state is served again as it is)")
    serve.add_argument("kind", choices=_standin_kinds())
    serve.add_argument("--state", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "sandbox":
        return cmd_sandbox(args, extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    handlers = {"demo": cmd_demo, "estimate": cmd_estimate, "status": cmd_status, "up": cmd_up,
                "rollback": cmd_rollback, "outbox": cmd_outbox, "approve": cmd_approve, "reject": cmd_reject}
    return handlers[args.command](args)

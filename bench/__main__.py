"""Benchmarks: ``make bench`` prints one JSON line per measurement and rewrites bench/RESULTS.md.

For each destination (default Salesforce, Dynamics 365, Zoho CRM and Odoo) and N (default 20,000 and 100,000
Sercom records):
- end-to-end records/s: a whole migration through the state machine on moto (local mode);
- transform records/s on one core: every mapping over the run's own extracted batches;
- destination API calls used for loading vs the minimum the batch limits allow per mapping.
  Salesforce: the cheaper of Bulk API 2.0 (5 calls per 10,000-record batch: create, upload,
  close, one status poll, successful results) and sObject Collections (one call per 200
  records); files (ContentVersion) only through Collections. Dynamics 365: ``$batch``
  requests against one ``$batch`` per 1,000 operations, where the operations are the records
  written plus the close actions (CloseIncident, WinOpportunity, LoseOpportunity) and the
  fix-up updates. Dynamics 365 is measured twice over the same generated records (same seed, same
  ``make bench``): once with the connector's default writes (``UpsertMultiple`` where it costs no
  more requests) and once with ``$batch`` PATCHes only (the connection's ``bulk_upsert: false``),
  so the two rows compare the requests and the operations inside them;
  Zoho CRM: write calls (REST upserts/inserts/updates, attachment uploads, bulk-write upload/create/poll/
  download) and the **credits** they cost (the stand-in's ledger) against the minimum Zoho's pricing
  allows for the same records: per mapping the cheaper of full REST calls of 100 (1 credit per 10
  records, rounded up per call) and Bulk Write jobs (500 credits, 4 calls each: upload, create, one
  poll, download), files one call and one credit each, plus the default records and the fix-up updates;
  Odoo: the ORM calls that write (``create``, ``write``, ``unlink`` on any model,
  the ``ir.model.data`` external-id registrations included, custom-field creation excluded) against
  one ``create`` per 50 records (the declared batch) per mapping plus one ``write`` per fix-up;
- peak memory: the largest Python heap (tracemalloc) while transforming one batch, which is
  what a Lambda holds (it depends on the batch size, not on N), and the process's peak RSS;
- the floor (Sercom -> Salesforce; ``bench/floor.py``): bare clients doing the same work in the same run
  (httpx paging and file downloads from the source, simple-salesforce writing the run's load-ready records
  into a copy of the migrated org; the clients in a process of their own), the end-to-end time's ratio to it,
  and the peak RSS of every process (engine, each stand-in, the floor's stand-in, the floor's clients);
  ``--sizes scale`` runs 100k, 500k and 1M;
- source API calls used for extraction (``--source servicetracker``): every partition records what
  reading it cost; the minimum ServiceTracker's bulk export allows is, per object of n records,
  1 export job + 1 status poll + ceil(n / 10,000) result pages (none for an empty cut).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
from aws_lambda_powertools.utilities import parameters

from bench import projection, schema_match
from bench.floor import own_peak_rss_mib, peak_rss_mib, run_floor
from bench.metering import Meter
from flitstack.runtime import LocalRuntime, local_environment
from shared.aws import BlobStore
from shared.connectors import registry
from shared.domain.keys import Keys
from shared.domain.transform import crosswalk_snapshots
from shared.mapping.engine import CompiledMapping
from shared.mapping.spec import MigrationSpec

RESULTS = Path(__file__).with_name("RESULTS.md")
#: The sizes issue 15 asks for: end-to-end against the floor, flat memory from 100k to 1M.
SCALE_SIZES = "100000,500000,1000000"
#: Batches per source object the transform rate is measured over (enough for a steady rate, bounded memory).
TRANSFORM_SAMPLE_BATCHES = 20
COLLECTION, BULK_BATCH, BULK_JOB_CALLS = 200, 10_000, 5
NO_BULK = frozenset({"ContentVersion"})  # binary VersionData cannot travel in Bulk 2.0 CSV


BATCH_OPS = 1_000  # Dataverse: at most 1,000 requests in one $batch
EXPORT_PAGE = 10_000  # ServiceTracker: records per export result page (docs/servicetracker-api.md)
ZOHO_CALL, ZOHO_PER_CREDIT, ZOHO_BULK_CREDITS, ZOHO_BULK_ROWS, ZOHO_BULK_CALLS = 100, 10, 500, 25_000, 4
ZOHO_NO_BULK = frozenset({"Notes", "Attachments", "Tasks", "Events"})
#: Credits one Convert Lead call costs (a run with options.zoho.convert_leads converts one lead a call).
ZOHO_CONVERT_CREDITS = 5
ZOHO_READS = ("settings", "coql", "users")
ODOO_WRITE_METHODS = ("create", "write", "unlink")
#: Schema, not load: custom fields and models created at PrepareDestination.
ODOO_SCHEMA_MODELS = frozenset({"ir.model", "ir.model.fields"})


def minimum_export_calls(counts: dict[str, int]) -> int:
    """What ServiceTracker's export API allows at best: per object, a job, one poll, its result pages."""
    return sum(2 + math.ceil(n / EXPORT_PAGE) for n in counts.values())


def _dynamics_token(rt: LocalRuntime) -> tuple[dict[str, Any], str]:
    assert rt.destination_standin is not None
    info = rt.destination_standin.info
    with httpx.Client(verify=info["ca_path"], base_url=info["url"], trust_env=False) as c:
        token = c.post(f"/{info['tenant_id']}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", **info["credentials"], "scope": f"{info['url']}/.default"})
        return info, str(token.json()["access_token"])


def _dynamics(rt: LocalRuntime, path: str) -> Any:
    info, token = _dynamics_token(rt)
    with httpx.Client(verify=info["ca_path"], base_url=info["url"], trust_env=False, timeout=120) as c:
        return c.get(path, headers={"Authorization": f"Bearer {token}"}).json()


def _zoho(rt: LocalRuntime, path: str) -> Any:
    """The Zoho stand-in's admin API (``/__standin/*`` takes any valid Zoho-oauthtoken)."""
    assert rt.destination_standin is not None
    info = rt.destination_standin.info
    creds = info["credentials"]
    with httpx.Client(verify=info["ca_path"], base_url=info["url"], trust_env=False, timeout=60) as c:
        token = c.post(f"{info['accounts_path']}/oauth/v2/token", data={
            "grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
            "refresh_token": creds["refresh_token"]}).json()["access_token"]
        return c.get(path, headers={"Authorization": f"Zoho-oauthtoken {token}"}).json()


def _zoho_write_call(key: str) -> bool:
    """A stand-in stats key (``POST crm/v8/Accounts/upsert``) that writes records (or runs a bulk write)."""
    method, _, path = key.partition(" ")
    parts = path.split("/")
    if "bulk" in parts or "upload" in parts or "bulk-write" in parts:
        return True
    return (method in ("POST", "PUT", "DELETE") and parts[:2] == ["crm", "v8"] and len(parts) > 2
            and parts[2] not in ZOHO_READS)


def _zoho_write_credit(api: str) -> bool:
    """A ledger entry (``POST Accounts``, ``POST bulk write``) that paid for a write."""
    method, _, what = api.partition(" ")
    return method in ("POST", "PUT", "DELETE") and not what.startswith(ZOHO_READS)


def minimum_zoho(outcomes: list[dict[str, Any]], spec: MigrationSpec, fixed_up: int) -> tuple[int, int]:
    """(credits, calls) Zoho's pricing allows at best for the records written, per mapping."""
    written = _written(outcomes)
    credits = calls = 0

    def rest(n: int) -> tuple[int, int]:
        full, rest_n = divmod(n, ZOHO_CALL)
        return full * ZOHO_CALL // ZOHO_PER_CREDIT + math.ceil(rest_n / ZOHO_PER_CREDIT), math.ceil(n / ZOHO_CALL)

    for m in spec.mappings:
        n = written.get(m.name, 0)
        if not n:
            continue
        if m.dest_object == "Attachments":
            options = [(n, n)]
        else:
            options = [rest(n)]
            if m.dest_object not in ZOHO_NO_BULK:
                jobs = math.ceil(n / ZOHO_BULK_ROWS)
                options.append((jobs * ZOHO_BULK_CREDITS, jobs * ZOHO_BULK_CALLS))
        best = min(options)
        credits += best[0]
        calls += best[1]
    extra = rest(fixed_up) if fixed_up else (0, 0)
    defaults = len(spec.default_records)  # one upsert each (1 credit, 1 call)
    converted = sum(int(o.get("converted", 0)) for o in outcomes)  # Convert Lead: one call, 5 credits a lead
    return (credits + extra[0] + defaults + ZOHO_CONVERT_CREDITS * converted,
            calls + extra[1] + defaults + converted)


def _stats(rt: LocalRuntime) -> dict[str, Any]:
    if rt.destination == "zoho":
        ledger = _zoho(rt, "/__standin/credits")["ledger"]
        return {"stats": _zoho(rt, "/__standin/stats"),
                "credits": sum(int(e["cost"]) for e in ledger if _zoho_write_credit(str(e["api"]))),
                "credits_all": sum(int(e["cost"]) for e in ledger)}
    if rt.destination == "dynamics":
        return dict(_dynamics(rt, "/__standin/stats"))
    assert rt.destination_standin is not None
    info = rt.destination_standin.info
    if rt.destination == "odoo":
        with httpx.Client(verify=info["ca_path"], base_url=info["url"], trust_env=False, timeout=120) as c:
            return dict(c.get("/__standin/stats",
                              headers={"Authorization": f"bearer {info['credentials']['api_key']}"}).json())
    creds = info["credentials"]
    with httpx.Client(verify=info["ca_path"], base_url=info["url"]) as c:
        token = c.post("/services/oauth2/token", data={"grant_type": "password", **{
            k: creds[k] for k in ("client_id", "client_secret", "username", "password")}}).json()["access_token"]
        return dict(c.get("/__standin/stats", headers={"Authorization": f"Bearer {token}"}).json())


def _s3(rt: LocalRuntime) -> tuple[Any, str]:
    assert rt.engine is not None and rt.engine.stack is not None
    return rt.engine.client("s3"), rt.engine.stack.bucket


def _json(rt: LocalRuntime, key: str) -> Any:
    s3, bucket = _s3(rt)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _lines(rt: LocalRuntime, key: str) -> list[dict[str, Any]]:
    s3, bucket = _s3(rt)
    return BlobStore(bucket, client=s3).get_lines(key)


def _written(outcomes: list[dict[str, Any]]) -> dict[str, int]:
    written: dict[str, int] = {}
    for o in outcomes:
        written[o["mapping"]] = written.get(o["mapping"], 0) + int(o["loaded"]) - int(o.get("already_loaded", 0))
    return written


def minimum_batch_calls(outcomes: list[dict[str, Any]], spec: MigrationSpec, closed: dict[str, int],
                        fixed_up: int) -> int:
    """Dataverse: one ``$batch`` per 1,000 operations, per mapping (records written, plus closes),
    plus the fix-up updates."""
    written = _written(outcomes)
    total = sum(math.ceil((written.get(m.name, 0) + closed.get(m.name, 0)) / BATCH_OPS) for m in spec.mappings)
    return total + math.ceil(fixed_up / BATCH_OPS)


def _closed(rt: LocalRuntime, spec: MigrationSpec) -> dict[str, int]:
    """Per mapping, the records the load closed through an action (not open in the destination)."""
    out: dict[str, int] = {}
    for m in spec.mappings:
        if m.dest_object in ("incident", "opportunity"):
            rows = _dynamics(rt, f"/__standin/records/{m.dest_object}")["value"]
            prefix = m.source_object + "."
            out[m.name] = sum(1 for r in rows if int(r.get("statecode") or 0) != 0
                              and str(r.get(spec.external_id_field) or "").startswith(prefix))
    return out


def minimum_odoo_calls(outcomes: list[dict[str, Any]], spec: MigrationSpec, fixed_up: int, batch: int) -> int:
    """Odoo: one ``create`` (a list) per ``batch`` records written, per mapping; one ``write`` per fix-up
    (a ``write`` gives every record it names the same values)."""
    written = _written(outcomes)
    return sum(math.ceil(written.get(m.name, 0) / batch) for m in spec.mappings) + fixed_up


def odoo_write_calls(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """``model.method`` -> calls during the run, for the methods that write (schema models aside)."""
    out: dict[str, int] = {}
    for key, n in after.get("calls", {}).items():
        model, _, method = str(key).rpartition(".")
        if method in ODOO_WRITE_METHODS and model not in ODOO_SCHEMA_MODELS:
            delta = int(n) - int(before.get("calls", {}).get(key, 0))
            if delta:
                out[key] = delta
    return out


def minimum_load_calls(outcomes: list[dict[str, Any]], spec: MigrationSpec) -> int:
    """What the batch limits allow at best, per mapping, for the records actually written."""
    written = _written(outcomes)
    total = 0
    for m in spec.mappings:
        n = written.get(m.name, 0)
        collections = math.ceil(n / COLLECTION)
        bulk = math.ceil(n / BULK_BATCH) * BULK_JOB_CALLS
        total += collections if m.dest_object in NO_BULK else min(collections, bulk)
    return total


def transform_rate(rt: LocalRuntime, run_id: str) -> tuple[float, int, float]:
    """Records/s of the mapping engine alone on one core (lookups through the run's merged crosswalk snapshots,
    opened as the transform Lambda opens them), and the peak heap for one batch."""
    spec = MigrationSpec.model_validate(_json(rt, f"runs/{run_id}/spec.json"))
    prefix = f"runs/{run_id}/"
    s3, bucket = _s3(rt)
    blobs, keys = BlobStore(bucket, client=s3), Keys(rt.run_ref(run_id))
    sampled: dict[str, list[str]] = {}
    for m in spec.mappings:
        if m.source_object not in sampled:
            outcome = _json(rt, prefix + f"extract/outcomes/{m.source_object}.json")
            # a sample of the source batches as read (the rate is per record), read one batch at a time: a large
            # tenant's sample held here at once was this process's memory (3.1 GB at 1M), not the engine's
            sampled[m.source_object] = list(outcome["batches"][:TRANSFORM_SAMPLE_BATCHES])
    snapshots = {m.name: crosswalk_snapshots(blobs, keys, m) for m in spec.mappings}
    records, elapsed = 0, 0.0
    largest: list[dict[str, Any]] = []
    for m in spec.mappings:
        compiled = CompiledMapping(spec, m, snapshots[m.name])
        for key in sampled[m.source_object]:
            batch = _lines(rt, key)
            started = time.perf_counter()
            compiled.apply(batch)
            elapsed += time.perf_counter() - started
            records += len(batch)
            if len(batch) > len(largest):
                largest = batch
            del batch
    mapping = max(spec.mappings, key=lambda m: len(m.fields))
    crosswalk = snapshots[mapping.name]
    del snapshots
    # opened before tracing: locally each S3 request's handling (moto's, in this process) peaks near 10 MiB of
    # heap whatever the object, which no Lambda holds; what opening a snapshot costs is measured in D-054
    tracemalloc.start()
    CompiledMapping(spec, mapping, crosswalk).apply([dict(r) for r in largest])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return records / elapsed, records, peak / 2**20


#: Dataverse write paths the bench compares: the connector's default (UpsertMultiple where it costs no more
#: requests) and $batch PATCHes only.
DYNAMICS_WRITES = {"UpsertMultiple": True, "$batch": False}


def _set_bulk_upsert(rt: LocalRuntime, enabled: bool) -> None:
    """The destination connection's ``bulk_upsert`` option, set before the run opens it."""
    assert rt.engine is not None
    sm, name = rt.engine.client("secretsmanager"), rt.secret_name(rt.destination)
    value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    sm.put_secret_value(SecretId=name, SecretString=json.dumps({**value, "bulk_upsert": enabled}))
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def _by_request(before: dict[str, Any], after: dict[str, Any], suffix: str, method: str = "POST") -> int:
    """Requests (top level or inside a $batch) whose stand-in key is ``<method> <set><suffix>``."""
    old, new = before.get("by_request", {}), after.get("by_request", {})
    return sum(int(new.get(k, 0)) - int(old.get(k, 0)) for k in set(old) | set(new)
               if k.startswith(method + " ") and k.endswith(suffix))


def run_size(n: int, seed: int, destination: str = "salesforce", source: str = LocalRuntime.source,
             writes: str | None = None, keep: bool = False) -> dict[str, Any]:
    """One run of ``n`` generated source records, measured. Its folder (the stand-ins' SQLite states, the engine's
    AWS state: about 10 GB at 1M records) is removed afterwards unless ``keep``."""
    folder = Path(tempfile.mkdtemp(prefix=f"flitstack-bench-{source}-{destination}-{n}-"))
    try:
        return _run_size(folder, n, seed, destination, source, writes)
    finally:
        if keep:
            print(f"kept: {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _run_size(folder: Path, n: int, seed: int, destination: str, source: str, writes: str | None) -> dict[str, Any]:
    with LocalRuntime(folder=folder, records=n, seed=seed, source=source, destination=destination,
                      settle_heap=True) as rt:
        if writes is not None:
            _set_bulk_upsert(rt, DYNAMICS_WRITES[writes])
        before = _stats(rt)
        run_id = f"bench-{source}-{destination}-{n}"
        started = time.perf_counter()
        with Meter() as usage:
            arn = rt.start_migration(rt.run_ref(run_id))
            desc = rt.wait(arn, timeout_s=4 * 3600, poll_s=1.0)
        elapsed = time.perf_counter() - started
        # the engine's peak is taken now, before this process reads the run back to measure it (transform rate);
        # the floor's clients run in a process of their own (bench/floor.py)
        engine_rss = own_peak_rss_mib()
        after = _stats(rt)
        if desc["status"] != "SUCCEEDED":
            raise SystemExit(f"bench run {run_id} ended {desc['status']}")
        summary = _json(rt, f"runs/{run_id}/reports/summary.json")
        spec = MigrationSpec.model_validate(_json(rt, f"runs/{run_id}/spec.json"))
        s3, bucket = _s3(rt)
        outcomes = [_json(rt, o["Key"]) for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"runs/{run_id}/levels/") for o in page.get("Contents", [])
            if "/outcomes/" in o["Key"]]
        rate, transformed, peak_mib = transform_rate(rt, run_id)
        partitions = [_json(rt, o["Key"]) for o in s3.list_objects_v2(
            Bucket=bucket, Prefix=f"runs/{run_id}/extract/outcomes/").get("Contents", [])]
        extracted = sum(p["count"] for p in partitions)
        extract_calls = sum(int(p.get("calls", 0)) for p in partitions)
        extract_minimum = minimum_export_calls({p["object"]: p["count"] for p in partitions}) \
            if source == "servicetracker" else None
        floor = _floor(rt, run_id, spec, partitions) if (source, destination) == ("sercom", "salesforce") else {}
        rss = {"engine": engine_rss,
               **{kind: peak_rss_mib(standin.process.pid) for kind, standin in rt.standins.items()}, **(
                   {"floor destination": floor.pop("floor_standin_rss_mib"),
                    "floor client": floor.pop("floor_client_rss_mib")} if floor else {})}
        if floor:
            floor["floor_ratio"] = round(elapsed / floor["floor_seconds"], 2)
            floor["engine_records_created"] = sum(int(o.get("created", 0)) for o in outcomes)
        if destination == "dynamics":
            closed = _closed(rt, spec)
        if destination in ("dynamics", "zoho", "odoo"):
            fixed_up = int(_fixed_up(rt, run_id))
    credit_fields: dict[str, Any] = {}
    by_category: dict[str, int]
    if destination == "zoho":
        calls_by = {k: int(v) - int(before["stats"].get(k, 0)) for k, v in after["stats"].items()
                    if isinstance(v, int) and k not in ("total_requests", "tokens", "throttled", "unauthorized")}
        load_calls = sum(v for k, v in calls_by.items() if _zoho_write_call(k))
        min_credits, minimum = minimum_zoho(outcomes, spec, fixed_up)
        spent = int(after["credits"]) - int(before["credits"])
        total = int(after["stats"].get("total_requests", 0)) - int(before["stats"].get("total_requests", 0))
        by_category = {"write_calls": load_calls, "credits_write": spent,
                       "credits_all": int(after["credits_all"]) - int(before["credits_all"]),
                       "fixed_up": fixed_up}
        credit_fields = {"credits_load": spent, "credits_load_minimum": min_credits,
                         "credits_ratio": round(spent / min_credits, 3) if min_credits else None}
    elif destination == "odoo":
        batch = registry.destination("odoo").capabilities.write_batch_max
        by_category = odoo_write_calls(before, after)
        load_calls = sum(by_category.values())
        minimum = minimum_odoo_calls(outcomes, spec, fixed_up, batch)
        total = int(after.get("total_requests", 0)) - int(before.get("total_requests", 0))
        by_category["fixed_up"] = fixed_up
    elif destination == "dynamics":
        # $batch requests that write: the load's upserts, inserts, closes, fix-up updates (metadata reads
        # travel in $batch too, like Salesforce's describes they are not load calls)
        def delta(name: str) -> int:
            return int(after.get(name, 0)) - int(before.get(name, 0))

        load_calls = delta("write_batch_requests")
        minimum = minimum_batch_calls(outcomes, spec, closed, fixed_up)
        total = delta("total_requests")
        by_category = {"write_batch": load_calls, "all_batch": delta("batch_requests"),
                                       "batch_inner": delta("batch_inner_requests"),
                                       "upsert_multiple": _by_request(before, after, "/UpsertMultiple"),
                                       "patch": _by_request(before, after, "", method="PATCH"),
                                       "closed": sum(closed.values()), "fixed_up": fixed_up}
    else:
        categories = ("rest", "collections", "bulk_job_calls", "query", "tooling", "describe", "limits", "token")
        by_category = {k: int(after.get(k, 0)) - int(before.get(k, 0)) for k in categories}
        load_calls = by_category["collections"] + by_category["bulk_job_calls"]
        minimum = minimum_load_calls(outcomes, spec)
        total = sum(by_category.values())
    return {
        "source": source, "destination": destination, **({"writes": writes} if writes else {}), "records": n,
        "seed": seed, "status": summary["status"],
        "end_to_end_seconds": round(elapsed, 1),
        "end_to_end_records_per_s": round(extracted / elapsed, 1),
        "transform_records_per_s_one_core": round(rate), "transform_records": transformed,
        "api_calls_load": load_calls, "api_calls_load_minimum": minimum,
        "api_calls_ratio": round(load_calls / minimum, 3) if minimum else None,
        "api_calls_total": total, "api_calls_by_category": by_category, **credit_fields,
        "extract_calls": extract_calls, "extract_calls_minimum": extract_minimum,
        "extract_calls_ratio": round(extract_calls / extract_minimum, 3) if extract_minimum else None,
        "peak_batch_heap_mib": round(peak_mib, 1),
        "peak_process_rss_mib": engine_rss,
        "peak_rss_mib_by_process": rss, **floor,
        "files_written": sum(int(o.get("created", 0)) for o in outcomes if spec.mapping(str(o["mapping"])).dest_object
                             in NO_BULK) if destination == "salesforce" else None,
        "state_transitions": usage.state_transitions, "aws": usage.to_dict(),
    }


def _floor(rt: LocalRuntime, run_id: str, spec: MigrationSpec, partitions: list[dict[str, Any]]) -> dict[str, Any]:
    """The bare clients' time for the same work (``bench/floor.py``), measured after the run in a process of
    their own. Only S3 keys travel to it: it reads the batches itself, one at a time."""
    objects = sorted(p["object"] for p in partitions)
    file_objects = {m.source_object for m in spec.mappings if m.attachment_source}
    file_batches = [str(k) for p in partitions if p["object"] in file_objects for k in p["batches"]]
    loads = [(spec.mapping(str(item["mapping"])).dest_object, f"runs/{run_id}/load/{item['batch_id']}.jsonl")
             for index in range(len(_json(rt, f"runs/{run_id}/levels.json")))
             for item in _json(rt, f"runs/{run_id}/levels/{index:02d}/manifest.json")]
    answer = run_floor(rt, objects, file_batches, loads, spec.external_id_field)
    source_s, dest_s = answer["source_seconds"], answer["destination_seconds"]
    return {"floor_seconds": round(source_s + dest_s, 1), "floor_source_seconds": round(source_s, 1),
            "floor_destination_seconds": round(dest_s, 1), "floor_records_written": answer["written"],
            "floor_standin_rss_mib": answer["standin_rss_mib"], "floor_client_rss_mib": answer["client_rss_mib"]}


def _fixed_up(rt: LocalRuntime, run_id: str) -> int:
    """Records the fix-up pass updated (the deferred lookups), from the audit log."""
    assert rt.engine is not None and rt.engine.stack is not None
    ddb, n = rt.engine.client("dynamodb"), 0
    for page in ddb.get_paginator("query").paginate(
            TableName=rt.engine.stack.tables["AuditTable"], KeyConditionExpression="run_id = :r",
            FilterExpression="#op = :f", ExpressionAttributeNames={"#op": "operation"},
            ExpressionAttributeValues={":r": {"S": run_id}, ":f": {"S": "fixup"}}, Select="COUNT"):
        n += int(page["Count"])
    return n


def previous_rows() -> list[dict[str, Any]]:
    """The raw JSON rows of the committed RESULTS.md (rows from before destinations were named are Salesforce's)."""
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.startswith('{"')]
    return [{"source": LocalRuntime.source, "destination": "salesforce", **r} for r in rows if "records" in r]


def write_results(rows: list[dict[str, Any]]) -> None:
    lines = [
        "# Benchmark results", "",
        f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        "2 cores. Produced by `make bench` (local mode: moto + stand-ins over HTTPS on loopback).", "",
        "| source | destination | N | e2e s | e2e records/s | transform records/s/core | load API calls | minimum | "
        "ratio | batch heap MiB | process RSS MiB | extract calls | minimum | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        extract = (f"{r['extract_calls']} | {r['extract_calls_minimum']} | {r['extract_calls_ratio']}"
                   if r.get("extract_calls_minimum") else "- | - | -")
        label = f"{r['destination']} ({r['writes']})" if r.get("writes") else r["destination"]
        lines.append(f"| {r.get('source', LocalRuntime.source)} | {label} | {r['records']:,} | "
                     f"{r.get('end_to_end_seconds', 'see below')} | "  # a row measured without a whole run
                     f"{r.get('end_to_end_records_per_s', 'see below')} | "
                     f"{r['transform_records_per_s_one_core']:,} | {r['api_calls_load']} | "
                     f"{r['api_calls_load_minimum']} | {r['api_calls_ratio']} | {r['peak_batch_heap_mib']} | "
                     f"{r['peak_process_rss_mib']} | {extract} |")
    lines += ["", "Load API calls: Salesforce counts Collections and Bulk API 2.0 calls; Dynamics 365 counts `$batch` "
              "requests (the minimum: one per 1,000 operations, see bench/__main__.py); Zoho CRM counts write "
              "calls (upserts, inserts, updates, file uploads, bulk-write calls); Odoo counts the ORM calls that "
              "write (create/write/unlink, external-id registrations included) against one create per 50 records.",
              ""]
    zoho = [r for r in rows if r.get("destination") == "zoho"]
    if zoho:
        lines += ["Zoho CRM credits (the budget Zoho meters): " + "; ".join(
            f"N {r['records']:,}: {r['credits_load']} spent on writes, minimum {r['credits_load_minimum']}, "
            f"ratio {r['credits_ratio']}" for r in zoho) +
            ". Targets: credits <= 1.05 x and write calls <= 1.1 x the minimum Zoho's pricing allows.", ""]
    paths = [r for r in rows if r.get("writes")]
    if paths:
        lines += ["Dataverse load by write path (same records, same `make bench`): `$batch` requests that write, "
                  "the `UpsertMultiple` and `PATCH` operations inside them, and every operation inside `$batch` "
                  "requests (reads included).", "",
                  "| N | writes | load $batch requests | UpsertMultiple | PATCH | operations in $batch | closes | "
                  "fix-ups | e2e s |", "|---|---|---|---|---|---|---|---|---|"]
        for r in paths:
            c = r["api_calls_by_category"]
            lines.append(f"| {r['records']:,} | {r['writes']} | {r['api_calls_load']} | "
                         f"{c.get('upsert_multiple', 0)} | {c.get('patch', 0):,} | {c['batch_inner']:,} | "
                         f"{c['closed']:,} | {c['fixed_up']} | {r['end_to_end_seconds']} |")
        lines.append("")
    floors = [r for r in rows if r.get("floor_seconds")]
    if floors:
        lines += ["Engine vs floor (issue 15; target ratio <= 2.0 and every process under 1 GiB, flat from 100k to "
                  "1M): the floor is bare clients doing the same work in the same `make bench` run "
                  "(`bench/floor.py`): httpx paging every source object and downloading every file, plus "
                  "simple-salesforce writing the run's load-ready records (Bulk 2.0 from 1,000 records, "
                  "Collections below) into a copy of the migrated org. Peak RSS per process, MiB.", "",
                  "| N | e2e s | floor s (source + destination) | ratio | records created (engine / floor) | "
                  "peak RSS MiB by process | commit |", "|---|---|---|---|---|---|---|"]
        for r in floors:
            rss = ", ".join(f"{k} {v}" for k, v in r["peak_rss_mib_by_process"].items())
            lines.append(f"| {r['records']:,} | {r['end_to_end_seconds']} | {r['floor_seconds']} "
                         f"({r['floor_source_seconds']} + {r['floor_destination_seconds']}) | {r['floor_ratio']} | "
                         f"{r['engine_records_created']:,} / {r['floor_records_written']:,} | {rss} | "
                         f"{r['commit']} |")
        lines.append("")
    metered = [r for r in rows if r.get("aws")]
    if metered:
        text = projection.markdown(projection.project(max(metered, key=lambda r: r["records"])),
                                   projection.quota_table(rows))
        lines += ["Cloud projection (issue 15; the model: `docs/scale.md`, `bench/projection.py`). " + text, ""]
        projection.write_scale_doc(text)
    lines += ["Extract calls (ServiceTracker): source API calls the extraction partitions made, against the "
              "minimum its bulk export allows (per object: a job, one poll, one call per 10,000-record result "
              "page); target <= 1.1 x minimum.",
              "", "Targets: transform >= 20,000 records/s/core; load API calls <= 1.1 x minimum; peak memory "
              "< 1 GiB at 100,000 and not growing with N (the per-batch heap is bounded by the batch size; the "
              "process RSS of local mode also holds moto's in-memory S3 and DynamoDB, which a Lambda does not).",
              "", "Raw JSON lines:", "", "```"]
    lines += [json.dumps(r) for r in rows]
    lines += ["```", ""]
    RESULTS.write_text("\n".join(lines) + _schema_section())


SCHEMA_BEGIN, SCHEMA_END = "<!-- schema-match -->", "<!-- /schema-match -->"


def _schema_section(replacement: str | None = None) -> str:
    """The schema-matching section of RESULTS.md: kept when the load rows are rewritten, replaced when re-run."""
    if replacement is not None:
        return f"\n{SCHEMA_BEGIN}\n{replacement}{SCHEMA_END}\n"
    text = RESULTS.read_text() if RESULTS.exists() else ""
    if SCHEMA_BEGIN not in text:
        return ""
    return "\n" + text[text.index(SCHEMA_BEGIN): text.index(SCHEMA_END) + len(SCHEMA_END)] + "\n"


def run_schema_match(write: bool) -> None:
    """The mapping proposer against generated tenants with ground truth (bench/schema_match.py)."""
    results = schema_match.run()
    for which, row in results.items():
        print(json.dumps({"suite": "schema", "set": which, **row, "commit": _commit()}), flush=True)
    if write:
        text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        if SCHEMA_BEGIN in text:
            end = text.index(SCHEMA_END) + len(SCHEMA_END)
            text = text[: text.index(SCHEMA_BEGIN)].rstrip("\n") + "\n" + text[end:]
        RESULTS.write_text(text.rstrip("\n") + "\n" + _schema_section(schema_match.markdown(results, _commit())))


def _commit() -> str:
    """The commit measured (results are only comparable for the same code)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,  # noqa: S607
                              check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--sizes", default="20000,100000",
                        help="N, comma-separated; 'scale' = 100000,500000,1000000 (the issue-15 rows)")
    parser.add_argument("--dest", default="salesforce,dynamics,zoho,odoo", help="destinations, comma-separated")
    parser.add_argument("--source", default=LocalRuntime.source, choices=registry.kinds("source"),
                        help="source system (its pairs with --dest)")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--keep", action="store_true",
                        help="keep each run's folder (stand-in states, AWS state) instead of removing it")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of RESULTS.md for sizes not run now (re-measure one size)")
    parser.add_argument("--suite", default="all", choices=("all", "schema", "load"),
                        help="schema: the mapping proposer's schema matching only (seconds); load: migrations only")
    args = parser.parse_args()
    if args.suite in ("all", "schema"):
        run_schema_match(write=not args.no_write)
    if args.suite == "schema":
        return 0
    rows = []
    local_environment(Path(tempfile.mkdtemp(prefix="flitstack-bench-logs-")) / "lambda.jsonl")
    for destination in args.dest.split(","):
        sizes = SCALE_SIZES if args.sizes == "scale" else args.sizes
        for n in (int(s) for s in sizes.split(",")):
            # Dynamics 365: both write paths over the same records, one migration each
            for writes in list(DYNAMICS_WRITES) if destination == "dynamics" else [None]:
                row = {**run_size(n, args.seed, destination, args.source, writes, args.keep), "commit": _commit()}
                print(json.dumps(row), flush=True)
                rows.append(row)
    if args.merge and RESULTS.exists():
        def key(r: dict[str, Any]) -> tuple[Any, ...]:
            return r.get("source", LocalRuntime.source), r["destination"], r["records"], r.get("writes")
        measured = {key(r) for r in rows}
        rows += [r for r in previous_rows() if key(r) not in measured]
    if not args.no_write:
        write_results(sorted(rows, key=lambda r: (str(r.get("source", LocalRuntime.source)), str(r["destination"]),
                                                  int(r["records"]), str(r.get("writes")))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The floor a migration is measured against (issue 15): what bare clients need for the same work.

- Source: every object the run extracted, paged out with bare httpx (1,000 per call, cursor), and every
  file the run copied, downloaded one at a time honouring the stand-in's 429 ``Retry-After``.
- Destination (Salesforce): the run's own load-ready records, in the run's level order (parents before
  children; an object's records together, where it first appears), written by simple-salesforce (Bulk API 2.0
  for an object of 1,000 records or more, sObject Collections below; files only through Collections) into a
  second stand-in serving a copy of the migrated org. The copy holds the schema the run created and the records
  its lookups point at; every record is inserted again under a ``floor-`` external id, so the floor writes as
  many records as the run did, with the same fields.

The bare clients run in a process of their own (``python -m bench.floor JOB``, started by :func:`run_floor`
once the run is over), so their peak RSS is theirs, not the bench process's (which ran the embedded engine).
That process holds no more than one load-ready batch, one Bulk job and one Collections call at a time, whatever
the tenant's size:

1. Preparation, not timed. The load-ready batches are read from the run's S3 one at a time, in level order;
   each record, cut to the fields its object has (described once) and given its ``floor-`` external id, is
   appended to its object's JSON-lines file on disk. An object that goes through Bulk API 2.0 then gets its CSV
   file (every column, text values, as simple-salesforce writes records). The ids of the files to download are
   written to a file too. This is the data the floor starts from: a bare client migrating from its own files
   would have them on disk already, the engine's Transform made them for it. (Until the floor streamed, this
   shaping and simple-salesforce's conversion of the records to CSV were done in memory inside the timed part.)
2. Source, timed: the paging and the downloads.
3. Destination, timed from the first write to Salesforce until the last answer: simple-salesforce reads each
   Bulk object's CSV file itself (``sf.bulk2.<Obj>.insert(csv_file=...)``, at most ``BULK_JOB_ROWS`` records a
   job: simple-salesforce holds a job's rows in memory), and each Collections object's records are read from
   their file 200 at a time, each file in them read from S3 and base64-encoded per 200-record call.

Peak RSS of every process (``VmHWM``): the bench process while the run ran (the engine), each stand-in (the
floor's included), and the floor's client process.
"""

from __future__ import annotations

import base64
import csv
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import requests
from simple_salesforce.api import Salesforce

if TYPE_CHECKING:
    from flitstack.runtime import LocalRuntime

BULK_MIN = 1_000
#: Records per Bulk API 2.0 job. simple-salesforce holds a job's rows in memory (its CSV split: about 4 KiB a
#: 25-column row, 400 MiB for a job of 100,000), so this is what bounds the client. 10,000 is Bulk API 2.0's own
#: internal batch and what one engine load holds (``bulk_batch_max``): the floor runs the jobs the engine runs
#: (before, it ran one job per object: at 100k a few jobs fewer, each a create, an upload, a close, polls).
BULK_JOB_ROWS = 10_000
COLLECTION = 200
NO_BULK = frozenset({"ContentVersion"})
FILE_REF = "$file"
REPO = Path(__file__).resolve().parent.parent


def peak_rss_mib(pid: int) -> float | None:
    """A live process's peak resident set (``VmHWM``), MiB; None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def own_peak_rss_mib() -> float:
    """This process's peak resident set so far, MiB."""
    peak = peak_rss_mib(os.getpid())
    assert peak is not None
    return peak


# -- the bench process's side -------------------------------------------------------------------------------


def run_floor(rt: LocalRuntime, objects: list[str], file_batches: list[str], loads: list[tuple[str, str]],
              ext: str) -> dict[str, Any]:
    """Run the floor's clients in a process of their own against a fresh stand-in serving a copy of the migrated
    org. ``objects``: the source objects to page; ``file_batches``: the extracted batches (S3 keys) whose records
    are the files to download; ``loads``: (destination object, S3 key of a load-ready batch) in level order.
    Returns the child's answer (seconds, records written, its peak RSS) and the floor stand-in's peak RSS."""
    from sandbox.serve import start_standin  # noqa: PLC0415 (the child imports this module without uvicorn)

    engine = rt.engine
    assert engine is not None and engine.stack is not None
    standins = rt.folder / "standins"
    copy = standins / "floor.sqlite"
    with sqlite3.connect(standins / f"{rt.destination}.sqlite") as live, sqlite3.connect(copy) as into:
        live.backup(into)
    work = Path(tempfile.mkdtemp(prefix="floor-", dir=rt.folder))
    floor = start_standin(rt.destination, ["--state", str(copy), "--tls-dir", str(rt.tls_dir)])
    try:
        job = work / "job.json"
        job.write_text(json.dumps({
            "s3": {"endpoint_url": engine.endpoint_url, "region": engine.region, "bucket": engine.stack.bucket},
            "source": rt.source_standin.info, "objects": objects, "file_batches": file_batches,
            "destination": floor.info, "loads": loads, "external_id": ext, "work": str(work)}))
        done = subprocess.run([sys.executable, "-m", "bench.floor", str(job)], cwd=REPO,  # noqa: S603
                              stdout=subprocess.PIPE, text=True, check=True)
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return {**answer, "standin_rss_mib": peak_rss_mib(floor.process.pid)}
    finally:
        floor.stop()
        shutil.rmtree(work, ignore_errors=True)


# -- the floor's client process --------------------------------------------------------------------------------


def _s3(job: dict[str, Any]) -> tuple[Any, str]:
    s3 = job["s3"]
    return boto3.client("s3", endpoint_url=s3["endpoint_url"], region_name=s3["region"],
                        aws_access_key_id="testing", aws_secret_access_key="testing"), s3["bucket"]  # noqa: S106


def _get(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _lines(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _get(s3, bucket, key).split(b"\n") if line]


def source_floor(info: dict[str, Any], objects: list[str], file_ids: Path) -> float:
    """Seconds to page every object out and download every file (one id a line in ``file_ids``) with bare
    httpx."""
    started = time.perf_counter()
    with httpx.Client(base_url=info["url"] + "/api/v1", verify=info["ca_path"], timeout=120, trust_env=False,
                      headers={"X-Api-Key": info["api_key"]}) as c:
        def get(path: str, params: dict[str, Any] | None = None) -> httpx.Response:
            while True:
                resp = c.get(path, params=params)
                if resp.status_code != 429:
                    resp.raise_for_status()
                    return resp
                time.sleep(float(resp.headers.get("Retry-After") or 1))

        for obj in objects:
            params: dict[str, Any] = {"limit": 1000}
            while True:
                body = get(f"/{obj}", params).json()
                if not body.get("next_cursor"):
                    break
                params = {"limit": 1000, "cursor": body["next_cursor"]}
        with file_ids.open() as ids:
            for line in ids:
                get(f"/attachments/{line.strip()}/content")
    return time.perf_counter() - started


def _client(info: dict[str, Any]) -> Salesforce:
    session = requests.Session()
    session.verify, session.trust_env = info["ca_path"], False
    token = session.post(f"{info['url']}/services/oauth2/token", timeout=30, data={
        "grant_type": "password", **{k: info["credentials"][k] for k in
                                     ("client_id", "client_secret", "username", "password")}}).json()
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session,
                      version="60.0")


def _text(v: Any) -> str:
    """A Bulk 2.0 CSV value as simple-salesforce writes it (text)."""
    return "true" if v is True else "false" if v is False else "" if v is None else str(v)


def prepare(sf: Salesforce, job: dict[str, Any], s3: Any, bucket: str) -> list[tuple[str, str, Path]]:
    """The load-ready records as the files the client writes from: (object, ``bulk`` or ``collections``,
    path) in the order the objects are loaded."""
    work, ext = Path(job["work"]), str(job["external_id"])
    order = list(dict.fromkeys(obj for obj, _ in job["loads"]))  # where each object first appears
    # only the fields an object has (the engine's connector leaves out an external id an object cannot carry)
    have = {obj: {f["name"] for f in getattr(sf, obj).describe()["fields"]} for obj in order}
    paths = {obj: work / f"{i:03d}.jsonl" for i, obj in enumerate(order)}
    counts = dict.fromkeys(order, 0)
    columns: dict[str, set[str]] = {obj: set() for obj in order}
    for obj, key in job["loads"]:
        with paths[obj].open("a") as out:
            for r in _lines(s3, bucket, key):
                row = {k: (f"floor-{v}" if k == ext else v) for k, v in r.items() if k in have[obj]}
                columns[obj].update(row)
                counts[obj] += 1
                out.write(json.dumps(row) + "\n")
    plan = []
    for obj in order:
        if counts[obj] >= BULK_MIN and obj not in NO_BULK:
            header = sorted(columns[obj])
            csv_path = paths[obj].with_suffix(".csv")
            with paths[obj].open() as rows, csv_path.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out, lineterminator="\n")
                writer.writerow(header)
                for line in rows:
                    row = json.loads(line)
                    writer.writerow([_text(row.get(k)) for k in header])
            paths[obj].unlink()
            plan.append((obj, "bulk", csv_path))
        else:
            plan.append((obj, "collections", paths[obj]))
    return plan


def destination_floor(sf: Salesforce, plan: list[tuple[str, str, Path]], s3: Any, bucket: str) -> tuple[float, int]:
    """(seconds, records written) for simple-salesforce writing ``plan``'s files."""
    written = 0
    started = time.perf_counter()
    for obj, how, path in plan:
        if how == "bulk":
            for result in getattr(sf.bulk2, obj).insert(csv_file=str(path), batch_size=BULK_JOB_ROWS, wait=0.5):
                written += int(result.get("numberRecordsProcessed", 0)) - int(result.get("numberRecordsFailed", 0))
            continue
        with path.open() as rows:
            while lines := list(itertools.islice(rows, COLLECTION)):
                chunk = [{"attributes": {"type": obj},
                          **{k: (base64.b64encode(_get(s3, bucket, v[FILE_REF])).decode() if isinstance(v, dict)
                                 and FILE_REF in v else v) for k, v in json.loads(line).items()}}
                         for line in lines]
                answer: list[dict[str, Any]] = sf.restful(
                    "composite/sobjects", method="POST", data=json.dumps({"allOrNone": False, "records": chunk})) or []
                written += sum(1 for a in answer if a.get("success"))
    return time.perf_counter() - started, written


def client_main(job_path: Path) -> dict[str, Any]:
    """The floor's client process: prepare, then the timed source and destination work."""
    job = json.loads(job_path.read_text())
    s3, bucket = _s3(job)
    file_ids = Path(job["work"]) / "file-ids.txt"
    with file_ids.open("w") as out:
        for key in job["file_batches"]:
            out.writelines(f"{r['id']}\n" for r in _lines(s3, bucket, key))
    source_s = source_floor(job["source"], job["objects"], file_ids)
    sf = _client(job["destination"])
    plan = prepare(sf, job, s3, bucket)
    dest_s, written = destination_floor(sf, plan, s3, bucket)
    return {"source_seconds": source_s, "destination_seconds": dest_s, "written": written,
            "client_rss_mib": own_peak_rss_mib()}


if __name__ == "__main__":
    print(json.dumps(client_main(Path(sys.argv[1]))), flush=True)

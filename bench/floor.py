"""The floor a migration is measured against (issue 15): what bare clients need for the same work.

- Source: every object the run extracted, paged out with bare httpx (1,000 per call, cursor), and every
  file the run copied, downloaded one at a time honouring the stand-in's 429 ``Retry-After``.
- Destination (Salesforce): the run's own load-ready records, in the run's level order, written by
  simple-salesforce (Bulk API 2.0 for an object of 1,000 records or more, sObject Collections below; files
  only through Collections) into a second stand-in serving a copy of the migrated org. The copy holds the
  schema the run created and the records its lookups point at; every record is inserted again under a
  ``floor-`` external id, so the floor writes as many records as the run did, with the same fields.

Peak RSS of every process (``VmHWM``): this process while the run ran (the engine), then again while the floor's
clients ran (the high-water mark reset in between), each stand-in.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import requests
from simple_salesforce.api import Salesforce

from flitstack.runtime import LocalRuntime
from sandbox.serve import start_standin

BULK_MIN = 1_000
COLLECTION = 200
NO_BULK = frozenset({"ContentVersion"})
FILE_REF = "$file"


def peak_rss_mib(pid: int) -> float | None:
    """A live process's peak resident set (``VmHWM``), MiB; None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def own_peak_rss_mib(reset: bool = False) -> float:
    """This process's peak resident set so far, MiB; ``reset`` starts a new peak from here (Linux
    ``/proc/self/clear_refs`` 5), so what this process does next is measured apart."""
    peak = peak_rss_mib(os.getpid())
    assert peak is not None
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    return peak


def source_floor(rt: LocalRuntime, objects: list[str], files: list[str]) -> float:
    """Seconds to page every object out and download every file with bare httpx."""
    info = rt.source_standin.info
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
        for file_id in files:
            get(f"/attachments/{file_id}/content")
    return time.perf_counter() - started


def _client(info: dict[str, Any]) -> Salesforce:
    session = requests.Session()
    session.verify, session.trust_env = info["ca_path"], False
    token = session.post(f"{info['url']}/services/oauth2/token", timeout=30, data={
        "grant_type": "password", **{k: info["credentials"][k] for k in
                                     ("client_id", "client_secret", "username", "password")}}).json()
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session,
                      version="60.0")


def _bulk_row(record: dict[str, Any], fields: list[str]) -> dict[str, str]:
    """One Bulk 2.0 CSV row as simple-salesforce writes it (every column, text values)."""
    def text(v: Any) -> str:
        return "true" if v is True else "false" if v is False else "" if v is None else str(v)

    return {k: text(record.get(k)) for k in fields}


def destination_floor(rt: LocalRuntime, batches: list[tuple[str, list[dict[str, Any]]]], ext: str,
                      read_file: Any) -> tuple[float, int, float | None]:
    """(seconds, records written, peak RSS MiB of the floor's stand-in) for a bare simple-salesforce load."""
    standins = rt.folder / "standins"
    copy = standins / "floor.sqlite"
    with sqlite3.connect(standins / f"{rt.destination}.sqlite") as live, sqlite3.connect(copy) as into:
        live.backup(into)
    floor = start_standin(rt.destination, ["--state", str(copy), "--tls-dir", str(rt.tls_dir)])
    try:
        sf = _client(floor.info)
        by_object: dict[str, list[dict[str, Any]]] = {}
        for obj, records in batches:  # level order: parents before children
            by_object.setdefault(obj, []).extend(records)
        # only the fields an object has (the engine's connector leaves out an external id an object cannot
        # carry): described once, before the timed work
        fields = {obj: {f["name"] for f in getattr(sf, obj).describe()["fields"]} for obj in by_object}
        written = 0
        started = time.perf_counter()
        for obj, records in by_object.items():
            have = fields[obj]
            rows = [{k: (f"floor-{v}" if k == ext else v) for k, v in r.items() if k in have} for r in records]
            if len(rows) >= BULK_MIN and obj not in NO_BULK:
                columns = sorted({k for r in rows for k in r})
                for result in getattr(sf.bulk2, obj).insert(records=[_bulk_row(r, columns) for r in rows], wait=0.5):
                    written += int(result.get("numberRecordsProcessed", 0)) - int(result.get("numberRecordsFailed",
                                                                                          0))
                continue
            for i in range(0, len(rows), COLLECTION):
                chunk = [{"attributes": {"type": obj},
                          **{k: (base64.b64encode(read_file(v[FILE_REF])).decode() if isinstance(v, dict)
                                 and FILE_REF in v else v) for k, v in r.items()}}
                         for r in rows[i:i + COLLECTION]]
                answer: list[dict[str, Any]] = sf.restful(
                    "composite/sobjects", method="POST", data=json.dumps({"allOrNone": False, "records": chunk})) or []
                written += sum(1 for a in answer if a.get("success"))
        elapsed = time.perf_counter() - started
        return elapsed, written, peak_rss_mib(floor.process.pid)
    finally:
        floor.stop()

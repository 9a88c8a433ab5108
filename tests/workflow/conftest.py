"""Workflow layer: the real ASL on moto, real handlers, real stand-ins over HTTPS."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from simple_salesforce import Salesforce

from flitstack.runtime import LocalRuntime, local_environment


def salesforce_client(runtime: LocalRuntime) -> Salesforce:
    """An independent client of the migrated org: simple-salesforce, unmodified."""
    assert runtime.salesforce is not None
    info = runtime.salesforce.info
    creds = info["credentials"]
    token = requests.post(
        f"{info['url']}/services/oauth2/token",
        verify=info["ca_path"],
        timeout=30,
        data={
            "grant_type": "password",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "username": creds["username"],
            "password": creds["password"],
        },
    ).json()
    session = requests.Session()
    session.verify = info["ca_path"]
    session.trust_env = False  # else REQUESTS_CA_BUNDLE in the environment overrides verify
    return Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session, version="60.0"
    )


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1280,2000"]


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: `make chromium` installs Debian's package")
    return path


def browse(page: Path, *action: str, profile: Path) -> str:
    """Run headless Chromium on ``page`` with one action (--dump-dom or --screenshot=...); its stdout."""
    done = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *action, page.as_uri()],
                          capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def s3_json(runtime: LocalRuntime, key: str) -> Any:
    assert runtime.engine is not None and runtime.engine.stack is not None
    body = runtime.engine.client("s3").get_object(Bucket=runtime.engine.stack.bucket, Key=key)["Body"].read()
    return json.loads(body)


def s3_lines(runtime: LocalRuntime, prefix: str) -> list[dict[str, Any]]:
    assert runtime.engine is not None and runtime.engine.stack is not None
    s3, bucket = runtime.engine.client("s3"), runtime.engine.stack.bucket
    rows: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            text = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            rows += [json.loads(line) for line in text.splitlines() if line]
    return rows


@pytest.fixture(scope="module")
def runtime_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start a LocalRuntime (one per module: moto's state is process-global)."""
    started: list[LocalRuntime] = []

    def make(**kwargs: Any) -> LocalRuntime:
        folder: Path = tmp_path_factory.mktemp("flitstack")
        local_environment(folder / "lambda.jsonl")
        rt = LocalRuntime(folder=folder, **kwargs)
        started.append(rt)
        return rt.__enter__()

    yield make
    for rt in reversed(started):
        rt.stop()


def dest_record_count(runtime: LocalRuntime, run_id: str) -> int:
    """How many destination records the run's audit log names still exist (whatever the destination)."""
    from shared.connections import open_destination

    assert runtime.engine is not None and runtime.engine.stack is not None
    ddb = runtime.engine.client("dynamodb")
    ids: dict[str, set[str]] = {}
    for page in ddb.get_paginator("query").paginate(
            TableName=runtime.engine.stack.tables["AuditTable"], KeyConditionExpression="run_id = :r",
            ExpressionAttributeValues={":r": {"S": run_id}}):
        for item in page["Items"]:
            if item.get("dest_id", {}).get("S"):
                ids.setdefault(item["dest_object"]["S"], set()).add(item["dest_id"]["S"])
    dest = open_destination(runtime.run_ref(run_id).destination)
    return sum(len(dest.existing_ids(obj, sorted(found))) for obj, found in ids.items())


class Probe:
    """An independent reader and editor of the destination stand-in, as a person or a report tool
    would use it: simple-salesforce (SOQL) for Salesforce, plain OData over httpx for Dataverse.

    Rows come back keyed by the engine's source key (``customers:42``) with the fields asked for,
    named as the spec names them (a Dataverse lookup's navigation property reads its
    ``_<column>_value``).
    """

    def __init__(self, runtime: LocalRuntime) -> None:
        self.kind = runtime.destination
        if self.kind == "dynamics":
            assert runtime.dynamics is not None
            info = runtime.dynamics.info
            token = httpx.post(f"{info['url']}/{info['tenant_id']}/oauth2/v2.0/token", verify=info["ca_path"],
                               trust_env=False, data={"grant_type": "client_credentials", **info["credentials"],
                                                      "scope": f"{info['url']}/.default"}).json()["access_token"]
            self.http = httpx.Client(base_url=f"{info['url']}/api/data/v9.2/", verify=info["ca_path"],
                                     trust_env=False, timeout=60,
                                     headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                                              "OData-Version": "4.0", "Prefer": "odata.maxpagesize=5000"})
            self.sets: dict[str, tuple[str, str]] = {}
        else:
            self.sf = salesforce_client(runtime)

    # --- Dataverse helpers ---------------------------------------------------------------------
    def _meta(self, obj: str) -> tuple[str, str]:
        if obj not in self.sets:
            d = self.http.get(f"EntityDefinitions(LogicalName='{obj}')",
                              params={"$select": "EntitySetName,PrimaryIdAttribute"}).json()
            self.sets[obj] = (d["EntitySetName"], d["PrimaryIdAttribute"])
        return self.sets[obj]

    @staticmethod
    def _lookup(row: dict[str, Any], name: str) -> Any:
        parts = name.split("_")
        for n in range(len(parts), 0, -1):
            column = "_" + "_".join(parts[:n]) + "_value"
            if column in row:
                return row[column]
        return row.get(name)

    def rows(self, obj: str, ext: str, source_object: str, fields: list[str]) -> dict[str, dict[str, Any]]:
        """Every record of ``obj`` whose external id belongs to ``source_object``, by source key."""
        if self.kind != "dynamics":
            names = ", ".join(dict.fromkeys(["Id", ext, *fields]))
            soql = f"SELECT {names} FROM {obj} WHERE {ext} LIKE '{source_object}:%'"
            return {r[ext]: {**{f: r.get(f) for f in fields}, "Id": r["Id"]}
                    for r in self.sf.query_all(soql)["records"]}
        from shared.connectors.dynamics.client import decode_key, encode_key

        entity_set, pk = self._meta(obj)
        url: str | None = f"{entity_set}?$filter=startswith({ext},'{encode_key(source_object + ':')}')"
        out: dict[str, dict[str, Any]] = {}
        while url:
            body = self.http.get(url).json()
            for r in body["value"]:
                out[decode_key(str(r[ext]))] = {**{f: self._lookup(r, f) for f in fields}, "Id": r[pk]}
            url = body.get("@odata.nextLink")
        return out

    def ids(self, obj: str) -> set[str]:
        if self.kind != "dynamics":
            return {r["Id"] for r in self.sf.query_all(f"SELECT Id FROM {obj}")["records"]}
        entity_set, pk = self._meta(obj)
        url: str | None = f"{entity_set}?$select={pk}"
        found: set[str] = set()
        while url:
            body = self.http.get(url).json()
            found |= {str(r[pk]) for r in body["value"]}
            url = body.get("@odata.nextLink")
        return found

    def edit(self, obj: str, dest_id: str, field: str, value: Any) -> None:
        """A person's edit in the destination."""
        if self.kind != "dynamics":
            getattr(self.sf, obj).update(dest_id, {field: value})
            return
        entity_set, _ = self._meta(obj)
        self.http.patch(f"{entity_set}({dest_id})", json={field: value}, headers={"If-Match": "*"}).raise_for_status()


DESTINATIONS = ["salesforce", "dynamics"]

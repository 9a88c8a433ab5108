"""Workflow: one-click rollback through the real rollback ASL on moto.

GIVEN an org that already holds records carrying Sercom keys (the run updates them) and
records the run must not touch, WHEN a full run and a second run (full load plus a delta
pass that picks up a source change) load it, THEN rolling the runs back (latest first)
leaves the org's live records exactly as they were before each run, apart from the system
fields a write necessarily moves, and the rollback report says so. The CLI does the same
across processes (demo, then rollback RUN).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from flitstack.runtime import LocalRuntime
from sandbox.salesforce import snapshot
from shared.connectors.salesforce.client import SalesforceDestination
from shared.handler import stores
from shared.models import RunOptions
from tests.workflow.conftest import s3_json, salesforce_client, wait_until

SYSTEM_FIELDS = SalesforceDestination.system_fields
pytestmark = pytest.mark.slow
RECORDS = 300
_EXT = {"label": "Sercom Id", "type": "Text", "length": 80, "externalId": True, "unique": True,
        "caseSensitive": False}


def live_records(runtime: LocalRuntime, checkboxes_since: set[str] | None = None
                 ) -> dict[str, dict[str, dict[str, Any]]]:
    """The org's records as a person sees them: not deleted, system fields and empty values left out.

    Deleted records stay in the stand-in's state as Recycle Bin rows (IsDeleted). A field the run
    created is null on records it restored; a Checkbox it created reads false there (Salesforce
    checkboxes are never null), so with ``checkboxes_since`` (the custom fields before the run),
    false values of checkboxes created since are left out too.
    """
    assert runtime.destination_standin is not None
    snap = snapshot(runtime.destination_standin.info["state_path"])
    new_checkboxes = {name for name, f in snap["schema"]["custom_fields"].items()
                      if f["metadata"].get("type") == "Checkbox" and name not in (checkboxes_since or set(snap[
                          "schema"]["custom_fields"]))}
    return {
        obj: {rid: {k: v for k, v in data.items()
                    if k not in SYSTEM_FIELDS and v is not None and not (v is False and f"{obj}.{k}" in new_checkboxes)}
              for rid, data in rows.items() if not data.get("IsDeleted")}
        for obj, rows in snap["records"].items()
    }


def custom_fields(runtime: LocalRuntime) -> set[str]:
    assert runtime.destination_standin is not None
    return set(snapshot(runtime.destination_standin.info["state_path"])["schema"]["custom_fields"])


def _diff(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    out = []
    for obj in sorted(set(want) | set(got)):
        a, b = want.get(obj, {}), got.get(obj, {})
        out += [f"{obj} {rid}: missing" for rid in sorted(set(a) - set(b))][:5]
        out += [f"{obj} {rid}: extra {b[rid].get('Sercom_Id__c') or b[rid].get('Name')}"
                for rid in sorted(set(b) - set(a))][:5]
        for rid in sorted(set(a) & set(b)):
            if a[rid] != b[rid]:
                fields = sorted(k for k in set(a[rid]) | set(b[rid]) if a[rid].get(k) != b[rid].get(k))
                out.append(f"{obj} {rid}: " + ", ".join(f"{k}: {a[rid].get(k)!r} -> {b[rid].get(k)!r}"
                                                        for k in fields))
    return out


def _wait_for_step(run_id: str, prefix: str, timeout_s: float = 300) -> None:
    wait_until(lambda: str((stores().runs.get(run_id) or {}).get("step", "")).startswith(prefix),
               f"{run_id} to reach {prefix}", timeout_s)


def _rollback(runtime: LocalRuntime, run_id: str) -> dict[str, Any]:
    desc = runtime.wait(runtime.start_rollback(run_id), timeout_s=600)
    report = s3_json(runtime, f"runs/{run_id}/reports/rollback.json")
    assert desc["status"] == "SUCCEEDED", json.dumps(report)[:3000]
    return report


def _rename_customer(runtime: LocalRuntime, customer_id: str, name: str) -> None:
    src = runtime.source_standin
    resp = requests.post(f"{src.url}/__standin/records/customers", json={"id": customer_id, "name": name},
                         headers={"X-Api-Key": str(src.info["api_key"])}, verify=src.ca_path, timeout=30)
    assert resp.status_code == 200, resp.text


@pytest.fixture(scope="module")
def runtime(runtime_factory: Any) -> LocalRuntime:
    rt: LocalRuntime = runtime_factory(records=RECORDS, seed=5)
    return rt


def test_rollback_of_two_runs_restores_the_org_exactly(runtime: LocalRuntime) -> None:
    sf = salesforce_client(runtime)
    # GIVEN an org that already holds some of the tenant's records (from another tool) ...
    for obj in ("Account", "Contact"):
        result = sf.toolingexecute("sobjects/CustomField", method="POST",
                                   data={"FullName": f"{obj}.Sercom_Id__c", "Metadata": _EXT})
        assert result["success"], result
    src = runtime.source_client()
    try:
        customers = src.read_all("customers")[:4]
        contacts = [c for c in src.read_all("contacts") if c.get("customer_id")][:3]
    finally:
        src.close()
    legacy = sf.Account.create({"Name": "Legacy Holdings", "Phone": "+1 555 0100"})["id"]
    for c in customers:
        sf.Account.create({"Name": f"Old {c['id']}", "Sercom_Id__c": f"customers:{c['id']}",
                           "Description": "typed in by hand", "Phone": "+1 555 0199"})
    for c in contacts:
        sf.Contact.create({"LastName": f"Old {c['id']}", "Sercom_Id__c": f"contacts:{c['id']}", "AccountId": legacy,
                           "Title": "kept until the run"})
    # ... and records the run must not touch
    bystander = sf.Account.create({"Name": "Bystander Ltd", "Industry": "Energy"})["id"]
    sf.Contact.create({"LastName": "Bystander", "AccountId": bystander, "Email": "by@stander.example"})
    fields_before = custom_fields(runtime)
    before_first = live_records(runtime, fields_before)

    # WHEN a full run loads the tenant, updating the existing records
    first = runtime.wait(runtime.start_migration(runtime.run_ref("rb-first")), timeout_s=900)
    assert first["status"] == "SUCCEEDED"
    acc = sf.query(f"SELECT Name, Description FROM Account WHERE Sercom_Id__c = 'customers:{customers[0]['id']}'")
    assert acc["records"][0]["Name"] != f"Old {customers[0]['id']}", "the run updated the existing account"
    after_first = live_records(runtime)
    # AND a second run whose delta-pickup window catches a customer renamed in the source
    run = runtime.run_ref("rb-second", RunOptions(delta_window_s=4, delta_poll_s=2, delta_overlap_s=60))
    arn = runtime.start_migration(run)
    _wait_for_step("rb-second", "DeltaPickup")
    _rename_customer(runtime, str(customers[1]["id"]), "Renamed By The Second Run")
    second = runtime.wait(arn, timeout_s=900)
    assert second["status"] == "SUCCEEDED"
    delta = s3_json(runtime, "runs/rb-second/reports/delta.json")
    assert sum(p["loaded"] for p in delta["passes"]) >= 1
    renamed = sf.query(f"SELECT Name FROM Account WHERE Sercom_Id__c = 'customers:{customers[1]['id']}'")
    assert renamed["records"][0]["Name"] == "Renamed By The Second Run"

    # THEN rolling back the second run restores the org as the first run left it
    report = _rollback(runtime, "rb-second")
    assert report["passed"] and report["totals"]["restored"] > 0, report["totals"]
    assert _diff(after_first, live_records(runtime)) == []
    # AND rolling back the first run deletes what it created, restores what it updated
    report = _rollback(runtime, "rb-first")
    assert report["passed"], json.dumps(report)[:3000]
    assert report["deleted"]["Account"] > 0 and report["restored"]["Account"] == len(customers)
    assert report["restored"]["Contact"] == len(contacts)
    assert report["not_compared"] == list(SYSTEM_FIELDS)
    assert _diff(before_first, live_records(runtime, fields_before)) == []
    # AND a second rollback of the same run converges (nothing left to do, still verified)
    again = _rollback(runtime, "rb-first")
    assert again["passed"] and again["attempt"] != report["attempt"]
    assert _diff(before_first, live_records(runtime, fields_before)) == []
    # AND the run table shows it
    assert runtime.engine is not None and runtime.engine.stack is not None
    item = runtime.engine.client("dynamodb").get_item(TableName=runtime.engine.stack.tables["RunsTable"],
                                                      Key={"run_id": {"S": "rb-first"}})["Item"]
    assert json.loads(item["rollback"]["S"])["status"] == "rolled_back"


def _run(args: list[str], home: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLITSTACK_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def _served_counts(state: str, objects: tuple[str, ...]) -> dict[str, int]:
    proc = subprocess.Popen([sys.executable, "-m", "flitstack", "sandbox", "serve", "salesforce", "--state", state],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        token = requests.post(f"{info['url']}/services/oauth2/token", verify=info["ca_path"], timeout=30,
                              data={"grant_type": "password", **info["credentials"]}).json()
        session = requests.Session()
        session.trust_env, session.verify = False, info["ca_path"]
        sf = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session,
                        version="60.0")
        counts = {o: int(sf.query(f"SELECT COUNT() FROM {o}")["totalSize"]) for o in objects}
        session.close()
        return counts
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_cli_demo_then_rollback_returns_the_org_to_its_initial_counts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    demo = _run(["flitstack", "demo", "--records", "300", "--json"], home)
    assert demo.returncode == 0, demo.stderr[-3000:]
    result = json.loads(demo.stdout.strip().splitlines()[-1])
    folder = Path(result["run_folder"])
    assert (folder / "aws-state" / "manifest.json").exists()
    # DynamoDB stayed where the run wrote it (no JSON-lines export); rollback reads it in place
    assert (folder / "aws-state" / "dynamodb.sqlite").exists() and not (folder / "aws-state" / "dynamodb").exists()
    objects = ("Account", "Contact", "Case", "Task", "ContentVersion", "ContentDocument", "User")
    state = result["standins"]["salesforce"]["state_path"]
    migrated = _served_counts(state, objects)
    assert migrated["Account"] > 1
    rollback = _run(["flitstack", "rollback", result["run_id"], "--json"], home)
    assert rollback.returncode == 0, rollback.stderr[-3000:]
    summary = json.loads(rollback.stdout.strip().splitlines()[-1])
    assert summary["passed"] and summary["deleted"] > 0
    assert json.loads((folder / "reports" / "rollback.json").read_text())["passed"]
    counts = _served_counts(state, objects)
    assert counts == {"Account": 0, "Contact": 0, "Case": 0, "Task": 0, "ContentVersion": 0, "ContentDocument": 0,
                      "User": migrated["User"]}

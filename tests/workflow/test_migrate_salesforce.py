"""Workflow: Sercom -> Salesforce end to end through the real ASL on moto.

Checked with an independent client (simple-salesforce) against the migrated org: every
source record present or rejected with a reason, every lookup pointing at the right record,
timestamps kept, custom fields created and populated, pick-lists translated, and a second
run creating no duplicates.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from flitstack.runtime import LocalRuntime
from tests.workflow.conftest import s3_json, s3_lines, salesforce_client

pytestmark = pytest.mark.slow
RECORDS = 1200


def _source(runtime: LocalRuntime, obj: str) -> dict[str, dict[str, Any]]:
    src = runtime.source_client()
    try:
        return {r["id"]: r for r in src.read_all(obj)}
    finally:
        src.close()


def _by_key(sf: Any, obj: str, fields: str) -> dict[str, dict[str, Any]]:
    rows = sf.query_all(f"SELECT Id, Sercom_Id__c, {fields} FROM {obj}")["records"]
    return {r["Sercom_Id__c"]: r for r in rows if r.get("Sercom_Id__c")}


@pytest.fixture(scope="module")
def migrated(runtime_factory: Any) -> tuple[LocalRuntime, dict[str, Any]]:
    runtime = runtime_factory(records=RECORDS, seed=11)
    run = runtime.run_ref("wf-first")
    desc = runtime.wait(runtime.start_migration(run), timeout_s=900)
    assert desc["status"] == "SUCCEEDED", desc
    return runtime, s3_json(runtime, "runs/wf-first/reports/summary.json")


def test_every_source_record_is_loaded_or_rejected_with_a_reason(migrated: tuple[LocalRuntime, dict[str, Any]]) -> None:
    runtime, summary = migrated
    assert summary["status"] == "succeeded"
    recon = s3_json(runtime, "runs/wf-first/reports/reconciliation.json")
    assert recon["passed"], [r for r in recon["mappings"] if not r["passed"]]
    rejects = s3_lines(runtime, "runs/wf-first/rejects/")
    assert all(r["reason"] and r["code"] for r in rejects)
    sf = salesforce_client(runtime)
    rejected = {(r["dest_object"], r["source_object"], r["source_id"]) for r in rejects}
    for obj, dest in (
        ("customers", "Account"),
        ("contacts", "Contact"),
        ("assets", "Asset"),
        ("work_orders", "Case"),
        ("parts_used", "Parts_Used__c"),
    ):
        in_sf = _by_key(sf, dest, "Name" if dest not in ("Case", "Contact") else "CreatedDate")
        for sid in _source(runtime, obj):
            assert f"{obj}:{sid}" in in_sf or (dest, obj, sid) in rejected, (obj, sid)


def test_lookups_point_at_the_right_records(migrated: tuple[LocalRuntime, dict[str, Any]]) -> None:
    runtime, _ = migrated
    sf = salesforce_client(runtime)
    accounts = _by_key(sf, "Account", "ParentId")
    acc_id = {k: v["Id"] for k, v in accounts.items()}
    customers = _source(runtime, "customers")
    checked = 0
    for cid, c in customers.items():
        if c.get("parent_id") and f"customers:{c['parent_id']}" in acc_id and f"customers:{cid}" in accounts:
            assert accounts[f"customers:{cid}"]["ParentId"] == acc_id[f"customers:{c['parent_id']}"]
            checked += 1
    assert checked > 0
    contacts = _by_key(sf, "Contact", "AccountId")
    default = sf.query("SELECT Id FROM Account WHERE Sercom_Id__c = 'flitstack:default-account'")["records"][0]["Id"]
    for sid, c in _source(runtime, "contacts").items():
        got = contacts.get(f"contacts:{sid}")
        if got is None:
            continue
        want = acc_id.get(f"customers:{c.get('customer_id')}", default)
        assert got["AccountId"] == want, sid
    cases = _by_key(sf, "Case", "AccountId, ContactId, AssetId, OwnerId")
    wos = _by_key(sf, "Work_Order__c", "Case__c, Account__c")
    users = {u["Id"]: u["Email"] for u in sf.query_all("SELECT Id, Email FROM User")["records"]}
    techs = _source(runtime, "technicians")
    assets = {k: v["Id"] for k, v in _by_key(sf, "Asset", "Name").items()}
    for sid, w in _source(runtime, "work_orders").items():
        case = cases.get(f"work_orders:{sid}")
        if case is None:
            continue
        assert case["AccountId"] == acc_id[f"customers:{w['customer_id']}"]
        if w.get("asset_id") and f"assets:{w['asset_id']}" in assets:
            assert case["AssetId"] == assets[f"assets:{w['asset_id']}"]
        tech = techs.get(w.get("technician_id") or "")
        if tech and tech.get("email") and users.get(case["OwnerId"]) not in (None, "") and case["OwnerId"] != "":
            owner_email = users[case["OwnerId"]]
            assert owner_email == tech["email"].lower() or owner_email.startswith("integration"), sid
        assert wos[f"work_orders:{sid}"]["Case__c"] == case["Id"]
    parts = _by_key(sf, "Parts_Used__c", "Work_Order__c")
    wo_ids = {k: v["Id"] for k, v in wos.items()}
    for sid, p in _source(runtime, "parts_used").items():
        if f"parts_used:{sid}" in parts:
            assert parts[f"parts_used:{sid}"]["Work_Order__c"] == wo_ids[f"work_orders:{p['work_order_id']}"]
    tasks = _by_key(sf, "Task", "WhatId, WhoId, Type")
    unlinked = {f"activities:{i['source_id']}" for i in s3_lines(runtime, "runs/wf-first/issues/")
                if i["dest_object"] == "Task" and i["field"] == "WhatId"}
    assert tasks and all(t["WhatId"] or k in unlinked for k, t in tasks.items())
    what_targets = {**{v: "Case" for v in (c["Id"] for c in cases.values())}, **{v: "Account" for v in acc_id.values()},
                    **{v: "Asset" for v in assets.values()}}
    maintenance = {k: t for k, t in tasks.items() if k.startswith("assets:")}
    assert maintenance, "maintenance history arrives as Tasks on the Asset"
    for key, task in maintenance.items():
        assert task["WhatId"] == assets[key.split("#", 1)[0]]
    for sid, a in _source(runtime, "activities").items():
        task = tasks.get(f"activities:{sid}")
        if task is None or not task["WhatId"]:
            continue
        assert task["WhatId"] in what_targets
        case = cases.get(f"work_orders:{a.get('work_order_id')}")
        if case is not None:
            assert task["WhatId"] == case["Id"], sid
    assert Counter(t["Type"] for t in tasks.values()).keys() <= {"Service Visit", "Call", "Email", "Maintenance"}
    files = _by_key(sf, "ContentVersion", "FirstPublishLocationId, ContentDocumentId")
    parents = {"customer": ("customers", acc_id), "work_order": ("work_orders", {k: v["Id"] for k, v in cases.items()}),
               "asset": ("assets", assets)}
    linked = 0
    for sid, att in _source(runtime, "attachments").items():
        cv = files.get(f"attachments:{sid}")
        if cv is None or att["parent_type"] not in parents:
            continue
        obj, ids = parents[att["parent_type"]]
        assert cv["FirstPublishLocationId"] == ids[f"{obj}:{att['parent_id']}"], sid
        doc_links = sf.query_all("SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = "
                                 f"'{cv['FirstPublishLocationId']}'")["records"]
        assert cv["ContentDocumentId"] in {d["ContentDocumentId"] for d in doc_links}
        linked += 1
    assert linked > 0, "attachments are linked to their records"


def test_timestamps_custom_fields_and_picklists(migrated: tuple[LocalRuntime, dict[str, Any]]) -> None:
    runtime, _ = migrated
    sf = salesforce_client(runtime)
    accounts = _by_key(sf, "Account", "CreatedDate, Contract_Tier__c, Customer_Segment__c")
    customers = _source(runtime, "customers")
    seen_tier = 0
    for sid, c in customers.items():
        got = accounts.get(f"customers:{sid}")
        if got is None:
            continue
        assert got["CreatedDate"][:19] == c["created_at"][:19]
        assert got["Customer_Segment__c"] == c["account_type"].title()
        if (c.get("custom_fields") or {}).get("contract_tier"):
            assert got["Contract_Tier__c"] == c["custom_fields"]["contract_tier"]
            seen_tier += 1
    assert seen_tier > 0
    describe = sf.Work_Order__c.describe()
    names = {f["name"] for f in describe["fields"]}
    assert {"Case__c", "Labor_Hours__c", "Warranty_Claim__c", "Sercom_Id__c"} <= names
    cases = _by_key(sf, "Case", "Status, Priority")
    assert {c["Status"] for c in cases.values()} <= {"New", "Working", "Escalated", "Closed"}
    assert {c["Priority"] for c in cases.values()} <= {"Low", "Medium", "High"}


def test_second_run_creates_no_duplicates(migrated: tuple[LocalRuntime, dict[str, Any]]) -> None:
    runtime, _ = migrated
    sf = salesforce_client(runtime)
    before = {
        o: sf.query(f"SELECT COUNT() FROM {o}")["totalSize"]
        for o in ("Account", "Contact", "Case", "Work_Order__c", "Task", "ContentVersion", "Parts_Used__c")
    }
    desc = runtime.wait(runtime.start_migration(runtime.run_ref("wf-second")), timeout_s=900)
    assert desc["status"] == "SUCCEEDED"
    after = {o: sf.query(f"SELECT COUNT() FROM {o}")["totalSize"] for o in before}
    assert after == before
    summary = s3_json(runtime, "runs/wf-second/reports/summary.json")
    assert summary["status"] == "succeeded", json.dumps(summary)[:2000]

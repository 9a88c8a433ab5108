"""Workflow: the delta-pickup window, and a run that pauses on an exhausted quota and resumes.

Delta: records created, modified (two with the same timestamp) and deleted in the source during
the window end loaded or flagged; a destination record a person edited after loading is
reported as a conflict and not overwritten. Resume: the daily API quota runs out mid-load;
the run pauses, resumes from its checkpoint when the quota is back, and converges with
nothing lost and nothing duplicated.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from shared.handler import stores
from shared.models import RunOptions
from tests.workflow.conftest import failed_checks, s3_json, salesforce_client, wait_until

pytestmark = pytest.mark.slow


def _sercom(runtime: Any) -> httpx.Client:
    info = runtime.source_standin.info
    return httpx.Client(base_url=info["url"], verify=info["ca_path"], headers={"X-Api-Key": info["api_key"]},
                        timeout=30)


def _salesforce_admin(runtime: Any) -> httpx.Client:
    info = runtime.destination_standin.info
    token = httpx.post(f"{info['url']}/services/oauth2/token", verify=info["ca_path"],
                       data={"grant_type": "password", **info["credentials"]}).json()["access_token"]
    return httpx.Client(base_url=info["url"], verify=info["ca_path"],
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _fresh(record: dict[str, Any]) -> dict[str, Any]:
    """The record without its timestamps: the stand-in stamps an edit with the time it happens."""
    return {k: v for k, v in record.items() if k not in ("created_at", "updated_at")}


def _step(run_id: str) -> str:
    run = stores().runs.get(run_id) or {}
    return str(run.get("step", ""))


@pytest.fixture(scope="module")
def runtime(runtime_factory: Any) -> Any:
    return runtime_factory(records=300, seed=8)


def test_exhausted_quota_pauses_then_resumes_from_the_checkpoint(runtime: Any) -> None:
    run = runtime.run_ref("wf-quota", RunOptions(quota_pause_s=2))
    with _salesforce_admin(runtime) as admin:
        admin.post("/__standin/usage/reset").raise_for_status()
        arn = runtime.start_migration(run)
        # GIVEN the daily API quota runs out as the second level starts loading
        wait_until(lambda: _step("wf-quota").startswith("LoadLevel 1"), "wf-quota at LoadLevel 1", 120,
                   longest_s=0.1)
        used = admin.get("/__standin/stats").json()["api_usage"]
        admin.post("/__standin/config", json={"api_daily_limit": used}).raise_for_status()
        # WHEN the run notices, it pauses (and says why) instead of failing
        wait_until(lambda: (stores().runs.get("wf-quota") or {}).get("status") == "paused", "wf-quota paused", 120)
        paused = stores().runs.get("wf-quota") or {}
        assert "quota" in str(paused.get("paused_reason"))
        # ...and once the quota is back it resumes
        admin.post("/__standin/config", json={"api_daily_limit": 100_000}).raise_for_status()
        admin.post("/__standin/usage/reset").raise_for_status()
    desc = runtime.wait(arn, timeout_s=300)
    # THEN it converges: reconciliation passes, so nothing was lost or duplicated
    assert desc["status"] == "SUCCEEDED"
    recon = s3_json(runtime, "runs/wf-quota/reports/reconciliation.json")
    assert recon["passed"], failed_checks(recon)


def test_delta_window_picks_up_changes_flags_deletions_and_reports_conflicts(runtime: Any) -> None:
    run = runtime.run_ref("wf-delta", RunOptions(delta_window_s=6, delta_poll_s=2, delta_overlap_s=60))
    arn = runtime.start_migration(run)
    sf = salesforce_client(runtime)
    # GIVEN the full load is done and the window is open
    wait_until(lambda: _step("wf-delta").startswith("DeltaPickup"), "wf-delta at DeltaPickup", 120)
    with _sercom(runtime) as api:
        customers = api.get("/api/v1/customers", params={"limit": 50}).json()["data"]
        contact = api.get("/api/v1/contacts", params={"limit": 1}).json()["data"][0]
        deal = api.get("/api/v1/deals", params={"limit": 1}).json()["data"][0]
        loaded = {r["Sercom_Id__c"]: r for r in sf.query_all(
            "SELECT Id, Name, Sercom_Id__c FROM Account WHERE Sercom_Id__c LIKE 'customers:%'")["records"]}
        a, b, c = [_fresh(x) for x in customers if f"customers:{x['id']}" in loaded][:3]
        contact = _fresh(contact)
        # WHEN the source changes during the window: one new customer, one modified contact, two
        # customers modified with the very same timestamp, one deal deleted...
        same = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        new = api.post("/__standin/records/customers", json={**a, "id": "cus_delta_new", "parent_id": None,
                                                              "name": "Delta Newco"}).json()
        api.post("/__standin/records/contacts", json={**contact, "title": "Changed in window"}).raise_for_status()
        for rec, name in ((a, "Tie A"), (b, "Tie B")):
            api.post("/__standin/records/customers", json={**rec, "name": name, "updated_at": same}).raise_for_status()
        api.delete(f"/__standin/records/deals/{deal['id']}").raise_for_status()
        # ...and a person edits customer c in Salesforce while the source changes it too
        sf.Account.update(loaded[f"customers:{c['id']}"]["Id"], {"Name": "Edited by a person"})
        api.post("/__standin/records/customers", json={**c, "name": "Source change"}).raise_for_status()
    desc = runtime.wait(arn, timeout_s=300)
    assert desc["status"] == "SUCCEEDED"
    # THEN creations and modifications are loaded, both equal-timestamp records included
    after = {r["Sercom_Id__c"]: r for r in sf.query_all(
        "SELECT Id, Name, Sercom_Id__c FROM Account WHERE Sercom_Id__c LIKE 'customers:%'")["records"]}
    assert after[f"customers:{new['id']}"]["Name"] == "Delta Newco"
    assert after[f"customers:{a['id']}"]["Name"] == "Tie A"
    assert after[f"customers:{b['id']}"]["Name"] == "Tie B"
    title = sf.query(f"SELECT Title FROM Contact WHERE Sercom_Id__c = 'contacts:{contact['id']}'")["records"]
    assert title[0]["Title"] == "Changed in window"
    # AND the person's edit was kept and reported as a conflict; the deletion is flagged
    assert after[f"customers:{c['id']}"]["Name"] == "Edited by a person"
    report = s3_json(runtime, "runs/wf-delta/reports/delta.json")
    assert {x["source_key"] for x in report["conflicts"]} == {f"customers:{c['id']}"}
    assert {(d["object"], d["id"]) for d in report["deletions"]} == {("deals", deal["id"])}
    assert len(report["passes"]) >= 2

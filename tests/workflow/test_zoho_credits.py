"""Workflow, Zoho CRM: credits run out mid-load and the run pauses, then resumes as the window rolls;
a 207 whose failed rows hide behind a success status ends in the reject report with Zoho's code.

Through the real ASL on moto, the Sercom and Zoho stand-ins over HTTPS; the org is read with plain
HTTP (``tests.kits.zoho``), never our connector. The stand-in's rolling window is a knob
(``credit_window_s``) so "the window rolls" takes seconds.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.handler import stores
from shared.models import RunOptions
from tests.kits import zoho as zoho_kit
from tests.workflow.conftest import failed_checks, s3_json, s3_lines, wait_until

pytestmark = pytest.mark.slow
#: Far beyond a Zoho currency field's 16 digits: Zoho refuses the record (INVALID_DATA), not the call.
HUGE_AMOUNT = 12_345_678_901_234_567_890.0


@pytest.fixture(scope="module")
def runtime(runtime_factory: Any) -> Any:
    return runtime_factory(records=300, seed=8, destination="zoho")


def _step(run_id: str) -> str:
    return str((stores().runs.get(run_id) or {}).get("step", ""))


def _sercom(runtime: Any) -> httpx.Client:
    info = runtime.source_standin.info
    return httpx.Client(base_url=info["url"], verify=info["ca_path"], headers={"X-Api-Key": info["api_key"]},
                        timeout=30, trust_env=False)


def test_credits_run_out_mid_load_the_run_pauses_and_resumes_as_the_window_rolls(runtime: Any) -> None:
    zoho = zoho_kit.http(runtime.destination_standin.info)
    run = runtime.run_ref("zc-credits", RunOptions(quota_pause_s=3))
    arn = runtime.start_migration(run)
    # GIVEN the load has started...
    wait_until(lambda: _step("zc-credits").startswith("LoadLevel 1"), "zc-credits at LoadLevel 1", 180, longest_s=0.1)
    # ...WHEN the rolling window shrinks to 20 s and the budget to what that window already holds
    zoho.post("/__standin/config", json={"credit_window_s": 20}).raise_for_status()
    used = zoho.get("/__standin/credits").json()["used"]
    zoho.post("/__standin/config", json={"credits_per_day": max(used, 1)}).raise_for_status()
    # THEN the run pauses at the budget's edge (a checkpointed pause, not a failure) and says why
    wait_until(lambda: (stores().runs.get("zc-credits") or {}).get("status") == "paused", "zc-credits paused", 180)
    assert "quota" in str((stores().runs.get("zc-credits") or {}).get("paused_reason"))
    # ...and as the window rolls (credits spent 20 s ago are free again) it resumes and completes
    desc = runtime.wait(arn, timeout_s=600)
    assert desc["status"] == "SUCCEEDED", desc
    recon = s3_json(runtime, "runs/zc-credits/reports/reconciliation.json")
    assert recon["passed"], failed_checks(recon)
    # nothing duplicated: each source key is held once (the resumed level skipped the finished batches)
    probe = zoho_kit.ZohoProbe(runtime)
    for obj, src in (("Accounts", "customers"), ("Contacts", "contacts"), ("Tasks", "activities"),
                     ("Work_Orders", "work_orders")):
        rows = probe._coql(f"select Sercom_Id from {obj} where Sercom_Id like '{src}:%'")
        keys = [r["Sercom_Id"] for r in rows]
        assert keys and len(keys) == len(set(keys)), (  # what the run says of the module, when it fails
            obj, [m for m in recon["mappings"] if m["mapping"].startswith(src + "->")],
            [r for r in s3_lines(runtime, "runs/zc-credits/rejects/") if r.get("dest_object") == obj][:5])
    # the stand-in refused what the budget could not cover, and never let a call overspend it
    credits = zoho.get("/__standin/credits").json()
    assert credits["used"] <= credits["budget"]
    plan = s3_json(runtime, "runs/zc-credits/reports/budget-plan.json")
    assert plan["unit"] == "credits" and plan["needed"] > 0 and plan["by_mapping"]
    zoho.post("/__standin/config", json={"credits_per_day": 1_000_000, "credit_window_s": 86_400}).raise_for_status()


def test_a_207_with_failed_rows_ends_in_the_reject_report_with_zohos_code(runtime: Any) -> None:
    # GIVEN one Sercom deal whose amount Zoho cannot hold (a currency field keeps 16 digits)
    with _sercom(runtime) as api:
        deals = api.get("/api/v1/deals", params={"limit": 5}).json()["data"]
        bad = {k: v for k, v in deals[0].items() if k not in ("created_at", "updated_at")}
        api.post("/__standin/records/deals", json={**bad, "amount": HUGE_AMOUNT}).raise_for_status()
    # WHEN a run loads it in a batch with the other deals (Zoho answers 207: the others succeed)
    desc = runtime.wait(runtime.start_migration(runtime.run_ref("zc-207")), timeout_s=600)
    assert desc["status"] == "SUCCEEDED", desc
    # THEN the refused deal is in the reject report with Zoho's code and field, and Zoho kept its old value
    rejects = [r for r in s3_lines(runtime, "runs/zc-207/rejects/") if r.get("dest_object") == "Deals"]
    mine = [r for r in rejects if r["source_id"] == bad["id"]]
    assert mine and mine[0]["code"] == "INVALID_DATA" and mine[0]["field"] == "Amount", rejects
    held = zoho_kit.ZohoProbe(runtime).rows("Deals", "Sercom_Id", "deals", ["Amount"])
    assert held[f"deals:{bad['id']}"]["Amount"] != HUGE_AMOUNT
    # ...while the rest of the batch was written (a partial failure never hides behind the HTTP status)
    outcomes = [s3_json(runtime, k["Key"]) for k in _keys(runtime, "runs/zc-207/levels/") if "/outcomes/" in k["Key"]]
    deal_outcomes = [o for o in outcomes if o["mapping"] == "deals->Deals"]
    assert sum(int(o["loaded"]) for o in deal_outcomes) >= len(held) - 1
    assert sum(int(o["load_rejected"]) for o in deal_outcomes) == 1


def _keys(runtime: Any, prefix: str) -> list[dict[str, Any]]:
    s3, bucket = runtime.engine.client("s3"), runtime.engine.stack.bucket
    return [o for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]

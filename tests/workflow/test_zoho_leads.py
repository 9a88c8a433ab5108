"""Workflow, Sercom -> Zoho CRM: prospects land as Leads and, by the user's rule, are converted through
Zoho's Convert Lead API (5 credits each, priced in the budget plan) into Contacts under their company's
migrated Account; what links to the person afterwards (a deal) links to the Contact; a second run converts
nothing again and creates nothing; rollback removes the Contacts the conversions made.

Through the real ASL on moto, the Sercom and Zoho stand-ins over HTTPS; the org is read with plain HTTP
(``tests.kits.zoho``), never our connector.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.models import RunOptions, ZohoOptions
from tests.kits import zoho as zoho_kit
from tests.workflow.conftest import failed_checks, s3_json

pytestmark = pytest.mark.slow
CONVERT = "POST Leads/convert"


@pytest.fixture(scope="module")
def runtime(runtime_factory: Any) -> Any:
    return runtime_factory(records=200, seed=11, destination="zoho")


def _sercom(runtime: Any) -> httpx.Client:
    info = runtime.source_standin.info
    return httpx.Client(base_url=info["url"], verify=info["ca_path"], headers={"X-Api-Key": info["api_key"]},
                        timeout=30, trust_env=False)


def _all(api: httpx.Client, obj: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        body = api.get(f"/api/v1/{obj}", params=params).json()
        rows += body["data"]
        if not body.get("next_cursor"):
            return rows
        params["cursor"] = body["next_cursor"]


def _converted_leads(zoho: httpx.Client) -> dict[str, str]:
    """Sercom key -> lead id of every converted Lead (the records API lists them with ``converted=true``)."""
    resp = zoho.get("/crm/v8/Leads", params={"converted": "true", "fields": "Sercom_Id", "per_page": 200})
    resp.raise_for_status()
    return {r["Sercom_Id"]: r["id"] for r in (resp.json()["data"] if resp.status_code == 200 else [])}


def _conversion_credits(zoho: httpx.Client) -> int:
    return sum(e["cost"] for e in zoho.get("/__standin/credits").json()["ledger"] if e["api"] == CONVERT)


def test_prospects_are_converted_into_contacts_under_their_account_and_linked(runtime: Any) -> None:
    zoho = zoho_kit.http(runtime.destination_standin.info)
    probe = zoho_kit.ZohoProbe(runtime)
    # GIVEN Sercom prospects, some with a company, and a deal of a prospect who has one
    with _sercom(runtime) as api:
        contacts = _all(api, "contacts")
        with_company = [c for c in contacts if c.get("is_prospect") and c.get("customer_id")]
        without = [c for c in contacts if c.get("is_prospect") and not c.get("customer_id")]
        assert with_company, "the generated tenant holds prospects with a company"
        buyer = with_company[0]
        deal = {k: v for k, v in _all(api, "deals")[0].items() if k not in ("created_at", "updated_at")}
        api.post("/__standin/records/deals", json={**deal, "contact_id": buyer["id"],
                                                   "customer_id": buyer["customer_id"]}).raise_for_status()
    # WHEN a run converts the Leads whose company was migrated
    run = runtime.run_ref("zl-convert", RunOptions(zoho=ZohoOptions(convert_leads="with_company")))
    desc = runtime.wait(runtime.start_migration(run), timeout_s=900)
    assert desc["status"] == "SUCCEEDED", desc
    recon = s3_json(runtime, "runs/zl-convert/reports/reconciliation.json")
    assert recon["passed"], failed_checks(recon)
    # THEN exactly the prospects with a company are converted Leads; the others (if any) are still open Leads
    converted = _converted_leads(zoho)
    assert set(converted) == {f"contacts:{c['id']}" for c in with_company}
    open_leads = probe.rows("Leads", "Sercom_Id", "contacts", ["Email"])
    assert {f"contacts:{c['id']}" for c in without} <= set(open_leads)
    assert not set(open_leads) & set(converted)
    # ...each one a Contact (made by the conversion, so without a Sercom key) under its company's Account
    accounts = probe.rows("Accounts", "Sercom_Id", "customers", [])
    made = {r["Email"]: r for r in probe._coql("select Email, Account_Name from Contacts where Sercom_Id is null")}
    for c in with_company:
        assert c["email"] and c["email"] in made, c
        assert made[c["email"]]["Account_Name"]["id"] == accounts[f"customers:{c['customer_id']}"]["Id"]
    # ...no Account made from the lead's text: every Account is a migrated company or the default one
    all_accounts = probe._coql("select Account_Name, Sercom_Id from Accounts where id is not null")
    assert all(a.get("Sercom_Id") or a["Account_Name"] == "Unassigned" for a in all_accounts)
    # ...the prospect's deal links to the Contact the conversion made
    deals = probe.rows("Deals", "Sercom_Id", "deals", ["Contact_Name"])
    assert deals[f"deals:{deal['id']}"]["Contact_Name"] == made[buyer["email"]]["id"]
    # ...and the conversions cost what the plan priced them at: 5 credits each, listed in the plan
    assert _conversion_credits(zoho) == 5 * len(with_company)
    plan = s3_json(runtime, "runs/zl-convert/reports/budget-plan.json")
    row = next(r for r in plan["by_mapping"] if r["mapping"] == "lead conversion")
    assert row["cost"] == 5 * row["records"] >= 5 * len(with_company)
    # ...the mapping document the person signs off says which leads convert and where
    s3 = runtime.engine.client("s3")
    doc = s3.get_object(Bucket=runtime.engine.stack.bucket, Key="runs/zl-convert/reports/mapping.md")["Body"].read()
    assert b"Then converted into Contacts (`customer_id` set; attached to Accounts from `customer_id`)" in doc

    # WHEN the same migration runs again
    contacts_before = probe.ids("Contacts")
    desc = runtime.wait(runtime.start_migration(runtime.run_ref("zl-again", run.options)), timeout_s=900)
    assert desc["status"] == "SUCCEEDED", desc
    # THEN nothing is converted twice, no Contact is added, and it still reconciles
    assert _conversion_credits(zoho) == 5 * len(with_company)
    assert probe.ids("Contacts") == contacts_before
    assert _converted_leads(zoho) == converted
    again = s3_json(runtime, "runs/zl-again/reports/reconciliation.json")
    assert again["passed"], failed_checks(again)

    # WHEN the first run is rolled back
    desc = runtime.wait(runtime.start_rollback(run), timeout_s=900)
    assert desc["status"] == "SUCCEEDED", desc
    # THEN the Contacts the conversions made are gone with the Leads
    left = {r["Email"] for r in probe._coql("select Email from Contacts where Sercom_Id is null")}
    assert not left & {c["email"] for c in with_company}
    assert not _converted_leads(zoho)

"""The Zoho CRM v8 stand-in, driven by plain httpx over TLS as an independent client would.

GIVEN a stand-in process (conftest ``zoho_standin``) and a token from its accounts host, WHEN a
client makes the calls a migration tool makes, THEN the answers have Zoho's statuses, per-record
codes and shapes (checked against Zoho's OpenAPI files), and the credit ledger moves exactly as
Zoho bills.
"""

from __future__ import annotations

import csv
import io
import threading
import time
import zipfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from sandbox.serve import RunningStandin
from sandbox.zoho import snapshot
from sandbox.zoho.oas_schema import validation_errors
from tests.sandbox.conftest import zoho_token

RECORDS = "/crm/v8/{module_api_name}"


def assert_oas(response: httpx.Response, file: str, path: str, method: str, status: int | None = None) -> None:
    errors = validation_errors(response.json(), file, path, method, status or response.status_code)
    assert errors == [], errors


def used(zoho: httpx.Client) -> int:
    return int(zoho.get("/__standin/credits").json()["used"])


def insert(zoho: httpx.Client, module: str, *records: dict[str, Any], **extra: Any) -> httpx.Response:
    return zoho.post(f"/crm/v8/{module}", json={"data": list(records), "trigger": [], **extra})


def new_id(zoho: httpx.Client, module: str, record: dict[str, Any]) -> str:
    response = insert(zoho, module, record)
    assert response.status_code == 201, response.text
    return str(response.json()["data"][0]["details"]["id"])


# -- auth ----------------------------------------------------------------------------------------------------------
def test_refresh_grant_returns_api_domain_and_the_token_opens_the_api(
        zoho_standin: RunningStandin, zoho_grant: dict[str, Any], zoho: httpx.Client) -> None:
    assert zoho_grant["api_domain"] == zoho_standin.url
    assert zoho_grant["token_type"] == "Bearer" and zoho_grant["expires_in"] == 3600  # noqa: S105
    assert zoho.get("/crm/v8/users", params={"type": "CurrentUser"}).status_code == 200
    creds = zoho_standin.info["credentials"]
    url = f"{zoho_standin.url}/accounts/oauth/v2/token"
    bad_refresh = httpx.post(url, verify=zoho_standin.ca_path, data={
        "grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "refresh_token": "1000.nope"})
    assert bad_refresh.status_code == 200 and bad_refresh.json() == {"error": "invalid_code"}
    bad_client = httpx.post(url, verify=zoho_standin.ca_path, data={
        "grant_type": "refresh_token", "client_id": "x", "client_secret": "y", "refresh_token": "z"})
    assert bad_client.json() == {"error": "invalid_client"}
    with httpx.Client(base_url=zoho_standin.url, verify=zoho_standin.ca_path) as anon:
        for header in ({}, {"Authorization": f"Bearer {zoho_grant['access_token']}"},
                       {"Authorization": "Zoho-oauthtoken 1000.unknown"}):
            refused = anon.get("/crm/v8/Leads", params={"fields": "Last_Name"}, headers=header)
            assert refused.status_code == 401
            assert refused.json() == {"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token",
                                      "status": "error"}


def test_a_read_only_token_is_refused_writes_with_oauth_scope_mismatch(zoho_standin: RunningStandin) -> None:
    grant = zoho_token(zoho_standin, "readonly_refresh_token")
    with httpx.Client(base_url=grant["api_domain"], verify=zoho_standin.ca_path,
                      headers={"Authorization": f"Zoho-oauthtoken {grant['access_token']}"}) as client:
        assert client.get("/crm/v8/settings/modules").status_code == 200
        refused = client.post("/crm/v8/Leads", json={"data": [{"Last_Name": "X"}]})
        assert refused.status_code == 401 and refused.json()["code"] == "OAUTH_SCOPE_MISMATCH"
        assert client.post("/crm/v8/coql", json={"select_query": "select id from Leads"}).status_code == 401


# -- writes --------------------------------------------------------------------------------------------------------
def test_insert_answers_201_with_zoho_success_details(zoho: httpx.Client) -> None:
    response = insert(zoho, "Leads", {"Last_Name": "Lovelace", "First_Name": "Ada", "Company": "Engines",
                                      "Email": "ada@lovelace.example", "Lead_Source": "Trade Show"})
    assert response.status_code == 201
    item = response.json()["data"][0]
    assert item["code"] == "SUCCESS" and item["message"] == "record added" and item["status"] == "success"
    assert set(item["details"]) >= {"id", "Created_Time", "Modified_Time", "Created_By", "Modified_By"}
    assert item["details"]["id"].isdigit() and len(item["details"]["id"]) == 19
    assert_oas(response, "record.json", RECORDS, "post", 200)


def test_a_batch_with_bad_rows_is_207_with_each_records_code(zoho: httpx.Client) -> None:
    users = zoho.get("/crm/v8/users", params={"type": "DeactiveUsers"}).json()["users"]
    response = insert(
        zoho, "Leads",
        {"Last_Name": "Good"},
        {"First_Name": "No last name"},
        {"Last_Name": "Long", "First_Name": "x" * 41},
        {"Last_Name": "Mail", "Email": "not-an-email"},
        {"Last_Name": "Pick", "Lead_Status": "Hot"},
        {"Last_Name": "Owner", "Owner": {"id": users[0]["id"]}},
        {"Last_Name": "Revenue", "No_of_Employees": "many"},
    )
    assert response.status_code == 207
    data = response.json()["data"]
    assert [d["status"] for d in data] == ["success"] + ["error"] * 6
    assert data[1] == {"code": "MANDATORY_NOT_FOUND", "message": "required field not found", "status": "error",
                       "details": {"api_name": "Last_Name", "json_path": "$.data[1].Last_Name"}}
    assert data[2]["code"] == "INVALID_DATA"
    assert data[2]["details"] == {"api_name": "First_Name", "json_path": "$.data[2].First_Name", "maximum_length": "40"}
    assert data[3]["details"]["expected_data_type"] == "email"
    assert data[4]["details"]["api_name"] == "Lead_Status"
    assert data[5]["details"]["api_name"] == "Owner"
    assert data[6]["details"] == {"api_name": "No_of_Employees", "json_path": "$.data[6].No_of_Employees",
                                  "expected_data_type": "integer"}
    assert_oas(response, "record.json", RECORDS, "post", 200)
    all_bad = insert(zoho, "Leads", {"First_Name": "a"}, {"First_Name": "b"})
    assert all_bad.status_code == 400 and len(all_bad.json()["data"]) == 2


def test_more_than_100_records_are_refused_whole_and_cost_nothing(zoho: httpx.Client) -> None:
    before = used(zoho)
    response = insert(zoho, "Accounts", *({"Account_Name": f"A{i}"} for i in range(101)))
    assert response.status_code == 400
    assert response.json() == {"code": "LIMIT_EXCEEDED", "message": "Record count exceeded", "status": "error",
                               "details": {"api_name": "data", "json_path": "$.data", "limit": 100}}
    assert used(zoho) == before
    coql = zoho.post("/crm/v8/coql", json={"select_query": "select id from Accounts where Account_Name = 'A100'"})
    assert coql.status_code == 204


def test_update_by_id_and_delete_by_ids(zoho: httpx.Client) -> None:
    first = new_id(zoho, "Contacts", {"Last_Name": "One"})
    second = new_id(zoho, "Contacts", {"Last_Name": "Two"})
    bulk = zoho.put("/crm/v8/Contacts", json={"data": [{"id": first, "Title": "CTO"}, {"Title": "no id"},
                                                       {"id": "1234567890123456789", "Title": "ghost"}]})
    assert bulk.status_code == 207
    codes = [d["code"] for d in bulk.json()["data"]]
    assert codes == ["SUCCESS", "MANDATORY_NOT_FOUND", "INVALID_DATA"]
    assert bulk.json()["data"][0]["message"] == "record updated"
    assert_oas(bulk, "record.json", RECORDS, "put", 200)
    one = zoho.put(f"/crm/v8/Contacts/{second}", json={"data": [{"Department": "R&D"}]})
    assert one.status_code == 200
    got = zoho.get(f"/crm/v8/Contacts/{second}").json()["data"][0]
    assert got["Department"] == "R&D" and got["Last_Name"] == "Two"
    removed = zoho.delete("/crm/v8/Contacts", params={"ids": f"{first},{second},1234567890123456789"})
    assert removed.status_code == 207
    assert [d["message"] for d in removed.json()["data"]][:2] == ["record deleted", "record deleted"]
    assert_oas(removed, "record.json", RECORDS, "delete", 200)
    assert zoho.get(f"/crm/v8/Contacts/{first}").status_code == 204


def test_upsert_matches_on_duplicate_check_fields(zoho: httpx.Client) -> None:
    record: dict[str, Any] = {"Last_Name": "Up", "Email": "up@example.com"}
    body = {"data": [record], "duplicate_check_fields": ["Email"], "trigger": []}
    created = zoho.post("/crm/v8/Leads/upsert", json=body)
    assert created.status_code == 201
    assert created.json()["data"][0]["action"] == "insert"
    record["Title"] = "Boss"
    updated = zoho.post("/crm/v8/Leads/upsert", json=body)
    item = updated.json()["data"][0]
    assert (item["action"], item["duplicate_field"], item["message"]) == ("update", "Email", "record updated")
    assert item["details"]["id"] == created.json()["data"][0]["details"]["id"]
    assert_oas(updated, "record.json", "/crm/v8/{module_api_name}/upsert", "post", 200)
    refused = zoho.post("/crm/v8/Leads/upsert", json={**body, "duplicate_check_fields": ["First_Name"]})
    assert refused.status_code == 400 and refused.json()["code"] == "INVALID_DATA"


def test_custom_fields_are_created_named_from_labels_and_enforced(zoho: httpx.Client) -> None:
    created = zoho.post("/crm/v8/settings/fields", params={"module": "Accounts"}, json={"fields": [
        {"field_label": "Sercom Id", "data_type": "text", "length": 40, "external": {"type": "user", "show": False}},
        {"field_label": "Service Areas", "data_type": "multiselectpicklist",
         "pick_list_values": [{"display_value": "North", "actual_value": "North"},
                              {"display_value": "South", "actual_value": "South"}]},
        {"field_label": "Original Created (UTC)", "data_type": "datetime"},
        {"field_label": "Main Contact", "data_type": "lookup", "lookup": {"module": {"api_name": "Contacts"}}},
        {"field_label": "Bad", "data_type": "formula"},
    ]})
    assert created.status_code == 207
    results = created.json()["fields"]
    assert [r["code"] for r in results] == ["SUCCESS"] * 4 + ["INVALID_DATA"]
    assert results[0]["message"] == "field created"
    fields = {f["api_name"]: f for f in zoho.get("/crm/v8/settings/fields", params={"module": "Accounts"})
              .json()["fields"]}
    assert {"Sercom_Id", "Service_Areas", "Original_Created_UTC", "Main_Contact"} <= set(fields)
    assert fields["Sercom_Id"]["custom_field"] is True and fields["Sercom_Id"]["external"]["type"] == "user"
    assert fields["Service_Areas"]["data_type"] == "multiselectpicklist"
    contact = new_id(zoho, "Contacts", {"Last_Name": "Main"})
    ok = insert(zoho, "Accounts", {"Account_Name": "Acme", "Sercom_Id": "S-1", "Service_Areas": ["North", "South"],
                                   "Original_Created_UTC": "2019-03-04T05:06:07+00:00",
                                   "Main_Contact": {"id": contact}})
    assert ok.status_code == 201, ok.text
    account = ok.json()["data"][0]["details"]["id"]
    clash = insert(zoho, "Accounts", {"Account_Name": "Acme 2", "Sercom_Id": "s-1"},
                   {"Account_Name": "Acme 3", "Service_Areas": ["East"]},
                   {"Account_Name": "Acme 4", "Main_Contact": {"id": "1234567890123456789"}})
    data = clash.json()["data"]
    assert data[0]["code"] == "DUPLICATE_DATA" and data[0]["details"]["duplicate_record"]["id"] == account
    assert data[1]["code"] == "INVALID_DATA" and data[1]["details"]["api_name"] == "Service_Areas"
    assert data[2]["code"] == "INVALID_DATA" and data[2]["details"]["api_name"] == "Main_Contact"
    assert_oas(clash, "record.json", RECORDS, "post", 200)
    external = {"X-EXTERNAL": "Accounts.Sercom_Id"}
    upsert = zoho.post("/crm/v8/Accounts/upsert", headers=external,
                       json={"data": [{"Account_Name": "Acme Renamed", "Sercom_Id": "S-1"}], "trigger": []})
    assert upsert.json()["data"][0]["action"] == "update"
    by_ext = zoho.put("/crm/v8/Accounts/S-1", headers=external, json={"data": [{"Phone": "555"}]})
    assert by_ext.status_code == 200 and by_ext.json()["data"][0]["details"]["id"] == account
    linked = zoho.post(
        "/crm/v8/Contacts", headers={"X-EXTERNAL": "Contacts.Account_Name.Sercom_Id"},
        json={"data": [{"Last_Name": "Ext", "Account_Name": {"Sercom_Id": "S-1"}}], "trigger": []})
    assert linked.status_code == 201, linked.text
    contact_doc = zoho.get(f"/crm/v8/Contacts/{linked.json()['data'][0]['details']['id']}").json()["data"][0]
    assert contact_doc["Account_Name"] == {"name": "Acme Renamed", "id": account}


# -- reads ---------------------------------------------------------------------------------------------------------
def test_get_records_enforces_the_fields_parameter_and_refuses_what_it_does_not_implement(
        zoho: httpx.Client) -> None:
    missing = zoho.get("/crm/v8/Leads")
    assert missing.status_code == 400
    assert missing.json() == {"code": "REQUIRED_PARAM_MISSING", "details": {"param": "fields"},
                              "message": "One of the expected parameter is missing", "status": "error"}
    too_many = zoho.get("/crm/v8/Leads", params={"fields": ",".join(f"F{i}" for i in range(51))})
    assert too_many.status_code == 400 and too_many.json()["code"] == "LIMIT_EXCEEDED"
    unknown = zoho.get("/crm/v8/Leads", params={"fields": "Last_Name,Nope"})
    assert unknown.status_code == 400 and unknown.json()["details"]["api_name"] == "Nope"
    assert zoho.get("/crm/v8/Leads", params={"fields": "Last_Name", "cvid": "1"}).json()["code"] == "NOT_SUPPORTED"
    assert zoho.get("/crm/v8/Leads", params={"fields": "Last_Name", "per_page": "201"}).status_code == 400
    assert zoho.get("/crm/v8/Calls", params={"fields": "Subject"}).status_code == 204
    assert zoho.get("/crm/v8/Nope", params={"fields": "Subject"}).json()["code"] == "INVALID_MODULE"
    ok = zoho.get("/crm/v8/Leads", params={"fields": "Last_Name,Email", "per_page": "2"})
    assert ok.status_code == 200 and set(ok.json()["data"][0]) == {"Last_Name", "Email", "id"}
    assert_oas(ok, "record.json", RECORDS, "get", 200)


def test_custom_module_pages_to_2000_then_only_by_page_token(zoho: httpx.Client, zoho_knobs: Any) -> None:
    module = zoho.post("/crm/v8/settings/modules", json={"modules": [
        {"singular_label": "Site", "plural_label": "Sites", "profiles": [{"id": "0"}]}]})
    assert module.status_code == 200 and module.json()["modules"][0]["code"] == "SUCCESS"
    api = {m["plural_label"]: m["api_name"] for m in zoho.get("/crm/v8/settings/modules").json()["modules"]}["Sites"]
    assert insert(zoho, api, *({"Name": f"Site {i:02d}"} for i in range(45))).status_code == 201
    zoho_knobs(max_page_records=20)
    first = zoho.get(f"/crm/v8/{api}", params={"fields": "Name", "per_page": "10"}).json()
    assert first["info"]["more_records"] is True and first["info"]["page"] == 1
    beyond = zoho.get(f"/crm/v8/{api}", params={"fields": "Name", "per_page": "10", "page": "3"})
    assert beyond.status_code == 400 and beyond.json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    names, info = [r["Name"] for r in first["data"]], first["info"]
    while info["more_records"]:
        page = zoho.get(f"/crm/v8/{api}", params={"fields": "Name", "per_page": "10",
                                                  "page_token": info["next_page_token"]}).json()
        names += [r["Name"] for r in page["data"]]
        info = page["info"]
    assert names == [f"Site {i:02d}" for i in range(45)]


def test_coql_selects_filters_and_refuses_what_it_cannot_parse(zoho: httpx.Client) -> None:
    for i, (title, revenue) in enumerate([("Alpha", 10), ("Beta", 20), ("Gamma", 30), ("Delta", 40)]):
        new_id(zoho, "Deals", {"Deal_Name": f"COQL {title}", "Stage": "Qualification", "Pipeline": "Standard",
                               "Amount": revenue, "Type": "New Business" if i % 2 else "Existing Business"})
    query = ("select Deal_Name, Amount from Deals where (Deal_Name like 'COQL%' and Amount >= 20) "
             "or Deal_Name in ('COQL Alpha') order by Amount desc limit 2 offset 1")
    response = zoho.post("/crm/v8/coql", json={"select_query": query})
    assert response.status_code == 200, response.text
    assert [r["Deal_Name"] for r in response.json()["data"]] == ["COQL Gamma", "COQL Beta"]
    assert response.json()["info"] == {"count": 2, "more_records": True}
    assert_oas(response, "coql.json", "/crm/v8/coql", "post")
    between = zoho.post("/crm/v8/coql", json={
        "select_query": "select Deal_Name from Deals where Amount between 15 and 35 and Type is not null"})
    assert sorted(r["Deal_Name"] for r in between.json()["data"]) == ["COQL Beta", "COQL Gamma"]
    refusals = {
        "select * from Deals": "SYNTAX_ERROR",
        "select count(id) from Deals": "SYNTAX_ERROR",
        "select Deal_Name from Deals group by Stage": "SYNTAX_ERROR",
        "select Account_Name.Account_Name from Deals": "SYNTAX_ERROR",
        "select Deal_Name from Deals where Amount ~ 3": "SYNTAX_ERROR",
        "select Nope from Deals": "INVALID_QUERY",
        "select Deal_Name from Deals limit 2001": "LIMIT_EXCEEDED",
    }
    for select, code in refusals.items():
        refused = zoho.post("/crm/v8/coql", json={"select_query": select})
        assert (refused.status_code, refused.json()["code"]) == (400, code), select
        assert_oas(refused, "coql.json", "/crm/v8/coql", "post")


# -- credits -------------------------------------------------------------------------------------------------------
def test_credits_are_charged_as_zoho_bills_them(zoho: httpx.Client) -> None:
    steps: list[tuple[Callable[[], httpx.Response], int]] = [
        (lambda: insert(zoho, "Accounts", {"Account_Name": "C1"}), 1),
        (lambda: insert(zoho, "Accounts", *({"Account_Name": f"C{i}"} for i in range(11))), 2),
        (lambda: insert(zoho, "Accounts", *({"Account_Name": f"D{i}"} for i in range(100))), 10),
        (lambda: zoho.get("/crm/v8/Accounts", params={"fields": "Account_Name"}), 1),
        (lambda: zoho.post("/crm/v8/coql", json={"select_query": "select id from Accounts limit 500"}), 2),
        (lambda: zoho.post(f"/crm/v8/Leads/{new_id(zoho, 'Leads', {'Last_Name': 'Cv', 'Company': 'Cv'})}"
                           "/actions/convert", json={"data": [{}]}), 1 + 5),
    ]
    for call, cost in steps:
        before = used(zoho)
        assert call().status_code in (200, 201)
        assert used(zoho) - before == cost
    ledger = zoho.get("/__standin/credits").json()
    assert ledger["budget"] == 50_000 + 1_000 * 2  # enterprise: base + 1,000 per active user
    assert ledger["ledger"][-1] == {"at": pytest.approx(time.time(), abs=60), "cost": 5, "api": "POST Leads/convert"}


def test_credits_run_out_with_429_then_the_window_rolls(zoho: httpx.Client, zoho_knobs: Any) -> None:
    zoho.post("/__standin/credits/reset")
    zoho_knobs(credits_per_day=3, credits_header_after_fraction=0.0)
    assert insert(zoho, "Accounts", *({"Account_Name": f"W{i}"} for i in range(20))).status_code == 201
    last = insert(zoho, "Accounts", {"Account_Name": "W-last"})
    assert last.headers["X-API-CREDITS-REMAINING"] == "0"
    refused = insert(zoho, "Accounts", {"Account_Name": "W-refused"})
    assert refused.status_code == 429
    assert refused.json()["code"] == "TOO_MANY_REQUESTS" and "Retry-After" not in refused.headers
    assert zoho.get("/crm/v8/Accounts", params={"fields": "Account_Name"}).status_code == 429
    zoho.post("/__standin/clock", json={"advance_s": 86_401}).raise_for_status()
    assert insert(zoho, "Accounts", {"Account_Name": "W-next-day"}).status_code == 201
    names = zoho.post("/crm/v8/coql", json={"select_query": "select Account_Name from Accounts where "
                                            "Account_Name like 'W-%'"}).json()["data"]
    assert sorted(r["Account_Name"] for r in names) == ["W-last", "W-next-day"]


def test_concurrent_calls_over_the_edition_limit_get_429(zoho: httpx.Client, zoho_knobs: Any) -> None:
    zoho_knobs(concurrency_limit=1, latency_ms=600)
    statuses: list[int] = []

    def read() -> None:
        statuses.append(zoho.get("/crm/v8/settings/modules").status_code)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 429]


# -- automation, activities, timestamps ----------------------------------------------------------------------------
def test_trigger_empty_skips_the_workflow_otherwise_it_creates_a_task(zoho: httpx.Client) -> None:
    quiet = new_id(zoho, "Leads", {"Last_Name": "Quiet"})
    loud = zoho.post("/crm/v8/Leads", json={"data": [{"Last_Name": "Loud"}]})
    assert loud.status_code == 201
    loud_id = loud.json()["data"][0]["details"]["id"]
    tasks = zoho.post("/crm/v8/coql", json={"select_query": "select Subject, What_Id from Tasks where "
                                            f"What_Id in ('{quiet}', '{loud_id}')"}).json()["data"]
    assert [(t["Subject"], t["What_Id"]["id"]) for t in tasks] == [("Follow up: Loud", loud_id)]


def test_activity_rules_se_module_participants_calls_and_deal_stages(zoho: httpx.Client) -> None:
    account = new_id(zoho, "Accounts", {"Account_Name": "Act"})
    response = insert(
        zoho, "Tasks",
        {"Subject": "linked", "What_Id": {"id": account}, "$se_module": "Accounts"},
        {"Subject": "no module", "What_Id": {"id": account}},
    )
    data = response.json()["data"]
    assert data[0]["code"] == "SUCCESS"
    assert data[1]["code"] == "MANDATORY_NOT_FOUND" and data[1]["details"]["api_name"] == "$se_module"
    people = [{"type": "email", "participant": f"p{i}@example.com"} for i in range(51)]
    event = insert(zoho, "Events", {"Event_Title": "Big", "Start_DateTime": "2024-01-01T10:00:00+00:00",
                                    "End_DateTime": "2024-01-01T11:00:00+00:00", "Participants": people})
    assert event.json()["data"][0]["code"] == "LIMIT_EXCEEDED"
    assert event.json()["data"][0]["details"]["limit"] == 50
    call_at = "2024-01-01T10:00:00+00:00"
    calls = insert(zoho, "Calls", {"Subject": "No type"},
                   {"Subject": "Zero", "Call_Type": "Outbound", "Call_Start_Time": call_at, "Call_Duration": "00:00"},
                   {"Subject": "Ok", "Call_Type": "Inbound", "Call_Start_Time": call_at, "Call_Duration": "12:30"})
    assert [c["code"] for c in calls.json()["data"]] == ["MANDATORY_NOT_FOUND", "INVALID_DATA", "SUCCESS"]
    deals = insert(zoho, "Deals", {"Deal_Name": "D", "Stage": "Negotiation/Review", "Pipeline": "Standard"},
                   {"Deal_Name": "D2", "Stage": "Negotiation/Review"},
                   {"Deal_Name": "D3", "Stage": "Won big", "Pipeline": "Standard"})
    codes = [d["code"] for d in deals.json()["data"]]
    assert codes == ["SUCCESS", "MANDATORY_NOT_FOUND", "INVALID_DATA"]
    deal = zoho.get(f"/crm/v8/Deals/{deals.json()['data'][0]['details']['id']}").json()["data"][0]
    assert deal["Probability"] == 90


def test_created_and_modified_time_are_read_only(zoho: httpx.Client, zoho_knobs: Any) -> None:
    sent = {"Last_Name": "Old", "Created_Time": "2001-01-01T00:00:00+00:00"}
    record = zoho.get(f"/crm/v8/Contacts/{new_id(zoho, 'Contacts', sent)}").json()["data"][0]
    assert not record["Created_Time"].startswith("2001")
    zoho_knobs(readonly_timestamps="invalid_data")
    refused = insert(zoho, "Contacts", sent)
    assert refused.status_code == 400
    assert refused.json()["data"][0]["details"]["api_name"] == "Created_Time"


# -- settings, users -----------------------------------------------------------------------------------------------
def test_users_by_type_with_their_statuses(zoho: httpx.Client) -> None:
    active = zoho.get("/crm/v8/users", params={"type": "ActiveUsers"})
    assert {u["email"] for u in active.json()["users"]} == {"admin@flitstack.example", "ada@example.com"}
    assert_oas(active, "users.json", "/crm/v8/users", "get")
    inactive = zoho.get("/crm/v8/users", params={"type": "DeactiveUsers"}).json()["users"]
    assert [(u["email"], u["status"]) for u in inactive] == [("old@example.com", "disabled")]
    assert zoho.get("/crm/v8/users", params={"type": "Everyone"}).status_code == 400


def test_settings_modules_fields_and_pipeline_shapes(zoho: httpx.Client) -> None:
    modules = zoho.get("/crm/v8/settings/modules")
    names = {m["api_name"] for m in modules.json()["modules"]}
    assert {"Leads", "Contacts", "Accounts", "Deals", "Tasks", "Events", "Calls", "Notes", "Attachments"} <= names
    assert_oas(modules, "modules.json", "/crm/v8/settings/modules", "get")
    fields = zoho.get("/crm/v8/settings/fields", params={"module": "Deals"})
    assert_oas(fields, "fields.json", "/crm/v8/settings/fields", "get")
    stage = next(f for f in fields.json()["fields"] if f["api_name"] == "Stage")
    assert stage["system_mandatory"] is True and stage["data_type"] == "picklist"
    assert zoho.get("/crm/v8/settings/pipeline").json()["code"] == "REQUIRED_PARAM_MISSING"
    layout = zoho.get("/crm/v8/settings/layouts", params={"module": "Deals"}).json()["layouts"][0]["id"]
    pipeline = zoho.get("/crm/v8/settings/pipeline", params={"layout_id": layout})
    assert_oas(pipeline, "pipeline.json", "/crm/v8/settings/pipeline", "get")
    stages = [m["actual_value"] for m in pipeline.json()["pipeline"][0]["maps"]]
    assert stages[0] == "Qualification" and "Closed Won" in stages


def test_several_pipelines_each_deal_stage_within_its_pipeline(zoho: httpx.Client, zoho_knobs: Any) -> None:
    # GIVEN an org with a second Deals pipeline (a knob: pipeline create/update is not implemented)
    bad = zoho.post("/__standin/config", json={"pipelines": {"X": ["No Such Stage"]}})
    assert bad.status_code == 400 and "Stage pick-list values" in bad.text
    zoho_knobs(pipelines={"Field Service": ["Qualification", "Proposal/Price Quote", "Closed Won", "Closed Lost"]})
    layout = zoho.get("/crm/v8/settings/layouts", params={"module": "Deals"}).json()["layouts"][0]["id"]
    pipeline = zoho.get("/crm/v8/settings/pipeline", params={"layout_id": layout})
    assert_oas(pipeline, "pipeline.json", "/crm/v8/settings/pipeline", "get")
    listed = {p["actual_value"]: [m["actual_value"] for m in p["maps"]] for p in pipeline.json()["pipeline"]}
    assert listed["Field Service"] == ["Qualification", "Proposal/Price Quote", "Closed Won", "Closed Lost"]
    assert "Needs Analysis" in listed["Standard"]
    # THEN a deal lands on it with one of its stages, and a stage of another pipeline is refused on Stage
    account = zoho.post("/crm/v8/Accounts", json={"data": [{"Account_Name": "Pipelines Co"}]}).json()
    acc = {"id": account["data"][0]["details"]["id"]}
    deal = {"Deal_Name": "FS", "Account_Name": acc, "Pipeline": "Field Service"}
    ok = zoho.post("/crm/v8/Deals", json={"data": [{**deal, "Stage": "Proposal/Price Quote"}], "trigger": []})
    assert ok.status_code == 201, ok.text
    refused = zoho.post("/crm/v8/Deals", json={"data": [{**deal, "Stage": "Needs Analysis"}], "trigger": []})
    row = refused.json()["data"][0]
    assert refused.status_code == 400 and row["code"] == "INVALID_DATA" and row["details"]["api_name"] == "Stage"
    unknown = zoho.post("/crm/v8/Deals", json={"data": [{**deal, "Pipeline": "Renewals", "Stage": "Qualification"}],
                                                "trigger": []})
    assert unknown.json()["data"][0]["details"]["api_name"] == "Pipeline"


# -- convert, notes, attachments, contact roles ---------------------------------------------------------------------
def test_lead_conversion_creates_account_contact_deal_once(zoho: httpx.Client) -> None:
    lead = new_id(zoho, "Leads", {"Last_Name": "Convert", "First_Name": "Cleo", "Company": "Convert Co",
                                  "Email": "cleo@convert.example"})
    converted = zoho.post(f"/crm/v8/Leads/{lead}/actions/convert", json={"data": [{
        "overwrite": True, "Deals": {"Deal_Name": "From lead", "Stage": "Qualification", "Pipeline": "Standard",
                                     "Closing_Date": "2025-01-31"}}]})
    assert converted.status_code == 200, converted.text
    details = converted.json()["data"][0]["details"]
    assert converted.json()["data"][0]["message"] == "The record has been converted successfully"
    assert_oas(converted, "convert_lead.json", "/crm/v8/Leads/{lead_id}/actions/convert", "post")
    contact = zoho.get(f"/crm/v8/Contacts/{details['Contacts']['id']}").json()["data"][0]
    assert contact["Email"] == "cleo@convert.example" and contact["Account_Name"]["id"] == details["Accounts"]["id"]
    assert zoho.get(f"/crm/v8/Deals/{details['Deals']['id']}").json()["data"][0]["Deal_Name"] == "From lead"
    visible = zoho.get("/crm/v8/Leads", params={"fields": "Last_Name", "ids": lead})
    assert visible.status_code == 204
    assert zoho.get("/crm/v8/Leads", params={"fields": "Last_Name", "ids": lead, "converted": "true"}).status_code \
        == 200
    again = zoho.post(f"/crm/v8/Leads/{lead}/actions/convert", json={"data": [{}]})
    assert again.status_code == 400 and again.json()["code"] == "ID_ALREADY_CONVERTED"


def test_notes_need_their_parent_module(zoho: httpx.Client) -> None:
    account = new_id(zoho, "Accounts", {"Account_Name": "Noted"})
    response = insert(zoho, "Notes",
                      {"Note_Title": "Hi", "Note_Content": "Body",
                       "Parent_Id": {"module": {"api_name": "Accounts"}, "id": account}},
                      {"Note_Content": "Orphan", "Parent_Id": {"id": account}})
    assert response.status_code == 207
    assert response.json()["data"][1]["code"] == "MANDATORY_NOT_FOUND"
    good, bad = response.json()["data"]  # notes.json declares successes under 200 and refusals under 202
    assert validation_errors({"data": [good]}, "notes.json", "/crm/v8/Notes", "post", 200) == []
    assert validation_errors({"data": [bad]}, "notes.json", "/crm/v8/Notes", "post", 202) == []
    via_record = zoho.post(f"/crm/v8/Accounts/{account}/Notes", json={"data": [{"Note_Content": "Second"}]})
    assert via_record.status_code == 201
    notes = zoho.get(f"/crm/v8/Accounts/{account}/Notes", params={"fields": "Note_Content,Parent_Id"}).json()["data"]
    assert sorted(n["Note_Content"] for n in notes) == ["Body", "Second"]
    assert notes[0]["Parent_Id"]["module"]["api_name"] == "Accounts"


def test_attachments_up_to_the_size_limit(zoho: httpx.Client, zoho_knobs: Any) -> None:
    zoho_knobs(attachment_max_bytes=1000)
    lead = new_id(zoho, "Leads", {"Last_Name": "Files"})
    small = zoho.post(f"/crm/v8/Leads/{lead}/Attachments", files={"file": ("a.txt", b"x" * 500)})
    assert small.status_code == 200
    assert small.json()["data"][0]["message"] == "attachment uploaded successfully"
    assert_oas(small, "attachments.json", "/crm/v8/{module}/{record_id}/Attachments", "post")
    big = zoho.post(f"/crm/v8/Leads/{lead}/Attachments", files={"file": ("b.bin", b"y" * 1500)})
    assert big.status_code == 400 and big.json()["code"] == "FILE_SIZE_MORE_THAN_ALLOWED_SIZE"
    listed = zoho.get(f"/crm/v8/Leads/{lead}/Attachments", params={"fields": "File_Name,Size"}).json()["data"]
    assert [(a["File_Name"], a["Size"]) for a in listed] == [("a.txt", "500")]
    content = zoho.get(f"/crm/v8/Leads/{lead}/Attachments/{listed[0]['id']}")
    assert content.content == b"x" * 500


def test_contact_roles_on_a_deal(zoho: httpx.Client) -> None:
    roles = zoho.get("/crm/v8/Contacts/roles").json()["contact_roles"]
    decision = next(r for r in roles if r["name"] == "Decision Maker")
    contact = new_id(zoho, "Contacts", {"Last_Name": "Roled"})
    deal = new_id(zoho, "Deals", {"Deal_Name": "Roles", "Stage": "Qualification", "Pipeline": "Standard"})
    put = zoho.put(f"/crm/v8/Deals/{deal}/Contact_Roles/{contact}",
                   json={"data": [{"Contact_Role": {"id": decision["id"]}}]})
    assert put.status_code == 200
    listed = zoho.get(f"/crm/v8/Deals/{deal}/Contact_Roles", params={"fields": "Full_Name"}).json()["data"]
    assert [(c["id"], c["Contact_Role"]["name"]) for c in listed] == [(contact, "Decision Maker")]


# -- bulk write ----------------------------------------------------------------------------------------------------
def _zipped_csv(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w") as archive:
        archive.writestr("leads.csv", text.getvalue())
    return blob.getvalue()


def test_bulk_write_upload_job_poll_and_result(zoho_standin: RunningStandin, zoho: httpx.Client) -> None:
    org = zoho_standin.info["org_id"]
    blob = _zipped_csv([["Last", "Mail"], ["Bulk One", "b1@example.com"], ["", "b2@example.com"],
                        ["Bulk Three", "b3@example.com"]])
    no_headers = zoho.post("/content/crm/v8/upload", files={"file": ("leads.zip", blob)})
    assert no_headers.status_code == 400
    not_zip = zoho.post("/content/crm/v8/upload", headers={"feature": "bulk-write", "X-CRM-ORG": org},
                        files={"file": ("leads.csv", b"Last\nx\n")})
    assert not_zip.json()["code"] == "INVALID_FILE_FORMAT"
    upload = zoho.post("/content/crm/v8/upload", headers={"feature": "bulk-write", "X-CRM-ORG": org},
                       files={"file": ("leads.zip", blob)})
    assert upload.status_code == 200 and upload.json()["code"] == "FILE_UPLOAD_SUCCESS"
    file_id = upload.json()["details"]["file_id"]
    resource = {"type": "data", "module": {"api_name": "Leads"}, "file_id": file_id,
                "field_mappings": [{"api_name": "Email", "index": 1}]}
    unmapped = zoho.post("/crm/bulk/v8/write", json={"operation": "insert", "resource": [resource]})
    assert unmapped.status_code == 400 and unmapped.json()["code"] == "MANDATORY_FIELDS_NOT_MAPPED"
    resource["field_mappings"].append({"api_name": "Last_Name", "index": 0})
    before = used(zoho)
    job = zoho.post("/crm/bulk/v8/write", json={"operation": "insert", "ignore_empty": True, "resource": [resource]})
    assert job.status_code == 201, job.text
    assert_oas(job, "bulk_write.json", "/crm/bulk/v8/write", "post")
    assert used(zoho) - before == 500
    job_id = job.json()["details"]["id"]
    seen = []
    for _ in range(50):
        status = zoho.get(f"/crm/bulk/v8/write/{job_id}")
        seen.append(status.json()["status"])
        if seen[-1] == "COMPLETED":
            break
        time.sleep(0.1)
    assert seen[0] in ("ADDED", "IN PROGRESS") and seen[-1] == "COMPLETED"
    done = status.json()
    assert_oas(status, "bulk_write.json", "/crm/bulk/v8/write/{job_id}", "get")
    assert done["resource"][0]["file"] | {"name": ""} == {"status": "COMPLETED", "name": "", "added_count": 2,
                                                        "skipped_count": 1, "updated_count": 0, "total_count": 3}
    result = zoho.get(done["result"]["download_url"])
    with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
        rows = list(csv.reader(io.StringIO(archive.read(archive.namelist()[0]).decode())))
    assert rows[0] == ["Last", "Mail", "RECORD_ID", "STATUS", "ERRORS"]
    assert [r[3] for r in rows[1:]] == ["ADDED", "SKIPPED", "ADDED"]
    assert rows[2][4].startswith("MANDATORY_NOT_FOUND")
    record = zoho.get(f"/crm/v8/Leads/{rows[1][2]}").json()["data"][0]
    assert record["Email"] == "b1@example.com"
    # WHEN a second file upserts by Email THEN the known row is updated and the new one added
    again = _zipped_csv([["Last", "Mail"], ["Bulk One Renamed", "b1@example.com"], ["Bulk Four", "b4@example.com"]])
    file_id = zoho.post("/content/crm/v8/upload", headers={"feature": "bulk-write", "X-CRM-ORG": org},
                        files={"file": ("again.zip", again)}).json()["details"]["file_id"]
    upsert = zoho.post("/crm/bulk/v8/write", json={"operation": "upsert", "resource": [
        {**resource, "file_id": file_id, "find_by": "Email"}]}).json()["details"]["id"]
    zoho.post("/__standin/clock", json={"advance_s": 5}).raise_for_status()
    counts = zoho.get(f"/crm/bulk/v8/write/{upsert}").json()["resource"][0]["file"]
    assert (counts["added_count"], counts["updated_count"], counts["skipped_count"]) == (1, 1, 0)
    assert zoho.get(f"/crm/v8/Leads/{rows[1][2]}").json()["data"][0]["Last_Name"] == "Bulk One Renamed"


# -- edition, faults -----------------------------------------------------------------------------------------------
def test_api_needs_professional_edition_or_above(zoho: httpx.Client, zoho_knobs: Any) -> None:
    zoho_knobs(edition="standard")
    refused = zoho.get("/crm/v8/settings/modules")
    assert refused.status_code == 403 and refused.json()["code"] == "FEATURE_NOT_SUPPORTED"
    zoho_knobs(edition="professional")
    assert zoho.get("/crm/v8/settings/modules").status_code == 200


def test_injected_faults(zoho: httpx.Client, zoho_knobs: Any) -> None:
    zoho_knobs(fault_5xx_rate=1.0)
    failed = zoho.get("/crm/v8/settings/modules")
    assert failed.status_code == 500 and failed.json()["code"] == "INTERNAL_ERROR"
    zoho_knobs(fault_5xx_rate=0.0, fault_throttle_rate=1.0)
    assert zoho.get("/crm/v8/settings/modules").json()["code"] == "TOO_MANY_REQUESTS"
    zoho_knobs(fault_throttle_rate=0.0, fault_timeout_rate=1.0, fault_timeout_s=0.2)
    before = used(zoho)
    assert insert(zoho, "Accounts", {"Account_Name": "Timeout"}).status_code == 504
    assert used(zoho) == before


def test_state_is_a_sqlite_file_a_snapshot_can_compare(zoho_standin: RunningStandin, zoho: httpx.Client) -> None:
    zoho.post("/crm/v8/settings/fields", params={"module": "Calls"},
              json={"fields": [{"field_label": "Snap Note", "data_type": "text"}]}).raise_for_status()
    account = new_id(zoho, "Accounts", {"Account_Name": "Snap"})
    state = snapshot(zoho_standin.info["state_path"])
    assert state["records"]["Accounts"][account]["Account_Name"] == "Snap"
    assert state["schema"]["custom_fields"]["Calls.Snap_Note"]["label"] == "Snap Note"
    assert zoho.post(f"/crm/v8/Accounts/{account}").json()["code"] == "INVALID_REQUEST_METHOD"
    assert zoho.get("/crm/v8/Accounts/x/y/z").json()["code"] == "INVALID_URL_PATTERN"

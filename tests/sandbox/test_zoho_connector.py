"""Stand-in layer: our Zoho connector against the Zoho stand-in over HTTPS, read back with plain httpx.

GIVEN/WHEN/THEN per behaviour the connector promises (``docs/guarantees-zoho.md``): every per-record code of
a 207 is read; ``trigger: []`` keeps workflows off; writes cost the fewest credits; a spent window is a
quota pause, a concurrency 429 a throttle; the credit plan prices the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.serve import RunningStandin
from shared.connectors.zoho.client import ZohoDestination, credits_for, rest_credits
from shared.errors import QuotaExhaustedError, ThrottledError
from shared.mapping.spec import CustomFieldSpec

EXT = "Sercom_Id"


@pytest.fixture(scope="module")
def conn(zoho_standin: RunningStandin) -> Iterator[ZohoDestination]:
    dest = _connector(zoho_standin)
    for module in ("Accounts", "Leads"):
        if EXT not in (dest.describe(module) or _none()).fields:
            dest.create_custom_field(CustomFieldSpec(object=module, name=EXT, label="Sercom Id", type="Text",
                                                     length=150, external_id=True, unique=True))
    yield dest
    dest.close()


def _connector(standin: RunningStandin) -> ZohoDestination:
    info = standin.info
    c = info["credentials"]
    return ZohoDestination(info["url"], c["client_id"], c["client_secret"], c["refresh_token"],
                           accounts_url=info["url"] + info["accounts_path"],
                           content_url=info["url"] + info["content_path"], org_id=info["org_id"],
                           ca_pem=Path(info["ca_path"]).read_text())


def _none() -> Any:
    class _D:
        fields: dict[str, Any] = {}
    return _D()


def _used(zoho: httpx.Client) -> int:
    return int(zoho.get("/__standin/credits").json()["used"])


def test_a_207_with_failed_rows_gives_each_row_its_zoho_code(conn: ZohoDestination, zoho: httpx.Client) -> None:
    # GIVEN a batch where two records break Zoho's rules (an over-long name, a missing mandatory name)
    records = [{EXT: f"c207:{i}", "Account_Name": f"Fine {i}"} for i in range(8)]
    records[2]["Account_Name"] = "x" * 300
    records[5]["Account_Name"] = None
    # WHEN they are upserted in one call (Zoho answers 207 Multi-Status)
    results = conn.upsert("Accounts", EXT, records, allow_bulk=False)
    # THEN every record has its own result, the failed ones with Zoho's code and field, in request order
    assert [r.key for r in results] == [r[EXT] for r in records]
    failed = {r.key: r for r in results if not r.ok}
    assert set(failed) == {"c207:2", "c207:5"}
    assert (failed["c207:2"].error_code, failed["c207:2"].fields) == ("INVALID_DATA", "Account_Name")
    assert (failed["c207:5"].error_code, failed["c207:5"].fields) == ("MANDATORY_NOT_FOUND", "Account_Name")
    assert conn.capabilities.reason(failed["c207:2"].error_code) == "invalid_value"
    # ...and the others are in Zoho (read with plain HTTP)
    rows = zoho.post("/crm/v8/coql", json={"select_query": f"select {EXT} from Accounts where {EXT} like 'c207:%'"}
                     ).json()["data"]
    assert sorted(r[EXT] for r in rows) == sorted(r[EXT] for r in records if r[EXT] not in failed)


def test_writes_send_no_trigger_so_workflows_stay_off(conn: ZohoDestination, zoho: httpx.Client) -> None:
    # GIVEN the org's workflow rule that follows up every new Lead with a Task
    before = len(zoho.get("/__standin/records/Tasks").json())
    # WHEN leads are written by the connector
    results = conn.upsert("Leads", EXT, [{EXT: f"wf:{i}", "Last_Name": f"Lead {i}"} for i in range(3)],
                          allow_bulk=False)
    assert all(r.ok and r.created for r in results)
    # THEN no follow-up Task was created (while a plain insert without trigger: [] does create one)
    assert len(zoho.get("/__standin/records/Tasks").json()) == before
    zoho.post("/crm/v8/Leads", json={"data": [{"Last_Name": "Plain"}]}).raise_for_status()
    assert len(zoho.get("/__standin/records/Tasks").json()) == before + 1


def test_a_write_costs_one_credit_per_ten_records_in_full_calls(conn: ZohoDestination, zoho: httpx.Client) -> None:
    # GIVEN 250 records (three calls: 100, 100, 50)
    records = [{EXT: f"cost:{i}", "Account_Name": f"Cost {i}"} for i in range(250)]
    before = _used(zoho)
    conn.upsert("Accounts", EXT, records, allow_bulk=True)
    # THEN Zoho billed the minimum its pricing allows: 10 + 10 + 5 credits
    assert _used(zoho) - before == rest_credits(250) == 25
    assert credits_for(1) == 1 and credits_for(11) == 2 and credits_for(100) == 10
    assert conn.calls_needed("Accounts", 250, True) == 3
    # ...and bulk (500 credits a job) is chosen only when it is cheaper than REST
    assert not conn.use_bulk("Accounts", 5_000) and conn.use_bulk("Accounts", 5_100)
    assert not conn.use_bulk("Tasks", 20_000)  # multi-module lookups never travel in a bulk CSV


def test_a_spent_window_is_a_quota_pause_and_a_concurrency_429_a_throttle(conn: ZohoDestination,
                                                                          zoho_knobs: Any) -> None:
    # GIVEN a window with fewer credits left than the next write needs
    zoho_knobs(credits_per_day=1)
    # WHEN the connector writes 50 records (5 credits) THEN it raises the quota pause, not a failure
    with pytest.raises(QuotaExhaustedError, match="credits"):
        conn.upsert("Accounts", EXT, [{EXT: f"q:{i}", "Account_Name": f"Q {i}"} for i in range(50)],
                    allow_bulk=False)
    # GIVEN credits but every call refused for concurrency (the stand-in's throttle fault: no credits header)
    zoho_knobs(credits_per_day=1_000_000, fault_throttle_rate=1.0)
    conn.credits_remaining = 1_000_000
    with pytest.raises(ThrottledError):
        conn.upsert("Accounts", EXT, [{EXT: "t:1", "Account_Name": "T"}], allow_bulk=False)


def test_the_plan_prices_the_run_against_the_window(conn: ZohoDestination, zoho_knobs: Any) -> None:
    zoho_knobs(credits_per_day=2_000)
    needs = [{"mapping": "a", "object": "Accounts", "records": 1_000, "bulk": True},
             {"mapping": "f", "object": "Attachments", "records": 30, "bulk": False}]
    plan = conn.plan_budget(needs, new_objects=3, new_fields=10)
    # 1,000 records = 10 full calls = 100 credits; 30 files = 30 calls; schema 3 x 500 + 10 x 2
    assert plan["records"] == 130 and plan["schema"] == 1_520 and plan["needed"] == 1_650
    assert plan["available"] is not None and plan["available"] < 2_000
    assert plan["fits"] == (plan["needed"] <= plan["available"])
    zoho_knobs(credits_per_day=200)
    short = conn.plan_budget(needs, new_objects=3, new_fields=10)
    assert not short["fits"] and short["windows"] >= 2


def test_a_big_load_goes_as_one_bulk_write_job_when_that_costs_fewer_credits(conn: ZohoDestination,
                                                                             zoho: httpx.Client) -> None:
    # GIVEN 5,100 records of one module (REST: 51 calls, 510 credits; one bulk job: 500 credits)
    records = [{EXT: f"bulk:{i}", "Account_Name": f"Bulk {i}"} for i in range(5_100)]
    records[7]["Account_Name"] = "x" * 300  # one row Zoho skips
    jobs = zoho.get("/__standin/stats").json().get("POST crm/bulk/v8/write", 0)
    seen = len(zoho.get("/__standin/credits").json()["ledger"])
    # WHEN they are upserted with the bulk path allowed
    results = conn.upsert("Accounts", EXT, records, allow_bulk=True)
    # THEN one job wrote them for 500 credits, each row's outcome read from the result CSV
    assert zoho.get("/__standin/stats").json().get("POST crm/bulk/v8/write", 0) == jobs + 1
    spent = zoho.get("/__standin/credits").json()["ledger"][seen:]
    writes = [e for e in spent if not e["api"].startswith(("GET settings", "GET users"))]
    assert sum(e["cost"] for e in writes) == 500 and {e["api"] for e in writes} == {"POST bulk write"}
    assert len(results) == 5_100 and sum(r.ok and r.created for r in results) == 5_099
    [skipped] = [r for r in results if not r.ok]
    assert (skipped.key, skipped.error_code, skipped.fields) == ("bulk:7", "INVALID_DATA", "Account_Name")


def test_an_events_attendee_is_sent_as_a_zoho_participant_and_read_back(conn: ZohoDestination,
                                                                         zoho: httpx.Client) -> None:
    # GIVEN a lead in the org
    lead = conn.upsert("Leads", EXT, [{EXT: "part:1", "Last_Name": "Attendee"}], allow_bulk=False)[0]
    assert lead.ok
    # WHEN an event is written naming it under the per-module name the pair uses
    event = conn.insert("Events", EXT, [{EXT: "part:e1", "Event_Title": "Site visit",
                                         "Start_DateTime": "2025-03-01T10:00:00Z",
                                         "End_DateTime": "2025-03-01T11:00:00Z", "Participants__Leads": lead.id}])[0]
    assert event.ok, event
    # THEN Zoho holds it as a participant of type lead (plain HTTP), and the connector reads it back by that name
    held = zoho.get(f"/crm/v8/Events/{event.id}").json()["data"][0]["Participants"]
    assert [(p["type"], p["participant"]) for p in held] == [("lead", lead.id)]
    row = conn.rows_by_id("Events", [str(event.id)], ["Participants__Leads", "Participants__Contacts"])[0]
    assert row["Participants__Leads"] == lead.id and row["Participants__Contacts"] is None


def test_the_deals_pipelines_are_read_with_their_open_won_and_lost_stages(conn: ZohoDestination,
                                                                        zoho: httpx.Client) -> None:
    original = zoho.get("/__standin/config").json()
    try:
        zoho.post("/__standin/config", json={"pipelines": {"Field Service": [
            "Qualification", "Proposal/Price Quote", "Closed Won", "Closed Lost"]}}).raise_for_status()
        found = conn.pipelines()
    finally:
        zoho.post("/__standin/config", json=original).raise_for_status()
    assert [(s.name, s.kind) for s in found["Field Service"]] == [
        ("Qualification", "open"), ("Proposal/Price Quote", "open"), ("Closed Won", "won"), ("Closed Lost", "lost")]
    assert [s.name for s in found["Standard"] if s.kind == "open"][:2] == ["Qualification", "Needs Analysis"]


def test_a_client_that_described_a_module_before_its_key_existed_still_reads_by_key(
        conn: ZohoDestination, zoho_standin: RunningStandin) -> None:
    # GIVEN a second client (another container or thread) that described Contacts before the key field existed
    other = _connector(zoho_standin)
    try:
        assert EXT not in (other.describe("Contacts") or _none()).fields
        # WHEN the prepare step's client creates the key and a record is written with it
        conn.create_custom_field(CustomFieldSpec(object="Contacts", name=EXT, label="Sercom Id", type="Text",
                                                 length=150, external_id=True, unique=True))
        [written] = conn.upsert("Contacts", EXT, [{EXT: "contacts:stale1", "Last_Name": "Stale"}], allow_bulk=False)
        assert written.ok, written
        # THEN the stale client reads it by key, with its fields (it describes the module again), not nothing
        rows = list(other.rows_with_key_prefix("Contacts", ["Last_Name"], EXT, "contacts:"))
        assert [(r[EXT], r["Last_Name"]) for r in rows] == [("contacts:stale1", "Stale")]
        # ...and a name the module really lacks is described once, not on every read
        calls = other.calls
        other._read_names("Contacts", ["No_Such_Field", "Last_Name"])
        other._read_names("Contacts", ["No_Such_Field", "Last_Name"])
        assert other.calls - calls <= 1
    finally:
        other.close()

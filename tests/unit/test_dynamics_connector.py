"""The Dataverse connector against the real stand-in over HTTPS (reference §2).

GIVEN/WHEN/THEN per test; the environment is one per module, each test writes under its own keys.
Request counts come from the stand-in's ``/__standin/stats``, not from the connector.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.serve import RunningStandin, start_standin
from shared.connectors.destination import ID
from shared.connectors.dynamics.client import DynamicsDestination, decode_key, encode_key
from shared.domain import load
from shared.domain.keys import Keys
from shared.mapping.spec import CustomFieldSpec, CustomObjectSpec, FieldRule, MigrationSpec, ObjectMapping
from tests.unit.test_load_merged_and_matched import RUN, staged

EXT = "flit_sercomid"
USERS = [{"firstname": "Ann", "lastname": "Tech", "internalemailaddress": "Ann@Example.io", "isdisabled": False},
         {"firstname": "Bob", "lastname": "Gone", "internalemailaddress": "bob@example.io", "isdisabled": True}]


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    folder = tmp_path_factory.mktemp("dataverse")
    users = folder / "users.json"
    users.write_text(json.dumps(USERS))
    running = start_standin("dynamics", ["--state", str(folder / "env.sqlite"), "--users-file", str(users)])
    try:
        yield running
    finally:
        running.stop()


def connect(standin: RunningStandin) -> DynamicsDestination:
    c = standin.info["credentials"]
    return DynamicsDestination(standin.url, standin.info["tenant_id"], c["client_id"], c["client_secret"],
                               ca_pem=Path(standin.ca_path).read_text(), timeout_s=60)


@pytest.fixture(scope="module")
def dv(standin: RunningStandin) -> Iterator[DynamicsDestination]:
    conn = connect(standin)
    for obj in ("account", "contact", "incident", "opportunity", "task"):
        conn.create_custom_field(CustomFieldSpec(object=obj, name=EXT, label="Sercom Id", type="Text", length=100,
                                                 external_id=True, unique=True))
    try:
        yield conn
    finally:
        conn.close()


class Admin:
    """The stand-in's ``/__standin`` API (same bearer token as the Web API)."""

    def __init__(self, standin: RunningStandin, conn: DynamicsDestination) -> None:
        self.http = httpx.Client(base_url=standin.url, verify=standin.ca_path, trust_env=False,
                                 headers={"Authorization": f"Bearer {conn._bearer()}"})

    def stats(self) -> dict[str, Any]:
        return dict(self.http.get("/__standin/stats").raise_for_status().json())

    def config(self, **changes: Any) -> None:
        self.http.post("/__standin/config", json=changes).raise_for_status()

    def records(self, table: str) -> list[dict[str, Any]]:
        return list(self.http.get(f"/__standin/records/{table}").raise_for_status().json()["value"])


@pytest.fixture(scope="module")
def admin(standin: RunningStandin, dv: DynamicsDestination) -> Iterator[Admin]:
    a = Admin(standin, dv)
    try:
        yield a
    finally:
        a.http.close()


def accounts(dv: DynamicsDestination, prefix: str, n: int, **extra: Any) -> dict[str, str]:
    written = dv.upsert("account", EXT, [{EXT: f"{prefix}:{i}", "name": f"{prefix} {i}", **extra} for i in range(n)],
                        allow_bulk=False)
    assert all(w.ok for w in written), [w for w in written if not w.ok][:3]
    return {w.key: str(w.id) for w in written}


# --- describe ------------------------------------------------------------------------------------------------------
def test_describe_names_columns_logically_and_lookups_by_navigation_property(dv: DynamicsDestination) -> None:
    account = dv.describe("account")
    assert account is not None
    assert account.fields["name"].type == "string" and account.fields["name"].length == 160
    assert account.fields["emailaddress1"].type == "email"
    assert account.fields["parentaccountid"].type == "reference"
    assert account.fields["parentaccountid"].reference_to == ["account"]
    assert account.fields["ownerid"].reference_to == ["systemuser", "team"]
    industry = account.fields["industrycode"]
    assert industry.type == "picklist" and "1" in industry.picklist_values
    assert industry.picklist_labels["1"] == "Accounting"
    contact = dv.describe("contact")
    assert contact is not None
    assert {"parentcustomerid_account", "parentcustomerid_contact"} <= set(contact.fields)
    assert "parentcustomerid" not in contact.fields
    incident = dv.describe("incident")
    assert incident is not None and incident.fields["title"].required_on_create
    assert incident.fields["statecode"].picklist_labels["1"] == "Resolved"
    assert not incident.fields["customerid_account"].required_on_create  # one of two ways to fill a required lookup
    task = dv.describe("task")
    assert task is not None and task.fields["regardingobjectid_account_task"].reference_to == ["account"]
    note = dv.describe("annotation")
    assert note is not None and note.fields["objectid_incident"].reference_to == ["incident"]
    assert dv.describe("flit_nosuchtable") is None



def test_plain_multi_table_lookups_get_one_navigation_property_per_table(dv: DynamicsDestination) -> None:
    # GIVEN an environment that does not serve ManyToOneRelationships (navigation names derived by rule)
    address = dv.describe("customeraddress")
    queued = dv.describe("queueitem")
    assert address is not None and queued is not None
    # THEN a Lookup with several targets is named <column>_<table>, like a customer lookup
    assert {"parentid_account", "parentid_contact"} <= set(address.fields) and "parentid" not in address.fields
    assert address.fields["parentid_account"].reference_to == ["account"]
    assert {"workerid_systemuser", "workerid_team", "objectid_incident", "queueid"} <= set(queued.fields)
    assert "workerid" not in queued.fields


def test_owner_binds_target_users_or_teams_never_the_owner_table(dv: DynamicsDestination) -> None:
    # GIVEN the relationship metadata a real environment serves: ownerid references the abstract "owner"
    from shared.connectors.dynamics.client import _Reply

    table = dv._table("account")
    served = _Reply(200, {}, {"value": [
        {"ReferencingAttribute": "ownerid", "ReferencedEntity": "owner", "ReferencingEntityNavigationPropertyName":
         "ownerid"},
        {"ReferencingAttribute": "parentaccountid", "ReferencedEntity": "account",
         "ReferencingEntityNavigationPropertyName": "parentaccountid"}]})
    navs = DynamicsDestination._navigation("account", table.columns, served)
    assert navs["ownerid"] == ("ownerid", "owner")
    table.navs = navs
    # WHEN an owner is bound THEN it goes to /systemusers(...) (or /teams(...) for "team:<id>")
    assert dv._bind(table, "ownerid", "abc") == "/systemusers(abc)"
    assert dv._bind(table, "ownerid", "team:def") == "/teams(def)"
    assert dv._bind(table, "parentaccountid", "ghi") == "/accounts(ghi)"
    dv._tables.pop("account")


def test_custom_choice_options_get_the_values_the_spec_fixed(dv: DynamicsDestination) -> None:
    dv.create_custom_field(CustomFieldSpec(object="contact", name="flit_tier", label="Tier", type="Picklist",
                                           picklist_values=["Gold", "Silver"],
                                           option_values={"Gold": 100_000_007, "Silver": 100_000_003}))
    field = dv.describe("contact").fields["flit_tier"]  # type: ignore[union-attr]
    assert field.picklist_labels == {"100000007": "Gold", "100000003": "Silver"}


def test_a_table_changed_by_another_process_is_described_again(standin: RunningStandin,
                                                              dv: DynamicsDestination) -> None:
    # GIVEN this client described notes before a custom table with notes existed
    assert "objectid_flit_gadget" not in dv._table("annotation").navs
    other = connect(standin)
    other.create_custom_object(CustomObjectSpec(name="flit_gadget", label="Gadget", plural_label="Gadgets"))
    other.create_custom_field(CustomFieldSpec(object="flit_gadget", name=EXT, label="Sercom Id", type="Text",
                                              length=100, external_id=True))
    [gadget] = other.upsert("flit_gadget", EXT, [{EXT: "gadgets:1", "flit_name": "G"}], allow_bulk=False)
    other.close()
    # WHEN it writes a note on the new table THEN the stale definition is refreshed and the bind is used
    [note] = dv.insert("annotation", EXT, [{EXT: "notes:gadget", "subject": "On a gadget",
                                            "objectid_flit_gadget": gadget.id}])
    assert note.ok, note
    assert dv.retrieve("annotation", [str(note.id)], ["objectid_flit_gadget"])[0] == {
        "objectid_flit_gadget": gadget.id}

def test_users_and_the_integration_user(dv: DynamicsDestination) -> None:
    users = {u.email: u for u in dv.users()}
    assert users["ann@example.io"].active and not users["bob@example.io"].active
    assert any(u.id == dv.integration_user_id for u in users.values())


# --- schema --------------------------------------------------------------------------------------------------------
def test_external_id_column_comes_with_an_alternate_key(dv: DynamicsDestination) -> None:
    account = dv.describe("account")
    assert account is not None and account.fields[EXT].external_id and account.fields[EXT].length == 100


def test_custom_picklist_values_are_read_back_as_integers_with_labels(dv: DynamicsDestination) -> None:
    dv.create_custom_field(CustomFieldSpec(object="account", name="flit_segment", label="Segment", type="Picklist",
                                           picklist_values=["Commercial", "Residential"]))
    field = dv.describe("account").fields["flit_segment"]  # type: ignore[union-attr]
    assert all(int(v) >= 100_000_000 for v in field.picklist_values)
    assert sorted(field.picklist_labels.values()) == ["Commercial", "Residential"]
    assert dv.created_options[("account", "flit_segment")] == field.picklist_labels
    # WHEN a record carries the label THEN the integer is written
    value = next(v for v, t in field.picklist_labels.items() if t == "Residential")
    [w] = dv.upsert("account", EXT, [{EXT: "pick:1", "name": "P", "flit_segment": "Residential"}], allow_bulk=False)
    assert w.ok and dv.retrieve("account", [str(w.id)], ["flit_segment"])[0] == {"flit_segment": int(value)}


def test_custom_table_and_typed_columns(dv: DynamicsDestination) -> None:
    dv.create_custom_object(CustomObjectSpec(name="flit_asset", label="Asset", plural_label="Assets"))
    for spec in (CustomFieldSpec(object="flit_asset", name=EXT, label="Sercom Id", type="Text", length=100,
                                 external_id=True),
                 CustomFieldSpec(object="flit_asset", name="flit_installed", label="Installed", type="Date"),
                 CustomFieldSpec(object="flit_asset", name="flit_cost", label="Cost", type="Currency", scale=2),
                 CustomFieldSpec(object="flit_asset", name="flit_active", label="Active", type="Checkbox"),
                 CustomFieldSpec(object="flit_asset", name="flit_history", label="History", type="LongTextArea",
                                 length=32_768)):
        dv.create_custom_field(spec)
    asset = dv.describe("flit_asset")
    assert asset is not None and asset.custom
    assert {k: asset.fields[k].type for k in ("flit_name", "flit_installed", "flit_cost", "flit_active",
                                              "flit_history")} == {
        "flit_name": "string", "flit_installed": "date", "flit_cost": "currency", "flit_active": "boolean",
        "flit_history": "textarea"}
    [w] = dv.upsert("flit_asset", EXT, [{EXT: "assets:1", "flit_name": "Pump", "flit_installed": "2020-05-06",
                                         "flit_cost": "12.5", "flit_active": "true"}], allow_bulk=True)
    assert w.ok and w.created
    row = dv.retrieve("flit_asset", [str(w.id)], ["flit_installed", "flit_cost", "flit_active"])[0]
    assert row == {"flit_installed": "2020-05-06", "flit_cost": 12.5, "flit_active": True}


# --- writes --------------------------------------------------------------------------------------------------------
def test_upsert_creates_then_updates_with_reliable_created_flags(dv: DynamicsDestination) -> None:
    first = accounts(dv, "up", 5)
    again = dv.upsert("account", EXT, [{EXT: f"up:{i}", "name": f"renamed {i}"} for i in range(7)], allow_bulk=False)
    assert all(w.ok for w in again) and [w.created for w in again] == [False] * 5 + [True] * 2
    assert {w.key: w.id for w in again[:5]} == first
    assert dv.retrieve("account", [first["up:0"]], ["name"])[0] == {"name": "renamed 0"}


def test_keys_are_stored_without_the_characters_alternate_key_urls_refuse(dv: DynamicsDestination,
                                                                          admin: Admin) -> None:
    # GIVEN engine keys with ':' (all of them), '#' (exploded records) and other characters Dataverse
    # cannot take in an alternate-key URL
    keys = ["customers:1", "assets:7#2", "odd:a/b?c+d&e%f*g<h>i\\j.k~l"]
    assert all(decode_key(encode_key(k)) == k for k in keys)
    assert not set("/#<>*%&:\\?+") & set("".join(encode_key(k) for k in keys))
    # WHEN they are upserted THEN the stored values are escaped and every read gives the engine's keys back
    written = dv.upsert("account", EXT, [{EXT: k, "name": k} for k in keys], allow_bulk=False)
    assert all(w.ok and w.created for w in written)
    stored = {r[EXT] for r in admin.records("account") if r.get("name") in keys}
    assert stored == {encode_key(k) for k in keys} and "customers.1" in stored
    assert dv.find_by_key("account", EXT, keys) == {w.key: w.id for w in written}
    assert dv.find_by_key_prefix("account", EXT, "assets:") == {"assets:7#2": written[1].id}
    assert [r[EXT] for r in dv.rows_with_key_prefix("account", ["name"], EXT, "odd:")] == [keys[2]]
    again = dv.upsert("account", EXT, [{EXT: k, "name": k} for k in keys], allow_bulk=False)
    assert all(w.ok and not w.created for w in again)


def test_lookups_bind_by_navigation_property_and_read_back_by_it(dv: DynamicsDestination) -> None:
    parents = accounts(dv, "parent", 1)
    [child] = dv.upsert("account", EXT, [{EXT: "child:1", "name": "Child", "parentaccountid": parents["parent:0"],
                                          "ownerid": dv.integration_user_id}], allow_bulk=False)
    [person] = dv.upsert("contact", EXT, [{EXT: "contacts:1", "lastname": "Lee",
                                           "parentcustomerid_account": parents["parent:0"]}], allow_bulk=False)
    assert child.ok and person.ok
    row = dv.retrieve("account", [str(child.id)], [ID, "parentaccountid", "ownerid"])[0]
    assert row == {ID: child.id, "parentaccountid": parents["parent:0"], "ownerid": dv.integration_user_id}
    back = dv.retrieve("contact", [str(person.id)], ["parentcustomerid_account", "parentcustomerid_contact"])[0]
    assert back == {"parentcustomerid_account": parents["parent:0"], "parentcustomerid_contact": None}
    # WHEN an update clears the lookup THEN it is unbound
    [cleared] = dv.update("account", [{ID: child.id, "parentaccountid": None}])
    assert cleared.ok and dv.retrieve("account", [str(child.id)], ["parentaccountid"])[0] == {"parentaccountid": None}


def test_one_refused_record_does_not_sink_the_batch(dv: DynamicsDestination) -> None:
    records = [{EXT: "mix:0", "name": "fine"}, {EXT: "mix:1", "name": "x" * 200},
               {EXT: "mix:2", "name": "fine too", "parentaccountid": "00000000-0000-0000-0000-000000000001"},
               {EXT: "mix:3", "name": "also fine"}]
    results = {w.key: w for w in dv.upsert("account", EXT, records, allow_bulk=False)}
    assert results["mix:0"].ok and results["mix:3"].ok
    assert results["mix:1"].error_code == "0x80044331" and "max" in (results["mix:1"].error_message or "").lower()
    assert not results["mix:2"].ok and results["mix:2"].error_code and results["mix:2"].id is None


def test_cases_and_opportunities_are_closed_through_their_actions(dv: DynamicsDestination, admin: Admin) -> None:
    acct = accounts(dv, "closing", 1)["closing:0"]
    cases = [{EXT: "work_orders:1", "title": "Open", "customerid_account": acct, "statecode": 0, "statuscode": 1},
             {EXT: "work_orders:2", "title": "Fixed", "customerid_account": acct, "statecode": 1, "statuscode": 5},
             {EXT: "work_orders:3", "title": "Dropped", "customerid_account": acct, "statecode": 2, "statuscode": 6}]
    written = dv.upsert("incident", EXT, cases, allow_bulk=True)
    assert all(w.ok and w.created for w in written), written
    states = dv.retrieve("incident", [str(w.id) for w in written], ["statecode", "statuscode"])
    assert [(r or {}).get("statecode") for r in states] == [0, 1, 2]
    assert [(r or {}).get("statuscode") for r in states] == [1, 5, 6]
    # WHEN the same cases are written again with a change THEN closed ones are reopened, written and re-closed
    again = dv.upsert("incident", EXT, [{**c, "title": c["title"] + " (v2)"} for c in cases], allow_bulk=True)
    assert all(w.ok and not w.created for w in again), again
    rows = dv.retrieve("incident", [str(w.id) for w in written], ["title", "statecode"])
    assert [(r or {}).get("title") for r in rows] == ["Open (v2)", "Fixed (v2)", "Dropped (v2)"]
    assert [(r or {}).get("statecode") for r in rows] == [0, 1, 2]
    deals = [{EXT: "deals:1", "name": "Won", "customerid_account": acct, "statecode": 1, "statuscode": 3},
             {EXT: "deals:2", "name": "Lost", "customerid_account": acct, "statecode": 2, "statuscode": 5},
             {EXT: "deals:3", "name": "Open", "customerid_account": acct}]
    won, lost, open_ = dv.upsert("opportunity", EXT, deals, allow_bulk=True)
    assert won.ok and lost.ok and open_.ok
    rows = dv.retrieve("opportunity", [str(won.id), str(lost.id), str(open_.id)], ["statecode", "statuscode"])
    assert [(r or {}).get("statuscode") for r in rows] == [3, 5, 1]
    # AND a restore (rollback) by id reopens a closed record
    [restored] = dv.update("opportunity", [{ID: won.id, "statecode": 0, "statuscode": 1, "name": "Won?"}])
    assert restored.ok
    assert dv.retrieve("opportunity", [str(won.id)], ["statecode", "name"])[0] == {"statecode": 0, "name": "Won?"}
    # AND writing a closed record again with the values it holds changes nothing: no reopen, no second close
    closes = len(admin.records("incidentresolution"))
    before = list(dv.rows_with_key_prefix("incident", ["modifiedon"], EXT, "work_orders:"))
    same = dv.upsert("incident", EXT, [{**c, "title": c["title"] + " (v2)"} for c in cases[1:2]], allow_bulk=True)
    assert all(w.ok and not w.created for w in same), same
    after = dv.rows_with_key_prefix("incident", ["modifiedon"], EXT, "work_orders:")
    assert sorted((r[ID], r["modifiedon"]) for r in after) == sorted((r[ID], r["modifiedon"]) for r in before)
    assert len(admin.records("incidentresolution")) == closes


def test_closes_ride_in_the_upsert_batch_bound_by_the_alternate_key(dv: DynamicsDestination, admin: Admin) -> None:
    # GIVEN 1,500 new cases, 1,000 of them resolved: 2,500 operations, written through $batch PATCHes
    acct = accounts(dv, "inline", 1)["inline:0"]
    cases = [{EXT: f"inline_cases:{i}", "title": f"Case {i}", "customerid_account": acct,
              **({"statecode": 1, "statuscode": 5} if i % 3 else {"statecode": 0, "statuscode": 1})}
             for i in range(1_500)]
    resolutions = len(admin.records("incidentresolution"))
    before = admin.stats()
    written = dv.upsert("incident", EXT, cases, allow_bulk=False)
    after = admin.stats()
    # THEN each $batch carries its read, its PATCHes and its closes: ceil((N + C + chunks) / 1,000) requests
    assert all(w.ok and w.created and w.id for w in written), [w for w in written if not w.ok][:3]
    assert after["batch_requests"] - before["batch_requests"] == math.ceil((1_500 + 1_000 + 3) / 1_000) == 3
    assert after["by_request"].get("POST incidents/UpsertMultiple", 0) == before["by_request"].get(
        "POST incidents/UpsertMultiple", 0)
    assert dv.calls_needed("incident", 1_500, False) >= 3
    rows = dv.retrieve("incident", [str(w.id) for w in written], ["statecode", "statuscode"])
    assert [(r or {}).get("statecode") for r in rows] == [1 if i % 3 else 0 for i in range(1_500)]
    assert len(admin.records("incidentresolution")) == resolutions + 1_000
    # AND a rerun with the same values creates no second resolution (the refused close creates nothing)
    before = admin.stats()
    again = dv.upsert("incident", EXT, cases[:30], allow_bulk=True)
    assert all(w.ok and not w.created for w in again) and [w.id for w in again] == [w.id for w in written[:30]]
    assert len(admin.records("incidentresolution")) == resolutions + 1_000
    assert admin.stats()["batch_requests"] - before["batch_requests"] == 1  # no reopen, no second close


def test_a_refused_close_or_write_keeps_ids_and_states(dv: DynamicsDestination, admin: Admin) -> None:
    acct = accounts(dv, "refusing", 1)["refusing:0"]
    # GIVEN a new case asking for a status its state does not have, and an open case already there
    [opened] = dv.upsert("incident", EXT, [{EXT: "refused_cases:2", "title": "Open", "customerid_account": acct,
                                            "statecode": 0, "statuscode": 2}], allow_bulk=True)
    assert opened.ok and opened.created
    resolutions = len(admin.records("incidentresolution"))
    before = admin.stats()
    bad, long_ = dv.upsert("incident", EXT, [
        {EXT: "refused_cases:1", "title": "Bad status", "customerid_account": acct, "statecode": 1, "statuscode": 6},
        {EXT: "refused_cases:2", "title": "x" * 300, "customerid_account": acct, "statecode": 1, "statuscode": 5},
    ], allow_bulk=True)
    # THEN the first is written, not closed: failed *with* its id and created flag (audited, rolled back)
    assert not bad.ok and bad.created and bad.id and "not left in its state" in (bad.error_message or "")
    # AND the second's write is refused: it is left open as it was, its id kept, not created
    assert not long_.ok and not long_.created and long_.id == opened.id and long_.error_code
    rows = dv.retrieve("incident", [str(bad.id), str(opened.id)], ["statecode", "statuscode", "title"])
    assert rows == [{"statecode": 0, "statuscode": 1, "title": "Bad status"},
                    {"statecode": 0, "statuscode": 2, "title": "Open"}]
    # (the close that ran before the refusal was seen stays in the case's history)
    assert len(admin.records("incidentresolution")) == resolutions + 1
    assert admin.stats()["batch_requests"] - before["batch_requests"] == 2  # the upsert, the reopen


def test_notes_insert_once_with_deterministic_ids(dv: DynamicsDestination, admin: Admin) -> None:
    acct = accounts(dv, "noted", 1)["noted:0"]
    notes = [{EXT: f"notes:{i}", "subject": f"Note {i}", "notetext": "hello", "objectid_account": acct}
             for i in range(3)]
    first = dv.insert("annotation", EXT, notes)
    assert all(w.ok and w.created for w in first)
    assert [w.id for w in first] == [dv.deterministic_id("annotation", n[EXT]) for n in notes]
    # WHEN a retried attempt inserts them again THEN nothing is duplicated
    second = dv.insert("annotation", EXT, notes)
    assert all(w.ok and not w.created for w in second) and [w.id for w in second] == [w.id for w in first]
    assert len([r for r in admin.records("annotation") if r.get("subject", "").startswith("Note ")]) == 3
    assert dv.find_by_key("annotation", EXT, [n[EXT] for n in notes] + ["notes:99"]) == {
        n[EXT]: w.id for n, w in zip(notes, first, strict=True)}


def test_delete_converges_and_retrieve_keeps_the_order(dv: DynamicsDestination) -> None:
    ids = list(accounts(dv, "del", 3).values())
    assert [w.ok for w in dv.delete_records("account", ids[:2])] == [True, True]
    assert [w.ok for w in dv.delete_records("account", ids[:2])] == [True, True]  # already gone
    rows = dv.retrieve("account", ids, [ID, "name"])
    assert rows[:2] == [None, None] and rows[2] == {ID: ids[2], "name": "del 2"}
    assert dv.existing_ids("account", ids) == {ids[2]}


# --- limits ----------------------------------------------------------------------------------------------------------
def test_requests_per_large_upsert_are_one_batch_per_999_records(dv: DynamicsDestination, admin: Admin) -> None:
    before, calls = admin.stats(), dv.calls
    written = dv.upsert("account", EXT, [{EXT: f"bulk:{i}", "name": f"Bulk {i}"} for i in range(2_500)],
                        allow_bulk=False)
    after = admin.stats()
    assert len(written) == 2_500 and all(w.ok and w.created for w in written)
    expected = math.ceil(2_500 / 999)
    assert after["batch_requests"] - before["batch_requests"] == expected == dv.calls_needed("account", 2_500, False)
    assert after["batch_inner_requests"] - before["batch_inner_requests"] == 2_500 + expected
    assert dv.calls - calls == after["total_requests"] - before["total_requests"] == expected


def test_throttling_is_honoured_and_the_call_still_succeeds(dv: DynamicsDestination, admin: Admin) -> None:
    admin.http.post("/__standin/usage/reset").raise_for_status()
    admin.config(requests_per_window=2, window_s=4.0)  # wide enough that a loaded machine still bursts past it
    try:
        before = admin.stats()["throttled"]
        for i in range(6):  # 6 requests against 2 per 4 s: some are answered 429 + Retry-After
            accounts(dv, f"throttle{i}", 2)
        assert admin.stats()["throttled"] > before
        assert dv.burst_remaining is not None
        assert dv.limits_report()["RequestsMade"] == dv.calls
    finally:
        admin.config(requests_per_window=6000, window_s=300.0)
    dv.check_quota(10_000)  # no daily cap: never a stop


# --- UpsertMultiple --------------------------------------------------------------------------------------------------
def _delta(before: dict[str, Any], after: dict[str, Any], request: str) -> int:
    return int(after["by_request"].get(request, 0)) - int(before["by_request"].get(request, 0))


#: Columns two writes of the same values still differ in (ids, keys, times, versions).
_MOVING = frozenset({"contactid", EXT, "createdon", "modifiedon", "versionnumber", "overriddencreatedon"})


def test_large_upserts_go_through_upsertmultiple_with_the_same_lookups(dv: DynamicsDestination, admin: Admin) -> None:
    # GIVEN 1,200 contacts bound to parent accounts and to an owner: a load above the bulk threshold
    parents = accounts(dv, "um_parent", 2)
    people = [{EXT: f"um_contacts:{i}", "lastname": f"Um {i}", "jobtitle": "Tech",
               "parentcustomerid_account": parents[f"um_parent:{i % 2}"], "ownerid": dv.integration_user_id}
              for i in range(1_200)]
    before, calls = admin.stats(), dv.calls
    first = dv.upsert("contact", EXT, people, allow_bulk=True)
    after = admin.stats()
    # THEN two UpsertMultiple requests wrote them (each one $batch with two reads), no PATCH
    assert _delta(before, after, "POST contacts/UpsertMultiple") == 2 and _delta(before, after, "PATCH contacts") == 0
    assert after["batch_requests"] - before["batch_requests"] == 2 == dv.calls_needed("contact", 1_200, True)
    assert after["batch_inner_requests"] - before["batch_inner_requests"] == 6 and dv.calls - calls == 2
    assert len(first) == 1_200 and all(w.ok and w.created and w.id for w in first), [w for w in first if not w.ok][:3]
    assert dv.find_by_key("contact", EXT, [p[EXT] for p in people[:3]]) == {w.key: w.id for w in first[:3]}
    # AND they hold what the $batch PATCHes write for the same values, lookups included
    twins = dv.upsert("contact", EXT, [{**p, EXT: f"pb_contacts:{i}"} for i, p in enumerate(people[:150])],
                      allow_bulk=False)
    stored = {str(r["contactid"]): r for r in admin.records("contact")}
    for bulk, batch in zip(first[:150], twins, strict=True):
        assert ({k: v for k, v in stored[str(bulk.id)].items() if k not in _MOVING}
                == {k: v for k, v in stored[str(batch.id)].items() if k not in _MOVING})
    row = dv.retrieve("contact", [str(first[1].id)], ["parentcustomerid_account", "ownerid"])[0]
    assert row == {"parentcustomerid_account": parents["um_parent:1"], "ownerid": dv.integration_user_id}
    # WHEN they are written again THEN they are updated in place, not created
    again = dv.upsert("contact", EXT, [{**p, "jobtitle": "Lead"} for p in people], allow_bulk=True)
    assert all(w.ok and not w.created for w in again) and [w.id for w in again] == [w.id for w in first]
    assert dv.retrieve("contact", [str(first[7].id)], ["jobtitle"])[0] == {"jobtitle": "Lead"}


def test_one_bad_row_in_upsertmultiple_falls_back_to_batch_and_only_it_is_refused(dv: DynamicsDestination,
                                                                                 admin: Admin) -> None:
    # GIVEN 300 accounts, one of them with a name longer than the column allows
    records = [{EXT: f"um_fall:{i}", "name": "x" * 200 if i == 137 else f"Fall {i}"} for i in range(300)]
    before = admin.stats()
    results = {w.key: w for w in dv.upsert("account", EXT, records, allow_bulk=True)}
    after = admin.stats()
    # THEN the UpsertMultiple wrote nothing (all or nothing) and the chunk went again through $batch PATCHes
    assert _delta(before, after, "POST accounts/UpsertMultiple") == 1
    assert _delta(before, after, "PATCH accounts") == 300 and after["batch_requests"] - before["batch_requests"] == 2
    # AND only that row is refused, with Dataverse's reason; every other one is written once
    bad = results.pop("um_fall:137")
    assert not bad.ok and bad.id is None and not bad.created and bad.error_code == "0x80044331"
    assert "exceeded the maximum allowed length of '160'" in (bad.error_message or "")
    assert len(results) == 299 and all(r.ok and r.created and r.id for r in results.values())
    assert dv.find_by_key_prefix("account", EXT, "um_fall:") == {k: r.id for k, r in results.items()}


def test_bulk_loads_of_closed_cases_take_fewer_requests(dv: DynamicsDestination, admin: Admin) -> None:
    # GIVEN 1,000 new cases, all resolved: $batch carries 499 records and their closes a request (3 requests)
    acct = accounts(dv, "um_closing", 1)["um_closing:0"]
    cases = [{EXT: f"um_cases:{i}", "title": f"Case {i}", "customerid_account": acct, "statecode": 1,
              "statuscode": 5 if i % 2 else 1000} for i in range(1_000)]
    assert dv.calls_needed("incident", 1_000, False) == 3
    resolutions = len(admin.records("incidentresolution"))
    before = admin.stats()
    written = dv.upsert("incident", EXT, cases, allow_bulk=True)
    after = admin.stats()
    # THEN one UpsertMultiple and one $batch of closes
    assert _delta(before, after, "POST incidents/UpsertMultiple") == 1 and _delta(before, after, "POST CloseIncident") \
        == 1_000
    assert after["batch_requests"] - before["batch_requests"] == 2 == dv.calls_needed("incident", 1_000, True)
    assert all(w.ok and w.created and w.id for w in written), [w for w in written if not w.ok][:3]
    rows = dv.retrieve("incident", [str(w.id) for w in written], ["statecode", "statuscode"])
    assert [(r or {}).get("statuscode") for r in rows] == [5 if i % 2 else 1000 for i in range(1_000)]
    assert len(admin.records("incidentresolution")) == resolutions + 1_000
    # AND a rerun that changes them: the closed (read-only) records sink the bulk message, the $batch path
    # reopens, writes and closes them again, each with its result
    again = dv.upsert("incident", EXT, [{**c, "title": c["title"] + " v2"} for c in cases[:200]], allow_bulk=True)
    assert all(w.ok and not w.created for w in again) and [w.id for w in again] == [w.id for w in written[:200]]
    assert dv.retrieve("incident", [str(written[3].id)], ["title", "statecode"])[0] == {"title": "Case 3 v2",
                                                                                       "statecode": 1}


def test_a_load_batch_with_one_bad_row_rejects_only_it_with_its_reason(dv: DynamicsDestination, admin: Admin) -> None:
    # GIVEN a load-ready batch of 250 accounts (the engine's loader, fake stores, the real connector), one of
    # them with a name Dataverse refuses
    mapping = ObjectMapping(name="customers->account", source_object="customers", dest_object="account",
                            fields=[FieldRule(dest="name", source="name")])
    stores = staged(MigrationSpec(pair="sercom-dynamics", external_id_field=EXT, mappings=[mapping],
                                  fallback_owner_id=dv.integration_user_id, audit_fields=True))
    keys = Keys(RUN)
    stores.blobs.put_lines("load/B7.jsonl", [{EXT: f"customers:lb{i}", "name": "x" * 200 if i == 42 else f"LB {i}"}
                                             for i in range(250)])
    stores.blobs.put_json(keys.already_loaded("B7"), {})
    stores.blobs.put_json(keys.existing("B7"), {})
    before = admin.stats()
    # WHEN it is loaded
    outcome = load.load_batch(RUN, {"mapping": mapping.name, "batch_id": "B7", "level": 0},
                              {"load_key": "load/B7.jsonl"}, dv, stores)  # type: ignore[arg-type]
    # THEN the UpsertMultiple fell back to $batch and the reject report holds that row alone, with its reason
    assert _delta(before, admin.stats(), "POST accounts/UpsertMultiple") == 1
    [reject] = stores.blobs.get_lines(keys.rejects("B7.load"))
    assert (reject["source_id"], reject["code"]) == ("lb42", "0x80044331")
    assert "exceeded the maximum allowed length of '160'" in reject["reason"]
    assert outcome["loaded"] == outcome["created"] == 249 and outcome["load_rejected"] == 1
    assert sum(len(ids) for ids in stores.crosswalk.data.values()) == 249

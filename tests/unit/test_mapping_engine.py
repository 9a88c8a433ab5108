"""Unit: the mapping engine turns source records into load-ready ones, or says why not."""

from __future__ import annotations

from shared.mapping.engine import CompiledMapping, source_key
from tests.builders import spec

XW = {"Account": {"customers:cus_1": "001A"}, "Contact": {}, "Case": {"work_orders:wo_1": "500A"},
      "Asset": {}, "Product2": {}, "__defaults__": {"flitstack:default-account": "001DEF"}}


def test_customer_fields_picklists_truncation_and_custom_fields() -> None:
    # GIVEN a customer with an over-long city, a custom pick-list value and a custom date
    s = spec()
    m = CompiledMapping(s, s.mapping("customers->Account"), XW)
    rec = {"id": "cus_9", "name": "Ácme ☃", "account_type": "government", "billing_city": "X" * 60,
           "email": "Ops@Acme.COM", "created_at": "2023-01-02T03:04:05Z", "updated_at": "2024-01-01T00:00:00Z",
           "custom_fields": {"contract_tier": "Gold", "customer_since": "2020-02-30"}}
    # WHEN it is transformed
    out = m.apply([rec])
    # THEN it loads with translated values, a truncation and a dropped bad date reported
    assert out.rejects == []
    got = out.records[0]
    assert got["Sercom_Id__c"] == "customers:cus_9"
    assert got["Name"] == "Ácme ☃"
    assert got["Customer_Segment__c"] == "Government"
    assert got["Contract_Tier__c"] == "Gold"
    assert got["BillingCity"] == "X" * 40
    assert got["Sercom_Email__c"] == "ops@acme.com"
    assert got["CreatedDate"] == "2023-01-02T03:04:05.000Z"
    assert "ParentId" not in got  # deferred to the fix-up pass
    codes = {(i.field, i.code) for i in out.issues}
    assert ("BillingCity", "truncated") in codes
    assert ("Customer_Since__c", "invalid_date") in codes


def test_missing_required_field_is_a_reject_with_reason() -> None:
    s = spec()
    m = CompiledMapping(s, s.mapping("customers->Account"), XW)
    out = m.apply([{"id": "cus_2", "name": ""}])
    assert out.records == []
    assert out.rejects[0].code == "required_field_missing"
    assert "Name" in out.rejects[0].reason


def test_orphan_work_order_is_quarantined_not_linked_to_nothing() -> None:
    s = spec()
    m = CompiledMapping(s, s.mapping("work_orders->Case"), XW)
    out = m.apply([{"id": "wo_2", "number": "WO-2", "customer_id": "cus_404", "technician_id": "tec_1"}])
    assert out.records == []
    assert out.rejects[0].code == "orphan"
    assert "cus_404" in out.rejects[0].reason


def test_owner_by_email_match_else_fallback_with_issue() -> None:
    s = spec()
    m = CompiledMapping(s, s.mapping("work_orders->Case"), XW)
    out = m.apply([
        {"id": "wo_1", "number": "WO-1", "customer_id": "cus_1", "technician_id": "tec_1", "status": "on_hold"},
        {"id": "wo_3", "number": "WO-3", "customer_id": "cus_1", "technician_id": "tec_77", "priority": "urgent"},
    ])
    assert [r["OwnerId"] for r in out.records] == ["005A", "005INT"]
    assert out.records[0]["Status"] == "Escalated"
    assert out.records[1]["Priority"] == "High"
    assert [i.code for i in out.issues] == ["owner_fallback"]


def test_contact_without_account_goes_to_default_account() -> None:
    s = spec()
    m = CompiledMapping(s, s.mapping("contacts->Contact"), XW)
    out = m.apply([{"id": "con_1", "last_name": "Lee", "customer_id": None, "email": "bad@"}])
    assert out.records[0]["AccountId"] == "001DEF"
    assert "Email" not in out.records[0]
    assert [i.code for i in out.issues] == ["invalid_email"]


def test_activity_split_by_type_and_what_id_falls_back() -> None:
    s = spec()
    task = CompiledMapping(s, s.mapping("activities->Task"), XW)
    out = task.apply([
        {"id": "act_1", "type": "visit", "work_order_id": None, "customer_id": "cus_1",
         "started_at": "2024-05-01T10:00:00Z"},
        {"id": "act_2", "type": "meeting", "customer_id": "cus_1"},
    ])
    assert out.skipped == 1
    assert out.records[0]["WhatId"] == "001A"
    assert out.records[0]["Type"] == "Service Visit"
    assert out.records[0]["ActivityDate"] == "2024-05-01"


def test_insert_only_fields_are_left_out_for_records_already_loaded() -> None:
    s = spec()
    key = source_key("customers", "cus_1")
    m = CompiledMapping(s, s.mapping("customers->Account"), XW)
    record = {"id": "cus_1", "name": "A", "created_at": "2023-01-01T00:00:00Z"}
    assert "CreatedDate" not in m.apply([record], existing_keys={key}).records[0]
    assert m.apply([record]).records[0]["CreatedDate"] == "2023-01-01T00:00:00.000Z"  # a new record carries it


def test_without_audit_permission_original_dates_go_to_custom_fields() -> None:
    s = spec(audit=False)
    m = CompiledMapping(s, s.mapping("customers->Account"), XW)
    out = m.apply([{"id": "cus_1", "name": "A", "created_at": "2023-01-01T00:00:00+02:00"}])
    assert out.records[0]["Original_Created_Date__c"] == "2022-12-31T22:00:00.000Z"
    assert any(f.name == "Original_Created_Date__c" and f.object == "Account" for f in s.custom_fields)


def test_parts_total_cost_and_contract_term() -> None:
    s = spec()
    xw = {**XW, "Work_Order__c": {"work_orders:wo_1": "a01A"}}
    parts = CompiledMapping(s, s.mapping("parts_used->Parts_Used__c"), xw)
    out = parts.apply([{"id": "prt_1", "work_order_id": "wo_1", "part_number": "P-1", "quantity": 3, "unit_cost": 2.5}])
    assert out.records[0]["Total_Cost__c"] == 7.5
    assert out.records[0]["Work_Order__c"] == "a01A"
    contract = CompiledMapping(s, s.mapping("contracts->Contract"), xw)
    out = contract.apply([{"id": "ctr_1", "customer_id": "cus_1", "start_date": "2024-01-01", "end_date": "2024-12-31",
                           "terms": "T" * 40000, "status": "active"}])
    assert out.records[0]["ContractTerm"] == 12
    assert out.records[0]["Contract_Terms__c"] == "T" * 40000
    assert out.records[0]["Status"] == "Draft"
    assert out.records[0]["Sercom_Status__c"] == "Active"


def test_maintenance_history_entries_become_tasks_on_their_asset() -> None:
    # GIVEN an asset with two maintenance-history entries, already loaded as an Asset
    s = spec()
    xw = {**XW, "Asset": {"assets:ast_1": "02iA"}}
    m = CompiledMapping(s, s.mapping("assets.maintenance_history->Task"), xw)
    asset = {"id": "ast_1", "maintenance_history": [{"date": "2024-03-01", "summary": "Replaced filter"},
                                                    {"date": "2024-09-01", "summary": "Annual service"}]}
    # WHEN it is transformed
    out = m.apply([asset, {"id": "ast_2", "maintenance_history": []}])
    # THEN each entry is a completed Task on the asset, keyed by asset and position, dated as it happened
    assert out.seen == 2
    assert [r["Sercom_Id__c"] for r in out.records] == ["assets:ast_1#0", "assets:ast_1#1"]
    assert {r["WhatId"] for r in out.records} == {"02iA"}
    assert out.records[0]["Subject"] == "Replaced filter"
    assert out.records[0]["ActivityDate"] == "2024-03-01"
    assert out.records[0]["CreatedDate"] == "2024-03-01T00:00:00.000Z"

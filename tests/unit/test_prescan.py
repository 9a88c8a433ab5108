"""The pre-scan's findings on a tenant built to hold each problem once (fakes at our interfaces).

GIVEN a source (the Source protocol over in-memory pages, counting what it serves) whose records hold a
reference cycle, a NUL byte, an orphan whose children are orphans in turn, a bad e-mail, shared phones, an
impossible date (a reject of its own), an unassigned work order and an unmapped pick-list value
WHEN the pre-scan runs against a spec with rejecting lookups and a destination that tells no headroom
THEN each is found where it is, the rejects are predicted through the chain, and what the destination cannot
tell is said, not guessed; pages are read one at a time (a page size is asked, nothing is read twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from shared import prescan_report
from shared.connectors import registry
from shared.domain import prescan as prescan_module
from shared.domain.prescan import prescan
from shared.mapping.spec import FieldRule, LookupRule, LookupTarget, MigrationSpec, ObjectMapping
from shared.models import DestCatalog, SourceCatalog, SourceField, SourceObject
from shared.prescan_report import preflight_markdown

REF = "reference"


class PagedSource:
    """The Source protocol's reading half over in-memory pages of two records."""

    name = "fake"

    def __init__(self, records: dict[str, list[dict[str, Any]]]) -> None:
        self.records = records
        self.served: dict[str, int] = {}

    def pages(self, obj: str, page_size: int = 1000, updated_since: str | None = None
              ) -> Iterator[list[dict[str, Any]]]:
        assert page_size <= 1000 and updated_since is None
        rows = self.records.get(obj, [])
        for i in range(0, len(rows), 2):
            self.served[obj] = self.served.get(obj, 0) + len(rows[i:i + 2])
            yield rows[i:i + 2]

    def users(self) -> list[dict[str, Any]]:
        return self.records["technicians"]


class QuietDestination:
    """A destination with Odoo's declared capabilities that tells nothing about what is left."""

    label = "Quiet"
    capabilities = registry.destination("odoo").capabilities

    def calls_needed(self, obj: str, count: int, allow_bulk: bool) -> int:
        return registry.destination("odoo").write_cost(obj, count, allow_bulk).calls


CATALOG = SourceCatalog(tenant="t", objects=[
    SourceObject(name="technicians", label="T", fields=[SourceField(name="email", type="email")]),
    SourceObject(name="customers", label="C", fields=[
        SourceField(name="name", type="string"), SourceField(name="phone", type="phone"),
        SourceField(name="email", type="email"), SourceField(name="parent_id", type=REF, references="customers"),
        SourceField(name="tier", type="picklist", custom=True)]),
    SourceObject(name="work_orders", label="W", fields=[
        SourceField(name="customer_id", type=REF, references="customers"),
        SourceField(name="technician_id", type=REF, references="technicians"),
        SourceField(name="scheduled", type="date"), SourceField(name="status", type="picklist")]),
    SourceObject(name="parts_used", label="P", fields=[
        SourceField(name="work_order_id", type=REF, references="work_orders")]),
    SourceObject(name="attachments", label="A", fields=[SourceField(name="size_bytes", type="integer")]),
])

RECORDS: dict[str, list[dict[str, Any]]] = {
    "technicians": [{"id": "t1", "email": "a@x.io"}, {"id": "t2", "email": "A@X.io"}],
    "customers": [
        {"id": "c1", "name": "Acme", "phone": "+1 (555) 010-2000", "email": "ops@acme.com", "parent_id": "c2",
         "custom_fields": {"tier": "gold"}},
        {"id": "c2", "name": "Beta\x00Corp", "phone": "+1 555.010.2000", "email": "not-an-email", "parent_id": "c1",
         "custom_fields": {}},
        {"id": "c3", "name": "Gamma", "phone": "12", "email": None, "parent_id": None, "custom_fields": {}},
    ],
    "work_orders": [
        {"id": "w1", "customer_id": "c1", "technician_id": "t1", "scheduled": "2024-01-31", "status": "open"},
        {"id": "w2", "customer_id": "c404", "technician_id": None, "scheduled": "2024-02-01", "status": "weird"},
        {"id": "w3", "customer_id": "c3", "technician_id": "t2", "scheduled": "2023-02-30", "status": "open"},
    ],
    "parts_used": [{"id": "p1", "work_order_id": "w2"}, {"id": "p2", "work_order_id": "w1"},
                   {"id": "p3", "work_order_id": "w9"}],
    "attachments": [{"id": "a1", "size_bytes": 10}, {"id": "a2", "size_bytes": 30}, {"id": "a3"}],
}


def _target(obj: str, dest: str) -> LookupTarget:
    return LookupTarget(source_object=obj, dest_object=dest)


SPEC = MigrationSpec(pair="sercom-odoo", external_id_field="x_key", fallback_owner_id="1", audit_fields=False,
                     mappings=[
    ObjectMapping(name="customers", source_object="customers", dest_object="res.partner",
                  fields=[FieldRule(dest="name", source="name")]),
    ObjectMapping(name="work_orders", source_object="work_orders", dest_object="crm.lead",
                  fields=[FieldRule(dest="date_deadline", source="scheduled", transform="date", on_invalid="reject"),
                          FieldRule(dest="stage", source="status", transform="picklist", value_map={"open": "New"},
                                    default="New")],
                  lookups=[LookupRule(dest="partner_id", source="customer_id", target=_target("customers",
                                                                                              "res.partner"),
                                      on_missing="reject")]),
    ObjectMapping(name="parts_used", source_object="parts_used", dest_object="x_part",
                  lookups=[LookupRule(dest="x_lead_id", source="work_order_id", target=_target("work_orders",
                                                                                               "crm.lead"),
                                      on_missing="reject")]),
])


def _scan(listed: dict[str, list[dict[str, Any]]] | None = None) -> tuple[dict[str, Any], PagedSource]:
    source = PagedSource(RECORDS)
    dcat = DestCatalog(instance="x", objects={}, users=[], integration_user_id="1", audit_fields_settable=False)
    unmatched = [{"technician_id": "t2", "name": "", "email": "A@X.io", "reason": "shared"}]
    listings = {} if listed is None else listed

    def listing(name: str, rows: Iterable[dict[str, Any]]) -> None:
        listings[name] = list(rows)

    return prescan(SPEC, CATALOG, source, QuietDestination(), dcat, unmatched,  # type: ignore[arg-type]
                   run_id="r1", listing=listing), source


def test_each_problem_is_found_where_it_is() -> None:
    listed: dict[str, list[dict[str, Any]]] = {}
    scan, source = _scan(listed)
    assert source.served == {k: len(v) for k, v in RECORDS.items()}  # every record read once, by pages
    assert scan["counts"] == {k: len(v) for k, v in RECORDS.items()}
    orphans = {(o["object"], o["field"]): [r["id"] for r in o["records"]] for o in scan["orphans"]}
    assert orphans == {("work_orders", "customer_id"): ["w2"], ("parts_used", "work_order_id"): ["p3"]}
    assert listed[scan["listings"]["orphans"]] == [
        {"object": "parts_used", "field": "work_order_id", "target": "work_orders", "id": "p3", "ref": "w9"},
        {"object": "work_orders", "field": "customer_id", "target": "customers", "id": "w2", "ref": "c404"}]
    assert listed[scan["listings"]["load_rejects"]] == scan["load_rejects"]  # fewer than LISTED: all kept
    rejects = {(r["source_object"], r["source_id"]): r for r in scan["load_rejects"]}
    # w2: its customer is missing; p1: its work order is rejected; w3: its own impossible date; p3: missing parent.
    assert set(rejects) == {("work_orders", "w2"), ("work_orders", "w3"), ("parts_used", "p1"),
                            ("parts_used", "p3")}
    assert rejects[("work_orders", "w3")]["code"] != "orphan"
    assert "does not exist in the source" in rejects[("work_orders", "w2")]["reason"]
    assert "is rejected itself" in rejects[("parts_used", "p1")]["reason"]
    assert scan["unassigned"] == {"people_object": "technicians", "relations": [
        {"object": "work_orders", "field": "technician_id", "count": 1, "ids": ["w2"]}]}
    assert [(g["object"], g["ids"]) for g in scan["emails"]["invalid"]] == [("customers", ["c2"])]
    assert [(g["object"], g["value"], g["count"]) for g in scan["emails"]["duplicates"]] == [
        ("technicians", "a@x.io", 2)]
    assert [(g["object"], g["ids"]) for g in scan["phones"]["invalid"]] == [("customers", ["c3"])]
    assert [(g["value"], g["ids"]) for g in scan["phones"]["duplicates"]] == [("15550102000", ["c1", "c2"])]
    assert [(g["kind"], g["value"]) for g in listed[scan["listings"]["duplicates"]]] == [
        ("email", "a@x.io"), ("phone", "15550102000")]
    assert (scan["summary"]["duplicate_emails"], scan["summary"]["duplicate_emails_groups"]) == (2, 1)
    assert [(g["object"], g["ids"]) for g in scan["dates"]["invalid"]] == [("work_orders", ["w3"])]
    assert scan["cycles"] == [{"object": "customers", "count": 2, "fields": ["parent_id"], "ids": ["c1", "c2"]}]
    assert scan["control_characters"] == [{"object": "customers", "field": "name", "count": 1, "ids": ["c2"]}]
    assert scan["custom_field_fill"] == [{"object": "customers", "field": "tier", "filled": 1, "records": 3,
                                          "rate": 0.3333}]
    assert scan["unmapped_picklist_values"] == [{"mapping": "work_orders", "dest_field": "stage",
                                                 "source_field": "status", "values": {"weird": 1}}]
    files = scan["attachments"][0]
    assert (files["count"], files["total_bytes"], files["average_bytes"]) == (3, 40, 13)
    assert scan["technicians_without_active_user"][0]["technician_id"] == "t2"


def test_preflight_json_keeps_the_first_rejects_and_the_listing_all_of_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prescan_module, "LISTED", 2)
    monkeypatch.setattr(prescan_report, "PAGE_ROWS", 1)
    listed: dict[str, list[dict[str, Any]]] = {}
    scan, _ = _scan(listed)
    whole = listed["preflight-rejects.jsonl"]
    assert len(whole) == 4 and scan["load_rejects"] == whole[:2]
    assert scan["summary"]["load_rejects"] == 4
    assert scan["summary"]["orphans_rejected"] == sum(r["code"] == "orphan" for r in whole) == 3
    page = preflight_markdown(scan, whole=True)
    assert "… 3 more rows in `preflight-rejects.jsonl`" in page  # the page counts the listing, not the first rows
    assert len(listed["preflight-duplicates.jsonl"]) == 2 and len(scan["phones"]["duplicates"]) == 1


def test_what_the_destination_cannot_tell_is_said_not_guessed() -> None:
    dest = _scan()[0]["destination"]
    assert dest["api_budget"]["left"] is None and dest["api_budget"]["status"] == "not metered"
    assert dest["storage"]["status"] == "unknown" and "tells no storage" in dest["storage"]["note"]
    assert dest["custom_objects"]["status"] == "unknown"
    assert dest["api_budget"]["needed"] == sum(  # what each mapping loads, priced by the connector's own model
        registry.destination("odoo").write_cost("x", n, True).calls for n in (3, 3, 3))

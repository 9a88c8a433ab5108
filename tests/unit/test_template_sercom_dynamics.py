"""Unit: the Sercom -> Dynamics 365 Sales template covers seed 001 and transforms a generated tenant.

GIVEN catalogs shaped like discovery's (the Sercom schema of the stand-in's model, Dataverse
describes with integer option sets and navigation-property lookups) and the extra reads of
``discovery_extras`` over a generated tenant with dirty data, THEN the spec covers every row of the
pair page, follows the run options, and the engine turns the tenant's records into load-ready ones.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from pydantic import ValidationError

from sandbox.sercom.generator import DirtyKnobs, generate_tenant
from sandbox.sercom.model import OBJECTS, Tenant
from shared import planner
from shared.connectors.sercom.normalise import discovery_facts
from shared.errors import MappingError
from shared.mapping.engine import CompiledMapping, crosswalk_aliases, output_size, source_key
from shared.mapping.infer import sample_custom_fields
from shared.mapping.spec import Condition, FieldRule, LookupRule, LookupTarget, MigrationSpec, ObjectMapping
from shared.models import (
    DestCatalog,
    DestField,
    DestObject,
    DestUser,
    DynamicsOptions,
    RunOptions,
    SourceCatalog,
    SourceField,
    SourceObject,
    WorkOrderSplit,
)
from shared.pairs import sercom_dynamics as template

OWNERS = {"tec_000001": "u-1", "tec_000002": "u-2"}
DIRTY_STATUSES = ["Closed", "In Progress ", "Awaiting Customer", "zz-legacy-7"]
DIRTY_PRIORITIES = ["Critical", "MEDIUM", "sev-x"]

# Seed 001's object table: Sercom object -> the Dataverse tables it must land in.
SEED_001_ROWS = {
    "contacts": {"contact"},
    "customers": {"account"},
    "work_orders": {"incident", "opportunity"},
    "locations": {"account"},
    "assets": {"flit_asset"},
    "products": {"product"},
    "activities": {"task", "phonecall", "appointment"},
    "notes": {"annotation"},
    "attachments": {"annotation"},
}


# --- builders ---------------------------------------------------------------------------------
def _tenant() -> Tenant:
    """A generated tenant plus the dirt seed 001 is about: duplicate customers, odd status/priority words."""
    tenant = generate_tenant(2000, seed=11, dirty=DirtyKnobs())
    customers = tenant.records["customers"]
    companies = [c for c in customers if c.get("website")]
    for n, original in enumerate(companies[:3]):  # same company entered again, name typed differently
        dup = copy.deepcopy(original)
        dup["id"] = f"cus_8{n:05d}"
        dup["name"] = original["name"].upper().replace(" ", "  ")
        dup["created_at"] = "2026-09-30T17:59:59Z"
        dup["parent_id"] = None
        customers.append(dup)
        tenant.records["contacts"][n]["customer_id"] = dup["id"]  # their contacts must land on the survivor
        tenant.records["work_orders"][n]["customer_id"] = dup["id"]
    residential = [c for c in customers if not c.get("website")][:2]
    if len(residential) == 2:  # same person name at a free-mail domain: two people, never merged
        residential[1]["name"] = residential[0]["name"]
    for n, value in enumerate(DIRTY_STATUSES):
        tenant.records["work_orders"][10 + n]["status"] = value
    for n, value in enumerate(DIRTY_PRIORITIES):
        tenant.records["work_orders"][20 + n]["priority"] = value
    return tenant


@cache
def tenant() -> Tenant:
    return _tenant()


def source_catalog(t: Tenant) -> SourceCatalog:
    objects = []
    for name, spec in OBJECTS.items():
        fields = [SourceField(**{k: v for k, v in f.describe().items() if k in SourceField.model_fields})
                  for f in spec.fields]
        custom = [SourceField(name=c.key, type=c.type, label=c.label, picklist_values=c.picklist_values,
                              custom=True) for c in t.custom_fields if c.object == name]
        samples = sample_custom_fields(t.records[name][:1000], [c.name for c in custom])
        for f in custom:
            f.sample = samples[f.name]
        objects.append(SourceObject(name=name, label=spec.label, fields=fields + custom,
                                    count=len(t.records[name])))
    return SourceCatalog(tenant=t.name, objects=objects)


class FakeSource:
    """Pages of a tenant, as ``SercomSource.pages`` serves them."""

    def __init__(self, t: Tenant) -> None:
        self.t = t
        self.read: list[str] = []

    def pages(self, obj: str, page_size: int = 1000, updated_since: str | None = None
              ) -> Iterator[list[dict[str, Any]]]:
        self.read.append(obj)
        rows = self.t.records[obj]
        for i in range(0, len(rows), page_size):
            yield rows[i : i + page_size]


def _f(name: str, type_: str = "String", **kw: Any) -> DestField:
    return DestField(name=name, type=type_, **kw)


def _choice(name: str, options: dict[int, str], **kw: Any) -> DestField:
    return DestField(name=name, type="Picklist", picklist_values=[str(v) for v in options],
                     picklist_labels={str(v): label for v, label in options.items()}, restricted_picklist=True, **kw)


def _table(name: str, *fields: DestField, custom: bool = False) -> DestObject:
    system = [_f("overriddencreatedon", "DateTime", updateable=False),
              _f("ownerid", "Owner", nillable=False, defaulted_on_create=True),
              _f("statecode", "State", defaulted_on_create=True), _f("statuscode", "Status", defaulted_on_create=True)]
    return DestObject(name=name, custom=custom, fields={f.name: f for f in [*system, *fields]})


def dest_catalog(*, field_service: bool = False, existing_custom_tables: int = 0,
                 location_label: bool = False) -> DestCatalog:
    customer_types = dict(enumerate(["Competitor", "Consultant", "Customer", "Investor", "Partner", "Influencer",
                                     "Press", "Prospect", "Reseller", "Supplier", "Vendor", "Other"], 1))
    if location_label:
        customer_types[100000000] = "Location"
    activity = [_f("subject", length=200), _f("description", "Memo", length=2000)]
    objects = {
        "account": _table("account", _f("name", length=160), _f("telephone1", length=50),
                          _f("address1_city", length=80), _choice("customertypecode", customer_types)),
        "contact": _table("contact", _f("lastname", length=50), _f("firstname", length=50),
                          _f("parentcustomerid", "Customer")),
        "incident": _table("incident", _f("title", length=200, nillable=False), _f("description", "Memo", length=2000),
                           _f("customerid", "Customer", nillable=False), _f("msdyn_customerasset", "Lookup"),
                           _choice("prioritycode", {1: "High", 2: "Normal", 3: "Low"}),
                           _choice("caseorigincode", {1: "Phone", 2: "Email", 3: "Web"}),
                           _choice("statecode", {0: "Active", 1: "Resolved", 2: "Cancelled"}),
                           _choice("statuscode", {1: "In Progress", 2: "On Hold", 3: "Waiting for Details",
                                                  4: "Researching", 5: "Problem Solved", 1000: "Information Provided",
                                                  6: "Cancelled", 2000: "Merged"})),
        "opportunity": _table("opportunity", _f("name", length=300), _f("customerid", "Customer")),
        "product": _table("product", _f("name", length=100, nillable=False), _f("productnumber", length=100,
                                                                                 nillable=False),
                          _f("defaultuomscheduleid", "Lookup", nillable=False),
                          _f("defaultuomid", "Lookup", nillable=False)),
        "task": _table("task", *activity),
        "phonecall": _table("phonecall", *activity),
        "appointment": _table("appointment", *activity),
        "annotation": DestObject(name="annotation", fields={"subject": _f("subject", length=500),
                                                            "notetext": _f("notetext", "Memo", length=100_000)}),
    }
    if field_service:
        objects["msdyn_customerasset"] = _table("msdyn_customerasset", _f("msdyn_name", length=100),
                                                _f("msdyn_account", "Lookup"))
    for n in range(existing_custom_tables):
        objects[f"new_table{n}"] = DestObject(name=f"new_table{n}", custom=True)
    return DestCatalog(instance="https://org.crm.dynamics.com", objects=objects,
                       users=[DestUser(id="u-1", email="a@x.io", active=True)], integration_user_id="u-int",
                       audit_fields_settable=True)


@cache
def extras() -> dict[str, Any]:
    return discovery_facts(FakeSource(tenant()), source_catalog(tenant()))


def build(options: DynamicsOptions | None = None, dcat: DestCatalog | None = None, **run: Any) -> MigrationSpec:
    return template.build_spec(source_catalog(tenant()), dcat or dest_catalog(), RunOptions(
        dynamics=options or DynamicsOptions(), **run), extras=extras(), owners=OWNERS, fallback_owner_id="u-int")


def reports(spec: MigrationSpec, dcat: DestCatalog | None = None) -> dict[str, tuple[str, str]]:
    return template.extra_reports(spec, source_catalog(tenant()), dcat or dest_catalog(), extras())


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- coverage -----------------------------------------------------------------------------------
def test_every_row_of_seed_001_lands_where_the_pair_page_says() -> None:
    s = build()
    produced: dict[str, set[str]] = {}
    for m in s.mappings:
        produced.setdefault(m.source_object, set()).add(m.dest_object)
    for source, dests in SEED_001_ROWS.items():
        assert dests <= produced.get(source, set()), source
    incident = s.mapping("work_orders->incident")
    dests = {f.dest for f in incident.fields} | {lk.dest for lk in incident.lookups}
    assert {"statecode", "statuscode", "prioritycode", "customerid_account", "title"} <= dests  # status, priority
    assert incident.owner is not None and incident.owner.dest == "ownerid"  # WorkOrder.owner
    assert {"flit_warranty_claim", "flit_site_access_notes", "flit_travel_distance_km"} <= dests  # custom fields
    assert "flit_warranty_claim" in {f.dest for f in s.mapping("work_orders->opportunity").fields}
    assert s.external_id_field == "flit_sercomid"
    tables_with_ext = {f.object for f in s.custom_fields if f.name == "flit_sercomid" and f.external_id}
    assert tables_with_ext == {m.dest_object for m in s.mappings} - {"annotation"}
    assert [o.name for o in s.custom_objects] == ["flit_asset"]
    assert {"flit_serialnumber", "flit_productname", "flit_installeddate"} <= {
        f.name for f in s.custom_fields if f.object == "flit_asset"}
    # every custom lookup a mapping fills is declared, so PrepareDestination creates it
    lookups = {(f.object, f.name): f.reference_to for f in s.custom_fields if f.type == "Lookup"}
    assert lookups[("flit_asset", "flit_accountid")] == "account"
    for m in s.mappings:
        for lk in m.lookups:
            if lk.dest.startswith("flit_"):
                assert (m.dest_object, lk.dest) in lookups, (m.name, lk.dest)


def test_load_order_puts_accounts_first_and_work_orders_after_assets() -> None:
    s = build()
    level = {name: i for i, names in enumerate(planner.levels(s)) for name in names}
    assert level["customers->account"] == 0
    assert level["customers->account"] < level["contacts->contact"] < level["assets->flit_asset"]
    assert level["assets->flit_asset"] < level["work_orders->incident"] < level["activities->task"]
    assert level["work_orders->opportunity"] < level["notes->annotation"]
    assert [m.name for m in planner.deferred_mappings(s)] == ["customers->account"]


def test_lookups_are_navigation_properties_and_activities_regard_the_right_parent() -> None:
    s = build()
    contact = s.mapping("contacts->contact").lookups[0]
    assert (contact.dest, contact.on_missing, contact.default_key) == (
        "parentcustomerid_account", "default", template.DEFAULT_ACCOUNT_KEY)
    assert s.default_records[template.DEFAULT_ACCOUNT_KEY]["object"] == "account"
    for table in ("task", "phonecall", "appointment"):
        regarding = s.mapping(f"activities->{table}").lookups[0]
        assert [t.dest for t in regarding.all_targets()] == [
            f"regardingobjectid_incident_{table}", f"regardingobjectid_opportunity_{table}",
            f"regardingobjectid_flit_asset_{table}", f"regardingobjectid_contact_{table}",
            f"regardingobjectid_account_{table}"]
    note = s.mapping("notes->annotation").lookups[0]
    assert [t.dest for t in note.typed_targets("work_order")] == ["objectid_incident", "objectid_opportunity"]
    assert note.typed_targets("customer")[0].dest == "objectid_account"


def test_annotations_are_insert_only_without_custom_columns() -> None:
    s = build()
    for name in ("notes->annotation", "attachments->annotation"):
        m = s.mapping(name)
        assert m.insert_only
        assert not [f for f in m.fields if f.dest.startswith("flit_")]
    assert s.mapping("attachments->annotation").attachment_source == "documentbody"
    assert not [f for f in s.custom_fields if f.object == "annotation"]


def test_products_bind_the_seeded_unit_group_by_a_fixed_lookup() -> None:
    s = build()
    product = s.mapping("products->product")
    assert product.natural_key == ["name"]
    fixed = {lk.dest: lk.default_key for lk in product.lookups}
    assert fixed == {"defaultuomscheduleid": template.UOM_SCHEDULE_KEY, "defaultuomid": template.UOM_KEY}
    assert s.default_records[template.UOM_SCHEDULE_KEY] == {"object": "uomschedule", "name": "Default Unit",
                                                           "match": "name"}
    out = CompiledMapping(s, product, {"__defaults__": {template.UOM_SCHEDULE_KEY: "g-1", template.UOM_KEY: "u-1"}}
                          ).apply([{"id": "prd_1", "sku": "S-1", "name": "Pump", "active": False, "unit_price": 3}])
    rec = out.records[0]
    assert (rec["defaultuomscheduleid"], rec["defaultuomid"], rec["statecode"], rec["statuscode"]) == (
        "g-1", "u-1", 1, 2)


# --- option sets ----------------------------------------------------------------------------------
def test_option_set_outputs_are_integers() -> None:
    s = build()
    m = CompiledMapping(s, s.mapping("work_orders->incident"), {"account": {"customers:cus_000001": "a-1"}})
    out = m.apply([{"id": "wo_x", "number": "WO-9", "subject": "Leak", "customer_id": "cus_000001",
                    "status": "on_hold", "priority": "urgent", "origin": "portal", "type": "repair",
                    "custom_fields": {"service_tier": "Priority"}}])
    rec = out.records[0]
    assert (rec["statecode"], rec["statuscode"], rec["prioritycode"], rec["caseorigincode"], rec["casetypecode"]) == (
        0, 2, 1, 3, 2)
    choice_columns = [k for k in rec if k in ("flit_sercompriority", "flit_servicetype", "flit_service_tier")]
    assert choice_columns and all(isinstance(rec[k], int) and rec[k] >= template.CHOICE_BASE for k in choice_columns)
    for mapping in s.mappings:
        for rule in mapping.fields:
            if rule.transform == "choice":
                assert all(v.lstrip("-").isdigit() for v in (rule.value_map or {}).values()), (mapping.name, rule.dest)
            if rule.dest in ("statecode", "statuscode", "customertypecode", "flit_accounttype"):
                assert rule.transform in ("choice", "constant"), (mapping.name, rule.dest)
                if rule.transform == "constant":
                    assert isinstance(rule.constant, int) and not isinstance(rule.constant, bool)
    created = {f.name: f for f in s.custom_fields if f.object == "incident" and f.type == "Picklist"}
    assert created["flit_sercompriority"].option_values["Urgent"] >= template.CHOICE_BASE


# --- the work-order split ---------------------------------------------------------------------------
def _routes(s: MigrationSpec, record: dict[str, Any]) -> set[str]:
    routed = set()
    for name in ("work_orders->incident", "work_orders->opportunity"):
        try:
            m = CompiledMapping(s, s.mapping(name), {})
        except KeyError:
            continue
        if m.matches(record):
            routed.add(s.mapping(name).dest_object)
    return routed


def test_split_defaults_to_reactive_cases_and_paid_project_work() -> None:
    s = build()
    assert _routes(s, {"type": "repair", "revenue": 900.0}) == {"incident"}
    assert _routes(s, {"type": "installation", "revenue": 900.0}) == {"opportunity"}
    assert _routes(s, {"type": "installation", "revenue": None}) == {"incident"}
    assert _routes(s, {"type": "maintenance", "revenue": 12.5}) == {"opportunity"}


@pytest.mark.parametrize(("split", "expect"), [
    (WorkOrderSplit(opportunity_types=["repair"], require_amount=False),
     {("repair", None): {"opportunity"}, ("installation", 5.0): {"incident"}}),
    (WorkOrderSplit(opportunity_types=["*"], require_amount=True),
     {("repair", 5.0): {"opportunity"}, ("emergency", None): {"incident"}}),
    (WorkOrderSplit(opportunity_types=[], require_amount=True),
     {("installation", 5.0): {"incident"}}),
    (WorkOrderSplit(opportunity_types=["*"], require_amount=False),
     {("repair", None): {"opportunity"}}),
])
def test_split_follows_the_options_and_every_work_order_lands_exactly_once(
        split: WorkOrderSplit, expect: dict[tuple[str, float | None], set[str]]) -> None:
    s = build(DynamicsOptions(workorder_split=split))
    for (kind, revenue), dests in expect.items():
        assert _routes(s, {"type": kind, "revenue": revenue}) == dests
    for wo in tenant().records["work_orders"]:
        assert len(_routes(s, wo)) == 1, wo["id"]


def test_split_counts_are_reported_from_discovery() -> None:
    check = json.loads(reports(build())["tier-check.json"][0])
    wo = extras()["work_orders"]
    expected = sum(wo["with_amount"].get(t, 0) for t in ("installation", "maintenance"))
    assert check["work_order_split"] == {"opportunity": expected, "incident": wo["total"] - expected}


# --- translation tables --------------------------------------------------------------------------------
def test_status_translation_lists_every_distinct_value_and_flags_unknown_ones() -> None:
    s = build()
    seen = {str(w["status"]) for w in tenant().records["work_orders"]}
    assert set(DIRTY_STATUSES) <= seen
    rows = _csv(reports(s)["status-translation.csv"][0])
    wo_rows = [r for r in rows if r["source_field"] == "work_orders.status"]
    incident = {r["source_value"]: r for r in wo_rows if r["dest_object"] == "incident"}
    opportunity = {r["source_value"]: r for r in wo_rows if r["dest_object"] == "opportunity"}
    assert set(incident) == set(opportunity) == seen
    assert (incident["Closed"]["statecode"], incident["Closed"]["statuscode"]) == ("1", "5")
    assert (opportunity["Closed"]["statecode"], opportunity["Closed"]["statuscode"]) == ("1", "3")
    assert (incident["cancelled"]["statecode"], incident["cancelled"]["statuscode_label"]) == ("2", "Cancelled")
    assert (incident["In Progress "]["statuscode"], incident["Awaiting Customer"]["statuscode"]) == ("1", "3")
    assert incident["zz-legacy-7"]["statecode"] == "" and incident["zz-legacy-7"]["review"].startswith("UNMAPPED")
    assert [v for v, r in incident.items() if r["review"]] == ["zz-legacy-7"]
    deal_rows = [r for r in rows if r["source_field"] == "deals.stage_id"]
    assert len(deal_rows) == len(extras()["pipeline_stages"]) and all(r["statecode"] for r in deal_rows)
    # the spec carries the same table as editable value maps; an unknown value is rejected, not defaulted
    state = next(f for f in s.mapping("work_orders->incident").fields if f.dest == "statecode")
    assert state.value_map is not None and "zz-legacy-7" not in state.value_map and state.default is None
    m = CompiledMapping(s, s.mapping("work_orders->incident"), {"account": {"customers:cus_000001": "a-1"}})
    out = m.apply([{"id": "wo_u", "number": "WO-U", "customer_id": "cus_000001", "status": "zz-legacy-7"}])
    assert out.records == [] and out.rejects[0].code == "unmapped_picklist_value"


def test_priority_translation_keeps_the_full_taxonomy_and_flags_unknown_labels() -> None:
    s = build()
    seen = {str(w["priority"]) for w in tenant().records["work_orders"] if w.get("priority")}
    rows = {r["source_value"]: r for r in _csv(reports(s)["priority-translation.csv"][0])}
    assert set(rows) == seen and set(DIRTY_PRIORITIES) <= seen
    assert rows["Critical"]["incident_prioritycode"] == "1" and rows["MEDIUM"]["incident_priority_label"] == "Normal"
    assert rows["low"]["incident_prioritycode"] == "3"
    assert rows["urgent"]["flit_sercompriority"] != rows["high"]["flit_sercompriority"]  # both High in Dynamics
    assert rows["sev-x"]["incident_prioritycode"] == "" and rows["sev-x"]["review"].startswith("UNMAPPED")
    assert rows["sev-x"]["flit_sercompriority_label"] == "Sev X"  # the label itself is kept


# --- accounts ------------------------------------------------------------------------------------------
def test_customers_with_the_same_name_and_domain_merge_into_the_oldest() -> None:
    found = extras()["customers"]
    assert len(found["merged"]) == 3 and all(v.startswith("cus_0") for v in found["merged"].values())
    residential = [c for c in tenant().records["customers"] if not c.get("website")][:2]
    assert residential[0]["id"] not in found["merged"] and residential[1]["id"] not in found["merged"]
    s = build()
    assert s.merged["customers"] == found["merged"]
    dup, survivor = next(iter(found["merged"].items()))
    xw = {"account": {source_key("customers", survivor): "acc-survivor"}}
    accounts = CompiledMapping(s, s.mapping("customers->account"), xw).apply(
        [r for r in tenant().records["customers"] if r["id"] in (dup, survivor)])
    assert accounts.keys == [source_key("customers", survivor)]  # the duplicate is not loaded ...
    merged = [(i.source_id, i.code) for i in accounts.issues if i.code == "merged_duplicate"]
    assert merged == [(dup, "merged_duplicate")]
    contact = CompiledMapping(s, s.mapping("contacts->contact"), xw).apply(
        [{"id": "con_z", "last_name": "Z", "customer_id": dup}])
    assert contact.records[0]["parentcustomerid_account"] == "acc-survivor"  # ... and its children follow
    assert crosswalk_aliases(s, "account", xw["account"]) == {source_key("customers", dup): "acc-survivor"}
    rows = _csv(reports(s)["account-duplicates.csv"][0])
    assert {r["duplicate_id"] for r in rows} == set(found["merged"])


def test_dedupe_can_be_turned_off() -> None:
    assert build(DynamicsOptions(dedupe_accounts=False)).merged.get("customers") is None


def test_location_strategies() -> None:
    s = build()
    loc = s.mapping("locations->account")
    constants = {f.dest: f.constant for f in loc.fields if f.transform == "constant"}
    types = next(f for f in s.custom_fields if f.object == "account" and f.name == "flit_accounttype")
    assert constants["flit_accounttype"] == types.option_values["Location"]
    assert constants["customertypecode"] == 12  # Other: this option set has no Location label
    assert "flit_locationid" in {lk.dest for lk in s.mapping("work_orders->incident").lookups}
    with_label = build(dcat=dest_catalog(location_label=True))
    assert {f.dest: f.constant for f in with_label.mapping("locations->account").fields
            if f.transform == "constant"}["customertypecode"] == 100000000
    merged = build(DynamicsOptions(location_strategy="address_merge"))
    addresses = merged.mapping("locations->customeraddress")
    assert addresses.lookups[0].dest == "parentid_account"
    assert not [m for m in merged.mappings if m.source_object == "locations" and m.dest_object == "account"]
    assert "flit_locationid" not in {lk.dest for m in merged.mappings for lk in m.lookups}
    out = CompiledMapping(merged, addresses, {"account": {"customers:cus_000001": "a-1"}}).apply(
        [{"id": "loc_1", "customer_id": "cus_000001", "name": "HQ", "street": "1 Main", "is_primary": True}])
    assert out.records[0]["addresstypecode"] == 3 and out.records[0]["parentid_account"] == "a-1"


def test_asset_strategies() -> None:
    custom = build()
    assert "assets->flit_asset" in {m.name for m in custom.mappings}
    native = build(dcat=dest_catalog(field_service=True))
    asset = native.mapping("assets->msdyn_customerasset")
    assert {lk.dest for lk in asset.lookups} >= {"msdyn_account", "msdyn_product"}
    assert asset.lookups[0].on_missing == "reject"  # an asset needs its account
    assert native.custom_objects == []
    assert "msdyn_customerasset" in {lk.dest for lk in native.mapping("work_orders->incident").lookups}
    forced = build(DynamicsOptions(asset_strategy="custom_table"), dcat=dest_catalog(field_service=True))
    assert [o.name for o in forced.custom_objects] == ["flit_asset"]
    with pytest.raises(MappingError, match="Field Service"):
        build(DynamicsOptions(asset_strategy="native"))


# --- owners and queue ------------------------------------------------------------------------------------
def test_owner_by_email_with_fallback_and_queue_for_open_unowned_cases() -> None:
    s = build(DynamicsOptions(fallback_queue="Service Dispatch"))
    assert s.default_records[template.QUEUE_KEY] == {"object": "queue", "name": "Service Dispatch", "match": "name"}
    queue = s.mapping("work_orders->queueitem")
    assert queue.insert_only
    m = CompiledMapping(s, queue, {"incident": {"work_orders:wo_1": "inc-1", "work_orders:wo_2": "inc-2",
                                                "work_orders:wo_3": "inc-3"},
                                   "__defaults__": {template.QUEUE_KEY: "q-1"}})
    out = m.apply([
        {"id": "wo_1", "type": "repair", "status": "new", "technician_id": "tec_000001"},  # owned
        {"id": "wo_2", "type": "repair", "status": "in_progress", "technician_id": "tec_000099"},  # unmatched
        {"id": "wo_3", "type": "repair", "status": "completed", "technician_id": None},  # closed
        {"id": "wo_4", "type": "installation", "revenue": 1.0, "status": "new"},  # an opportunity
    ])
    assert out.records == [{"flit_sercomid": "work_orders:wo_2", "objectid_incident": "inc-2", "queueid": "q-1"}]
    incident = CompiledMapping(s, s.mapping("work_orders->incident"), {"account": {"customers:c": "a"}}).apply(
        [{"id": "wo_2", "number": "2", "customer_id": "c", "status": "new", "technician_id": "tec_000099"}])
    assert incident.records[0]["ownerid"] == "u-int"
    assert [i.code for i in incident.issues] == ["owner_fallback"]
    assert "work_orders->queueitem" not in {m.name for m in build().mappings}


# --- tier check ---------------------------------------------------------------------------------------------
def test_tier_check_verdicts() -> None:
    s = build()
    check = json.loads(reports(s)["tier-check.json"][0])
    assert check["verdict"] == "fits Professional"
    assert check["custom_tables"]["created"] == ["flit_asset"]
    assert check["field_service_present"] is False
    assert check["fsm_volume"]["work_orders"] == len(tenant().records["work_orders"])
    assert check["custom_columns"]["incident"]["tenant"] == 5
    assert any("Field Service is not installed" in a for a in check["advisories"])
    assert "fits Professional" in reports(s)["tier-check.md"][0]
    crowded = dest_catalog(existing_custom_tables=15)
    busy = json.loads(reports(build(dcat=crowded), crowded)["tier-check.json"][0])
    assert busy["verdict"] == "needs Enterprise or consolidation" and busy["custom_tables"]["total"] == 16
    fs = dest_catalog(field_service=True, existing_custom_tables=15)
    native = json.loads(reports(build(dcat=fs), fs)["tier-check.json"][0])
    assert native["verdict"] == "fits Professional" and native["field_service_present"] is True


# --- the engine over a generated tenant -----------------------------------------------------------------------
def _run(s: MigrationSpec, t: Tenant) -> tuple[dict[str, Any], Counter[tuple[str, str]]]:
    """Every mapping, level by level, with a crosswalk of what earlier levels produced."""
    xw: dict[str, dict[str, str]] = {"__defaults__": {k: f"default-{k}" for k in s.default_records}}
    out: dict[str, Any] = {}
    rejects: Counter[tuple[str, str]] = Counter()
    for level in planner.levels(s):
        produced: dict[str, dict[str, str]] = {}
        for name in level:
            m = s.mapping(name)
            result = CompiledMapping(s, m, xw).apply(t.records[m.source_object])
            out[name] = result
            rejects.update((name, r.code) for r in result.rejects)
            for key in result.keys:
                produced.setdefault(m.dest_object, {})[key] = f"id-{key}"
        for dest, keys in produced.items():
            xw.setdefault(dest, {}).update(keys)
    return out, rejects


def test_generated_tenant_transforms_without_unexpected_rejects() -> None:
    t = tenant()
    s = build(DynamicsOptions(fallback_queue="Dispatch"))
    results, rejects = _run(s, t)
    unknown_status = sum(1 for w in t.records["work_orders"] if w["status"] == "zz-legacy-7")
    unknown_priority = sum(1 for w in t.records["work_orders"] if w["priority"] == "sev-x")
    allowed = {"orphan", "unmapped_picklist_value"}
    assert {code for _, code in rejects} <= allowed, rejects
    # orphans only where the generator planted them (a missing customer, location or parent)
    orphans = sum(n for (_, code), n in rejects.items() if code == "orphan")
    planted = sum(1 for r in t.records["locations"] if not r["customer_id"].startswith("cus_0"))
    planted += sum(1 for r in t.records["work_orders"] if r["customer_id"] and r["customer_id"].startswith("cus_9"))
    assert 0 < orphans <= planted + len(t.records["notes"]) + len(t.records["attachments"])
    unmapped = sum(n for (_, code), n in rejects.items() if code == "unmapped_picklist_value")
    assert unmapped <= 2 * (unknown_status + unknown_priority) and unmapped >= 1
    # every work order reaches exactly one of the two tables (or a reject); nothing silently lost
    wo_total = len(t.records["work_orders"])
    inc, opp = results["work_orders->incident"], results["work_orders->opportunity"]
    assert len(inc.records) + len(inc.rejects) + len(opp.records) + len(opp.rejects) == wo_total
    assert inc.skipped + opp.skipped == wo_total
    # customers: duplicates skipped with a reason, the rest loaded
    acc = results["customers->account"]
    assert len(acc.records) + acc.skipped == len(t.records["customers"]) and acc.skipped == 3
    # activities: all three tables, integer states, end after start, a regarding on each
    for table in ("appointment", "phonecall", "task"):
        rows = results[f"activities->{table}"].records
        assert rows, table
        for r in rows:
            assert isinstance(r["statecode"], int) and isinstance(r["statuscode"], int)
            assert any(k.startswith("regardingobjectid_") for k in r), r
            if "actualend" in r:
                assert r["actualend"] >= r["actualstart"]
    assert sum(len(results[f"activities->{x}"].records) + len(results[f"activities->{x}"].rejects)
               for x in ("appointment", "phonecall", "task")) == len(t.records["activities"])
    # notes and attachments on their parent, one navigation property each
    for name in ("notes->annotation", "attachments->annotation"):
        for r in results[name].records:
            assert len([k for k in r if k.startswith("objectid_")]) == 1
    # every emitted option-set column is an int
    for name, result in results.items():
        m = s.mapping(name)
        choices = {f.dest for f in m.fields if f.transform == "choice"}
        for r in result.records:
            for col in choices & set(r):
                assert isinstance(r[col], int), (name, col, r[col])
    assert results["work_orders->queueitem"].records


def test_discovery_reads_only_what_it_needs() -> None:
    src = FakeSource(tenant())
    discovery_facts(src, source_catalog(tenant()))
    # attachments: their metadata pages only, for the data-quality audit's volume and sizes
    assert set(src.read) == {"work_orders", "products", "pipeline_stages", "customers", "locations", "attachments"}


# --- the engine and spec additions this pair needs (Salesforce specs never use them) -----------------------------
def _spec(mapping: ObjectMapping, **kw: Any) -> MigrationSpec:
    return MigrationSpec(pair="p", external_id_field="ext", mappings=[mapping], fallback_owner_id="u0",
                         audit_fields=False, **kw)


def test_engine_choice_transform_emits_integers_and_refuses_label_targets() -> None:
    rule = FieldRule(dest="prioritycode", source="p", transform="choice", value_map={"high": "1"}, default="2")
    m = ObjectMapping(name="m", source_object="s", dest_object="d", fields=[rule])
    out = CompiledMapping(_spec(m), m, {}).apply([{"id": "1", "p": "HIGH"}, {"id": "2", "p": "odd"}])
    assert [r["prioritycode"] for r in out.records] == [1, 2]
    assert [i.code for i in out.issues] == ["picklist_defaulted"]
    with pytest.raises(ValidationError, match="integer option values"):
        FieldRule(dest="x", source="p", transform="choice", value_map={"a": "High"})


def test_engine_add_minutes_and_integer_constants() -> None:
    m = ObjectMapping(name="m", source_object="s", dest_object="d", fields=[
        FieldRule(dest="end", sources=["start", "minutes"], transform="add_minutes"),
        FieldRule(dest="state", transform="constant", constant=1)])
    out = CompiledMapping(_spec(m), m, {}).apply([{"id": "1", "start": "2024-01-01T23:30:00Z", "minutes": 45},
                                                  {"id": "2", "start": "2024-01-01T10:00:00+02:00"}])
    assert [r["end"] for r in out.records] == ["2024-01-02T00:15:00.000Z", "2024-01-01T08:00:00.000Z"]
    assert out.records[0]["state"] == 1 and isinstance(out.records[0]["state"], int)


def test_engine_unless_is_the_complement_of_where_and_require_present() -> None:
    cond = Condition(where={"type": ["a"]}, present=["amount"])
    taken = ObjectMapping(name="t", source_object="s", dest_object="d", where=cond.where, require_present=cond.present)
    rest = ObjectMapping(name="r", source_object="s", dest_object="e", unless=[cond])
    records: list[dict[str, Any]] = [{"id": "1", "type": "a", "amount": 1}, {"id": "2", "type": "a"},
                                     {"id": "3", "type": "b", "amount": 1}]
    s = _spec(taken)
    got = {n: CompiledMapping(s, mm, {}).apply(records).keys for n, mm in (("t", taken), ("r", rest))}
    assert got == {"t": ["s:1"], "r": ["s:2", "s:3"]}
    assert output_size(rest, records) == 2 and output_size(taken, records) == 1


def test_engine_per_target_destination_fields_and_ordered_typed_targets() -> None:
    rule = LookupRule(dest="objectid", source="pid", type_field="ptype", on_missing="reject", targets={
        "wo": [LookupTarget(source_object="w", dest_object="incident", dest="objectid_incident"),
               LookupTarget(source_object="w", dest_object="opportunity", dest="objectid_opportunity")]})
    m = ObjectMapping(name="m", source_object="n", dest_object="annotation", lookups=[rule])
    xw = {"incident": {"w:1": "i-1"}, "opportunity": {"w:2": "o-2"}}
    out = CompiledMapping(_spec(m), m, xw).apply([{"id": "a", "ptype": "wo", "pid": "1"},
                                                  {"id": "b", "ptype": "wo", "pid": "2"},
                                                  {"id": "c", "ptype": "wo", "pid": "3"}])
    assert [{k: v for k, v in r.items() if k != "ext"} for r in out.records] == [
        {"objectid_incident": "i-1"}, {"objectid_opportunity": "o-2"}]
    assert out.rejects[0].code == "orphan"
    assert rule.all_dests() == ["objectid", "objectid_incident", "objectid_opportunity"]
    with pytest.raises(ValidationError, match="filled twice"):
        ObjectMapping(name="m", source_object="n", dest_object="d", fields=[FieldRule(dest="objectid_incident",
                                                                                      source="x")], lookups=[rule])


def test_engine_fixed_lookup_points_every_record_at_a_default_record() -> None:
    rule = LookupRule(dest="defaultuomid", on_missing="default", default_key="k")
    assert rule.all_targets() == []
    m = ObjectMapping(name="m", source_object="s", dest_object="product", lookups=[rule])
    out = CompiledMapping(_spec(m), m, {"__defaults__": {"k": "uom-1"}}).apply([{"id": "1"}])
    assert out.records[0]["defaultuomid"] == "uom-1" and out.issues == []
    with pytest.raises(ValidationError, match="fixed lookup"):
        LookupRule(dest="x", on_missing="null")


def test_engine_merged_duplicates_are_skipped_and_lookups_follow_the_survivor() -> None:
    parent = ObjectMapping(name="p", source_object="c", dest_object="account")
    child = ObjectMapping(name="k", source_object="k", dest_object="contact", lookups=[
        LookupRule(dest="acc", source="cid", target=LookupTarget(source_object="c", dest_object="account"),
                   on_missing="reject")])
    s = MigrationSpec(pair="p", external_id_field="ext", mappings=[parent, child], fallback_owner_id="u0",
                      audit_fields=False, merged={"c": {"2": "1"}})
    out = CompiledMapping(s, parent, {}).apply([{"id": "1"}, {"id": "2"}])
    assert out.keys == ["c:1"] and out.skipped == 1 and out.issues[0].code == "merged_duplicate"
    xw = {"account": {"c:1": "A1"}}
    assert CompiledMapping(s, child, xw).apply([{"id": "x", "cid": "2"}]).records[0]["acc"] == "A1"
    assert crosswalk_aliases(s, "account", xw["account"]) == {"c:2": "A1"}
    assert crosswalk_aliases(s, "contact", {}) == {}

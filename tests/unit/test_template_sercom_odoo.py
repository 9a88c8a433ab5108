"""The Sercom -> Odoo pair (seed 004) as data: what the spec says, from a generated tenant and an Odoo
catalog as the connector describes it (no server: the connector's own tests run against the stand-in)."""

from __future__ import annotations

from shared.connectors.sercom.normalise import discovery_facts
from shared.mapping.engine import CompiledMapping
from shared.models import DestCatalog, DestField, DestObject, DestUser, RunOptions
from shared.pairs import for_pair
from shared.pairs.sercom_odoo import (
    LOCATION_REVIEW_OVER,
    NOTE_SUBTYPE_KEY,
    PARTS_STATUSES,
    PICKING_TYPE_KEY,
    PRIORITY,
    location_review,
)
from tests.unit.test_template_sercom_dynamics import FakeSource, source_catalog, tenant


def _obj(name: str, fields: dict[str, DestField]) -> DestObject:
    return DestObject(name=name, fields=fields)


def odoo_catalog() -> DestCatalog:
    sel = DestField(name="priority", type="selection", picklist_values=["0", "1", "2", "3"], restricted_picklist=True)
    partner = {n: DestField(name=n, type="char") for n in ("name", "email", "phone", "street", "city", "zip",
                                                           "function", "website", "comment")}
    partner["parent_id"] = DestField(name="parent_id", type="many2one", reference_to=["res.partner"])
    lead = {"name": DestField(name="name", type="char", nillable=False), "priority": sel}
    return DestCatalog(instance="https://odoo?db=x", users=[DestUser(id="2", email="admin@example.com", active=True)],
                       integration_user_id="2", audit_fields_settable=False, objects={
                           "res.partner": _obj("res.partner", partner), "crm.lead": _obj("crm.lead", lead),
                           "mail.message": _obj("mail.message", {}), "ir.attachment": _obj("ir.attachment", {})})


def spec_and_facts() -> tuple[object, dict[str, object]]:
    t = tenant()
    catalog = source_catalog(t)
    facts = discovery_facts(FakeSource(t), catalog)
    spec = for_pair("sercom-odoo").build_spec(catalog, odoo_catalog(), RunOptions(), extras=facts, owners={},
                                              fallback_owner_id="2")
    return spec, facts


def test_every_seed_row_has_its_mapping_and_odoo_names() -> None:
    spec, _ = spec_and_facts()
    names = [m.name for m in spec.mappings]  # type: ignore[attr-defined]
    assert names == ["customers->res.partner", "locations->res.partner", "contacts->res.partner",
                     "work_orders->crm.lead", "work_orders->mail.message",
                     "parts_used->x_sercom_part", "notes->mail.message", "attachments->ir.attachment"]
    assert spec.external_id_field == "x_sercomid"  # type: ignore[attr-defined]
    custom = {(f.object, f.name) for f in spec.custom_fields}  # type: ignore[attr-defined]
    assert all(name.startswith("x_") for _, name in custom)
    # create dates cannot be set: every customizable object carries the original times in x_ fields
    assert ("crm.lead", "x_original_create_date") in custom and ("res.partner", "x_original_write_date") in custom
    assert {("crm.lead", n) for n in ("x_job_status", "x_sercom_job_id", "x_technician_id", "x_status_history",
                                      "x_service_tier", "x_billing_code")} <= custom


def test_job_status_mirrors_every_value_and_priority_lands_on_odoo_strings() -> None:
    spec, facts = spec_and_facts()
    lead = spec.mapping("work_orders->crm.lead")  # type: ignore[attr-defined]
    rules = {r.dest: r for r in lead.fields}
    used = {v for v in facts["work_orders"]["status"] if v}  # type: ignore[index]
    assert used <= set(rules["x_job_status"].value_map)
    assert set(rules["priority"].value_map.values()) <= set(PRIORITY.values())
    locations = spec.mapping("locations->res.partner")  # type: ignore[attr-defined]
    assert {r.dest: r.constant for r in locations.fields}["type"] == "other"
    assert [lk.dest for lk in locations.lookups] == ["parent_id"]


def test_customers_with_more_than_three_locations_are_listed_for_review() -> None:
    facts = {"locations": {"per_customer": {"c1": LOCATION_REVIEW_OVER + 1, "c2": LOCATION_REVIEW_OVER}}}
    assert [r["customer_id"] for r in location_review(facts)] == ["c1"]


def _with_inventory(dcat: DestCatalog) -> DestCatalog:
    required = {"product_id": DestField(name="product_id", type="many2one", nillable=False,
                                        reference_to=["product.product"]),
                "location_id": DestField(name="location_id", type="many2one", nillable=False),
                "product_uom_id": DestField(name="product_uom_id", type="many2one", nillable=False)}
    picking = {"picking_type_id": DestField(name="picking_type_id", type="many2one", nillable=False)}
    product = {"name": DestField(name="name", type="char", nillable=False),
               "uom_id": DestField(name="uom_id", type="many2one", nillable=False)}
    return dcat.model_copy(update={"objects": {**dcat.objects, "stock.move.line": _obj("stock.move.line", required),
                                               "stock.picking": _obj("stock.picking", picking),
                                               "product.product": _obj("product.product", product)}})


def test_parts_take_the_inventory_path_when_discovery_finds_inventory() -> None:
    """GIVEN a database with the Inventory app WHEN the spec is proposed THEN products, one transfer per worked
    job (linked to its lead, operation type by default record) and a stock.move.line per part replace the
    x_sercom_part lines, and the parts plan says so; without Inventory the custom model stays."""
    t = tenant()
    catalog = source_catalog(t)
    facts = discovery_facts(FakeSource(t), catalog)
    template = for_pair("sercom-odoo")
    dcat = _with_inventory(odoo_catalog())
    spec = template.build_spec(catalog, dcat, RunOptions(), extras=facts, owners={}, fallback_owner_id="2")
    names = [m.name for m in spec.mappings]
    assert "parts_used->x_sercom_part" not in names and not spec.custom_objects
    assert {"products->product.product", "work_orders->stock.picking", "parts_used->stock.move.line"} <= set(names)
    picking = spec.mapping("work_orders->stock.picking")
    assert picking.where == {"status": PARTS_STATUSES}
    assert {lk.dest: (lk.default_key or lk.target.dest_object if lk.target else lk.default_key)
            for lk in picking.lookups} == {"x_lead_id": "crm.lead", "partner_id": "res.partner",
                                           "picking_type_id": PICKING_TYPE_KEY}
    assert spec.default_records[PICKING_TYPE_KEY] == {"object": "stock.picking.type", "match": "code",
                                                      "code": "outgoing"}
    line = spec.mapping("parts_used->stock.move.line")
    assert {lk.dest: lk.target.dest_object for lk in line.lookups if lk.target} == {
        "picking_id": "stock.picking", "product_id": "product.product"}
    assert all(lk.on_missing == "reject" for lk in line.lookups)
    plan = template.extra_reports(spec, catalog, dcat, facts)["parts-plan.md"][0]
    assert "Path: **stock.move.line**" in plan
    without = template.build_spec(catalog, odoo_catalog(), RunOptions(), extras=facts, owners={},
                                  fallback_owner_id="2")
    assert "parts_used->x_sercom_part" in [m.name for m in without.mappings]
    assert PICKING_TYPE_KEY not in without.default_records
    assert "Path: **x_sercom_part**" in template.extra_reports(without, catalog, odoo_catalog(), facts)[
        "parts-plan.md"][0]


def test_status_history_is_one_chatter_summary_and_notes_are_authored_by_the_technicians_partner() -> None:
    """GIVEN a job with three status changes and notes by a matched and an unmatched technician WHEN transformed
    THEN the job gets one note on its lead listing every change oldest first with its original UTC time and
    label, a malformed history is a reject naming the field, and a note's author_id is the matched user's
    partner (the unmatched one gets the fallback owner's, reported)."""
    t = tenant()
    catalog = source_catalog(t)
    facts = discovery_facts(FakeSource(t), catalog)
    dcat = odoo_catalog().model_copy(update={"users": [
        DestUser(id="2", email="admin@example.com", active=True, contact_id="3"),
        DestUser(id="6", email="ada@example.com", active=True, contact_id="9")]})
    spec = for_pair("sercom-odoo").build_spec(catalog, dcat, RunOptions(), extras=facts,
                                              owners={"tec_1": "6", "tec_2": "7"}, fallback_owner_id="2")
    xw = {"crm.lead": {"work_orders:wo_1": "41"}, "res.partner": {}, "__defaults__": {NOTE_SUBTYPE_KEY: "5"}}
    summary = CompiledMapping(spec, spec.mapping("work_orders->mail.message"), xw)
    out = summary.apply([{"id": "wo_1", "status_history": [
        {"status": "scheduled", "at": "2024-03-02T09:30:00+01:00"}, {"status": "new", "at": "2024-03-01T08:00:00Z"},
        {"status": "completed", "at": "2024-03-05T17:45:10Z"}]}, {"id": "wo_1", "status_history": [{"at": "x"}]}])
    [message] = out.records
    assert (message["model"], message["res_id"], message["subtype_id"]) == ("crm.lead", "41", "5")
    assert message["body"] == ("<p>Status history:</p><ul><li>2024-03-01 08:00:00 UTC: New</li>"
                               "<li>2024-03-02 08:30:00 UTC: Scheduled</li>"
                               "<li>2024-03-05 17:45:10 UTC: Completed</li></ul>")
    assert [(r.code, r.field) for r in out.rejects] == [("invalid_value", "body")]
    notes = CompiledMapping(spec, spec.mapping("notes->mail.message"), xw)
    note = {"parent_type": "work_order", "parent_id": "wo_1", "body": "Checked", "created_at": "2024-03-03T10:00:00Z"}
    done = notes.apply([{**note, "id": "n1", "author_id": "tec_1"}, {**note, "id": "n2", "author_id": "tec_2"},
                        {**note, "id": "n3", "author_id": "tec_404"}])
    assert [r.get("author_id") for r in done.records] == ["9", "3", "3"]  # unmatched: the fallback owner's partner
    assert {(i.source_id, i.field, i.code) for i in done.issues} >= {("n2", "author_id", "picklist_defaulted"),
                                                                    ("n3", "author_id", "picklist_defaulted")}


def test_the_data_quality_audit_counts_orphans_custom_field_usage_and_attachment_volume() -> None:
    """GIVEN a generated tenant WHEN discovery gathers its facts THEN the audit counts what the records hold and
    the pair writes it as source-audit.md beside the mapping (seed 004, migration step 1)."""
    t = tenant()
    catalog = source_catalog(t)
    facts = discovery_facts(FakeSource(t), catalog)
    audit = facts["audit"]  # type: ignore[index]
    customers = {c["id"] for c in t.records["customers"]}
    jobs = t.records["work_orders"]
    assert audit["locations_without_customer"] == sum(
        1 for loc in t.records["locations"] if loc.get("customer_id") not in customers)
    assert audit["work_orders_without_technician"] == sum(1 for w in jobs if not w.get("technician_id"))
    assert audit["work_orders_without_customer"] == sum(1 for w in jobs if w.get("customer_id") not in customers)
    assert audit["work_orders_without_technician"] > 0
    used = audit["custom_field_usage"]["work_orders"]
    assert used and all(n == sum(1 for w in jobs if (w.get("custom_fields") or {}).get(k) not in (None, ""))
                        for k, n in used.items())
    sizes = [a.get("size_bytes") or 0 for a in t.records["attachments"]]
    assert audit["attachments"] == {"count": len(sizes), "bytes": sum(sizes), "largest_bytes": max(sizes),
                                    "average_bytes": round(sum(sizes) / len(sizes))}
    spec = for_pair("sercom-odoo").build_spec(catalog, odoo_catalog(), RunOptions(), extras=facts, owners={},
                                              fallback_owner_id="2")
    report = for_pair("sercom-odoo").extra_reports(spec, catalog, odoo_catalog(), facts)["source-audit.md"][0]
    assert f"work orders without a technician: **{audit['work_orders_without_technician']}**" in report
    assert f"| work_orders | {next(iter(used))} | {used[next(iter(used))]} |" in report

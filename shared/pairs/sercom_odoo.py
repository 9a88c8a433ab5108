"""Pair template: Sercom -> Odoo CRM 17 / 18 / 19 (seed 004).

- Customer -> ``res.partner`` company, address with ``country_id`` / ``state_id`` by ISO code; a parent
  customer in ``x_parent_company_id`` (second pass).
- Service Location -> child ``res.partner`` ``type='other'`` under its customer (``parent_id``); more than
  three per customer listed for review (``locations-review.csv``).
- Contact -> ``res.partner`` person under its customer (``parent_id``), ``function`` <- title.
- Job / Work Order -> ``crm.lead`` opportunity: ``name``, ``x_job_status`` (a selection mirroring every
  Sercom status used), ``date_deadline`` <- scheduled date, ``priority`` ``'0'``-``'3'``, ``x_job_number``,
  ``x_sercom_job_id``, ``x_job_type``, the status history as JSON in ``x_status_history``.
- Technician -> ``res.users`` matched by e-mail (never created): ``user_id`` and ``x_technician_id``; an
  unmatched technician is reported (``unmatched-technicians.csv``) and kept as free text (``x_technician_ref``).
- Job status history -> one chatter note (``mail.message``, comment, Note subtype) on the lead summing up every
  transition with its original time in the text.
- Parts used -> with Inventory installed, ``stock.move.line`` in one draft transfer (``stock.picking``) per worked
  job, linked to its lead, products -> ``product.product``; without it, ``x_sercom_part`` lines (a custom model)
  on their lead (decided at discovery from the models found, shown in ``parts-plan.md``).
- Notes -> chatter notes (``mail.message``) on their record, original date; ``author_id`` the partner of the
  technician's matched user (the Sercom author also in ``x_original_author``).
- Attachments -> ``ir.attachment`` on their record (``res_model`` / ``res_id``).
- Custom fields -> ``x_<key>`` fields typed from the data (``ir.model.fields``).
- Automation rules -> ``automation-rules-odoo.json``: ``base.automation`` / ``ir.actions.server``
  templates with rebuild steps.

Create and write dates cannot be set through Odoo's API (log-access fields): every record carries
``x_original_create_date`` / ``x_original_write_date``.
"""

from __future__ import annotations

import json
from typing import Any

from shared.canonical import norm, priority_of
from shared.connectors import registry
from shared.connectors.sercom.normalise import audit_markdown
from shared.mapping.spec import CustomObjectSpec, FieldRule, LookupRule, LookupTarget
from shared.models import DestCatalog, RunOptions, SourceCatalog
from shared.pairs.builder import MigrationSpec, ObjectMapping, OwnerRule, SpecBuilder, target
from shared.reports import csv_text

PAIR = "sercom-odoo"
SOURCE, DESTINATION = "sercom", "odoo"
NOTE_SUBTYPE_KEY = "flitstack:note-subtype"
PICKING_TYPE_KEY = "flitstack:picking-type"
PART_MODEL = "x_sercom_part"
#: Job statuses in which a technician has worked and parts get used: each such job gets one transfer
#: (``stock.picking``) when Inventory is installed; a part on a job in another status has no transfer to
#: land in and is rejected (reported, never dropped).
PARTS_STATUSES = ["in_progress", "on_hold", "completed"]
#: More service locations than this under one customer are listed for manual review (seed 004).
LOCATION_REVIEW_OVER = 3
#: What discovery describes in the database (absent models are simply missing from the catalog).
DEST_OBJECTS: list[str] = ["res.partner", "crm.lead", "mail.message", "ir.attachment", "res.users",
                           "stock.move.line", "stock.picking", "product.product", PART_MODEL]

PART_TABLE = CustomObjectSpec(name=PART_MODEL, label="Sercom Part Used", plural_label="Sercom Parts Used")

#: Which Sercom object a note's or attachment's ``parent_type`` names, and the Odoo model it landed in.
PARENT_MODELS = {"customer": "res.partner", "contact": "res.partner", "work_order": "crm.lead"}
PARENTS = {
    "customer": LookupTarget(source_object="customers", dest_object="res.partner"),
    "contact": LookupTarget(source_object="contacts", dest_object="res.partner"),
    "work_order": LookupTarget(source_object="work_orders", dest_object="crm.lead"),
}
#: Canonical priority -> crm.lead.priority (``'0'`` Low ... ``'3'`` Very High).
PRIORITY = {"low": "0", "normal": "1", "high": "2", "urgent": "3"}
JOB_TYPES = ["repair", "maintenance", "installation", "inspection", "emergency"]
WARRANTY = ["in_warranty", "out_of_warranty", "unknown"]


def _label(value: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in norm(value).split("_")) or value


def _declared(catalog: SourceCatalog, obj: str, field: str) -> list[str]:
    return next((f.picklist_values for o in catalog.objects if o.name == obj for f in o.fields
                 if f.name == field and f.picklist_values), [])


def status_map(catalog: SourceCatalog, extras: dict[str, Any]) -> dict[str, str]:
    """Every status Sercom declares or its history uses -> its label in ``x_job_status`` (value by value)."""
    used = [v for v in extras.get("work_orders", {}).get("status", {}) if v]
    return {v: _label(v) for v in dict.fromkeys([*_declared(catalog, "work_orders", "status"), *used])}


def priority_map(catalog: SourceCatalog, extras: dict[str, Any]) -> dict[str, str]:
    """Every priority declared or used -> ``'0'``-``'3'`` through the canonical priorities; unknown ones -> Medium."""
    used = [v for v in extras.get("work_orders", {}).get("priority", {}) if v]
    values = dict.fromkeys([*_declared(catalog, "work_orders", "priority"), *used])
    return {v: PRIORITY.get(norm(v), PRIORITY.get(priority_of(v) or "", "1")) for v in values}


def build_spec(
    catalog: SourceCatalog,
    dcat: DestCatalog,
    options: RunOptions,
    *,
    extras: dict[str, Any],
    owners: dict[str, str],
    fallback_owner_id: str,
) -> MigrationSpec:
    """Propose the mapping for this tenant and database (the document a person reviews and approves)."""
    b = SpecBuilder(catalog, dcat, options, registry.destination(DESTINATION).capabilities,
                    source_label=registry.source(SOURCE).label)
    statuses = status_map(catalog, extras)
    cust = target("customers", "res.partner")
    lead = target("work_orders", "crm.lead")
    on_parent = {"on_missing": "reject"}

    # Schema that exists only because of this pair (x_ fields through ir.model.fields).
    b.custom("res.partner", "x_parent_company_id", "Parent Company (Sercom)", "Lookup", reference_to="res.partner")
    b.custom("res.partner", "x_account_type", "Sercom Account Type", "Picklist", restricted=True,
             picklist_values=[_label(v) for v in ["commercial", "residential", "government", "industrial"]])
    b.custom("res.partner", "x_industry", "Industry", "Text")
    b.custom("res.partner", "x_annual_revenue", "Annual Revenue", "Number")
    b.custom("res.partner", "x_is_primary_location", "Primary Service Location", "Checkbox")
    b.custom("res.partner", "x_sercom_role", "Sercom Role", "Text")
    b.custom("res.partner", "x_is_prospect", "Prospect", "Checkbox")
    b.custom("crm.lead", "x_job_status", "Job Status", "Picklist", restricted=True,
             picklist_values=list(dict.fromkeys(statuses.values())))
    b.custom("crm.lead", "x_job_number", "Job Number", "Text")
    b.custom("crm.lead", "x_sercom_job_id", "Sercom Job Id", "Text")
    b.custom("crm.lead", "x_job_type", "Job Type", "Picklist", restricted=True,
             picklist_values=[_label(v) for v in JOB_TYPES])
    b.custom("crm.lead", "x_origin", "Origin", "Text")
    b.custom("crm.lead", "x_technician_id", "Technician", "Lookup", reference_to="res.users")
    b.custom("crm.lead", "x_technician_ref", "Technician (Sercom)", "Text")
    b.custom("crm.lead", "x_location_id", "Service Location", "Lookup", reference_to="res.partner")
    b.custom("crm.lead", "x_contact_id", "Contact", "Lookup", reference_to="res.partner")
    b.custom("crm.lead", "x_completed_at", "Completed At", "DateTime")
    b.custom("crm.lead", "x_labor_hours", "Labor Hours", "Number")
    b.custom("crm.lead", "x_resolution_code", "Resolution Code", "Text")
    b.custom("crm.lead", "x_status_history", "Status History (JSON)", "LongTextArea")
    for obj in ("mail.message",):
        b.custom(obj, "x_original_author", "Original Author (Sercom)", "Text")
    inventory = inventory_installed(dcat)
    if inventory:
        b.custom("stock.picking", "x_lead_id", "Opportunity (Sercom job)", "Lookup", reference_to="crm.lead")
        b.custom("stock.move.line", "x_unit_cost", "Unit Cost (Sercom)", "Number")
        b.custom("stock.move.line", "x_warranty_status", "Warranty Status", "Picklist", restricted=True,
                 picklist_values=[_label(v) for v in WARRANTY])
    else:
        b.custom(PART_MODEL, "x_lead_id", "Job", "Lookup", reference_to="crm.lead")
        b.custom(PART_MODEL, "x_part_number", "Part Number", "Text")
        b.custom(PART_MODEL, "x_product_ref", "Product (Sercom)", "Text")
        b.custom(PART_MODEL, "x_quantity", "Quantity", "Number")
        b.custom(PART_MODEL, "x_unit_cost", "Unit Cost", "Number")
        b.custom(PART_MODEL, "x_serial_number", "Serial Number", "Text")
        b.custom(PART_MODEL, "x_warranty_status", "Warranty Status", "Picklist", restricted=True,
                 picklist_values=[_label(v) for v in WARRANTY])

    address = {"street": "street", "city": "city", "zip": "zip"}
    b.add(ObjectMapping(
        name="customers->res.partner", source_object="customers", dest_object="res.partner",
        description="Customers as companies; a parent customer in x_parent_company_id (second pass: parent_id "
                    "would overwrite a subsidiary's address with its parent's)",
        fields=[
            b.text("res.partner", "name", "name", required=True),
            FieldRule(dest="is_company", transform="constant", constant=True),
            FieldRule(dest="x_account_type", source="account_type", transform="picklist",
                      value_map={v: _label(v) for v in ["commercial", "residential", "government", "industrial"]}),
            *b.rows("res.partner", {"phone": "phone", "website": "website", "x_industry": "industry"}),
            FieldRule(dest="email", source="email", transform="email"),
            FieldRule(dest="x_annual_revenue", source="annual_revenue", transform="currency"),
            *b.rows("res.partner", {k: f"billing_{v}" for k, v in address.items()}),
            FieldRule(dest="country_id", source="billing_country"),
            FieldRule(dest="state_id", source="billing_state"),
            *b.tenant_fields("customers", "res.partner"),
        ],
        lookups=[LookupRule(dest="x_parent_company_id", source="parent_id", target=cust, deferred=True)],
    ))
    b.add(ObjectMapping(
        name="locations->res.partner", source_object="locations", dest_object="res.partner",
        description=f"Service locations as child addresses (type 'other') of their customer; more than "
                    f"{LOCATION_REVIEW_OVER} under one customer are listed in locations-review.csv",
        fields=[
            b.text("res.partner", "name", "name"),
            FieldRule(dest="type", transform="constant", constant="other"),
            *b.rows("res.partner", address),
            FieldRule(dest="country_id", source="country"),
            FieldRule(dest="state_id", source="state"),
            FieldRule(dest="x_is_primary_location", source="is_primary", transform="boolean"),
        ],
        lookups=[LookupRule(dest="parent_id", source="customer_id", target=cust, **on_parent)],  # type: ignore[arg-type]
    ))
    mobile = {"mobile": "mobile"} if b.field("res.partner", "mobile") is not None else {}
    b.add(ObjectMapping(
        name="contacts->res.partner", source_object="contacts", dest_object="res.partner",
        description="Contacts as people under their customer (a contact without one stays a standalone person)",
        fields=[
            FieldRule(dest="name", sources=["first_name", "last_name"], transform="full_name", required=True),
            FieldRule(dest="type", transform="constant", constant="contact"),
            FieldRule(dest="email", source="email", transform="email"),
            *b.rows("res.partner", {"phone": "phone", **mobile, "function": "title", "x_sercom_role": "role"}),
            FieldRule(dest="x_is_prospect", source="is_prospect", transform="boolean"),
            *b.tenant_fields("contacts", "res.partner"),
        ],
        lookups=[LookupRule(dest="parent_id", source="customer_id", target=cust)],
    ))
    b.add(ObjectMapping(
        name="work_orders->crm.lead", source_object="work_orders", dest_object="crm.lead",
        description="Jobs as opportunities; status in x_job_status (every Sercom value), priority '0'-'3', "
                    "technician by e-mail (user_id, x_technician_id; unmatched: reported, x_technician_ref)",
        fields=[
            FieldRule(dest="name", sources=["number", "subject"], transform="full_name", required=True),
            FieldRule(dest="type", transform="constant", constant="opportunity"),
            FieldRule(dest="x_job_status", source="status", transform="picklist", value_map=statuses),
            FieldRule(dest="x_job_number", source="number"),
            FieldRule(dest="x_sercom_job_id", source="id"),
            FieldRule(dest="x_job_type", source="type", transform="picklist",
                      value_map={v: _label(v) for v in JOB_TYPES}),
            FieldRule(dest="x_origin", source="origin"),
            FieldRule(dest="priority", source="priority", transform="picklist",
                      value_map=priority_map(catalog, extras)),
            FieldRule(dest="date_deadline", source="scheduled_date", transform="date"),
            FieldRule(dest="description", source="description", transform="text"),
            FieldRule(dest="expected_revenue", source="revenue", transform="currency"),
            FieldRule(dest="x_completed_at", source="completed_at", transform="datetime"),
            FieldRule(dest="x_labor_hours", source="labor_hours", transform="number"),
            FieldRule(dest="x_resolution_code", source="resolution_code"),
            FieldRule(dest="x_status_history", source="status_history", transform="json"),
            FieldRule(dest="x_technician_id", source="technician_id", transform="picklist", value_map=owners),
            FieldRule(dest="x_technician_ref", source="technician_id"),
            *b.tenant_fields("work_orders", "crm.lead"),
        ],
        lookups=[LookupRule(dest="partner_id", source="customer_id", target=cust),
                 LookupRule(dest="x_location_id", source="location_id", target=target("locations", "res.partner")),
                 LookupRule(dest="x_contact_id", source="contact_id", target=target("contacts", "res.partner"))],
        owner=OwnerRule(dest="user_id", source="technician_id"),
    ))
    note_subtype = LookupRule(dest="subtype_id", on_missing="default", default_key=NOTE_SUBTYPE_KEY)
    b.add(ObjectMapping(
        name="work_orders->mail.message", source_object="work_orders", dest_object="mail.message",
        description="The job's status history as one chatter note on its lead: every change with its original "
                    "time (UTC) and status label (the same history as JSON in x_status_history)",
        require_present=["status_history"],
        fields=[
            FieldRule(dest="body", source="status_history", transform="history_html", value_map=statuses,
                      required=True),
            FieldRule(dest="subject", transform="constant", constant="Sercom status history"),
            FieldRule(dest="model", transform="constant", constant="crm.lead"),
            FieldRule(dest="message_type", transform="constant", constant="comment"),
            FieldRule(dest="date", source="updated_at", transform="datetime"),  # as of the job's last change
        ],
        lookups=[LookupRule(dest="res_id", source="id", target=lead, on_missing="reject"),
                 note_subtype.model_copy()],
    ))
    if inventory:
        _inventory_parts(b, lead, cust)
    else:
        b.add(ObjectMapping(
            name=f"parts_used->{PART_MODEL}", source_object="parts_used", dest_object=PART_MODEL,
            description="Parts used, one line each on their job: Inventory is not installed (parts-plan.md)",
            fields=[
                FieldRule(dest="x_name", sources=["part_number"], transform="full_name"),
                FieldRule(dest="x_part_number", source="part_number"),
                FieldRule(dest="x_product_ref", source="product_id"),
                FieldRule(dest="x_quantity", source="quantity", transform="number"),
                FieldRule(dest="x_unit_cost", source="unit_cost", transform="currency"),
                FieldRule(dest="x_serial_number", source="serial_number"),
                FieldRule(dest="x_warranty_status", source="warranty_status", transform="picklist",
                          value_map={v: _label(v) for v in WARRANTY}),
            ],
            lookups=[LookupRule(dest="x_lead_id", source="work_order_id", target=lead, on_missing="reject")],
        ))
    parent = {"type_field": "parent_type", "targets": PARENTS, "on_missing": "reject"}
    b.add(ObjectMapping(
        name="notes->mail.message", source_object="notes", dest_object="mail.message",
        description="Internal notes as chatter notes on their record (Note subtype), with the original date; "
                    "author_id = the partner of the technician's matched user (unmatched: the fallback owner's, "
                    "reported), the Sercom author in x_original_author",
        fields=[
            FieldRule(dest="body", source="body", transform="text", required=True),
            FieldRule(dest="subject", source="title"),
            FieldRule(dest="model", source="parent_type", transform="picklist", value_map=PARENT_MODELS,
                      on_invalid="reject"),
            FieldRule(dest="message_type", transform="constant", constant="comment"),
            FieldRule(dest="date", source="created_at", transform="datetime"),
            FieldRule(dest="x_original_author", source="author_id", transform="user_list"),
            _author_rule(owners, dcat, fallback_owner_id),
        ],
        lookups=[LookupRule(dest="res_id", source="parent_id", **parent),  # type: ignore[arg-type]
                 note_subtype.model_copy()],
    ))
    b.add(ObjectMapping(
        name="attachments->ir.attachment", source_object="attachments", dest_object="ir.attachment",
        description="Files, with their bytes (base64 datas), on their record (res_model / res_id)",
        attachment_source="datas",
        fields=[
            FieldRule(dest="name", source="file_name", required=True),
            FieldRule(dest="mimetype", source="content_type"),
            FieldRule(dest="res_model", source="parent_type", transform="picklist", value_map=PARENT_MODELS,
                      on_invalid="reject"),
        ],
        lookups=[LookupRule(dest="res_id", source="parent_id", **parent)],  # type: ignore[arg-type]
    ))
    b.conform_picklists()
    b.conform_updateable()
    b.check_required()
    defaults = {NOTE_SUBTYPE_KEY: {"object": "mail.message.subtype", "match": "name", "name": "Note"}}
    if inventory:  # the seeded "Delivery Orders" operation type (stock.picking_type_out)
        defaults[PICKING_TYPE_KEY] = {"object": "stock.picking.type", "match": "code", "code": "outgoing"}
    return b.finish(PAIR, custom_objects=[PART_TABLE], owners=owners, fallback_owner_id=fallback_owner_id,
                    default_records=defaults)


def _author_rule(owners: dict[str, str], dcat: DestCatalog, fallback_owner_id: str) -> FieldRule:
    """``author_id`` (a partner): the partner of the user a technician was matched to; an unmatched one gets the
    fallback owner's partner, reported per note (Odoo would put the API user there anyway)."""
    partner = {u.id: u.contact_id for u in dcat.users if u.contact_id}
    authors = {tech: partner[user] for tech, user in owners.items() if user in partner}
    return FieldRule(dest="author_id", source="author_id", transform="picklist", value_map=authors,
                     default=partner.get(fallback_owner_id))


def inventory_installed(dcat: DestCatalog) -> bool:
    """Whether the database has the Inventory app: discovery found its models (``stock.move.line``,
    ``stock.picking``, ``product.product``); a database without it answers "Object ... doesn't exist"."""
    return all(m in dcat.objects for m in ("stock.move.line", "stock.picking", "product.product"))


def _inventory_parts(b: SpecBuilder, lead: LookupTarget, cust: LookupTarget) -> None:
    """Inventory installed: products -> ``product.product``; each worked job -> one draft delivery transfer
    (``stock.picking``, linked to its opportunity by ``x_lead_id``); each part -> a ``stock.move.line`` in it
    (Odoo gives the line its ``stock.move``). Transfers stay draft: validating them moves stock and values it,
    a decision for the Odoo administrator."""
    b.add(ObjectMapping(
        name="products->product.product", source_object="products", dest_object="product.product",
        description="Sercom products as consumable products (internal reference = SKU), for the parts' stock moves",
        fields=[
            b.text("product.product", "name", "name", required=True),
            FieldRule(dest="default_code", source="sku"),
            FieldRule(dest="type", transform="constant", constant="consu"),
            FieldRule(dest="description", source="description", transform="text"),
            FieldRule(dest="list_price", source="unit_price", transform="currency"),
        ],
    ))
    b.add(ObjectMapping(
        name="work_orders->stock.picking", source_object="work_orders", dest_object="stock.picking",
        description=f"One draft delivery transfer per job a technician worked on (status "
                    f"{', '.join(PARTS_STATUSES)}), linked to its opportunity (x_lead_id): Inventory is installed "
                    "(parts-plan.md)",
        where={"status": PARTS_STATUSES},
        fields=[FieldRule(dest="origin", source="number")],  # scheduled_date: Odoo's "now" (never empty)
        lookups=[LookupRule(dest="x_lead_id", source="id", target=lead, on_missing="reject"),
                 LookupRule(dest="partner_id", source="customer_id", target=cust),
                 LookupRule(dest="picking_type_id", on_missing="default", default_key=PICKING_TYPE_KEY)],
    ))
    b.add(ObjectMapping(
        name="parts_used->stock.move.line", source_object="parts_used", dest_object="stock.move.line",
        description="Parts used as stock move lines in their job's transfer (product, quantity, serial as lot "
                    "name); a part of a job without a transfer is rejected",
        fields=[
            FieldRule(dest="quantity", source="quantity", transform="number"),
            FieldRule(dest="lot_name", source="serial_number"),
            FieldRule(dest="x_unit_cost", source="unit_cost", transform="currency"),
            FieldRule(dest="x_warranty_status", source="warranty_status", transform="picklist",
                      value_map={v: _label(v) for v in WARRANTY}),
        ],
        lookups=[LookupRule(dest="picking_id", source="work_order_id",
                            target=target("work_orders", "stock.picking"), on_missing="reject"),
                 LookupRule(dest="product_id", source="product_id", target=target("products", "product.product"),
                            on_missing="reject")],
    ))


# ======================================================================================
# reports beside the mapping document
# ======================================================================================
def location_review(extras: dict[str, Any]) -> list[dict[str, Any]]:
    """Customers with more than :data:`LOCATION_REVIEW_OVER` service locations (seed 004: manual review)."""
    per: dict[str, int] = extras.get("locations", {}).get("per_customer", {})
    return [{"customer_id": c, "locations": n, "reason": f"more than {LOCATION_REVIEW_OVER} service locations: "
             "review the partner hierarchy (child addresses of type 'other')"}
            for c, n in sorted(per.items()) if n > LOCATION_REVIEW_OVER]


def parts_plan(dcat: DestCatalog) -> str:
    """Which way parts land, decided at discovery and shown at sign-off."""
    lines = ["# Parts used: how they land in Odoo", ""]
    if inventory_installed(dcat):
        lines += ["Path: **stock.move.line**. The Inventory app is installed (discovery found `stock.picking`, "
                  "`stock.move.line` and `product.product`).", "",
                  "- Sercom products become `product.product` (consumable, internal reference = SKU);",
                  f"- each job a technician worked on (status {', '.join(PARTS_STATUSES)}) gets one draft delivery "
                  "transfer (`stock.picking`, operation type `stock.picking_type_out`, origin = job number) linked "
                  "to its opportunity by `x_lead_id`;",
                  "- each part becomes a `stock.move.line` in that transfer (quantity, serial number as `lot_name`, "
                  "unit cost and warranty in `x_` fields); Odoo gives the line its `stock.move`;",
                  "- transfers are left in draft: validating them moves stock and values it, which is the Odoo "
                  "administrator's decision. A part on a job in another status has no transfer and is rejected "
                  "(rejects.csv), never dropped."]
    else:
        lines += ["Path: **x_sercom_part**. The Inventory app is not installed (no `stock.move.line` model): parts "
                  "land as `x_sercom_part` records (a custom model), one per Sercom part, linked to their job's "
                  "opportunity (`x_lead_id`), rather than as one JSON text on the lead: each part stays a record "
                  "that is reconciled, updated by a delta run and rolled back on its own (decision D-040). "
                  "Install Inventory before the migration to get stock moves instead."]
    return "\n".join(lines) + "\n"


def automation_templates(catalog: SourceCatalog) -> list[dict[str, Any]]:
    """Sercom's automation rules as ``base.automation`` / ``ir.actions.server`` templates to rebuild by hand."""
    out = []
    for rule in catalog.automation_rules:
        obj = str(rule.get("object") or "")
        model = {"work_orders": "crm.lead", "customers": "res.partner", "contacts": "res.partner"}.get(obj, "crm.lead")
        out.append({
            "source_rule": {k: rule.get(k) for k in ("id", "name", "object", "trigger", "conditions", "actions",
                                                     "active")},
            "base.automation": {"name": f"[Sercom] {rule.get('name')}", "model_id": model,
                                "trigger": "on_create_or_write", "active": False,
                                "filter_domain": "[]",
                                "rebuild_filter_from": [str(c) for c in rule.get("conditions", [])]},
            "ir.actions.server": [{"name": str(a), "model_id": model, "state": "code",
                                   "code": f"# TODO rebuild: {a}"} for a in rule.get("actions", [])],
            "rebuild_steps": [
                "Settings > Technical > Automation Rules > New (or Studio > Automations)",
                f"Model: {model}; trigger: {rule.get('trigger')}",
                *[f"Condition: {c}" for c in rule.get("conditions", [])],
                *[f"Action: {a} (server action, or an e-mail template for notifications)"
                  for a in rule.get("actions", [])],
            ],
        })
    return out


def extra_reports(spec: MigrationSpec, catalog: SourceCatalog, dcat: DestCatalog, extras: dict[str, Any]
                  ) -> dict[str, tuple[str, str]]:
    """Location review, the parts plan, automation templates, the source's data-quality audit."""
    return {
        "source-audit.md": (audit_markdown(extras), "text/markdown; charset=utf-8"),
        "locations-review.csv": (csv_text(location_review(extras), ["customer_id", "locations", "reason"]),
                                 "text/csv"),
        "parts-plan.md": (parts_plan(dcat), "text/markdown; charset=utf-8"),
        "automation-rules-odoo.json": (json.dumps(automation_templates(catalog), indent=2, sort_keys=True),
                                       "application/json"),
    }

#: The pair's object table as data: source object -> the destination objects its records land in (the
#: estimate reads it before any credentials; a unit test holds it to what ``build_spec`` proposes).
OBJECT_TABLE: dict[str, list[str]] = {
    "customers": ["res.partner"],
    "locations": ["res.partner"],
    "contacts": ["res.partner"],
    "work_orders": ["crm.lead", "mail.message"],
    "parts_used": ["x_sercom_part"],
    "notes": ["mail.message"],
    "attachments": ["ir.attachment"],
}
#: Destination objects the run creates (custom objects/tables/modules/models) before loading.
CREATED_OBJECTS: list[str] = ["x_sercom_part"]

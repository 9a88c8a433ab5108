"""Pair template: Sercom -> Microsoft Dynamics 365 Sales / Dataverse (seed 001).

Covers every row of the pair's object table:

| Sercom | Dataverse |
|---|---|
| Company / Customer | ``account``, one per name + domain (``spec.merged``); ``parentaccountid`` in the fix-up pass |
| Contact | ``contact`` with ``parentcustomerid_account``; no/unknown account -> the placeholder account |
| WorkOrder | ``incident`` or ``opportunity`` by ``options.dynamics.workorder_split`` (complementary filters) |
| WorkOrder.status | ``statecode`` + ``statuscode`` through a translation table discovery builds from every value |
| WorkOrder.priority | incident ``prioritycode`` + the full taxonomy in the choice column ``flit_sercompriority`` |
| WorkOrder.owner | ``ownerid`` by technician e-mail, else the fallback user; open cases routed to a fallback queue |
| Location | ``account`` (type Location) under its customer, or ``customeraddress`` rows of the customer account |
| Asset | ``msdyn_customerasset`` (Field Service installed) or the custom table ``flit_asset`` |
| Product / Service | ``product`` (name is the match key), bound to the seeded unit group / unit |
| Activity History | ``appointment`` (visits, meetings) / ``phonecall`` (calls) / ``task`` (e-mails, the rest) |
| WorkOrder.custom_fields | ``flit_<key>`` columns on incident / opportunity (and account, contact, asset for theirs) |
| Notes, attachments | ``annotation`` on their parent (insert-only: a note cannot carry the external-id column) |

Option sets are integers: every choice rule uses the ``choice`` transform, so the payload holds the
option value (``prioritycode: 1``), never a Sercom label. Value maps are plain data in the spec, the
document a person edits at mapping sign-off; a value without a target rejects its record with
``unmapped_picklist_value`` instead of being defaulted silently.

Lookups are named by navigation property (``customerid_account``, ``regardingobjectid_incident_task``)
and hold the target's id; the connector turns them into ``@odata.bind``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.canonical import STATES, norm, priority_of, state_of
from shared.connectors import registry
from shared.connectors.dynamics.capabilities import CAPABILITIES
from shared.errors import MappingError
from shared.mapping.spec import (
    Condition,
    CustomObjectSpec,
    FieldRule,
    LookupCandidate,
    LookupRule,
    LookupTarget,
    MigrationSpec,
    ObjectMapping,
    OwnerRule,
)
from shared.models import DestCatalog, RunOptions, SourceCatalog
from shared.pairs.builder import SpecBuilder, target
from shared.reports import csv_text

PAIR = "sercom-dynamics"
SOURCE = "sercom"
DEFAULT_ACCOUNT_KEY = "flitstack:default-account"
UOM_SCHEDULE_KEY = "flitstack:uom-schedule"
UOM_KEY = "flitstack:uom"
QUEUE_KEY = "flitstack:fallback-queue"
#: Seeded in every Dataverse environment: the unit group and base unit a product must name.
UOM_SCHEDULE_NAME = "Default Unit"
UOM_NAME = "Primary Unit"
FIELD_SERVICE_ASSET = "msdyn_customerasset"
CUSTOM_ASSET = "flit_asset"
#: Custom tables per app in Sales Professional (licensing guide, Appendix D); Enterprise has no such cap.
PROFESSIONAL_TABLE_LIMIT = 15
#: The pair page's own rule of thumb for custom columns on a Professional destination (advisory only).
PROFESSIONAL_COLUMN_ADVISORY = 15
#: First value of the options this pair creates (the destination's declared choice numbering).
CHOICE_BASE = CAPABILITIES.integer_choices_from

#: Dataverse logical names discovery describes (absent ones - Field Service, flit_asset before a first run - skipped).
DEST_OBJECTS: list[str] = [
    "account", "contact", "customeraddress", "incident", "opportunity", "product", "task", "phonecall", "appointment",
    "annotation", "queueitem", FIELD_SERVICE_ASSET, CUSTOM_ASSET,
]

CUSTOM_ASSET_TABLE = CustomObjectSpec(name=CUSTOM_ASSET, label="Asset", plural_label="Assets")

# --- reference option values (Dataverse defaults; the describe's labels win when present) -----------
INCIDENT_STATE = {0: "Active", 1: "Resolved", 2: "Canceled"}
INCIDENT_STATUS = {1: "In Progress", 2: "On Hold", 3: "Waiting for Details", 4: "Researching", 5: "Problem Solved",
                   1000: "Information Provided", 6: "Canceled", 2000: "Merged"}
OPPORTUNITY_STATE = {0: "Open", 1: "Won", 2: "Lost"}
OPPORTUNITY_STATUS = {1: "In Progress", 2: "On Hold", 3: "Won", 4: "Canceled", 5: "Out-Sold"}
INCIDENT_PRIORITY = {1: "High", 2: "Normal", 3: "Low"}
CASE_ORIGIN = {"phone": 1, "email": 2, "web": 3, "portal": 3}
CASE_TYPE = {"repair": 2, "emergency": 2, "maintenance": 3, "installation": 3, "inspection": 3}  # Problem / Request
CUSTOMER_TYPE_CUSTOMER, CUSTOMER_TYPE_OTHER = 3, 12
ADDRESS_TYPE = {"true": "3", "false": "2"}  # primary location -> Primary, the others -> Ship To
#: (statecode, statuscode) of a completed activity, per table.
ACTIVITY_DONE = {"task": (1, 5), "phonecall": (1, 2), "appointment": (1, 3)}
ACTIVITY_TABLE = {"visit": "appointment", "meeting": "appointment", "call": "phonecall"}  # the rest: task

#: Canonical work-order states (``shared.canonical.STATES``): (incident state, status), (opportunity state, status).
STATUS_TARGETS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "open": ((0, 1), (0, 1)),
    "on_hold": ((0, 2), (0, 2)),
    "waiting": ((0, 3), (0, 2)),
    "done": ((1, 5), (1, 3)),
    "cancelled": ((2, 6), (2, 4)),
}
assert set(STATUS_TARGETS) == set(STATES), "every canonical state has its Dataverse state and status"
#: Canonical priorities -> incident prioritycode.
PRIORITY_CODE = {"high": 1, "normal": 2, "low": 3}


# ======================================================================================
# translation tables
# ======================================================================================
@dataclass(frozen=True)
class StatusRow:
    value: str
    count: int
    canonical: str | None  # None: not recognised, a person must choose

    def targets(self, opportunity: bool) -> tuple[int, int] | None:
        if self.canonical is None:
            return None
        return STATUS_TARGETS[self.canonical][1 if opportunity else 0]


def status_rows(extras: dict[str, Any]) -> list[StatusRow]:
    counts: dict[str, int] = extras.get("work_orders", {}).get("status", {})
    return [StatusRow(v, int(n), state_of(v)) for v, n in sorted(counts.items()) if v != ""]


def priority_rows(extras: dict[str, Any]) -> list[tuple[str, int, int | None]]:
    counts: dict[str, int] = extras.get("work_orders", {}).get("priority", {})
    return [(v, int(n), PRIORITY_CODE.get(priority_of(v) or "")) for v, n in sorted(counts.items()) if v != ""]


def _label(value: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in norm(value).split("_")) or value


# ======================================================================================
# build_spec
# ======================================================================================
def build_spec(
    catalog: SourceCatalog,
    dcat: DestCatalog,
    options: RunOptions,
    *,
    extras: dict[str, Any],
    owners: dict[str, str],
    fallback_owner_id: str,
) -> MigrationSpec:
    """Propose the mapping for this tenant and environment (the document a person reviews and approves)."""
    b = SpecBuilder(catalog, dcat, options, CAPABILITIES, source_label=registry.source(SOURCE).label)
    dyn = options.dynamics
    defaults: dict[str, dict[str, str]] = {
        DEFAULT_ACCOUNT_KEY: {"object": "account", "name": "Sercom contacts without an account"},
    }
    merged: dict[str, dict[str, str]] = {}
    customers = extras.get("customers", {})
    if dyn.dedupe_accounts and customers.get("merged"):
        merged["customers"] = dict(customers["merged"])
    if extras.get("products", {}).get("merged"):
        merged["products"] = dict(extras["products"]["merged"])

    asset_table = _asset_table(dcat, dyn.asset_strategy)
    cust, contact = target("customers", "account"), target("contacts", "contact")
    loc_accounts = dyn.location_strategy == "location_accounts"

    # --- accounts -------------------------------------------------------------------------
    account_types = ["commercial", "residential", "government", "industrial"]
    with_types = next((f.picklist_values for o in catalog.objects if o.name == "customers" for f in o.fields
                       if f.name == "account_type" and f.picklist_values), account_types)
    type_options = b.choice_column("account", "flit_accounttype", "Sercom Account Type",
                                   [*(_label(v) for v in with_types), "Location"], source="customers.account_type")
    industry = b.native_or_custom("account", "flit_industry", "flit_industry", "Industry", "Text", length=100)
    b.add(ObjectMapping(name="customers->account", source_object="customers", dest_object="account",
        description="Service accounts, one per name + domain; hierarchy through parentaccountid (second pass)",
        fields=[
            b.text("account", "name", "name", required=True),
            FieldRule(dest="customertypecode", transform="constant",
                      constant=b.option("account", "customertypecode", "Customer", CUSTOMER_TYPE_CUSTOMER)),
            FieldRule(dest="flit_accounttype", source="account_type", transform="choice",
                      value_map={v: str(type_options[_label(v)]) for v in with_types}),
            b.text("account", "telephone1", "phone"),
            FieldRule(dest="emailaddress1", source="email", transform="email",
                      max_length=b.length("account", "emailaddress1", 100)),
            b.text("account", "websiteurl", "website"),
            FieldRule(dest=industry, source="industry", max_length=b.length("account", industry, 100)),
            FieldRule(dest="revenue", source="annual_revenue", transform="currency"),
            *b.rows("account", {
                "address1_line1": "billing_street",
                "address1_city": "billing_city",
                "address1_stateorprovince": "billing_state",
                "address1_postalcode": "billing_zip",
                "address1_country": "billing_country",
            }),
            *b.tenant_fields("customers", "account"),
        ],
        lookups=[LookupRule(dest="parentaccountid", source="parent_id", target=cust, deferred=True)],
    ))

    # --- locations --------------------------------------------------------------------------
    location_target: LookupTarget | None = None
    if loc_accounts:
        location_type = (b.option("account", "customertypecode", "Location", CUSTOMER_TYPE_OTHER)
                         if b.has_label("account", "customertypecode", "Location")
                         else b.option("account", "customertypecode", "Other", CUSTOMER_TYPE_OTHER))
        if b.add(ObjectMapping(name="locations->account", source_object="locations", dest_object="account",
            description="Each service location is an account of type Location under its customer "
                        "(flit_accounttype = Location; customertypecode Location if the option set has it, "
                        "else Other)",
            fields=[
                b.text("account", "name", "name", required=True),
                FieldRule(dest="customertypecode", transform="constant", constant=location_type),
                FieldRule(dest="flit_accounttype", transform="constant", constant=type_options["Location"]),
                *b.rows("account", {
                    "address1_line1": "street",
                    "address1_city": "city",
                    "address1_stateorprovince": "state",
                    "address1_postalcode": "zip",
                    "address1_country": "country",
                }),
            ],
            lookups=[LookupRule(dest="parentaccountid", source="customer_id", target=cust, on_missing="reject")],
        )):
            location_target = target("locations", "account")
    else:
        b.add(ObjectMapping(name="locations->customeraddress", source_object="locations", dest_object="customeraddress",
            description="Each service location becomes an address of its customer account (More Addresses)",
            fields=[
                b.text("customeraddress", "name", "name", default=200),
                FieldRule(dest="addresstypecode", source="is_primary", transform="choice", value_map=ADDRESS_TYPE),
                b.text("customeraddress", "line1", "street", default=250),
                b.text("customeraddress", "city", "city", default=80),
                b.text("customeraddress", "stateorprovince", "state", default=50),
                b.text("customeraddress", "postalcode", "zip", default=20),
                b.text("customeraddress", "country", "country", default=80),
            ],
            lookups=[LookupRule(dest="parentid_account", source="customer_id", target=cust, on_missing="reject")],
        ))

    # --- products ---------------------------------------------------------------------------
    defaults[UOM_SCHEDULE_KEY] = {"object": "uomschedule", "name": UOM_SCHEDULE_NAME, "match": "name"}
    defaults[UOM_KEY] = {"object": "uom", "name": UOM_NAME, "match": "name"}
    product_added = b.add(ObjectMapping(name="products->product", source_object="products", dest_object="product",
        description="Products and service types, matched by name; non-inventoried; bound to the seeded unit group",
        natural_key=["name"],
        fields=[
            b.text("product", "name", "name", required=True, default=100),
            b.text("product", "productnumber", "sku", required=True, default=100),
            b.text("product", "description", "description", transform="text"),
            FieldRule(dest="price", source="unit_price", transform="currency"),
            FieldRule(dest="quantitydecimal", transform="constant", constant=0),
            FieldRule(dest="statecode", source="active", transform="choice", value_map={"true": "0", "false": "1"}),
            FieldRule(dest="statuscode", source="active", transform="choice", value_map={"true": "1", "false": "2"}),
        ],
        lookups=[LookupRule(dest="defaultuomscheduleid", on_missing="default", default_key=UOM_SCHEDULE_KEY),
                 LookupRule(dest="defaultuomid", on_missing="default", default_key=UOM_KEY)],
    )) and b.has_source("products")
    product = target("products", "product")

    # --- contacts ---------------------------------------------------------------------------
    roles = next((f.picklist_values for o in catalog.objects if o.name == "contacts" for f in o.fields
                  if f.name == "role" and f.picklist_values), ["primary", "billing", "technical", "decision_maker"])
    role_options = b.choice_column("contact", "flit_sercomrole", "Sercom Role", [_label(r) for r in roles],
                                   source="contacts.role")
    b.custom("contact", "flit_isprospect", "Prospect", "Checkbox")
    b.add(ObjectMapping(name="contacts->contact", source_object="contacts", dest_object="contact",
        description="Contacts without a (loaded) account attach to the placeholder account",
        fields=[
            b.text("contact", "firstname", "first_name"),
            b.text("contact", "lastname", "last_name", required=True),
            FieldRule(dest="emailaddress1", source="email", transform="email",
                      max_length=b.length("contact", "emailaddress1", 100)),
            *b.rows("contact", {"telephone1": "phone", "mobilephone": "mobile", "jobtitle": "title"}),
            FieldRule(dest="flit_sercomrole", source="role", transform="choice",
                      value_map={r: str(role_options[_label(r)]) for r in roles}),
            FieldRule(dest="flit_isprospect", source="is_prospect", transform="boolean"),
            *b.tenant_fields("contacts", "contact"),
        ],
        lookups=[LookupRule(dest="parentcustomerid_account", source="customer_id", target=cust, on_missing="default",
                            default_key=DEFAULT_ACCOUNT_KEY)],
    ))

    # --- assets -----------------------------------------------------------------------------
    names = extras.get("products", {}).get("names", {})
    asset_fields = [
        b.text(asset_table, _asset_name(asset_table), "name", required=True, default=100),
        b.custom_text(asset_table, "flit_serialnumber", "Serial Number", "serial_number"),
        b.column(asset_table, "flit_installeddate", "Installed Date", "Date", "install_date", "date"),
        b.column(asset_table, "flit_warrantyenddate", "Warranty End Date", "Date", "warranty_end_date", "date"),
    ]
    if names:  # the product's name, kept on the asset as the seed asks (the lookup may be empty)
        b.custom(asset_table, "flit_productname", "Product Name", "Text", length=200)
        asset_fields.append(FieldRule(dest="flit_productname", source="product_id", transform="picklist",
                                      value_map=dict(names), max_length=200))
    statuses = next((f.picklist_values for o in catalog.objects if o.name == "assets" for f in o.fields
                     if f.name == "status" and f.picklist_values), ["active", "installed", "in_repair", "retired"])
    status_options = b.choice_column(asset_table, "flit_assetstatus", "Sercom Status",
                                     [_label(s) for s in statuses], source="assets.status")
    asset_fields.append(FieldRule(dest="flit_assetstatus", source="status", transform="choice",
                                  value_map={s: str(status_options[_label(s)]) for s in statuses}))
    asset_lookups = [LookupRule(dest=_asset_account(b, asset_table), source="customer_id", target=cust,
                                on_missing="reject")]
    if product_added:
        asset_lookups.append(LookupRule(dest=_asset_product(b, asset_table), source="product_id", target=product))
    if location_target is not None:
        b.custom(asset_table, "flit_locationid", "Location", "Lookup", reference_to="account")
        asset_lookups.append(LookupRule(dest="flit_locationid", source="location_id", target=location_target))
    asset_added = b.add(ObjectMapping(name=f"assets->{asset_table}", source_object="assets", dest_object=asset_table,
        description=("Field Service customer assets" if asset_table == FIELD_SERVICE_ASSET else
                     "The custom Asset table (Field Service is not installed)") + " on their customer account",
        fields=[*asset_fields, *b.tenant_fields("assets", asset_table)],
        lookups=asset_lookups,
    ))
    if asset_added:
        b.add(ObjectMapping(name="assets.maintenance_history->task", source_object="assets", dest_object="task",
            description="Each maintenance-history entry becomes a completed task on its asset",
            explode="maintenance_history", timestamps=("date", "date"),
            fields=[
                FieldRule(dest="subject", sources=["summary"], transform="full_name", required=True,
                          max_length=b.length("task", "subject")),
                b.text("task", "description", "summary", transform="text"),
                FieldRule(dest="actualend", source="date", transform="datetime"),
                FieldRule(dest="statecode", transform="constant", constant=ACTIVITY_DONE["task"][0]),
                FieldRule(dest="statuscode", transform="constant", constant=ACTIVITY_DONE["task"][1]),
            ],
            lookups=[LookupRule(dest="regardingobjectid", source="_parent.id", on_missing="reject",
                                target=target("assets", asset_table, f"regardingobjectid_{asset_table}_task"))],
        ))

    # --- deals (pipeline) -----------------------------------------------------------------------
    stages: list[dict[str, Any]] = extras.get("pipeline_stages", [])
    deals_added = b.has_source("deals") and b.add(ObjectMapping(
        name="deals->opportunity", source_object="deals", dest_object="opportunity",
        description="Pipeline deals; the stage names the pipeline phase, closed stages close the opportunity",
        fields=[
            b.text("opportunity", "name", "name", required=True, default=300),
            FieldRule(dest="estimatedvalue", source="amount", transform="currency"),
            FieldRule(dest="estimatedclosedate", source="close_date", transform="date"),
            FieldRule(dest="stepname", source="stage_id", transform="picklist",
                      value_map={str(s["id"]): str(s.get("name") or "") for s in stages},
                      max_length=b.length("opportunity", "stepname", 200)),
            FieldRule(dest="closeprobability", source="stage_id", transform="choice",
                      value_map={str(s["id"]): str(int(s.get("probability") or 0)) for s in stages}),
            FieldRule(dest="statecode", source="stage_id", transform="choice", on_invalid="reject",
                      value_map={str(s["id"]): str(_stage_state(s)[0]) for s in stages}),
            FieldRule(dest="statuscode", source="stage_id", transform="choice", on_invalid="reject",
                      value_map={str(s["id"]): str(_stage_state(s)[1]) for s in stages}),
        ],
        lookups=[LookupRule(dest="customerid_account", source="customer_id", target=cust, on_missing="reject"),
                 LookupRule(dest="parentcontactid", source="contact_id", target=contact)],
        owner=OwnerRule(dest="ownerid", source="owner_id"),
    ))

    # --- work orders: incident | opportunity -------------------------------------------------
    split = dyn.workorder_split
    wo = extras.get("work_orders", {})
    seen_types = list(wo.get("type", {})) or next(
        (f.picklist_values for o in catalog.objects if o.name == "work_orders" for f in o.fields if f.name == "type"),
        [])
    wanted = {norm(t) for t in split.opportunity_types}
    any_type = "*" in split.opportunity_types
    opp_types = sorted({*split.opportunity_types, *(t for t in seen_types if norm(t) in wanted)} - {"*"})
    to_opportunity = Condition(where={} if any_type else {"type": opp_types},
                               present=["revenue"] if split.require_amount else [])
    no_opportunities = not split.opportunity_types
    no_incidents = any_type and not split.require_amount
    srows, prows = status_rows(extras), priority_rows(extras)
    declared = next((f.picklist_values for o in catalog.objects if o.name == "work_orders" for f in o.fields
                     if f.name == "type"), [])
    wo_types = list(dict.fromkeys([*declared, *seen_types])) or list(CASE_TYPE)
    technical = _work_order_columns(b, "incident", asset_table, location_target, wo_types, prows, opportunity=False)
    incident_added = not no_incidents and b.add(ObjectMapping(
        name="work_orders->incident", source_object="work_orders", dest_object="incident",
        description="Reactive service tickets (every work order the opportunity criteria do not take)",
        unless=[] if no_opportunities else [to_opportunity],
        fields=[
            FieldRule(dest="title", sources=["number", "subject"], transform="full_name", required=True,
                      max_length=b.length("incident", "title")),
            b.text("incident", "description", "description", transform="text"),
            FieldRule(dest="caseorigincode", source="origin", transform="choice",
                      value_map={k: str(b.option("incident", "caseorigincode", _origin_label(v), v))
                                 for k, v in CASE_ORIGIN.items()}),
            FieldRule(dest="casetypecode", source="type", transform="choice",
                      value_map={t: str(v) for t in wo_types if (v := CASE_TYPE.get(norm(t))) is not None}),
            FieldRule(dest="prioritycode", source="priority", transform="choice", on_invalid="reject",
                      value_map={v: str(b.option("incident", "prioritycode", INCIDENT_PRIORITY[p], p))
                                 for v, _, p in prows if p is not None}),
            *_status_rules(b, "incident", srows, opportunity=False),
            *technical.fields,
            *b.tenant_fields("work_orders", "incident"),
        ],
        lookups=[LookupRule(dest="customerid_account", source="customer_id", target=cust, on_missing="reject"),
                 LookupRule(dest="primarycontactid", source="contact_id", target=contact),
                 *technical.lookups],
        owner=OwnerRule(dest="ownerid", source="technician_id"),
    ))
    opp_columns = _work_order_columns(b, "opportunity", asset_table, location_target, wo_types, prows,
                                      opportunity=True)
    opportunity_added = not no_opportunities and b.add(ObjectMapping(
        name="work_orders->opportunity", source_object="work_orders", dest_object="opportunity",
        description="Scheduled or project work orders with revenue (the split criteria of the run options)",
        where=dict(to_opportunity.where), require_present=list(to_opportunity.present),
        fields=[
            FieldRule(dest="name", sources=["number", "subject"], transform="full_name", required=True,
                      max_length=b.length("opportunity", "name", 300)),
            b.text("opportunity", "description", "description", transform="text"),
            FieldRule(dest="estimatedvalue", source="revenue", transform="currency"),
            FieldRule(dest="actualvalue", source="revenue", transform="currency"),
            FieldRule(dest="estimatedclosedate", source="scheduled_date", transform="date"),
            FieldRule(dest="actualclosedate", source="completed_at", transform="date"),
            *_status_rules(b, "opportunity", srows, opportunity=True),
            *opp_columns.fields,
            *b.tenant_fields("work_orders", "opportunity"),
        ],
        lookups=[LookupRule(dest="customerid_account", source="customer_id", target=cust, on_missing="reject"),
                 LookupRule(dest="parentcontactid", source="contact_id", target=contact),
                 *opp_columns.lookups],
        owner=OwnerRule(dest="ownerid", source="technician_id"),
    ))
    wo_targets: list[tuple[str, LookupTarget]] = []
    if incident_added:
        wo_targets.append(("incident", target("work_orders", "incident")))
    if opportunity_added:
        wo_targets.append(("opportunity", target("work_orders", "opportunity")))

    # --- fallback queue: open cases nobody in Dynamics owns --------------------------------------
    if dyn.fallback_queue and incident_added:
        closed = [r.value for r in srows if (t := r.targets(False)) is not None and t[0] != 0]
        defaults[QUEUE_KEY] = {"object": "queue", "name": dyn.fallback_queue, "match": "name"}
        b.add(ObjectMapping(name="work_orders->queueitem", source_object="work_orders", dest_object="queueitem",
            description=f"Open cases whose technician has no Dynamics user are queued in {dyn.fallback_queue!r} "
                        "for manual routing (they are owned by the fallback user meanwhile)",
            insert_only=True,
            unless=[*([] if no_opportunities else [to_opportunity]),
                    Condition(where={"technician_id": sorted(owners)}), Condition(where={"status": closed})],
            lookups=[LookupRule(dest="objectid_incident", source="id", target=target("work_orders", "incident"),
                                on_missing="reject"),
                     LookupRule(dest="queueid", on_missing="default", default_key=QUEUE_KEY)],
        ), timestamps=False)

    # --- activities -----------------------------------------------------------------------------
    for table, kinds in (("appointment", ["visit", "meeting"]), ("phonecall", ["call"]), ("task", None)):
        regarding = _regarding(table, wo_targets, asset_table if asset_added else None)
        if regarding is None:
            continue
        category = b.native_or_custom(table, "category", "flit_category", "Category", "Text", length=250)
        outcome = b.native_or_custom(table, "subcategory", "flit_outcome", "Outcome", "Text", length=250)
        state, status = ACTIVITY_DONE[table]
        fields = [
            b.text(table, "subject", "subject", required=table == "appointment"),
            b.text(table, "description", "description", transform="text"),
            FieldRule(dest="actualstart", source="started_at", transform="datetime"),
            FieldRule(dest="actualend", sources=["started_at", "duration_minutes"], transform="add_minutes"),
            FieldRule(dest="actualdurationminutes", source="duration_minutes", transform="integer"),
            FieldRule(dest=category, source="type", max_length=250),
            FieldRule(dest=outcome, source="outcome", max_length=250),
            FieldRule(dest="statecode", transform="constant", constant=state),
            FieldRule(dest="statuscode", transform="constant", constant=status),
        ]
        if table == "appointment":
            fields += [FieldRule(dest="scheduledstart", source="started_at", transform="datetime", required=True),
                       FieldRule(dest="scheduledend", sources=["started_at", "duration_minutes"],
                                 transform="add_minutes", required=True)]
        b.add(ObjectMapping(name=f"activities->{table}", source_object="activities", dest_object=table,
            description={"appointment": "Site visits and meetings, completed, at their original times",
                         "phonecall": "Calls, completed (Made), at their original times",
                         "task": "E-mails and every other activity type, completed"}[table],
            where={"type": kinds} if kinds else {},
            unless=[] if kinds else [Condition(where={"type": sorted(ACTIVITY_TABLE)})],
            fields=fields, lookups=[regarding], owner=OwnerRule(dest="ownerid", source="technician_id"),
        ))

    # --- notes and attachments -------------------------------------------------------------------
    parents: dict[str, LookupTarget | list[LookupTarget]] = {
        "customer": target("customers", "account", "objectid_account"),
        "contact": target("contacts", "contact", "objectid_contact"),
    }
    if wo_targets:
        parents["work_order"] = [target("work_orders", d, f"objectid_{d}") for d, _ in wo_targets]
    if asset_added:
        parents["asset"] = target("assets", asset_table, f"objectid_{asset_table}")
    if deals_added:
        parents["deal"] = target("deals", "opportunity", "objectid_opportunity")

    def parent() -> LookupRule:
        return LookupRule(dest="objectid", source="parent_id", type_field="parent_type", targets=parents,
                          on_missing="reject")

    b.add(ObjectMapping(name="notes->annotation", source_object="notes", dest_object="annotation",
        description="Inline notes on their record", insert_only=True,
        fields=[
            b.text("annotation", "subject", "title", default=500),
            b.text("annotation", "notetext", "body", transform="text"),
            FieldRule(dest="isdocument", transform="constant", constant=False),
        ],
        lookups=[parent()],
        owner=OwnerRule(dest="ownerid", source="author_id"),
    ))
    b.add(ObjectMapping(name="attachments->annotation", source_object="attachments", dest_object="annotation",
        description="Files, with their bytes (base64 documentbody), on their record", insert_only=True,
        attachment_source="documentbody",
        fields=[
            b.text("annotation", "subject", "file_name", default=500),
            b.text("annotation", "filename", "file_name", required=True, default=255),
            b.text("annotation", "mimetype", "content_type", default=256),
            FieldRule(dest="isdocument", transform="constant", constant=True),
        ],
        lookups=[parent()],
    ))

    b.conform_updateable()
    b.check_required()
    created_tables = [CUSTOM_ASSET_TABLE] if any(m.dest_object == CUSTOM_ASSET for m in b.mappings) else []
    return b.finish(PAIR, custom_objects=created_tables, owners=owners, fallback_owner_id=fallback_owner_id,
                    default_records=defaults, merged=merged)


# --- helpers of build_spec ---------------------------------------------------------------------
def _asset_table(dcat: DestCatalog, strategy: str) -> str:
    native = FIELD_SERVICE_ASSET in dcat.objects
    if strategy == "native" and not native:
        raise MappingError("options.dynamics.asset_strategy 'native' needs Dynamics 365 Field Service "
                           f"({FIELD_SERVICE_ASSET} is not in this environment); use 'auto' or 'custom_table'")
    return FIELD_SERVICE_ASSET if native and strategy != "custom_table" else CUSTOM_ASSET


def _asset_name(table: str) -> str:
    return "msdyn_name" if table == FIELD_SERVICE_ASSET else "flit_name"


def _asset_account(b: SpecBuilder, table: str) -> str:
    if table == FIELD_SERVICE_ASSET:
        return "msdyn_account"
    b.custom(table, "flit_accountid", "Account", "Lookup", reference_to="account")
    return "flit_accountid"


def _asset_product(b: SpecBuilder, table: str) -> str:
    if table == FIELD_SERVICE_ASSET:
        return "msdyn_product"
    b.custom(table, "flit_productid", "Product", "Lookup", reference_to="product")
    return "flit_productid"


def _origin_label(value: int) -> str:
    return {1: "Phone", 2: "Email", 3: "Web"}[value]


def _stage_state(stage: dict[str, Any]) -> tuple[int, int]:
    if stage.get("is_closed"):
        return (1, 3) if stage.get("is_won") else (2, 4)
    return (0, 1)


def _status_rules(b: SpecBuilder, table: str, rows: list[StatusRow], *, opportunity: bool) -> list[FieldRule]:
    """statecode + statuscode from the translation table; an unrecognised value rejects its record."""
    states = OPPORTUNITY_STATE if opportunity else INCIDENT_STATE
    statuses = OPPORTUNITY_STATUS if opportunity else INCIDENT_STATUS
    state_map: dict[str, str] = {}
    status_map: dict[str, str] = {}
    for row in rows:
        target = row.targets(opportunity)
        if target is None:
            continue
        state, status = target
        state_map[row.value] = str(b.option(table, "statecode", states[state], state))
        status_map[row.value] = str(b.option(table, "statuscode", statuses[status], status))
    return [FieldRule(dest="statecode", source="status", transform="choice", value_map=state_map,
                      on_invalid="reject"),
            FieldRule(dest="statuscode", source="status", transform="choice", value_map=status_map,
                      on_invalid="reject")]


@dataclass
class _Columns:
    fields: list[FieldRule]
    lookups: list[LookupRule]


def _work_order_columns(b: SpecBuilder, table: str, asset_table: str, location: LookupTarget | None,
                        types: list[str], prows: list[tuple[str, int, int | None]], *, opportunity: bool
                        ) -> _Columns:
    """Field-service detail a case or an opportunity has no standard column for, as ``flit_`` columns."""
    fields: list[FieldRule] = [
        b.custom_text(table, "flit_workordernumber", "Work Order Number", "number"),
        b.custom_text(table, "flit_sercomstatus", "Sercom Status", "status"),
        b.column(table, "flit_completedon", "Completed On", "DateTime", "completed_at", "datetime"),
        b.column(table, "flit_laborhours", "Labor Hours", "Number", "labor_hours", "number", precision=10, scale=2),
        b.custom_text(table, "flit_resolutioncode", "Resolution Code", "resolution_code"),
        b.memo(table, "flit_statushistory", "Status History", "status_history", transform="json"),
    ]
    type_options = b.choice_column(table, "flit_servicetype", "Service Type", [_label(t) for t in types],
                                   source="work_orders.type")
    fields.append(FieldRule(dest="flit_servicetype", source="type", transform="choice",
                            value_map={t: str(type_options[_label(t)]) for t in types}))
    if not opportunity:
        fields += [
            b.column(table, "flit_scheduleddate", "Scheduled Date", "Date", "scheduled_date", "date"),
            b.column(table, "flit_revenue", "Revenue", "Currency", "revenue", "currency", precision=16, scale=2),
        ]
    # The full priority taxonomy: always on opportunities (no standard priority), on cases when
    # the standard three levels would merge distinct Sercom labels or miss one.
    distinct = {norm(v) for v, _, _ in prows}
    targets = {p for _, _, p in prows if p is not None}
    if prows and (opportunity or len(distinct) > len(targets) or None in {p for _, _, p in prows}):
        options = b.choice_column(table, "flit_sercompriority", "Sercom Priority",
                                  [_label(v) for v, _, _ in prows], source="work_orders.priority")
        fields.append(FieldRule(dest="flit_sercompriority", source="priority", transform="choice",
                                value_map={v: str(options[_label(v)]) for v, _, _ in prows}))
    lookups: list[LookupRule] = []
    asset = target("assets", asset_table)
    if asset_table == FIELD_SERVICE_ASSET and b.field(table, FIELD_SERVICE_ASSET) is not None:
        lookups.append(LookupRule(dest=FIELD_SERVICE_ASSET, source="asset_id", target=asset))
    else:
        b.custom(table, "flit_assetid", "Asset", "Lookup", reference_to=asset_table)
        lookups.append(LookupRule(dest="flit_assetid", source="asset_id", target=asset))
    if location is not None:
        b.custom(table, "flit_locationid", "Location", "Lookup", reference_to="account")
        lookups.append(LookupRule(dest="flit_locationid", source="location_id", target=location))
    return _Columns(fields, lookups)


def _regarding(table: str, work_orders: list[tuple[str, LookupTarget]], asset_table: str | None
               ) -> LookupRule | None:
    """The activity's parent: its work order (case or opportunity), else asset, contact, customer."""
    def nav(dest_object: str) -> str:
        return f"regardingobjectid_{dest_object}_{table}"

    chain: list[tuple[str, LookupTarget]] = [
        ("work_order_id", target("work_orders", d, nav(d))) for d, _ in work_orders]
    if asset_table:
        chain.append(("asset_id", target("assets", asset_table, nav(asset_table))))
    chain += [("contact_id", target("contacts", "contact", nav("contact"))),
              ("customer_id", target("customers", "account", nav("account")))]
    (first_source, first), rest = chain[0], chain[1:]
    return LookupRule(dest="regardingobjectid", source=first_source, target=first,
                      or_else=[LookupCandidate(source=s, target=t) for s, t in rest])


# ======================================================================================
# reports
# ======================================================================================
STATUS_COLUMNS = ["source_field", "source_value", "records", "dest_object", "statecode", "statecode_label",
                  "statuscode", "statuscode_label", "review"]
PRIORITY_COLUMNS = ["source_value", "records", "incident_prioritycode", "incident_priority_label",
                    "flit_sercompriority", "flit_sercompriority_label", "review"]
DUPLICATE_COLUMNS = ["duplicate_id", "duplicate_name", "survivor_id", "survivor_name", "domain", "decision"]


def _rule(spec: MigrationSpec, mapping: str, dest: str) -> FieldRule | None:
    try:
        m = spec.mapping(mapping)
    except KeyError:
        return None
    return next((r for r in m.fields if r.dest == dest), None)


def _labels(dcat: DestCatalog, table: str, column: str, reference: dict[int, str]) -> dict[str, str]:
    f = dcat.objects[table].fields.get(column) if table in dcat.objects else None
    return dict(f.picklist_labels) if f and f.picklist_labels else {str(k): v for k, v in reference.items()}


def _custom_labels(spec: MigrationSpec, table: str, column: str) -> dict[str, str]:
    f = next((f for f in spec.custom_fields if f.object == table and f.name == column), None)
    return {str(v): k for k, v in f.option_values.items()} if f else {}


def status_translation(spec: MigrationSpec, dcat: DestCatalog, extras: dict[str, Any]) -> list[dict[str, str]]:
    """Every distinct work-order status (and deal stage) with the option integers the spec sends."""
    out: list[dict[str, str]] = []
    for table, states_ref, statuses_ref in (("incident", INCIDENT_STATE, INCIDENT_STATUS),
                                            ("opportunity", OPPORTUNITY_STATE, OPPORTUNITY_STATUS)):
        state_rule = _rule(spec, f"work_orders->{table}", "statecode")
        status_rule = _rule(spec, f"work_orders->{table}", "statuscode")
        if state_rule is None or status_rule is None:
            continue
        states, statuses = _labels(dcat, table, "statecode", states_ref), _labels(dcat, table, "statuscode",
                                                                                   statuses_ref)
        for row in status_rows(extras):
            state = (state_rule.value_map or {}).get(row.value, "")
            status = (status_rule.value_map or {}).get(row.value, "")
            review = "" if state and status else ("UNMAPPED: not a known status word; choose statecode/statuscode "
                                                  "in the spec before approving (records are rejected until then)")
            out.append({"source_field": "work_orders.status", "source_value": row.value, "records": str(row.count),
                        "dest_object": table, "statecode": state, "statecode_label": states.get(state, ""),
                        "statuscode": status, "statuscode_label": statuses.get(status, ""), "review": review})
    state_rule = _rule(spec, "deals->opportunity", "statecode")
    status_rule = _rule(spec, "deals->opportunity", "statuscode")
    if state_rule is not None and status_rule is not None:
        states = _labels(dcat, "opportunity", "statecode", OPPORTUNITY_STATE)
        statuses = _labels(dcat, "opportunity", "statuscode", OPPORTUNITY_STATUS)
        for stage in extras.get("pipeline_stages", []):
            sid = str(stage["id"])
            state = (state_rule.value_map or {}).get(sid, "")
            status = (status_rule.value_map or {}).get(sid, "")
            out.append({"source_field": "deals.stage_id", "source_value": f"{sid} ({stage.get('name')})", "records": "",
                        "dest_object": "opportunity", "statecode": state, "statecode_label": states.get(state, ""),
                        "statuscode": status, "statuscode_label": statuses.get(status, ""),
                        "review": "" if state and status else "UNMAPPED"})
    return out


def priority_translation(spec: MigrationSpec, dcat: DestCatalog, extras: dict[str, Any]) -> list[dict[str, str]]:
    rule = _rule(spec, "work_orders->incident", "prioritycode")
    labels = _labels(dcat, "incident", "prioritycode", INCIDENT_PRIORITY)
    table = "incident" if _rule(spec, "work_orders->incident", "flit_sercompriority") else "opportunity"
    custom = _rule(spec, f"work_orders->{table}", "flit_sercompriority")
    custom_labels = _custom_labels(spec, table, "flit_sercompriority")
    out = []
    for value, count, _ in priority_rows(extras):
        code = (rule.value_map or {}).get(value, "") if rule else ""
        kept = (custom.value_map or {}).get(value, "") if custom else ""
        review = "" if code or rule is None else (
            "UNMAPPED: choose an incident prioritycode (records are rejected until then); the label is kept in "
            "flit_sercompriority")
        out.append({"source_value": value, "records": str(count), "incident_prioritycode": code,
                    "incident_priority_label": labels.get(code, ""), "flit_sercompriority": kept,
                    "flit_sercompriority_label": custom_labels.get(kept, ""), "review": review})
    return out


def tier_check(spec: MigrationSpec, catalog: SourceCatalog, dcat: DestCatalog, extras: dict[str, Any]
               ) -> dict[str, Any]:
    """Custom tables against the Sales Professional ceiling, columns per table, FSM volume, Field Service."""
    created = [o.name for o in spec.custom_objects]
    existing = sorted(n for n, o in dcat.objects.items() if o.custom and n not in created)
    tables = len(created) + len(existing)
    columns: dict[str, dict[str, int]] = {}
    for f in spec.custom_fields:
        kind = ("external_id" if f.external_id else
                "tenant" if (f.source or "").startswith("custom_fields.") else "template")
        row = columns.setdefault(f.object, {"external_id": 0, "template": 0, "tenant": 0, "total": 0})
        row[kind] += 1
        row["total"] += 1
    tenant_columns = sum(r["tenant"] for r in columns.values())
    counts = {o.name: o.count for o in catalog.objects}
    fsm_objects = ("work_orders", "assets", "locations", "parts_used", "territories", "activities")
    fsm: dict[str, int] = {name: int(counts.get(name, 0)) for name in fsm_objects}
    fsm_total = sum(fsm.values(), 0)
    wo = extras.get("work_orders", {})
    split = _split_counts(spec, wo)
    field_service = FIELD_SERVICE_ASSET in dcat.objects or "msdyn_workorder" in dcat.objects
    fits = tables <= PROFESSIONAL_TABLE_LIMIT
    verdict = "fits Professional" if fits else "needs Enterprise or consolidation"
    reasons = [f"{tables} custom table(s) ({len(created)} created by this migration: {created or 'none'}; "
               f"{len(existing)} already in the environment) against the Sales Professional ceiling of "
               f"{PROFESSIONAL_TABLE_LIMIT} per app"]
    advisories = []
    if tenant_columns > PROFESSIONAL_COLUMN_ADVISORY:
        advisories.append(f"{tenant_columns} columns carry Sercom custom fields: the pair page asks for Enterprise "
                          f"or consolidation above {PROFESSIONAL_COLUMN_ADVISORY} on Professional - confirm with "
                          "the licensing contact (the licensing guide caps tables, not columns)")
    if not field_service and fsm_total:
        advisories.append(f"Field Service is not installed: assets land in the custom table {CUSTOM_ASSET} "
                          f"(it counts toward the ceiling) and {fsm_total} field-service records lose "
                          "scheduling semantics; Dynamics 365 Field Service licensing is worth pricing")
    unmapped = sorted({o.name for o in catalog.objects} - {m.source_object for m in spec.mappings} - {"technicians"})
    return {"verdict": verdict, "fits_professional": fits, "reasons": reasons, "advisories": advisories,
            "custom_tables": {"created": created, "existing": existing, "total": tables,
                              "limit": PROFESSIONAL_TABLE_LIMIT},
            "custom_columns": columns, "tenant_custom_columns": tenant_columns,
            "field_service_present": field_service, "fsm_volume": fsm, "work_order_split": split,
            "source_objects_not_mapped": unmapped}


def _split_counts(spec: MigrationSpec, wo: dict[str, Any]) -> dict[str, int]:
    types: dict[str, int] = wo.get("type", {})
    amounts: dict[str, int] = wo.get("with_amount", {})
    try:
        opp = spec.mapping("work_orders->opportunity")
    except KeyError:
        return {"incident": int(wo.get("total", 0)), "opportunity": 0}
    allowed = opp.where.get("type")
    need_amount = "revenue" in opp.require_present
    chosen = sum(int((amounts if need_amount else types).get(t, 0)) for t in types
                 if allowed is None or t in allowed)
    return {"incident": int(wo.get("total", 0)) - chosen, "opportunity": chosen}


def tier_markdown(check: dict[str, Any]) -> str:
    lines = ["# Dynamics 365 tier check", "", f"**Verdict: {check['verdict']}**", ""]
    lines += [f"- {r}" for r in check["reasons"]]
    lines += [f"- advisory: {a}" for a in check["advisories"]]
    lines += ["", f"Field Service present: {'yes' if check['field_service_present'] else 'no'}", "",
              "## Custom columns per table", "", "| table | Sercom custom fields | template | external id | total |",
              "|---|---|---|---|---|"]
    for table, row in sorted(check["custom_columns"].items()):
        lines.append(f"| {table} | {row['tenant']} | {row['template']} | {row['external_id']} | {row['total']} |")
    lines += ["", "## Field-service data volume", "", "| Sercom object | records |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in check["fsm_volume"].items()]
    split = check["work_order_split"]
    lines += ["", f"Work orders: {split['incident']} to incident (case), {split['opportunity']} to opportunity.", ""]
    if check["source_objects_not_mapped"]:
        lines += ["Sercom objects outside this pair's object map (not migrated): "
                  + ", ".join(check["source_objects_not_mapped"]), ""]
    return "\n".join(lines)


def extra_reports(spec: MigrationSpec, catalog: SourceCatalog, dcat: DestCatalog, extras: dict[str, Any]
                  ) -> dict[str, tuple[str, str]]:
    """Discovery's reports for this pair: translation tables, duplicates, tier check."""
    check = tier_check(spec, catalog, dcat, extras)
    return {
        "status-translation.csv": (csv_text(status_translation(spec, dcat, extras), STATUS_COLUMNS), "text/csv"),
        "priority-translation.csv": (csv_text(priority_translation(spec, dcat, extras), PRIORITY_COLUMNS),
                                     "text/csv"),
        "account-duplicates.csv": (csv_text(extras.get("customers", {}).get("rows", []), DUPLICATE_COLUMNS),
                                   "text/csv"),
        "tier-check.md": (tier_markdown(check), "text/markdown; charset=utf-8"),
        "tier-check.json": (json.dumps(check, indent=2, sort_keys=True), "application/json"),
    }

#: The pair's object table as data: source object -> the destination objects its records land in (the
#: estimate reads it before any credentials; a unit test holds it to what ``build_spec`` proposes).
OBJECT_TABLE: dict[str, list[str]] = {
    "customers": ["account"],
    "locations": ["account"],
    "products": ["product"],
    "contacts": ["contact"],
    "assets": ["flit_asset", "task"],
    "deals": ["opportunity"],
    "work_orders": ["incident", "opportunity"],
    "activities": ["appointment", "phonecall", "task"],
    "notes": ["annotation"],
    "attachments": ["annotation"],
}
#: Destination objects the run creates (custom objects/tables/modules/models) before loading.
CREATED_OBJECTS: list[str] = ["flit_asset"]

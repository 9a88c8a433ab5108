"""Pair template: Sercom -> Zoho CRM (seed 002).

Covers every row of the pair's object table:

| Sercom | Zoho CRM |
|---|---|
| Contact | Contacts; no company -> the default 'Unassigned' account (``Account_Name``) |
| Contact (pre-conversion) | Leads, by the rule in the spec (``where``: ``is_prospect`` true, editable at |
|  | sign-off); the Contacts mapping takes the complement; ``options.zoho.convert_leads`` converts them |
|  | (Convert Lead, 5 credits) into Contacts under the company's migrated Account (``convert``) |
| Company | Accounts, ``Parent_Account`` hierarchy in the fix-up pass; phone, website, industry, billing address |
| Deal | Deals on the pipeline ``options.zoho.pipeline`` names (Standard by default; Sercom has one pipeline), |
|  | account and primary contact linked |
| Pipeline Stage | Deal ``Stage`` value by value; Zoho re-applies ``Probability`` from the target stage; |
|  | the deal's last change (Sercom keeps no stage-entry time) in ``Stage_Entered_Date`` |
| Owner | ``Owner`` by e-mail among *active* Zoho users, else the fallback user (reported) |
| Task / Activity Log | Tasks (``Task_Type`` Call / Email / Visit, ``Duration_Minutes``, ``Outcome``) on the |
|  | account, the contact or lead as ``Who_Id`` |
| Meeting / Calendar Event | Events (start, end = start + duration, the contact or lead as ``Who_Id`` and as |
|  | the attendee in ``Participants``) |
| Attachment / Document | Attachments uploaded to their record (over the org's size limit: a reject) |
| Notes | Notes on their Account / Contact / Deal / Work Order / Asset |
| Work Order, Asset, Location | custom modules ``Work_Orders``, ``Service_Assets``, ``Service_Locations`` |
|  | (Zoho's Custom Modules framework; 500 credits each to create, once) linked to their Account |
| Product | Zoho's Products module (``Product_Code`` the SKU); assets and parts used link to it |
| Part Used | custom module ``Parts_Used`` (a work order's related list) with ``Work_Order`` and ``Product`` |
| Service Contract | custom module ``Service_Contracts`` (Zoho CRM has no contract module) under its Account |
| Service Territory | not carried: Zoho territories are Enterprise/Ultimate assignment rules set up in Setup, |
|  | not records (``docs/guarantees-zoho.md``) |
| Custom Field Data | custom fields created before load, typed from the data (pick-lists as restricted pick-lists) |

Original create/modify times go to ``Original_Created_Date`` / ``Original_Modified_Date`` (Zoho's own
are read-only). Sercom's products, parts used and contracts have no row in the seed's table but are carried
(above); its territories are not (no Zoho record holds them).
Polymorphic lookups are named per target module (``What_Id__Accounts``, ``Parent_Id__Deals``); the
connector sends ``$se_module`` / ``Parent_Id.module`` from that name.
"""

from __future__ import annotations

from typing import Any

from shared.connectors import registry
from shared.connectors.zoho.client import FILE_FIELD
from shared.errors import MappingError
from shared.mapping.spec import (
    Condition,
    Conversion,
    CustomObjectSpec,
    FieldRule,
    LookupCandidate,
    LookupRule,
    LookupTarget,
)
from shared.models import DestCatalog, RunOptions, SourceCatalog
from shared.pairs.builder import MigrationSpec, ObjectMapping, OwnerRule, SpecBuilder, stage_map, target, title_map

PAIR = "sercom-zoho"
SOURCE, DESTINATION = "sercom", "zoho"
DEFAULT_ACCOUNT_KEY = "flitstack:default-account"
#: What discovery describes in the org.
DEST_OBJECTS = ["Accounts", "Contacts", "Leads", "Deals", "Tasks", "Events", "Notes", "Attachments", "Work_Orders",
                "Service_Assets", "Service_Locations", "Products", "Parts_Used", "Service_Contracts"]
#: Field-service records land in custom modules (created before load; ``Name`` is each one's mandatory field).
CUSTOM_OBJECTS = [
    CustomObjectSpec(name="Work_Orders", label="Work Order", plural_label="Work Orders"),
    CustomObjectSpec(name="Service_Assets", label="Service Asset", plural_label="Service Assets"),
    CustomObjectSpec(name="Service_Locations", label="Service Location", plural_label="Service Locations"),
    CustomObjectSpec(name="Parts_Used", label="Part Used", plural_label="Parts Used"),
    CustomObjectSpec(name="Service_Contracts", label="Service Contract", plural_label="Service Contracts"),
]
WO_STATUS = ["new", "scheduled", "dispatched", "in_progress", "on_hold", "completed", "cancelled"]
WO_PRIORITY = ["low", "normal", "high", "urgent"]
SERVICE_TYPES = ["repair", "maintenance", "installation", "inspection", "emergency"]
ASSET_STATUS = ["active", "installed", "in_repair", "retired"]
WARRANTY_STATUS = ["in_warranty", "out_of_warranty", "unknown"]
CONTRACT_STATUS = ["draft", "active", "expired", "terminated"]

#: Zoho's standard pipeline, open stages in order (``settings/pipeline``).
OPEN_STAGES = ["Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers", "Proposal/Price Quote",
               "Negotiation/Review"]
TASK_TYPE = {"visit": "Visit", "call": "Call", "email": "Email"}
SEGMENTS = ["commercial", "residential", "government", "industrial"]
#: The Leads mapping's rule (the person edits it at mapping sign-off); the Contacts mapping takes the rest.
PROSPECT = {"is_prospect": ["true"]}


def _parent(source: str, dest: str) -> LookupTarget:
    """A Notes/Attachments parent, named per module (``Parent_Id__Accounts``)."""
    return LookupTarget(source_object=source, dest_object=dest, dest=f"Parent_Id__{dest}")


PARENTS: dict[str, LookupTarget | list[LookupTarget]] = {
    "customer": _parent("customers", "Accounts"),
    "contact": [_parent("contacts", "Contacts"), _parent("contacts", "Leads")],
    "deal": _parent("deals", "Deals"),
    "work_order": _parent("work_orders", "Work_Orders"),
    "asset": _parent("assets", "Service_Assets"),
}


def _pipeline(dest: DestCatalog, name: str) -> tuple[str, list[str], str, str]:
    """The Deals pipeline deals land in (``options.zoho.pipeline``) and its open, won and lost stages, from the
    org's ``settings/pipeline``; an org described without pipelines keeps Zoho's standard stages."""
    if not dest.pipelines:
        return name, OPEN_STAGES, "Closed Won", "Closed Lost"
    found = dest.pipelines.get(name)
    if found is None:
        raise MappingError(f"options.zoho.pipeline: {name!r} is not a Deals pipeline of this org; allowed: "
                           f"{sorted(dest.pipelines)}")
    open_stages = [s.name for s in found if s.kind == "open"]
    won = next((s.name for s in found if s.kind == "won"), None)
    lost = next((s.name for s in found if s.kind == "lost"), None)
    if not open_stages or won is None or lost is None:
        raise MappingError(f"options.zoho.pipeline: {name!r} needs open, won and lost stages for Sercom's; it has "
                           f"{[s.name for s in found]}")
    return name, open_stages, won, lost


def _conversion(rule: str, account: LookupTarget) -> Conversion | None:
    """Seed 002's optional lead conversion: the Contact made under the lead's migrated company (or the default
    'Unassigned' account), never a new Account from the text ``Company`` nor a Deal (deals come from Sercom)."""
    if rule == "none":
        return None
    return Conversion(into="Contacts", present=["customer_id"] if rule == "with_company" else [],
                      link=[LookupRule(dest="Accounts", source="customer_id", target=account, on_missing="default",
                                       default_key=DEFAULT_ACCOUNT_KEY)])


def extra_reports(spec: MigrationSpec, catalog: SourceCatalog, dcat: DestCatalog, extras: dict[str, Any]
                  ) -> dict[str, tuple[str, str]]:
    """None beyond the common ones (mapping, unmatched technicians, automation rules, credit plan)."""
    return {}


def build_spec(
    source: SourceCatalog,
    dest: DestCatalog,
    options: RunOptions,
    *,
    extras: dict[str, Any] | None = None,
    owners: dict[str, str],
    fallback_owner_id: str,
) -> MigrationSpec:
    """Propose the mapping for this tenant and org (the document a person reviews and approves)."""
    pipeline, open_stages, won, lost = _pipeline(dest, options.zoho.pipeline)
    stages = stage_map(list((extras or {}).get("pipeline_stages", [])), open_stages, won, lost)
    b = SpecBuilder(source, dest, options, registry.destination(DESTINATION).capabilities,
                    source_label=registry.source(SOURCE).label)

    # Schema that exists only because of this pair (created before any record moves).
    b.custom("Accounts", "Customer_Segment", "Customer Segment", "Picklist",
             picklist_values=list(title_map(SEGMENTS).values()), restricted=True)
    b.custom("Accounts", "Sercom_Email", "Sercom Email", "Email")
    b.custom("Accounts", "Sercom_Industry", "Sercom Industry", "Text", length=120)
    for obj in ("Contacts", "Leads"):
        b.custom(obj, "Sercom_Role", "Sercom Role", "Text", length=40)
    b.custom("Deals", "Stage_Entered_Date", "Stage Entered Date", "DateTime")
    b.custom("Tasks", "Task_Type", "Task Type", "Picklist", picklist_values=list(TASK_TYPE.values()), restricted=True)
    for obj in ("Tasks", "Events"):
        b.custom(obj, "Duration_Minutes", "Duration Minutes", "Number", precision=9, scale=0)
        b.custom(obj, "Outcome", "Outcome", "Text", length=80)

    wo, asset, loc, pu, ctr = "Work_Orders", "Service_Assets", "Service_Locations", "Parts_Used", "Service_Contracts"
    for obj in (wo, asset, loc, ctr):
        b.custom(obj, "Account", "Account", "Lookup", reference_to="Accounts")
    b.custom(asset, "Product", "Product", "Lookup", reference_to="Products")
    b.custom(pu, "Work_Order", "Work Order", "Lookup", reference_to=wo)
    b.custom(pu, "Product", "Product", "Lookup", reference_to="Products")
    b.custom(pu, "Part_Number", "Part Number", "Text", length=80)
    b.custom(pu, "Quantity", "Quantity", "Number", precision=12, scale=2)
    b.custom(pu, "Unit_Cost", "Unit Cost", "Currency", precision=16, scale=2)
    b.custom(pu, "Total_Cost", "Total Cost", "Currency", precision=16, scale=2)
    b.custom(pu, "Serial_Number", "Serial Number", "Text", length=80)
    b.custom(pu, "Warranty_Status", "Warranty Status", "Picklist",
             picklist_values=list(title_map(WARRANTY_STATUS).values()), restricted=True)
    b.custom(ctr, "Contract_Number", "Contract Number", "Text", length=80)
    b.custom(ctr, "Start_Date", "Start Date", "Date")
    b.custom(ctr, "End_Date", "End Date", "Date")
    b.custom(ctr, "Contract_Status", "Contract Status", "Picklist",
             picklist_values=list(title_map(CONTRACT_STATUS).values()), restricted=True)
    for name in ("SLA_Response_Hours", "SLA_Resolution_Hours"):
        b.custom(ctr, name, name.replace("_", " "), "Number", precision=9, scale=0)
    for name in ("Street", "City", "State", "Zip_Code", "Country"):
        b.custom(loc, name, name.replace("_", " "), "Text", length=100)
    b.custom(asset, "Location", "Location", "Lookup", reference_to=loc)
    b.custom(asset, "Serial_Number", "Serial Number", "Text", length=80)
    b.custom(asset, "Asset_Status", "Asset Status", "Picklist", picklist_values=list(title_map(ASSET_STATUS).values()),
             restricted=True)
    b.custom(asset, "Install_Date", "Install Date", "Date")
    b.custom(asset, "Warranty_End_Date", "Warranty End Date", "Date")
    b.custom(wo, "Contact", "Contact", "Lookup", reference_to="Contacts")
    b.custom(wo, "Asset", "Asset", "Lookup", reference_to=asset)
    b.custom(wo, "Location", "Location", "Lookup", reference_to=loc)
    b.custom(wo, "Subject", "Subject", "Text", length=255)
    b.custom(wo, "Service_Type", "Service Type", "Picklist", picklist_values=list(title_map(SERVICE_TYPES).values()),
             restricted=True)
    b.custom(wo, "Work_Order_Status", "Work Order Status", "Picklist",
             picklist_values=list(title_map(WO_STATUS).values()), restricted=True)
    b.custom(wo, "Work_Order_Priority", "Work Order Priority", "Picklist",
             picklist_values=list(title_map(WO_PRIORITY).values()), restricted=True)
    b.custom(wo, "Scheduled_Date", "Scheduled Date", "Date")
    b.custom(wo, "Completed_At", "Completed At", "DateTime")
    b.custom(wo, "Labor_Hours", "Labor Hours", "Number", precision=8, scale=2)
    b.custom(wo, "Revenue", "Revenue", "Currency", precision=16, scale=2)
    b.custom(wo, "Resolution_Code", "Resolution Code", "Text", length=80)

    cust, contact = target("customers", "Accounts"), target("contacts", "Contacts")
    conversion = _conversion(options.zoho.convert_leads, cust)
    on_account = LookupRule(dest="Account", source="customer_id", target=cust, on_missing="reject")
    lead = LookupCandidate(source="contact_id", target=target("contacts", "Leads"))
    person = [b.text("Contacts", "First_Name", "first_name"),
              b.text("Contacts", "Last_Name", "last_name", required=True),
              FieldRule(dest="Email", source="email", transform="email", max_length=100),
              *b.rows("Contacts", {"Phone": "phone", "Mobile": "mobile", "Title": "title"}),
              FieldRule(dest="Sercom_Role", source="role", max_length=40)]

    b.add(ObjectMapping(
        name="customers->Accounts", source_object="customers", dest_object="Accounts",
        description="Companies; the parent hierarchy through Parent_Account (second pass)",
        fields=[
            b.text("Accounts", "Account_Name", "name", required=True),
            FieldRule(dest="Account_Type", transform="constant", constant="Customer"),
            FieldRule(dest="Customer_Segment", source="account_type", transform="picklist",
                      value_map=title_map(SEGMENTS)),
            *b.rows("Accounts", {"Phone": "phone", "Website": "website"}),
            FieldRule(dest="Sercom_Email", source="email", transform="email"),
            b.free_picklist("Accounts", "Industry", "industry"),
            FieldRule(dest="Sercom_Industry", source="industry", max_length=120),
            FieldRule(dest="Annual_Revenue", source="annual_revenue", transform="currency"),
            *b.rows("Accounts", {"Billing_Street": "billing_street", "Billing_City": "billing_city",
                                 "Billing_State": "billing_state", "Billing_Code": "billing_zip",
                                 "Billing_Country": "billing_country"}),
            *b.tenant_fields("customers", "Accounts"),
        ],
        lookups=[LookupRule(dest="Parent_Account", source="parent_id", target=cust, deferred=True)],
    ))
    b.add(ObjectMapping(
        name="contacts->Contacts", source_object="contacts", dest_object="Contacts",
        description="Customers' people; no company -> the default 'Unassigned' account",
        unless=[Condition(where=PROSPECT)],
        fields=[*person, *b.tenant_fields("contacts", "Contacts")],
        lookups=[LookupRule(dest="Account_Name", source="customer_id", target=cust, on_missing="default",
                            default_key=DEFAULT_ACCOUNT_KEY)],
    ))
    b.add(ObjectMapping(
        name="contacts->Leads", source_object="contacts", dest_object="Leads",
        description="Prospects (the rule in 'where', editable at sign-off) land as Leads"
                    + ("" if conversion is None else "; converted into Contacts under their company's Account "
                       "('convert', options.zoho.convert_leads)"),
        where=PROSPECT,
        fields=[*person, FieldRule(dest="Lead_Status", transform="constant", constant="Not Contacted"),
                *b.tenant_fields("contacts", "Leads")],
        convert=conversion,
    ))
    b.add(ObjectMapping(
        name="deals->Deals", source_object="deals", dest_object="Deals",
        description=f"Stage mapped value by value onto the {pipeline} pipeline's stages; Zoho re-applies the "
                    "probability",
        fields=[
            b.text("Deals", "Deal_Name", "name", required=True),
            FieldRule(dest="Stage", source="stage_id", transform="picklist", value_map=stages, required=True),
            FieldRule(dest="Pipeline", transform="constant", constant=pipeline),
            FieldRule(dest="Closing_Date", source="close_date", transform="date"),
            FieldRule(dest="Amount", source="amount", transform="currency"),
            FieldRule(dest="Stage_Entered_Date", source="updated_at", transform="datetime"),
            *b.tenant_fields("deals", "Deals"),
        ],
        lookups=[LookupRule(dest="Account_Name", source="customer_id", target=cust, on_missing="reject"),
                 LookupRule(dest="Contact_Name", source="contact_id", target=contact)],
        owner=OwnerRule(dest="Owner", source="owner_id"),
    ))
    product = target("products", "Products")
    b.add(ObjectMapping(
        name="products->Products", source_object="products", dest_object="Products",
        description="The product catalogue in Zoho's Products module (SKU as Product_Code)",
        fields=[b.text("Products", "Product_Name", "name", required=True),
                b.text("Products", "Product_Code", "sku"),
                FieldRule(dest="Product_Active", source="active", transform="boolean"),
                FieldRule(dest="Unit_Price", source="unit_price", transform="currency"),
                b.text("Products", "Description", "description", transform="text")],
    ))
    b.add(ObjectMapping(
        name="contracts->Service_Contracts", source_object="contracts", dest_object=ctr,
        description="Service contracts (custom module: Zoho CRM has no contract module) under their account; "
                    "SLA hours and terms kept for rebuilding SLAs",
        fields=[FieldRule(dest="Name", source="name", required=True, max_length=120),
                FieldRule(dest="Contract_Number", source="number", max_length=80),
                FieldRule(dest="Start_Date", source="start_date", transform="date"),
                FieldRule(dest="End_Date", source="end_date", transform="date"),
                FieldRule(dest="Contract_Status", source="status", transform="picklist",
                          value_map=title_map(CONTRACT_STATUS)),
                FieldRule(dest="SLA_Response_Hours", source="sla_response_hours", transform="integer"),
                FieldRule(dest="SLA_Resolution_Hours", source="sla_resolution_hours", transform="integer"),
                b.memo(ctr, "Terms", "Terms", "terms")],
        lookups=[LookupRule(dest="Account", source="customer_id", target=cust)],
    ))
    b.add(ObjectMapping(
        name="locations->Service_Locations", source_object="locations", dest_object=loc,
        description="Service locations (custom module) under their account",
        fields=[FieldRule(dest="Name", source="name", required=True, max_length=120),
                *b.rows(loc, {"Street": "street", "City": "city", "State": "state", "Zip_Code": "zip",
                              "Country": "country"})],
        lookups=[on_account.model_copy()],
    ))
    b.add(ObjectMapping(
        name="assets->Service_Assets", source_object="assets", dest_object=asset,
        description="Installed equipment (custom module); maintenance history kept as JSON text",
        fields=[FieldRule(dest="Name", source="name", required=True, max_length=120),
                FieldRule(dest="Serial_Number", source="serial_number", max_length=80),
                FieldRule(dest="Asset_Status", source="status", transform="picklist",
                          value_map=title_map(ASSET_STATUS)),
                FieldRule(dest="Install_Date", source="install_date", transform="date"),
                FieldRule(dest="Warranty_End_Date", source="warranty_end_date", transform="date"),
                b.memo(asset, "Maintenance_History", "Maintenance History", "maintenance_history", "json"),
                *b.tenant_fields("assets", asset)],
        lookups=[on_account.model_copy(), LookupRule(dest="Location", source="location_id", target=target(
            "locations", loc)), LookupRule(dest="Product", source="product_id", target=product)],
    ))
    b.add(ObjectMapping(
        name="work_orders->Work_Orders", source_object="work_orders", dest_object=wo,
        description="Work orders (custom module): status, priority, type, schedule, labour and revenue",
        fields=[FieldRule(dest="Name", source="number", required=True, max_length=120),
                FieldRule(dest="Subject", source="subject", max_length=255),
                b.memo(wo, "Work_Description", "Work Description", "description"),
                FieldRule(dest="Service_Type", source="type", transform="picklist", value_map=title_map(SERVICE_TYPES)),
                FieldRule(dest="Work_Order_Status", source="status", transform="picklist",
                          value_map=title_map(WO_STATUS)),
                FieldRule(dest="Work_Order_Priority", source="priority", transform="picklist",
                          value_map=title_map(WO_PRIORITY)),
                FieldRule(dest="Scheduled_Date", source="scheduled_date", transform="date"),
                FieldRule(dest="Completed_At", source="completed_at", transform="datetime"),
                FieldRule(dest="Labor_Hours", source="labor_hours", transform="number"),
                FieldRule(dest="Revenue", source="revenue", transform="currency"),
                FieldRule(dest="Resolution_Code", source="resolution_code", max_length=80),
                b.memo(wo, "Status_History", "Status History", "status_history", "json"),
                *b.tenant_fields("work_orders", wo)],
        lookups=[on_account.model_copy(),
                 LookupRule(dest="Contact", source="contact_id", target=contact),
                 LookupRule(dest="Asset", source="asset_id", target=target("assets", asset)),
                 LookupRule(dest="Location", source="location_id", target=target("locations", loc))],
        owner=OwnerRule(dest="Owner", source="technician_id"),
    ))
    b.add(ObjectMapping(
        name="parts_used->Parts_Used", source_object="parts_used", dest_object=pu,
        description="Parts used on a work order (custom module, the work order's related list), with the product",
        fields=[FieldRule(dest="Name", source="part_number", required=True, max_length=120),
                FieldRule(dest="Part_Number", source="part_number", max_length=80),
                FieldRule(dest="Quantity", source="quantity", transform="number"),
                FieldRule(dest="Unit_Cost", source="unit_cost", transform="currency"),
                FieldRule(dest="Total_Cost", sources=["quantity", "unit_cost"], transform="product"),
                FieldRule(dest="Serial_Number", source="serial_number", max_length=80),
                FieldRule(dest="Warranty_Status", source="warranty_status", transform="picklist",
                          value_map=title_map(WARRANTY_STATUS))],
        lookups=[LookupRule(dest="Work_Order", source="work_order_id", target=target("work_orders", wo),
                            on_missing="reject"),
                 LookupRule(dest="Product", source="product_id", target=product)],
    ))
    what = LookupRule(dest="What_Id", source="customer_id",
                      target=LookupTarget(source_object="customers", dest_object="Accounts",
                                          dest="What_Id__Accounts"))
    who = LookupRule(dest="Who_Id", source="contact_id", target=contact, or_else=[lead])
    # The meeting's attendee in Events' Participants (Sercom records one person a meeting; Zoho takes up to 50)
    attendee = LookupRule(dest="Participants", source="contact_id",
                          target=target("contacts", "Contacts", "Participants__Contacts"),
                          or_else=[LookupCandidate(source="contact_id",
                                                   target=target("contacts", "Leads", "Participants__Leads"))])
    outcome = [FieldRule(dest="Description", source="description", transform="text", max_length=32_000),
               FieldRule(dest="Duration_Minutes", source="duration_minutes", transform="integer"),
               FieldRule(dest="Outcome", source="outcome", max_length=80)]
    b.add(ObjectMapping(
        name="activities->Tasks", source_object="activities", dest_object="Tasks",
        description="Visits, calls and e-mails as completed Tasks (Task_Type), with duration and outcome",
        where={"type": list(TASK_TYPE)},
        fields=[
            b.text("Tasks", "Subject", "subject", required=True),
            FieldRule(dest="Due_Date", source="started_at", transform="date"),
            FieldRule(dest="Status", transform="constant", constant="Completed"),
            FieldRule(dest="Task_Type", source="type", transform="picklist", value_map=TASK_TYPE),
            *outcome,
        ],
        lookups=[what, who], owner=OwnerRule(dest="Owner", source="technician_id"),
    ))
    b.add(ObjectMapping(
        name="activities->Events", source_object="activities", dest_object="Events",
        description="Meetings as Events (a Sercom meeting is one occurrence: nothing to squash)",
        where={"type": ["meeting"]},
        fields=[
            b.text("Events", "Event_Title", "subject", required=True),
            FieldRule(dest="Start_DateTime", source="started_at", transform="datetime", required=True),
            FieldRule(dest="End_DateTime", sources=["started_at", "duration_minutes"], transform="add_minutes",
                      required=True),
            *outcome,
        ],
        lookups=[what.model_copy(), who.model_copy(), attendee], owner=OwnerRule(dest="Owner", source="technician_id"),
    ))
    parent = {"type_field": "parent_type", "targets": PARENTS, "on_missing": "reject"}
    b.add(ObjectMapping(
        name="notes->Notes", source_object="notes", dest_object="Notes",
        description="Notes on their account, contact/lead or deal (written once: notes carry no custom fields)",
        insert_only=True,
        fields=[FieldRule(dest="Note_Title", source="title", max_length=255),
                FieldRule(dest="Note_Content", source="body", transform="text", required=True, max_length=32_000)],
        lookups=[LookupRule(dest="Parent_Id", source="parent_id", **parent)],  # type: ignore[arg-type]
    ))
    b.add(ObjectMapping(
        name="attachments->Attachments", source_object="attachments", dest_object="Attachments",
        description="Files re-uploaded to their record; over the org's size limit a reject, never dropped",
        insert_only=True, attachment_source=FILE_FIELD,
        fields=[FieldRule(dest="File_Name", source="file_name", required=True, max_length=255)],
        lookups=[LookupRule(dest="Parent_Id", source="parent_id", **parent)],  # type: ignore[arg-type]
    ))
    b.conform_picklists()
    b.conform_updateable()
    b.check_required()
    return b.finish(PAIR, custom_objects=CUSTOM_OBJECTS, owners=owners, fallback_owner_id=fallback_owner_id,
                    default_records={DEFAULT_ACCOUNT_KEY: {"object": "Accounts", "Account_Name": "Unassigned"}})

#: The pair's object table as data: source object -> the destination objects its records land in (the
#: estimate reads it before any credentials; a unit test holds it to what ``build_spec`` proposes).
OBJECT_TABLE: dict[str, list[str]] = {
    "customers": ["Accounts"],
    "contacts": ["Contacts", "Leads"],
    "deals": ["Deals"],
    "locations": ["Service_Locations"],
    "assets": ["Service_Assets"],
    "work_orders": ["Work_Orders"],
    "activities": ["Tasks", "Events"],
    "notes": ["Notes"],
    "attachments": ["Attachments"],
    "products": ["Products"],
    "parts_used": ["Parts_Used"],
    "contracts": ["Service_Contracts"],
}
#: Destination objects the run creates (custom objects/tables/modules/models) before loading.
CREATED_OBJECTS: list[str] = ["Work_Orders", "Service_Assets", "Service_Locations", "Parts_Used",
                              "Service_Contracts"]

"""Pair template: Sercom -> Zoho CRM (seed 002).

Covers every row of the pair's object table:

| Sercom | Zoho CRM |
|---|---|
| Contact | Contacts; no company -> the default 'Unassigned' account (``Account_Name``) |
| Contact (pre-conversion) | Leads, by the rule in the spec (``where``: ``is_prospect`` true, editable at |
|  | sign-off); the Contacts mapping takes the complement |
| Company | Accounts, ``Parent_Account`` hierarchy in the fix-up pass; phone, website, industry, billing address |
| Deal | Deals, ``Pipeline`` Standard (Sercom has one pipeline), account and primary contact linked |
| Pipeline Stage | Deal ``Stage`` value by value; Zoho re-applies ``Probability`` from the target stage; |
|  | the deal's last change (Sercom keeps no stage-entry time) in ``Stage_Entered_Date`` |
| Owner | ``Owner`` by e-mail among *active* Zoho users, else the fallback user (reported) |
| Task / Activity Log | Tasks (``Task_Type`` Call / Email / Visit, ``Duration_Minutes``, ``Outcome``) on the |
|  | account, the contact or lead as ``Who_Id`` |
| Meeting / Calendar Event | Events (start, end = start + duration, the contact or lead as ``Who_Id``) |
| Attachment / Document | Attachments uploaded to their record (over the org's size limit: a reject) |
| Notes | Notes on their Account / Contact / Deal / Work Order / Asset |
| Work Order, Asset, Location | custom modules ``Work_Orders``, ``Service_Assets``, ``Service_Locations`` |
|  | (Zoho's Custom Modules framework; 500 credits each to create, once) linked to their Account |
| Custom Field Data | custom fields created before load, typed from the data (pick-lists as restricted pick-lists) |

Original create/modify times go to ``Original_Created_Date`` / ``Original_Modified_Date`` (Zoho's own
are read-only). Sercom's products, parts used, contracts and territories have no row in the seed's table and
are not part of this pair (their records stay in Sercom; the mapping document lists what is carried).
Polymorphic lookups are named per target module (``What_Id__Accounts``, ``Parent_Id__Deals``); the
connector sends ``$se_module`` / ``Parent_Id.module`` from that name.
"""

from __future__ import annotations

from typing import Any

from shared.connectors import registry
from shared.connectors.zoho.client import FILE_FIELD
from shared.mapping.spec import Condition, CustomObjectSpec, FieldRule, LookupCandidate, LookupRule, LookupTarget
from shared.models import DestCatalog, RunOptions, SourceCatalog
from shared.pairs.builder import MigrationSpec, ObjectMapping, OwnerRule, SpecBuilder, stage_map, target, title_map

PAIR = "sercom-zoho"
SOURCE, DESTINATION = "sercom", "zoho"
DEFAULT_ACCOUNT_KEY = "flitstack:default-account"
#: What discovery describes in the org.
DEST_OBJECTS = ["Accounts", "Contacts", "Leads", "Deals", "Tasks", "Events", "Notes", "Attachments", "Work_Orders",
                "Service_Assets", "Service_Locations"]
#: Field-service records land in custom modules (created before load; ``Name`` is each one's mandatory field).
CUSTOM_OBJECTS = [
    CustomObjectSpec(name="Work_Orders", label="Work Order", plural_label="Work Orders"),
    CustomObjectSpec(name="Service_Assets", label="Service Asset", plural_label="Service Assets"),
    CustomObjectSpec(name="Service_Locations", label="Service Location", plural_label="Service Locations"),
]
WO_STATUS = ["new", "scheduled", "dispatched", "in_progress", "on_hold", "completed", "cancelled"]
WO_PRIORITY = ["low", "normal", "high", "urgent"]
SERVICE_TYPES = ["repair", "maintenance", "installation", "inspection", "emergency"]
ASSET_STATUS = ["active", "installed", "in_repair", "retired"]

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
    stages = stage_map(list((extras or {}).get("pipeline_stages", [])), OPEN_STAGES, "Closed Won", "Closed Lost")
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

    wo, asset, loc = "Work_Orders", "Service_Assets", "Service_Locations"
    for obj in (wo, asset, loc):
        b.custom(obj, "Account", "Account", "Lookup", reference_to="Accounts")
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
        description="Prospects (the rule in 'where', editable at sign-off) land as Leads, their company as text",
        where=PROSPECT,
        fields=[*person, FieldRule(dest="Lead_Status", transform="constant", constant="Not Contacted"),
                *b.tenant_fields("contacts", "Leads")],
    ))
    b.add(ObjectMapping(
        name="deals->Deals", source_object="deals", dest_object="Deals",
        description="Stage mapped value by value on the Standard pipeline; Zoho re-applies the probability",
        fields=[
            b.text("Deals", "Deal_Name", "name", required=True),
            FieldRule(dest="Stage", source="stage_id", transform="picklist", value_map=stages, required=True),
            FieldRule(dest="Pipeline", transform="constant", constant="Standard"),
            FieldRule(dest="Closing_Date", source="close_date", transform="date"),
            FieldRule(dest="Amount", source="amount", transform="currency"),
            FieldRule(dest="Stage_Entered_Date", source="updated_at", transform="datetime"),
            *b.tenant_fields("deals", "Deals"),
        ],
        lookups=[LookupRule(dest="Account_Name", source="customer_id", target=cust, on_missing="reject"),
                 LookupRule(dest="Contact_Name", source="contact_id", target=contact)],
        owner=OwnerRule(dest="Owner", source="owner_id"),
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
            "locations", loc))],
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
    what = LookupRule(dest="What_Id", source="customer_id",
                      target=LookupTarget(source_object="customers", dest_object="Accounts",
                                          dest="What_Id__Accounts"))
    who = LookupRule(dest="Who_Id", source="contact_id", target=contact, or_else=[lead])
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
        lookups=[what.model_copy(), who.model_copy()], owner=OwnerRule(dest="Owner", source="technician_id"),
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
}
#: Destination objects the run creates (custom objects/tables/modules/models) before loading.
CREATED_OBJECTS: list[str] = ["Work_Orders", "Service_Assets", "Service_Locations"]

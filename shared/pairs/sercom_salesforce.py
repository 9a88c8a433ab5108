"""Pair template: Sercom -> Salesforce Sales Cloud (seed 000).

Covers every row of the pair's object table:

| Sercom | Salesforce |
|---|---|
| Service Account (customers) | Account (hierarchy via ParentId, fixed up in a second pass) |
| Locations | child Account under the service account (Type "Other", Shipping address) |
| Contact | Contact (no account -> the default account) + AccountContactRole for roles |
| Technician / Staff | User, matched by email (never created); unmatched -> fallback owner + report |
| Work Order | Case (status, priority, origin) + Work_Order__c (field-service detail) |
| Asset / Equipment | Asset (maintenance history in a long-text field) |
| Products | Product2 (the catalog Parts_Used__c points to) |
| Service Visit / Activity | Task (Type 'Service Visit' / Call / Email) or Event (meetings) |
| Parts Used | Parts_Used__c (lookup to Work_Order__c and Product2) |
| Contract / SLA terms | Contract (raw terms in Contract_Terms__c) + Entitlement |
| Service Territory | Service_Territory__c (zip ranges, assigned technicians) |
| Deals / pipeline stages | Opportunity (stage mapped value by value) |
| Notes, attachments | ContentVersion linked with FirstPublishLocationId |
| Custom fields | __c fields with inferred types and value-by-value pick-lists |

The template is a function of the discovered catalogs, so lengths come from the
destination's describe and custom fields from the tenant's own definitions.
"""

from __future__ import annotations

from typing import Any

from shared.connectors import registry
from shared.mapping.spec import CustomObjectSpec, FieldRule, LookupCandidate, LookupRule, LookupTarget
from shared.models import DestCatalog, RunOptions, SourceCatalog
from shared.pairs.builder import MigrationSpec, ObjectMapping, OwnerRule, SpecBuilder, stage_map, target, title_map

PAIR = "sercom-salesforce"
SOURCE, DESTINATION = "sercom", "salesforce"
DEFAULT_ACCOUNT_KEY = "flitstack:default-account"
#: What discovery describes in the org.
DEST_OBJECTS = ["Account", "Contact", "AccountContactRole", "Case", "Asset", "Product2", "Contract",
                "Entitlement", "Opportunity", "Task", "Event", "ContentVersion",
                "Work_Order__c", "Parts_Used__c", "Service_Territory__c"]

CUSTOM_OBJECTS = [
    CustomObjectSpec(name="Work_Order__c", label="Work Order", plural_label="Work Orders"),
    CustomObjectSpec(name="Parts_Used__c", label="Part Used", plural_label="Parts Used"),
    CustomObjectSpec(name="Service_Territory__c", label="Service Territory", plural_label="Service Territories"),
]

# Which Sercom object a `parent_type` value names, and where it lands.
PARENTS = {
    "customer": LookupTarget(source_object="customers", dest_object="Account"),
    "contact": LookupTarget(source_object="contacts", dest_object="Contact"),
    "work_order": LookupTarget(source_object="work_orders", dest_object="Case"),
    "asset": LookupTarget(source_object="assets", dest_object="Asset"),
    "deal": LookupTarget(source_object="deals", dest_object="Opportunity"),
}

CASE_STATUS = {"new": "New", "scheduled": "Working", "dispatched": "Working", "in_progress": "Working",
               "on_hold": "Escalated", "completed": "Closed", "cancelled": "Closed"}
CASE_PRIORITY = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "High"}
CASE_ORIGIN = {"phone": "Phone", "email": "Email", "web": "Web", "portal": "Web"}
ASSET_STATUS = {"active": "Installed", "installed": "Installed", "in_repair": "Registered", "retired": "Obsolete"}
SERVICE_TYPES = ["repair", "maintenance", "installation", "inspection", "emergency"]
TASK_TYPE = {"visit": "Service Visit", "call": "Call", "email": "Email"}
CONTACT_ROLE = {"primary": "Decision Maker", "billing": "Economic Buyer", "technical": "Technical Buyer",
                "decision_maker": "Economic Decision Maker"}
OPEN_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
               "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review"]


def extra_reports(spec: MigrationSpec, catalog: SourceCatalog, dcat: DestCatalog, extras: dict[str, Any]
                  ) -> dict[str, tuple[str, str]]:
    """None beyond the common ones (mapping, unmatched technicians, automation rules)."""
    return {}


def build_spec(
    source: SourceCatalog,
    dest: DestCatalog,
    options: RunOptions,
    *,
    extras: dict[str, Any] | None = None,
    deal_stages: dict[str, str] | None = None,
    owners: dict[str, str],
    fallback_owner_id: str,
) -> MigrationSpec:
    """Propose the mapping for this tenant and org (the document a person reviews and approves).

    Deal stages come from ``deal_stages`` when given, else from ``extras`` (the source's discovery facts).
    """
    if deal_stages is None:
        deal_stages = stage_map(list((extras or {}).get("pipeline_stages", [])), OPEN_STAGES, "Closed Won",
                                "Closed Lost")
    b = SpecBuilder(source, dest, options, registry.destination(DESTINATION).capabilities,
                    source_label=registry.source(SOURCE).label)
    on_parent = {"on_missing": "reject"}

    # Schema that exists only because of this pair.
    b.custom("Account", "Customer_Segment__c", "Customer Segment", "Picklist",
             picklist_values=["Commercial", "Residential", "Government", "Industrial"], restricted=True)
    b.custom("Account", "Sercom_Email__c", "Sercom Email", "Email")
    b.custom("Contact", "Is_Prospect__c", "Prospect", "Checkbox")
    b.custom("Contact", "Sercom_Role__c", "Sercom Role", "Text", length=40)
    b.custom("Product2", "Unit_Price__c", "Unit Price", "Currency", precision=16, scale=2)
    b.custom("Asset", "Maintenance_History__c", "Maintenance History", "LongTextArea", length=32768)
    b.custom("Contract", "Contract_Terms__c", "Contract Terms", "LongTextArea", length=131072)
    b.custom("Contract", "Sercom_Status__c", "Sercom Status", "Picklist",
             picklist_values=["Draft", "Active", "Expired", "Terminated"], restricted=True)
    b.custom("Contract", "SLA_Response_Hours__c", "SLA Response Hours", "Number", precision=8, scale=2)
    b.custom("Contract", "SLA_Resolution_Hours__c", "SLA Resolution Hours", "Number", precision=8, scale=2)
    for obj in ("Task", "Event"):
        b.custom(obj, "Duration_Minutes__c", "Duration (minutes)", "Number", precision=8, scale=0)
        b.custom(obj, "Outcome__c", "Outcome", "Text", length=80)
    wo = "Work_Order__c"
    b.custom(wo, "Case__c", "Case", "Lookup", reference_to="Case")
    b.custom(wo, "Account__c", "Account", "Lookup", reference_to="Account")
    b.custom(wo, "Location__c", "Location", "Lookup", reference_to="Account")
    b.custom(wo, "Asset__c", "Asset", "Lookup", reference_to="Asset")
    b.custom(wo, "Service_Type__c", "Service Type", "Picklist", restricted=True,
             picklist_values=list(title_map(SERVICE_TYPES).values()))
    b.custom(wo, "Status__c", "Status", "Picklist", restricted=True,
             picklist_values=list(title_map(CASE_STATUS).values()))
    b.custom(wo, "Priority__c", "Priority", "Picklist", restricted=True,
             picklist_values=list(title_map(CASE_PRIORITY).values()))
    b.custom(wo, "Scheduled_Date__c", "Scheduled Date", "Date")
    b.custom(wo, "Completed_At__c", "Completed At", "DateTime")
    b.custom(wo, "Labor_Hours__c", "Labor Hours", "Number", precision=8, scale=2)
    b.custom(wo, "Revenue__c", "Revenue", "Currency", precision=16, scale=2)
    b.custom(wo, "Resolution_Code__c", "Resolution Code", "Text", length=80)
    b.custom(wo, "Status_History__c", "Status History", "LongTextArea", length=32768)
    pu = "Parts_Used__c"
    b.custom(pu, "Work_Order__c", "Work Order", "Lookup", reference_to="Work_Order__c")
    b.custom(pu, "Product__c", "Product", "Lookup", reference_to="Product2")
    b.custom(pu, "Part_Number__c", "Part Number", "Text", length=80)
    b.custom(pu, "Quantity__c", "Quantity", "Number", precision=10, scale=2)
    b.custom(pu, "Unit_Cost__c", "Unit Cost", "Currency", precision=16, scale=2)
    b.custom(pu, "Total_Cost__c", "Total Cost", "Currency", precision=16, scale=2)
    b.custom(pu, "Serial_Number__c", "Serial Number", "Text", length=80)
    b.custom(pu, "Warranty_Status__c", "Warranty Status", "Picklist", restricted=True,
             picklist_values=["In Warranty", "Out Of Warranty", "Unknown"])
    st = "Service_Territory__c"
    b.custom(st, "Zip_Ranges__c", "Zip Code Ranges", "LongTextArea", length=32768)
    b.custom(st, "Assigned_Technicians__c", "Assigned Technicians", "LongTextArea", length=32768)

    cust, loc = target("customers", "Account"), target("locations", "Account")
    contact, case, asset = target("contacts", "Contact"), target("work_orders", "Case"), target("assets", "Asset")
    product = target("products", "Product2")

    b.add(ObjectMapping(
        name="customers->Account", source_object="customers", dest_object="Account",
        description="Service accounts; hierarchy kept through ParentId (second pass)",
        fields=[
            b.text("Account", "Name", "name", required=True),
            FieldRule(dest="Type", transform="constant", constant="Customer - Direct"),
            FieldRule(dest="Customer_Segment__c", source="account_type", transform="picklist",
                      value_map=title_map(["commercial", "residential", "government", "industrial"])),
            *b.rows("Account", {"Phone": "phone", "Website": "website"}),
            FieldRule(dest="Sercom_Email__c", source="email", transform="email"),
            b.free_picklist("Account", "Industry", "industry"),
            FieldRule(dest="AnnualRevenue", source="annual_revenue", transform="currency"),
            *b.rows("Account", {
                "BillingStreet": "billing_street",
                "BillingCity": "billing_city",
                "BillingState": "billing_state",
                "BillingPostalCode": "billing_zip",
                "BillingCountry": "billing_country",
            }),
            *b.tenant_fields("customers", "Account"),
        ],
        lookups=[LookupRule(dest="ParentId", source="parent_id", target=cust, deferred=True)],
    ))
    b.add(ObjectMapping(
        name="locations->Account", source_object="locations", dest_object="Account",
        description="Each service location becomes a child Account of its service account",
        fields=[
            b.text("Account", "Name", "name", required=True),
            FieldRule(dest="Type", transform="constant", constant="Other"),
            *b.rows("Account", {
                "ShippingStreet": "street",
                "ShippingCity": "city",
                "ShippingState": "state",
                "ShippingPostalCode": "zip",
                "ShippingCountry": "country",
            }),
        ],
        lookups=[LookupRule(dest="ParentId", source="customer_id", target=cust, **on_parent)],  # type: ignore[arg-type]
    ))
    b.add(ObjectMapping(
        name="products->Product2", source_object="products", dest_object="Product2",
        fields=[
            b.text("Product2", "Name", "name", required=True),
            b.text("Product2", "ProductCode", "sku"),
            b.text("Product2", "Description", "description", transform="text"),
            FieldRule(dest="IsActive", source="active", transform="boolean"),
            FieldRule(dest="Unit_Price__c", source="unit_price", transform="currency"),
        ],
    ))
    b.add(ObjectMapping(
        name="contacts->Contact", source_object="contacts", dest_object="Contact",
        description="Contacts without an account attach to the default account",
        fields=[
            b.text("Contact", "FirstName", "first_name"),
            b.text("Contact", "LastName", "last_name", required=True),
            FieldRule(dest="Email", source="email", transform="email", max_length=80),
            *b.rows("Contact", {"Phone": "phone", "MobilePhone": "mobile", "Title": "title"}),
            FieldRule(dest="Is_Prospect__c", source="is_prospect", transform="boolean"),
            FieldRule(dest="Sercom_Role__c", source="role", max_length=40),
            *b.tenant_fields("contacts", "Contact"),
        ],
        lookups=[LookupRule(dest="AccountId", source="customer_id", target=cust, on_missing="default",
                            default_key=DEFAULT_ACCOUNT_KEY)],
    ))
    b.add(ObjectMapping(
        name="contacts->AccountContactRole", source_object="contacts", dest_object="AccountContactRole",
        description="Primary/billing/technical roles on the contact's account (no custom fields on this "
                    "object: identified by AccountId + ContactId + Role)",
        where={"role": list(CONTACT_ROLE)}, require_present=["customer_id"],
        natural_key=["AccountId", "ContactId", "Role"],
        fields=[
            FieldRule(dest="Role", source="role", transform="picklist", value_map=CONTACT_ROLE),
            FieldRule(dest="IsPrimary", source="role", transform="boolean", value_map={"primary": "true"}),
        ],
        lookups=[LookupRule(dest="AccountId", source="customer_id", target=cust, **on_parent),  # type: ignore[arg-type]
                 LookupRule(dest="ContactId", source="id", target=contact, **on_parent)],  # type: ignore[arg-type]
    ))
    b.add(ObjectMapping(
        name="territories->Service_Territory__c", source_object="territories", dest_object=st,
        fields=[
            FieldRule(dest="Name", source="name", required=True, max_length=80),
            FieldRule(dest="Zip_Ranges__c", source="zip_ranges", transform="lines_text"),
            FieldRule(dest="Assigned_Technicians__c", source="technician_ids", transform="user_list"),
        ],
    ))
    b.add(ObjectMapping(
        name="assets->Asset", source_object="assets", dest_object="Asset",
        fields=[
            b.text("Asset", "Name", "name", required=True),
            b.text("Asset", "SerialNumber", "serial_number"),
            FieldRule(dest="InstallDate", source="install_date", transform="date"),
            FieldRule(dest="UsageEndDate", source="warranty_end_date", transform="date"),
            FieldRule(dest="Status", source="status", transform="picklist", value_map=ASSET_STATUS),
            FieldRule(dest="Maintenance_History__c", source="maintenance_history", transform="json"),
            *b.tenant_fields("assets", "Asset"),
        ],
        lookups=[LookupRule(dest="AccountId", source="customer_id", target=cust, **on_parent),  # type: ignore[arg-type]
                 LookupRule(dest="Product2Id", source="product_id", target=product)],
    ))
    b.add(ObjectMapping(
        name="assets.maintenance_history->Task", source_object="assets", dest_object="Task",
        description="Each maintenance-history entry becomes a completed Task on its Asset",
        explode="maintenance_history", timestamps=("date", "date"),
        fields=[
            FieldRule(dest="Subject", sources=["summary"], transform="full_name", max_length=255, required=True),
            FieldRule(dest="Description", source="summary", transform="text", max_length=32000),
            FieldRule(dest="ActivityDate", source="date", transform="date"),
            FieldRule(dest="Status", transform="constant", constant="Completed"),
            FieldRule(dest="Type", transform="constant", constant="Maintenance"),
        ],
        lookups=[LookupRule(dest="WhatId", source="_parent.id", target=asset, on_missing="reject")],
    ))
    b.add(ObjectMapping(
        name="contracts->Contract", source_object="contracts", dest_object="Contract",
        description="Contracts arrive as Draft; SLA terms kept verbatim for rebuilding Entitlement Processes",
        fields=[
            FieldRule(dest="Name", source="name", max_length=80),
            FieldRule(dest="StartDate", source="start_date", transform="date"),
            FieldRule(dest="ContractTerm", sources=["start_date", "end_date"], transform="months_between"),
            FieldRule(dest="Status", transform="constant", constant="Draft"),
            FieldRule(dest="Sercom_Status__c", source="status", transform="picklist",
                      value_map=title_map(["draft", "active", "expired", "terminated"])),
            FieldRule(dest="Contract_Terms__c", source="terms", transform="text", max_length=131072),
            FieldRule(dest="SLA_Response_Hours__c", source="sla_response_hours", transform="number"),
            FieldRule(dest="SLA_Resolution_Hours__c", source="sla_resolution_hours", transform="number"),
        ],
        lookups=[LookupRule(dest="AccountId", source="customer_id", target=cust, **on_parent)],  # type: ignore[arg-type]
    ))
    b.add(ObjectMapping(
        name="contracts->Entitlement", source_object="contracts", dest_object="Entitlement",
        description="The SLA window of each contract, for Entitlement Process set-up",
        fields=[
            b.text("Entitlement", "Name", "name", required=True),
            FieldRule(dest="StartDate", source="start_date", transform="date"),
            FieldRule(dest="EndDate", source="end_date", transform="date"),
        ],
        lookups=[LookupRule(dest="AccountId", source="customer_id", target=cust, **on_parent)],  # type: ignore[arg-type]
    ))
    stages = deal_stages
    b.add(ObjectMapping(
        name="deals->Opportunity", source_object="deals", dest_object="Opportunity",
        fields=[
            b.text("Opportunity", "Name", "name", required=True),
            FieldRule(dest="StageName", source="stage_id", transform="picklist", value_map=stages, required=True),
            FieldRule(dest="CloseDate", source="close_date", transform="date", required=True),
            FieldRule(dest="Amount", source="amount", transform="currency"),
        ],
        lookups=[LookupRule(dest="AccountId", source="customer_id", target=cust, **on_parent)],  # type: ignore[arg-type]
        owner=OwnerRule(source="owner_id"),
    ))
    b.add(ObjectMapping(
        name="work_orders->Case", source_object="work_orders", dest_object="Case",
        description="The service interaction: status, priority, origin",
        fields=[
            FieldRule(dest="Subject", sources=["number", "subject"], transform="full_name", max_length=255),
            b.text("Case", "Description", "description", transform="text"),
            FieldRule(dest="Status", source="status", transform="picklist", value_map=CASE_STATUS),
            FieldRule(dest="Priority", source="priority", transform="picklist", value_map=CASE_PRIORITY),
            FieldRule(dest="Origin", source="origin", transform="picklist", value_map=CASE_ORIGIN),
            FieldRule(dest="Type", source="type", transform="picklist",
                      value_map=title_map(SERVICE_TYPES)),
        ],
        lookups=[LookupRule(dest="AccountId", source="customer_id", target=cust, **on_parent),  # type: ignore[arg-type]
                 LookupRule(dest="ContactId", source="contact_id", target=contact),
                 LookupRule(dest="AssetId", source="asset_id", target=asset)],
        owner=OwnerRule(source="technician_id"),
    ))
    b.add(ObjectMapping(
        name="work_orders->Work_Order__c", source_object="work_orders", dest_object=wo,
        description="Sercom-specific work-order detail, linked to its Case and Account",
        fields=[
            FieldRule(dest="Name", source="number", required=True, max_length=80),
            FieldRule(dest="Service_Type__c", source="type", transform="picklist",
                      value_map=title_map(SERVICE_TYPES)),
            FieldRule(dest="Status__c", source="status", transform="picklist", value_map=title_map(CASE_STATUS)),
            FieldRule(dest="Priority__c", source="priority", transform="picklist",
                      value_map=title_map(CASE_PRIORITY)),
            FieldRule(dest="Scheduled_Date__c", source="scheduled_date", transform="date"),
            FieldRule(dest="Completed_At__c", source="completed_at", transform="datetime"),
            FieldRule(dest="Labor_Hours__c", source="labor_hours", transform="number"),
            FieldRule(dest="Revenue__c", source="revenue", transform="currency"),
            FieldRule(dest="Resolution_Code__c", source="resolution_code", max_length=80),
            FieldRule(dest="Status_History__c", source="status_history", transform="json"),
            *b.tenant_fields("work_orders", wo),
        ],
        lookups=[LookupRule(dest="Case__c", source="id", target=case, **on_parent),  # type: ignore[arg-type]
                 LookupRule(dest="Account__c", source="customer_id", target=cust, **on_parent),  # type: ignore[arg-type]
                 LookupRule(dest="Location__c", source="location_id", target=loc),
                 LookupRule(dest="Asset__c", source="asset_id", target=asset)],
        owner=OwnerRule(source="technician_id"),
    ))
    b.add(ObjectMapping(
        name="parts_used->Parts_Used__c", source_object="parts_used", dest_object=pu,
        fields=[
            FieldRule(dest="Name", source="part_number", required=True, max_length=80),
            FieldRule(dest="Part_Number__c", source="part_number", max_length=80),
            FieldRule(dest="Quantity__c", source="quantity", transform="number"),
            FieldRule(dest="Unit_Cost__c", source="unit_cost", transform="currency"),
            FieldRule(dest="Total_Cost__c", sources=["quantity", "unit_cost"], transform="product"),
            FieldRule(dest="Serial_Number__c", source="serial_number", max_length=80),
            FieldRule(dest="Warranty_Status__c", source="warranty_status", transform="picklist",
                      value_map=title_map(["in_warranty", "out_of_warranty", "unknown"])),
        ],
        lookups=[LookupRule(dest="Work_Order__c", source="work_order_id", target=target("work_orders", wo),
                            on_missing="reject"),
                 LookupRule(dest="Product__c", source="product_id", target=product)],
    ))
    what = LookupRule(dest="WhatId", source="work_order_id", target=case,
                      or_else=[LookupCandidate(source="asset_id", target=asset),
                               LookupCandidate(source="customer_id", target=cust)])
    who = LookupRule(dest="WhoId", source="contact_id", target=contact)
    activity_common = [
        b.text("Task", "Subject", "subject"),
        FieldRule(dest="Description", source="description", transform="text", max_length=32000),
        FieldRule(dest="Duration_Minutes__c", source="duration_minutes", transform="number"),
        FieldRule(dest="Outcome__c", source="outcome", max_length=80),
    ]
    b.add(ObjectMapping(
        name="activities->Task", source_object="activities", dest_object="Task",
        description="Visits, calls and emails with their original timestamps",
        where={"type": list(TASK_TYPE)},
        fields=[
            *activity_common,
            FieldRule(dest="ActivityDate", source="started_at", transform="date"),
            FieldRule(dest="Status", transform="constant", constant="Completed"),
            FieldRule(dest="Type", source="type", transform="picklist", value_map=TASK_TYPE),
        ],
        lookups=[what, who], owner=OwnerRule(source="technician_id"),
    ))
    b.add(ObjectMapping(
        name="activities->Event", source_object="activities", dest_object="Event",
        description="Meetings as calendar events",
        where={"type": ["meeting"]},
        fields=[
            *activity_common,
            FieldRule(dest="StartDateTime", source="started_at", transform="datetime", required=True),
            FieldRule(dest="ActivityDateTime", source="started_at", transform="datetime"),
            FieldRule(dest="DurationInMinutes", source="duration_minutes", transform="integer", required=True),
            FieldRule(dest="Type", transform="constant", constant="Meeting"),
        ],
        lookups=[what.model_copy(), who.model_copy()], owner=OwnerRule(source="technician_id"),
    ))
    parent = {"type_field": "parent_type", "targets": PARENTS, "on_missing": "reject"}
    b.add(ObjectMapping(
        name="notes->ContentVersion", source_object="notes", dest_object="ContentVersion",
        description="Inline notes as Salesforce notes (ContentVersion .snote) on their record",
        insert_only=True,
        fields=[
            FieldRule(dest="Title", sources=["title"], transform="full_name", max_length=255),
            FieldRule(dest="PathOnClient", transform="constant", constant="note.snote"),
            FieldRule(dest="VersionData", source="body", transform="base64_text", required=True),
        ],
        lookups=[LookupRule(dest="FirstPublishLocationId", source="parent_id", **parent)],  # type: ignore[arg-type]
    ))
    b.add(ObjectMapping(
        name="attachments->ContentVersion", source_object="attachments", dest_object="ContentVersion",
        description="Files, with their bytes, linked to their record",
        insert_only=True, attachment_source="VersionData",
        fields=[
            FieldRule(dest="Title", source="file_name", required=True, max_length=255),
            FieldRule(dest="PathOnClient", source="file_name", required=True, max_length=500),
        ],
        lookups=[LookupRule(dest="FirstPublishLocationId", source="parent_id", **parent)],  # type: ignore[arg-type]
    ))
    b.conform_picklists()
    b.conform_updateable()
    b.check_required()
    return b.finish(PAIR, custom_objects=CUSTOM_OBJECTS, owners=owners, fallback_owner_id=fallback_owner_id,
                    default_records={DEFAULT_ACCOUNT_KEY: {"object": "Account",
                                                           "Name": "Sercom contacts without an account"}})

#: The pair's object table as data: source object -> the destination objects its records land in (the
#: estimate reads it before any credentials; a unit test holds it to what ``build_spec`` proposes).
OBJECT_TABLE: dict[str, list[str]] = {
    "customers": ["Account"],
    "locations": ["Account"],
    "products": ["Product2"],
    "contacts": ["Contact", "AccountContactRole"],
    "territories": ["Service_Territory__c"],
    "assets": ["Asset", "Task"],
    "contracts": ["Contract", "Entitlement"],
    "deals": ["Opportunity"],
    "work_orders": ["Case", "Work_Order__c"],
    "parts_used": ["Parts_Used__c"],
    "activities": ["Task", "Event"],
    "notes": ["ContentVersion"],
    "attachments": ["ContentVersion"],
}
#: Destination objects the run creates (custom objects/tables/modules/models) before loading.
CREATED_OBJECTS: list[str] = ["Work_Order__c", "Parts_Used__c", "Service_Territory__c"]

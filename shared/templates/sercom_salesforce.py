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

import re
from collections.abc import Iterable
from typing import Any

from shared.errors import MappingError
from shared.mapping.infer import inferred
from shared.mapping.spec import (
    CustomFieldSpec,
    CustomObjectSpec,
    FieldRule,
    LookupCandidate,
    LookupRule,
    LookupTarget,
    MigrationSpec,
    ObjectMapping,
    OwnerRule,
)
from shared.models import DestCatalog, DestField, RunOptions, SourceCatalog, SourceObject
from shared.sources.sercom import SercomSource

PAIR = "sercom-salesforce"
EXT_ID = "Sercom_Id__c"
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


def api_name(key: str) -> str:
    """Sercom custom-field key -> Salesforce custom-field API name (``contract_tier`` -> ``Contract_Tier__c``)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", key) if w]
    name = "_".join(w[:1].upper() + w[1:] for w in words) or "Field"
    if name[0].isdigit():
        name = "X" + name
    return name[:37] + "__c"


def title_map(values: Iterable[str]) -> dict[str, str]:
    """Value-by-value pick-list map that keeps each Sercom value as a readable label."""
    return {v: v.replace("_", " ").title() for v in values}


def _t(source: str, dest: str) -> LookupTarget:
    return LookupTarget(source_object=source, dest_object=dest)


class _Builder:
    """Accumulates mappings and the schema they need, checking against the describes."""

    def __init__(self, source: SourceCatalog, dest: DestCatalog, options: RunOptions) -> None:
        self.source = source
        self.dest = dest
        self.options = options
        self.fields: dict[tuple[str, str], CustomFieldSpec] = {}
        self.mappings: list[ObjectMapping] = []

    # --- schema ---------------------------------------------------------------------------
    def custom(self, obj: str, name: str, label: str, type_: str, **kw: object) -> str:
        spec = CustomFieldSpec(object=obj, name=name, label=label, type=type_, **kw)  # type: ignore[arg-type]
        self.fields.setdefault((obj, name), spec)
        return name

    def audit_capable(self, obj: str) -> bool:
        described = self.dest.objects.get(obj)
        created = described.fields.get("CreatedDate") if described else None
        if described is None:  # custom object created by this run: audit fields follow the org permission
            return self.dest.audit_fields_settable
        return bool(created and created.createable)

    def max_length(self, obj: str, name: str, default: int | None = None) -> int | None:
        described = self.dest.objects.get(obj)
        f = described.fields.get(name) if described else None
        if f and f.length:
            return f.length
        spec = self.fields.get((obj, name))
        return spec.length if spec and spec.length else default

    def text(self, obj: str, dest: str, source: str, *, required: bool = False, transform: str = "string",
             on_invalid: str = "null") -> FieldRule:
        return FieldRule(dest=dest, source=source, transform=transform, required=required,  # type: ignore[arg-type]
                         max_length=self.max_length(obj, dest), on_invalid=on_invalid)  # type: ignore[arg-type]

    # --- common parts of every mapping ------------------------------------------------------
    def timestamps(self, obj: str, sources: tuple[str, str]) -> list[FieldRule]:
        created, modified = sources
        if self.audit_capable(obj):
            return [FieldRule(dest="CreatedDate", source=created, transform="datetime", insert_only=True),
                    FieldRule(dest="LastModifiedDate", source=modified, transform="datetime", insert_only=True)]
        self.custom(obj, "Original_Created_Date__c", "Original Created Date", "DateTime")
        self.custom(obj, "Original_Modified_Date__c", "Original Modified Date", "DateTime")
        return [FieldRule(dest="Original_Created_Date__c", source=created, transform="datetime"),
                FieldRule(dest="Original_Modified_Date__c", source=modified, transform="datetime")]

    def tenant_fields(self, source_obj: str, dest_obj: str) -> list[FieldRule]:
        """Sercom custom fields -> ``__c`` fields with inferred types and pick-list value maps."""
        try:
            sobj: SourceObject = self.source.object(source_obj)
        except KeyError:
            return []
        rules: list[FieldRule] = []
        for f in sobj.fields:
            if not f.custom:
                continue
            name = api_name(f.name)
            path = f"custom_fields.{f.name}"
            label = (f.label or f.name)[:40]
            kind, why = inferred(f.type, f.sample)
            note = f"{path} ({why})"
            if kind == "picklist":
                used = f.sample.observed if f.sample else []
                values = list(dict.fromkeys([*f.picklist_values, *used]))
                self.custom(dest_obj, name, label, "Picklist", picklist_values=values, restricted=True, source=note)
                rules.append(FieldRule(dest=name, source=path, transform="picklist",
                                       value_map={v: v for v in values}))
            elif kind == "number":
                self.custom(dest_obj, name, label, "Number", precision=18, scale=4, source=note)
                rules.append(FieldRule(dest=name, source=path, transform="number"))
            elif kind == "date":
                self.custom(dest_obj, name, label, "Date", source=note)
                rules.append(FieldRule(dest=name, source=path, transform="date"))
            elif kind == "datetime":
                self.custom(dest_obj, name, label, "DateTime", source=note)
                rules.append(FieldRule(dest=name, source=path, transform="datetime"))
            elif kind == "boolean":
                self.custom(dest_obj, name, label, "Checkbox", source=note)
                rules.append(FieldRule(dest=name, source=path, transform="boolean"))
            elif kind == "long_text":
                self.custom(dest_obj, name, label, "LongTextArea", length=32768, source=note)
                rules.append(FieldRule(dest=name, source=path, transform="text", max_length=32768))
            else:
                self.custom(dest_obj, name, label, "Text", length=255, source=note)
                rules.append(FieldRule(dest=name, source=path, max_length=255))
        return rules

    def add(self, mapping: ObjectMapping) -> None:
        if self.options.objects and mapping.source_object not in self.options.objects:
            return
        if not mapping.natural_key:
            self.custom(mapping.dest_object, EXT_ID, "Sercom Id", "Text", length=80, external_id=True, unique=True)
        mapping.fields.extend(self.timestamps(mapping.dest_object, mapping.timestamps))
        self.mappings.append(mapping)

    def free_picklist(self, obj: str, dest: str, source: str) -> FieldRule:
        """A free-text source value into a destination pick-list: matched case-insensitively."""
        described = self.dest.objects.get(obj)
        field = described.fields.get(dest) if described else None
        if field is None or not field.picklist_values:
            return self.text(obj, dest, source)
        return FieldRule(dest=dest, source=source, transform="picklist",
                         value_map={v: v for v in field.picklist_values})

    def conform_picklists(self) -> None:
        """Make every pick-list rule land on values the destination allows.

        Targets the org lacks are matched case-insensitively, else sent to "Other" when the
        org has it; unknown source values fall back to the same default, each reported.
        A constant the org refuses is a mapping error, named.
        """
        for m in self.mappings:
            described = self.dest.objects.get(m.dest_object)
            for i, rule in enumerate(m.fields):
                field = described.fields.get(rule.dest) if described else None
                if field is None or not field.restricted_picklist or not field.picklist_values:
                    continue
                allowed = {v.casefold(): v for v in field.picklist_values}
                fallback = allowed.get("other")
                if rule.transform == "constant":
                    if str(rule.constant).casefold() not in allowed:
                        raise MappingError(f"mapping {m.name!r}: {m.dest_object}.{rule.dest} does not allow "
                                           f"{rule.constant!r} (allowed: {field.picklist_values})")
                    continue
                if rule.transform != "picklist" or rule.value_map is None:
                    continue
                conformed = {}
                for src, target in rule.value_map.items():
                    match = allowed.get(target.casefold(), fallback)
                    if match is not None:
                        conformed[src] = match
                m.fields[i] = rule.model_copy(update={"value_map": conformed, "default": rule.default or fallback})

    def conform_updateable(self) -> None:
        """Fields the destination accepts on create only are never sent when a record is updated."""
        for m in self.mappings:
            described = self.dest.objects.get(m.dest_object)
            if described is None:
                continue

            fields = described.fields

            def create_only(name: str, fields: dict[str, DestField] = fields) -> bool:
                f = fields.get(name)
                return bool(f and f.createable and not f.updateable)

            m.fields = [r.model_copy(update={"insert_only": True}) if create_only(r.dest) else r for r in m.fields]
            m.lookups = [lk.model_copy(update={"insert_only": True}) if create_only(lk.dest) else lk
                         for lk in m.lookups]

    # --- validation --------------------------------------------------------------------------
    def check_required(self) -> None:
        """Every field the destination requires on create must be filled by some rule."""
        for m in self.mappings:
            described = self.dest.objects.get(m.dest_object)
            if described is None:
                continue
            filled = {f.dest for f in m.fields} | {lk.dest for lk in m.lookups} | (
                {m.owner.dest} if m.owner else set())
            if m.attachment_source:
                filled.add(m.attachment_source)
            missing = sorted(n for n, f in described.fields.items() if f.required_on_create and n not in filled)
            if missing:
                raise MappingError(f"mapping {m.name!r}: {m.dest_object} requires {missing} but no rule fills them")


def deal_stage_map(stage_rows: list[dict[str, object]]) -> dict[str, str]:
    """Pipeline stage id -> Opportunity StageName, value by value, from the stage records.

    Closed stages become Closed Won / Closed Lost; open stages keep their order and land
    on Salesforce's standard open stages in the same order.
    """
    mapping: dict[str, str] = {}
    open_rows = sorted((r for r in stage_rows if not r.get("is_closed")),
                       key=lambda r: float(str(r.get("sort_order") or 0)))
    for i, row in enumerate(open_rows):
        mapping[str(row["id"])] = OPEN_STAGES[min(i, len(OPEN_STAGES) - 1)]
    for row in stage_rows:
        if row.get("is_closed"):
            mapping[str(row["id"])] = "Closed Won" if row.get("is_won") else "Closed Lost"
    return mapping


def discovery_extras(source: SercomSource, catalog: SourceCatalog) -> dict[str, Any]:
    """The pipeline stages (deals' stages map value by value onto the org's StageName)."""
    has_stages = any(o.name == "pipeline_stages" for o in catalog.objects)
    return {"pipeline_stages": source.read_all("pipeline_stages") if has_stages else []}


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

    Deal stages come from ``deal_stages`` when given, else from ``extras`` (discovery's reads).
    """
    if deal_stages is None:
        deal_stages = deal_stage_map(list((extras or {}).get("pipeline_stages", [])))
    b = _Builder(source, dest, options)
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

    cust, loc = _t("customers", "Account"), _t("locations", "Account")
    contact, case, asset = _t("contacts", "Contact"), _t("work_orders", "Case"), _t("assets", "Asset")
    product = _t("products", "Product2")

    b.add(ObjectMapping(
        name="customers->Account", source_object="customers", dest_object="Account",
        description="Service accounts; hierarchy kept through ParentId (second pass)",
        fields=[
            b.text("Account", "Name", "name", required=True),
            FieldRule(dest="Type", transform="constant", constant="Customer - Direct"),
            FieldRule(dest="Customer_Segment__c", source="account_type", transform="picklist",
                      value_map=title_map(["commercial", "residential", "government", "industrial"])),
            b.text("Account", "Phone", "phone"),
            b.text("Account", "Website", "website"),
            FieldRule(dest="Sercom_Email__c", source="email", transform="email"),
            b.free_picklist("Account", "Industry", "industry"),
            FieldRule(dest="AnnualRevenue", source="annual_revenue", transform="currency"),
            b.text("Account", "BillingStreet", "billing_street"),
            b.text("Account", "BillingCity", "billing_city"),
            b.text("Account", "BillingState", "billing_state"),
            b.text("Account", "BillingPostalCode", "billing_zip"),
            b.text("Account", "BillingCountry", "billing_country"),
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
            b.text("Account", "ShippingStreet", "street"),
            b.text("Account", "ShippingCity", "city"),
            b.text("Account", "ShippingState", "state"),
            b.text("Account", "ShippingPostalCode", "zip"),
            b.text("Account", "ShippingCountry", "country"),
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
            b.text("Contact", "Phone", "phone"),
            b.text("Contact", "MobilePhone", "mobile"),
            b.text("Contact", "Title", "title"),
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
        lookups=[LookupRule(dest="Work_Order__c", source="work_order_id", target=_t("work_orders", wo),
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
    return MigrationSpec(
        pair=PAIR,
        external_id_field=EXT_ID,
        custom_objects=[o for o in CUSTOM_OBJECTS if any(m.dest_object == o.name for m in b.mappings)],
        custom_fields=[f for f in b.fields.values() if any(m.dest_object == f.object for m in b.mappings)],
        mappings=b.mappings,
        owners=owners,
        fallback_owner_id=fallback_owner_id,
        default_records={DEFAULT_ACCOUNT_KEY: {"object": "Account", "Name": "Sercom contacts without an account"}},
        audit_fields=dest.audit_fields_settable,
    )


"""Pair template: ServiceTracker -> Salesforce Sales Cloud (seed 003).

Every row of the pair's object table, as data over the shared spec builder:

| ServiceTracker | Salesforce |
|---|---|
| Client | Account (client id kept in ``Client_Id__c``; the primary location's address as Shipping) |
| Location / Site | the Account's shipping address (single site); ``Site__c`` per site of a multi-site client |
| Client Contact | Contact (primary flag, role, default location as custom fields) |
| Project | Opportunity when billable (budget -> Amount, projected end -> CloseDate), else ``Project__c`` |
| Work Order | Case (break-fix, support) or ``Work_Order__c`` (the other types); type in ``Work_Order_Type__c`` |
| Work Order Task | Task, or ``Work_Order_Task__c`` when it carries custom fields (scheduled start/end kept) |
| Asset | Asset with its work history (``Asset_Work_History__c``) |
| Contract | Contract with line items as a field, documents as Files on the contract |
| Invoice | ``Invoice__c`` with its payment lines as ``Invoice_Line__c`` |
| Technician | User by email (owners); unmatched -> Contact in the 'Technicians' account with ``Role__c`` |
| Parts / Inventory Line | ``Parts_Used__c`` (to the work order and the asset), the catalog as ``Inventory__c`` |
| Custom tables | custom objects 1:1 with their column types |
| Notes / attachments | notes and Files (ContentVersion) with original time and author; files over 25 MB flagged |

The project rule is ``options.servicetracker.projects_as`` (billable -> Opportunity by default).

The project <-> work order cycle (a project lists its work orders, each points back) is broken
explicitly: projects load before work orders, the work order's project lookup is **deferred** and filled
by the fix-up pass; the project's list is the destination's related list of work orders pointing at it.
The plan (mapping document) shows the deferred lookup as "second pass".
"""

from __future__ import annotations

from typing import Any

from shared.connectors import registry
from shared.mapping.spec import Condition, CustomObjectSpec, FieldRule, LookupCandidate, LookupRule
from shared.models import DestCatalog, RunOptions, SourceCatalog
from shared.pairs.builder import MigrationSpec, ObjectMapping, OwnerRule, SpecBuilder, target, title_map
from shared.reports import csv_text

PAIR = "servicetracker-salesforce"
SOURCE, DESTINATION = "servicetracker", "salesforce"
DEFAULT_ACCOUNT_KEY = "flitstack:default-account"
TECHNICIANS_ACCOUNT_KEY = "flitstack:technicians-account"
DEST_OBJECTS = ["Account", "Contact", "Asset", "Contract", "Opportunity", "Case", "Task", "ContentVersion",
                "Site__c", "Project__c", "Work_Order__c", "Work_Order_Task__c", "Invoice__c", "Invoice_Line__c",
                "Parts_Used__c", "Inventory__c"]

WO, SITE, PROJECT, TASK_C = "Work_Order__c", "Site__c", "Project__c", "Work_Order_Task__c"
INVOICE, LINE, PARTS, CATALOG = "Invoice__c", "Invoice_Line__c", "Parts_Used__c", "Inventory__c"
CUSTOM_OBJECTS = [
    CustomObjectSpec(name=SITE, label="Site", plural_label="Sites"),
    CustomObjectSpec(name=PROJECT, label="Project", plural_label="Projects"),
    CustomObjectSpec(name=WO, label="Work Order", plural_label="Work Orders"),
    CustomObjectSpec(name=TASK_C, label="Work Order Task", plural_label="Work Order Tasks"),
    CustomObjectSpec(name=INVOICE, label="Invoice", plural_label="Invoices"),
    CustomObjectSpec(name=LINE, label="Invoice Line", plural_label="Invoice Lines"),
    CustomObjectSpec(name=PARTS, label="Part Used", plural_label="Parts Used"),
    CustomObjectSpec(name=CATALOG, label="Inventory Item", plural_label="Inventory Items"),
]

#: Work-order types routed to Case (reactive work); every other type, known or not, is a Work_Order__c.
CASE_TYPES = ["break_fix", "support"]
WO_TYPES = ["preventive_maintenance", "scheduled_service", "installation"]
CASE_STATUS = {"new": "New", "scheduled": "Working", "dispatched": "Working", "in_progress": "Working",
               "on_hold": "Escalated", "completed": "Closed", "closed": "Closed", "cancelled": "Closed"}
PRIORITY = {"low": "Low", "medium": "Medium", "high": "High", "emergency": "High"}
WO_STATUS = ["new", "scheduled", "dispatched", "in_progress", "on_hold", "completed", "closed", "cancelled"]
TASK_STATUS = {"open": "Not Started", "in_progress": "In Progress", "done": "Completed", "skipped": "Deferred"}
TASK_PRIORITY = {"low": "Low", "normal": "Normal", "high": "High"}
ASSET_STATUS = {"active": "Installed", "in_service": "Installed", "out_of_service": "Registered",
                "retired": "Obsolete"}
STAGES = {"planning": "Qualification", "active": "Proposal/Price Quote", "on_hold": "Needs Analysis",
          "completed": "Closed Won", "cancelled": "Closed Lost"}
PROJECT_STATUS = ["planning", "active", "on_hold", "completed", "cancelled"]
INVOICE_STATUS = ["draft", "sent", "partially_paid", "paid", "overdue", "void"]
CONTRACT_STATUS = ["draft", "active", "expired", "cancelled"]
SITE_TYPES = ["headquarters", "branch", "warehouse", "plant", "store", "residence"]
CONTACT_ROLES = ["owner", "billing", "site_manager", "technical", "decision_maker"]
TECH_ROLES = ["technician", "lead_technician", "dispatcher", "subcontractor"]
CLIENT_STATUS = ["active", "inactive", "prospect"]


def _project_routes(options: RunOptions) -> tuple[dict[str, list[str]], list[Condition]]:
    """(where of projects->Opportunity, unless of projects->Project__c): the user's rule, as data."""
    rule = options.servicetracker.projects_as
    if rule == "all_opportunity":
        return {}, [Condition(present=["id"])]
    if rule == "all_project":
        return {"id": []}, []
    return {"billable": ["true"]}, [Condition(where={"billable": ["true"]})]


def extra_reports(spec: MigrationSpec, catalog: SourceCatalog, dcat: DestCatalog, extras: dict[str, Any]
                  ) -> dict[str, tuple[str, str]]:
    """The plan's flags: files over Salesforce's 25 MB default (not loaded; verify/upload after raising the
    limit) and every custom field with the evidence of its type (the pre-flight is ``readiness.json``)."""
    large = [{**row, "reason": "over Salesforce's 25 MB default file size: not loaded, upload after raising the "
                               "limit and verify it renders"} for row in extras.get("large_files", [])]
    evidence = [{"object": o.name, "field": f.name, "type": f.type, "picklist_values": "; ".join(f.picklist_values),
                 "evidence": f.evidence} for o in catalog.objects for f in o.fields if f.custom]
    return {
        "large-files.csv": (csv_text(large, ["id", "file_name", "size_bytes", "parent_type", "parent_id", "reason"]),
                            "text/csv"),
        "custom-fields.csv": (csv_text(evidence, ["object", "field", "type", "picklist_values", "evidence"]),
                              "text/csv"),
    }


def build_spec(source: SourceCatalog, dest: DestCatalog, options: RunOptions, *, extras: dict[str, Any] | None = None,
               owners: dict[str, str], fallback_owner_id: str) -> MigrationSpec:
    """Propose the mapping for this tenant and org (the document a person reviews and approves)."""
    extras = extras or {}
    b = SpecBuilder(source, dest, options, registry.destination(DESTINATION).capabilities,
                    source_label=registry.source(SOURCE).label)
    reject = {"on_missing": "reject"}
    money = {"precision": 16, "scale": 2}

    # --- schema this pair needs ----------------------------------------------------------------
    b.custom("Account", "Client_Id__c", "ServiceTracker Client Id", "Text", length=20)
    b.custom("Account", "Client_Status__c", "Client Status", "Picklist", restricted=True,
             picklist_values=list(title_map(CLIENT_STATUS).values()))
    b.custom("Account", "Client_Email__c", "Client Email", "Email")
    b.custom("Account", "Site_Count__c", "Sites", "Number", precision=6, scale=0)
    b.custom("Contact", "Is_Primary__c", "Primary Contact", "Checkbox")
    b.custom("Contact", "Contact_Role__c", "Contact Role", "Picklist", restricted=True,
             picklist_values=list(title_map(CONTACT_ROLES).values()))
    b.custom("Contact", "Default_Location__c", "Default Location", "Lookup", reference_to=SITE)
    b.custom("Contact", "Role__c", "Technician Role", "Picklist", restricted=True,
             picklist_values=list(title_map(TECH_ROLES).values()))
    b.custom("Contact", "Employee_Number__c", "Employee Number", "Text", length=40)
    b.custom(SITE, "Account__c", "Account", "Lookup", reference_to="Account")
    b.custom(SITE, "Site_Type__c", "Site Type", "Picklist", restricted=True,
             picklist_values=list(title_map(SITE_TYPES).values()))
    for name, label in (("Street__c", "Street"), ("City__c", "City"), ("State__c", "State"),
                        ("Postal_Code__c", "Postal Code"), ("Country__c", "Country")):
        b.custom(SITE, name, label, "Text", length=255)
    b.custom(SITE, "Is_Primary__c", "Primary Site", "Checkbox")
    b.custom(SITE, "Latitude__c", "Latitude", "Number", precision=10, scale=6)
    b.custom(SITE, "Longitude__c", "Longitude", "Number", precision=10, scale=6)
    b.custom(CATALOG, "Part_Number__c", "Part Number", "Text", length=80)
    b.custom(CATALOG, "Description__c", "Description", "LongTextArea", length=32768)
    b.custom(CATALOG, "Category__c", "Category", "Text", length=80)
    b.custom(CATALOG, "Unit_Cost__c", "Unit Cost", "Currency", **money)
    b.custom(CATALOG, "Unit_Price__c", "Unit Price", "Currency", **money)
    b.custom(CATALOG, "Quantity_On_Hand__c", "Quantity On Hand", "Number", precision=10, scale=0)
    b.custom(CATALOG, "Active__c", "Active", "Checkbox")
    b.custom("Asset", "Asset_Work_History__c", "Work History", "LongTextArea", length=32768)
    b.custom("Asset", "Site__c", "Site", "Lookup", reference_to=SITE)
    b.custom("Asset", "Inventory_Item__c", "Inventory Item", "Lookup", reference_to=CATALOG)
    b.custom("Contract", "Contract_Number__c", "ServiceTracker Contract Number", "Text", length=40)
    b.custom("Contract", "Contract_Status__c", "ServiceTracker Status", "Picklist", restricted=True,
             picklist_values=list(title_map(CONTRACT_STATUS).values()))
    b.custom("Contract", "Billing_Frequency__c", "Billing Frequency", "Picklist", restricted=True,
             picklist_values=["Monthly", "Quarterly", "Annually"])
    b.custom("Contract", "Total_Value__c", "Total Value", "Currency", **money)
    b.custom("Contract", "Terms__c", "Terms", "LongTextArea", length=131072)
    b.custom("Contract", "Line_Items__c", "Line Items", "LongTextArea", length=131072)
    for obj in ("Opportunity", PROJECT):
        b.custom(obj, "Project_Number__c", "Project Number", "Text", length=40)
        b.custom(obj, "Start_Date__c", "Start Date", "Date")
        b.custom(obj, "Project_Status__c", "Project Status", "Picklist", restricted=True,
                 picklist_values=list(title_map(PROJECT_STATUS).values()))
    b.custom(PROJECT, "Account__c", "Account", "Lookup", reference_to="Account")
    b.custom(PROJECT, "Budget__c", "Budget", "Currency", **money)
    b.custom(PROJECT, "Projected_End_Date__c", "Projected End Date", "Date")
    b.custom(PROJECT, "Billable__c", "Billable", "Checkbox")
    b.custom(PROJECT, "Description__c", "Description", "LongTextArea", length=32768)
    for obj in ("Case", WO):  # the work order, whichever object it lands in
        b.custom(obj, "Work_Order_Number__c", "Work Order Number", "Text", length=40)
        b.custom(obj, "Work_Order_Type__c", "Work Order Type", "Picklist", restricted=True,
                 picklist_values=list(title_map([*CASE_TYPES, *WO_TYPES]).values()))
        b.custom(obj, "Scheduled_Start__c", "Scheduled Start", "DateTime")
        b.custom(obj, "Completed_At__c", "Completed At", "DateTime")
        b.custom(obj, "Site__c", "Site", "Lookup", reference_to=SITE)
        b.custom(obj, "Contract__c", "Contract", "Lookup", reference_to="Contract")
        b.custom(obj, "Opportunity__c", "Project (Opportunity)", "Lookup", reference_to="Opportunity")
        b.custom(obj, "Project__c", "Project", "Lookup", reference_to=PROJECT)
    b.custom(WO, "Account__c", "Account", "Lookup", reference_to="Account")
    b.custom(WO, "Contact__c", "Contact", "Lookup", reference_to="Contact")
    b.custom(WO, "Asset__c", "Asset", "Lookup", reference_to="Asset")
    b.custom(WO, "Status__c", "Status", "Picklist", restricted=True,
             picklist_values=list(title_map(WO_STATUS).values()))
    b.custom(WO, "Priority__c", "Priority", "Picklist", restricted=True,
             picklist_values=list(dict.fromkeys(PRIORITY.values())))
    b.custom(WO, "Summary__c", "Summary", "Text", length=255)
    b.custom(WO, "Description__c", "Description", "LongTextArea", length=32768)
    for obj in ("Task", TASK_C):
        b.custom(obj, "Scheduled_Start__c", "Scheduled Start", "DateTime")
        b.custom(obj, "Scheduled_End__c", "Scheduled End", "DateTime")
        b.custom(obj, "Duration_Minutes__c", "Duration (minutes)", "Number", precision=8, scale=0)
        b.custom(obj, "Sequence__c", "Sequence", "Number", precision=6, scale=0)
    for name, ref in (("Case__c", "Case"), ("Work_Order__c", WO)):
        for obj in (TASK_C, PARTS, INVOICE):
            b.custom(obj, name, ref.replace("__c", "").replace("_", " "), "Lookup", reference_to=ref)
    b.custom(TASK_C, "Status__c", "Status", "Picklist", restricted=True,
             picklist_values=list(TASK_STATUS.values()))
    b.custom(TASK_C, "Priority__c", "Priority", "Picklist", restricted=True,
             picklist_values=list(TASK_PRIORITY.values()))
    b.custom(PARTS, "Asset__c", "Asset", "Lookup", reference_to="Asset")
    b.custom(PARTS, "Inventory_Item__c", "Inventory Item", "Lookup", reference_to=CATALOG)
    b.custom(PARTS, "Part_Number__c", "Part Number", "Text", length=80)
    b.custom(PARTS, "Quantity__c", "Quantity", "Number", precision=10, scale=2)
    b.custom(PARTS, "Unit_Cost__c", "Unit Cost", "Currency", **money)
    b.custom(PARTS, "Total_Cost__c", "Total Cost", "Currency", **money)
    b.custom(INVOICE, "Account__c", "Account", "Lookup", reference_to="Account")
    b.custom(INVOICE, "Contract__c", "Contract", "Lookup", reference_to="Contract")
    b.custom(INVOICE, "Issue_Date__c", "Issue Date", "Date")
    b.custom(INVOICE, "Due_Date__c", "Due Date", "Date")
    b.custom(INVOICE, "Invoice_Status__c", "Status", "Picklist", restricted=True,
             picklist_values=list(title_map(INVOICE_STATUS).values()))
    b.custom(INVOICE, "Currency__c", "Currency", "Text", length=3)
    b.custom(INVOICE, "Total__c", "Total", "Currency", **money)
    b.custom(INVOICE, "Balance__c", "Balance", "Currency", **money)
    b.custom(LINE, "Invoice__c", "Invoice", "Lookup", reference_to=INVOICE)
    b.custom(LINE, "Amount__c", "Amount", "Currency", **money)
    b.custom(LINE, "Paid_At__c", "Paid At", "DateTime")
    b.custom(LINE, "Method__c", "Method", "Text", length=40)

    cust, site = target("clients", "Account"), target("locations", SITE)
    contact, asset, contract = target("client_contacts", "Contact"), target("assets", "Asset"), target("contracts",
                                                                                                     "Contract")
    catalog = target("inventory_items", CATALOG)

    def work_order(source: str, case_field: str, wo_field: str, **kw: Any) -> LookupRule:
        """A reference to a work order, wherever it landed (Case, else Work_Order__c)."""
        return LookupRule(dest=case_field, source=source, target=target("work_orders", "Case", case_field),
                          or_else=[LookupCandidate(source=source, target=target("work_orders", WO, wo_field))], **kw)

    def project(source: str) -> LookupRule:
        """The work order -> project half of the cycle: deferred to the fix-up pass (projects load first)."""
        return LookupRule(dest="Opportunity__c", source=source,
                          target=target("projects", "Opportunity", "Opportunity__c"),
                          or_else=[LookupCandidate(source=source, target=target("projects", PROJECT, "Project__c"))],
                          deferred=True)

    b.add(ObjectMapping(
        name="clients->Account", source_object="clients", dest_object="Account",
        description="Clients; the client id kept as an external reference; the primary site as shipping address",
        fields=[
            b.text("Account", "Name", "name", required=True),
            b.text("Account", "AccountNumber", "client_number"),
            FieldRule(dest="Client_Id__c", source="id", max_length=20),
            FieldRule(dest="Client_Status__c", source="status", transform="picklist",
                      value_map=title_map(CLIENT_STATUS)),
            FieldRule(dest="Client_Email__c", source="email", transform="email"),
            FieldRule(dest="Site_Count__c", source="site_count", transform="integer"),
            *b.rows("Account", {"Phone": "phone", "Website": "website"}),
            b.free_picklist("Account", "Industry", "industry"),
            *b.rows("Account", {"BillingStreet": "street", "BillingCity": "city", "BillingState": "state",
                                "BillingPostalCode": "postal_code", "BillingCountry": "country",
                                "ShippingStreet": "primary_site.street", "ShippingCity": "primary_site.city",
                                "ShippingState": "primary_site.state",
                                "ShippingPostalCode": "primary_site.postal_code",
                                "ShippingCountry": "primary_site.country"}),
            *b.tenant_fields("clients", "Account"),
        ],
    ))
    b.add(ObjectMapping(
        name="locations->Site__c", source_object="locations", dest_object=SITE,
        description="Sites of multi-site clients (a single site is its client's shipping address)",
        where={"client_id": list(extras.get("multi_site_clients", []))},
        fields=[
            FieldRule(dest="Name", sources=["name", "city"], transform="full_name", max_length=80, required=True),
            FieldRule(dest="Site_Type__c", source="site_type", transform="picklist", value_map=title_map(SITE_TYPES)),
            *b.rows(SITE, {"Street__c": "street", "City__c": "city", "State__c": "state",
                           "Postal_Code__c": "postal_code", "Country__c": "country"}),
            FieldRule(dest="Is_Primary__c", source="is_primary", transform="boolean"),
            FieldRule(dest="Latitude__c", source="latitude", transform="number"),
            FieldRule(dest="Longitude__c", source="longitude", transform="number"),
        ],
        lookups=[LookupRule(dest="Account__c", source="client_id", target=cust, **reject)],  # type: ignore[arg-type]
    ))
    b.add(ObjectMapping(
        name="client_contacts->Contact", source_object="client_contacts", dest_object="Contact",
        description="Contacts without a client attach to the default account",
        fields=[
            b.text("Contact", "FirstName", "first_name"),
            b.text("Contact", "LastName", "last_name", required=True),
            FieldRule(dest="Email", source="email", transform="email", max_length=80),
            *b.rows("Contact", {"Phone": "phone", "MobilePhone": "mobile", "Title": "title"}),
            FieldRule(dest="Is_Primary__c", source="is_primary", transform="boolean"),
            FieldRule(dest="Contact_Role__c", source="role", transform="picklist",
                      value_map=title_map(CONTACT_ROLES)),
            *b.tenant_fields("client_contacts", "Contact"),
        ],
        lookups=[LookupRule(dest="AccountId", source="client_id", target=cust, on_missing="default",
                            default_key=DEFAULT_ACCOUNT_KEY),
                 LookupRule(dest="Default_Location__c", source="default_location_id", target=site)],
    ))
    b.add(ObjectMapping(
        name="technicians->Contact", source_object="technicians", dest_object="Contact",
        description="Technicians no Salesforce user matches by email, as Contacts of the 'Technicians' account",
        unless=[Condition(where={"id": sorted(owners)})],
        fields=[
            b.text("Contact", "FirstName", "first_name"),
            b.text("Contact", "LastName", "last_name", required=True),
            FieldRule(dest="Email", source="email", transform="email", max_length=80),
            b.text("Contact", "Phone", "phone"),
            FieldRule(dest="Role__c", source="role", transform="picklist", value_map=title_map(TECH_ROLES)),
            FieldRule(dest="Employee_Number__c", source="employee_number", max_length=40),
        ],
        lookups=[LookupRule(dest="AccountId", on_missing="default", default_key=TECHNICIANS_ACCOUNT_KEY)],
    ))
    b.add(ObjectMapping(
        name="inventory_items->Inventory__c", source_object="inventory_items", dest_object=CATALOG,
        description="The parts catalog",
        fields=[
            FieldRule(dest="Name", source="name", required=True, max_length=80),
            FieldRule(dest="Part_Number__c", source="part_number", max_length=80),
            FieldRule(dest="Description__c", source="description", transform="text", max_length=32768),
            FieldRule(dest="Category__c", source="category", max_length=80),
            FieldRule(dest="Unit_Cost__c", source="unit_cost", transform="currency"),
            FieldRule(dest="Unit_Price__c", source="unit_price", transform="currency"),
            FieldRule(dest="Quantity_On_Hand__c", source="quantity_on_hand", transform="integer"),
            FieldRule(dest="Active__c", source="active", transform="boolean"),
        ],
    ))
    b.add(ObjectMapping(
        name="assets->Asset", source_object="assets", dest_object="Asset",
        description="Assets with their work-order history",
        fields=[
            b.text("Asset", "Name", "name", required=True),
            b.text("Asset", "SerialNumber", "serial_number"),
            FieldRule(dest="InstallDate", source="install_date", transform="date"),
            FieldRule(dest="UsageEndDate", source="warranty_end_date", transform="date"),
            FieldRule(dest="Status", source="status", transform="picklist", value_map=ASSET_STATUS),
            FieldRule(dest="Asset_Work_History__c", source="work_history", transform="json", max_length=32768),
            *b.tenant_fields("assets", "Asset"),
        ],
        lookups=[LookupRule(dest="AccountId", source="client_id", target=cust, **reject),  # type: ignore[arg-type]
                 LookupRule(dest="Site__c", source="location_id", target=site),
                 LookupRule(dest="Inventory_Item__c", source="inventory_item_id", target=catalog)],
    ))
    b.add(ObjectMapping(
        name="contracts->Contract", source_object="contracts", dest_object="Contract",
        description="Contracts arrive as Draft; line items as a field (Contracts have no line-item object)",
        fields=[
            FieldRule(dest="Name", source="name", max_length=80),
            FieldRule(dest="Contract_Number__c", source="contract_number", max_length=40),
            FieldRule(dest="StartDate", source="start_date", transform="date"),
            FieldRule(dest="ContractTerm", sources=["start_date", "end_date"], transform="months_between"),
            FieldRule(dest="Status", transform="constant", constant="Draft"),
            FieldRule(dest="Contract_Status__c", source="status", transform="picklist",
                      value_map=title_map(CONTRACT_STATUS)),
            FieldRule(dest="Billing_Frequency__c", source="billing_frequency", transform="picklist",
                      value_map=title_map(["monthly", "quarterly", "annually"])),
            FieldRule(dest="Total_Value__c", source="total_value", transform="currency"),
            FieldRule(dest="Terms__c", source="terms", transform="text", max_length=131072),
            FieldRule(dest="Line_Items__c", source="line_items", transform="json", max_length=131072),
        ],
        lookups=[LookupRule(dest="AccountId", source="client_id", target=cust, **reject)],  # type: ignore[arg-type]
    ))
    as_opportunity, as_project = _project_routes(options)
    b.add(ObjectMapping(
        name="projects->Opportunity", source_object="projects", dest_object="Opportunity",
        description="Projects with billable revenue (the rule: options.servicetracker.projects_as)",
        where=as_opportunity,
        fields=[
            b.text("Opportunity", "Name", "name", required=True),
            FieldRule(dest="Amount", source="budget", transform="currency"),
            FieldRule(dest="CloseDate", source="projected_end_date", transform="date", required=True,
                      on_invalid="reject"),
            FieldRule(dest="StageName", source="status", transform="picklist", value_map=STAGES, required=True),
            FieldRule(dest="Project_Number__c", source="project_number", max_length=40),
            FieldRule(dest="Start_Date__c", source="start_date", transform="date"),
            FieldRule(dest="Project_Status__c", source="status", transform="picklist",
                      value_map=title_map(PROJECT_STATUS)),
            *b.tenant_fields("projects", "Opportunity"),
        ],
        lookups=[LookupRule(dest="AccountId", source="client_id", target=cust, **reject)],  # type: ignore[arg-type]
        owner=OwnerRule(source="manager_id"),
    ))
    b.add(ObjectMapping(
        name="projects->Project__c", source_object="projects", dest_object=PROJECT,
        description="Projects without billable revenue: budget, schedule, status; work orders link to them",
        unless=as_project,
        fields=[
            FieldRule(dest="Name", source="name", required=True, max_length=80),
            FieldRule(dest="Project_Number__c", source="project_number", max_length=40),
            FieldRule(dest="Budget__c", source="budget", transform="currency"),
            FieldRule(dest="Start_Date__c", source="start_date", transform="date"),
            FieldRule(dest="Projected_End_Date__c", source="projected_end_date", transform="date"),
            FieldRule(dest="Project_Status__c", source="status", transform="picklist",
                      value_map=title_map(PROJECT_STATUS)),
            FieldRule(dest="Billable__c", source="billable", transform="boolean"),
            FieldRule(dest="Description__c", source="description", transform="text", max_length=32768),
            *b.tenant_fields("projects", PROJECT),
        ],
        lookups=[LookupRule(dest="Account__c", source="client_id", target=cust, **reject)],  # type: ignore[arg-type]
        owner=OwnerRule(source="manager_id"),
    ))
    wo_common = [
        FieldRule(dest="Work_Order_Number__c", source="number", max_length=40),
        FieldRule(dest="Work_Order_Type__c", source="type", transform="picklist",
                  value_map=title_map([*CASE_TYPES, *WO_TYPES])),
        FieldRule(dest="Scheduled_Start__c", source="scheduled_start", transform="datetime"),
        FieldRule(dest="Completed_At__c", source="completed_at", transform="datetime"),
    ]
    b.add(ObjectMapping(
        name="work_orders->Case", source_object="work_orders", dest_object="Case",
        description="Reactive work (break-fix, support): status, priority, description",
        where={"type": CASE_TYPES},
        fields=[
            FieldRule(dest="Subject", sources=["number", "summary"], transform="full_name", max_length=255),
            b.text("Case", "Description", "description", transform="text"),
            FieldRule(dest="Status", source="status", transform="picklist", value_map=CASE_STATUS),
            FieldRule(dest="Priority", source="priority", transform="picklist", value_map=PRIORITY),
            *[r.model_copy() for r in wo_common],
            *b.tenant_fields("work_orders", "Case"),
        ],
        lookups=[LookupRule(dest="AccountId", source="client_id", target=cust, **reject),  # type: ignore[arg-type]
                 LookupRule(dest="ContactId", source="contact_id", target=contact),
                 LookupRule(dest="AssetId", source="asset_id", target=asset),
                 LookupRule(dest="Site__c", source="location_id", target=site),
                 LookupRule(dest="Contract__c", source="contract_id", target=contract),
                 project("project_id")],
        owner=OwnerRule(source="technician_id"),
    ))
    b.add(ObjectMapping(
        name="work_orders->Work_Order__c", source_object="work_orders", dest_object=WO,
        description="Preventive, scheduled and installation work (and any other type): scheduling, "
                    "technician and site",
        unless=[Condition(where={"type": CASE_TYPES})],
        fields=[
            FieldRule(dest="Name", source="number", required=True, max_length=80),
            FieldRule(dest="Status__c", source="status", transform="picklist", value_map=title_map(WO_STATUS)),
            FieldRule(dest="Priority__c", source="priority", transform="picklist", value_map=PRIORITY),
            FieldRule(dest="Summary__c", source="summary", max_length=255),
            FieldRule(dest="Description__c", source="description", transform="text", max_length=32768),
            *[r.model_copy() for r in wo_common],
            *b.tenant_fields("work_orders", WO),
        ],
        lookups=[LookupRule(dest="Account__c", source="client_id", target=cust, **reject),  # type: ignore[arg-type]
                 LookupRule(dest="Contact__c", source="contact_id", target=contact),
                 LookupRule(dest="Asset__c", source="asset_id", target=asset),
                 LookupRule(dest="Site__c", source="location_id", target=site),
                 LookupRule(dest="Contract__c", source="contract_id", target=contract),
                 project("project_id")],
        owner=OwnerRule(source="technician_id"),
    ))
    task_rows = [
        FieldRule(dest="Scheduled_Start__c", source="scheduled_start", transform="datetime"),
        FieldRule(dest="Scheduled_End__c", source="scheduled_end", transform="datetime"),
        FieldRule(dest="Duration_Minutes__c", source="duration_minutes", transform="integer"),
        FieldRule(dest="Sequence__c", source="sequence", transform="integer"),
    ]
    b.add(ObjectMapping(
        name="work_order_tasks->Task", source_object="work_order_tasks", dest_object="Task",
        description="Tasks without custom fields, as activities on their work order",
        unless=[Condition(present=["custom_fields"])],
        fields=[
            b.text("Task", "Subject", "subject", required=True),
            FieldRule(dest="Status", source="status", transform="picklist", value_map=TASK_STATUS),
            FieldRule(dest="Priority", source="priority", transform="picklist", value_map=TASK_PRIORITY),
            FieldRule(dest="ActivityDate", source="scheduled_start", transform="date"),
            *[r.model_copy() for r in task_rows],
        ],
        lookups=[LookupRule(dest="WhatId", source="work_order_id", target=target("work_orders", "Case"),
                            or_else=[LookupCandidate(source="work_order_id", target=target("work_orders", WO))],
                            on_missing="reject")],
        owner=OwnerRule(source="technician_id"),
    ))
    b.add(ObjectMapping(
        name="work_order_tasks->Work_Order_Task__c", source_object="work_order_tasks", dest_object=TASK_C,
        description="Tasks that carry custom fields the standard Task cannot hold",
        require_present=["custom_fields"],
        fields=[
            FieldRule(dest="Name", source="subject", required=True, max_length=80),
            FieldRule(dest="Status__c", source="status", transform="picklist", value_map=TASK_STATUS),
            FieldRule(dest="Priority__c", source="priority", transform="picklist", value_map=TASK_PRIORITY),
            *[r.model_copy() for r in task_rows],
            *b.tenant_fields("work_order_tasks", TASK_C),
        ],
        lookups=[work_order("work_order_id", "Case__c", "Work_Order__c", on_missing="reject")],
        owner=OwnerRule(source="technician_id"),
    ))
    b.add(ObjectMapping(
        name="parts_used->Parts_Used__c", source_object="parts_used", dest_object=PARTS,
        description="Parts used, linked to the work order and the asset; the catalog item when known",
        fields=[
            FieldRule(dest="Name", source="part_number", required=True, max_length=80),
            FieldRule(dest="Part_Number__c", source="part_number", max_length=80),
            FieldRule(dest="Quantity__c", source="quantity", transform="number"),
            FieldRule(dest="Unit_Cost__c", source="unit_cost", transform="currency"),
            FieldRule(dest="Total_Cost__c", source="total_cost", transform="currency"),
        ],
        lookups=[work_order("work_order_id", "Case__c", "Work_Order__c", on_missing="reject"),
                 LookupRule(dest="Asset__c", source="asset_id", target=asset),
                 LookupRule(dest="Inventory_Item__c", source="inventory_item_id", target=catalog)],
    ))
    b.add(ObjectMapping(
        name="invoices->Invoice__c", source_object="invoices", dest_object=INVOICE,
        fields=[
            FieldRule(dest="Name", source="invoice_number", required=True, max_length=80),
            FieldRule(dest="Issue_Date__c", source="issue_date", transform="date"),
            FieldRule(dest="Due_Date__c", source="due_date", transform="date"),
            FieldRule(dest="Invoice_Status__c", source="status", transform="picklist",
                      value_map=title_map(INVOICE_STATUS)),
            FieldRule(dest="Currency__c", source="currency", max_length=3),
            FieldRule(dest="Total__c", source="total", transform="currency"),
            FieldRule(dest="Balance__c", source="balance", transform="currency"),
        ],
        lookups=[LookupRule(dest="Account__c", source="client_id", target=cust, **reject),  # type: ignore[arg-type]
                 work_order("work_order_id", "Case__c", "Work_Order__c"),
                 LookupRule(dest="Contract__c", source="contract_id", target=contract)],
    ))
    b.add(ObjectMapping(
        name="invoices.payment_lines->Invoice_Line__c", source_object="invoices", dest_object=LINE,
        description="Each payment line of an invoice", explode="payment_lines", timestamps=("paid_at", "paid_at"),
        fields=[
            FieldRule(dest="Name", sources=["reference", "method"], transform="full_name", max_length=80,
                      required=True),
            FieldRule(dest="Amount__c", source="amount", transform="currency"),
            FieldRule(dest="Paid_At__c", source="paid_at", transform="datetime"),
            FieldRule(dest="Method__c", source="method", max_length=40),
        ],
        lookups=[LookupRule(dest="Invoice__c", source="_parent.id", target=target("invoices", INVOICE),
                            on_missing="reject")],
    ))
    # Custom tables: 1:1 custom objects with their column types; references become lookups.
    refs = {"work_orders": lambda col: work_order(col, "Case__c", "Work_Order__c"),
            "assets": lambda col: LookupRule(dest="Asset__c", source=col, target=asset),
            "clients": lambda col: LookupRule(dest="Account__c", source=col, target=cust)}
    tables: list[CustomObjectSpec] = []
    for table in (o for o in source.objects if o.name.startswith("custom_")):
        dest_obj = b.caps.naming.custom_name(table.name.removeprefix("custom_"))
        tables.append(CustomObjectSpec(name=dest_obj, label=table.label[:40], plural_label=table.label[:40]))
        lookups = [refs[str(f.references)](f.name) for f in table.fields if str(f.references) in refs]
        people = [f.name for f in table.fields if f.references == "technicians"]
        for lk in lookups:
            for name, ref in dict.fromkeys((t.dest or lk.dest, t.dest_object) for t in lk.all_targets()):
                b.custom(dest_obj, name, ref.replace("__c", "").replace("_", " "), "Lookup", reference_to=ref)
        b.add(ObjectMapping(
            name=f"{table.name}->{dest_obj}", source_object=table.name, dest_object=dest_obj,
            description=f"Custom table {table.label!r}, 1:1",
            fields=[FieldRule(dest="Name", sources=["id"], transform="full_name", required=True, max_length=80),
                    *b.table_fields(table.name, dest_obj)],
            lookups=lookups,
            owner=OwnerRule(source=people[0]) if people else None,
        ))
    large = [str(f["id"]) for f in extras.get("large_files", [])]
    b.add(ObjectMapping(
        name="notes->ContentVersion", source_object="notes", dest_object="ContentVersion",
        description="Work-order notes as Salesforce notes on the Case or Work Order, author as owner",
        insert_only=True,
        fields=[
            FieldRule(dest="Title", transform="constant", constant="Work order note"),
            FieldRule(dest="PathOnClient", transform="constant", constant="note.snote"),
            FieldRule(dest="VersionData", source="body", transform="base64_text", required=True),
        ],
        lookups=[LookupRule(dest="FirstPublishLocationId", source="work_order_id",
                            target=target("work_orders", "Case"),
                            or_else=[LookupCandidate(source="work_order_id", target=target("work_orders", WO))],
                            on_missing="reject")],
        owner=OwnerRule(source="author_id"),
    ))
    b.add(ObjectMapping(
        name="attachments->ContentVersion", source_object="attachments", dest_object="ContentVersion",
        description="Files with their bytes on their work order or contract; files over 25 MB are flagged "
                    "(large-files.csv), not loaded",
        insert_only=True, attachment_source="VersionData",
        unless=[Condition(where={"id": large})] if large else [],
        fields=[
            FieldRule(dest="Title", source="file_name", required=True, max_length=255),
            FieldRule(dest="PathOnClient", source="file_name", required=True, max_length=500),
            FieldRule(dest="Description", source="description", transform="text", max_length=1000),
        ],
        lookups=[LookupRule(dest="FirstPublishLocationId", source="parent_id", type_field="parent_type",
                            targets={"work_order": [target("work_orders", "Case"), target("work_orders", WO)],
                                     "contract": contract}, on_missing="reject")],
        owner=OwnerRule(source="uploaded_by"),
    ))
    b.conform_picklists()
    b.conform_updateable()
    b.check_required()
    return b.finish(PAIR, custom_objects=[*CUSTOM_OBJECTS, *tables], owners=owners,
                    fallback_owner_id=fallback_owner_id,
                    default_records={DEFAULT_ACCOUNT_KEY: {"object": "Account",
                                                           "Name": "ServiceTracker contacts without a client"},
                                     TECHNICIANS_ACCOUNT_KEY: {"object": "Account", "Name": "Technicians"}})

#: The pair's object table as data: source object -> the destination objects its records land in (the
#: estimate reads it before any credentials; a unit test holds it to what ``build_spec`` proposes).
OBJECT_TABLE: dict[str, list[str]] = {
    "clients": ["Account"],
    "locations": ["Site__c"],
    "client_contacts": ["Contact"],
    "technicians": ["Contact"],
    "inventory_items": ["Inventory__c"],
    "assets": ["Asset"],
    "contracts": ["Contract"],
    "projects": ["Opportunity", "Project__c"],
    "work_orders": ["Case", "Work_Order__c"],
    "work_order_tasks": ["Task", "Work_Order_Task__c"],
    "parts_used": ["Parts_Used__c"],
    "invoices": ["Invoice__c", "Invoice_Line__c"],
    "notes": ["ContentVersion"],
    "attachments": ["ContentVersion"],
}
#: Destination objects the run creates (custom objects/tables/modules/models) before loading.
CREATED_OBJECTS: list[str] = [
    "Site__c", "Project__c", "Work_Order__c", "Work_Order_Task__c", "Invoice__c", "Invoice_Line__c", "Parts_Used__c",
    "Inventory__c",
]

"""Modules and fields: the standard ones Zoho ships and the custom ones a client creates.

A :class:`FieldDef` carries what the write engine checks (type, length, mandatory,
read-only, pick-list and whether it is restricted, lookup target, unique/external flags)
and renders itself as a ``settings/fields`` entry. Lengths and mandatory fields follow
Zoho's insert-records page (reference §3.3); pick-list values are Zoho's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.zoho.field_meta import describe_field

TEXT_LEN = 255
DEAL_STAGES: list[tuple[str, int, str]] = [  # (stage, probability, forecast category) — standard pipeline
    ("Qualification", 10, "Pipeline"), ("Needs Analysis", 20, "Pipeline"), ("Value Proposition", 40, "Pipeline"),
    ("Id. Decision Makers", 60, "Pipeline"), ("Proposal/Price Quote", 75, "Pipeline"),
    ("Negotiation/Review", 90, "Pipeline"), ("Closed Won", 100, "Closed"), ("Closed Lost", 0, "Omitted"),
    ("Closed Lost to Competition", 0, "Omitted"),
]


@dataclass
class FieldDef:
    """One field of a module (``settings/fields`` entry + the checks the write engine runs)."""

    api_name: str
    label: str
    data_type: str = "text"
    length: int = TEXT_LEN
    mandatory: bool = False
    read_only: bool = False
    picklist: list[str] = field(default_factory=list)
    restricted: bool = True
    lookup: str | None = None  # target module api_name
    unique: bool = False
    external: dict[str, Any] | None = None
    custom: bool = False
    field_id: str = ""

    def describe(self, module: str = "", module_id: str = "") -> dict[str, Any]:
        return describe_field(self, module, module_id)


@dataclass
class ModuleDef:
    api_name: str
    singular: str
    plural: str
    fields: dict[str, FieldDef]
    module_id: str = ""
    custom: bool = False
    duplicate_field: str | None = None  # the system duplicate-check field (upsert default)
    api_supported: bool = True


def _f(api: str, dtype: str = "text", length: int = TEXT_LEN, **kw: Any) -> FieldDef:
    return FieldDef(api, api.replace("_", " "), dtype, length, **kw)


def _system() -> list[FieldDef]:
    return [
        _f("Owner", "ownerlookup", 120), _f("Created_Time", "datetime", read_only=True),
        _f("Modified_Time", "datetime", read_only=True), _f("Created_By", "userlookup", read_only=True),
        _f("Modified_By", "userlookup", read_only=True), _f("Tag", "text", read_only=True),
    ]


def _address(prefix: str) -> list[FieldDef]:
    return [_f(f"{prefix}_Street", length=250), _f(f"{prefix}_City", length=100), _f(f"{prefix}_State", length=100),
            _f(f"{prefix}_Code", length=30), _f(f"{prefix}_Country", length=100)]


LEAD_SOURCES = ["-None-", "Advertisement", "Cold Call", "Employee Referral", "External Referral", "Online Store",
                "Partner", "Public Relations", "Sales Email Alias", "Seminar Partner", "Internal Seminar",
                "Trade Show", "Web Download", "Web Research", "Chat"]
INDUSTRIES = ["-None-", "ASP (Application Service Provider)", "Data/Telecom OEM", "ERP (Enterprise Resource Planning)",
              "Government/Military", "Large Enterprise", "ManagementISV", "MSP (Management Service Provider)",
              "Network Equipment Enterprise", "Non-management ISV", "Optical Networking", "Service Provider",
              "Small/Medium Enterprise", "Storage Equipment", "Storage Service Provider", "Systems Integrator",
              "Wireless Industry"]
ACTIVITY_LINKS = [_f("Who_Id", "lookup", lookup="Contacts"), _f("What_Id", "multi_module_lookup"),
                  _f("Description", "textarea", 32_000)]


def _standard_fields() -> dict[str, list[FieldDef]]:
    person = [_f("First_Name", length=40), _f("Last_Name", length=80, mandatory=True), _f("Email", "email", 100),
              _f("Phone", "phone", 30), _f("Mobile", "phone", 30), _f("Title", length=100),
              _f("Description", "textarea", 32_000), _f("Lead_Source", "picklist", 120, picklist=LEAD_SOURCES),
              _f("Email_Opt_Out", "boolean")]
    return {
        "Leads": [*person, _f("Company", length=200), _f("Website", "website"), _f("Industry", "picklist",
                  picklist=INDUSTRIES), _f("Lead_Status", "picklist", picklist=[
                      "-None-", "Attempted to Contact", "Contact in Future", "Contacted", "Junk Lead", "Lost Lead",
                      "Not Contacted", "Pre-Qualified", "Not Qualified"]),
                  _f("No_of_Employees", "integer", 9), _f("Annual_Revenue", "currency", 16),
                  _f("Street", length=250), _f("City", length=100), _f("State", length=100),
                  _f("Zip_Code", length=30), _f("Country", length=100)],
        "Contacts": [*person, _f("Account_Name", "lookup", lookup="Accounts"), _f("Department", length=100),
                     _f("Date_of_Birth", "date"), *_address("Mailing")],
        "Accounts": [_f("Account_Name", length=200, mandatory=True), _f("Parent_Account", "lookup",
                     lookup="Accounts"), _f("Website", "website"), _f("Phone", "phone", 30),
                     _f("Industry", "picklist", picklist=INDUSTRIES),
                     _f("Account_Type", "picklist", picklist=["-None-", "Analyst", "Competitor", "Customer",
                        "Distributor", "Integrator", "Investor", "Other", "Partner", "Press", "Prospect",
                        "Reseller", "Supplier", "Vendor"]),
                     _f("Employees", "integer", 9), _f("Annual_Revenue", "currency", 16),
                     _f("Description", "textarea", 32_000), *_address("Billing"), *_address("Shipping")],
        "Deals": [_f("Deal_Name", length=120, mandatory=True),
                  _f("Stage", "picklist", 120, mandatory=True, picklist=[s for s, _, _ in DEAL_STAGES]),
                  _f("Pipeline", "picklist", 120, picklist=["Standard"]), _f("Amount", "currency", 16),
                  _f("Closing_Date", "date"), _f("Account_Name", "lookup", lookup="Accounts"),
                  _f("Contact_Name", "lookup", lookup="Contacts"), _f("Probability", "integer", 3),
                  _f("Type", "picklist", picklist=["-None-", "Existing Business", "New Business"]),
                  _f("Lead_Source", "picklist", 120, picklist=LEAD_SOURCES), _f("Description", "textarea", 32_000)],
        "Tasks": [_f("Subject", length=255, mandatory=True), _f("Due_Date", "date"),
                  _f("Status", "picklist", picklist=["Not Started", "Deferred", "In Progress", "Completed",
                                                     "Waiting for input"]),
                  _f("Priority", "picklist", picklist=["High", "Highest", "Low", "Lowest", "Normal"]),
                  *ACTIVITY_LINKS],
        "Events": [_f("Event_Title", length=255, mandatory=True), _f("Start_DateTime", "datetime", mandatory=True),
                   _f("End_DateTime", "datetime", mandatory=True), _f("Venue", length=255),
                   _f("All_day", "boolean"), _f("Participants", "participants"), *ACTIVITY_LINKS],
        "Calls": [_f("Subject", length=255, mandatory=True),
                  _f("Call_Type", "picklist", mandatory=True, picklist=["Inbound", "Outbound", "Missed"]),
                  _f("Call_Start_Time", "datetime", mandatory=True), _f("Call_Duration", length=10, mandatory=True),
                  _f("Call_Purpose", "picklist", picklist=["-None-", "Prospecting", "Administrative",
                                                           "Negotiation", "Demo", "Project", "Desk"]),
                  _f("Call_Result", length=255), *ACTIVITY_LINKS],
        # Zoho's inventory module of the product catalogue (every paid edition); Product_Code's length UNCONFIRMED.
        "Products": [_f("Product_Name", length=120, mandatory=True), _f("Product_Code", length=40),
                     _f("Product_Active", "boolean"), _f("Unit_Price", "currency", 16),
                     _f("Product_Category", "picklist",
                        picklist=["-None-", "Hardware", "Software", "CRM Applications"]),
                     _f("Qty_in_Stock", "double", 16), _f("Description", "textarea", 32_000)],
        "Notes": [_f("Note_Title", length=255), _f("Note_Content", "textarea", 32_000, mandatory=True),
                  _f("Parent_Id", "parent", mandatory=True)],
    }


STANDARD_MODULES: dict[str, tuple[str, str, str | None]] = {
    "Leads": ("Lead", "Leads", "Email"), "Contacts": ("Contact", "Contacts", "Email"),
    "Accounts": ("Account", "Accounts", "Account_Name"), "Deals": ("Deal", "Deals", "Deal_Name"),
    "Tasks": ("Task", "Tasks", None), "Events": ("Meeting", "Meetings", None), "Calls": ("Call", "Calls", None),
    "Products": ("Product", "Products", "Product_Name"), "Notes": ("Note", "Notes", None),
}
ATTACHMENT_MODULE = ("Attachments", "Attachment", "Attachments")


def standard_modules(id_of: Any) -> dict[str, ModuleDef]:
    """The built-in modules; ``id_of(kind, name)`` gives stable metadata ids."""
    out: dict[str, ModuleDef] = {}
    for name, fields in _standard_fields().items():
        singular, plural, dup = STANDARD_MODULES[name]
        all_fields = [*fields, *_system()] if name != "Notes" else [*fields, *_system()[1:]]
        for f in all_fields:
            f.field_id = id_of("field", f"{name}.{f.api_name}")
        out[name] = ModuleDef(name, singular, plural, {f.api_name: f for f in all_fields},
                              id_of("module", name), False, dup)
    return out


def custom_module(api_name: str, singular: str, plural: str, module_id: str, id_of: Any) -> ModuleDef:
    """A custom module starts with ``Name`` (mandatory, its duplicate field) and the system fields."""
    fields = [_f("Name", length=120, mandatory=True), _f("Email", "email", 100), *_system()]
    for f in fields:
        f.field_id = id_of("field", f"{api_name}.{f.api_name}")
    return ModuleDef(api_name, singular, plural, {f.api_name: f for f in fields}, module_id, True, "Name")

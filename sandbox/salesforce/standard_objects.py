"""Standard Sales Cloud objects with their real field names, types, lengths and picklists.

Only what a CRM migration writes or reads is modelled. Required-on-create follows
describe: ``createable and not nillable and not defaultedOnCreate``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sandbox.salesforce.schema import ANY_OBJECT, AUDIT_FIELDS, CUSTOM_OBJECTS, FieldDef, ObjectDef


def F(name: str, ftype: str, label: str = "", **kw: Any) -> FieldDef:
    """Field shorthand; ``required=True`` means not nillable (and so required unless defaulted)."""
    required = kw.pop("required", False)
    if required:
        kw["nillable"] = False
    if "picklist" in kw:
        kw["picklist"] = tuple(kw["picklist"])
        kw.setdefault("restricted", True)
    if "ref" in kw:
        ref = kw.pop("ref")
        kw["reference_to"] = tuple(ref) if isinstance(ref, list | tuple) else (ref,)
    if "rel" in kw:
        kw["relationship_name"] = kw.pop("rel")
    if ftype in ("string", "email", "phone", "url", "textarea", "picklist", "combobox") and "length" not in kw:
        kw["length"] = 255
    if ftype in ("id", "reference"):
        kw.setdefault("length", 18)
    if ftype == "boolean":
        kw.setdefault("nillable", False)
        kw.setdefault("defaulted_on_create", True)
        kw.setdefault("default_value", False)
    if ftype in ("currency", "double", "percent"):
        kw.setdefault("precision", 18)
        kw.setdefault("scale", 2 if ftype != "double" else 0)
    if ftype == "int":
        kw.setdefault("precision", 9)
    if kw.get("picklist_default") is not None:
        kw.setdefault("defaulted_on_create", True)
    return FieldDef(name=name, type=ftype, label=label, **kw)


def _ro(fdef: FieldDef, **kw: Any) -> FieldDef:
    """A read-only (calculated / system) variant."""
    return replace(fdef, createable=False, updateable=False, **kw)


def system_fields(has_owner: bool = True, name: FieldDef | None = None) -> list[FieldDef]:
    """Id, IsDeleted, (Name), (OwnerId) and the audit fields every object carries."""
    fields = [
        _ro(F("Id", "id", "Record ID", nillable=False, defaulted_on_create=True, id_lookup=True)),
        _ro(F("IsDeleted", "boolean", "Deleted")),
    ]
    if name is not None:
        fields.append(name)
    if has_owner:
        fields.append(
            F("OwnerId", "reference", "Owner ID", ref="User", rel="Owner", nillable=False, defaulted_on_create=True)
        )
    fields += [
        F(
            "CreatedDate",
            "datetime",
            "Created Date",
            nillable=False,
            defaulted_on_create=True,
            updateable=False,
            audit=True,
        ),
        F(
            "CreatedById",
            "reference",
            "Created By ID",
            ref="User",
            rel="CreatedBy",
            nillable=False,
            defaulted_on_create=True,
            updateable=False,
            audit=True,
        ),
        F(
            "LastModifiedDate",
            "datetime",
            "Last Modified Date",
            nillable=False,
            defaulted_on_create=True,
            updateable=False,
            audit=True,
        ),
        F(
            "LastModifiedById",
            "reference",
            "Last Modified By ID",
            ref="User",
            rel="LastModifiedBy",
            nillable=False,
            defaulted_on_create=True,
            updateable=False,
            audit=True,
        ),
        _ro(F("SystemModstamp", "datetime", "System Modstamp", nillable=False, defaulted_on_create=True)),
    ]
    assert all(f.name in AUDIT_FIELDS for f in fields if f.audit)
    return fields


def address(prefix: str, label: str) -> list[FieldDef]:
    return [
        F(f"{prefix}Street", "textarea", f"{label} Street", length=255),
        F(f"{prefix}City", "string", f"{label} City", length=40),
        F(f"{prefix}State", "string", f"{label} State/Province", length=80),
        F(f"{prefix}PostalCode", "string", f"{label} Zip/Postal Code", length=20),
        F(f"{prefix}Country", "string", f"{label} Country", length=80),
    ]


def obj(name: str, prefix: str, fields: list[FieldDef], *, label: str = "", plural: str = "", **kw: Any) -> ObjectDef:
    label = label or name
    return ObjectDef(
        name=name,
        label=label,
        label_plural=plural or label + "s",
        key_prefix=prefix,
        fields={f.name: f for f in fields},
        **kw,
    )


ACCOUNT_TYPES = [
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
]
INDUSTRIES = [
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
]
LEAD_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
OPP_STAGES = {  # stage -> default probability
    "Prospecting": 10,
    "Qualification": 10,
    "Needs Analysis": 20,
    "Value Proposition": 50,
    "Id. Decision Makers": 60,
    "Perception Analysis": 70,
    "Proposal/Price Quote": 75,
    "Negotiation/Review": 90,
    "Closed Won": 100,
    "Closed Lost": 0,
}
CLOSED_STAGES = {"Closed Won": True, "Closed Lost": False}  # stage -> IsWon
ACTIVITY_TYPES = ["Call", "Email", "Meeting", "Other"]
WHAT_TARGETS = ["Account", "Opportunity", "Case", "Asset", "Contract", "Product2", CUSTOM_OBJECTS]


def standard_objects() -> dict[str, ObjectDef]:
    """A fresh copy of every standard object definition."""
    objects = [
        obj(
            "User",
            "005",
            [
                *system_fields(has_owner=False),
                F("Username", "string", "Username", length=80, required=True, unique=True, id_lookup=True),
                F("Email", "email", "Email", length=128, required=True),
                F("FirstName", "string", "First Name", length=40),
                F("LastName", "string", "Last Name", length=80, required=True),
                _ro(F("Name", "string", "Full Name", length=121, name_field=True)),
                F("Alias", "string", "Alias", length=8, required=True),
                F("IsActive", "boolean", "Active"),
                F("Title", "string", "Title", length=80),
                F("Department", "string", "Department", length=80),
                F("FederationIdentifier", "string", "SAML Federation ID", length=512, id_lookup=True),
            ],
            createable=False,
            updateable=False,
            deletable=False,
        ),
        obj(
            "Account",
            "001",
            [
                *system_fields(
                    name=F(
                        "Name", "string", "Account Name", length=255, required=True, name_field=True, id_lookup=False
                    )
                ),
                F("Type", "picklist", "Account Type", length=255, picklist=ACCOUNT_TYPES),
                F("ParentId", "reference", "Parent Account ID", ref="Account", rel="Parent"),
                *address("Billing", "Billing"),
                *address("Shipping", "Shipping"),
                F("Phone", "phone", "Account Phone", length=40),
                F("Fax", "phone", "Account Fax", length=40),
                F("AccountNumber", "string", "Account Number", length=40),
                F("Website", "url", "Website", length=255),
                F("Industry", "picklist", "Industry", length=255, picklist=INDUSTRIES),
                F("AnnualRevenue", "currency", "Annual Revenue", precision=18, scale=0),
                F("NumberOfEmployees", "int", "Employees", precision=8),
                F("Rating", "picklist", "Account Rating", picklist=["Hot", "Warm", "Cold"]),
                F("AccountSource", "picklist", "Account Source", picklist=LEAD_SOURCES),
                F("Description", "textarea", "Account Description", length=32000),
            ],
            plural="Accounts",
        ),
        obj(
            "Contact",
            "003",
            [
                *system_fields(),
                F("AccountId", "reference", "Account ID", ref="Account", rel="Account"),
                F("LastName", "string", "Last Name", length=80, required=True),
                F("FirstName", "string", "First Name", length=40),
                F("Salutation", "picklist", "Salutation", length=40, picklist=["Mr.", "Ms.", "Mrs.", "Dr.", "Prof."]),
                _ro(F("Name", "string", "Full Name", length=121, name_field=True)),
                *address("Mailing", "Mailing"),
                F("Phone", "phone", "Business Phone", length=40),
                F("MobilePhone", "phone", "Mobile Phone", length=40),
                F("Fax", "phone", "Business Fax", length=40),
                F("Email", "email", "Email", length=80, id_lookup=True),
                F("Title", "string", "Title", length=128),
                F("Department", "string", "Department", length=80),
                F("LeadSource", "picklist", "Lead Source", picklist=LEAD_SOURCES),
                F("Birthdate", "date", "Birthdate"),
                F("ReportsToId", "reference", "Reports To ID", ref="Contact", rel="ReportsTo"),
                F("HasOptedOutOfEmail", "boolean", "Email Opt Out"),
                F("Description", "textarea", "Contact Description", length=32000),
            ],
        ),
        obj(
            "AccountContactRole",
            "02Z",
            [
                *system_fields(has_owner=False),
                F(
                    "AccountId",
                    "reference",
                    "Account ID",
                    ref="Account",
                    rel="Account",
                    required=True,
                    updateable=False,
                ),
                F("ContactId", "reference", "Contact ID", ref="Contact", rel="Contact", required=True),
                F(
                    "Role",
                    "picklist",
                    "Role",
                    length=40,
                    picklist=[
                        "Business User",
                        "Decision Maker",
                        "Economic Buyer",
                        "Economic Decision Maker",
                        "Evaluator",
                        "Executive Sponsor",
                        "Influencer",
                        "Technical Buyer",
                        "Other",
                    ],
                ),
                F("IsPrimary", "boolean", "Primary"),
            ],
            label="Account Contact Role",
        ),
        obj(
            "Product2",
            "01t",
            [
                *system_fields(
                    has_owner=False,
                    name=F("Name", "string", "Product Name", length=255, required=True, name_field=True),
                ),
                F("ProductCode", "string", "Product Code", length=255),
                F("Description", "textarea", "Product Description", length=4000),
                F("IsActive", "boolean", "Active"),
                F("Family", "picklist", "Product Family", picklist=["None"]),
                F("StockKeepingUnit", "string", "Product SKU", length=180),
            ],
            label="Product",
            plural="Products",
        ),
        obj(
            "Asset",
            "02i",
            [
                *system_fields(name=F("Name", "string", "Asset Name", length=255, required=True, name_field=True)),
                F("AccountId", "reference", "Account ID", ref="Account", rel="Account"),
                F("ContactId", "reference", "Contact ID", ref="Contact", rel="Contact"),
                F("ParentId", "reference", "Parent Asset ID", ref="Asset", rel="Parent"),
                F("Product2Id", "reference", "Product ID", ref="Product2", rel="Product2"),
                F("SerialNumber", "string", "Serial Number", length=80),
                F("InstallDate", "date", "Install Date"),
                F("PurchaseDate", "date", "Purchase Date"),
                F("UsageEndDate", "date", "Usage End Date"),
                F(
                    "Status",
                    "picklist",
                    "Status",
                    length=40,
                    picklist=["Purchased", "Shipped", "Installed", "Registered", "Obsolete"],
                ),
                F("Price", "currency", "Price"),
                F("Quantity", "double", "Quantity", precision=12, scale=2),
                F("Description", "textarea", "Description", length=32000),
            ],
        ),
        obj(
            "Contract",
            "800",
            [
                *system_fields(),
                F("AccountId", "reference", "Account ID", ref="Account", rel="Account", required=True),
                F("Name", "string", "Contract Name", length=80),
                _ro(
                    F(
                        "ContractNumber",
                        "string",
                        "Contract Number",
                        length=30,
                        auto_number=True,
                        name_field=True,
                        nillable=False,
                        defaulted_on_create=True,
                    )
                ),
                F("StartDate", "date", "Contract Start Date"),
                _ro(F("EndDate", "date", "Contract End Date")),
                F("ContractTerm", "int", "Contract Term (months)", precision=4),
                F(
                    "Status",
                    "picklist",
                    "Status",
                    length=40,
                    picklist=["Draft", "In Approval Process", "Activated"],
                    picklist_default="Draft",
                    nillable=False,
                ),
                _ro(F("ActivatedDate", "datetime", "Activated Date")),
                F("CustomerSignedDate", "date", "Customer Signed Date"),
                F("SpecialTerms", "textarea", "Special Terms", length=4000),
                F("Description", "textarea", "Description", length=32000),
            ],
        ),
        obj(
            "Entitlement",
            "550",
            [
                *system_fields(
                    has_owner=False,
                    name=F("Name", "string", "Entitlement Name", length=255, required=True, name_field=True),
                ),
                F("AccountId", "reference", "Account ID", ref="Account", rel="Account", required=True),
                F("AssetId", "reference", "Asset ID", ref="Asset", rel="Asset"),
                F("StartDate", "date", "Start Date"),
                F("EndDate", "date", "End Date"),
                F("Type", "picklist", "Type", length=40, picklist=["Phone Support", "Web Support"]),
                _ro(F("Status", "picklist", "Status", length=40, picklist=["Active", "Expired", "Inactive"])),
            ],
        ),
        obj(
            "Opportunity",
            "006",
            [
                *system_fields(name=F("Name", "string", "Name", length=120, required=True, name_field=True)),
                F("AccountId", "reference", "Account ID", ref="Account", rel="Account"),
                F("Description", "textarea", "Description", length=32000),
                F("StageName", "picklist", "Stage", length=255, picklist=list(OPP_STAGES), required=True),
                F("Amount", "currency", "Amount"),
                F("Probability", "percent", "Probability (%)", precision=3, scale=0),
                F("CloseDate", "date", "Close Date", required=True),
                F(
                    "Type",
                    "picklist",
                    "Opportunity Type",
                    picklist=[
                        "Existing Customer - Upgrade",
                        "Existing Customer - Replacement",
                        "Existing Customer - Downgrade",
                        "New Customer",
                    ],
                ),
                F("NextStep", "string", "Next Step", length=255),
                F("LeadSource", "picklist", "Lead Source", picklist=LEAD_SOURCES),
                _ro(F("IsClosed", "boolean", "Closed")),
                _ro(F("IsWon", "boolean", "Won")),
            ],
        ),
        obj(
            "Case",
            "500",
            [
                *system_fields(),
                _ro(
                    F(
                        "CaseNumber",
                        "string",
                        "Case Number",
                        length=30,
                        auto_number=True,
                        name_field=True,
                        nillable=False,
                        defaulted_on_create=True,
                    )
                ),
                F("ContactId", "reference", "Contact ID", ref="Contact", rel="Contact"),
                F("AccountId", "reference", "Account ID", ref="Account", rel="Account"),
                F("AssetId", "reference", "Asset ID", ref="Asset", rel="Asset"),
                F("ParentId", "reference", "Parent Case ID", ref="Case", rel="Parent"),
                F("Subject", "string", "Subject", length=255),
                F("Description", "textarea", "Description", length=32000),
                F(
                    "Status",
                    "picklist",
                    "Status",
                    length=40,
                    picklist=["New", "Working", "Escalated", "Closed"],
                    picklist_default="New",
                ),
                F(
                    "Priority",
                    "picklist",
                    "Priority",
                    length=40,
                    picklist=["High", "Medium", "Low"],
                    picklist_default="Medium",
                ),
                F("Origin", "picklist", "Case Origin", length=40, picklist=["Phone", "Email", "Web"]),
                F(
                    "Type",
                    "picklist",
                    "Case Type",
                    length=40,
                    picklist=["Mechanical", "Electrical", "Electronic", "Structural", "Other"],
                ),
                F(
                    "Reason",
                    "picklist",
                    "Case Reason",
                    length=40,
                    picklist=[
                        "Installation",
                        "Equipment Complexity",
                        "Performance",
                        "Breakdown",
                        "Equipment Design",
                        "Feedback",
                        "Other",
                    ],
                ),
                F("SuppliedName", "string", "Web Name", length=80),
                F("SuppliedEmail", "email", "Web Email", length=80),
                F("SuppliedPhone", "string", "Web Phone", length=40),
                _ro(F("IsClosed", "boolean", "Closed")),
                F("IsEscalated", "boolean", "Escalated"),
                # createable only with the audit permission, like CreatedDate (see engine)
                F("ClosedDate", "datetime", "Closed Date", audit=True, updateable=False),
            ],
        ),
        obj(
            "Task",
            "00T",
            [
                *system_fields(),
                F("WhoId", "reference", "Name ID", ref="Contact", rel="Who"),
                F("WhatId", "reference", "Related To ID", ref=WHAT_TARGETS, rel="What"),
                F("Subject", "combobox", "Subject", length=255),
                F("ActivityDate", "date", "Due Date Only"),
                F(
                    "Status",
                    "picklist",
                    "Status",
                    length=40,
                    picklist=["Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"],
                    picklist_default="Not Started",
                    nillable=False,
                ),
                F(
                    "Priority",
                    "picklist",
                    "Priority",
                    length=40,
                    picklist=["High", "Normal", "Low"],
                    picklist_default="Normal",
                    nillable=False,
                ),
                F("Type", "picklist", "Type", length=40, picklist=ACTIVITY_TYPES, restricted=False, restrictable=False),
                F("Description", "textarea", "Comments", length=32000),
                F("CallDurationInSeconds", "int", "Call Duration", precision=8),
                _ro(F("IsClosed", "boolean", "Closed")),
                _ro(F("AccountId", "reference", "Account ID", ref="Account", rel="Account")),
            ],
        ),
        obj(
            "Event",
            "00U",
            [
                *system_fields(),
                F("WhoId", "reference", "Name ID", ref="Contact", rel="Who"),
                F("WhatId", "reference", "Related To ID", ref=WHAT_TARGETS, rel="What"),
                F("Subject", "combobox", "Subject", length=255),
                F("Location", "string", "Location", length=255),
                F("IsAllDayEvent", "boolean", "All-Day Event"),
                F("ActivityDateTime", "datetime", "Due Date Time"),
                F("ActivityDate", "date", "Due Date Only"),
                F("StartDateTime", "datetime", "Start Date Time"),
                F("EndDateTime", "datetime", "End Date Time"),
                F("DurationInMinutes", "int", "Duration", precision=8),
                F("Type", "picklist", "Type", length=40, picklist=ACTIVITY_TYPES, restricted=False, restrictable=False),
                F("ShowAs", "picklist", "Show Time As", length=40, picklist=["Busy", "OutOfOffice", "Free"]),
                F("Description", "textarea", "Description", length=32000),
                _ro(F("AccountId", "reference", "Account ID", ref="Account", rel="Account")),
            ],
        ),
        obj(
            "ContentVersion",
            "068",
            [
                *system_fields(),
                F(
                    "ContentDocumentId",
                    "reference",
                    "ContentDocument ID",
                    ref="ContentDocument",
                    rel="ContentDocument",
                    updateable=False,
                ),
                F("Title", "string", "Title", length=255, required=True, name_field=True),
                F("Description", "textarea", "Description", length=1000),
                F("PathOnClient", "string", "Path On Client", length=500, required=True, updateable=False),
                F("VersionData", "base64", "Version Data", required=True, updateable=False),
                F(
                    "FirstPublishLocationId",
                    "reference",
                    "First Publish Location ID",
                    ref=ANY_OBJECT,
                    rel="FirstPublishLocation",
                    updateable=False,
                ),
                F("ReasonForChange", "string", "Reason For Change", length=1000),
                _ro(F("ContentSize", "int", "Size")),
                _ro(F("FileExtension", "string", "File Extension", length=40)),
                _ro(F("FileType", "string", "File Type", length=20)),
                _ro(F("VersionNumber", "string", "Version Number", length=20)),
                _ro(F("IsLatest", "boolean", "Is Latest")),
            ],
            label="Content Version",
        ),
        obj(
            "ContentDocument",
            "069",
            [
                *system_fields(),
                F("Title", "string", "Title", length=255, name_field=True, required=True),
                F("Description", "textarea", "Description", length=1000),
                _ro(
                    F(
                        "LatestPublishedVersionId",
                        "reference",
                        "Latest Published Version ID",
                        ref="ContentVersion",
                        rel="LatestPublishedVersion",
                    )
                ),
                _ro(F("ContentSize", "int", "Size")),
                _ro(F("FileExtension", "string", "File Extension", length=40)),
                _ro(F("FileType", "string", "File Type", length=20)),
            ],
            label="Content Document",
            createable=False,
        ),
        obj(
            "ContentDocumentLink",
            "06A",
            [
                *system_fields(has_owner=False),
                F(
                    "LinkedEntityId",
                    "reference",
                    "Linked Entity ID",
                    ref=ANY_OBJECT,
                    rel="LinkedEntity",
                    required=True,
                    updateable=False,
                ),
                F(
                    "ContentDocumentId",
                    "reference",
                    "ContentDocument ID",
                    ref="ContentDocument",
                    rel="ContentDocument",
                    required=True,
                    updateable=False,
                ),
                F(
                    "ShareType",
                    "picklist",
                    "Share Type",
                    length=40,
                    picklist=["V", "C", "I"],
                    picklist_default="V",
                    nillable=False,
                ),
                F(
                    "Visibility",
                    "picklist",
                    "Visibility",
                    length=40,
                    picklist=["AllUsers", "InternalUsers", "SharedUsers"],
                    picklist_default="AllUsers",
                    nillable=False,
                ),
            ],
            label="Content Document Link",
        ),
    ]
    return {o.name: o for o in objects}

"""The standard Dynamics 365 Sales / Customer Service tables the stand-in serves.

Each table carries a realistic subset of its real columns with their types, MaxLength and
RequiredLevel (SystemRequired is enforced on create; ApplicationRequired never is, as in
Dataverse). Option values and state/status pairs are the platform's (reference §2.5).
"""

from __future__ import annotations

from dataclasses import replace

from sandbox.dynamics.schema import (
    ACTIVE_INACTIVE,
    Column,
    Table,
    boolean,
    customer_lookup,
    datetime_col,
    decimal,
    double,
    entity_name,
    integer,
    lookup,
    make_table,
    memo,
    money,
    picklist,
    readonly_lookup,
    state_status,
    string,
)

APP_REQ = "ApplicationRequired"
SYS_REQ = "SystemRequired"

INDUSTRIES = [
    "Accounting", "Agriculture and Non-petrol Natural Resource Extraction", "Broadcasting Printing and Publishing",
    "Brokers", "Building Supply Retail", "Business Services", "Consulting", "Consumer Services",
    "Design, Direction and Creative Management", "Distributors, Dispatchers and Processors",
    "Doctor's Offices and Clinics", "Durable Manufacturing", "Eating and Drinking Places", "Entertainment Retail",
    "Equipment Rental and Leasing", "Financial", "Food and Tobacco Processing", "Inbound Capital Intensive Processing",
    "Inbound Repair and Services", "Insurance", "Legal Services", "Non-Durable Merchandise Retail",
    "Outbound Consumer Service", "Petrochemical Extraction and Distribution", "Service Retail", "SIG Affiliations",
    "Social Services", "Special Outbound Trade Contractors", "Specialty Realty", "Transportation",
    "Utility Creation and Distribution", "Vehicle Retail", "Wholesale",
]
CUSTOMER_TYPES = [
    "Competitor", "Consultant", "Customer", "Investor", "Partner", "Influencer", "Press", "Prospect", "Reseller",
    "Supplier", "Vendor", "Other",
]
ACTIVITY_PRIORITY = [(0, "Low"), (1, "Normal"), (2, "High")]
#: SchemaNames that are not the capitalised logical name.
SCHEMA_NAMES = {
    "customeraddress": "CustomerAddress", "queueitem": "QueueItem", "phonecall": "PhoneCall",
    "incidentresolution": "IncidentResolution", "opportunityclose": "OpportunityClose", "systemuser": "SystemUser",
    "businessunit": "BusinessUnit", "transactioncurrency": "TransactionCurrency", "uomschedule": "UoMSchedule",
    "uom": "UoM", "msdyn_customerasset": "msdyn_customerasset",
}
ADDRESS_TYPES = [(1, "Bill To"), (2, "Ship To"), (3, "Primary"), (4, "Other")]
#: Embedded address columns mirrored into the customeraddress row with the same number (suffix -> column).
ADDRESS_PARTS = {"name": "name", "line1": "line1", "line2": "line2", "city": "city",
                 "stateorprovince": "stateorprovince", "postalcode": "postalcode", "country": "country",
                 "telephone1": "telephone1"}
#: How many customeraddress rows the platform keeps for each customer table (account 1-2, contact 1-3).
EMBEDDED_ADDRESSES = {"account": 2, "contact": 3}
#: Tables a queue item may point at (IsValidForQueue): the activities and, with Customer Service, cases.
QUEUE_ENABLED = ("appointment", "incident", "phonecall", "task")


def _address(n: int) -> list[Column]:
    return [
        string(f"address{n}_name", 200, f"Address {n}: Name"),
        string(f"address{n}_line1", 250, f"Address {n}: Street 1"),
        string(f"address{n}_line2", 250, f"Address {n}: Street 2"),
        string(f"address{n}_city", 80, f"Address {n}: City"),
        string(f"address{n}_stateorprovince", 50, f"Address {n}: State/Province"),
        string(f"address{n}_postalcode", 20, f"Address {n}: ZIP/Postal Code"),
        string(f"address{n}_country", 80, f"Address {n}: Country/Region"),
        string(f"address{n}_telephone1", 50, f"Address {n}: Telephone 1", fmt="Phone"),
    ]


def _currency() -> Column:
    return lookup("transactioncurrencyid", "transactioncurrency", label="Currency")


def _activity(logical: str, entity_set: str, otc: int, extra: list[Column], states: list[Column]) -> Table:
    columns = [
        string("subject", 200, "Subject", required=APP_REQ if logical != "appointment" else SYS_REQ),
        memo("description", 2000, "Description"),
        datetime_col("scheduledstart", "Start Date"),
        datetime_col("scheduledend", "Due Date"),
        datetime_col("actualstart", "Actual Start"),
        datetime_col("actualend", "Actual End"),
        integer("actualdurationminutes", "Actual Duration", lo=0),
        picklist("prioritycode", ACTIVITY_PRIORITY, "Priority"),
        *([string("category", 250, "Category"), string("subcategory", 250, "Sub-Category")]
          if logical in ("task", "phonecall", "appointment") else []),
        lookup("regardingobjectid", label="Regarding", kind="regarding"),
        string("activitytypecode", 100, "Activity Type", create=False, update=False),
        *extra,
        *states,
    ]
    return make_table(logical, entity_set, columns, primary_id="activityid", primary_name="subject",
                      object_type_code=otc, is_activity=True, has_notes=True, display_name=logical.capitalize())


def standard_tables(field_service: bool) -> dict[str, Table]:
    """Fresh definitions of the standard tables (``msdyn_customerasset`` only with Field Service)."""
    tables = [
        make_table("account", "accounts", [
            string("name", 160, "Account Name", required=APP_REQ),
            string("accountnumber", 20, "Account Number"),
            string("telephone1", 50, "Main Phone", fmt="Phone"),
            string("telephone2", 50, "Other Phone", fmt="Phone"),
            string("fax", 50, "Fax", fmt="Phone"),
            string("emailaddress1", 100, "Email", fmt="Email"),
            string("websiteurl", 200, "Website", fmt="Url"),
            string("tickersymbol", 10, "Ticker Symbol"),
            *_address(1),
            *_address(2),
            picklist("customertypecode", list(enumerate(CUSTOMER_TYPES, 1)), "Relationship Type"),
            picklist("industrycode", list(enumerate(INDUSTRIES, 1)), "Industry"),
            memo("description", 2000, "Description"),
            money("revenue", "Annual Revenue"),
            integer("numberofemployees", "Number of Employees", lo=0, hi=1_000_000_000),
            lookup("parentaccountid", "account", label="Parent Account"),
            lookup("primarycontactid", "contact", label="Primary Contact"),
            _currency(),
            *ACTIVE_INACTIVE,
        ], object_type_code=1, has_notes=True, has_activities=True, display_name="Account"),
        make_table("contact", "contacts", [
            string("firstname", 50, "First Name", required="Recommended"),
            string("middlename", 50, "Middle Name"),
            string("lastname", 50, "Last Name", required=APP_REQ),
            string("fullname", 160, "Full Name", create=False, update=False),
            string("emailaddress1", 100, "Email", fmt="Email"),
            string("telephone1", 50, "Business Phone", fmt="Phone"),
            string("mobilephone", 50, "Mobile Phone", fmt="Phone"),
            string("jobtitle", 100, "Job Title"),
            *_address(1),
            *_address(2),
            *_address(3),
            datetime_col("birthdate", "Birthday", date_only=True),
            picklist("gendercode", [(1, "Male"), (2, "Female")], "Gender"),
            picklist("preferredcontactmethodcode", [(1, "Any"), (2, "Email"), (3, "Phone"), (4, "Fax"), (5, "Mail")],
                     "Preferred Method of Contact"),
            memo("description", 2000, "Description"),
            customer_lookup("parentcustomerid", "Company Name"),
            _currency(),
            *ACTIVE_INACTIVE,
        ], primary_name="fullname", object_type_code=2, has_notes=True, has_activities=True, display_name="Contact"),
        make_table("incident", "incidents", [
            string("title", 200, "Case Title", required=SYS_REQ),
            string("ticketnumber", 100, "Case Number", update=False),
            memo("description", 2000, "Description"),
            customer_lookup("customerid", "Customer", required=SYS_REQ),
            lookup("primarycontactid", "contact", label="Contact"),
            lookup("productid", "product", label="Product"),
            lookup("msdyn_customerasset", "msdyn_customerasset", label="Customer Asset"),
            lookup("parentcaseid", "incident", label="Parent Case"),
            picklist("prioritycode", [(1, "High"), (2, "Normal"), (3, "Low")], "Priority"),
            picklist("caseorigincode", [(1, "Phone"), (2, "Email"), (3, "Web"), (2483, "Facebook"), (3986, "Twitter"),
                                        (700610000, "IoT")], "Origin"),
            picklist("casetypecode", [(1, "Question"), (2, "Problem"), (3, "Request")], "Case Type"),
            picklist("severitycode", [(1, "Default Value")], "Severity"),
            datetime_col("followupby", "Follow Up By"),
            *state_status(
                [(0, "Active", 1), (1, "Resolved", 5), (2, "Cancelled", 6)],
                [(1, "In Progress", 0), (2, "On Hold", 0), (3, "Waiting for Details", 0), (4, "Researching", 0),
                 (5, "Problem Solved", 1), (1000, "Information Provided", 1), (6, "Cancelled", 2), (2000, "Merged", 2)],
            ),
        ], primary_name="title", object_type_code=112, has_notes=True, has_activities=True, display_name="Case",
            display_collection="Cases"),
        make_table("opportunity", "opportunities", [
            string("name", 300, "Topic", required=APP_REQ),
            customer_lookup("customerid", "Potential Customer"),
            lookup("parentaccountid", "account", label="Account"),
            lookup("parentcontactid", "contact", label="Contact"),
            money("estimatedvalue", "Est. Revenue"),
            money("actualvalue", "Actual Revenue"),
            datetime_col("estimatedclosedate", "Est. Close Date", date_only=True),
            datetime_col("actualclosedate", "Actual Close Date", date_only=True),
            integer("closeprobability", "Probability", lo=0, hi=100),
            string("stepname", 200, "Pipeline Phase"),
            memo("description", 2000, "Description"),
            picklist("opportunityratingcode", [(1, "Hot"), (2, "Warm"), (3, "Cold")], "Rating"),
            _currency(),
            *state_status(
                [(0, "Open", 1), (1, "Won", 3), (2, "Lost", 4)],
                [(1, "In Progress", 0), (2, "On Hold", 0), (3, "Won", 1), (4, "Canceled", 2), (5, "Out-Sold", 2)],
            ),
        ], object_type_code=3, has_notes=True, has_activities=True, display_name="Opportunity",
            display_collection="Opportunities"),
        make_table("product", "products", [
            string("name", 100, "Name", required=SYS_REQ),
            string("productnumber", 100, "Product ID", required=SYS_REQ),
            lookup("defaultuomscheduleid", "uomschedule", label="Unit Group", required=SYS_REQ),
            lookup("defaultuomid", "uom", label="Default Unit", required=SYS_REQ),
            integer("quantitydecimal", "Decimals Supported", lo=0, hi=5),
            money("price", "List Price"),
            money("standardcost", "Standard Cost"),
            money("currentcost", "Current Cost"),
            memo("description", 2000, "Description"),
            picklist("producttypecode", [(1, "Sales Inventory"), (2, "Miscellaneous Charges"), (3, "Services"),
                                         (4, "Flat Fees")], "Product Type"),
            picklist("productstructure", [(1, "Product"), (2, "Product Family"), (3, "Product Bundle")],
                     "Product Structure"),
            datetime_col("validfromdate", "Valid From", date_only=True),
            datetime_col("validtodate", "Valid To", date_only=True),
            _currency(),
            *state_status(
                [(0, "Active", 1), (1, "Retired", 2), (2, "Draft", 0), (3, "Under Revision", 3)],
                [(1, "Active", 0), (2, "Retired", 1), (0, "Draft", 2), (3, "Under Revision", 3)],
            ),
        ], ownership="OrganizationOwned", object_type_code=1024, has_notes=True, display_name="Product"),
        make_table("uomschedule", "uomschedules", [
            string("name", 200, "Name", required=SYS_REQ),
            string("baseuomname", 100, "Base Unit Name"),
            memo("description", 2000, "Description"),
            *ACTIVE_INACTIVE,
        ], ownership="OrganizationOwned", object_type_code=1056, display_name="Unit Group"),
        make_table("uom", "uoms", [
            string("name", 100, "Name", required=SYS_REQ),
            lookup("uomscheduleid", "uomschedule", label="Unit Schedule", required=SYS_REQ),
            lookup("baseuom", "uom", label="Base Unit"),
            decimal("quantity", "Quantity", precision=10),
            boolean("isschedulebaseuom", "Is Schedule Base Unit", create=False, update=False),
        ], ownership="OrganizationOwned", object_type_code=1055, display_name="Unit"),
        _activity("task", "tasks", 4212, [
            integer("percentcomplete", "Percent Complete", lo=0, hi=100),
        ], state_status(
            [(0, "Open", 2), (1, "Completed", 5), (2, "Canceled", 6)],
            [(2, "Not Started", 0), (3, "In Progress", 0), (4, "Waiting on someone else", 0), (7, "Deferred", 0),
             (5, "Completed", 1), (6, "Canceled", 2)],
        )),
        _activity("phonecall", "phonecalls", 4210, [
            string("phonenumber", 200, "Phone Number", fmt="Phone"),
            boolean("directioncode", "Direction", "Outgoing", "Incoming"),
        ], state_status(
            [(0, "Open", 1), (1, "Completed", 2), (2, "Canceled", 3)],
            [(1, "Open", 0), (2, "Made", 1), (4, "Received", 1), (3, "Canceled", 2)],
        )),
        _activity("appointment", "appointments", 4201, [
            string("location", 200, "Location"),
            boolean("isalldayevent", "All Day Event"),
        ], state_status(
            [(0, "Open", 1), (1, "Completed", 3), (2, "Canceled", 4), (3, "Scheduled", 5)],
            [(1, "Free", 0), (2, "Tentative", 0), (3, "Completed", 1), (4, "Canceled", 2), (5, "Busy", 3),
             (6, "Out of Office", 3)],
        )),
        _activity("incidentresolution", "incidentresolutions", 4206, [
            lookup("incidentid", "incident", label="Case"),
            integer("timespent", "Time Spent", lo=0),
        ], state_status([(0, "Open", 1), (1, "Completed", 2), (2, "Canceled", 3)],
                        [(1, "Open", 0), (2, "Closed", 1), (3, "Canceled", 2)])),
        _activity("opportunityclose", "opportunitycloses", 4208, [
            lookup("opportunityid", "opportunity", label="Opportunity"),
            money("actualrevenue", "Actual Revenue"),
            lookup("competitorid", "account", label="Competitor"),
        ], state_status([(0, "Open", 1), (1, "Completed", 2), (2, "Canceled", 3)],
                        [(1, "Open", 0), (2, "Completed", 1), (3, "Canceled", 2)])),
        make_table("annotation", "annotations", [
            string("subject", 500, "Title"),
            memo("notetext", 100_000, "Description"),
            string("filename", 255, "File Name"),
            string("mimetype", 256, "Mime Type"),
            memo("documentbody", 1_073_741_823, "Document"),
            boolean("isdocument", "Is Document"),
            integer("filesize", "File Size (Bytes)", create=False, update=False),
            lookup("objectid", label="Regarding", kind="objectid"),
            string("objecttypecode", 64, "Object Type", update=False),
        ], primary_id="annotationid", primary_name="subject", object_type_code=5, display_name="Note"),
        make_table("customeraddress", "customeraddresses", [
            integer("addressnumber", "Address Number", lo=0, hi=1_000_000_000),
            picklist("addresstypecode", ADDRESS_TYPES, "Address Type"),
            string("name", 200, "Address Name", required=APP_REQ),
            string("primarycontactname", 150, "Address Contact"),
            string("line1", 250, "Street 1", required=APP_REQ),
            string("line2", 250, "Street 2"),
            string("line3", 250, "Street 3"),
            string("city", 80, "City"),
            string("county", 50, "County"),
            string("stateorprovince", 50, "State/Province"),
            string("postalcode", 20, "ZIP/Postal Code"),
            string("postofficebox", 20, "Post Office Box"),
            string("country", 80, "Country/Region"),
            string("telephone1", 50, "Main Phone"),
            string("telephone2", 50, "Phone 2"),
            string("telephone3", 50, "Telephone 3"),
            string("fax", 50, "Fax"),
            double("latitude", "Latitude", lo=-90, hi=90),
            double("longitude", "Longitude", lo=-180, hi=180),
            picklist("freighttermscode", [(1, "FOB"), (2, "No Charge")], "Freight Terms"),
            picklist("shippingmethodcode", [(1, "Airborne"), (2, "DHL"), (3, "FedEx"), (4, "UPS"), (5, "Postal Mail"),
                                            (6, "Full Load"), (7, "Will Call")], "Shipping Method"),
            memo("composite", 1000, "Address", create=False, update=False),
            lookup("parentid", "account", "contact", label="Parent", required=SYS_REQ, kind="multi"),
            entity_name("objecttypecode", "Object Type", required=SYS_REQ),
            entity_name("parentidtypecode", "Parent Object Type"),
            _currency(),
        ], ownership="None", object_type_code=1071, display_name="Address", display_collection="Addresses",
            can_be_referencing=False),
        make_table("queueitem", "queueitems", [
            string("title", 300, "Title", create=False, update=False),
            datetime_col("enteredon", "Entered Queue", create=False, update=False),
            lookup("queueid", "queue", label="Queue", required=APP_REQ, update=False),
            lookup("objectid", *QUEUE_ENABLED, label="Object", required=APP_REQ, update=False, kind="multi"),
            entity_name("objectidtypecode", "Regarding Object Type", update=False),
            picklist("objecttypecode", [(112, "Case"), (4201, "Appointment"), (4210, "Phone Call"), (4212, "Task")],
                     "Type", create=False, update=False),
            integer("priority", "Priority", lo=0, hi=1_000_000_000),
            string("sender", 250, "From"),
            string("torecipients", 500, "To"),
            lookup("workerid", "systemuser", "team", label="Worked By", kind="multi"),
            datetime_col("workeridmodifiedon", "Worked On", create=False, update=False),
            _currency(),
            *(replace(c, create=False) if c.logical == "statecode" else c for c in ACTIVE_INACTIVE),
        ], primary_name="title", ownership="None", object_type_code=2029, display_name="Queue Item",
            display_collection="Queue Items"),
        make_table("systemuser", "systemusers", [
            string("firstname", 64, "First Name"),
            string("lastname", 64, "Last Name", required=SYS_REQ),
            string("fullname", 200, "Full Name", create=False, update=False),
            string("internalemailaddress", 100, "Primary Email", fmt="Email"),
            string("domainname", 1024, "User Name", required=SYS_REQ),
            boolean("isdisabled", "Status", "Disabled", "Enabled", create=False, update=False),
            _uniqueidentifier("applicationid", "Application ID"),
            lookup("businessunitid", "businessunit", label="Business Unit", required=SYS_REQ),
            picklist("accessmode", [(0, "Read-Write"), (1, "Administrative"), (2, "Read"), (3, "Support User"),
                                    (4, "Non-interactive"), (5, "Delegated Admin")], "Access Mode"),
        ], ownership="BusinessOwned", primary_name="fullname", object_type_code=8, display_name="User"),
        make_table("team", "teams", [
            string("name", 160, "Team Name", required=SYS_REQ),
            picklist("teamtype", [(0, "Owner"), (1, "Access"), (2, "Security Group"), (3, "Office Group")],
                     "Team Type"),
            boolean("isdefault", "Is Default", create=False, update=False),
            lookup("businessunitid", "businessunit", label="Business Unit", required=SYS_REQ),
            lookup("administratorid", "systemuser", label="Administrator"),
        ], ownership="BusinessOwned", object_type_code=9, display_name="Team"),
        make_table("queue", "queues", [
            string("name", 200, "Name", required=SYS_REQ),
            string("emailaddress", 100, "Incoming Email", fmt="Email"),
            memo("description", 2000, "Description"),
            *ACTIVE_INACTIVE,
        ], object_type_code=2020, display_name="Queue"),
        make_table("businessunit", "businessunits", [
            string("name", 160, "Name", required=SYS_REQ),
            readonly_lookup("parentbusinessunitid", "businessunit", label="Parent Business"),
        ], ownership="None", object_type_code=10, display_name="Business Unit"),
        make_table("transactioncurrency", "transactioncurrencies", [
            string("currencyname", 100, "Currency Name", required=SYS_REQ),
            string("isocurrencycode", 5, "Currency Code", required=SYS_REQ),
            string("currencysymbol", 10, "Currency Symbol", required=SYS_REQ),
            decimal("exchangerate", "Exchange Rate", precision=10),
            *ACTIVE_INACTIVE,
        ], ownership="OrganizationOwned", primary_name="currencyname", object_type_code=9105,
            display_name="Currency", display_collection="Currencies"),
    ]
    if field_service:
        tables.append(make_table("msdyn_customerasset", "msdyn_customerassets", [
            string("msdyn_name", 100, "Name", required=APP_REQ),
            lookup("msdyn_account", "account", label="Account", required=APP_REQ),
            lookup("msdyn_product", "product", label="Product"),
            lookup("msdyn_parentasset", "msdyn_customerasset", label="Parent Asset",
                   nav="msdyn_parentasset_msdyn_customerasset"),
            lookup("msdyn_masterasset", "msdyn_customerasset", label="Top-Level Asset",
                   nav="msdyn_masterasset_msdyn_customerasset"),
            string("msdyn_assettag", 100, "Asset Tag"),
            double("msdyn_latitude", "Latitude", lo=-90, hi=90),
            double("msdyn_longitude", "Longitude", lo=-180, hi=180),
            *ACTIVE_INACTIVE,
        ], primary_name="msdyn_name", object_type_code=10_119, has_notes=True, has_activities=True,
            display_name="Customer Asset"))
    for table in tables:
        table.schema_name = SCHEMA_NAMES.get(table.logical, table.schema_name)
    return {t.logical: t for t in tables}


def _uniqueidentifier(logical: str, label: str) -> Column:
    return Column(logical, "Uniqueidentifier", "ApplicationId", label, update=False)

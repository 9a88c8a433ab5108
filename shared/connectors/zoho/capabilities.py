"""Zoho CRM v8, declared as data: limits (reference §3.2), naming, timestamps, types, codes.

Zoho budgets API use in **credits** (rolling 24 h): a write costs 1 credit per 10 records, rounded up
per call, so a call is only cheap when it is full (100 records = 10 credits); a Bulk Write job costs
500 credits whatever its size (up to 25,000 rows), so it is cheaper than REST only above 5,000 records.
"""

from __future__ import annotations

from shared.connectors.destination import Capabilities, NamingRule, TimestampStrategy, TypeRule

#: Records per insert / update / upsert call.
RECORDS_PER_CALL = 100
#: Records one credit pays for (1 credit per 10 records, rounded up per call: Kaizen #158).
RECORDS_PER_CREDIT = 10
#: What one Bulk Write job costs, and the rows it may hold.
BULK_JOB_CREDITS = 500
#: Credits one Convert Lead call costs (one lead a call).
CONVERT_CREDITS = 5
BULK_MAX_ROWS = 25_000
#: Lead conversion (Convert Lead API), per lead.
CONVERT_CREDITS = 5

CAPABILITIES = Capabilities(
    write_batch_max=RECORDS_PER_CALL,
    bulk_batch_max=BULK_MAX_ROWS,
    # Above 5,000 records one bulk job (500 credits) costs fewer credits than REST (10 per 100 records).
    bulk_threshold=BULK_JOB_CREDITS * RECORDS_PER_CREDIT,
    # Free 5 ... Ultimate 25 concurrent calls per org per app; heavy APIs share a sub-limit of 10.
    max_parallel_loads=4,
    read_page=2_000,  # COQL LIMIT maximum
    # Files go one multipart call each; notes and files carry no custom fields (no bulk CSV either).
    # Multi-module lookups (What_Id + $se_module) do not travel in a bulk CSV: activities go through REST.
    no_bulk_objects=frozenset({"Notes", "Attachments", "Tasks", "Events"}),
    # Share of the daily credits a migration leaves for the org's other integrations.
    api_reserve_fraction=0.05,
    quota_model="credits",
    native_upsert=True,  # POST /{Module}/upsert with duplicate_check_fields = the external field
    # Notes and attachments cannot carry custom fields: written once (insert-only), found by id.
    no_custom_fields=frozenset({"Notes", "Attachments"}),
    # API names are made from the label (words joined by "_"); labels up to 50 characters... the
    # connector creates each field from a label spelled like its name, so the two agree.
    record_name_field="Name", record_name_length=120,
    naming=NamingRule(prefix="", suffix="", title_case=True, body_max=50, label_max=50, external_id_length=150),
    # Created_Time / Modified_Time are read-only on every module: originals go to custom datetime fields.
    timestamps=TimestampStrategy(native_created="Created_Time", native_modified="Modified_Time",
                                 custom_created=("Original_Created_Date", "Original Created Date"),
                                 custom_modified=("Original_Modified_Date", "Original Modified Date")),
    types={
        "number": TypeRule("Number", "number"),
        "date": TypeRule("Date", "date"),
        "datetime": TypeRule("DateTime", "datetime"),
        "boolean": TypeRule("Checkbox", "boolean"),
        "long_text": TypeRule("LongTextArea", "text", length=32_000),
        "text": TypeRule("Text", "string", length=255),
    },
    # Zoho fills the owner (the calling user) and the pipeline's probability itself.
    platform_defaulted=frozenset({"Owner", "Probability"}),
    default_lengths={"Account_Name": 200, "Last_Name": 80, "First_Name": 40, "Deal_Name": 120, "Subject": 255,
                     "Event_Title": 255, "Note_Title": 255, "Note_Content": 32_000, "Description": 32_000},
    error_reasons={
        "DUPLICATE_DATA": "duplicate",
        "MANDATORY_NOT_FOUND": "missing_required",
        "DEPENDENT_FIELD_MISSING": "missing_required",
        "INVALID_DATA": "invalid_value",
        "MULTIPLE_OR_MULTI_ERRORS": "invalid_value",
        "FILE_SIZE_MORE_THAN_ALLOWED_SIZE": "invalid_value",
        "RECORD_LOCKED": "locked",
        "CONVERTED_RECORD": "locked",
        "LIMIT_EXCEEDED": "limit",
        "TOO_MANY_REQUESTS": "limit",
        "ID_ALREADY_CONVERTED": "duplicate",
    },
    max_file_bytes=20 * 1024 * 1024,  # "File size should not exceed 20 MB" (API docs; v8 UNCONFIRMED)
    limit_notes=("files: 20 MB per file (documented for the older API; the v8 value is unconfirmed)",
                 "custom modules: the ceiling depends on the edition, which the API does not tell"),
)

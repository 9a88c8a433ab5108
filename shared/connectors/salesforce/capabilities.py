"""Salesforce Sales Cloud, declared as data: limits (reference §1.2), naming, timestamps, types, codes."""

from __future__ import annotations

from shared.connectors.destination import Capabilities, NamingRule, TimestampStrategy, TypeRule

CAPABILITIES = Capabilities(
    write_batch_max=200,  # sObject Collections
    bulk_batch_max=10_000,  # Bulk API 2.0's internal batch: one job, one of the 15,000 daily batches
    # Above 1,000 records one Bulk job (5 calls) costs fewer API calls than Collections (>= 6).
    bulk_threshold=1_000,
    max_parallel_loads=4,
    removes_schema=True,  # Tooling API DELETE on CustomField / CustomObject (rollback_schema)
    read_page=2_000,
    # VersionData is binary: Bulk API 2.0's CSV cannot carry it, so files go through Collections.
    # ContentDocument (what deleting a file means) is deleted through Collections too.
    no_bulk_objects=frozenset({"ContentVersion", "ContentDocument"}),
    # Share of the daily API quota a migration leaves for the org's other integrations.
    api_reserve_fraction=0.05,
    quota_model="daily_calls",
    # AccountContactRole takes no custom fields: matched on AccountId + ContactId + Role instead.
    no_custom_fields=frozenset({"AccountContactRole"}),
    native_upsert=True,
    # API names: Title_Case words + __c, 40 characters in all; labels up to 40.
    naming=NamingRule(prefix="", suffix="__c", title_case=True, body_max=37, label_max=40, external_id_length=80),
    # CreatedDate / LastModifiedDate are settable on insert with "Set Audit Fields upon Record Creation".
    timestamps=TimestampStrategy(native_created="CreatedDate", native_modified="LastModifiedDate",
                                 custom_created=("Original_Created_Date__c", "Original Created Date"),
                                 custom_modified=("Original_Modified_Date__c", "Original Modified Date")),
    types={
        "number": TypeRule("Number", "number", precision=18, scale=4),
        "date": TypeRule("Date", "date"),
        "datetime": TypeRule("DateTime", "datetime"),
        "boolean": TypeRule("Checkbox", "boolean"),
        "long_text": TypeRule("LongTextArea", "text", length=32_768),
        "text": TypeRule("Text", "string", length=255),
    },
    error_reasons={
        "INVALID_FIELD_FOR_INSERT_UPDATE": "insert_only_field",
        "DUPLICATE_VALUE": "duplicate",
        "DUPLICATES_DETECTED": "duplicate",
        "REQUIRED_FIELD_MISSING": "missing_required",
        "INVALID_CROSS_REFERENCE_KEY": "missing_reference",
        "UNABLE_TO_LOCK_ROW": "locked",
        "ENTITY_IS_DELETED": "gone",
        "STRING_TOO_LONG": "invalid_value",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "invalid_value",
        "FIELD_INTEGRITY_EXCEPTION": "invalid_value",
        "INVALID_TYPE_ON_FIELD_IN_RECORD": "invalid_value",
        "REQUEST_LIMIT_EXCEEDED": "limit",
    },
    # Files go base64 inside JSON (Collections): ~37.5 MB of file per request (reference §1.2, blob insert).
    max_file_bytes=37_500_000,
    custom_object_limit=200,  # Enterprise Edition (Unlimited/Performance: 2,000)
    record_storage_bytes=2_048,  # most records count 2 KB of data storage
    limit_notes=("custom-object ceiling: 200 is Enterprise Edition's (Unlimited and Performance: 2,000)",
                 "files: the JSON (base64) path's ~37.5 MB; larger files need a multipart insert"),
)

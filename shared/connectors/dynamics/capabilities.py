"""Dynamics 365 Sales (Dataverse Web API v9.2), declared as data: limits (reference §2.2), naming,
timestamps, types, codes."""

from __future__ import annotations

from shared.connectors.destination import Capabilities, NamingRule, TimestampStrategy, TypeRule

CAPABILITIES = Capabilities(
    # ≤ 1,000 requests per $batch; one of them is the read that tells created from updated.
    write_batch_max=999,
    bulk_batch_max=10_000,  # a load of 10,000 records: 10 UpsertMultiple requests (11 $batch of PATCHes)
    # Loads above 100 records upsert through UpsertMultiple (1,000 targets in one $batch between two reads)
    # where that costs no more requests than the $batch PATCHes; smaller ones save nothing by it, and a
    # refused row would cost them a second request (the all-or-nothing message falls back to $batch).
    bulk_threshold=100,
    max_parallel_loads=4,  # 52 concurrent requests per user, but each $batch spends execution time
    read_page=5_000,  # odata.maxpagesize is capped at 5,000
    quota_model="rolling_requests",  # service protection: 6,000 requests / 5 min per user, 429 + Retry-After
    native_upsert=True,  # PATCH by alternate key
    # Logical names: the publisher prefix + lower-case words, 50 characters in all; display names up to 50.
    record_name_field="flit_name", record_name_length=200,
    naming=NamingRule(prefix="flit_", suffix="", title_case=False, body_max=45, label_max=50,
                      external_id_length=100),
    # overriddencreatedon takes the original created time on insert; modifiedon can never be set.
    timestamps=TimestampStrategy(native_created="overriddencreatedon", native_modified=None,
                                 custom_created=("flit_originalcreatedon", "Original Created On"),
                                 custom_modified=("flit_originalmodifiedon", "Original Modified On")),
    types={
        "number": TypeRule("Number", "number", precision=18, scale=4),
        "date": TypeRule("Date", "date"),
        "datetime": TypeRule("DateTime", "datetime"),
        "boolean": TypeRule("Checkbox", "boolean"),
        "long_text": TypeRule("LongTextArea", "text", length=1_048_576),
        "text": TypeRule("Text", "string", length=4_000),
    },
    # Custom choice columns get option values this migration fixes (publisher prefix 10,000 x 10,000).
    integer_choices_from=100_000_000,
    # Notes and queue items carry no custom columns: written with deterministic ids instead.
    no_custom_fields=frozenset({"annotation", "queueitem"}),
    # Columns Dataverse fills on create when the payload leaves them out (owner: the calling user).
    platform_defaulted=frozenset({"ownerid", "statecode", "statuscode", "transactioncurrencyid"}),
    default_lengths={"name": 160, "title": 200, "subject": 200, "description": 2000, "notetext": 100_000},
    error_reasons={
        "0x80060892": "duplicate",  # duplicate alternate key
        "0x80040237": "duplicate",  # duplicate record
        "0x80040217": "missing_reference",  # the bound record does not exist
        "0x80044331": "invalid_value",
        "0x8004431a": "invalid_value",  # option value out of range
        "0x80048408": "invalid_value",  # state/status combination
        "0x80040225": "missing_reference",  # disabled user as owner
        "0x80072322": "limit",
        "0x80072321": "limit",
        "0x80072326": "limit",
    },
    max_file_bytes=5 * 1024 * 1024,  # note attachments: 5 MB by default, an org setting up to 128 MB (§2.2)
    limit_notes=("files: 5 MB is the default of the org's maxuploadfilesize (up to 128 MB)",
                 "custom tables: no cap on Enterprise; 15 per app on Sales Professional"),
)

"""Odoo CRM 17 / 18 / 19 (XML-RPC, JSON-2), declared as data: limits (reference §4.2), naming (§4.5),
timestamps (§4.7), types, fault codes (§4.4)."""

from __future__ import annotations

from shared.connectors.destination import Capabilities, NamingRule, TimestampStrategy, TypeRule

#: Module of the external ids (``ir.model.data``) every record this migration writes is registered under.
XMLID_MODULE = "__flitstack__"

CAPABILITIES = Capabilities(
    # No API cap on create(list), but one call is one transaction under limit_time_real (120 s): the
    # pair page's rule is 50 records per call, with exponential backoff.
    write_batch_max=50,
    bulk_batch_max=10_000,
    bulk_threshold=None,  # no bulk API
    # One SQLite/Postgres transaction per call; an Odoo worker per request: stay gentle.
    max_parallel_loads=2,
    read_page=1_000,
    quota_model="none",  # Odoo Online documents no rate limit (UNCONFIRMED)
    # No upsert: the connector finds existing records through their ir.model.data external id first.
    native_upsert=False,
    # Custom fields must start with x_ (DB constraint); PostgreSQL identifiers: <= 63 characters.
    record_name_field="x_name", record_name_length=255,
    naming=NamingRule(prefix="x_", suffix="", title_case=False, body_max=61, label_max=100,
                      external_id_length=255),
    # create_date / write_date are log-access fields the ORM strips silently: custom fields carry them.
    timestamps=TimestampStrategy(native_created="create_date", native_modified=None,
                                 custom_created=("x_original_create_date", "Original Create Date"),
                                 custom_modified=("x_original_write_date", "Original Write Date")),
    types={
        "number": TypeRule("Number", "number"),
        "date": TypeRule("Date", "date"),
        "datetime": TypeRule("DateTime", "datetime"),
        "boolean": TypeRule("Checkbox", "boolean"),
        "long_text": TypeRule("LongTextArea", "text", length=1_000_000),
        "text": TypeRule("Text", "string", length=255),
    },
    # Fields Odoo fills on create when left out (stored computes: a move line's unit from its product and its
    # locations from its transfer, a product's unit = Units).
    platform_defaulted=frozenset({"type", "stage_id", "user_id", "team_id", "company_id", "active", "priority",
                                  "res_model", "message_type", "date", "product_uom_id", "product_uom", "uom_id",
                                  "location_id", "location_dest_id"}),
    default_lengths={"name": 255},
    # Each finished run is summed up on the migration dashboard record's chatter (seed 004).
    keeps_run_journal=True,
    # An empty float/monetary/integer field reads back as 0 (the ORM converts NULL to 0.0 / 0).
    empty_numbers_read_as_zero=True,
    # Neutral reasons of the connector's record-level codes (the fault family, see client._record_code).
    error_reasons={
        "odoo.exceptions.ValidationError": "invalid_value",
        "odoo.exceptions.UserError": "invalid_value",
        "odoo.exceptions.MissingError": "gone",
        "missing_required": "missing_required",
        "missing_reference": "missing_reference",
        "ValueError": "invalid_value",
        "TypeError": "invalid_value",
        "binascii.Error": "invalid_value",
    },
    limit_notes=("files: Odoo documents no per-file limit (a self-hosted proxy or Odoo Online may set one)",
                 "custom models: no ceiling"),
)

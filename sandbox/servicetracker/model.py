"""The ServiceTracker object model as FlitStack defines it: objects, fields, custom fields, custom tables.

ServiceTracker has no public API reference, so this module *is* the reference (with
``docs/servicetracker-api.md``). One declarative table drives the ``/v2/schema`` endpoint,
the REST paths, the bulk export, the dump validation and the docs, so they cannot drift.

Where ServiceTracker differs from Sercom on purpose: integer ids (auto-increment, so id
order is creation order and offset paging orders by id), ``modified_at`` instead of
``updated_at``, kebab-case resource paths, custom fields typed the way its drag-and-drop
builder names them, and tenant-defined custom tables with their own field types.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Timestamp parsing/formatting is generic (ISO-8601 with a timezone, UTC ``Z`` out): shared with Sercom.
from sandbox.sercom.model import canonical_timestamp, format_timestamp, parse_timestamp, sort_key

FieldType = Literal[
    "id", "string", "text", "email", "phone", "url", "integer", "number", "boolean", "date", "datetime",
    "picklist", "reference", "list", "object",
]

#: ``parent_type`` of an attachment → the object its ``parent_id`` points at (contract documents too).
ATTACHMENT_PARENTS: dict[str, str] = {"work_order": "work_orders", "contract": "contracts"}


@dataclass(frozen=True)
class FieldSpec:
    """One standard field of a ServiceTracker object."""

    name: str
    type: FieldType
    required: bool = False
    picklist_values: tuple[str, ...] = ()
    references: str | None = None
    item_type: str | None = None

    def describe(self) -> dict[str, Any]:
        """The JSON description served by ``GET /v2/schema``."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.picklist_values:
            out["picklist_values"] = list(self.picklist_values)
        if self.references:
            out["references"] = self.references
        if self.item_type:
            out["item_type"] = self.item_type
        if self.name == "parent_id" and self.type == "reference" and not self.references:
            out["polymorphic"] = {"type_field": "parent_type", "targets": dict(ATTACHMENT_PARENTS)}
        return out


@dataclass(frozen=True)
class ObjectSpec:
    """A standard object: API name (snake_case, used in dumps and exports), REST path, fields."""

    name: str
    path: str
    label: str
    fields: tuple[FieldSpec, ...]
    has_custom_fields: bool = False

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


def _f(name: str, type_: FieldType, *, required: bool = False, item: str | None = None) -> FieldSpec:
    return FieldSpec(name, type_, required=required, item_type=item)


def _ref(name: str, target: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "reference", required=required, references=target)


def _pick(name: str, values: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "picklist", required=required, picklist_values=tuple(values.split()))


_SYSTEM = (_f("id", "id", required=True), _f("created_at", "datetime", required=True),
           _f("modified_at", "datetime", required=True))
_CUSTOM = _f("custom_fields", "object")
_ADDRESS = (_f("street", "string"), _f("city", "string"), _f("state", "string"), _f("postal_code", "string"),
            _f("country", "string"))

OBJECTS: dict[str, ObjectSpec] = {s.name: s for s in (
    ObjectSpec("clients", "clients", "Client", (
        *_SYSTEM, _f("name", "string", required=True), _f("client_number", "string", required=True),
        _pick("status", "active inactive prospect", required=True), _f("phone", "phone"), _f("email", "email"),
        _f("website", "url"), _f("industry", "string"), *_ADDRESS, _CUSTOM), has_custom_fields=True),
    ObjectSpec("locations", "locations", "Location", (
        *_SYSTEM, _ref("client_id", "clients", required=True), _f("name", "string"),
        _pick("site_type", "headquarters branch warehouse plant store residence"), *_ADDRESS,
        _f("latitude", "number"), _f("longitude", "number"), _f("is_primary", "boolean", required=True))),
    ObjectSpec("client_contacts", "client-contacts", "Client Contact", (
        *_SYSTEM, _ref("client_id", "clients"), _f("first_name", "string"), _f("last_name", "string", required=True),
        _f("email", "email"), _f("phone", "phone"), _f("mobile", "phone"), _f("title", "string"),
        _pick("role", "owner billing site_manager technical decision_maker"),
        _f("is_primary", "boolean", required=True), _ref("default_location_id", "locations"), _CUSTOM),
        has_custom_fields=True),
    ObjectSpec("technicians", "technicians", "Technician", (
        *_SYSTEM, _f("employee_number", "string"), _f("first_name", "string"), _f("last_name", "string", required=True),
        _f("email", "email"), _f("phone", "phone"),
        _pick("role", "technician lead_technician dispatcher subcontractor"),
        _f("active", "boolean", required=True), _f("hourly_rate", "number"), _f("skills", "list", item="string"))),
    ObjectSpec("inventory_items", "inventory-items", "Inventory Item", (
        *_SYSTEM, _f("part_number", "string", required=True), _f("name", "string", required=True),
        _f("description", "text"), _f("category", "string"), _f("unit_cost", "number"), _f("unit_price", "number"),
        _f("quantity_on_hand", "integer"), _f("active", "boolean", required=True))),
    ObjectSpec("assets", "assets", "Asset", (
        *_SYSTEM, _ref("client_id", "clients"), _ref("location_id", "locations"),
        _ref("inventory_item_id", "inventory_items"), _f("name", "string", required=True),
        _f("serial_number", "string"), _f("install_date", "date"), _f("warranty_end_date", "date"),
        _pick("status", "active in_service out_of_service retired"),
        _f("work_history", "list", item="object{work_order_id, date, summary}"), _CUSTOM), has_custom_fields=True),
    ObjectSpec("contracts", "contracts", "Contract", (
        *_SYSTEM, _ref("client_id", "clients", required=True), _f("contract_number", "string", required=True),
        _f("name", "string"), _f("start_date", "date"), _f("end_date", "date"),
        _pick("status", "draft active expired cancelled", required=True),
        _pick("billing_frequency", "monthly quarterly annually"), _f("total_value", "number"), _f("terms", "text"),
        _f("line_items", "list", item="object{description, quantity, unit_price, sla_response_hours}"))),
    ObjectSpec("projects", "projects", "Project", (
        *_SYSTEM, _ref("client_id", "clients"), _f("project_number", "string", required=True),
        _f("name", "string", required=True), _f("billable", "boolean", required=True), _f("budget", "number"),
        _f("start_date", "date"), _f("projected_end_date", "date"),
        _pick("status", "planning active on_hold completed cancelled", required=True),
        _ref("manager_id", "technicians"), _f("description", "text"),
        _f("work_order_ids", "list", item="reference:work_orders"), _CUSTOM), has_custom_fields=True),
    ObjectSpec("work_orders", "work-orders", "Work Order", (
        *_SYSTEM, _f("number", "string", required=True),
        _pick("type", "break_fix support preventive_maintenance scheduled_service installation", required=True),
        _pick("status", "new scheduled dispatched in_progress on_hold completed closed cancelled", required=True),
        _pick("priority", "low medium high emergency"), _ref("client_id", "clients"), _ref("location_id", "locations"),
        _ref("contact_id", "client_contacts"), _ref("asset_id", "assets"), _ref("project_id", "projects"),
        _ref("contract_id", "contracts"), _ref("technician_id", "technicians"), _f("summary", "string"),
        _f("description", "text"), _f("scheduled_start", "datetime"), _f("completed_at", "datetime"), _CUSTOM),
        has_custom_fields=True),
    ObjectSpec("work_order_tasks", "work-order-tasks", "Work Order Task", (
        *_SYSTEM, _ref("work_order_id", "work_orders", required=True), _f("sequence", "integer"),
        _f("subject", "string", required=True), _pick("status", "open in_progress done skipped", required=True),
        _pick("priority", "low normal high"), _ref("technician_id", "technicians"),
        _f("scheduled_start", "datetime"), _f("scheduled_end", "datetime"), _f("duration_minutes", "integer"),
        _CUSTOM), has_custom_fields=True),
    ObjectSpec("parts_used", "parts-used", "Part Used", (
        *_SYSTEM, _ref("work_order_id", "work_orders", required=True), _ref("asset_id", "assets"),
        _ref("inventory_item_id", "inventory_items"), _f("part_number", "string"), _f("quantity", "number"),
        _f("unit_cost", "number"), _f("total_cost", "number"))),
    ObjectSpec("invoices", "invoices", "Invoice", (
        *_SYSTEM, _f("invoice_number", "string", required=True), _ref("client_id", "clients", required=True),
        _ref("work_order_id", "work_orders"), _ref("contract_id", "contracts"), _f("issue_date", "date"),
        _f("due_date", "date"), _pick("status", "draft sent partially_paid paid overdue void", required=True),
        _f("currency", "string"), _f("total", "number"), _f("balance", "number"),
        _f("payment_lines", "list", item="object{paid_at, amount, method, reference}"))),
    ObjectSpec("notes", "notes", "Work Order Note", (
        *_SYSTEM, _ref("work_order_id", "work_orders", required=True), _ref("author_id", "technicians"),
        _f("body", "text", required=True), _f("is_internal", "boolean"))),
    ObjectSpec("attachments", "attachments", "Attachment", (
        *_SYSTEM, _pick("parent_type", "work_order contract", required=True),
        FieldSpec("parent_id", "reference", required=True), _f("file_name", "string", required=True),
        _f("content_type", "string", required=True), _f("size_bytes", "integer", required=True),
        _f("sha256", "string"), _ref("uploaded_by", "technicians"), _f("description", "string"))),
)}

#: Parents before children; the order objects are generated, dumped and listed in.
OBJECT_ORDER: tuple[str, ...] = tuple(OBJECTS)
#: REST path segment → object name.
PATHS: dict[str, str] = {s.path: s.name for s in OBJECTS.values()}
#: Prefix of a custom table's object name in exports, deletions and the store (``custom.signature_records``).
CUSTOM_PREFIX = "custom."

# --------------------------------------------------------------------------- custom fields and tables

#: Field types of the drag-and-drop builder (custom fields and custom-table columns).
BuilderType = Literal["text", "textarea", "number", "currency", "date", "datetime", "checkbox", "dropdown",
                      "multi_select", "reference", "signature"]
CUSTOM_FIELD_TYPES: tuple[str, ...] = ("text", "textarea", "number", "currency", "date", "checkbox", "dropdown",
                                       "multi_select")


class CustomFieldDef(BaseModel):
    """A custom field built in the form builder; a record carries its value in ``custom_fields[key]``."""

    model_config = ConfigDict(extra="forbid")

    object: str
    key: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    type: Literal["text", "textarea", "number", "currency", "date", "checkbox", "dropdown", "multi_select"]
    options: list[str] = Field(default_factory=list, description="values of dropdown / multi_select fields")
    required: bool = False

    @model_validator(mode="after")
    def _options_only_for_lists(self) -> CustomFieldDef:
        if self.options and self.type not in ("dropdown", "multi_select"):
            raise ValueError(f"options are only allowed on dropdown/multi_select fields, not {self.type}")
        return self


class CustomColumn(BaseModel):
    """One column of a custom table."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    type: BuilderType
    options: list[str] = Field(default_factory=list)
    references: str | None = Field(default=None, description="target object of a reference column")
    required: bool = False

    @model_validator(mode="after")
    def _reference_target(self) -> CustomColumn:
        if (self.type == "reference") != (self.references is not None):
            raise ValueError("a reference column needs 'references' (an object name); other columns must not have it")
        if self.references is not None and self.references not in OBJECTS:
            raise ValueError(f"unknown object {self.references!r} in references")
        return self


class CustomTableDef(BaseModel):
    """A tenant-defined table (signature records, inspection forms, custom logs, ...)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    columns: list[CustomColumn] = Field(min_length=1)

    @property
    def object_name(self) -> str:
        return CUSTOM_PREFIX + self.key

    @model_validator(mode="after")
    def _no_system_columns(self) -> CustomTableDef:
        keys = [c.key for c in self.columns]
        if len(set(keys)) != len(keys):
            raise ValueError("column keys must be unique")
        clash = {"id", "created_at", "modified_at"} & set(keys)
        if clash:
            raise ValueError(f"columns may not redefine system fields {sorted(clash)}")
        return self


class MobileDevice(BaseModel):
    """A technician's mobile app install and what it holds that the server has not received yet."""

    model_config = ConfigDict(extra="forbid")

    device_id: str = Field(min_length=1)
    technician_id: int
    platform: Literal["ios", "android"]
    app_version: str
    last_sync_at: str | None
    unsynced_changes: int = Field(ge=0)
    oldest_unsynced_change_at: str | None
    unsynced_by_object: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> MobileDevice:
        if (self.unsynced_changes > 0) != (self.oldest_unsynced_change_at is not None):
            raise ValueError("oldest_unsynced_change_at is set exactly when unsynced_changes > 0")
        if self.unsynced_by_object and sum(self.unsynced_by_object.values()) != self.unsynced_changes:
            raise ValueError("unsynced_by_object must add up to unsynced_changes")
        for name in ("last_sync_at", "oldest_unsynced_change_at"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, canonical_timestamp(value))
        return self


# --------------------------------------------------------------------------- record validation

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "id": (int,), "integer": (int,), "reference": (int,), "number": (int, float),
    "boolean": (bool,), "list": (list,), "object": (dict,),
}
_BUILDER_JSON: dict[str, tuple[type, ...]] = {
    "number": (int, float), "currency": (int, float), "checkbox": (bool,), "multi_select": (list,),
    "reference": (int,),
}


def _type_error(value: Any, expected: tuple[type, ...]) -> str | None:
    """Strict JSON typing: ``True`` is not a number, ``"12"`` is not an integer, ``1.0`` is not an id."""
    if isinstance(value, bool) and bool not in expected:
        return f"expected {'/'.join(t.__name__ for t in expected)}, got boolean"
    if not isinstance(value, expected):
        return f"expected {'/'.join(t.__name__ for t in expected)}, got {type(value).__name__}"
    return None


def check_system(record: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Problems with ``id``/``created_at``/``modified_at``; canonicalises the timestamps in place."""
    rec_id = record.get("id")
    if rec_id is None:
        yield "id", "field required"
    elif isinstance(rec_id, bool) or not isinstance(rec_id, int) or rec_id < 1:
        yield "id", f"must be a positive integer, got {rec_id!r}"
    for name in ("created_at", "modified_at"):
        value = record.get(name)
        if value is None:
            yield name, "field required"
            continue
        try:
            record[name] = canonical_timestamp(value)
        except ValueError as exc:
            yield name, str(exc)


def check_record(obj: str, record: dict[str, Any], custom_defs: dict[str, CustomFieldDef]) -> list[tuple[str, str]]:
    """Every problem of one standard record as ``(field, message)``; an empty list when it is valid.

    Unknown top-level fields are errors (custom values belong in ``custom_fields``); unknown
    custom-field keys are allowed (the builder's fields are not all declared anywhere) but a
    declared one must hold its declared JSON type. Dates, picklist values and references are
    deliberately not checked: real tenants hold bad ones and the engine must see them.
    """
    spec = OBJECTS[obj]
    problems = list(check_system(record))
    known = set(spec.field_names())
    problems += [(name, f"unknown field of {obj}") for name in record if name not in known]
    for fs in spec.fields[3:]:
        value = record.get(fs.name)
        if value is None:
            if fs.required:
                problems.append((fs.name, "field required"))
            continue
        error = _type_error(value, _JSON_TYPES.get(fs.type, (str,)))
        if error:
            problems.append((fs.name, error))
    custom = record.get("custom_fields")
    if isinstance(custom, dict):
        if not spec.has_custom_fields:
            problems.append(("custom_fields", f"{obj} has no custom fields"))
        for key, value in custom.items():
            definition = custom_defs.get(key)
            if definition is not None and value is not None:
                error = _type_error(value, _BUILDER_JSON.get(definition.type, (str,)))
                if error:
                    problems.append((f"custom_fields.{key}", error))
    return problems


def check_custom_row(table: CustomTableDef, record: dict[str, Any]) -> list[tuple[str, str]]:
    """Every problem of one custom-table row (columns are the table's; unknown columns are errors)."""
    problems = list(check_system(record))
    columns = {c.key: c for c in table.columns}
    problems += [(name, f"unknown column of custom table {table.key!r}") for name in record
                 if name not in columns and name not in ("id", "created_at", "modified_at")]
    for col in table.columns:
        value = record.get(col.key)
        if value is None:
            if col.required:
                problems.append((col.key, "field required"))
            continue
        error = _type_error(value, _BUILDER_JSON.get(col.type, (str,)))
        if error:
            problems.append((col.key, error))
    return problems


def modified_key(value: str) -> str:
    """The sortable key of a canonical ``modified_at`` (fast path for whole-second ``Z`` stamps)."""
    if len(value) == 20 and value[-1] == "Z" and value[10] == "T":
        return f"{value[:19]}.000000Z"
    return sort_key(parse_timestamp(value))


__all__ = [
    "ATTACHMENT_PARENTS", "CUSTOM_FIELD_TYPES", "CUSTOM_PREFIX", "OBJECTS", "OBJECT_ORDER", "PATHS",
    "CustomColumn", "CustomFieldDef", "CustomTableDef", "FieldSpec", "MobileDevice", "ObjectSpec",
    "check_custom_row", "check_record", "format_timestamp", "modified_key", "parse_timestamp", "sort_key",
]

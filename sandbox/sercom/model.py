"""The Sercom object model as the stand-in defines it: objects, fields, tenant container.

Sercom has no public API reference, so this module *is* the reference. The object and
field names follow ``docs/contracts/sercom-objects.md`` (mapping templates are written
against them); one declarative table drives the ``/schema`` endpoint, the dump-file
validation and the docs, so the three cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model, model_validator

FieldType = Literal[
    "id",
    "string",
    "text",
    "email",
    "phone",
    "url",
    "integer",
    "number",
    "boolean",
    "date",
    "datetime",
    "picklist",
    "reference",
    "list",
    "object",
]

#: ``parent_type`` value → object name, for the polymorphic ``parent_id`` of notes/attachments.
POLYMORPHIC_TARGETS: dict[str, str] = {
    "customer": "customers",
    "contact": "contacts",
    "work_order": "work_orders",
    "asset": "assets",
    "deal": "deals",
}


@dataclass(frozen=True)
class FieldSpec:
    """One standard field of a Sercom object (what ``/schema`` describes)."""

    name: str
    type: FieldType
    required: bool = False
    picklist_values: tuple[str, ...] = ()
    references: str | None = None
    item_type: str | None = None
    label: str | None = None
    polymorphic: bool = False

    @property
    def display_label(self) -> str:
        if self.label:
            return self.label
        words = self.name.removesuffix("_id").replace("_", " ")
        return words[:1].upper() + words[1:]

    def describe(self) -> dict[str, Any]:
        """The JSON description served by ``GET /api/v1/schema``."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "label": self.display_label,
            "required": self.required,
            "picklist_values": list(self.picklist_values),
            "references": self.references,
        }
        if self.item_type:
            out["item_type"] = self.item_type
        if self.polymorphic:
            out["polymorphic"] = {"type_field": "parent_type", "targets": dict(POLYMORPHIC_TARGETS)}
        return out


@dataclass(frozen=True)
class ObjectSpec:
    """A Sercom object: its API name, id prefix, label and standard fields."""

    name: str
    prefix: str
    label: str
    fields: tuple[FieldSpec, ...]
    has_custom_fields: bool = False
    aliases: tuple[str, ...] = ()

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def _f(name: str, type_: FieldType, **kw: Any) -> FieldSpec:
    return FieldSpec(name, type_, **kw)


def _ref(name: str, target: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "reference", required=required, references=target)


def _pick(name: str, values: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "picklist", required=required, picklist_values=tuple(values.split()))


_SYSTEM = (
    FieldSpec("id", "id", required=True, label="ID"),
    FieldSpec("created_at", "datetime", required=True, label="Created at"),
    FieldSpec("updated_at", "datetime", required=True, label="Updated at"),
)
_CUSTOM = FieldSpec("custom_fields", "object", label="Custom fields")
_POLY_TYPE = _pick("parent_type", "customer contact work_order asset deal", required=True)
_POLY_ID = FieldSpec("parent_id", "reference", required=True, polymorphic=True, label="Parent")

OBJECTS: dict[str, ObjectSpec] = {
    spec.name: spec
    for spec in (
        ObjectSpec(
            "customers", "cus", "Customer",
            (*_SYSTEM,
             _f("name", "string", required=True),
             _pick("account_type", "commercial residential government industrial", required=True),
             _ref("parent_id", "customers"),
             _f("phone", "phone"), _f("email", "email"), _f("website", "url"), _f("industry", "string"),
             _f("annual_revenue", "number"),
             _f("billing_street", "string"), _f("billing_city", "string"), _f("billing_state", "string"),
             _f("billing_zip", "string"), _f("billing_country", "string"), _CUSTOM),
            has_custom_fields=True,
        ),
        ObjectSpec(
            "locations", "loc", "Service Location",
            (*_SYSTEM, _ref("customer_id", "customers", required=True), _f("name", "string"),
             _f("street", "string"), _f("city", "string"), _f("state", "string"), _f("zip", "string"),
             _f("country", "string"), _f("is_primary", "boolean")),
        ),
        ObjectSpec(
            "contacts", "con", "Contact",
            (*_SYSTEM, _ref("customer_id", "customers"), _f("first_name", "string"),
             _f("last_name", "string", required=True), _f("email", "email"),
             _f("phone", "phone", label="Phone (direct dial)"), _f("mobile", "phone"), _f("title", "string"),
             _pick("role", "primary billing technical decision_maker"), _f("is_prospect", "boolean"), _CUSTOM),
            has_custom_fields=True,
        ),
        ObjectSpec(
            "technicians", "tec", "Technician",
            (*_SYSTEM, _f("first_name", "string"), _f("last_name", "string", required=True),
             _f("email", "email"), _f("phone", "phone"), _f("active", "boolean", required=True),
             _ref("territory_id", "territories"), _f("skills", "list", item_type="string")),
        ),
        ObjectSpec(
            "territories", "ter", "Service Territory",
            (*_SYSTEM, _f("name", "string", required=True), _f("zip_ranges", "list", item_type="string"),
             _f("technician_ids", "list", item_type="reference:technicians")),
        ),
        ObjectSpec(
            "products", "prd", "Product",
            (*_SYSTEM, _f("sku", "string", required=True, label="SKU"), _f("name", "string", required=True),
             _f("description", "text"), _f("unit_price", "number"), _f("active", "boolean")),
        ),
        ObjectSpec(
            "assets", "ast", "Asset",
            (*_SYSTEM, _ref("customer_id", "customers"), _ref("location_id", "locations"),
             _ref("product_id", "products"), _f("name", "string", required=True),
             _f("serial_number", "string"), _pick("status", "active installed in_repair retired"),
             _f("install_date", "date"), _f("warranty_end_date", "date"),
             _f("maintenance_history", "list", item_type="object{date, summary}"), _CUSTOM),
            has_custom_fields=True,
        ),
        ObjectSpec(
            "work_orders", "wo", "Work Order",
            (*_SYSTEM, _f("number", "string", required=True), _ref("customer_id", "customers"),
             _ref("location_id", "locations"), _ref("contact_id", "contacts"), _ref("asset_id", "assets"),
             _ref("technician_id", "technicians"),
             _pick("type", "repair maintenance installation inspection emergency"),
             _pick("status", "new scheduled dispatched in_progress on_hold completed cancelled", required=True),
             _pick("priority", "low normal high urgent"), _pick("origin", "phone email web portal"),
             _f("subject", "string"), _f("description", "text"), _f("scheduled_date", "date"),
             _f("completed_at", "datetime"), _f("labor_hours", "number"), _f("revenue", "number"),
             _f("resolution_code", "string"),
             _f("status_history", "list", item_type="object{status, at}"), _CUSTOM),
            has_custom_fields=True,
            aliases=("jobs",),
        ),
        ObjectSpec(
            "parts_used", "prt", "Part Used",
            (*_SYSTEM, _ref("work_order_id", "work_orders", required=True), _ref("product_id", "products"),
             _f("part_number", "string"), _f("quantity", "number"), _f("unit_cost", "number"),
             _f("serial_number", "string"), _pick("warranty_status", "in_warranty out_of_warranty unknown")),
        ),
        ObjectSpec(
            "contracts", "ctr", "Service Contract",
            (*_SYSTEM, _ref("customer_id", "customers"), _f("name", "string", required=True),
             _f("number", "string"), _f("start_date", "date"), _f("end_date", "date"),
             _pick("status", "draft active expired terminated"), _f("sla_response_hours", "integer"),
             _f("sla_resolution_hours", "integer"), _f("terms", "text")),
        ),
        ObjectSpec(
            "pipeline_stages", "stg", "Pipeline Stage",
            (*_SYSTEM, _f("name", "string", required=True), _f("sort_order", "integer"),
             _f("probability", "integer"), _f("is_closed", "boolean"), _f("is_won", "boolean")),
        ),
        ObjectSpec(
            "deals", "dea", "Deal",
            (*_SYSTEM, _f("name", "string", required=True), _ref("customer_id", "customers"),
             _ref("contact_id", "contacts"), _ref("stage_id", "pipeline_stages"), _f("amount", "number"),
             _f("close_date", "date"), _ref("owner_id", "technicians")),
        ),
        ObjectSpec(
            "activities", "act", "Activity",
            (*_SYSTEM, _pick("type", "visit call email meeting", required=True), _f("subject", "string"),
             _f("description", "text"), _ref("customer_id", "customers"), _ref("contact_id", "contacts"),
             _ref("work_order_id", "work_orders"), _ref("asset_id", "assets"),
             _ref("technician_id", "technicians"), _f("started_at", "datetime"),
             _f("duration_minutes", "integer"),
             _pick("outcome", "completed no_answer left_voicemail rescheduled resolved follow_up")),
        ),
        ObjectSpec(
            "notes", "not", "Note",
            (*_SYSTEM, _POLY_TYPE, _POLY_ID, _f("title", "string"), _f("body", "text"),
             _ref("author_id", "technicians")),
        ),
        ObjectSpec(
            "attachments", "att", "Attachment",
            (*_SYSTEM, _POLY_TYPE, _POLY_ID, _f("file_name", "string", required=True),
             _f("content_type", "string", required=True), _f("size_bytes", "integer"), _f("sha256", "string")),
        ),
    )
}

#: The order in which objects are generated, dumped and listed (parents before children).
OBJECT_ORDER: tuple[str, ...] = tuple(OBJECTS)

#: Alias → object name (the Odoo page names ``/jobs`` for work orders).
ALIASES: dict[str, str] = {alias: spec.name for spec in OBJECTS.values() for alias in spec.aliases}


def resolve_object(name: str) -> str | None:
    """Map an API path segment (object name or alias) to the object name, or ``None``."""
    if name in OBJECTS:
        return name
    return ALIASES.get(name)


# --------------------------------------------------------------------------- timestamps

TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 timestamp with a timezone (``Z`` or offset) into an aware UTC datetime.

    System timestamps order the paging, so a value without a timezone is refused rather
    than guessed.
    """
    if not isinstance(value, str) or not value:
        raise ValueError("expected an ISO-8601 timestamp string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without timezone: {value!r} (use Z or an offset)")
    return parsed.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """Render a UTC timestamp as the API does: seconds precision unless there are microseconds."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime(TS_FORMAT)


def sort_key(moment: datetime) -> str:
    """A fixed-width, lexicographically sortable key (microseconds always present)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_timestamp(value: str) -> str:
    """Validate and canonicalise a system timestamp (``created_at``/``updated_at``)."""
    return format_timestamp(parse_timestamp(value))


# --------------------------------------------------------------------------- tenant-level models


class CustomFieldDef(BaseModel):
    """A tenant-defined custom field; values live in a record's ``custom_fields`` by ``key``."""

    model_config = ConfigDict(extra="forbid")

    object: str
    key: str = Field(min_length=1)
    label: str
    type: Literal["text", "number", "date", "boolean", "picklist"]
    picklist_values: list[str] = Field(default_factory=list)
    required: bool = False


CustomType = Literal["text", "number", "date", "boolean", "picklist", "email", "phone", "url", "reference"]
#: Path segments of ``/api/v1`` that are not objects: a custom object may not take these names.
RESERVED_NAMES = frozenset({"schema", "custom_fields", "custom_objects", "automation_rules", "deleted", "admin"})


class CustomObjectField(BaseModel):
    """A field of a tenant-defined object; its value is a top-level key of the record."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
    label: str = Field(min_length=1)
    type: CustomType
    picklist_values: list[str] = Field(default_factory=list)
    references: str | None = Field(default=None, description="a standard object, for type 'reference'")
    required: bool = False

    @model_validator(mode="after")
    def _shape(self) -> CustomObjectField:
        if (self.type == "reference") != (self.references is not None):
            raise ValueError(f"field {self.key!r}: 'references' goes with type 'reference' (and only with it)")
        if self.references is not None and self.references not in OBJECTS:
            raise ValueError(f"field {self.key!r}: references {self.references!r}, not a standard object "
                             f"(one of: {', '.join(OBJECT_ORDER)})")
        if self.key in ("id", "created_at", "updated_at"):
            raise ValueError(f"field {self.key!r}: id, created_at and updated_at are system fields")
        return self


class CustomObjectDef(BaseModel):
    """A tenant-defined object: records served at ``/api/v1/<name>`` like a standard object's."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    label: str = Field(min_length=1)
    prefix: str = Field(pattern=r"^[a-z]{2,5}$", description="record ids are <prefix>_<n>")
    fields: list[CustomObjectField] = Field(min_length=1)

    @model_validator(mode="after")
    def _names(self) -> CustomObjectDef:
        if self.name in OBJECTS or self.name in ALIASES or self.name in RESERVED_NAMES:
            raise ValueError(f"custom object {self.name!r}: the name is taken (standard objects, aliases and "
                             f"{sorted(RESERVED_NAMES)})")
        keys = [f.key for f in self.fields]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"custom object {self.name!r}: fields {dup} are defined twice")
        return self


class AutomationRule(BaseModel):
    """A Sercom automation rule. Rules do not migrate; they are exported as a rebuild reference."""

    model_config = ConfigDict(extra="allow")

    id: str
    name: str
    object: str
    trigger: Literal["on_create", "on_update", "schedule"]
    conditions: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)
    active: bool = True


@dataclass
class Tenant:
    """Everything one Sercom tenant holds: records per object, schema extensions, files.

    Records are plain JSON-ready dicts (not models) because a tenant may hold 100,000+ of
    them and they are written straight to JSONL / SQLite.
    """

    name: str
    records: dict[str, list[dict[str, Any]]]
    custom_fields: list[CustomFieldDef] = field(default_factory=list)
    custom_objects: list[CustomObjectDef] = field(default_factory=list)
    automation_rules: list[AutomationRule] = field(default_factory=list)
    attachment_content: dict[str, bytes] = field(default_factory=dict)
    seed: int | None = None
    generated_by: str = "unknown"

    def object_names(self) -> list[str]:
        """Standard objects in generation order, then the tenant's custom objects."""
        return [*OBJECT_ORDER, *(c.name for c in self.custom_objects)]

    def counts(self) -> dict[str, int]:
        return {name: len(self.records.get(name, [])) for name in self.object_names()}

    def total(self) -> int:
        return sum(self.counts().values())


# --------------------------------------------------------------------------- record validation

SystemTimestamp = Annotated[str, AfterValidator(canonical_timestamp)]

_PY_TYPES: dict[str, Any] = {
    "id": str,
    "string": str,
    "text": str,
    "email": str,
    "phone": str,
    "url": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    # Dates are strings on purpose: real tenants hold "2023-02-30" and "31/12/2022", and the
    # stand-in must serve such values unchanged for the engine to detect them.
    "date": str,
    "datetime": str,
    "picklist": str,
    "reference": str,
}


def _python_type(spec: FieldSpec) -> Any:
    if spec.name in ("created_at", "updated_at"):
        return SystemTimestamp
    if spec.type == "list":
        return list[str] if spec.item_type in ("string", "reference:technicians") else list[dict[str, Any]]
    if spec.type == "object":
        return dict[str, Any]
    return _PY_TYPES[spec.type]


@cache
def record_model(object_name: str) -> type[BaseModel]:
    """A pydantic model validating one record of ``object_name`` (extra fields allowed).

    Strict mode: a number field holding ``"12"`` is an error in a dump, not a silent cast.
    Picklist values are not restricted - tenants define their own labels.
    """
    spec = OBJECTS[object_name]
    definitions: dict[str, Any] = {}
    for fs in spec.fields:
        py = _python_type(fs)
        if fs.required:
            definitions[fs.name] = (py, ...)
        else:
            definitions[fs.name] = (py | None, None)
    model: type[BaseModel] = create_model(
        f"Sercom_{object_name}",
        __config__=ConfigDict(extra="allow", strict=True),
        **definitions,
    )
    return model


_CUSTOM_PY: dict[str, Any] = {"text": str, "number": float, "date": str, "boolean": bool, "picklist": str,
                              "email": str, "phone": str, "url": str, "reference": str}


def custom_record_model(defn: CustomObjectDef) -> type[BaseModel]:
    """A pydantic model validating one record of a custom object (strict, like the standard ones)."""
    definitions: dict[str, Any] = {"id": (str, ...), "created_at": (SystemTimestamp, ...),
                                   "updated_at": (SystemTimestamp, ...)}
    for f in defn.fields:
        py = _CUSTOM_PY[f.type]
        if f.type == "number":
            py = float | int
        definitions[f.key] = (py, ...) if f.required else (py | None, None)
    model: type[BaseModel] = create_model(f"Sercom_custom_{defn.name}",
                                          __config__=ConfigDict(extra="forbid", strict=True), **definitions)
    return model

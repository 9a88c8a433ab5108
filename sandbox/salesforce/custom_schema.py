"""Custom fields and objects from Tooling API metadata.

Validates the ``Metadata`` block the way a deploy would (type known, length/precision
present and in range, name well formed) and turns it into :class:`FieldDef` /
:class:`ObjectDef`. Errors are raised as :class:`ApiError` so the Tooling route can return
them verbatim.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.schema import FieldDef, ObjectDef
from sandbox.salesforce.standard_objects import F, system_fields

_NAME_RE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*[A-Za-z0-9]__c$|^[A-Za-z]__c$")
FIXED_LENGTH = {"Email": 80, "Phone": 40, "Url": 255, "TextArea": 255}
SIMPLE_TYPES = {
    "Text": "string",
    "TextArea": "textarea",
    "LongTextArea": "textarea",
    "Html": "textarea",
    "Number": "double",
    "Currency": "currency",
    "Percent": "percent",
    "Date": "date",
    "DateTime": "datetime",
    "Checkbox": "boolean",
    "Picklist": "picklist",
    "Email": "email",
    "Phone": "phone",
    "Url": "url",
    "Lookup": "reference",
    "MasterDetail": "reference",
}
EXTERNAL_ID_TYPES = {"Text", "Number", "Email"}


def integrity(message: str, code: str = "FIELD_INTEGRITY_EXCEPTION") -> ApiError:
    return ApiError.of(400, code, message, [])


def check_api_name(name: str) -> None:
    base = name[:-3]
    if not _NAME_RE.match(name) or len(base) > 40:
        raise integrity(
            f"The API name '{name}' is invalid: it must begin with a letter, end in '__c', contain only "
            "alphanumeric characters and single underscores, and be at most 40 characters before the suffix."
        )


def _int(meta: dict[str, Any], key: str) -> int | None:
    value = meta.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise integrity(f"{key}: '{value}' is not a valid integer") from exc


def build_field(name: str, meta: dict[str, Any], targets_exist: Any) -> FieldDef:
    """A FieldDef for ``Metadata`` of a CustomField called ``name`` (``Foo__c``)."""
    check_api_name(name)
    ftype = meta.get("type")
    label = meta.get("label")
    if not label:
        raise integrity("Label: You must enter a value", "REQUIRED_FIELD_MISSING")
    if ftype not in SIMPLE_TYPES:
        raise integrity(f"Invalid or unsupported field type: {ftype!r}")
    external = bool(meta.get("externalId"))
    unique = bool(meta.get("unique"))
    if (external or unique) and ftype not in EXTERNAL_ID_TYPES:
        raise integrity(f"{ftype} fields cannot be External ID or unique (only Text, Number and Email can)")
    required = bool(meta.get("required")) or ftype == "MasterDetail"
    kw: dict[str, Any] = {
        "custom": True,
        "external_id": external,
        "unique": unique,
        "case_sensitive": bool(meta.get("caseSensitive")),
        "id_lookup": external or unique,
        "restrictable": False,
    }
    if required and ftype != "Checkbox":
        kw["nillable"] = False
    default = meta.get("defaultValue")
    if ftype == "Text":
        length = _int(meta, "length")
        if length is None:
            raise integrity("Length: You must enter a value (Text fields need 'length', 1-255)")
        if not 1 <= length <= 255:
            raise integrity(f"Length: Text fields must be 1 to 255 characters long, not {length}")
        kw["length"] = length
    elif ftype in ("LongTextArea", "Html"):
        length = _int(meta, "length")
        lines = _int(meta, "visibleLines")
        if length is None or lines is None:
            raise integrity(f"{ftype} fields need both 'length' (256-131072) and 'visibleLines'")
        if not 256 <= length <= 131_072:
            raise integrity(f"Length: {ftype} fields must be 256 to 131072 characters long, not {length}")
        kw["length"], kw["visible_lines"] = length, lines
    elif ftype in FIXED_LENGTH:
        kw["length"] = FIXED_LENGTH[ftype]
    elif ftype in ("Number", "Currency", "Percent"):
        precision = _int(meta, "precision")
        scale = _int(meta, "scale")
        if precision is None:
            if ftype == "Number":
                raise integrity("Precision: Number fields need 'precision' (1-18) and 'scale'")
            precision = 18
        scale = 0 if scale is None else scale
        if not 1 <= precision <= 18 or not 0 <= scale <= precision:
            raise integrity(f"Precision/scale out of range: precision={precision}, scale={scale}")
        kw["precision"], kw["scale"] = precision, scale
    elif ftype == "Checkbox":
        kw["default_value"] = str(default).strip().lower() == "true" if default is not None else False
        default = None
    elif ftype == "Picklist":
        values, default_pick, restricted = picklist_values(meta)
        kw["picklist"], kw["restricted"] = tuple(values), restricted
        kw["length"] = 255
        if default_pick is not None:
            kw["picklist_default"], kw["defaulted_on_create"] = default_pick, True
    elif ftype in ("Lookup", "MasterDetail"):
        target = meta.get("referenceTo")
        rel = meta.get("relationshipName")
        if not target or not rel:
            raise integrity(f"{ftype} fields need 'referenceTo' and 'relationshipName'")
        canonical = targets_exist(str(target))
        if canonical is None:
            raise integrity(f"referenceTo: no such object '{target}'")
        kw["reference_to"], kw["length"] = (canonical,), 18
        kw["relationship_name"] = name[:-3] + "__r"  # Account__c -> Account__r (parent path from the child)
        kw["child_relationship_name"] = f"{rel}__r"  # Work_Orders -> Work_Orders__r (seen from the parent)
    if default not in (None, "") and ftype not in ("Checkbox", "Picklist"):
        kw["default_value"] = str(default).strip("'\"")
        kw["defaulted_on_create"] = True
    return F(name, SIMPLE_TYPES[ftype], str(label), **kw)


def picklist_values(meta: dict[str, Any]) -> tuple[list[str], str | None, bool]:
    value_set = meta.get("valueSet") or {}
    definition = value_set.get("valueSetDefinition") or {}
    entries = definition.get("value") or []
    if not entries:
        raise integrity("Picklist fields need valueSet.valueSetDefinition.value with at least one value")
    values: list[str] = []
    default: str | None = None
    for entry in entries:
        full = entry.get("fullName") or entry.get("valueName")
        if not full:
            raise integrity("Each picklist value needs a 'fullName'")
        values.append(str(full))
        if entry.get("default"):
            default = str(full)
    return values, default, bool(value_set.get("restricted"))


def build_object(name: str, key_prefix: str, meta: dict[str, Any], durable_id: str) -> ObjectDef:
    """A custom ObjectDef (Id, Name, OwnerId, audit fields) for CustomObject ``Metadata``."""
    check_api_name(name)
    label = meta.get("label")
    plural = meta.get("pluralLabel")
    if not label or not plural:
        raise integrity("CustomObject needs 'label' and 'pluralLabel'", "REQUIRED_FIELD_MISSING")
    name_meta = meta.get("nameField") or {}
    name_type = name_meta.get("type", "Text")
    name_label = name_meta.get("label") or f"{label} Name"
    if name_type == "AutoNumber":
        name_field = F(
            "Name",
            "string",
            name_label,
            length=80,
            createable=False,
            updateable=False,
            auto_number=True,
            nillable=False,
            defaulted_on_create=True,
            name_field=True,
        )
        auto_format = name_meta.get("displayFormat") or "A-{0000}"
    elif name_type == "Text":
        name_field = F("Name", "string", name_label, length=80, required=True, name_field=True)
        auto_format = None
    else:
        raise integrity(f"nameField.type must be Text or AutoNumber, not {name_type!r}")
    fields = system_fields(name=name_field)
    return ObjectDef(
        name=name,
        label=str(label),
        label_plural=str(plural),
        key_prefix=key_prefix,
        fields={f.name: f for f in fields},
        custom=True,
        durable_id=durable_id,
        auto_number_format=auto_format,
    )

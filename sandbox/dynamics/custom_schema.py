"""Custom tables, columns and alternate keys: validate a metadata POST and turn it into definitions.

What is stored is a normalised form of the request (``normalise_*``), so rebuilding the schema
from SQLite after a restart gives exactly the same tables, option values included.
"""

from __future__ import annotations

from typing import Any

from sandbox.dynamics.errors import INVALID_ARGUMENT, DataverseError, bad_request
from sandbox.dynamics.schema import (
    ACTIVE_INACTIVE,
    Column,
    KeyDef,
    Option,
    Table,
    make_table,
)

TYPES = {
    "StringAttributeMetadata": "String",
    "MemoAttributeMetadata": "Memo",
    "IntegerAttributeMetadata": "Integer",
    "DecimalAttributeMetadata": "Decimal",
    "DoubleAttributeMetadata": "Double",
    "MoneyAttributeMetadata": "Money",
    "DateTimeAttributeMetadata": "DateTime",
    "BooleanAttributeMetadata": "Boolean",
    "PicklistAttributeMetadata": "Picklist",
    "BigIntAttributeMetadata": "BigInt",
}
KEYABLE = frozenset({"String", "Integer", "Decimal", "DateTime", "Lookup", "Picklist", "BigInt"})
REQUIRED_LEVELS = ("None", "SystemRequired", "ApplicationRequired", "Recommended")


def label_of(value: Any, default: str = "") -> str:
    """Text of a ``Label`` (``LocalizedLabels[0].Label`` or ``UserLocalizedLabel.Label``)."""
    if isinstance(value, dict):
        user = value.get("UserLocalizedLabel")
        if isinstance(user, dict) and user.get("Label"):
            return str(user["Label"])
        labels = value.get("LocalizedLabels")
        if isinstance(labels, list) and labels and isinstance(labels[0], dict):
            return str(labels[0].get("Label") or default)
    return default


def check_prefix(schema_name: Any, prefix: str, kind: str) -> str:
    if not isinstance(schema_name, str) or not schema_name:
        raise bad_request(f"The SchemaName of the {kind} is required.", INVALID_ARGUMENT)
    if not schema_name.lower().startswith(prefix.lower() + "_") or len(schema_name) <= len(prefix) + 1:
        raise DataverseError(
            400,
            INVALID_ARGUMENT,
            f"The schema name {schema_name} for type {kind} is not prefixed with the publisher customization prefix "
            f"'{prefix}_'. Prefix it with the customization prefix of the solution's publisher.",
        )
    if not schema_name.replace("_", "a").isalnum():
        raise bad_request(f"Invalid schema name {schema_name}: only letters, digits and '_' are allowed.")
    return schema_name


def normalise_column(meta: dict[str, Any], prefix: str, option_prefix: int, published: bool) -> dict[str, Any]:
    """Validate a column-create body and return the stored form."""
    odata_type = str(meta.get("@odata.type", "")).rsplit(".", 1)[-1]
    type_ = TYPES.get(odata_type) or (str(meta["AttributeType"]) if meta.get("AttributeType") in TYPES.values()
                                      else None)
    if odata_type in ("LookupAttributeMetadata", "CustomerAttributeMetadata") or meta.get("AttributeType") in (
        "Lookup", "Customer"
    ):
        raise bad_request("A lookup attribute cannot be created on its own: create a one-to-many relationship "
                          "(POST RelationshipDefinitions, OneToManyRelationshipMetadata with its Lookup) instead.",
                          INVALID_ARGUMENT)
    if type_ is None:
        raise bad_request(f"Unsupported attribute type '{meta.get('@odata.type') or meta.get('AttributeType')}'.")
    schema_name = check_prefix(meta.get("SchemaName"), prefix, "Attribute")
    required = meta.get("RequiredLevel") or {}
    level = required.get("Value", "None") if isinstance(required, dict) else "None"
    if level not in REQUIRED_LEVELS:
        raise bad_request(f"Invalid RequiredLevel '{level}'.")
    out: dict[str, Any] = {
        "SchemaName": schema_name,
        "AttributeType": type_,
        "DisplayName": label_of(meta.get("DisplayName"), schema_name),
        "RequiredLevel": level,
        "_published": published,
    }
    if type_ in ("String", "Memo"):
        length = meta.get("MaxLength", 100 if type_ == "String" else 2000)
        limit = 4000 if type_ == "String" else 1_048_576
        if not isinstance(length, int) or not 1 <= length <= limit:
            raise bad_request(f"MaxLength must be between 1 and {limit}.")
        out["MaxLength"] = length
    elif type_ == "DateTime":
        fmt = meta.get("Format") or "DateAndTime"
        if fmt not in ("DateOnly", "DateAndTime"):
            raise bad_request(f"Invalid DateTime Format '{fmt}'.")
        out["Format"] = fmt
    elif type_ in ("Integer", "Decimal", "Double", "Money", "BigInt"):
        for key in ("MinValue", "MaxValue", "Precision"):
            if meta.get(key) is not None:
                out[key] = meta[key]
    elif type_ == "Boolean":
        options = meta.get("OptionSet") or {}
        out["TrueLabel"] = label_of((options.get("TrueOption") or {}).get("Label"), "Yes")
        out["FalseLabel"] = label_of((options.get("FalseOption") or {}).get("Label"), "No")
    elif type_ == "Picklist":
        out["Options"] = _options(meta.get("OptionSet"), option_prefix)
    return out


def _options(option_set: Any, option_prefix: int) -> list[list[Any]]:
    if not isinstance(option_set, dict) or not isinstance(option_set.get("Options"), list) or not option_set["Options"]:
        raise bad_request("A Picklist attribute needs an OptionSet with Options (global option sets are not emulated).")
    values: list[list[Any]] = []
    next_value = option_prefix * 10_000
    for raw in option_set["Options"]:
        value = raw.get("Value") if isinstance(raw, dict) else None
        if value is None:
            while any(v == next_value for v, _ in values):
                next_value += 1
            value = next_value
            next_value += 1
        if not isinstance(value, int) or any(v == value for v, _ in values):
            raise bad_request(f"Option value {value!r} is invalid or duplicated.")
        values.append([value, label_of(raw.get("Label") if isinstance(raw, dict) else None, str(value))])
    return values


def normalise_relationship(meta: dict[str, Any], referencing: Table, referenced: Table, prefix: str,
                           published: bool) -> dict[str, Any]:
    """Validate a OneToManyRelationshipMetadata body; the stored form is the lookup column it creates."""
    relationship = check_prefix(meta.get("SchemaName"), prefix, "Relationship")
    lookup = meta.get("Lookup")
    if not isinstance(lookup, dict):
        raise bad_request("A one-to-many relationship needs its Lookup (a LookupAttributeMetadata).", INVALID_ARGUMENT)
    odata_type = str(lookup.get("@odata.type", "")).rsplit(".", 1)[-1]
    if (odata_type and odata_type != "LookupAttributeMetadata") or lookup.get("AttributeType", "Lookup") != "Lookup":
        raise bad_request("The Lookup of a one-to-many relationship must be a LookupAttributeMetadata.",
                          INVALID_ARGUMENT)
    schema_name = check_prefix(lookup.get("SchemaName"), prefix, "Attribute")
    attribute = meta.get("ReferencedAttribute") or referenced.primary_id
    if attribute != referenced.primary_id:
        raise bad_request(f"The ReferencedAttribute of a one-to-many relationship must be the primary key of "
                          f"{referenced.logical} ({referenced.primary_id}).", INVALID_ARGUMENT)
    required = lookup.get("RequiredLevel") or {}
    level = required.get("Value", "None") if isinstance(required, dict) else "None"
    if level not in REQUIRED_LEVELS:
        raise bad_request(f"Invalid RequiredLevel '{level}'.")
    nav = meta.get("ReferencingEntityNavigationPropertyName") or schema_name
    if not isinstance(nav, str) or not nav.replace("_", "a").isalnum():
        raise bad_request(f"Invalid ReferencingEntityNavigationPropertyName '{nav}'.", INVALID_ARGUMENT)
    return {
        "SchemaName": schema_name,
        "AttributeType": "Lookup",
        "DisplayName": label_of(lookup.get("DisplayName"), schema_name),
        "RequiredLevel": level,
        "Targets": [referenced.logical],
        "NavigationProperty": nav,
        "Relationship": {
            "SchemaName": relationship,
            "ReferencedEntity": referenced.logical,
            "ReferencedAttribute": referenced.primary_id,
            "ReferencingEntity": referencing.logical,
            "ReferencedEntityNavigationPropertyName": meta.get("ReferencedEntityNavigationPropertyName")
            or relationship,
            "CascadeConfiguration": meta.get("CascadeConfiguration") or {},
        },
        "_published": published,
    }


def column_from_stored(stored: dict[str, Any], *, primary_name: bool = False) -> Column:
    type_ = str(stored["AttributeType"])
    schema_name = str(stored["SchemaName"])
    if type_ == "Lookup":
        return Column(schema_name.lower(), "Lookup", schema_name, str(stored.get("DisplayName") or schema_name),
                      required=str(stored.get("RequiredLevel", "None")), targets=tuple(stored["Targets"]),
                      lookup_kind="single", is_custom=True, nav_name=str(stored["NavigationProperty"]),
                      published=bool(stored.get("_published", True)))
    options: tuple[Option, ...] = ()
    if type_ == "Picklist":
        options = tuple(Option(int(v), str(t)) for v, t in stored["Options"])
    elif type_ == "Boolean":
        options = (Option(0, str(stored.get("FalseLabel", "No"))), Option(1, str(stored.get("TrueLabel", "Yes"))))
    bounds = {
        "Integer": (-2_147_483_648, 2_147_483_647),
        "BigInt": (-(2**63), 2**63 - 1),
        "Decimal": (-100_000_000_000, 100_000_000_000),
        "Double": (-100_000_000_000, 100_000_000_000),
        "Money": (-922_337_203_685_477, 922_337_203_685_477),
    }.get(type_, (None, None))
    return Column(
        schema_name.lower(),
        type_,
        schema_name,
        str(stored.get("DisplayName") or schema_name),
        max_length=stored.get("MaxLength"),
        required=str(stored.get("RequiredLevel", "None")),
        options=options,
        is_custom=True,
        is_primary_name=primary_name,
        fmt=stored.get("Format") or ("TextArea" if type_ == "Memo" else "Text" if type_ == "String" else None),
        precision=stored.get("Precision", 2 if type_ in ("Decimal", "Money") else None),
        min_value=stored.get("MinValue", bounds[0]),
        max_value=stored.get("MaxValue", bounds[1]),
        published=bool(stored.get("_published", True)),
    )


def normalise_table(meta: dict[str, Any], prefix: str, option_prefix: int, otc: int, published: bool) -> dict[str, Any]:
    """Validate an EntityMetadata body and return the stored form."""
    schema_name = check_prefix(meta.get("SchemaName"), prefix, "Entity")
    if meta.get("IsActivity"):
        raise bad_request("Custom activity tables are not emulated by the stand-in.")
    ownership = meta.get("OwnershipType", "UserOwned")
    if ownership not in ("UserOwned", "OrganizationOwned"):
        raise bad_request(f"Invalid OwnershipType '{ownership}'.")
    attributes = meta.get("Attributes") or []
    primaries = [a for a in attributes if isinstance(a, dict) and a.get("IsPrimaryName")]
    if len(primaries) != 1:
        raise bad_request("The entity must have exactly one primary name attribute (a StringAttributeMetadata with "
                          "IsPrimaryName true).", INVALID_ARGUMENT)
    primary = normalise_column(primaries[0], prefix, option_prefix, published)
    if primary["AttributeType"] != "String":
        raise bad_request("The primary name attribute must be a StringAttributeMetadata.", INVALID_ARGUMENT)
    others = [normalise_column(a, prefix, option_prefix, published) for a in attributes if a is not primaries[0]]
    display = label_of(meta.get("DisplayName"), schema_name)
    return {
        "SchemaName": schema_name,
        "DisplayName": display,
        "DisplayCollectionName": label_of(meta.get("DisplayCollectionName"), display + "s"),
        "OwnershipType": ownership,
        "HasNotes": bool(meta.get("HasNotes", False)),
        "HasActivities": bool(meta.get("HasActivities", False)),
        "PrimaryName": primary,
        "Attributes": others,
        "ObjectTypeCode": otc,
        "_published": published,
    }


def table_from_stored(stored: dict[str, Any]) -> Table:
    logical = str(stored["SchemaName"]).lower()
    primary = column_from_stored(stored["PrimaryName"], primary_name=True)
    columns = [primary, *(column_from_stored(a) for a in stored.get("Attributes", [])), *ACTIVE_INACTIVE]
    return make_table(
        logical,
        logical + "s",
        columns,
        primary_name=primary.logical,
        ownership=str(stored["OwnershipType"]),
        schema_name=str(stored["SchemaName"]),
        display_name=str(stored["DisplayName"]),
        display_collection=str(stored["DisplayCollectionName"]),
        object_type_code=int(stored["ObjectTypeCode"]),
        is_custom=True,
        has_notes=bool(stored["HasNotes"]),
        has_activities=bool(stored["HasActivities"]),
        published=bool(stored.get("_published", True)),
    )


def normalise_key(meta: dict[str, Any], table: Table, prefix: str) -> dict[str, Any]:
    schema_name = check_prefix(meta.get("SchemaName"), prefix, "EntityKey")
    attrs = meta.get("KeyAttributes")
    if not isinstance(attrs, list) or not attrs or not all(isinstance(a, str) for a in attrs):
        raise bad_request("KeyAttributes must be a non-empty list of attribute logical names.", INVALID_ARGUMENT)
    for name in attrs:
        col = table.column(name)
        if col is None:
            raise DataverseError(
                400, INVALID_ARGUMENT, f"The attribute {name} does not exist on entity {table.logical}."
            )
        if col.type not in KEYABLE:
            raise DataverseError(
                400, INVALID_ARGUMENT, f"Attribute {name} of type {col.type} cannot be part of an entity key."
            )
    return {
        "SchemaName": schema_name,
        "DisplayName": label_of(meta.get("DisplayName"), schema_name),
        "KeyAttributes": list(attrs),
    }


def key_from_stored(stored: dict[str, Any], created_at: float, failed: bool) -> KeyDef:
    return KeyDef(
        str(stored["SchemaName"]).lower(),
        str(stored["SchemaName"]),
        tuple(stored["KeyAttributes"]),
        str(stored["DisplayName"]),
        created_at,
        failed,
    )

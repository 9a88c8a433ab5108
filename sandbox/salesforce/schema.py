"""The in-memory object model: field and object definitions plus the org's schema.

Standard objects are defined in :mod:`standard_objects`; custom objects and fields come
from Tooling API calls (persisted in SQLite) and are merged in by :class:`Schema`.
Names are case-insensitive everywhere in Salesforce, so lookups go through lower-case maps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

ANY_OBJECT = "*"  # referenceTo wildcard: FirstPublishLocationId, LinkedEntityId
CUSTOM_OBJECTS = "+custom"  # referenceTo marker: "plus every custom object" (Task/Event WhatId)
AUDIT_FIELDS = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById")

SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "base64": "xsd:base64Binary",
}
STRING_TYPES = {"string", "textarea", "picklist", "email", "phone", "url", "combobox", "id", "reference"}


def label_from_name(name: str) -> str:
    """'BillingCity' -> 'Billing City', 'AccountId' -> 'Account ID' (the usual standard labels)."""
    base = name[:-2] + " ID" if name.endswith("Id") and len(name) > 2 else name
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base)


@dataclass(frozen=True)
class FieldDef:
    """One field as describe reports it, plus the flags the write engine needs."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    default_value: object = None
    external_id: bool = False
    unique: bool = False
    case_sensitive: bool = False
    id_lookup: bool = False
    picklist: tuple[str, ...] = ()
    picklist_default: str | None = None
    restricted: bool = False
    restrictable: bool = True  # standard picklist that follows the standard_picklists_restricted knob
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship_name: str | None = None  # how the parent sees this lookup (subqueries, describe)
    custom: bool = False
    calculated: bool = False
    auto_number: bool = False
    audit: bool = False  # CreatedDate & co: createable only with the audit permission
    name_field: bool = False
    visible_lines: int = 0
    durable_id: str | None = None

    @property
    def display_label(self) -> str:
        return self.label or label_from_name(self.name)

    @property
    def is_reference(self) -> bool:
        return self.type == "reference"

    @property
    def keyed(self) -> bool:
        """Whether values are indexed in ``record_keys`` (upsert / relationship lookups / unique)."""
        return self.external_id or self.unique

    def key_of(self, value: object) -> str:
        """The index form of a value: case-folded unless the field is case-sensitive."""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value)
        return text if self.case_sensitive else text.lower()


@dataclass
class ObjectDef:
    """An sObject type with its fields in describe order."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: dict[str, FieldDef]
    custom: bool = False
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    durable_id: str | None = None
    auto_number_format: str | None = None
    _lower: dict[str, str] = field(default_factory=dict, repr=False)
    required: list[str] = field(default_factory=list, repr=False)
    keyed: list[FieldDef] = field(default_factory=list, repr=False)
    defaults: dict[str, object] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Recompute the lookup map and the per-object lists the write engine uses on every record."""
        self._lower = {n.lower(): n for n in self.fields}
        fields = list(self.fields.values())
        # audit fields are always defaultedOnCreate, so the permission knob cannot make them required
        self.required = [f.name for f in fields if f.createable and not f.nillable and not f.defaulted_on_create]
        self.keyed = [f for f in fields if f.keyed]
        self.defaults = {
            f.name: f.picklist_default if f.picklist_default is not None else f.default_value
            for f in fields
            if f.picklist_default is not None or f.default_value is not None
        }

    def field(self, name: str) -> FieldDef | None:
        canonical = self._lower.get(name.lower())
        return self.fields[canonical] if canonical else None

    def add_field(self, fdef: FieldDef) -> None:
        self.fields[fdef.name] = fdef
        self.reindex()

    def relationship(self, rel: str) -> FieldDef | None:
        low = rel.lower()
        for fdef in self.fields.values():
            if fdef.relationship_name and fdef.relationship_name.lower() == low:
                return fdef
        return None

    def copy(self) -> ObjectDef:
        return replace(self, fields=dict(self.fields))


class Schema:
    """All object types of the org: standard ones plus custom objects/fields from the database."""

    def __init__(self, objects: dict[str, ObjectDef]) -> None:
        self.objects = objects
        self._lower = {n.lower(): n for n in objects}
        self._prefix = {o.key_prefix: o.name for o in objects.values()}

    def get(self, name: str) -> ObjectDef | None:
        canonical = self._lower.get(name.lower())
        return self.objects[canonical] if canonical else None

    def by_prefix(self, record_id: str) -> ObjectDef | None:
        name = self._prefix.get(record_id[:3])
        return self.objects[name] if name else None

    def custom_object_names(self) -> list[str]:
        return [o.name for o in self.objects.values() if o.custom]

    def reference_targets(self, fdef: FieldDef) -> list[str]:
        """Concrete referenceTo list (wildcards expanded)."""
        out: list[str] = []
        for target in fdef.reference_to:
            if target == CUSTOM_OBJECTS:
                out.extend(self.custom_object_names())
            elif target == ANY_OBJECT:
                out.extend(self.objects)
            else:
                out.append(target)
        return out

    def accepts(self, fdef: FieldDef, target_object: str) -> bool:
        if ANY_OBJECT in fdef.reference_to or target_object in fdef.reference_to:
            return True
        return CUSTOM_OBJECTS in fdef.reference_to and target_object.endswith("__c")

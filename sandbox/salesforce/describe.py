"""Describe payloads (global, per object, per field) in Salesforce's JSON shape.

Loaders read ``createable``/``nillable``/``defaultedOnCreate`` to find required fields,
``picklistValues``/``restrictedPicklist`` to map values and ``referenceTo`` to order loads,
so those are computed from the live schema and the current permission knobs.
"""

from __future__ import annotations

from typing import Any

from sandbox.salesforce.org import Org
from sandbox.salesforce.schema import ANY_OBJECT, SOAP_TYPES, FieldDef, ObjectDef

_NUMERIC = {"double", "currency", "percent"}
_TEXTUAL = {"string", "textarea", "picklist", "email", "phone", "url", "combobox", "id", "reference"}


def object_urls(version: str, name: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def object_summary(objdef: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "activateable": False,
        "createable": objdef.createable,
        "custom": objdef.custom,
        "customSetting": False,
        "deletable": objdef.deletable,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isSubtype": False,
        "keyPrefix": objdef.key_prefix,
        "label": objdef.label,
        "labelPlural": objdef.label_plural,
        "layoutable": True,
        "mergeable": False,
        "mruEnabled": True,
        "name": objdef.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": objdef.deletable,
        "updateable": objdef.updateable,
        "urls": object_urls(version, objdef.name),
    }


def global_describe(org: Org, version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(o, version) for o in sorted(org.schema.objects.values(), key=lambda o: o.name)],
    }


def field_describe(org: Org, fdef: FieldDef) -> dict[str, Any]:
    targets = (
        []
        if not fdef.is_reference
        else (["*"] if ANY_OBJECT in fdef.reference_to else org.schema.reference_targets(fdef))
    )
    textual = fdef.type in _TEXTUAL
    picklist = [
        {"active": True, "defaultValue": v == fdef.picklist_default, "label": v, "validFor": None, "value": v}
        for v in fdef.picklist
    ]
    return {
        "aggregatable": fdef.type not in ("textarea", "base64"),
        "autoNumber": fdef.auto_number,
        "byteLength": fdef.length * 3 if textual else 0,
        "calculated": fdef.calculated,
        "cascadeDelete": False,
        "caseSensitive": fdef.case_sensitive,
        "createable": org.field_createable(fdef),
        "custom": fdef.custom,
        "defaultValue": fdef.default_value if fdef.type == "boolean" or not fdef.picklist else None,
        "defaultedOnCreate": fdef.defaulted_on_create,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": fdef.precision if fdef.type == "int" else 0,
        "externalId": fdef.external_id,
        "filterable": fdef.type not in ("textarea", "base64"),
        "groupable": fdef.type not in ("textarea", "base64", "double", "currency", "percent", "datetime"),
        "htmlFormatted": False,
        "idLookup": fdef.id_lookup,
        "inlineHelpText": None,
        "label": fdef.display_label,
        "length": fdef.length if textual else 0,
        "name": fdef.name,
        "nameField": fdef.name_field,
        "nillable": fdef.nillable,
        "permissionable": fdef.custom and fdef.nillable,
        "picklistValues": picklist,
        "polymorphicForeignKey": len(targets) > 1 or targets == ["*"],
        "precision": fdef.precision if fdef.type in _NUMERIC else 0,
        "referenceTo": targets,
        "relationshipName": fdef.relationship_name,
        "restrictedPicklist": org.is_restricted(fdef),
        "scale": fdef.scale if fdef.type in _NUMERIC else 0,
        "soapType": SOAP_TYPES.get(fdef.type, "xsd:string"),
        "sortable": fdef.type not in ("textarea", "base64"),
        "type": fdef.type,
        "unique": fdef.unique,
        "updateable": fdef.updateable,
        "writeRequiresMasterRead": False,
    }


def object_describe(org: Org, objdef: ObjectDef, version: str) -> dict[str, Any]:
    children = [
        {
            "cascadeDelete": False,
            "childSObject": other.name,
            "deprecatedAndHidden": False,
            "field": f.name,
            "relationshipName": f.child_relationship_name,
            "restrictedDelete": False,
        }
        for other in org.schema.objects.values()
        for f in other.fields.values()
        if f.is_reference and ANY_OBJECT not in f.reference_to and org.schema.accepts(f, objdef.name)
    ]
    return {
        **object_summary(objdef, version),
        "actionOverrides": [],
        "childRelationships": children,
        "fields": [field_describe(org, f) for f in objdef.fields.values()],
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [
            {
                "active": True,
                "available": True,
                "defaultRecordTypeMapping": True,
                "developerName": "Master",
                "master": True,
                "name": "Master",
                "recordTypeId": "012000000000000AAA",
                "urls": {
                    "layout": f"/services/data/v{version}/sobjects/{objdef.name}/describe/layouts/012000000000000AAA"
                },
            }
        ],
        "supportedScopes": [{"label": "All records", "name": "everything"}],
    }

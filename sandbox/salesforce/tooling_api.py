"""Tooling API: create CustomField / CustomObject, read them back, and query them.

A field or object exists for the data APIs only once it has been created here; until
then writes fail with ``INVALID_FIELD`` and queries with ``INVALID_TYPE``, which is what a
loader that forgets to deploy schema first will see in a real org.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from sandbox.salesforce import soql
from sandbox.salesforce.errors import ApiError, not_found, unsupported_type
from sandbox.salesforce.http import org_of, parse_json, raw_body, sf_json, version_of
from sandbox.salesforce.org import Org
from sandbox.salesforce.query_api import _more, respond_list
from sandbox.salesforce.schema import FieldDef, ObjectDef
from sandbox.salesforce.standard_objects import F

router = APIRouter()
T = "/services/data/{version}/tooling"
_TOOLING_TYPES = ("CustomField", "CustomObject")


def _pseudo_object(name: str) -> ObjectDef:
    fields: list[FieldDef] = [
        F("Id", "id", "ID", createable=False, updateable=False),
        F("DeveloperName", "string", "Developer Name", length=40),
        F("FullName", "string", "Full Name", length=255),
        F("NamespacePrefix", "string", "Namespace Prefix", length=15),
        F("ManageableState", "string", "Manageable State", length=40),
        F("CreatedDate", "datetime", "Created Date"),
        F("LastModifiedDate", "datetime", "Last Modified Date"),
        F("Description", "string", length=1000),
    ]
    if name == "CustomField":
        fields += [F("TableEnumOrId", "string", "Table Enum or ID", length=40), F("Length", "int", "Length")]
    else:
        fields += [F("ExternalName", "string", length=255), F("SharingModel", "string", length=40)]
    return ObjectDef(name, name, name + "s", "00N" if name == "CustomField" else "01I", {f.name: f for f in fields})


def _rows(org: Org, kind: str) -> list[dict[str, Any]]:
    common = {"NamespacePrefix": None, "ManageableState": "unmanaged", "Description": None}
    if kind == "CustomObject":
        return [
            {
                **common,
                "Id": oid,
                "DeveloperName": name[:-3],
                "FullName": name,
                "CreatedDate": created,
                "LastModifiedDate": created,
                "SharingModel": meta.get("sharingModel", "ReadWrite"),
                "ExternalName": None,
                "Metadata": meta,
            }
            for name, oid, _p, meta, created in org.store.custom_objects()
        ]
    objects = {o.name: o for o in org.schema.objects.values()}
    return [
        {
            **common,
            "Id": fid,
            "DeveloperName": name[:-3],
            "FullName": f"{obj}.{name}",
            "CreatedDate": created,
            "LastModifiedDate": created,
            "Length": meta.get("length"),
            "Metadata": meta,
            "TableEnumOrId": (objects[obj].durable_id or obj) if obj in objects else obj,
        }
        for obj, name, fid, meta, created in org.store.custom_fields()
    ]


def _create(request: Request, body: bytes, kind: str) -> Response:
    org = org_of(request)
    data = parse_json(body)
    if not isinstance(data, dict) or not data.get("FullName") or not isinstance(data.get("Metadata"), dict):
        raise ApiError.of(
            400, "REQUIRED_FIELD_MISSING", "Required fields are missing: [FullName, Metadata]", ["FullName", "Metadata"]
        )
    full_name, meta = str(data["FullName"]), data["Metadata"]
    new_id = org.add_custom_field(full_name, meta) if kind == "CustomField" else org.add_custom_object(full_name, meta)
    return sf_json({"id": new_id, "success": True, "errors": [], "warnings": [], "infos": []}, 201)


@router.post(T + "/sobjects/CustomField")
def create_field(request: Request, body: bytes = Depends(raw_body)) -> Response:
    return _create(request, body, "CustomField")


@router.post(T + "/sobjects/CustomObject")
def create_object(request: Request, body: bytes = Depends(raw_body)) -> Response:
    return _create(request, body, "CustomObject")


@router.get(T + "/sobjects/{kind}/{record_id}")
def read(kind: str, record_id: str, request: Request) -> Response:
    if kind not in _TOOLING_TYPES:
        raise not_found()
    org = org_of(request)
    for row in _rows(org, kind):
        if row["Id"] == record_id or row["Id"][:15] == record_id:
            url = f"/services/data/v{version_of(request)}/tooling/sobjects/{kind}/{row['Id']}"
            return sf_json({"attributes": {"type": kind, "url": url}, **row})
    raise not_found()


@router.delete(T + "/sobjects/{kind}/{record_id}")
def delete(kind: str, record_id: str, request: Request) -> Response:
    """Delete a custom field (its values go with it) or a custom object (its fields and records go with it)."""
    if kind not in _TOOLING_TYPES:
        raise not_found()
    org = org_of(request)
    removed = org.remove_custom_field(record_id) if kind == "CustomField" else org.remove_custom_object(record_id)
    if not removed:
        raise ApiError.of(404, "NOT_FOUND", "The requested resource does not exist")
    return Response(status_code=204)


@router.get(T + "/query")
def tooling_query(request: Request) -> Response:
    org = org_of(request)
    text = request.query_params.get("q")
    if not text:
        raise ApiError.of(400, "MALFORMED_QUERY", "A query string has to be specified")
    query = soql.parse(text)
    kind = next((k for k in _TOOLING_TYPES if k.lower() == query.obj.lower()), None)
    if kind is None:
        raise unsupported_type(query.obj)
    version = version_of(request)
    executor = soql.Executor(
        text,
        query,
        _pseudo_object(kind),
        schema=None,
        api_version=version,
        url_base=f"/services/data/v{version}/tooling/sobjects",
    )
    total, records = executor.run(_rows(org, kind))
    return respond_list(org, request, total, records, "tooling/query")


@router.get(T + "/query/{locator}")
def tooling_query_more(locator: str, request: Request) -> Response:
    return _more(request, locator, "tooling/query")

"""REST sObject resources: versions, resources, limits, describe, CRUD and upsert by external id."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from sandbox.salesforce.config import SUPPORTED_VERSIONS
from sandbox.salesforce.describe import global_describe, object_describe, object_summary
from sandbox.salesforce.engine import MultipleMatches, Prepared, SaveResult, Writer, prepare_json
from sandbox.salesforce.errors import ApiError, SfError, ValueParseError, not_found
from sandbox.salesforce.http import (
    no_content,
    org_of,
    parse_error,
    parse_json,
    raw_body,
    render_record,
    resolve_fields,
    sf_json,
    user_of,
    version_of,
)
from sandbox.salesforce.ids import normalize_id
from sandbox.salesforce.org import Org
from sandbox.salesforce.schema import ObjectDef

router = APIRouter()
V = "/services/data/{version}"
RELEASES = {
    50: "Winter '21",
    51: "Spring '21",
    52: "Summer '21",
    53: "Winter '22",
    54: "Spring '22",
    55: "Summer '22",
    56: "Winter '23",
    57: "Spring '23",
    58: "Summer '23",
    59: "Winter '24",
    60: "Spring '24",
    61: "Summer '24",
    62: "Winter '25",
}


@router.get("/services/data")
def versions() -> Response:
    return sf_json(
        [
            {"label": RELEASES.get(int(float(v)), v), "url": f"/services/data/v{v}", "version": v}
            for v in SUPPORTED_VERSIONS
        ]
    )


@router.get(V)
def resources(request: Request) -> Response:
    base = f"/services/data/v{version_of(request)}"
    names = [
        "tooling",
        "metadata",
        "eclair",
        "folders",
        "prechatForms",
        "contact-tracing",
        "jsonxform",
        "tabs",
        "appMenu",
        "quickActions",
        "queryAll",
        "commerce",
        "wave",
        "iot",
        "analytics",
        "search",
        "identity",
        "composite",
        "parameterizedSearch",
        "fingerprint",
        "theme",
        "nouns",
        "domino",
        "event",
        "serviceTemplates",
        "recent",
        "connect",
        "licensing",
        "limits",
        "process",
        "async-queries",
        "query",
        "match",
        "emailConnect",
        "compactLayouts",
        "knowledgeManagement",
        "sobjects",
        "actions",
        "support",
        "jobs",
    ]
    return sf_json({n: f"{base}/{n}" for n in names})


@router.get(V + "/limits")
def limits(request: Request) -> Response:
    org = org_of(request)
    cfg = org.config
    usage = org.store.usage()
    data_mb = org.store.count_live_records() * cfg.record_storage_kb // 1024
    with org.store.lock:
        row = org.store.conn.execute(
            "SELECT COALESCE(SUM(json_extract(data, '$.ContentSize')), 0) FROM records "
            "WHERE object='ContentVersion' AND is_deleted=0"
        ).fetchone()
    file_mb = int(row[0]) // (1024 * 1024)

    def pair(maximum: int, used: int) -> dict[str, int]:
        return {"Max": maximum, "Remaining": max(maximum - used, 0)}

    return sf_json(
        {
            "DailyApiRequests": pair(cfg.api_daily_limit, usage.get("api", 0)),
            "DailyBulkApiBatches": pair(cfg.bulk_daily_batches, usage.get("bulk_batches", 0)),
            "DailyBulkV2QueryJobs": pair(10_000, 0),
            "DailyBulkV2QueryFileStorageMB": pair(1_048_576, 0),
            "DataStorageMB": pair(cfg.data_storage_mb, data_mb),
            "FileStorageMB": pair(cfg.file_storage_mb, file_mb),
            "DailyAsyncApexExecutions": pair(250_000, 0),
            "SingleEmail": pair(5_000, 0),
        }
    )


def object_or_404(org: Org, name: str) -> ObjectDef:
    objdef = org.schema.get(name)
    if objdef is None:
        raise not_found()
    return objdef


@router.get(V + "/sobjects")
def describe_global(request: Request) -> Response:
    return sf_json(global_describe(org_of(request), version_of(request)))


@router.get(V + "/sobjects/{obj}")
def sobject_info(obj: str, request: Request) -> Response:
    org = org_of(request)
    objdef = object_or_404(org, obj)
    return sf_json({"objectDescribe": object_summary(objdef, version_of(request)), "recentItems": []})


@router.get(V + "/sobjects/{obj}/describe")
def describe_object(obj: str, request: Request) -> Response:
    org = org_of(request)
    return sf_json(object_describe(org, object_or_404(org, obj), version_of(request)))


def _errors(result: SaveResult) -> ApiError:
    status = 404 if result.errors and result.errors[0].code in ("ENTITY_IS_DELETED",) else 400
    return ApiError(status, [e.rest() for e in result.errors])


def _prepare(objdef: ObjectDef, body: bytes) -> Prepared:
    data = parse_json(body)
    if not isinstance(data, dict):
        raise ApiError.of(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of the sObject from a JSON array")
    try:
        prep = prepare_json(objdef, data)
    except ValueParseError as exc:
        raise parse_error(exc) from exc
    if prep.errors:  # unknown fields fail the whole request over REST
        raise ApiError(400, [e.rest() for e in prep.errors])
    return prep


@router.post(V + "/sobjects/{obj}")
def create(obj: str, request: Request, body: bytes = Depends(raw_body)) -> Response:
    org = org_of(request)
    objdef = object_or_404(org, obj)
    prep = _prepare(objdef, body)
    with org.store.tx():
        result = Writer(org, user_of(request), api="rest").insert(objdef, prep)
    if not result.success:
        raise _errors(result)
    return sf_json({"id": result.id, "success": True, "errors": []}, 201)


def _live_record(org: Org, objdef: ObjectDef, record_id: str) -> dict[str, Any]:
    nid = normalize_id(record_id)
    got = org.store.get_record(nid) if nid else None
    if got is None or got[0] != objdef.name:
        raise not_found()
    if got[2]:
        raise ApiError.of(404, "ENTITY_IS_DELETED", "entity is deleted", [])
    return got[1]


@router.get(V + "/sobjects/{obj}/{record_id}")
def read(obj: str, record_id: str, request: Request) -> Response:
    org = org_of(request)
    objdef = object_or_404(org, obj)
    doc = _live_record(org, objdef, record_id)
    fields = resolve_fields(objdef, request.query_params.get("fields"))
    return sf_json(render_record(objdef, doc, version_of(request), fields))


@router.patch(V + "/sobjects/{obj}/{record_id}")
def update(obj: str, record_id: str, request: Request, body: bytes = Depends(raw_body)) -> Response:
    org = org_of(request)
    objdef = object_or_404(org, obj)
    nid = normalize_id(record_id)
    if nid is None or not nid.startswith(objdef.key_prefix):
        raise ApiError.of(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {record_id}"
        )
    prep = _prepare(objdef, body)
    with org.store.tx():
        result = Writer(org, user_of(request), api="rest").update(objdef, prep, nid)
    if not result.success:
        if result.errors[0].code == "INVALID_CROSS_REFERENCE_KEY" and not result.errors[0].fields:
            raise not_found()
        raise _errors(result)
    return no_content()


@router.delete(V + "/sobjects/{obj}/{record_id}")
def delete(obj: str, record_id: str, request: Request) -> Response:
    org = org_of(request)
    objdef = object_or_404(org, obj)
    nid = normalize_id(record_id)
    if nid is None or not nid.startswith(objdef.key_prefix):
        raise not_found()
    with org.store.tx():
        result = Writer(org, user_of(request), api="rest").delete(nid, objdef=objdef)
    if not result.success:
        if result.errors[0].code == "INVALID_CROSS_REFERENCE_KEY":
            raise not_found()
        raise _errors(result)
    return no_content()


@router.get(V + "/sobjects/{obj}/{key}/{value}")
def read_by_key(obj: str, key: str, value: str, request: Request) -> Response:
    org = org_of(request)
    objdef = object_or_404(org, obj)
    blob = objdef.field(value)
    if blob is not None and blob.type == "base64":  # /sobjects/ContentVersion/{id}/VersionData
        doc = _live_record(org, objdef, key)
        return Response(base64.b64decode(doc.get(blob.name) or ""), media_type="application/octet-stream")
    ext = _ext_field(objdef, key)
    if ext.name == "Id":
        return read(obj, value, request)
    ids = org.store.find_by_key(objdef.name, ext.name, ext.key_of(value))
    if not ids:
        raise not_found()
    if len(ids) > 1:
        return _multiple(objdef, ids, version_of(request))
    return read(obj, ids[0], request)


def _ext_field(objdef: ObjectDef, key: str) -> Any:
    ext = objdef.field(key)
    if ext is None or not (ext.external_id or ext.name == "Id" or ext.id_lookup):
        raise ApiError.of(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {key}")
    if not ext.keyed and ext.name != "Id":
        raise ApiError.of(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {key}")
    return ext


def _multiple(objdef: ObjectDef, ids: list[str], version: str) -> Response:
    return sf_json([f"/services/data/v{version}/sobjects/{objdef.name}/{i}" for i in ids], 300)


@router.patch(V + "/sobjects/{obj}/{key}/{value}")
def upsert(obj: str, key: str, value: str, request: Request, body: bytes = Depends(raw_body)) -> Response:
    org = org_of(request)
    objdef = object_or_404(org, obj)
    ext = _ext_field(objdef, key)
    prep = _prepare(objdef, body)
    if prep.values.get(ext.name) is not None:
        if ext.key_of(prep.values[ext.name]) != ext.key_of(value):
            raise ApiError.of(
                400,
                "INVALID_FIELD",
                f"The value of {ext.name} in the body does not match the external id in the URL: {value}",
                [ext.name],
            )
        prep.values.pop(ext.name)
    try:
        with org.store.tx():
            result = Writer(org, user_of(request), api="rest").upsert(objdef, ext, value, prep)
    except MultipleMatches as exc:
        return _multiple(objdef, exc.ids, version_of(request))
    if not result.success:
        raise _errors(result)
    body_out: dict[str, Any] = {"id": result.id, "success": True, "errors": [], "created": bool(result.created)}
    if result.created:
        return sf_json(body_out, 201)
    status = org.config.upsert_update_status
    return no_content() if status == 204 else sf_json(body_out, status)


def save_result_json(result: SaveResult, *, upsert: bool = False) -> dict[str, Any]:
    """A SaveResult inside an sObject Collections response (errors use ``statusCode``)."""
    out: dict[str, Any] = {}
    if result.id is not None:
        out["id"] = result.id
    out["success"] = result.success
    out["errors"] = [e.collection() for e in result.errors]
    if upsert and result.success:
        out["created"] = bool(result.created)
    return out


ROLLED_BACK = SfError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)

"""sObject Collections: create / update / upsert / delete / retrieve up to 200 records per call.

Results come back in request order with ``statusCode`` errors. With ``allOrNone`` the batch
runs inside a savepoint; if any record fails everything is rolled back and the otherwise
valid records report ``ALL_OR_NONE_OPERATION_ROLLED_BACK``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from sandbox.salesforce.engine import MultipleMatches, Prepared, SaveResult, Writer, prepare_json
from sandbox.salesforce.errors import ApiError, SfError, ValueParseError, not_found
from sandbox.salesforce.http import (
    org_of,
    parse_error,
    parse_json,
    raw_body,
    render_record,
    sf_json,
    user_of,
    version_of,
)
from sandbox.salesforce.ids import normalize_id
from sandbox.salesforce.org import Org
from sandbox.salesforce.rest_api import ROLLED_BACK, save_result_json
from sandbox.salesforce.schema import ObjectDef

router = APIRouter()
C = "/services/data/{version}/composite/sobjects"


class _Rollback(Exception):
    """Raised inside the savepoint to undo an allOrNone batch."""


def _too_many(org: Org) -> ApiError:
    limit = org.config.collections_max_records
    return ApiError.of(
        400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {limit} records into this call"
    )


def _body(org: Org, body: bytes) -> tuple[list[Any], bool]:
    data = parse_json(body)
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise ApiError.of(400, "JSON_PARSER_ERROR", "Expected an object with a 'records' array")
    records = data["records"]
    if len(records) > org.config.collections_max_records:
        raise _too_many(org)
    return records, bool(data.get("allOrNone", False))


def _prepare(org: Org, raw: Any, fixed: ObjectDef | None = None) -> tuple[ObjectDef | None, Prepared]:
    """Resolve ``attributes.type`` and deserialize; problems become per-record errors."""
    prep = Prepared()
    if not isinstance(raw, dict):
        prep.errors.append(SfError("JSON_PARSER_ERROR", "Each record must be a JSON object"))
        return None, prep
    type_name = (raw.get("attributes") or {}).get("type")
    if not type_name:
        prep.errors.append(SfError("INVALID_TYPE", "Must specify a type in attributes for every record"))
        return None, prep
    objdef = org.schema.get(str(type_name))
    if objdef is None or (fixed is not None and objdef.name != fixed.name):
        prep.errors.append(SfError("INVALID_TYPE", f"sObject type '{type_name}' is not supported."))
        return None, prep
    try:
        return objdef, prepare_json(objdef, raw)
    except ValueParseError as exc:
        if org.config.collections_parse_error_fails_request:
            raise parse_error(exc) from exc
        prep.errors.append(SfError("JSON_PARSER_ERROR", exc.rest_message(), (exc.field_name,)))
        return objdef, prep


def _run(
    org: Org,
    all_or_none: bool,
    count: int,
    step: Callable[[Writer, int], SaveResult],
    *,
    user: str,
    api: str = "collections",
) -> list[SaveResult]:
    results: list[SaveResult] = []
    with org.store.tx():
        try:
            with org.store.savepoint("collections"):
                writer = Writer(org, user, api=api)
                for index in range(count):
                    results.append(step(writer, index))
                if all_or_none and not all(r.success for r in results):
                    raise _Rollback
        except _Rollback:
            results = [r if not r.success else SaveResult(None, False, [ROLLED_BACK]) for r in results]
    return results


@router.post(C)
def create(request: Request, body: bytes = Depends(raw_body)) -> Response:
    org = org_of(request)
    records, all_or_none = _body(org, body)
    prepared = [_prepare(org, r) for r in records]

    def step(writer: Writer, i: int) -> SaveResult:
        objdef, prep = prepared[i]
        if objdef is None:
            return SaveResult(None, False, prep.errors)
        return writer.insert(objdef, prep)

    results = _run(org, all_or_none, len(prepared), step, user=user_of(request))
    return sf_json([save_result_json(r) for r in results])


@router.patch(C)
def update(request: Request, body: bytes = Depends(raw_body)) -> Response:
    org = org_of(request)
    records, all_or_none = _body(org, body)
    prepared = [_prepare(org, r) for r in records]

    def step(writer: Writer, i: int) -> SaveResult:
        objdef, prep = prepared[i]
        if objdef is None:
            return SaveResult(None, False, prep.errors)
        if not prep.has_id or not prep.record_id:
            return SaveResult(None, False, [SfError("MISSING_ARGUMENT", "Id not specified in an update call", ())])
        return writer.update(objdef, prep, prep.record_id)

    results = _run(org, all_or_none, len(prepared), step, user=user_of(request))
    return sf_json([save_result_json(r) for r in results])


@router.patch(C + "/{obj}/{key}")
def upsert(obj: str, key: str, request: Request, body: bytes = Depends(raw_body)) -> Response:
    org = org_of(request)
    objdef = org.schema.get(obj)
    if objdef is None:
        raise not_found()
    ext = objdef.field(key)
    if ext is None or not (ext.external_id or ext.name == "Id"):
        raise ApiError.of(400, "INVALID_FIELD", f"Field {key} is not an external id field of {objdef.name}", [key])
    records, all_or_none = _body(org, body)
    prepared = [_prepare(org, r, objdef) for r in records]
    keys = [p.values.get(ext.name) if ext.name != "Id" else p.record_id for _, p in prepared]
    seen = Counter(ext.key_of(k) for k in keys if k not in (None, ""))

    def step(writer: Writer, i: int) -> SaveResult:
        target, prep = prepared[i]
        if target is None:
            return SaveResult(None, False, prep.errors)
        value = keys[i]
        if value not in (None, "") and seen[ext.key_of(value)] > 1:
            return SaveResult(
                None,
                False,
                [SfError("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", (ext.name,))],
            )
        if ext.name != "Id":
            prep.values.pop(ext.name, None)
        try:
            return writer.upsert(target, ext, value, prep)
        except MultipleMatches as exc:
            return SaveResult(None, False, [exc.error()])

    results = _run(org, all_or_none, len(prepared), step, user=user_of(request))
    return sf_json([save_result_json(r, upsert=True) for r in results])


@router.delete(C)
def delete(request: Request) -> Response:
    org = org_of(request)
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids:
        raise ApiError.of(400, "MISSING_ARGUMENT", "ids parameter is required")
    if len(ids) > org.config.collections_max_records:
        raise _too_many(org)
    all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
    results = _run(org, all_or_none, len(ids), lambda w, i: w.delete(ids[i]), user=user_of(request))
    return sf_json([save_result_json(r) for r in results])


@router.get(C + "/{obj}")
def retrieve(obj: str, request: Request) -> Response:
    org = org_of(request)
    objdef = org.schema.get(obj)
    if objdef is None:
        raise not_found()
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    field_spec = request.query_params.get("fields", "")
    if not ids or not field_spec:
        raise ApiError.of(400, "MISSING_ARGUMENT", "ids and fields parameters are required")
    if len(ids) > 2000:
        raise _too_many(org)
    fields = []
    for name in field_spec.split(","):
        fdef = objdef.field(name.strip())
        if fdef is None:
            raise ApiError.of(400, "INVALID_FIELD", f"No such column '{name.strip()}' on entity '{objdef.name}'")
        fields.append(fdef.name)
    normalized = [normalize_id(i) for i in ids]
    found = org.store.get_records([n for n in normalized if n])
    out: list[Any] = []
    for nid in normalized:
        got = found.get(nid) if nid else None
        if got is None or got[0] != objdef.name or got[2]:
            out.append(None)
        else:
            out.append(render_record(objdef, got[1], version_of(request), fields))
    return sf_json(out)

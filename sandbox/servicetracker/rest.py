"""REST resources of the ServiceTracker API v2: records with page/offset paging, schema, files, mobile sync.

Paging is page-number based (``page``, ``page_size``; ``meta.total_count``; RFC 8288 ``Link``
headers with ``next``/``prev``/``first``/``last``) and ordered by id, as many FSM SaaS APIs
page. Its known weakness is kept on purpose: a record deleted during a read shifts later
records one place forward, and deep pages are refused past ``max_offset`` - volume belongs
to the export API. Every query parameter a route does not implement is refused (400), so a
misspelt filter can never turn into a silent full read.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from sandbox.servicetracker.config import API_PREFIX, StandinConfig
from sandbox.servicetracker.errors import ApiError, invalid, not_found
from sandbox.servicetracker.files import content_chunks
from sandbox.servicetracker.model import CUSTOM_PREFIX, OBJECTS, PATHS, CustomFieldDef, parse_timestamp, sort_key
from sandbox.servicetracker.runtime import Runtime

LIST_PARAMS = {"page", "page_size", "modified_since"}


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status_code=status, media_type="application/json",
                    headers=headers)


def check_params(request: Request, allowed: set[str]) -> dict[str, str]:
    """The query parameters, refusing unknown and repeated ones (400 naming the parameter)."""
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            hint = f"; allowed: {', '.join(sorted(allowed))}" if allowed else "; this resource takes no parameters"
            raise invalid(name, f"unsupported query parameter {name!r}{hint}")
        if name in params:
            raise invalid(name, f"parameter {name!r} given more than once")
        params[name] = value
    return params


def timestamp_key(params: dict[str, str], name: str) -> str:
    raw = params.get(name)
    if raw is None:
        return ""
    try:
        return sort_key(parse_timestamp(raw.replace(" ", "+")))  # an unencoded '+' arrives as a space
    except ValueError as exc:
        raise invalid(name, f"{name} must be an ISO-8601 timestamp with a timezone, e.g. 2026-01-31T00:00:00Z") from exc


def _positive(params: dict[str, str], name: str, default: int, maximum: int | None = None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        bound = f" from 1 to {maximum}" if maximum is not None else " of at least 1"
        raise invalid(name, f"{name} must be an integer{bound}")
    return int(raw)


def hidden_custom_fields(defs: list[CustomFieldDef], share: float) -> set[tuple[str, str]]:
    """The custom fields the schema endpoint leaves out: a stable share of them (at least one when > 0)."""
    if share <= 0 or not defs:
        return set()
    ranked = sorted(defs, key=lambda d: hashlib.sha256(f"{d.object}.{d.key}".encode()).hexdigest())
    k = min(len(ranked), max(1, round(share * len(ranked))))
    return {(d.object, d.key) for d in ranked[:k]}


def listed_custom_fields(rt: Runtime, obj: str | None = None) -> list[dict[str, Any]]:
    defs = rt.store.custom_fields()
    hidden = hidden_custom_fields(defs, rt.config.schema_hidden_custom_field_share)
    return [d.model_dump() for d in defs if (d.object, d.key) not in hidden and obj in (None, d.object)]


def _page(rt: Runtime, obj: str, request: Request) -> Response:
    """One page of ``obj`` as ``{"data", "meta"}`` with ``Link`` headers."""
    cfg: StandinConfig = rt.config
    params = check_params(request, LIST_PARAMS)
    page = _positive(params, "page", 1)
    size = _positive(params, "page_size", cfg.default_page_size, cfg.max_page_size)
    offset = (page - 1) * size
    if offset + size > cfg.max_offset:
        raise ApiError(400, "PAGE_LIMIT_EXCEEDED",
                       f"page {page} x page_size {size} reaches past record {cfg.max_offset}, the deepest this API "
                       f"pages; use POST {API_PREFIX}/exports for volume, or narrow with modified_since",
                       fields=["page"])
    rows, total = rt.store.page(obj, offset=offset, limit=size, since_key=timestamp_key(params, "modified_since"))
    pages = max(1, math.ceil(total / size))
    links = []
    base = str(request.url).split("?", 1)[0]
    for rel, number in (("first", 1), ("prev", page - 1), ("next", page + 1), ("last", pages)):
        if 1 <= number <= pages:
            links.append(f'<{base}?{urlencode({**params, "page": number, "page_size": size})}>; rel="{rel}"')
    meta = {"page": page, "page_size": size, "total_count": total, "total_pages": pages}
    body = '{"data":[' + ",".join(rows) + '],"meta":' + json.dumps(meta) + "}"
    return Response(body, media_type="application/json", headers={"Link": ", ".join(links)} if links else None)


def _by_id(rt: Runtime, obj: str, record_id: str, request: Request) -> Response:
    check_params(request, set())
    if not record_id.isdigit():
        raise not_found(f"{obj} has no record {record_id!r} (ids are integers)")
    body = rt.store.get(obj, int(record_id))
    if body is None:
        raise not_found(f"{obj} has no record {record_id}")
    return Response(body, media_type="application/json")


def _deleted(rt: Runtime, obj: str, request: Request) -> Response:
    params = check_params(request, {"since"})
    return json_response({"object": obj, "data": rt.store.deletions(obj, timestamp_key(params, "since"))})


def rest_router(rt: Runtime) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    def resource(path: str) -> str:
        obj = PATHS.get(path)
        if obj is None:
            raise not_found(f"unknown resource {path!r}; resources: {', '.join(PATHS)}, custom-tables, exports, "
                            "mobile/sync-status, schema, custom-fields, limits")
        return obj

    def table(key: str) -> str:
        obj = CUSTOM_PREFIX + key
        if obj not in rt.store.tables:
            raise not_found(f"no custom table {key!r}; tables: {', '.join(t.key for t in rt.store.tables.values())}")
        return obj

    @router.get("/schema")
    def schema(request: Request) -> Response:
        """Objects and fields, the custom fields the schema lists (not all of them), custom tables, counts."""
        check_params(request, set())
        counts = rt.store.counts()
        objects = [{"name": s.name, "path": f"{API_PREFIX}/{s.path}", "label": s.label,
                    "fields": [f.describe() for f in s.fields],
                    "custom_fields": listed_custom_fields(rt, s.name) if s.has_custom_fields else [],
                    "count": counts[s.name]} for s in OBJECTS.values()]
        tables = [{**t.model_dump(), "object": name, "path": f"{API_PREFIX}/custom-tables/{t.key}/records",
                   "count": counts[name]} for name, t in rt.store.tables.items()]
        return json_response({"tenant": rt.store.meta().get("tenant"), "api_version": "v2", "objects": objects,
                              "custom_tables": tables})

    @router.get("/custom-fields")
    def custom_fields(request: Request) -> Response:
        params = check_params(request, {"object"})
        obj = params.get("object")
        if obj is not None and obj not in OBJECTS:
            raise invalid("object", f"unknown object {obj!r}")
        return json_response({"data": listed_custom_fields(rt, obj)})

    @router.get("/limits")
    def limits(request: Request) -> Response:
        check_params(request, set())
        cfg = rt.config
        running = sum(j["state"] == "in_progress" for j in rt.exports.jobs())
        return json_response({
            "DailyApiRequests": {"Max": cfg.daily_request_limit,
                                 "Remaining": max(0, cfg.daily_request_limit - rt.daily.used())},
            "ConcurrentExportJobs": {"Max": cfg.max_concurrent_exports,
                                     "Remaining": max(0, cfg.max_concurrent_exports - running)},
            "RequestsPerSecond": {"Max": cfg.rate_limit_per_s},
            "PagingMaxOffset": {"Max": cfg.max_offset},
        })

    @router.get("/mobile/sync-status")
    def sync_status(request: Request) -> Response:
        """Devices holding offline changes the server has not received, per device and per technician."""
        params = check_params(request, {"technician_id"})
        tech = _positive(params, "technician_id", 0) if "technician_id" in params else None
        devices = rt.store.devices(tech)
        per: dict[int, dict[str, Any]] = {}
        for d in devices:
            row = per.setdefault(d["technician_id"], {"technician_id": d["technician_id"], "devices": 0,
                                                       "unsynced_devices": 0, "unsynced_changes": 0,
                                                       "oldest_unsynced_change_at": None})
            row["devices"] += 1
            if d["unsynced_changes"]:
                row["unsynced_devices"] += 1
                row["unsynced_changes"] += d["unsynced_changes"]
                oldest = row["oldest_unsynced_change_at"]
                row["oldest_unsynced_change_at"] = min(filter(None, (oldest, d["oldest_unsynced_change_at"])))
        unsynced = [d for d in devices if d["unsynced_changes"]]
        return json_response({
            "summary": {"devices": len(devices), "unsynced_devices": len(unsynced),
                        "unsynced_changes": sum(d["unsynced_changes"] for d in unsynced),
                        "oldest_unsynced_change_at": min((d["oldest_unsynced_change_at"] for d in unsynced),
                                                         default=None)},
            "by_technician": list(per.values()), "devices": devices})

    @router.get("/attachments/{record_id}/content")
    def content(record_id: str, request: Request) -> Response:
        """The file's bytes, streamed (declared sizes may be far above 25 MB)."""
        check_params(request, set())
        stored = rt.store.file(int(record_id)) if record_id.isdigit() else None
        if stored is None:
            raise not_found(f"attachment {record_id!r} has no content")
        chunks = (content_chunks(stored.content_seed, stored.size, stored.content_type)
                  if stored.content_seed is not None else rt.store.blob_chunks(stored.id))
        return StreamingResponse(chunks, media_type=stored.content_type, headers={
            "Content-Length": str(stored.size),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.file_name)}"})

    @router.get("/custom-tables")
    def custom_tables(request: Request) -> Response:
        check_params(request, set())
        return json_response({"data": [t.model_dump() for t in rt.store.tables.values()]})

    @router.get("/custom-tables/{key}/records")
    def table_rows(key: str, request: Request) -> Response:
        return _page(rt, table(key), request)

    @router.get("/custom-tables/{key}/records/deleted")
    def table_deleted(key: str, request: Request) -> Response:
        return _deleted(rt, table(key), request)

    @router.get("/custom-tables/{key}/records/{record_id}")
    def table_row(key: str, record_id: str, request: Request) -> Response:
        return _by_id(rt, table(key), record_id, request)

    @router.get("/{path}")
    def list_records(path: str, request: Request) -> Response:
        return _page(rt, resource(path), request)

    @router.get("/{path}/deleted")
    def deleted(path: str, request: Request) -> Response:
        return _deleted(rt, resource(path), request)

    @router.get("/{path}/{record_id}")
    def get_record(path: str, record_id: str, request: Request) -> Response:
        return _by_id(rt, resource(path), record_id, request)

    return router

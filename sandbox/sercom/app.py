"""The Sercom REST API (v1) as served by the stand-in - see ``docs/sercom-api.md``.

The engine's Sercom connector is written against this app, so it behaves like a hosted
SaaS API rather than a convenience fake: API-key auth on every call, keyset paging with
opaque cursors, strict parameter validation with a stable error envelope, per-key rate
limiting with ``Retry-After``, and optional latency and injected 5xx faults so retry and
back-off code paths get exercised. Test-only admin routes under ``/__standin/`` change
the knobs and mutate records for delta-pickup tests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.sercom.model import OBJECT_ORDER, OBJECTS, parse_timestamp, resolve_object, sort_key
from sandbox.sercom.store import KEY_MAX, RecordNotFound, Store

API_PREFIX = "/api/v1"
ADMIN_PREFIX = "/__standin"
API_KEY_HEADER = "X-Api-Key"


class StandinConfig(BaseModel):
    """Behaviour knobs of a running stand-in (changeable at runtime via ``POST /__standin/config``)."""

    model_config = ConfigDict(extra="forbid")

    rate_limit_per_s: int = Field(default=25, ge=0, description="max API calls per key per rolling second; 0 = off")
    latency_ms: int = Field(default=0, ge=0, le=60_000, description="added to every /api/v1 call")
    fault_5xx_rate: float = Field(default=0.0, ge=0, le=1, description="share of /api/v1 calls answered 500/502/503")
    default_page_size: int = Field(default=200, ge=1, le=1000)
    max_page_size: int = Field(default=1000, ge=1, le=10_000)
    fault_seed: int | None = Field(default=None, description="seed for the fault injector (reproducible faults)")


class ApiError(Exception):
    """An error answered with the API's envelope ``{"error": {"code", "message", "field"?}}``."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return JSONResponse({"error": error}, status_code=self.status, headers=self.headers)


class RateLimiter:
    """Sliding one-second window per API key. Only accepted calls count towards the limit."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}

    def check(self, key: str, limit: int) -> float | None:
        """Record a call; return ``None`` if allowed, else the seconds until a slot frees up."""
        if limit <= 0:
            return None
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - 1.0:
            hits.popleft()
        if len(hits) >= limit:
            return hits[0] + 1.0 - now
        hits.append(now)
        return None


class Stats:
    """Request counters for tests (``GET /__standin/stats``): did the client batch, back off, retry?"""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = time.time()
        self.by_status: Counter[str] = Counter()
        self.by_route: Counter[str] = Counter()
        self.by_object: Counter[str] = Counter()
        self.total = 0
        self.rate_limited = 0
        self.faults_injected = 0
        self.unauthorized = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests_total": self.total,
            "rate_limited": self.rate_limited,
            "faults_injected": self.faults_injected,
            "unauthorized": self.unauthorized,
            "by_status": dict(self.by_status),
            "by_route": dict(self.by_route),
            "by_object": dict(self.by_object),
            "since": self.started,
        }


class _Runtime:
    """Mutable per-app state shared by the middleware and the routes."""

    def __init__(self, store: Store, config: StandinConfig) -> None:
        self.store = store
        self.config = config
        self.limiter = RateLimiter()
        self.stats = Stats()
        self.faults = random.Random(config.fault_seed)


# --------------------------------------------------------------------------- parameter parsing


def _object(name: str, custom: Iterable[str] = ()) -> str:
    """An object path segment -> the object (standard, alias, or one of the tenant's ``custom`` objects)."""
    resolved = resolve_object(name)
    if resolved is not None:
        return resolved
    names = list(custom)
    if name in names:
        return name
    known = ", ".join([*OBJECT_ORDER, "jobs", *names])
    raise ApiError(404, "unknown_object", f"unknown object {name!r}; objects: {known}")


def _check_params(request: Request, allowed: set[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            hint = f"; allowed: {', '.join(sorted(allowed))}" if allowed else ""
            raise ApiError(400, "invalid_parameter", f"unknown query parameter {name!r}{hint}", field=name)
        if name in params:
            raise ApiError(400, "invalid_parameter", f"parameter {name!r} given more than once", field=name)
        params[name] = value
    return params


def _timestamp_key(params: dict[str, str], name: str, default: str) -> str:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        # A literal '+' in an unencoded query string arrives as a space.
        return sort_key(parse_timestamp(raw.replace(" ", "+")))
    except ValueError as exc:
        raise ApiError(400, "invalid_parameter",
                       f"{name} must be an ISO-8601 timestamp with timezone, e.g. 2024-01-31T00:00:00Z ({exc})",
                       field=name) from exc


def _limit(params: dict[str, str], config: StandinConfig) -> int:
    raw = params.get("limit")
    if raw is None:
        return config.default_page_size
    if not raw.isdigit() or not 1 <= int(raw) <= config.max_page_size:
        raise ApiError(400, "invalid_parameter", f"limit must be an integer from 1 to {config.max_page_size}",
                       field="limit")
    return int(raw)


def encode_cursor(obj: str, last: tuple[str, str]) -> str:
    """Opaque cursor: base64url of the (updated_at key, id) of the last record served."""
    raw = json.dumps({"o": obj, "k": last[0], "i": last[1]}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(obj: str, cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("o", "k", "i")):
            raise ValueError("malformed")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_parameter", "cursor is not a cursor this API issued", field="cursor") from exc
    if data["o"] != obj:
        raise ApiError(400, "invalid_parameter", f"cursor belongs to {data['o']!r}, not {obj!r}", field="cursor")
    return data["k"], data["i"]


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status_code=status, media_type="application/json")


# --------------------------------------------------------------------------- app


def build_app(state_path: Path, config: StandinConfig | None = None) -> FastAPI:
    """The FastAPI app serving the tenant in ``state_path`` with behaviour ``config``."""
    rt = _Runtime(Store(Path(state_path)), config or StandinConfig())
    app = FastAPI(title="Sercom API (stand-in)", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runtime = rt

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first["loc"] if p not in ("query", "path", "body")]
        return ApiError(400, "invalid_parameter", str(first["msg"]), field=".".join(loc) or None).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ApiError(exc.status_code, code, str(exc.detail)).response()

    @app.middleware("http")
    async def _gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        is_api = path == API_PREFIX or path.startswith(API_PREFIX + "/")
        is_admin = path.startswith(ADMIN_PREFIX + "/")
        if not (is_api or is_admin):
            return await call_next(request)
        if is_api:
            rt.stats.total += 1
        key = request.headers.get(API_KEY_HEADER)
        if not key or not rt.store.is_api_key(key):
            rt.stats.unauthorized += is_api
            rt.stats.by_status["401"] += is_api
            what = "missing" if not key else "not valid for this tenant"
            return ApiError(401, "unauthorized", f"{API_KEY_HEADER} header {what}").response()
        if is_admin:
            return await call_next(request)
        wait = rt.limiter.check(key, rt.config.rate_limit_per_s)
        if wait is not None:
            rt.stats.rate_limited += 1
            rt.stats.by_status["429"] += 1
            retry = max(1, math.ceil(wait))
            return ApiError(
                429, "rate_limited",
                f"more than {rt.config.rate_limit_per_s} requests per second for this API key; retry later",
                headers={"Retry-After": str(retry), "X-RateLimit-Limit": str(rt.config.rate_limit_per_s)},
            ).response()
        if rt.config.latency_ms:
            await asyncio.sleep(rt.config.latency_ms / 1000)
        if rt.config.fault_5xx_rate and rt.faults.random() < rt.config.fault_5xx_rate:
            rt.stats.faults_injected += 1
            status, code = rt.faults.choice(((500, "internal_error"), (502, "bad_gateway"),
                                             (503, "service_unavailable")))
            rt.stats.by_status[str(status)] += 1
            return ApiError(status, code, "injected fault (stand-in fault_5xx_rate); safe to retry").response()
        response = await call_next(request)
        rt.stats.by_status[str(response.status_code)] += 1
        route = request.scope.get("route")
        rt.stats.by_route[f"{request.method} {getattr(route, 'path', path)}"] += 1
        obj = resolve_object(request.scope.get("path_params", {}).get("object") or "")
        if obj:
            rt.stats.by_object[obj] += 1
        return response

    app.include_router(_api_router(rt))
    app.include_router(_admin_router(rt))
    return app


def _api_router(rt: _Runtime) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    def obj_of(name: str) -> str:
        return _object(name, (c["name"] for c in rt.store.custom_objects()))

    @router.get("/schema")
    def schema(request: Request) -> Response:
        """Objects with standard fields, tenant custom fields and counts; plus automation rules."""
        _check_params(request, set())
        counts = rt.store.counts()
        defs = rt.store.custom_fields()
        objects = []
        for spec in OBJECTS.values():
            objects.append({
                "name": spec.name,
                "label": spec.label,
                "id_prefix": spec.prefix,
                "aliases": list(spec.aliases),
                "fields": [f.describe() for f in spec.fields],
                "custom_fields": [d for d in defs if d["object"] == spec.name],
                "count": counts[spec.name],
            })
        custom_objects = [{**c, "count": counts.get(c["name"], 0)} for c in rt.store.custom_objects()]
        return _json({"tenant": rt.store.meta().get("tenant"), "api_version": "v1", "objects": objects,
                      "custom_objects": custom_objects, "automation_rules": rt.store.automation_rules()})

    @router.get("/custom_fields")
    def custom_fields(request: Request) -> Response:
        params = _check_params(request, {"object"})
        obj = _object(params["object"]) if "object" in params else None
        return _json({"data": rt.store.custom_fields(obj)})

    @router.get("/automation_rules")
    def automation_rules(request: Request) -> Response:
        _check_params(request, set())
        return _json({"data": rt.store.automation_rules()})

    @router.get("/deleted/{object}")
    def deleted(object: str, request: Request) -> Response:
        obj = obj_of(object)
        params = _check_params(request, {"since"})
        return _json({"object": obj, "data": rt.store.deletions(obj, _timestamp_key(params, "since", ""))})

    @router.get("/attachments/{record_id}/content")
    def attachment_content(record_id: str, request: Request) -> Response:
        _check_params(request, set())
        att = rt.store.attachment(record_id)
        if att is None:
            raise ApiError(404, "not_found", f"attachment {record_id!r} has no content")
        disposition = f"attachment; filename*=UTF-8''{quote(att.file_name)}"
        return StreamingResponse(rt.store.read(att), media_type=att.content_type,
                                 headers={"Content-Disposition": disposition, "Content-Length": str(att.size)})

    @router.get("/{object}/count")
    def count(object: str, request: Request) -> Response:
        obj = obj_of(object)
        params = _check_params(request, {"updated_since", "updated_before"})
        since = _timestamp_key(params, "updated_since", "")
        before = _timestamp_key(params, "updated_before", KEY_MAX)
        return _json({"object": obj, "count": rt.store.count(obj, since, before)})

    @router.get("/{object}/{record_id}")
    def get_record(object: str, record_id: str, request: Request) -> Response:
        obj = obj_of(object)
        _check_params(request, set())
        body = rt.store.get(obj, record_id)
        if body is None:
            raise ApiError(404, "not_found", f"{obj} has no record {record_id!r}")
        return Response(body, media_type="application/json")

    @router.get("/{object}")
    def list_records(object: str, request: Request) -> Response:
        """One page, ordered by (updated_at, id); the JSON is assembled from stored text."""
        obj = obj_of(object)
        params = _check_params(request, {"limit", "cursor", "updated_since", "updated_before"})
        limit = _limit(params, rt.config)
        after = decode_cursor(obj, params["cursor"]) if "cursor" in params else None
        page = rt.store.page(
            obj,
            limit=limit,
            after=after,
            since_key=_timestamp_key(params, "updated_since", ""),
            before_key=_timestamp_key(params, "updated_before", KEY_MAX),
        )
        cursor = encode_cursor(obj, page.last) if page.has_more and page.last else None
        body = (
            '{"data":[' + ",".join(page.rows) + '],"next_cursor":' + json.dumps(cursor)
            + ',"has_more":' + ("true" if page.has_more else "false") + "}"
        )
        return Response(body, media_type="application/json")

    return router


def _admin_router(rt: _Runtime) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX)

    @router.get("/config")
    def get_config() -> Response:
        return _json(rt.config.model_dump())

    @router.post("/config")
    async def set_config(request: Request) -> Response:
        """Change knobs; fields not given keep their value."""
        body = await _json_body(request)
        try:
            new = StandinConfig.model_validate({**rt.config.model_dump(), **body})
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ApiError(400, "invalid_parameter", str(err["msg"]),
                           field=".".join(str(p) for p in err["loc"])) from exc
        if new.fault_seed != rt.config.fault_seed:
            rt.faults = random.Random(new.fault_seed)
        rt.config = new
        return _json(new.model_dump())

    @router.get("/stats")
    def stats() -> Response:
        return _json(rt.stats.snapshot())

    @router.post("/stats/reset")
    def reset_stats() -> Response:
        rt.stats.reset()
        return _json(rt.stats.snapshot())

    @router.post("/records/{object}")
    async def upsert(object: str, request: Request) -> Response:
        obj = _object(object)
        body = await _json_body(request)
        existed = isinstance(body.get("id"), str) and rt.store.get(obj, body["id"]) is not None
        try:
            record = await asyncio.to_thread(rt.store.upsert_record, obj, body)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ApiError(400, "invalid_record", str(err["msg"]),
                           field=".".join(str(p) for p in err["loc"])) from exc
        except (binascii.Error, ValueError) as exc:
            raise ApiError(400, "invalid_record", str(exc)) from exc
        return _json(record, 200 if existed else 201)

    @router.delete("/records/{object}/{record_id}")
    async def delete(object: str, record_id: str) -> Response:
        obj = _object(object)
        try:
            deleted_at = await asyncio.to_thread(rt.store.delete_record, obj, record_id)
        except RecordNotFound as exc:
            raise ApiError(404, "not_found", f"{obj} has no record {record_id!r}") from exc
        return _json({"object": obj, "id": record_id, "deleted_at": deleted_at})

    return router


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_body", f"request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "request body must be a JSON object")
    return body

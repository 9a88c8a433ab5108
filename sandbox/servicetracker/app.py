"""The ServiceTracker API v2 as served by the stand-in - see ``docs/servicetracker-api.md``.

The front door (:func:`_gate`) does what the hosted platform does before a handler runs:
bearer-token check, per-second throttling (429), the rolling daily allocation (403
``REQUEST_LIMIT_EXCEEDED``), injected latency and faults (5xx, 429, stalls that end in a
504), the ``Sforce-Limit-Info`` usage header and request statistics. The routes live in
:mod:`.rest` (records, schema, files, mobile sync), :mod:`.export_routes` and :mod:`.admin`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.servicetracker.admin import admin_router
from sandbox.servicetracker.config import ADMIN_PREFIX, API_PREFIX, StandinConfig
from sandbox.servicetracker.errors import ApiError
from sandbox.servicetracker.export_routes import export_router
from sandbox.servicetracker.limits import retry_after
from sandbox.servicetracker.rest import rest_router
from sandbox.servicetracker.runtime import Runtime
from sandbox.servicetracker.store import Store


def _token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def build_app(state_path: Path, config: StandinConfig | None = None) -> FastAPI:
    """The FastAPI app serving the tenant in ``state_path`` with behaviour ``config``."""
    rt = Runtime(Store(Path(state_path)), config or StandinConfig())
    app = FastAPI(title="ServiceTracker API (stand-in)", version="2", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.runtime = rt

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first["loc"] if p not in ("query", "path", "body")]
        return ApiError(400, "INVALID_PARAMETER", str(first["msg"]), fields=loc).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return ApiError(exc.status_code, code, str(exc.detail)).response()

    @app.middleware("http")
    async def _gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        is_api = path == API_PREFIX or path.startswith(API_PREFIX + "/")
        if not (is_api or path.startswith(ADMIN_PREFIX + "/")):
            return await call_next(request)
        token = _token(request)
        if token is None or not rt.store.is_api_token(token):
            rt.stats.bump("unauthorized")
            return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid",
                            headers={"WWW-Authenticate": 'Bearer realm="servicetracker"'}).response()
        if not is_api:
            return await call_next(request)
        return await _api_call(rt, token, request, call_next)

    app.include_router(export_router(rt))  # before the catch-all /v2/{path} routes
    app.include_router(rest_router(rt))
    app.include_router(admin_router(rt))
    return app


async def _api_call(rt: Runtime, token: str, request: Request,
                    call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Limits, faults and accounting of one authenticated ``/v2`` call."""
    cfg = rt.config
    rt.stats.bump("requests_total")
    wait = rt.per_second.check(token, cfg.rate_limit_per_s)
    if wait is None and rt.roll(cfg.fault_429_rate):
        wait = float(cfg.fault_retry_after_s)
        rt.stats.bump("fault:429")
    if wait is not None:
        rt.stats.bump("rate_limited", "status:429")
        return ApiError(429, "RATE_LIMITED", f"more than {cfg.rate_limit_per_s} requests per second for this token",
                        headers={"Retry-After": retry_after(wait)}).response()
    over = rt.daily.take(cfg.daily_request_limit)
    if over is not None:
        rt.stats.bump("daily_limit_refused", "status:403")
        return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.",
                        headers={"Retry-After": retry_after(over), "Sforce-Limit-Info": rt.usage_header()}).response()
    if cfg.latency_ms:
        await asyncio.sleep(cfg.latency_ms / 1000)
    if rt.roll(cfg.fault_timeout_rate):
        rt.stats.bump("fault:timeout", "status:504")
        await asyncio.sleep(cfg.fault_timeout_s)
        return ApiError(504, "GATEWAY_TIMEOUT", "the request took too long and was abandoned; safe to retry").response()
    if rt.roll(cfg.fault_5xx_rate):
        status, code = rt.faults.choice(((500, "UNKNOWN_EXCEPTION"), (502, "BAD_GATEWAY"),
                                         (503, "SERVER_UNAVAILABLE")))
        rt.stats.bump("fault:5xx", f"status:{status}")
        return ApiError(status, code, "injected fault (stand-in fault_5xx_rate); safe to retry").response()
    response = await call_next(request)
    response.headers["Sforce-Limit-Info"] = rt.usage_header()
    route = request.scope.get("route")
    rt.stats.bump(f"status:{response.status_code}", f"route:{request.method} {getattr(route, 'path', '?')}")
    return response

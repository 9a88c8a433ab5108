"""The FastAPI application: routers, the API gateway middleware and the ``/__standin`` admin API.

The gateway does what Salesforce's edge does before any handler runs: version check,
bearer-token check (401 ``INVALID_SESSION_ID``), daily API limit (403
``REQUEST_LIMIT_EXCEEDED``), injected faults and latency, usage counting by category, and the
``Sforce-Limit-Info`` header on every ``/services/data`` response.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.salesforce import auth, bulk, collections_api, query_api, rest_api, tooling_api
from sandbox.salesforce.auth import check_token
from sandbox.salesforce.config import SUPPORTED_VERSIONS, SalesforceStandinConfig
from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.org import Org, create_org

CATEGORIES = ("rest", "collections", "bulk_job_calls", "query", "tooling", "describe", "limits", "token")
_HEADS = {
    "composite": "collections",
    "jobs": "bulk_job_calls",
    "query": "query",
    "queryAll": "query",
    "tooling": "tooling",
    "limits": "limits",
}
INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
LIMIT_EXCEEDED = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
UNKNOWN_EXCEPTION = [
    {
        "errorCode": "UNKNOWN_EXCEPTION",
        "message": "An unexpected error occurred. Please include this ErrorId if you contact support: "
        "1234567890-12345 (-1234567890)",
    }
]


def category(sub: str) -> str:
    """API usage category of a path below ``/services/data/vXX.X/``."""
    head, _, rest = sub.partition("/")
    if head == "sobjects":
        return (
            "describe"
            if not rest or ("/" not in rest and rest)
            else "describe"
            if rest.endswith("/describe")
            else "rest"
        )
    return _HEADS.get(head, "rest")


class StripTrailingSlash:
    """``/limits/`` and ``/limits`` are the same resource (simple-salesforce uses both); no redirects."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope)
                scope["path"] = path.rstrip("/") or "/"
                scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


async def gateway(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    org: Org = request.app.state.org
    path = request.url.path
    if path.startswith("/services/oauth2/"):
        await run_in_threadpool(org.store.bump_usage, "cat:token")
        return await call_next(request)
    if path.startswith("/__standin"):
        user = await run_in_threadpool(check_token, org, request.headers.get("authorization"))
        if user is None:
            return _json(INVALID_SESSION, 401)
        request.state.user_id = user
        return await call_next(request)
    if not path.startswith("/services/data/"):
        return await call_next(request)
    sub = path[len("/services/data/") :]
    version, _, rest = sub.partition("/")
    if not version.startswith("v") or version[1:] not in SUPPORTED_VERSIONS:
        return _json([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], 404)
    cfg = org.config
    user = await run_in_threadpool(check_token, org, request.headers.get("authorization"))
    if user is None:
        return _json(INVALID_SESSION, 401)
    request.state.user_id = user
    usage = await run_in_threadpool(org.store.usage)
    limit_info = {"Sforce-Limit-Info": f"api-usage={usage.get('api', 0)}/{cfg.api_daily_limit}"}
    if usage.get("api", 0) >= cfg.api_daily_limit:
        return _json(LIMIT_EXCEEDED, 403, limit_info)
    if cfg.latency_ms:
        await asyncio.sleep(cfg.latency_ms / 1000)
    if org.roll(cfg.fault_limit_rate):
        return _json(LIMIT_EXCEEDED, 403, {**limit_info, "Retry-After": str(cfg.fault_retry_after_s)})
    usage = await run_in_threadpool(org.store.bump_usage, "api", f"cat:{category(rest)}")
    limit_info = {"Sforce-Limit-Info": f"api-usage={usage['api']}/{cfg.api_daily_limit}"}
    if org.roll(cfg.fault_5xx_rate):
        return _json(UNKNOWN_EXCEPTION, 500, limit_info)
    if org.roll(cfg.fault_timeout_rate):  # the request hangs, then the gateway gives up (nothing written)
        await asyncio.sleep(cfg.fault_timeout_s)
        return _json(UNKNOWN_EXCEPTION, 504, limit_info)
    response = await call_next(request)
    response.headers.update(limit_info)
    return response


def _register_admin(app: FastAPI) -> None:
    @app.get("/__standin/config")
    def get_config(request: Request) -> Response:
        return _json(request.app.state.org.config.model_dump(), 200)

    @app.post("/__standin/config")
    async def set_config(request: Request) -> Response:
        org: Org = request.app.state.org
        try:
            changes = await request.json()
            config = SalesforceStandinConfig.model_validate({**org.config.model_dump(), **dict(changes)})
        except (ValueError, TypeError, ValidationError) as exc:
            detail = exc.errors(include_url=False) if isinstance(exc, ValidationError) else str(exc)
            return _json({"error": "invalid config", "detail": detail}, 400)
        org.set_config(config)
        return _json(config.model_dump(), 200)

    @app.get("/__standin/stats")
    def stats(request: Request) -> Response:
        usage = request.app.state.org.store.usage()
        out: dict[str, int] = {c: usage.get(f"cat:{c}", 0) for c in CATEGORIES}
        out["total"] = sum(out.values())
        out["api_usage"] = usage.get("api", 0)
        out["bulk_batches"] = usage.get("bulk_batches", 0)
        return _json(out, 200)

    @app.post("/__standin/usage/reset")
    def reset_usage(request: Request) -> Response:
        request.app.state.org.store.reset_usage()
        return _json({"reset": True}, 200)


def build_app(state_path: str | Path, config: SalesforceStandinConfig | None = None) -> FastAPI:
    """The stand-in app over ``state_path`` (created with a fresh org if missing)."""
    path = Path(state_path)
    if not path.exists():
        create_org(path)
    org = Org(path, config or SalesforceStandinConfig())
    worker = bulk.BulkWorker(org)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(title="Salesforce stand-in", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.org = org
    app.state.bulk = worker
    app.state.cursors = query_api.Cursors()
    for module in (auth, rest_api, collections_api, query_api, tooling_api, bulk):
        app.include_router(module.router)
    _register_admin(app)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        return _json(exc.errors, exc.status, exc.headers or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return _json(
                [
                    {
                        "errorCode": "METHOD_NOT_ALLOWED",
                        "message": f"HTTP Method '{request.method}' not allowed for this resource",
                    }
                ],
                405,
            )
        return _json([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], exc.status_code)

    app.middleware("http")(gateway)
    app.add_middleware(StripTrailingSlash)
    return app

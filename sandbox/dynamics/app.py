"""The FastAPI application: Entra ID token endpoint, the Web API front door and the ``/__standin`` admin API.

The front door (:func:`web_api`) does what Dataverse's edge does before a handler runs:
bearer-token check (401 + ``WWW-Authenticate``), service protection (429 + ``Retry-After``),
injected latency and faults (top-level requests only: a faulted ``$batch`` fails whole),
statistics, then hands a transport-neutral request to :class:`DataApi` or the batch runner.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sandbox.dynamics.batch import BatchRunner
from sandbox.dynamics.bulk import request_key
from sandbox.dynamics.config import API_VERSION, DATA_PREFIX, DynamicsStandinConfig
from sandbox.dynamics.data_api import DataApi
from sandbox.dynamics.errors import THROTTLE_REQUESTS, UNEXPECTED, DataverseError
from sandbox.dynamics.http import ApiRequest, ApiResponse
from sandbox.dynamics.identity import register_identity
from sandbox.dynamics.options import check_options
from sandbox.dynamics.org import Org, create_org
from sandbox.dynamics.protection import ServiceProtection


class Stats:
    """Request counters for ``GET /__standin/stats`` (in memory; reset with ``/__standin/usage/reset``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.by_request: Counter[str] = Counter()

    def bump(self, *names: str, by: int = 1) -> None:
        with self.lock:
            for name in names:
                self.counts[name] += by

    def request(self, *keys: str) -> None:
        with self.lock:
            self.by_request.update(keys)

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.by_request.clear()

    def dump(self) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {name: self.counts.get(name, 0) for name in (
                "total_requests", "batch_requests", "write_batch_requests", "batch_inner_requests", "throttled",
                "unauthorized", "tokens")}
            out["faults"] = {k: self.counts.get(f"fault:{k}", 0) for k in ("5xx", "throttle", "timeout")}
            out["by_request"] = dict(sorted(self.by_request.items()))
        return out


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def _from_response(resp: ApiResponse, extra: dict[str, str]) -> Response:
    return Response(resp.body or None, status_code=resp.status, headers={**resp.headers, **extra})


def check_token(org: Org, header: str | None) -> str | None:
    """The user id behind a ``Bearer`` header, or None if missing/unknown/expired."""
    if not header or not header.lower().startswith("bearer "):
        return None
    found = org.store.token(header[7:].strip())
    if found is None:
        return None
    user_id, issued = found
    ttl = org.config.token_ttl_s
    if ttl and time.time() - issued > ttl:
        return None
    return user_id


def _unauthorized(org: Org, base: str) -> Response:
    return Response(status_code=401, headers={
        "WWW-Authenticate": f"Bearer authorization_uri=https://login.microsoftonline.com/{org.tenant_id}/oauth2/"
                            f"authorize, resource_id={base}/"})


async def web_api(request: Request) -> Response:
    """Every ``/api/data/v9.2/*`` call (and ``$batch``)."""
    app = request.app
    org: Org = app.state.org
    stats: Stats = app.state.stats
    protection: ServiceProtection = app.state.protection
    base = str(request.base_url).rstrip("/")
    stats.bump("total_requests")
    user = await run_in_threadpool(check_token, org, request.headers.get("authorization"))
    if user is None:
        stats.bump("unauthorized")
        return _unauthorized(org, base)
    cfg = org.config
    try:
        protection.admit(user, cfg)
    except DataverseError as exc:
        stats.bump("throttled")
        return _from_response(ApiResponse.error(exc), protection.headers(user, cfg))
    started = time.monotonic()
    extra = 0
    try:
        if cfg.latency_ms:
            await asyncio.sleep(cfg.latency_ms / 1000)
        if org.roll(cfg.fault_throttle_rate):
            stats.bump("throttled", "fault:throttle")
            error = DataverseError(
                429, THROTTLE_REQUESTS,
                f"Number of requests exceeded the limit of {cfg.requests_per_window} over time window of "
                f"{cfg.window_s:g} seconds.", {"Retry-After": str(cfg.fault_retry_after_s)})
            return _from_response(ApiResponse.error(error), {})
        if org.roll(cfg.fault_5xx_rate):
            stats.bump("fault:5xx")
            return _from_response(ApiResponse.error(DataverseError(503, UNEXPECTED, "An unexpected error occurred.")),
                                  {})
        if org.roll(cfg.fault_timeout_rate):  # the request hangs, then the gateway gives up (nothing written)
            stats.bump("fault:timeout")
            await asyncio.sleep(cfg.fault_timeout_s)
            return _from_response(ApiResponse.error(DataverseError(504, UNEXPECTED, "The request timed out.")), {})
        path = request.url.path[len(DATA_PREFIX):]
        req = ApiRequest(request.method, path, request.scope.get("query_string", b"").decode("latin-1"),
                         {k.lower(): v for k, v in request.headers.items()}, await request.body(), user, base)
        api: DataApi = app.state.api
        if path.strip("/") == "$batch" and request.method == "POST":
            runner = BatchRunner(api.handle, org.store, cfg.batch_max_requests)
            try:
                check_options(req, ())
                outcome = await run_in_threadpool(runner.run, req)
            except DataverseError as exc:
                stats.bump("batch_requests")
                stats.request("POST $batch")
                return _from_response(ApiResponse.error(exc), protection.headers(user, cfg))
            stats.bump("batch_requests")
            stats.bump("batch_inner_requests", by=outcome.inner_requests)
            if any(not key.startswith("GET ") for key in outcome.inner_keys):
                stats.bump("write_batch_requests")  # a $batch that writes (not only reads metadata or rows)
            stats.request("POST $batch", *outcome.inner_keys)
            if cfg.batch_counts_inner_requests:
                extra = max(0, outcome.inner_requests - 1)
            resp = outcome.response
        else:
            stats.request(request_key(request.method, path))
            resp = await run_in_threadpool(api.handle, req)
        return _from_response(resp, protection.headers(user, cfg))
    finally:
        protection.done(user, time.monotonic() - started, extra)


def _register_admin(app: FastAPI) -> None:
    async def authorised(request: Request) -> bool:
        return await run_in_threadpool(check_token, request.app.state.org, request.headers.get("authorization")) \
            is not None

    @app.get("/__standin/config")
    async def get_config(request: Request) -> Response:
        if not await authorised(request):
            return _unauthorized(request.app.state.org, str(request.base_url).rstrip("/"))
        return _json(request.app.state.org.config.model_dump())

    @app.post("/__standin/config")
    async def set_config(request: Request) -> Response:
        org: Org = request.app.state.org
        if not await authorised(request):
            return _unauthorized(org, str(request.base_url).rstrip("/"))
        try:
            changes = await request.json()
            config = DynamicsStandinConfig.model_validate({**org.config.model_dump(), **dict(changes)})
        except (ValueError, TypeError, ValidationError) as exc:
            detail = exc.errors(include_url=False) if isinstance(exc, ValidationError) else str(exc)
            return _json({"error": "invalid config", "detail": detail}, 400)
        org.set_config(config)
        return _json(config.model_dump())

    @app.get("/__standin/stats")
    async def stats(request: Request) -> Response:
        if not await authorised(request):
            return _unauthorized(request.app.state.org, str(request.base_url).rstrip("/"))
        return _json(request.app.state.stats.dump())

    @app.post("/__standin/usage/reset")
    async def reset_usage(request: Request) -> Response:
        if not await authorised(request):
            return _unauthorized(request.app.state.org, str(request.base_url).rstrip("/"))
        request.app.state.stats.reset()
        request.app.state.protection.reset()
        return _json({"reset": True})

    @app.get("/__standin/records/{logical_name}")
    async def records(logical_name: str, request: Request) -> Response:
        org: Org = request.app.state.org
        if not await authorised(request):
            return _unauthorized(org, str(request.base_url).rstrip("/"))
        if org.schema.get(logical_name) is None:
            return _json({"error": f"unknown table {logical_name}"}, 404)
        return _json({"value": await run_in_threadpool(org.store.scan, logical_name)})


def build_app(state_path: str | Path, config: DynamicsStandinConfig | None = None) -> FastAPI:
    """The stand-in app over ``state_path`` (created with a fresh environment if missing)."""
    path = Path(state_path)
    if not path.exists():
        create_org(path)
    org = Org(path, config or DynamicsStandinConfig())
    app = FastAPI(title="Dataverse stand-in", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.org = org
    app.state.api = DataApi(org)
    app.state.stats = Stats()
    app.state.protection = ServiceProtection()
    register_identity(app)
    _register_admin(app)
    app.add_api_route(f"/api/data/{API_VERSION}/{{path:path}}", web_api,
                      methods=["GET", "POST", "PATCH", "PUT", "DELETE"], include_in_schema=False)
    return app

"""The FastAPI application: the accounts host, the CRM front door and the ``/__standin`` admin API.

One server plays Zoho's three hosts by path prefix: ``/accounts`` (``accounts.zoho.com``:
``/oauth/v2/token``), the API domain itself (``www.zohoapis.com``: ``/crm/...``, returned as
``api_domain``), ``/content`` (``content.zohoapis.com``: bulk uploads) and ``/download`` (bulk
results). The front door (:func:`crm_front`) does what Zoho's edge does before a handler runs:
``Zoho-oauthtoken`` check (401 ``INVALID_TOKEN``), route lookup (404 ``INVALID_URL_PATTERN``),
scope check (401 ``OAUTH_SCOPE_MISMATCH``), edition gate, concurrency (429), latency and faults;
the handler then debits its credits and the response carries the remaining-credits header.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sandbox.zoho.actions import Actions
from sandbox.zoho.bulk import BulkWrite
from sandbox.zoho.config import ZohoStandinConfig
from sandbox.zoho.credits import Credits
from sandbox.zoho.crm_api import CrmApi
from sandbox.zoho.errors import (
    ZohoError,
    edition_refused,
    internal_error,
    invalid_token,
    invalid_url,
    scope_mismatch,
    too_many_requests,
)
from sandbox.zoho.http import Answer, Call, Router
from sandbox.zoho.org import FULL_SCOPES, READ_SCOPES, Org
from sandbox.zoho.settings_api import SettingsApi

SCOPE_BY_METHOD = {"GET": "READ", "POST": "CREATE", "PUT": "UPDATE", "PATCH": "UPDATE", "DELETE": "DELETE"}


def scope_allows(scopes: list[str], family: str, method: str, path: str) -> bool:
    """Whether a token's scopes cover a route (``ZohoCRM.<family>.ALL`` or the operation's own scope)."""
    if family == "files":
        return "ZohoFiles.files.ALL" in scopes or "ZohoCRM.bulk.ALL" in scopes
    if family == "coql":
        return "ZohoCRM.coql.READ" in scopes
    op = SCOPE_BY_METHOD.get(method, "ALL")
    wanted = {f"ZohoCRM.{family}.ALL", f"ZohoCRM.{family}.{op}"}
    if family == "modules":
        parts = path.split("/")
        module = parts[3].lower() if len(parts) > 3 else ""
        wanted |= {f"ZohoCRM.modules.{module}.ALL", f"ZohoCRM.modules.{module}.{op}"}
    return bool(wanted & set(scopes))


class Stats:
    """Call counters for ``GET /__standin/stats`` (in memory)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def bump(self, *keys: str) -> None:
        with self.lock:
            self.counts.update(keys)

    def dump(self) -> dict[str, int]:
        with self.lock:
            return dict(sorted(self.counts.items()))


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if status == 204 or body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def _check_token(org: Org, header: str | None) -> tuple[str, list[str]] | None:
    if not header or not header.startswith("Zoho-oauthtoken "):
        return None
    found = org.store.token(header[len("Zoho-oauthtoken "):].strip())
    if found is None:
        return None
    user_id, scopes, issued = found
    ttl = org.config.token_ttl_s
    if ttl and time.time() - issued > ttl:  # real time: moving the stand-in clock does not expire tokens
        return None
    return user_id, scopes


def _register_accounts(app: FastAPI) -> None:
    @app.post("/accounts/oauth/v2/token")
    async def token(request: Request) -> Response:
        """Refresh-token grant. Zoho answers errors with HTTP 200 and ``{"error": …}`` (UNCONFIRMED status)."""
        org: Org = request.app.state.org
        raw = (await request.body()).decode("utf-8", "replace") + "&" + request.url.query
        form = {k: v[-1] for k, v in parse_qs(raw).items()}
        ident = org.identity
        if form.get("client_id") != ident["client_id"] or form.get("client_secret") != ident["client_secret"]:
            return _json({"error": "invalid_client"})
        if form.get("grant_type") != "refresh_token":
            return _json({"error": "unsupported_grant_type"})
        refresh = form.get("refresh_token")
        scopes = {ident["refresh_token"]: FULL_SCOPES, ident["readonly_refresh_token"]: READ_SCOPES}.get(refresh or "")
        if scopes is None:
            return _json({"error": "invalid_code"})
        access = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        await run_in_threadpool(org.store.add_token, access, org.admin_id, scopes, time.time())
        request.app.state.stats.bump("tokens")
        return _json({"access_token": access, "scope": " ".join(scopes),
                      "api_domain": str(request.base_url).rstrip("/"), "token_type": "Bearer",
                      "expires_in": org.config.token_ttl_s or 3600})


async def crm_front(request: Request) -> Response:
    """Every call to the API domain, the content host and the download host."""
    app = request.app
    org: Org = app.state.org
    credits: Credits = app.state.credits
    stats: Stats = app.state.stats
    stats.bump("total_requests")
    auth = await run_in_threadpool(_check_token, org, request.headers.get("authorization"))
    if auth is None:
        stats.bump("unauthorized")
        return _json(invalid_token().body(), 401)
    user_id, scopes = auth
    path, method = request.url.path, request.method
    try:
        found = app.state.router.find(method, path)
        if found is None:
            raise invalid_url()
        handler, match, family = found
        if not scope_allows(scopes, family, method, path):
            raise scope_mismatch(path)
        if not org.config.api_allowed():
            raise edition_refused(org.config.edition)
        credits.enter()
    except ZohoError as exc:
        if exc.status == 429:
            stats.bump("throttled")
        return _json(exc.body(), exc.status)
    try:
        return await _serve(request, handler, match, user_id, path)
    finally:
        credits.leave()


async def _serve(request: Request, handler: Any, match: dict[str, str], user_id: str, path: str) -> Response:
    app = request.app
    org: Org = app.state.org
    cfg = org.config
    credits: Credits = app.state.credits
    stats: Stats = app.state.stats
    if cfg.latency_ms:
        await asyncio.sleep(cfg.latency_ms / 1000)
    if org.roll(cfg.fault_throttle_rate):
        stats.bump("throttled", "fault:throttle")
        return _json(too_many_requests().body(), 429)
    if org.roll(cfg.fault_5xx_rate):
        stats.bump("fault:5xx")
        return _json(internal_error().body(), 500)
    if org.roll(cfg.fault_timeout_rate):  # the call hangs, then the gateway gives up (nothing written)
        stats.bump("fault:timeout")
        await asyncio.sleep(cfg.fault_timeout_s)
        return Response(status_code=504)
    call = Call(request.method, path, request.url.query, {k.lower(): v for k, v in request.headers.items()},
                await request.body(), user_id, str(request.base_url).rstrip("/"), match)
    stats.bump(f"{request.method} {_route_key(path)}")
    try:
        answer: Answer = await run_in_threadpool(handler, call)
    except ZohoError as exc:
        if exc.status == 429:
            stats.bump("throttled")
        return _json(exc.body(), exc.status, credits.headers())
    headers = {**answer.headers, **credits.headers()}
    if answer.raw is not None:
        return Response(answer.raw, status_code=answer.status, headers=headers)
    return _json(answer.body, answer.status, headers)


def _route_key(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/".join(p if not p.isdigit() else "{id}" for p in parts[:5])


def _register_admin(app: FastAPI) -> None:
    def authorised(request: Request) -> bool:
        return _check_token(request.app.state.org, request.headers.get("authorization")) is not None

    @app.get("/__standin/config")
    async def get_config(request: Request) -> Response:
        if not authorised(request):
            return _json(invalid_token().body(), 401)
        return _json(request.app.state.org.config.model_dump())

    @app.post("/__standin/config")
    async def set_config(request: Request) -> Response:
        if not authorised(request):
            return _json(invalid_token().body(), 401)
        org: Org = request.app.state.org
        try:
            config = ZohoStandinConfig.model_validate({**org.config.model_dump(), **json.loads(await request.body())})
        except (ValidationError, ValueError) as exc:
            return _json({"error": str(exc)}, 400)
        org.set_config(config)
        return _json(config.model_dump())

    @app.get("/__standin/credits")
    async def get_credits(request: Request) -> Response:
        if not authorised(request):
            return _json(invalid_token().body(), 401)
        return _json(await run_in_threadpool(request.app.state.credits.describe))

    @app.post("/__standin/credits/reset")
    async def reset_credits(request: Request) -> Response:
        if not authorised(request):
            return _json(invalid_token().body(), 401)
        await run_in_threadpool(request.app.state.org.store.clear_ledger)
        return _json(await run_in_threadpool(request.app.state.credits.describe))

    @app.post("/__standin/clock")
    async def move_clock(request: Request) -> Response:
        """``{"advance_s": n}`` moves the stand-in's clock (credit window, timestamps, page-token expiry)."""
        if not authorised(request):
            return _json(invalid_token().body(), 401)
        body = json.loads(await request.body() or b"{}")
        org: Org = request.app.state.org
        now = org.advance_clock(float(body.get("advance_s", 0)))
        return _json({"now": now, "offset_s": org.clock_offset})

    @app.get("/__standin/stats")
    async def get_stats(request: Request) -> Response:
        if not authorised(request):
            return _json(invalid_token().body(), 401)
        return _json(request.app.state.stats.dump())

    @app.get("/__standin/records/{module}")
    async def dump_records(module: str, request: Request) -> Response:
        if not authorised(request):
            return _json(invalid_token().body(), 401)
        return _json(await run_in_threadpool(request.app.state.org.store.scan, module))


def build_app(state_path: Path, config: ZohoStandinConfig | None = None) -> FastAPI:
    org = Org(state_path, config or ZohoStandinConfig())
    credits = Credits(org)
    router = Router()
    crm = CrmApi(org, credits)
    Actions(org, credits, crm.engine).register(router)  # before the generic /{module}/{id} routes
    SettingsApi(org, credits).register(router)
    BulkWrite(org, credits, crm.engine).register(router)
    crm.register(router)
    app = FastAPI(title="Zoho CRM v8 stand-in", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.org = org
    app.state.credits = credits
    app.state.router = router
    app.state.stats = Stats()
    _register_accounts(app)
    _register_admin(app)
    for prefix in ("/crm", "/content", "/download"):
        app.add_api_route(prefix + "/{rest:path}", crm_front, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    return app

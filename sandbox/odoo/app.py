"""The FastAPI application: Odoo's RPC routes per version, faults, and the ``/__standin`` admin API.

Routes: ``/xmlrpc/2/{common,object,db}`` (integer fault codes), ``/xmlrpc/{service}`` (legacy
string codes), ``/jsonrpc`` and ``/web/webclient/version_info`` (JSON-RPC 2.0 envelopes, HTTP
200 even for errors), and on 19 ``/web/version`` and ``/json/2/{model}/{method}`` (bearer API
key, real HTTP statuses). Elsewhere, and on 17/18 for the 19-only routes, the answer is the
HTML 404 a real server gives. The front door injects latency, 503s and dropped connections;
a call killed by ``limit_time_real`` drops the connection (or answers a proxy's 502).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import xmlrpc.client
from collections import Counter
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sandbox.odoo import errors
from sandbox.odoo.config import OdooStandinConfig
from sandbox.odoo.rpc import Database, version_info
from sandbox.odoo.seed import create_db, credentials
from sandbox.odoo.transport import drop

NOT_FOUND_HTML = ("<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The "
                  "requested URL was not found on the server. If you entered the URL manually please check your "
                  "spelling and try again.</p>\n")
UNAVAILABLE_HTML = "<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request."
BAD_GATEWAY_HTML = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>" \
                   "</center><hr><center>nginx</center></body></html>"


class Stats:
    """Counters for ``GET /__standin/stats``: requests per route and model calls per ``model.method``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def bump(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1

    def call(self, key: str) -> None:
        with self.lock:
            self.calls[key] += 1

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.calls.clear()

    def dump(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": dict(self.counts), "calls": dict(sorted(self.calls.items())),
                    "total_requests": sum(v for k, v in self.counts.items() if not k.startswith("fault:"))}


def _not_found() -> Response:
    return Response(NOT_FOUND_HTML, status_code=404, media_type="text/html")


async def _front_door(request: Request, route: str) -> Response | None:
    """Latency and injected faults, before any work (so nothing of a faulted call is written)."""
    db: Database = request.app.state.db
    stats: Stats = request.app.state.stats
    cfg = db.config
    stats.bump(route)
    if cfg.latency_ms:
        await asyncio.sleep(cfg.latency_ms / 1000)
    if db.roll(cfg.fault_5xx_rate):
        stats.bump("fault:5xx")
        return Response(UNAVAILABLE_HTML, status_code=503, media_type="text/html")
    if db.roll(cfg.fault_drop_rate):
        stats.bump("fault:drop")
        if await drop(request):
            return Response(status_code=502)
        return Response(BAD_GATEWAY_HTML, status_code=502, media_type="text/html")
    return None


async def _killed(request: Request) -> Response:
    """What the client sees of a worker killed past ``limit_time_real``."""
    request.app.state.stats.bump("killed")
    if request.app.state.db.config.killed_response == "drop" and await drop(request):
        return Response(status_code=502)
    return Response(BAD_GATEWAY_HTML, status_code=502, media_type="text/html")


def _count_call(stats: Stats, service: str, method: str, params: Any) -> None:
    if service == "object" and isinstance(params, (list, tuple)) and len(params) >= 5:
        stats.call(f"{params[3]}.{params[4]}")
    else:
        stats.call(f"{service}.{method}")


def _xmlrpc_answer(db: Database, service: str, body: bytes, legacy: bool, stats: Stats) -> str:
    try:
        params, method = xmlrpc.client.loads(body, use_datetime=True)
        _count_call(stats, service, str(method), params)
        result = db.dispatch(service, str(method), list(params), "xmlrpc")
        return xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
    except errors.WorkerKilled:
        raise
    except Exception as exc:  # noqa: BLE001 - every error becomes a fault, as in odoo/addons/base/controllers/rpc.py
        code, text = errors.fault_of(exc)
        if legacy:
            code, text = _legacy_fault(exc, text)
        return xmlrpc.client.dumps(xmlrpc.client.Fault(code, text), methodresponse=True, allow_none=False)


def _legacy_fault(exc: BaseException, traceback_text: str) -> tuple[Any, str]:
    """``/xmlrpc/<service>``: string fault codes (``xmlrpc_handle_exception_string``)."""
    if isinstance(exc, errors.MissingError):
        return f"warning -- MissingError\n\n{exc}", ""
    if isinstance(exc, errors.AccessError):
        return f"warning -- AccessError\n\n{exc}", ""
    if isinstance(exc, errors.AccessDenied):
        return "AccessDenied", str(exc)
    if isinstance(exc, errors.UserError):
        return f"warning -- UserError\n\n{exc}", ""
    return str(exc), traceback_text


def _register_rpc(app: FastAPI) -> None:
    async def xmlrpc_route(request: Request, service: str, legacy: bool) -> Response:
        fault = await _front_door(request, f"xmlrpc/{service}")
        if fault is not None:
            return fault
        db: Database = request.app.state.db
        body = await request.body()
        try:
            text = await run_in_threadpool(_xmlrpc_answer, db, service, body, legacy, request.app.state.stats)
        except errors.WorkerKilled:
            return await _killed(request)
        return Response(text, media_type="text/xml")

    @app.post("/xmlrpc/2/{service}")
    async def xmlrpc2(service: str, request: Request) -> Response:
        return await xmlrpc_route(request, service, legacy=False)

    @app.post("/xmlrpc/{service}")
    async def xmlrpc1(service: str, request: Request) -> Response:
        return await xmlrpc_route(request, service, legacy=True)

    @app.post("/jsonrpc")
    async def jsonrpc(request: Request) -> Response:
        fault = await _front_door(request, "jsonrpc")
        if fault is not None:
            return fault

        def run(params: dict[str, Any]) -> Any:
            service, method, args = params["service"], params["method"], params.get("args") or []
            _count_call(request.app.state.stats, str(service), str(method), args)
            return request.app.state.db.dispatch(str(service), str(method), list(args), "jsonrpc")
        return await _json_route(request, run)

    @app.post("/web/webclient/version_info")
    async def webclient_version(request: Request) -> Response:
        return await _json_route(request, lambda params: version_info(request.app.state.db.config))


async def _json_route(request: Request, run: Any) -> Response:
    """A ``type='json'`` route: JSON-RPC 2.0 envelope, errors in the body with HTTP 200."""
    db: Database = request.app.state.db
    try:
        payload = json.loads(await request.body() or b"{}")
        request_id = payload.get("id") if isinstance(payload, dict) else None
        params = payload.get("params") or {} if isinstance(payload, dict) else {}
    except ValueError:
        body = {"jsonrpc": "2.0", "id": None,
                "error": {"code": 400, "message": "Invalid JSON data", "data": {}}}
        return JSONResponse(body, status_code=400)
    try:
        result = await run_in_threadpool(run, params)
    except errors.WorkerKilled:
        return await _killed(request)
    except Exception as exc:  # noqa: BLE001 - JsonRPCDispatcher.handle_error serializes every exception
        code = db.config.jsonrpc_error_code
        if code is None:
            code = 0 if db.config.version >= 19 else 200
        message = "Odoo Server Error"
        if isinstance(exc, errors.HttpError) and exc.status == 404:
            code, message = 404, "404: Not Found"
        return JSONResponse({"jsonrpc": "2.0", "id": request_id,
                             "error": {"code": code, "message": message, "data": errors.serialize(exc)}})
    answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if result is not None or db.config.version >= 19:
        answer["result"] = result
    return JSONResponse(answer)


def _register_json2(app: FastAPI) -> None:
    @app.get("/web/version")
    async def web_version(request: Request) -> Response:
        config = request.app.state.db.config
        if config.version < 19:
            return _not_found()
        info = version_info(config)
        return JSONResponse({"version_info": info["server_version_info"], "version": info["server_version"]})

    @app.api_route("/json/2", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    @app.api_route("/json/2/{subpath:path}", methods=["GET", "PUT", "DELETE", "PATCH"])
    async def json2_other(request: Request) -> Response:
        """Any other ``/json/2`` request: 19's ``web_json_2_404``."""
        if request.app.state.db.config.version < 19:
            return _not_found()
        exc = errors.HttpError(404, "NotFound", "Did you mean POST /json/2/<model>/<method>?")
        return JSONResponse(errors.serialize(exc), status_code=404)

    @app.post("/json/2/{model}/{method}")
    async def json2(model: str, method: str, request: Request) -> Response:
        db: Database = request.app.state.db
        if db.config.version < 19:
            return _not_found()
        fault = await _front_door(request, "json2")
        if fault is not None:
            return fault
        request.app.state.stats.call(f"{model}.{method}")
        try:
            uid = await run_in_threadpool(_json2_user, db, request)
            raw = await request.body()
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError as exc:
                raise errors.HttpError(400, "BadRequest", f"could not parse the body as json: {exc.args[0]}") from exc
            if not isinstance(body, dict):
                raise errors.HttpError(400, "BadRequest", "could not parse the body, expecting a json object")
            result = await run_in_threadpool(db.call_json2, uid, model, method, body)
        except errors.WorkerKilled:
            return await _killed(request)
        except Exception as exc:  # noqa: BLE001 - Json2Dispatcher.handle_error answers every exception
            status = exc.status if isinstance(exc, errors.HttpError) else getattr(exc, "http_status", 500)
            headers = exc.headers if isinstance(exc, errors.HttpError) else None
            return JSONResponse(errors.serialize(exc), status_code=status, headers=headers)
        return JSONResponse(result)


def _json2_user(db: Database, request: Request) -> int:
    """``ir.http._auth_method_bearer``: a global API key in ``Authorization: bearer <key>``."""
    match = re.match(r"^bearer\s+(.+)$", request.headers.get("authorization") or "", re.IGNORECASE)
    wanted = request.headers.get("x-odoo-database")
    if wanted is not None and wanted != db.name:
        raise errors.HttpError(404, "NotFound", f"database {wanted!r} not found")
    challenge = {"WWW-Authenticate": "Bearer"}
    if match is None:
        raise errors.HttpError(401, "Unauthorized",
                               "User not authenticated, use an API Key with a Bearer Authorization header.", challenge)
    uid = db.api_key_user(match.group(1).strip())
    if uid is None:
        raise errors.HttpError(401, "Unauthorized", "Invalid apikey", challenge)
    if db.config.api_refused():
        raise errors.AccessDenied(db.config.online_refusal_message)
    return uid


def _register_admin(app: FastAPI) -> None:
    def authorised(request: Request) -> bool:
        scheme, _, key = (request.headers.get("authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and request.app.state.db.api_key_user(key.strip()) == 2

    def denied() -> Response:
        return JSONResponse({"error": "admin API key required (Authorization: bearer <api key>)"}, status_code=401)

    @app.get("/__standin/config")
    async def get_config(request: Request) -> Response:
        if not authorised(request):
            return denied()
        return JSONResponse(request.app.state.db.config.model_dump())

    @app.post("/__standin/config")
    async def set_config(request: Request) -> Response:
        if not authorised(request):
            return denied()
        db: Database = request.app.state.db
        try:
            changes = await request.json()
            config = OdooStandinConfig.model_validate({**db.config.model_dump(), **dict(changes)})
        except (ValueError, TypeError, ValidationError) as exc:
            detail = exc.errors(include_url=False) if isinstance(exc, ValidationError) else str(exc)
            return JSONResponse({"error": "invalid config", "detail": detail}, status_code=400)
        db.set_config(config)
        return JSONResponse(config.model_dump())

    @app.get("/__standin/stats")
    async def stats(request: Request) -> Response:
        if not authorised(request):
            return denied()
        return JSONResponse(request.app.state.stats.dump())

    @app.post("/__standin/usage/reset")
    async def reset(request: Request) -> Response:
        if not authorised(request):
            return denied()
        request.app.state.stats.reset()
        return JSONResponse({"reset": True})


def build_app(state_path: str | Path, config: OdooStandinConfig | None = None) -> FastAPI:
    """The stand-in app over ``state_path`` (created with a fresh database if missing)."""
    path = Path(state_path)
    if not path.exists():
        create_db(path)
    db = Database(path, config or OdooStandinConfig())
    app = FastAPI(title="Odoo stand-in", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db = db
    app.state.stats = Stats()
    app.state.credentials = credentials(db.store)
    _register_rpc(app)
    _register_json2(app)
    _register_admin(app)
    return app

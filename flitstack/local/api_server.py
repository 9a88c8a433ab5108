"""The HTTP API in local mode: ``functions/api/handler.py`` served on 127.0.0.1, as API Gateway would.

Each HTTP request becomes an API Gateway REST *proxy* event, the handler runs in this process
(its boto3 clients reach moto through ``AWS_ENDPOINT_URL``, which the engine sets) and its
proxy response becomes the HTTP response. An ``x-api-key`` header stands in for the cloud's
IAM (SigV4) authorization: without the right key the answer is API Gateway's own
``403 {"message": "Forbidden"}`` and the handler never runs.

    server = start_api_server()
    httpx.get(f"{server.url}/migrations/r1", headers={"x-api-key": server.api_key})
    server.stop()

``GET /openapi.json`` (the API's OpenAPI document) and ``GET /docs`` (a Swagger UI page, assets inlined)
are answered by this server without a key: they describe the API and hold no run data.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

from flitstack.local import dispatch, naming
from infra import resources
from infra.resources import PUBLIC_ROUTES
from shared.api import MAX_BODY_BYTES, PayloadTooLarge

API_KEY_HEADER = "x-api-key"
LOCAL_STAGE = "local"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

_FORBIDDEN = json.dumps({"message": "Forbidden"}).encode()


def _openapi_json() -> tuple[str, str]:
    from flitstack.openapi import document_json  # noqa: PLC0415 - imports the handler

    return "application/json", document_json()


def _docs_page() -> tuple[str, str]:
    from flitstack.openapi import docs_page  # noqa: PLC0415 - imports the handler

    return "text/html; charset=utf-8", docs_page()


#: The API's contract and its docs page, served by the local server itself (no key: they hold no data).
DOC_ROUTES: dict[str, Callable[[], tuple[str, str]]] = {"/openapi.json": _openapi_json, "/docs": _docs_page}


def is_public(method: str, path: str) -> bool:
    """Routes the stack leaves without IAM (``infra.stack.PUBLIC_ROUTES``): the handler verifies
    their signatures (approval links, Slack callbacks). Everything else needs the key."""
    for public_method, route in PUBLIC_ROUTES:
        prefix = route.split("{", 1)[0]
        if method == public_method and (path == route or ("{" in route and path.startswith(prefix)
                                                          and len(path) > len(prefix))):
            return True
    return False


def proxy_event(method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes,
                host: str) -> dict[str, Any]:
    """The API Gateway REST proxy event for one request (the fields Powertools and our handler read)."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    params = parse_qsl(query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for name, value in params:
        multi_query.setdefault(name, []).append(value)
    try:
        text, encoded = body.decode(), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": dict(params) or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": path,  # no stage prefix locally: the API is served at the root
            "stage": LOCAL_STAGE,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "domainName": host,
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


class ApiGatewayAsgi:
    """A minimal ASGI app: API key check, request -> proxy event -> handler -> response.

    Calls are serialised, one at a time, as in one Lambda container (the Powertools resolver
    keeps the current event on the app object).
    """

    def __init__(self, handler: Handler, api_key: str, context_factory: Callable[[], Any]) -> None:
        self.handler = handler
        self.api_key = api_key
        self.context_factory = context_factory
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                # Stop reading: a body over the cap is refused before it is held in memory whole.
                refusal = PayloadTooLarge(f"request body is over {MAX_BODY_BYTES} bytes; "
                                          f"at most {MAX_BODY_BYTES} bytes are accepted")
                await self._send(send, refusal.status, [("content-type", "application/json")],
                                 json.dumps(refusal.body()).encode())
                return
            if not message.get("more_body"):
                break
        if scope["method"] == "GET" and scope["path"] in DOC_ROUTES:
            content_type, text = DOC_ROUTES[scope["path"]]()
            await self._send(send, 200, [("content-type", content_type), ("cache-control", "no-cache")],
                             text.encode())
            return
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        given = next((v for k, v in headers if k == API_KEY_HEADER), "")
        if not is_public(scope["method"], scope["path"]) and not hmac.compare_digest(given.encode(),
                                                                                    self.api_key.encode()):
            await self._send(send, 403, [("content-type", "application/json")], _FORBIDDEN)
            return
        host = next((v for k, v in headers if k == "host"), "127.0.0.1")
        headers.append(("x-forwarded-proto", "http"))
        event = proxy_event(scope["method"], scope["path"], scope.get("query_string", b"").decode(), headers, body,
                            host)
        response = await asyncio.to_thread(self._invoke, event)
        out_headers = [(k.lower(), str(v)) for k, v in (response.get("headers") or {}).items()]
        for name, values in (response.get("multiValueHeaders") or {}).items():
            out_headers += [(name.lower(), str(v)) for v in values]
        raw = response.get("body") or ""
        payload = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
        await self._send(send, int(response.get("statusCode", 502)), out_headers, payload)

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self.handler(event, self.context_factory())

    @staticmethod
    async def _send(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        raw_headers = [(k.encode(), v.encode()) for k, v in headers if k != "content-length"]
        raw_headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


@dataclass
class RunningApi:
    """A started local API: where it is, the key it wants, and how to stop it."""

    url: str
    api_key: str
    server: uvicorn.Server
    thread: threading.Thread

    def info(self) -> dict[str, str]:
        return {"url": self.url, "api_key": self.api_key, "api_key_header": API_KEY_HEADER}

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _context() -> dispatch.LambdaContext:
    api = resources.FUNCTIONS_BY_FOLDER[resources.API_FOLDER]
    name = naming.function_name(api)
    return dispatch.LambdaContext(
        function_name=name,
        invoked_function_arn=f"arn:aws:lambda:{naming.LOCAL_REGION}:{naming.LOCAL_ACCOUNT_ID}:function:{name}",
        memory_limit_in_mb=api.memory_mb,
        timeout_s=api.timeout_s,
    )


def start_api_server(handler: Handler | None = None, api_key: str | None = None, *, host: str = "127.0.0.1",
                     port: int = 0, startup_timeout_s: float = 10.0) -> RunningApi:
    """Serve the API handler on ``host:port`` (0: a free port) in a thread; returns once it listens.

    The engine must be deployed first: the handler reads the tables, bucket and workflow ARNs
    from the environment the engine set.
    """
    if handler is None:
        from functions.api.handler import handler as api_handler  # noqa: PLC0415 - its logger reads FLITSTACK_LOG_FILE on import

        handler = api_handler
    key = api_key or secrets.token_urlsafe(24)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(ApiGatewayAsgi(handler, key, _context), log_level="warning", access_log=False,
                            lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="flitstack-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the local API did not start on {host}:{bound_port}")
        time.sleep(0.02)
    return RunningApi(url=f"http://{host}:{bound_port}", api_key=key, server=server, thread=thread)

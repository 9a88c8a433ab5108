"""The Slack stand-in's FastAPI app: an incoming webhook, interactivity callbacks, and an admin API.

What an app that posts approval requests to Slack would notice is reproduced:

* ``POST /services/{team}/{bot}/{token}`` (the incoming webhook) answers ``200 ok`` in
  ``text/plain``, or Slack's plain-text error codes: ``404 no_service`` for an unknown URL,
  ``400 invalid_payload`` for a body that is not a JSON object (or ``payload=`` form field),
  ``400 invalid_blocks`` for blocks that are not Block Kit objects, ``400 no_text`` when
  neither ``text`` nor ``blocks`` is given.
* A click (``POST /__standin/click``) makes the stand-in do what Slack does: an HTTPS POST of
  ``payload=<block_actions JSON>`` (form-encoded) to the configured interactivity URL, with
  ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` (``v0`` HMAC-SHA256 with the app's
  signing secret), within Slack's three-second deadline. The payload's ``response_url``
  points back here; follow-ups posted to it are stored and can replace or delete the message.

The request signing here is written independently of ``shared.approvals`` on purpose: the
tests check one implementation against the other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import ssl
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from sandbox.slack.store import SlackStore, create_state

MAX_BLOCKS = 50
MAX_TEXT = 40_000
_FAULT_CODES = {429: "rate_limited", 500: "internal_error", 503: "service_unavailable"}


class SlackStandinConfig(BaseModel):
    """Runtime knobs (``POST /__standin/config`` merges changes into these)."""

    model_config = ConfigDict(extra="forbid")

    interactivity_url: str | None = Field(default=None, description="where clicks are POSTed (the app's endpoint)")
    interactivity_ca_path: str | None = Field(default=None, description="CA PEM trusted for interactivity_url")
    interactivity_timeout_s: float = Field(default=3.0, gt=0, le=120, description="Slack gives an app 3 s")
    webhook_fault_status: int = Field(default=0, description="0 = off; else every webhook post answers this status")


class ClickUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)


class Click(BaseModel):
    """A simulated button press; ``sign_with`` / ``timestamp_offset_s`` forge the request."""

    model_config = ConfigDict(extra="forbid")
    message_id: int
    action_id: str
    user: ClickUser
    sign_with: str | None = None
    timestamp_offset_s: int = 0


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status, headers=headers)


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _parse_message(raw: bytes, content_type: str) -> tuple[str | None, list[Any] | None] | str:
    """(text, blocks) of a webhook body, or Slack's error code."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            payload = parse_qs(raw.decode()).get("payload", [])
            if len(payload) != 1:
                return "invalid_payload"
            body = json.loads(payload[0])
        else:
            body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return "invalid_payload"
    if not isinstance(body, dict):
        return "invalid_payload"
    text, blocks = body.get("text"), body.get("blocks")
    if text is not None and not isinstance(text, str):
        return "invalid_payload"
    if blocks is not None and (
        not isinstance(blocks, list)
        or len(blocks) > MAX_BLOCKS
        or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
    ):
        return "invalid_blocks"
    if not text and not blocks:
        return "no_text"
    if text and len(text) > MAX_TEXT:
        return "msg_too_long"
    return text, blocks


def _find_button(blocks: list[Any] | None, action_id: str) -> tuple[str | None, dict[str, Any]] | None:
    """(block_id, element) of the button with ``action_id`` in an actions block or a section accessory."""
    for block in blocks or []:
        elements = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory") or {}]
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None


def build_app(
    state_path: str | Path, config: SlackStandinConfig | None = None, *, base_url: str | None = None
) -> FastAPI:
    """The stand-in over ``state_path`` (created if missing); ``base_url`` is its own public URL."""
    path = Path(state_path)
    if not path.exists():
        create_state(path)
    store = SlackStore(path)
    if config is not None:
        store.set_config({**store.config(), **config.model_dump(exclude_unset=True)})
    app = FastAPI(title="Slack stand-in", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.base_url = base_url

    def current_config() -> SlackStandinConfig:
        return SlackStandinConfig.model_validate(store.config())

    def own_url(request: Request) -> str:
        return str(app.state.base_url or str(request.base_url)).rstrip("/")

    # --- the incoming webhook ----------------------------------------------------------------
    @app.post("/services/{team}/{bot}/{token}")
    async def webhook(team: str, bot: str, token: str, request: Request) -> Response:
        if not hmac.compare_digest(f"/services/{team}/{bot}/{token}", store.webhook_path):
            return _plain("no_service", 404)
        cfg = current_config()
        if cfg.webhook_fault_status:
            status = cfg.webhook_fault_status
            headers = {"Retry-After": "1"} if status == 429 else None
            return _plain(_FAULT_CODES.get(status, "internal_error"), status, headers)
        parsed = _parse_message(await request.body(), request.headers.get("content-type", ""))
        if isinstance(parsed, str):
            return _plain(parsed, 400)
        await run_in_threadpool(store.add_message, *parsed)
        return _plain("ok", 200)

    @app.api_route("/services/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def no_service(rest: str) -> Response:
        return _plain("no_service", 404)

    # --- response_url: follow-ups from the app ------------------------------------------------
    @app.post("/__standin/responses/{token}")
    async def response_url(token: str, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _json({"ok": False, "error": "invalid_payload"}, 400)
        error = await run_in_threadpool(store.use_response_slot, token, body)
        if error is not None:
            return _json({"ok": False, "error": error}, 404)
        return _json({"ok": True})

    # --- admin --------------------------------------------------------------------------------
    @app.get("/__standin/config")
    def get_config() -> Response:
        return _json(current_config().model_dump())

    @app.post("/__standin/config")
    async def set_config(request: Request) -> Response:
        try:
            changes = await request.json()
            merged = SlackStandinConfig.model_validate({**current_config().model_dump(), **dict(changes)})
        except (ValueError, TypeError, ValidationError) as exc:
            detail = exc.errors(include_url=False) if isinstance(exc, ValidationError) else str(exc)
            return _json({"error": "invalid config", "detail": detail}, 400)
        store.set_config(merged.model_dump())
        return _json(merged.model_dump())

    @app.get("/__standin/info")
    def info(request: Request) -> Response:
        return _json({"webhook_url": own_url(request) + store.webhook_path, "signing_secret": store.signing_secret,
                      "team_id": store.meta["team_id"], "channel_id": store.meta["channel_id"]})

    @app.get("/__standin/messages")
    def messages() -> Response:
        return _json(store.messages())

    @app.get("/__standin/messages/{message_id}")
    def message(message_id: int) -> Response:
        found = [m for m in store.messages() if m["id"] == message_id]
        return _json(found[0]) if found else _json({"error": "no such message"}, 404)

    @app.get("/__standin/responses")
    def responses() -> Response:
        return _json(store.responses())

    @app.get("/__standin/clicks")
    def clicks() -> Response:
        return _json(store.clicks())

    @app.post("/__standin/click")
    async def click(request: Request) -> Response:
        try:
            spec = Click.model_validate_json(await request.body())
        except ValidationError as exc:
            return _json({"error": "invalid click", "detail": exc.errors(include_url=False)}, 400)
        cfg = current_config()
        if not cfg.interactivity_url:
            return _json({"error": "interactivity_url is not configured"}, 409)
        msg = await run_in_threadpool(store.message, spec.message_id)
        if msg is None or msg["deleted"]:
            return _json({"error": "no such message"}, 404)
        found = _find_button(msg["blocks"], spec.action_id)
        if found is None:
            return _json({"error": f"the message has no button {spec.action_id!r}"}, 404)
        block_id, button = found
        slot = await run_in_threadpool(store.open_response_slot, spec.message_id, spec.user.id)
        payload = _block_actions(store, msg, block_id, button, spec.user,
                                 response_url=f"{own_url(request)}/__standin/responses/{slot}")
        body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()
        timestamp = str(int(time.time()) + spec.timestamp_offset_s)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": slack_signature(spec.sign_with or store.signing_secret, timestamp, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        verify: ssl.SSLContext = ssl.create_default_context(cafile=cfg.interactivity_ca_path)
        try:
            async with httpx.AsyncClient(verify=verify, timeout=cfg.interactivity_timeout_s, trust_env=False) as http:
                resp = await http.post(cfg.interactivity_url, content=body, headers=headers)
        except httpx.TimeoutException:
            await run_in_threadpool(store.record_click, spec.message_id, spec.action_id, spec.user.id, None, None)
            return _json({"status": None, "body": None, "error": "operation_timeout"})
        except httpx.HTTPError as exc:
            await run_in_threadpool(store.record_click, spec.message_id, spec.action_id, spec.user.id, None, None)
            return _json({"status": None, "body": None, "error": f"{type(exc).__name__}: {exc}"}, 502)
        await run_in_threadpool(store.record_click, spec.message_id, spec.action_id, spec.user.id,
                                resp.status_code, resp.text)
        return _json({"status": resp.status_code, "body": resp.text})

    return app


def _block_actions(store: SlackStore, msg: dict[str, Any], block_id: str | None, button: dict[str, Any],
                   user: ClickUser, *, response_url: str) -> dict[str, Any]:
    """The ``block_actions`` interaction payload Slack sends for a button press in a channel message."""
    meta = store.meta
    now = time.time()
    action: dict[str, Any] = {
        "type": "button",
        "action_id": button.get("action_id"),
        "block_id": block_id or secrets.token_urlsafe(4),
        "text": button.get("text") or {"type": "plain_text", "text": "", "emoji": True},
        "action_ts": f"{now:.6f}",
    }
    for optional in ("value", "style"):
        if optional in button:
            action[optional] = button[optional]
    return {
        "type": "block_actions",
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": meta["team_id"]},
        "api_app_id": meta["app_id"],
        "token": meta["verification_token"],
        "container": {"type": "message", "message_ts": msg["ts"], "channel_id": meta["channel_id"],
                      "is_ephemeral": False},
        "trigger_id": f"{int(now)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}",
        "team": {"id": meta["team_id"], "domain": meta["team_domain"]},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": meta["channel_id"], "name": meta["channel_name"]},
        "message": {"type": "message", "subtype": "bot_message", "bot_id": meta["bot_id"], "ts": msg["ts"],
                    "text": msg["text"] or "", "blocks": msg["blocks"] or []},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }

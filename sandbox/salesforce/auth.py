"""OAuth 2.0 token endpoint (password and client_credentials flows), identity URL and revoke.

Tokens are random, persisted in SQLite (so a restarted stand-in honours them) and checked
on every ``/services/data`` and ``/__standin`` call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sandbox.salesforce.http import org_of
from sandbox.salesforce.org import Org

router = APIRouter()


async def _form(request: Request) -> dict[str, str]:
    """URL-encoded body merged over query parameters (both are accepted by the real endpoint)."""
    fields = dict(request.query_params)
    body = (await request.body()).decode("utf-8", "replace")
    fields.update({k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()})
    return fields


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def instance_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("/services/oauth2/token")
async def token(request: Request) -> Response:
    org = org_of(request)
    form = await _form(request)
    grant = str(form.get("grant_type", ""))
    creds = org.credentials()
    if grant not in ("password", "client_credentials"):
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    if form.get("client_id") != creds["client_id"]:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if form.get("client_secret") != creds["client_secret"]:
        return _oauth_error("invalid_client", "invalid client credentials")
    if grant == "password" and (form.get("username") != creds["username"] or form.get("password") != creds["password"]):
        return _oauth_error("invalid_grant", "authentication failure")
    access = f"{org.org_id[:15]}!{secrets.token_urlsafe(72)}"
    issued = await run_in_threadpool(org.store.add_token, access, org.admin_user_id)
    base = instance_url(request)
    identity = f"{base}/id/{org.org_id}/{org.admin_user_id}"
    issued_ms = str(int(issued * 1000))
    signature = base64.b64encode(
        hmac.new(creds["client_secret"].encode(), (identity + issued_ms).encode(), hashlib.sha256).digest()
    ).decode()
    return JSONResponse(
        {
            "access_token": access,
            "instance_url": base,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_ms,
            "signature": signature,
        }
    )


@router.post("/services/oauth2/revoke")
async def revoke(request: Request) -> Response:
    form = await _form(request)
    await run_in_threadpool(org_of(request).store.revoke_token, str(form.get("token", "")))
    return Response(status_code=200)


@router.get("/id/{org_id}/{user_id}")
def identity(org_id: str, user_id: str, request: Request) -> Response:
    org = org_of(request)
    got = org.store.get_record(user_id)
    if org_id != org.org_id or got is None:
        return _oauth_error("Bad_Id", "Bad id", 404)
    user = got[1]
    base = instance_url(request)
    return JSONResponse(
        {
            "id": f"{base}/id/{org_id}/{user_id}",
            "organization_id": org_id,
            "user_id": user_id,
            "username": user.get("Username"),
            "display_name": user.get("Name"),
            "email": user.get("Email"),
            "active": user.get("IsActive"),
            "user_type": "STANDARD",
            "urls": {
                "rest": f"{base}/services/data/v{{version}}/",
                "sobjects": f"{base}/services/data/v{{version}}/sobjects/",
                "query": f"{base}/services/data/v{{version}}/query/",
                "tooling_rest": f"{base}/services/data/v{{version}}/tooling/",
            },
        }
    )


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

"""The Entra ID (login.microsoftonline.com) side of the stand-in: token endpoints and discovery.

Enough of Microsoft's identity platform for a client-credentials client, including Microsoft's own
library (msal's ``ConfidentialClientApplication`` with ``authority=<stand-in url>/<tenant>``):

* ``POST /{tenant}/oauth2/v2.0/token`` (``scope=<resource>/.default``) and the v1
  ``POST /{tenant}/oauth2/token`` (``resource=<resource>``; reference §2.1) — client credentials only,
  with Entra's error bodies (``AADSTS…`` codes).
* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and ``GET /{tenant}/.well-known/openid-configuration``
  (v1): the OpenID Connect discovery documents, every endpoint on the stand-in's own host. An unknown
  tenant → 400 ``invalid_tenant`` AADSTS90002, as Entra answers.
* ``GET /common/discovery/instance?api-version=…&authorization_endpoint=…``: the instance-discovery call
  msal makes to validate an authority (msal sends it to login.microsoftonline.com unless given
  ``instance_discovery=<url>``): the stand-in's own host is a known instance; any other host →
  400 ``invalid_instance`` AADSTS50049.
* ``GET /{tenant}/discovery/v2.0/keys``: the JWKS the documents point at. The stand-in's access
  tokens are opaque (checked against its store), so the key set is empty.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sandbox.dynamics.org import Org

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def aad_error(error: str, code: int, description: str, status: int = 400) -> JSONResponse:
    """An Entra ID error body (``error``, ``error_description`` with trace lines, ``error_codes``, …)."""
    trace = str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return _json({
        "error": error,
        "error_description": f"{description}\r\nTrace ID: {trace}\r\nCorrelation ID: {uuid.uuid4()}\r\n"
                             f"Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": str(uuid.uuid4()),
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }, status)


def _same_resource(resource: str, base: str) -> bool:
    want, got = urlsplit(base), urlsplit(resource.rstrip("/"))
    return (got.scheme == want.scheme and got.port == want.port and (got.hostname or "") in LOCAL_HOSTS
            and (want.hostname or "") in LOCAL_HOSTS and got.path in ("", "/"))


def _unknown_tenant(tenant: str) -> JSONResponse:
    return aad_error("invalid_request", 90002, f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you "
                     "have the correct tenant ID and are signing into the correct cloud.")


def _issue(org: Org, request: Request, tenant: str, form: dict[str, str], *, v1: bool) -> JSONResponse | None:
    """Entra's checks on a client-credentials request; None when the client may have a token."""
    if tenant != org.tenant_id:
        return _unknown_tenant(tenant)
    grant = form.get("grant_type", "")
    if grant != "client_credentials":
        return aad_error("unsupported_grant_type", 70003,
                         f"AADSTS70003: The app requested an unsupported grant type '{grant}'.")
    creds = org.credentials()
    client_id = form.get("client_id", "")
    if client_id != creds["client_id"]:
        return aad_error("unauthorized_client", 700016,
                         f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory "
                         f"'{tenant}'. This can happen if the application has not been installed by the "
                         "administrator of the tenant or consented to by any user in the tenant.")
    if form.get("client_secret", "") != creds["client_secret"]:
        return aad_error("invalid_client", 7000215,
                         "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request "
                         f"is the client secret value, not the client secret ID, for a secret added to app "
                         f"'{client_id}'.", 401)
    base = str(request.base_url).rstrip("/")
    if v1:
        resource = form.get("resource", "")
        if not resource:
            return aad_error("invalid_request", 900144,
                             "AADSTS900144: The request body must contain the following parameter: 'resource'.")
    else:
        scope = form.get("scope", "")
        if not scope.endswith("/.default"):
            return aad_error("invalid_scope", 1002012,
                             f"AADSTS1002012: The provided value for scope {scope} is not valid. Client credential "
                             "flows must have a scope value with /.default suffixed to the resource identifier "
                             "(application ID URI).")
        resource = scope.removesuffix("/.default")
    if not _same_resource(resource, base):
        return aad_error("invalid_resource", 500011,
                         f"AADSTS500011: The resource principal named {resource} was not found in the tenant named "
                         f"{tenant}. This can happen if the application has not been installed by the administrator "
                         "of the tenant or consented to by any user in the tenant.")
    return None


async def _token(request: Request, tenant: str, *, v1: bool) -> Response:
    org: Org = request.app.state.org
    request.app.state.stats.bump("tokens")
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    refused = _issue(org, request, tenant, form, v1=v1)
    if refused is not None:
        return refused
    access = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(96)
    await run_in_threadpool(org.store.add_token, access, org.app_user_id)
    if v1:  # the v1 endpoint answers with strings and the resource it was asked for
        now = int(time.time())
        return _json({"token_type": "Bearer", "expires_in": "3599", "ext_expires_in": "3599",
                      "expires_on": str(now + 3599), "not_before": str(now), "resource": form["resource"],
                      "access_token": access})
    return _json({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": access})


def openid_configuration(base: str, tenant: str, *, v2: bool) -> dict[str, Any]:
    """The discovery document of ``tenant`` with every endpoint on ``base`` (the stand-in's own URL)."""
    root = f"{base}/{tenant}"
    version = "/v2.0" if v2 else ""
    doc: dict[str, Any] = {
        "token_endpoint": f"{root}/oauth2{version}/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{root}/discovery{version}/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{root}/v2.0" if v2 else f"{base}/{tenant}/",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{root}/oauth2{version}/authorize",
        "device_authorization_endpoint": f"{root}/oauth2{version}/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{root}/oauth2{version}/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
                             "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    if not v2:
        doc["microsoft_multi_refresh_token"] = True
    return doc


def _instance_discovery(request: Request) -> JSONResponse:
    """Entra answers with discovery URLs on its own host; msal sends the authority's host without its port
    (``https://{hostname}{path}/oauth2/v2.0/authorize``), so a loopback host with no port is this instance."""
    base = str(request.base_url).rstrip("/")
    parts = urlsplit(request.query_params.get("authorization_endpoint", ""))
    own = urlsplit(base)
    tenant = parts.path.strip("/").split("/")[0] if parts.path.strip("/") else ""
    if (parts.scheme != "https" or (parts.hostname or "") not in LOCAL_HOSTS or parts.port not in (None, own.port)
            or not tenant):
        return aad_error("invalid_instance", 50049, "AADSTS50049: Unknown or invalid instance.")
    version = "/v2.0" if "/oauth2/v2.0/" in parts.path else ""
    return _json({
        "tenant_discovery_endpoint": f"{base}/{tenant}{version}/.well-known/openid-configuration",
        "api-version": request.query_params.get("api-version", "1.1"),
        "metadata": [{"preferred_network": own.netloc, "preferred_cache": own.netloc, "aliases": [own.netloc]}],
    })


def register_identity(app: FastAPI) -> None:
    """Add the token, discovery and key-set routes to ``app``."""

    @app.post("/{tenant}/oauth2/v2.0/token")
    async def token_v2(tenant: str, request: Request) -> Response:
        return await _token(request, tenant, v1=False)

    @app.post("/{tenant}/oauth2/token")
    async def token_v1(tenant: str, request: Request) -> Response:
        return await _token(request, tenant, v1=True)

    @app.get("/common/discovery/instance")
    async def instance(request: Request) -> Response:
        return _instance_discovery(request)

    @app.get("/{tenant}/v2.0/.well-known/openid-configuration")
    async def discovery_v2(tenant: str, request: Request) -> Response:
        if tenant != request.app.state.org.tenant_id:
            return _unknown_tenant(tenant)
        return _json(openid_configuration(str(request.base_url).rstrip("/"), tenant, v2=True))

    @app.get("/{tenant}/.well-known/openid-configuration")
    async def discovery_v1(tenant: str, request: Request) -> Response:
        if tenant != request.app.state.org.tenant_id:
            return _unknown_tenant(tenant)
        return _json(openid_configuration(str(request.base_url).rstrip("/"), tenant, v2=False))

    @app.get("/{tenant}/discovery/v2.0/keys")
    async def keys(tenant: str, request: Request) -> Response:
        if tenant != request.app.state.org.tenant_id:
            return _unknown_tenant(tenant)
        return _json({"keys": []})

"""Build connectors from a run's endpoints: secrets are fetched by *name*, used, never echoed."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from aws_lambda_powertools.utilities import parameters

from shared.destinations.base import Destination
from shared.destinations.dynamics import DynamicsDestination
from shared.destinations.salesforce import SalesforceDestination
from shared.errors import ConfigurationError
from shared.models import Endpoint
from shared.sources.sercom import SercomSource


def _secret(name: str) -> dict[str, Any]:
    try:
        raw = parameters.get_secret(name, max_age=300)
    except parameters.exceptions.GetParameterError as exc:
        raise ConfigurationError(f"secret {name!r} could not be read") from exc
    try:
        value = json.loads(raw if isinstance(raw, str) else raw.decode())
    except (ValueError, AttributeError) as exc:
        raise ConfigurationError(f"secret {name!r} is not a JSON object") from exc
    if not isinstance(value, dict):
        raise ConfigurationError(f"secret {name!r} is not a JSON object")
    return value


def _need(secret: dict[str, Any], name: str, keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if not secret.get(k)]
    if missing:
        raise ConfigurationError(f"secret {name!r} lacks {missing} (allowed keys: {sorted(keys)} + ca_pem, timeout_s"
                                 f"{', token_url' if 'tenant_id' in keys else ''})")


def open_source(endpoint: Endpoint) -> SercomSource:
    if endpoint.kind != "sercom":
        raise ConfigurationError(f"source kind {endpoint.kind!r} is not supported (allowed: ['sercom'])")
    secret = _secret(endpoint.secret_name)
    _need(secret, endpoint.secret_name, ("url", "api_key"))
    return SercomSource(secret["url"], secret["api_key"], secret.get("ca_pem"))


_DEST_CACHE: dict[str, Destination] = {}

#: Destination kind -> the secret keys it needs (besides the optional ``ca_pem``, ``timeout_s``...).
DESTINATION_SECRET_KEYS: dict[str, tuple[str, ...]] = {
    "salesforce": ("url", "client_id", "client_secret", "username", "password"),
    "dynamics": ("url", "tenant_id", "client_id", "client_secret"),
}


def close_all() -> None:
    """Close the cached destination sessions (local mode, before its stand-ins stop)."""
    for dest in _DEST_CACHE.values():
        dest.close()
    _DEST_CACHE.clear()


def _connect(kind: str, secret: dict[str, Any]) -> Destination:
    timeout_s = float(secret.get("timeout_s", 120))
    if kind == "salesforce":
        return SalesforceDestination(secret["url"], secret["client_id"], secret["client_secret"], secret["username"],
                                     secret["password"], ca_pem=secret.get("ca_pem"), timeout_s=timeout_s)
    return DynamicsDestination(secret["url"], secret["tenant_id"], secret["client_id"], secret["client_secret"],
                               ca_pem=secret.get("ca_pem"), timeout_s=timeout_s, token_url=secret.get("token_url"))


def open_destination(endpoint: Endpoint) -> Destination:
    """One authenticated client per secret per container (tokens are reused across batches)."""
    keys = DESTINATION_SECRET_KEYS.get(endpoint.kind)
    if keys is None:
        raise ConfigurationError(f"destination kind {endpoint.kind!r} is not supported "
                                 f"(allowed: {sorted(DESTINATION_SECRET_KEYS)})")
    secret = _secret(endpoint.secret_name)
    # Keyed by the secret's content too: a rotated secret gets a fresh client, never a stale one.
    # Per thread too: local mode runs several Lambda invocations at once in one process, and an
    # HTTP session is not meant to be shared between threads.
    cache_key = (endpoint.secret_name + "#" + hashlib.sha256(json.dumps(secret, sort_keys=True).encode()).hexdigest()
                 + f"#{threading.get_ident()}")
    cached = _DEST_CACHE.get(cache_key)
    if cached is not None:
        return cached
    _need(secret, endpoint.secret_name, keys)
    dest = _connect(endpoint.kind, secret)
    _DEST_CACHE[cache_key] = dest
    return dest

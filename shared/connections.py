"""Build connectors from a run's endpoints: secrets are fetched by *name*, used, never echoed.

Which kinds exist, which secret keys each needs and how each is opened all come from the one
registry (``shared.connectors.registry``); nothing here names a connector.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from aws_lambda_powertools.utilities import parameters

from shared.connectors import registry
from shared.connectors.destination import Destination
from shared.connectors.source import Source
from shared.errors import ConfigurationError
from shared.models import Endpoint


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


def open_source(endpoint: Endpoint) -> Source:
    registry.source(endpoint.kind)  # an unknown kind is refused before any secret is read
    return registry.open_source(endpoint.kind, endpoint.secret_name, _secret(endpoint.secret_name))


_DEST_CACHE: dict[str, Destination] = {}


def close_all() -> None:
    """Close the cached destination sessions (local mode, before its stand-ins stop)."""
    for dest in _DEST_CACHE.values():
        dest.close()
    _DEST_CACHE.clear()


def open_destination(endpoint: Endpoint) -> Destination:
    """One authenticated client per secret per container (tokens are reused across batches)."""
    registry.destination(endpoint.kind)
    secret = _secret(endpoint.secret_name)
    # Keyed by the secret's content too: a rotated secret gets a fresh client, never a stale one.
    # Per thread too: local mode runs several Lambda invocations at once in one process, and an
    # HTTP session is not meant to be shared between threads.
    cache_key = (endpoint.secret_name + "#" + hashlib.sha256(json.dumps(secret, sort_keys=True).encode()).hexdigest()
                 + f"#{threading.get_ident()}")
    cached = _DEST_CACHE.get(cache_key)
    if cached is not None:
        return cached
    dest = registry.open_destination(endpoint.kind, endpoint.secret_name, secret)
    _DEST_CACHE[cache_key] = dest
    return dest

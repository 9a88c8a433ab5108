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


#: Every destination client this process opened, by secret (name and content): the idle ones, ready to lend.
_IDLE: dict[str, list[Destination]] = {}
#: Every client opened, idle or lent (closed together by :func:`close_all`).
_OPENED: list[Destination] = []
_LOCK = threading.Lock()
#: The clients the current thread has borrowed, by secret.
_HELD = threading.local()


def close_all() -> None:
    """Close every destination session this process opened (local mode, before its stand-ins stop)."""
    with _LOCK:
        opened = list(_OPENED)
        _OPENED.clear()
        _IDLE.clear()
    for dest in opened:
        dest.close()


def release_thread() -> None:
    """Give back the clients the current thread borrowed, for the next invocation (any thread) to reuse.

    In a Lambda container one thread runs every invocation and never needs this: it keeps its client (tokens and
    connections reused across batches). Local mode runs each invocation in a request thread of one process and
    calls this when the handler returns; a cache keyed by thread instead kept a client, its session and its open
    connections for every thread the engine ever started."""
    held: dict[str, Destination] | None = getattr(_HELD, "clients", None)
    if not held:
        return
    with _LOCK:
        for key, dest in held.items():
            if dest in _OPENED:  # (not closed by close_all meanwhile)
                _IDLE.setdefault(key, []).append(dest)
    held.clear()


def open_destination(endpoint: Endpoint) -> Destination:
    """One authenticated client per secret per container (tokens are reused across batches).

    A client is held by one thread at a time (an HTTP session is not meant to be shared between threads): local
    mode runs several invocations at once in one process, each borrows an idle client or opens one."""
    registry.destination(endpoint.kind)
    secret = _secret(endpoint.secret_name)
    # Keyed by the secret's content too: a rotated secret gets a fresh client, never a stale one.
    key = endpoint.secret_name + "#" + hashlib.sha256(json.dumps(secret, sort_keys=True).encode()).hexdigest()
    held: dict[str, Destination] | None = getattr(_HELD, "clients", None)
    if held is None:
        held = _HELD.clients = {}
    if key in held:
        return held[key]
    with _LOCK:
        idle = _IDLE.get(key)
        dest = idle.pop() if idle else None
    if dest is None:
        dest = registry.open_destination(endpoint.kind, endpoint.secret_name, secret)
        with _LOCK:
            _OPENED.append(dest)
    held[key] = dest
    return dest

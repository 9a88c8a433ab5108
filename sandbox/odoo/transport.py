"""Dropping a connection the way a killed worker does: no status line, no body.

ASGI has no "close without answering"; uvicorn's ``send`` is a bound method of the
connection's request cycle, which holds the transport. :class:`ExposeTransport` (the
outermost ASGI layer) puts an ``abort`` callable into the scope before Starlette wraps
``send``; a handler calls :func:`drop` and the client sees the connection reset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ABORT_KEY = "flitstack.abort"


class ExposeTransport:
    """Outermost ASGI wrapper: exposes the raw transport's ``abort`` to the handlers."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "http":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                scope[ABORT_KEY] = transport.abort
        await self.app(scope, receive, send)


async def drop(request: Request) -> bool:
    """Abort the connection; False when the server does not expose its transport (then answer 502)."""
    abort = request.scope.get(ABORT_KEY)
    if abort is None:
        return False
    abort()
    await asyncio.sleep(0.05)  # let connection_lost run, so the response below is discarded
    return True

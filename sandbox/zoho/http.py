"""Transport-neutral call/answer values and a tiny regex router, so handlers stay plain functions.

Handlers receive a :class:`Call` (already authenticated) and return an :class:`Answer`; the
front door in ``app.py`` turns an :class:`~sandbox.zoho.errors.ZohoError` into Zoho's error body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from sandbox.zoho.errors import ZohoError


@dataclass
class Call:
    method: str
    path: str  # below the host, e.g. /crm/v8/Leads
    query: str
    headers: dict[str, str]
    body: bytes
    user_id: str
    base_url: str
    match: dict[str, str] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        if not self.body.strip():
            raise ZohoError("INVALID_DATA", "body", {"reason": "request body is empty"})
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ZohoError("INVALID_DATA", "body", {"reason": "body is not valid JSON"}) from None

    def external(self) -> list[str]:
        raw = self.header("x-external") or ""
        return [part.strip() for part in raw.split(",") if part.strip()]


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # non-JSON content (downloads)

    @classmethod
    def results(cls, results: list[dict[str, Any]], all_ok: int, cfg_all_failed: int) -> Answer:
        """Status for a per-record result list: all ok, all failed, or mixed (207 Multi-Status)."""
        ok = sum(1 for r in results if r.get("status") == "success")
        if ok == len(results):
            status = all_ok
        elif ok == 0:
            status = cfg_all_failed
        else:
            status = 207
        return cls(status, {"data": results})

    def with_key(self, key: str) -> Answer:
        """The same result list under another envelope key (``fields``, ``modules``)."""
        return Answer(self.status, {key: self.body["data"]}, self.headers)


Handler = Callable[[Call], Answer]


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler, str]] = []

    def add(self, method: str, pattern: str, handler: Handler, scope: str) -> None:
        """``pattern`` uses ``{name}`` for one path segment; ``scope`` is the OAuth scope family needed."""
        rx = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "/?$"
        self.routes.append((method, re.compile(rx), handler, scope))

    def find(self, method: str, path: str) -> tuple[Handler, dict[str, str], str] | None:
        path_matched = False
        for verb, rx, handler, scope in self.routes:
            m = rx.match(path)
            if m:
                path_matched = True
                if verb == method:
                    return handler, m.groupdict(), scope
        if path_matched:
            raise ZohoError("INVALID_REQUEST_METHOD", "The http request method type is not a valid one", {}, 400)
        return None

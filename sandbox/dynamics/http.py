"""Transport-neutral request/response values, so ``$batch`` parts and top-level calls share one dispatcher."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from sandbox.dynamics.errors import DataverseError

ODATA_JSON = "application/json; odata.metadata=minimal"
STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 412: "Precondition Failed",
    413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


@dataclass
class ApiRequest:
    """One Web API request below ``/api/data/v9.2/`` (``path`` without the prefix and without the query)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    caller: str
    base_url: str
    in_batch: bool = False

    @property
    def params(self) -> dict[str, str]:
        """Query options (``+`` decodes to a space, as on the real ASP.NET front end)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataverseError(
                400, "0x80048d19", f"Error identified in Payload provided by the user: the JSON is invalid ({exc})."
            ) from exc


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def of_json(cls, content: Any, status: int = 200, headers: dict[str, str] | None = None) -> ApiResponse:
        return cls(status, {"Content-Type": ODATA_JSON, "OData-Version": "4.0", **(headers or {})},
                   json.dumps(content, ensure_ascii=False).encode())

    @classmethod
    def empty(cls, status: int = 204, headers: dict[str, str] | None = None) -> ApiResponse:
        return cls(status, {"OData-Version": "4.0", **(headers or {})})

    @classmethod
    def error(cls, exc: DataverseError) -> ApiResponse:
        return cls.of_json(exc.body(), exc.status, exc.headers)

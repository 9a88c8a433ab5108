"""ServiceTracker's error body: a JSON array of ``{"errorCode", "message", "fields"}``.

ServiceTracker runs on the Salesforce platform, so its API answers errors the way the
platform's REST API does (a list, ``errorCode`` in upper snake case) and its limit errors
are the platform's: ``REQUEST_LIMIT_EXCEEDED`` (403) for the daily allocation. Codes of its
own (``RATE_LIMITED``, ``EXPORT_LIMIT_EXCEEDED``, ...) follow the same shape. Every limit
error carries ``Retry-After`` in seconds.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


class ApiError(Exception):
    """Answer ``status`` with ``[{"errorCode": code, "message": message, "fields": fields}]``."""

    def __init__(self, status: int, code: str, message: str, *, fields: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields or []
        self.headers = headers or {}

    def body(self) -> list[dict[str, Any]]:
        return [{"errorCode": self.code, "message": self.message, "fields": self.fields}]

    def response(self) -> Response:
        return Response(json.dumps(self.body()), status_code=self.status, media_type="application/json",
                        headers=self.headers)


def invalid(field: str, message: str) -> ApiError:
    """400 ``INVALID_PARAMETER`` naming the parameter (or body field) at fault."""
    return ApiError(400, "INVALID_PARAMETER", message, fields=[field])


def not_found(message: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", message)

"""Zoho's error values: ``{"code", "details", "message", "status": "error"}``.

One shape serves both a whole call refused (HTTP status + the body alone) and a single record
refused inside a ``{"data": [...]}`` array (207 bodies). Codes and messages are taken from the
``API_Exception`` enums in Zoho's OpenAPI files (``sandbox/zoho/oas/record.json``) wherever
the situation matches one; the others are listed as UNCONFIRMED in ``docs/zoho-standin.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TOO_MANY_REQUESTS_MESSAGE = (
    "The number of API requests for the 24 hour period is exceeded or the concurrency limit of the user for the "
    "app is exceeded."
)


@dataclass
class ZohoError(Exception):
    """A refusal: raised for a whole call, or collected for one record of a batch."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    status: int = 400

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


def invalid_token() -> ZohoError:
    return ZohoError("INVALID_TOKEN", "invalid oauth token", {}, 401)


def scope_mismatch(url: str) -> ZohoError:
    return ZohoError("OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL", {}, 401)


def invalid_url() -> ZohoError:
    return ZohoError("INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", {}, 404)


def invalid_module(name: str) -> ZohoError:
    return ZohoError("INVALID_MODULE", "The module name given seems to be invalid", {"api_name": name}, 400)


def required_param(param: str) -> ZohoError:
    return ZohoError("REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param": param})


def invalid_param(param: str, **extra: Any) -> ZohoError:
    return ZohoError("INVALID_DATA", "invalid data", {"param": param, **extra})


def not_supported(what: str) -> ZohoError:
    """A feature the real API has but the stand-in does not implement: refused, never ignored."""
    return ZohoError("NOT_SUPPORTED", f"{what} is not supported by the stand-in", {"param": what})


def too_many_requests() -> ZohoError:
    return ZohoError("TOO_MANY_REQUESTS", TOO_MANY_REQUESTS_MESSAGE, {}, 429)


def edition_refused(edition: str) -> ZohoError:
    return ZohoError(
        "FEATURE_NOT_SUPPORTED", "API access is not available in your edition", {"edition": edition}, 403
    )


def internal_error() -> ZohoError:
    return ZohoError("INTERNAL_ERROR", "Internal server error occurred.", {}, 500)


# -- per-record errors -------------------------------------------------------------------------------------------
def mandatory(api_name: str, path: str) -> ZohoError:
    return ZohoError("MANDATORY_NOT_FOUND", "required field not found", {"api_name": api_name, "json_path": path})


def invalid_data(api_name: str, path: str, expected: str | None = None, **extra: Any) -> ZohoError:
    details: dict[str, Any] = {"api_name": api_name, "json_path": path}
    if expected:
        details["expected_data_type"] = expected
    details.update(extra)
    return ZohoError("INVALID_DATA", "invalid data", details)


def too_long(api_name: str, path: str, length: int) -> ZohoError:
    return ZohoError(
        "INVALID_DATA", "invalid data", {"api_name": api_name, "json_path": path, "maximum_length": str(length)}
    )


def duplicate(api_name: str, path: str, module: dict[str, str], existing: dict[str, Any]) -> ZohoError:
    owner = existing.get("Owner") or {}
    return ZohoError("DUPLICATE_DATA", "duplicate data", {
        "api_name": api_name, "json_path": path,
        "duplicate_record": {"id": existing["id"], "module": module,
                             "Owner": {"id": owner.get("id", ""), "name": owner.get("name", "")}},
    })


def invalid_id(record_id: str) -> ZohoError:
    return ZohoError("INVALID_DATA", "the id given seems to be invalid", {"id": record_id})


def limit_exceeded(api_name: str, path: str, limit: int) -> ZohoError:
    return ZohoError(
        "LIMIT_EXCEEDED", "Record count exceeded", {"api_name": api_name, "json_path": path, "limit": limit}
    )

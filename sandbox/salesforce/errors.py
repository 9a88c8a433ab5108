"""Salesforce error values and their three wire shapes.

One record-level error (:class:`SfError`) is rendered differently depending on the API:
REST top level uses ``errorCode``, sObject Collections SaveResults use ``statusCode`` and
Bulk 2.0 ``failedResults`` packs it into ``CODE:message:fields --``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INVALID_FIELD_HINT = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom "
    "field name. Please reference your WSDL or the describe call for the appropriate names."
)


@dataclass(frozen=True)
class SfError:
    """One error: code, message and the fields it concerns."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    def rest(self) -> dict[str, Any]:
        return {"message": self.message, "errorCode": self.code, "fields": list(self.fields)}

    def collection(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def bulk(self) -> str:
        return f"{self.code}:{self.message}:{','.join(self.fields)} --"


@dataclass
class ApiError(Exception):
    """Abort the request with ``status`` and a REST error array (optionally extra headers)."""

    status: int
    errors: list[dict[str, Any]]
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, status: int, code: str, message: str, fields: list[str] | None = None) -> ApiError:
        body: dict[str, Any] = {"message": message, "errorCode": code}
        if fields is not None:
            body["fields"] = fields
        return cls(status, [body])


class RecordError(Exception):
    """Raised inside the write engine; the caller turns it into a failed SaveResult."""

    def __init__(self, *errors: SfError) -> None:
        super().__init__(errors[0].message if errors else "")
        self.errors = list(errors)


class ValueParseError(Exception):
    """A value that cannot be deserialized into the field's type (JSON_PARSER_ERROR / xsd error)."""

    def __init__(self, field_name: str, value: Any, xsd_type: str, java_type: str) -> None:
        super().__init__(f"{field_name}: {value!r} is not a valid {xsd_type}")
        self.field_name = field_name
        self.value = value
        self.xsd_type = xsd_type
        self.java_type = java_type

    def rest_message(self) -> str:
        return (
            f"Cannot deserialize instance of {self.java_type} from VALUE_STRING value {self.value} "
            f"or request may be missing a required field"
        )

    def bulk_message(self, col: int) -> str:
        return (
            f"Failed to deserialize field at col {col}. Due to, '{self.value}' is not a valid value "
            f"for the type {self.xsd_type}"
        )


def invalid_field(name: str, obj: str) -> SfError:
    return SfError("INVALID_FIELD", f"No such column '{name}' on entity '{obj}'. {INVALID_FIELD_HINT}", ())


def not_writable(names: list[str]) -> SfError:
    joined = ", ".join(names)
    return SfError(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Unable to create/update fields: {joined}. Please check the security settings of this field "
        "and verify that it is read/write for your profile or permission set.",
        tuple(names),
    )


def not_found() -> ApiError:
    return ApiError.of(404, "NOT_FOUND", "The requested resource does not exist")


def unsupported_type(obj: str, status: int = 400) -> ApiError:
    return ApiError.of(
        status,
        "INVALID_TYPE",
        f"sObject type '{obj}' is not supported. If you are attempting to use a custom object, be sure "
        "to append the '__c' after the entity name. Please reference your WSDL or the describe call "
        "for the appropriate names.",
    )

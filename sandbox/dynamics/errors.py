"""Dataverse error values: ``{"error": {"code": "0x…", "message": …}}`` with an HTTP status.

One exception type (:class:`DataverseError`) travels from the write engine to the HTTP
layer (or into a ``$batch`` part). The constructors below carry the platform's codes and
wording where the reference or a public source has them; the rest are marked UNCONFIRMED
in ``docs/dynamics-standin.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PAYLOAD_ERROR = "0x80048d19"
NOT_FOUND = "0x80040217"
SEGMENT_NOT_FOUND = "0x80060888"
VALIDATION = "0x80044331"
PICKLIST_RANGE = "0x8004431a"
INVALID_ARGUMENT = "0x80040203"
STATE_STATUS = "0x80048408"
DUPLICATE_KEY = "0x80060892"
DUPLICATE_RECORD = "0x80040237"
PRIVILEGE = "0x80040220"
USER_DISABLED = "0x80040225"
ATTACHMENT = "0x80043e09"
THROTTLE_REQUESTS = "0x80072322"
THROTTLE_TIME = "0x80072321"
THROTTLE_CONCURRENCY = "0x80072326"
UNEXPECTED = "0x80040216"
PAYLOAD_HELP = (
    "Error identified in Payload provided by the user for Entity :'{entity}', For more information on this error "
    "please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : "
    "Microsoft.OData.ODataException: {inner}"
)


@dataclass
class DataverseError(Exception):
    """Abort the operation with ``status`` and a Dataverse error body."""

    status: int
    code: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)  # ``@Microsoft.PowerApps.CDS.ErrorDetails.*`` annotations

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


def bad_request(message: str, code: str = "0x0") -> DataverseError:
    return DataverseError(400, code, message)


def no_property(name: str, entity: str) -> DataverseError:
    return DataverseError(
        400, "0x0", f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'."
    )


def undeclared_annotation(name: str, entity_set: str) -> DataverseError:
    inner = (
        f"An undeclared property '{name}' which only has property annotations in the payload but no property value "
        "was found in the payload. In OData, only declared navigation properties and declared named streams can be "
        "represented as properties without values."
    )
    return DataverseError(400, PAYLOAD_ERROR, PAYLOAD_HELP.format(entity=entity_set, inner=inner))


def record_not_found(entity: str, record_id: str) -> DataverseError:
    return DataverseError(404, NOT_FOUND, f"{entity} With Id = {record_id} Does Not Exist")


def key_record_not_found(entity: str) -> DataverseError:
    return DataverseError(404, NOT_FOUND, f"A record with the specified key values does not exist in {entity} entity")


def segment_not_found(segment: str) -> DataverseError:
    return DataverseError(404, SEGMENT_NOT_FOUND, f"Resource not found for the segment '{segment}'.")


def too_long(column: str, entity: str, max_length: int) -> DataverseError:
    return DataverseError(
        400,
        VALIDATION,
        f"A validation error occurred.  The length of the '{column}' attribute of the '{entity}' entity exceeded "
        f"the maximum allowed length of '{max_length}'.",
    )


def outside_range(value: Any, column: str, entity: str, accepted: list[int]) -> DataverseError:
    values = ",".join(str(v) for v in accepted)
    return DataverseError(
        400,
        PICKLIST_RANGE,
        f"A validation error occurred. The value {value} of '{column}' on record of type '{entity}' is outside the "
        f"valid range. Accepted Values: {values}",
    )


def duplicate_record(sql_message: str) -> DataverseError:
    """A create that collides with an existing row (primary key or a platform unique index).

    Code, message, status and the ``ErrorDetails`` annotations are those of a Dataverse answer quoted in
    microsoft/coe-starter-kit#2752 and #3624 (412, ``DuplicateRecord``, SQL "Cannot insert duplicate key").
    """
    return DataverseError(
        412, DUPLICATE_RECORD, "A record with matching key values already exists.",
        details={
            "@Microsoft.PowerApps.CDS.ErrorDetails.ApiExceptionMessageName": "DuplicateRecord",
            "@Microsoft.PowerApps.CDS.ErrorDetails.ApiExceptionHttpStatusCode": "412",
            "@Microsoft.PowerApps.CDS.ErrorDetails.SqlExceptionMessage": sql_message,
        },
    )

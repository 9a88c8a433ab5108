"""Odoo's exception family and how each transport reports it (reference §4.4).

The ORM raises these (or plain Python errors, as Odoo does for ``ValueError`` & co.); the
transports translate them exactly once:

* ``/xmlrpc/2``: :func:`fault_of` -> fault 2 (UserError family: message only), 3
  (AccessDenied), 4 (AccessError), 1 (anything else: the full traceback).
* ``/jsonrpc`` and the ``/web`` JSON routes: :func:`serialize` inside ``error.data``.
* ``/json/2`` (19): :func:`serialize` as the body, with the exception's HTTP status.
"""

from __future__ import annotations

import traceback
from typing import Any

FAULT_APPLICATION = 1
FAULT_WARNING = 2
FAULT_ACCESS_DENIED = 3
FAULT_ACCESS_ERROR = 4


class UserError(Exception):
    """``odoo.exceptions.UserError``: a message for the user, no traceback on the wire."""

    odoo_name = "odoo.exceptions.UserError"
    http_status = 422
    fault_code = FAULT_WARNING


class ValidationError(UserError):
    odoo_name = "odoo.exceptions.ValidationError"


class MissingError(UserError):
    odoo_name = "odoo.exceptions.MissingError"
    http_status = 404


class AccessError(UserError):
    odoo_name = "odoo.exceptions.AccessError"
    http_status = 403
    fault_code = FAULT_ACCESS_ERROR


class AccessDenied(UserError):
    """Bad credentials; Odoo strips its traceback."""

    odoo_name = "odoo.exceptions.AccessDenied"
    http_status = 403
    fault_code = FAULT_ACCESS_DENIED

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class HttpError(Exception):
    """A werkzeug HTTPException as JSON-2 reports it (401 Invalid apikey, 404, 422 bad arguments)."""

    def __init__(self, status: int, name: str, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.odoo_name = f"werkzeug.exceptions.{name}"
        self.description = description
        self.headers = headers or {}


class WorkerKilled(BaseException):
    """The request ran past ``limit_time_real``: the worker dies, its transaction is rolled back.

    A ``BaseException`` so no ``except Exception`` in the ORM swallows it.
    """


class DroppedConnection(BaseException):
    """An injected fault: the connection is closed without an answer."""


def _traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def exception_name(exc: BaseException) -> str:
    """``odoo.exceptions.X`` for Odoo's family, ``module.Class`` (e.g. ``builtins.ValueError``) otherwise."""
    name = getattr(exc, "odoo_name", None)
    if name:
        return str(name)
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def message_of(exc: BaseException) -> str:
    if isinstance(exc, HttpError):
        return exc.description
    if isinstance(exc, KeyError) and exc.args:
        return repr(exc.args[0])
    return str(exc)


def fault_of(exc: BaseException) -> tuple[int, str]:
    """``(faultCode, faultString)`` of ``/xmlrpc/2`` (``xmlrpc_handle_exception_int``)."""
    if isinstance(exc, UserError):
        return exc.fault_code, str(exc)
    return FAULT_APPLICATION, _traceback(exc)


def serialize(exc: BaseException) -> dict[str, Any]:
    """``odoo.http.serialize_exception``: name, message, arguments, context, debug."""
    arguments: list[Any] = list(exc.args) if not isinstance(exc, HttpError) else [exc.description, exc.status]
    return {
        "name": exception_name(exc),
        "message": message_of(exc),
        "arguments": arguments,
        "context": {},
        "debug": "" if isinstance(exc, AccessDenied) else _traceback(exc),
    }


def missing(model: str, ids: list[int], uid: int) -> MissingError:
    """The MissingError a read/write on deleted or unknown ids raises."""
    inside = ", ".join(str(i) for i in ids) + ("," if len(ids) == 1 else "")
    return MissingError(f"Record does not exist or has been deleted.\n(Record: {model}({inside}), User: {uid})")


def operation_failed(detail: str) -> ValidationError:
    """An SQL constraint turned into a ValidationError by the request wrapper (16+; UNCONFIRMED per version)."""
    return ValidationError(f"The operation cannot be completed: {detail}")


def not_null(model_label: str, model: str, field_label: str, field: str) -> ValidationError:
    return ValidationError(
        "The operation cannot be completed:\n"
        "- Create/update: a mandatory field is not set.\n"
        "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"
        f"Model: {model_label} ({model})\nField: {field_label} ({field})\n")


def foreign_key(model_label: str, model: str, constraint: str) -> ValidationError:
    return ValidationError(
        "The operation cannot be completed: another model requires the record being deleted. "
        "If possible, archive it instead.\n\n"
        f"Model: {model_label} ({model})\nConstraint: {constraint}\n")


class OperationalError(Exception):
    """What psycopg2 raises when the database named in a call does not exist."""


OperationalError.__module__ = "psycopg2"

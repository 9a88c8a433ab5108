"""Field values: check one JSON value against its field and turn it into what Zoho stores and returns.

Each check raises the per-record :class:`ZohoError` Zoho puts in a 207 body (``INVALID_DATA``
with ``api_name``/``json_path``/``expected_data_type`` or ``maximum_length``). Lookups are
resolved here too (``{"id": …}`` or an external-id key allowed by ``X-EXTERNAL``), so a dangling
reference is refused rather than stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sandbox.zoho.errors import ZohoError, invalid_data, limit_exceeded, too_long
from sandbox.zoho.schema import FieldDef

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)$")
NUMBER_LIMITS = {"integer": 9, "bigint": 18, "currency": 16, "double": 16, "percent": 5}
TEXT_TYPES = {"text", "textarea", "email", "phone", "website", "autonumber"}

# (module, id) -> document or None; given the target module(s) and a lookup object.
Resolver = Callable[[FieldDef, dict[str, Any], str], dict[str, Any]]


def display_name(module: str, record: dict[str, Any]) -> str:
    """The name Zoho shows for a record in lookups (``{"name", "id"}``)."""
    if module in ("Leads", "Contacts"):
        return " ".join(str(record[k]) for k in ("First_Name", "Last_Name") if record.get(k))
    for key in ("Account_Name", "Deal_Name", "Subject", "Event_Title", "Name", "Note_Title"):
        value = record.get(key)
        if isinstance(value, str):
            return value
    return ""


def _text(fd: FieldDef, value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid_data(fd.api_name, path, fd.data_type)
    text = str(value)
    if len(text) > fd.length:
        raise too_long(fd.api_name, path, fd.length)
    if fd.data_type == "email" and text and not EMAIL_RE.match(text):
        raise invalid_data(fd.api_name, path, "email")
    return text


def _number(fd: FieldDef, value: Any, path: str) -> int | float | str:
    if fd.data_type == "bigint" and isinstance(value, str) and value.lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_data(fd.api_name, path, fd.data_type)
    if fd.data_type in ("integer", "bigint") and not isinstance(value, int):
        raise invalid_data(fd.api_name, path, fd.data_type)
    digits = len(str(abs(int(value))))
    if digits > NUMBER_LIMITS.get(fd.data_type, 16):
        raise too_long(fd.api_name, path, NUMBER_LIMITS.get(fd.data_type, 16))
    return str(value) if fd.data_type == "bigint" else value


def _temporal(fd: FieldDef, value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise invalid_data(fd.api_name, path, fd.data_type)
    try:
        if fd.data_type == "date":
            date.fromisoformat(value)
            if len(value) != 10:
                raise ValueError(value)
        else:
            if not DATETIME_RE.match(value):
                raise ValueError(value)
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid_data(fd.api_name, path, fd.data_type) from None
    return value


def _picklist(fd: FieldDef, value: Any, path: str) -> Any:
    if fd.data_type == "multiselectpicklist":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid_data(fd.api_name, path, "jsonarray")
        chosen = list(value)
    else:
        if not isinstance(value, str):
            raise invalid_data(fd.api_name, path, "picklist")
        chosen = [value]
    for item in chosen:
        if len(item) > fd.length:
            raise too_long(fd.api_name, path, fd.length)
        if fd.picklist and fd.restricted and item not in fd.picklist:
            raise invalid_data(fd.api_name, path, "picklist", reason="value is not in the pick list")
    return value


def _participants(fd: FieldDef, value: Any, path: str, limit: int) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise invalid_data(fd.api_name, path, "jsonarray")
    if len(value) > limit:
        raise limit_exceeded(fd.api_name, path, limit)
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or item.get("type") not in ("lead", "contact", "user", "email") \
                or not isinstance(item.get("participant"), str):
            raise invalid_data(fd.api_name, f"{path}[{i}]", "jsonobject")
        out.append({"type": item["type"], "participant": item["participant"], "status": "not_known"})
    return out


def check_value(fd: FieldDef, value: Any, path: str, resolve: Resolver, max_participants: int) -> Any:
    """The stored form of ``value`` for field ``fd`` (``None`` clears the field)."""
    if value is None:
        return None
    kind = fd.data_type
    if kind in TEXT_TYPES:
        return _text(fd, value, path)
    if kind in NUMBER_LIMITS or kind == "double":
        return _number(fd, value, path)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise invalid_data(fd.api_name, path, "boolean")
        return value
    if kind in ("date", "datetime"):
        return _temporal(fd, value, path)
    if kind in ("picklist", "multiselectpicklist"):
        return _picklist(fd, value, path)
    if kind == "participants":
        return _participants(fd, value, path, max_participants)
    if kind in ("lookup", "ownerlookup", "userlookup", "multi_module_lookup", "parent"):
        if not isinstance(value, dict):
            raise invalid_data(fd.api_name, path, "jsonobject")
        return resolve(fd, value, path)
    raise ZohoError("INVALID_DATA", "invalid data", {"api_name": fd.api_name, "json_path": path})

"""Deserialize incoming values (JSON or CSV cells) into the stored form of a field's type.

Salesforce deserializes before it validates: a date that is not a date never reaches
validation, it is a ``JSON_PARSER_ERROR`` (REST) or a "Failed to deserialize field" row
error (Bulk). This module raises :class:`ValueParseError` for exactly those cases.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime
from typing import Any

from sandbox.salesforce.errors import ValueParseError
from sandbox.salesforce.schema import FieldDef
from sandbox.salesforce.store import sf_datetime

_XSD = {
    "date": ("xsd:date", "date"),
    "datetime": ("xsd:dateTime", "datetime"),
    "double": ("xsd:double", "double"),
    "currency": ("xsd:double", "double"),
    "percent": ("xsd:double", "double"),
    "int": ("xsd:int", "int"),
    "boolean": ("xsd:boolean", "boolean"),
    "base64": ("xsd:base64Binary", "base64"),
}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n"}


def _fail(fdef: FieldDef, value: Any) -> ValueParseError:
    xsd, java = _XSD.get(fdef.type, ("xsd:string", "String"))
    return ValueParseError(fdef.name, value, xsd, java)


def parse_date(text: str) -> date:
    """Parse a date (a datetime string is accepted and truncated, as the API does)."""
    if not re.match(r"^\d{4}-\d{2}-\d{2}(?:T.*)?$", text):
        raise ValueError(text)
    return date.fromisoformat(text[:10])


def parse_datetime(text: str) -> datetime:
    """ISO-8601 with optional millis and Z / ±hh:mm / ±hhmm offset; date-only means midnight UTC."""
    if _DATE_RE.match(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    normalized = text.replace("Z", "+00:00").replace("z", "+00:00")
    match = re.match(r"^(.*[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)([+-]\d{2})(\d{2})$", normalized)
    if match:
        normalized = f"{match.group(1)}{match.group(2)}:{match.group(3)}"
    moment = datetime.fromisoformat(normalized)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def coerce(fdef: FieldDef, value: Any) -> Any:
    """Typed value for ``fdef`` from a JSON value or CSV text; ``""`` and None mean null."""
    if value is None or value == "":
        return None
    kind = fdef.type
    if isinstance(value, dict | list):
        raise _fail(fdef, value)
    try:
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            low = str(value).strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise _fail(fdef, value)
        if kind in ("double", "currency", "percent", "int"):
            if isinstance(value, bool):
                raise _fail(fdef, value)
            if isinstance(value, int | float):
                number = float(value)
            elif isinstance(value, str) and _NUM_RE.match(value.strip()):
                number = float(value.strip())
            else:
                raise _fail(fdef, value)
            if kind == "int":
                if not number.is_integer():
                    raise _fail(fdef, value)
                return int(number)
            return number
        if kind == "date":
            return parse_date(str(value)).isoformat()
        if kind == "datetime":
            return sf_datetime(parse_datetime(str(value)))
        if kind == "base64":
            text = str(value)
            base64.b64decode(text, validate=True)
            return text
    except (ValueError, binascii.Error) as exc:
        raise _fail(fdef, value) from exc
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)

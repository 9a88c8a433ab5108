"""Wire values: GUIDs, Dataverse datetimes and OData literals (URL keys, ``$filter``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MIN_YEAR = 1753


def is_guid(value: Any) -> bool:
    return isinstance(value, str) and bool(GUID_RE.match(value))


def now_iso() -> str:
    """Dataverse's wire form of a UTC datetime: ``2024-01-02T03:04:05Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DateRangeError(ValueError):
    """A date before 1753-01-01 (the platform minimum)."""


def parse_datetime(value: str, date_only: bool) -> str:
    """Normalise an ISO date/datetime to the wire form; ValueError if unparsable, DateRangeError if < 1753."""
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = date.fromisoformat(text)
        if day.year < MIN_YEAR:
            raise DateRangeError(text)
        return text if date_only else f"{text}T00:00:00Z"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment.year < MIN_YEAR:
        raise DateRangeError(text)
    return moment.strftime("%Y-%m-%d") if date_only else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside quotes, parentheses and brackets."""
    parts: list[str] = []
    depth, quoted, start, i = 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    i += 1
                else:
                    quoted = False
        elif ch == "'":
            quoted = True
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def parse_literal(text: str) -> Any:
    """An OData literal: 'string' ('' escapes), GUID, number, true/false, null; ValueError otherwise."""
    raw = text.strip()
    if len(raw) >= 2 and raw[0] == "'" and raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    lowered = raw.lower()
    if lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if is_guid(raw):
        return raw.lower()
    if re.fullmatch(r"[-+]?\d+", raw):
        return int(raw)
    if re.fullmatch(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?[mMdDfF]?", raw):
        return float(raw.rstrip("mMdDfF"))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?", raw):
        return DateLiteral(raw)
    raise ValueError(raw)


class DateLiteral(str):
    """A bare date/datetime literal in ``$filter`` (compared after normalisation)."""

    __slots__ = ()


def parse_key_segment(text: str) -> str | dict[str, Any]:
    """``(guid)`` -> the id; ``(a='x',b=1)`` -> ``{"a": "x", "b": 1}``; ValueError when malformed."""
    raw = text.strip()
    if is_guid(raw):
        return raw.lower()
    out: dict[str, Any] = {}
    for part in split_top_level(raw):
        name, eq, value = part.partition("=")
        if not eq or not name.strip():
            raise ValueError(raw)
        out[name.strip()] = parse_literal(value)
    if not out:
        raise ValueError(raw)
    return out


def key_text(value: Any) -> str:
    """Canonical index form of one key value (case-insensitive strings, like SQL Server's collation)."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, str):
        return "s:" + value.lower()
    if isinstance(value, bool):
        return "b:" + str(int(value))
    if isinstance(value, int | float):
        return "n:" + repr(float(value))
    return "x:" + repr(value)

"""Timestamps as the APIs write them: ISO-8601 with 'Z', or Salesforce's '+0000' offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def parse_time(text: str) -> datetime:
    """An aware datetime from ``2024-01-02T03:04:05Z``, ``...+00:00`` or ``...000+0000``."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = value[:-2] + ":" + value[-2:]
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> datetime:
    return datetime.now(UTC)


def minus(text: str, seconds: int) -> str:
    return iso(parse_time(text) - timedelta(seconds=seconds))

"""Field types inferred from the tenant's data (seed 000: "types are inferred from Sercom data").

Discovery samples a page of every object and profiles each custom field's values. The template
then uses the tenant's declared type when the data agrees with it, and otherwise the type the
data supports (text → Text or Long Text by length, number → Number, date → Date,
true/false → Checkbox). Declared pick-lists gain every value actually used, so no record is
refused for a value the definition forgot.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
TEXT_LIMIT = 255
AGREE = 0.95  # share of sampled values that must fit a type (the rest is dirty data, reported at load)
MAX_OBSERVED = 100


class FieldSample(BaseModel):
    """What a sample of one field's values looks like."""

    seen: int = 0
    kinds: dict[str, int] = Field(default_factory=dict)
    max_length: int = 0
    observed: list[str] = Field(default_factory=list, description="distinct values, when few")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return "boolean"
    if _NUMBER.match(text):
        return "number"
    if _DATE.match(text):
        return "date"
    if _DATETIME.match(text):
        return "datetime"
    return "text"


def sample_field(values: Iterable[Any]) -> FieldSample:
    kinds: Counter[str] = Counter()
    distinct: set[str] = set()
    seen = max_length = 0
    for value in values:
        if value is None or value == "":
            continue
        seen += 1
        kinds[_kind(value)] += 1
        text = str(value)
        max_length = max(max_length, len(text))
        if len(distinct) <= MAX_OBSERVED:
            distinct.add(text)
    observed = sorted(distinct) if len(distinct) <= MAX_OBSERVED else []
    return FieldSample(seen=seen, kinds=dict(kinds), max_length=max_length, observed=observed)


def sample_custom_fields(records: list[dict[str, Any]], keys: Iterable[str]) -> dict[str, FieldSample]:
    return {k: sample_field((r.get("custom_fields") or {}).get(k) for r in records) for k in keys}


def fits(sample: FieldSample | None, kind: str) -> bool:
    """Do (nearly) all sampled values fit ``kind``? An empty sample fits anything."""
    if sample is None or sample.seen == 0:
        return True
    ok = sample.kinds.get(kind, 0)
    if kind == "text":
        ok = sample.seen
    if kind == "datetime":
        ok += sample.kinds.get("date", 0)
    return ok >= AGREE * sample.seen


def data_type(sample: FieldSample) -> str:
    """The type a sample supports on its own (a field no schema declares): boolean, number, date, datetime, text."""
    for kind in ("boolean", "number", "date", "datetime"):
        if sample.seen and fits(sample, kind):
            return kind
    return "text"


def inferred(declared: str, sample: FieldSample | None) -> tuple[str, str]:
    """The type to create and why: the declared one when the data agrees, else what the data supports."""
    if declared == "picklist":
        return "picklist", "declared pick-list"
    if declared in ("number", "date", "boolean", "datetime") and fits(sample, declared):
        return declared, "declared, confirmed by the data"
    for kind in ("boolean", "number", "date", "datetime"):
        if declared == "text":
            break  # a declared text field stays text (codes like "00123" must keep their zeros)
        if sample is not None and sample.seen and fits(sample, kind):
            return kind, f"inferred from {sample.seen} sampled values (declared {declared!r})"
    long = sample is not None and sample.max_length > TEXT_LIMIT
    reason = "declared text" if declared in ("text", "long_text") else f"declared {declared!r}, data is text"
    return ("long_text" if long or declared == "long_text" else "text"), reason

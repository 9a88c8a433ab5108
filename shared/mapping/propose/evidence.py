"""Type and format evidence: what a field's sampled values are, and which destination types can hold them.

A value is classified as one of the kinds below by its shape alone (no locale guessing beyond the
common date orders). A field's kind is what at least :data:`AGREE` of its non-empty sampled values are;
otherwise the declared type stands. Destination field types are read from each platform's describe
(Salesforce ``phone``, Dataverse ``Memo``, Zoho ``website``, Odoo ``monetary``) into the same kinds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

Kind = str  # one of KINDS
KINDS = ("email", "url", "phone", "date", "datetime", "currency", "number", "boolean", "picklist", "text",
         "long_text", "reference")
AGREE = 0.9
LONG_TEXT = 255

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_URL = re.compile(r"^(https?://|www\.)[^\s]+$|^[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|net|org|io|co|de|fr|es|uk)(/\S*)?$",
                  re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,22}$")
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{4})$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_NUMBER = re.compile(r"^-?\d+([.,]\d+)?$")
_CURRENCY = re.compile(r"^([$€£¥]\s?-?[\d,]+(\.\d+)?|-?[\d,]+(\.\d+)?\s?(USD|EUR|GBP|CHF|CAD|AUD|[$€£]))$")
_BOOLEAN = frozenset({"true", "false", "yes", "no", "y", "n", "oui", "non", "ja", "nein", "si"})


def value_kind(value: object) -> Kind:
    """The kind one value looks like."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    text = str(value).strip()
    if text.casefold() in _BOOLEAN:
        return "boolean"
    if _EMAIL.match(text):
        return "email"
    if _DATETIME.match(text):
        return "datetime"
    if _DATE.match(text):
        return "date"
    if _CURRENCY.match(text) and not _NUMBER.match(text):
        return "currency"
    if _NUMBER.match(text):
        return "number"
    if _URL.match(text):
        return "url"
    digits = sum(c.isdigit() for c in text)
    if _PHONE.match(text) and digits >= 7:
        return "phone"
    return "long_text" if len(text) > LONG_TEXT else "text"


@dataclass
class Evidence:
    """What a sample says: the kind most values share, how many agree, the distinct values when few."""

    kind: Kind | None
    agree: int = 0
    seen: int = 0
    distinct: list[str] = field(default_factory=list)
    money_like: bool = False

    def reason(self) -> str:
        if self.kind is None:
            return "no sampled values"
        return f"{self.agree} of {self.seen} sampled values look like {self.kind}"


def profile(values: Iterable[object], max_distinct: int = 50) -> Evidence:
    """Classify a sample of values (empty ones ignored)."""
    kinds: Counter[str] = Counter()
    distinct: dict[str, None] = {}
    money = 0
    for v in values:
        if v is None or v == "":
            continue
        k = value_kind(v)
        kinds["text" if k == "long_text" else k] += 1
        if k == "long_text":
            kinds["long_text"] += 1
        if k == "number" and re.match(r"^-?\d+[.,]\d{2}$", str(v).strip()):
            money += 1
        if len(distinct) <= max_distinct:
            distinct[str(v)] = None
    seen = sum(c for k, c in kinds.items() if k != "long_text")
    if not seen:
        return Evidence(None)
    kind, agree = max(((k, c) for k, c in kinds.items() if k != "long_text"), key=lambda kc: kc[1])
    if kind == "text" and kinds["long_text"] >= AGREE * seen:
        kind = "long_text"
    if agree < AGREE * seen:
        kind, agree = "text", seen
    few = list(distinct) if len(distinct) <= max_distinct else []
    if kind == "text" and few and seen >= 8 and len(few) <= seen // 3:
        kind = "picklist"  # a handful of repeated values: a pick-list in all but name
    return Evidence(kind, agree, seen, few, money_like=kind == "number" and money >= AGREE * seen)


#: Declared source types (Sercom, ServiceTracker, tenant dumps) -> kind.
DECLARED: dict[str, Kind] = {
    "string": "text", "text": "text", "long_text": "long_text", "textarea": "long_text", "email": "email",
    "phone": "phone", "url": "url", "integer": "number", "number": "number", "decimal": "number",
    "currency": "currency", "money": "currency", "boolean": "boolean", "date": "date", "datetime": "datetime",
    "picklist": "picklist", "multi_select": "long_text", "reference": "reference",
}

#: Destination describe types (lower-cased, every platform) -> kind.
DEST_TYPES: dict[str, Kind] = {
    "string": "text", "text": "text", "char": "text", "textarea": "long_text", "memo": "long_text",
    "html": "long_text", "email": "email", "phone": "phone", "url": "url", "website": "url",
    "date": "date", "datetime": "datetime", "double": "number", "int": "number", "integer": "number",
    "bigint": "number", "decimal": "number", "float": "number", "percent": "number", "long": "number",
    "currency": "currency", "money": "currency", "monetary": "currency", "boolean": "boolean",
    "picklist": "picklist", "selection": "picklist", "state": "picklist", "status": "picklist",
    "multiselectpicklist": "long_text", "reference": "reference", "lookup": "reference", "many2one": "reference",
    "owner": "reference", "customer": "reference", "id": "reference",
}

#: (source kind, destination kind) -> how well the destination holds the values (1 the same kind).
_COMPATIBLE: dict[tuple[Kind, Kind], float] = {
    ("number", "currency"): 0.85, ("currency", "number"): 0.7, ("date", "datetime"): 0.8,
    ("datetime", "date"): 0.6, ("picklist", "text"): 0.55, ("text", "picklist"): 0.45,
    ("number", "picklist"): 0.3, ("boolean", "picklist"): 0.3, ("text", "long_text"): 0.8,
    ("long_text", "text"): 0.4, ("phone", "number"): 0.1, ("number", "phone"): 0.3,
}


def source_kind(declared: str, evidence: Evidence | None) -> tuple[Kind, str]:
    """The kind a source field holds and why: the data's when it agrees, else the declaration's."""
    said = DECLARED.get(declared.casefold(), "text")
    if evidence is None or evidence.kind is None:
        return said, f"declared {declared!r}"
    kind = evidence.kind
    if kind == "number" and (said == "currency" or evidence.money_like):
        kind = "currency"  # declared money, or every value has exactly two decimals
    if said == "picklist" and kind in ("text", "picklist"):
        return "picklist", f"declared pick-list; {evidence.reason()}"
    if said in ("email", "phone", "url", "date", "datetime", "number", "boolean") and kind == "text":
        return said, f"declared {declared!r}; {evidence.reason()}"
    return kind, evidence.reason()


def dest_kind(type_name: str) -> Kind:
    return DEST_TYPES.get(type_name.casefold(), "text")


def compatibility(src: Kind, dst: Kind) -> float:
    """How well a destination field of kind ``dst`` holds values of kind ``src`` (0: not at all)."""
    if src == dst:
        return 1.0
    if src == "reference" or dst == "reference":
        return 0.0
    if (src, dst) in _COMPATIBLE:
        return _COMPATIBLE[(src, dst)]
    if dst in ("text", "long_text"):
        return 0.45  # text holds anything, but a typed field would hold it better
    return 0.0

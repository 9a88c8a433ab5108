"""Dirty-data knobs and the exact, streaming selection of the records they spoil.

The Sercom generator samples the spoiled records from whole lists; a ServiceTracker tenant
is generated one record at a time (constant memory), so a record has to know by itself
whether knob ``k`` spoils it. :class:`Selector` answers that with a permutation of the
record indices (``i * P + offset mod n`` with ``P`` coprime to ``n``): exactly
``max(1, round(rate * n))`` records are chosen when the rate is above zero, none when it
is zero, and which ones depends only on (seed, knob, object, field).
"""

from __future__ import annotations

import hashlib
from math import gcd

from pydantic import BaseModel, ConfigDict, Field

BAD_DATES = ("2023-02-30", "31/12/2022", "not a date", "2022-13-01", "00/00/0000", "12-31-2021", "TBD", "")

#: References the ``orphan_rate`` knob may point at records that do not exist. Every other reference resolves.
ORPHANABLE: tuple[tuple[str, str], ...] = (
    ("work_orders", "client_id"), ("work_orders", "asset_id"), ("work_orders", "technician_id"),
    ("work_order_tasks", "work_order_id"), ("parts_used", "work_order_id"), ("invoices", "work_order_id"),
    ("notes", "work_order_id"), ("client_contacts", "default_location_id"),
)
#: First id used for a dangling reference (no generated object gets this many records).
MISSING_ID_BASE = 900_000_000
#: Text the ``long_text_rate`` knob overflows, with the length it is stretched to.
LONG_TEXT: dict[tuple[str, str], int] = {
    ("clients", "name"): 320, ("work_orders", "summary"): 340, ("locations", "city"): 70,
    ("notes", "body"): 4_500, ("work_order_tasks", "subject"): 300,
}
#: Date fields the ``bad_date_rate`` knob may corrupt (``custom_fields.x`` = a custom field).
BAD_DATE_FIELDS: tuple[tuple[str, str], ...] = (
    ("assets", "install_date"), ("contracts", "end_date"), ("projects", "projected_end_date"),
    ("invoices", "due_date"), ("clients", "custom_fields.client_since"),
)


class DirtyKnobs(BaseModel):
    """Rates (0..1) of the data-quality problems real tenants show; the count spoiled is exact."""

    model_config = ConfigDict(extra="forbid")

    orphan_rate: float = Field(default=0.02, ge=0, le=1, description="references to records that do not exist")
    missing_email_rate: float = Field(default=0.03, ge=0, le=1, description="technician/contact email null or ''")
    duplicate_email_rate: float = Field(default=0.02, ge=0, le=1, description="technician/contact email shared")
    long_text_rate: float = Field(default=0.01, ge=0, le=1, description="text beyond destination limits")
    unicode_rate: float = Field(default=0.02, ge=0, le=1, description="accents, CJK, emoji in names and text")
    bad_date_rate: float = Field(default=0.01, ge=0, le=1, description="impossible or mis-formatted dates")

    @classmethod
    def clean(cls) -> DirtyKnobs:
        """All knobs at zero: a perfectly consistent tenant."""
        return cls(**dict.fromkeys(cls.model_fields, 0.0))


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


class Selector:
    """Which records of an object of ``n`` records a knob spoils (exact count, O(1) per question)."""

    def __init__(self, seed: int, knob: str, obj: str, field: str, n: int, rate: float) -> None:
        self.n = n
        self.k = 0 if rate <= 0 or n <= 0 else min(n, max(1, round(rate * n)))
        h = _h(seed, knob, obj, field)
        self.offset = h % max(1, n)
        step = 1_000_003 + (h >> 40) % 1000
        while gcd(step, max(1, n)) != 1:
            step += 1
        self.step = step

    def __contains__(self, index: int) -> bool:
        return self.k > 0 and (index * self.step + self.offset) % self.n < self.k

    def variant(self, index: int, choices: int) -> int:
        """A stable pick among ``choices`` for a spoiled record (which bad date, which emoji)."""
        return (index * 7 + self.offset) % choices


def stretch(text: str, length: int) -> str:
    """Repeat ``text`` with a separator to exactly ``length`` characters."""
    out = text or "x"
    while len(out) < length:
        out = f"{out} - {text or 'x'}"
    return out[:length]

"""The complexity grade and estimate of a migration, before any credentials (``flitstack estimate``,
``POST /estimates``).

Inputs are what a person knows before connecting anything: the pair, record counts per source object (typed
in, or counted from a tenant dump), optionally the destination's daily API allowance and the files' total
size. From the pair's object table (``OBJECT_TABLE``, ``CREATED_OBJECTS`` in ``shared/pairs/<pair>.py``) each
object is graded 1:1, merged, split, custom object or not in the table (needs a mapping); from the
destination's declared capabilities and cost model (``Connector.write_cost``: the same one its client paces
the run with) come the loads, calls and metered units; from the allowance the days at quota, from the
declared concurrency and an assumed time per call the projected duration. Every assumption is stated in the
answer: the estimate never pretends to know what only discovery can read (the org's remaining quota, storage,
custom fields).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.connectors.destination import Capabilities, WriteCost

Compatibility = Literal["1:1", "merged", "split", "custom object", "not in the pair's table"]
#: Points a finding adds to the grade (A: 0-1, B: 2-3, C: 4-5, D: 6+).
GRADES: tuple[tuple[Literal["A", "B", "C"], int], ...] = (("A", 1), ("B", 3), ("C", 5))
#: Objects the estimate takes from a dump's ``objects/<object>.jsonl`` (and ``custom_tables/<key>.jsonl``).
_OBJECT_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: What a quota model's units are called.
UNITS = {"daily_calls": "API calls", "credits": "API credits", "rolling_requests": "requests", "none": "calls"}


class EstimateInput(BaseModel):
    """What a person knows before connecting anything (the edge, ``shared.estimates``, adds the pair's kinds)."""

    model_config = ConfigDict(extra="forbid")

    counts: dict[str, int] = Field(min_length=1, max_length=500,
                                   description="records per source object, e.g. {\"customers\": 1200}")
    attachments_bytes: int = Field(default=0, ge=0, le=10**15, description="total size of the files to move")
    api_budget_per_day: int | None = Field(
        default=None, ge=1, le=10**10,
        description="the destination's daily API allowance in the unit it meters (calls, credits); without it "
                    "the days at quota are not computed")
    seconds_per_call: float = Field(default=1.0, gt=0, le=600,
                                    description="assumed round trip of one write call, for the projected duration")
    seconds_per_record: float = Field(default=0.002, ge=0, le=60,
                                      description="assumed server time per record written (a bulk job's records "
                                                  "take time its few calls do not show)")

    @field_validator("counts")
    @classmethod
    def _counts(cls, value: dict[str, int]) -> dict[str, int]:
        for name, n in value.items():
            if not _OBJECT_NAME.fullmatch(name):
                raise ValueError(f"object {name[:80]!r}: a source object name is 1-64 lower-case letters, digits "
                                 "and '_', starting with a letter")
            if isinstance(n, bool) or not 0 <= n <= 10**10:
                raise ValueError(f"{name}: a record count is a whole number from 0 to 10000000000")
        return value


class ObjectEstimate(BaseModel):
    object: str
    records: int
    lands_in: list[str]
    compatibility: Compatibility
    loads: int
    calls: int
    units: int


class QuotaEstimate(BaseModel):
    model: str
    unit: str
    needed: int
    per_day: int | None
    reserve_fraction: float
    usable_per_day: int | None
    days_at_quota: int | None
    note: str


class Estimate(BaseModel):
    """The grade, with what it was made from."""

    pair: str
    grade: Literal["A", "B", "C", "D"]
    reasons: list[str]
    records: int
    objects: list[ObjectEstimate]
    calls: int
    quota: QuotaEstimate
    duration_seconds: int
    duration: str
    max_parallel_loads: int
    files_bytes: int
    file_limit_bytes: int | None
    custom_objects_created: int
    custom_object_limit: int | None
    assumptions: list[str]


def _compatibility(obj: str, lands: list[str], table: Mapping[str, list[str]], created: set[str]) -> Compatibility:
    if not lands:
        return "not in the pair's table"
    if len(lands) > 1:
        return "split"
    if lands[0] in created:
        return "custom object"
    sharing = [o for o, dests in table.items() if o != obj and lands[0] in dests]
    return "merged" if sharing else "1:1"


def load_sizes(count: int, per_load: int) -> list[int]:
    """A count as the loads the planner packs it into (``bulk_batch_max`` records at most each)."""
    full, rest = divmod(count, per_load)
    return [per_load] * full + ([rest] if rest else [])


def _human(seconds: int) -> str:
    days, rem = divmod(seconds, 86_400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"]
    return " ".join(parts)


def estimate(request: EstimateInput, pair: str, table: Mapping[str, list[str]], created_objects: list[str],
             caps: Capabilities, cost: Callable[[str, int, bool], WriteCost], label: str) -> Estimate:
    """Grade and price the migration of ``request.counts`` for ``pair`` (pure: no connection).

    ``table``/``created_objects``: the pair's object table; ``caps``, ``cost`` and ``label``: the destination's
    declared capabilities, its cost model (``WriteCost`` of one load) and its name.
    """
    created = set(created_objects)
    rows: list[ObjectEstimate] = []
    for obj, count in request.counts.items():
        lands = list(table.get(obj, []))
        loads = calls = units = 0
        for dest_object in lands:
            for size in load_sizes(count, caps.bulk_batch_max):
                paid = cost(dest_object, size, True)
                loads, calls, units = loads + 1, calls + paid.calls, units + paid.units
        rows.append(ObjectEstimate(object=obj, records=count, lands_in=lands, loads=loads, calls=calls, units=units,
                                   compatibility=_compatibility(obj, lands, table, created)))
    records = sum(r.records for r in rows)
    needed = sum(r.units for r in rows)
    calls = sum(r.calls for r in rows)
    unit = UNITS.get(caps.quota_model, "calls")
    usable = None if request.api_budget_per_day is None else int(
        request.api_budget_per_day * (1 - caps.api_reserve_fraction))
    if caps.quota_model in ("daily_calls", "credits"):
        days = None if usable is None else max(1, math.ceil(needed / max(1, usable)))
        note = (f"{needed:,} {unit} against {usable:,} usable a day ({caps.api_reserve_fraction:.0%} left for the "
                "org's other integrations)" if usable is not None else
                f"{needed:,} {unit}; give api_budget_per_day for the days at quota")
    else:
        days = None
        note = ("no daily quota: requests are limited per 5-minute window, paced by 429 Retry-After"
                if caps.quota_model == "rolling_requests" else "the platform documents no API quota")
    quota = QuotaEstimate(model=caps.quota_model, unit=unit, needed=needed, per_day=request.api_budget_per_day,
                          reserve_fraction=caps.api_reserve_fraction, usable_per_day=usable, days_at_quota=days,
                          note=note)
    writes = sum(r.records * len(r.lands_in) for r in rows)
    working = math.ceil((calls * request.seconds_per_call + writes * request.seconds_per_record)
                        / max(1, caps.max_parallel_loads))
    # At quota, the load pauses a day at a time: the last day does its share of the work.
    duration = max(working, (days - 1) * 86_400 + math.ceil(working / days)) if days and days > 1 else working
    created_count = len(created & {d for r in rows for d in r.lands_in})
    grade, reasons = _grade(rows, records, days, created_count, caps.custom_object_limit)
    return Estimate(
        pair=pair, grade=grade, reasons=reasons, records=records, objects=rows, calls=calls, quota=quota,
        duration_seconds=duration, duration=_human(duration), max_parallel_loads=caps.max_parallel_loads,
        files_bytes=request.attachments_bytes, file_limit_bytes=caps.max_file_bytes,
        custom_objects_created=created_count, custom_object_limit=caps.custom_object_limit,
        assumptions=[
            f"each write call takes {request.seconds_per_call:g} s and each record {request.seconds_per_record:g} s "
            f"more; {caps.max_parallel_loads} loads run at once ({label}'s declared concurrency)",
            "each source object is priced at its whole count in every destination object it lands in (an upper "
            "bound for filtered and split objects)",
            "schema creation, read-backs and reconciliation reads are not priced; discovery reads the org's "
            "remaining quota and storage (the pre-scan)",
            *caps.limit_notes,
        ])


def _grade(rows: list[ObjectEstimate], records: int, days: int | None, created: int, limit: int | None
           ) -> tuple[Literal["A", "B", "C", "D"], list[str]]:
    """Points for what makes a migration harder, each with its reason."""
    reasons: list[tuple[int, str]] = []
    if records > 1_000_000:
        reasons.append((3, f"{records:,} records (over 1,000,000)"))
    elif records > 100_000:
        reasons.append((2, f"{records:,} records (over 100,000)"))
    elif records > 10_000:
        reasons.append((1, f"{records:,} records (over 10,000)"))
    mapped = [r for r in rows if r.compatibility != "1:1"]
    share = sum(r.records for r in mapped) / records if records else 0.0
    if share > 0.5:
        reasons.append((2, f"{share:.0%} of the records need more than a 1:1 mapping"))
    elif share > 0.2:
        reasons.append((1, f"{share:.0%} of the records need more than a 1:1 mapping"))
    unknown = [r.object for r in rows if r.compatibility == "not in the pair's table"]
    if unknown:
        reasons.append((2, "objects not in the pair's table need a mapping: " + ", ".join(unknown)))
    if days is not None and days > 7:
        reasons.append((2, f"{days} days at the API quota"))
    elif days is not None and days > 1:
        reasons.append((1, f"{days} days at the API quota"))
    if limit is not None and created > limit:
        reasons.append((2, f"{created} custom objects to create, over the ceiling of {limit}"))
    points = sum(p for p, _ in reasons)
    grade: Literal["A", "B", "C", "D"] = "D"
    for letter, top in GRADES:
        if points <= top:
            grade = letter
            break
    return grade, [r for _, r in reasons] or ["small, every object 1:1, within one day's quota"]


def counts_from_dump(directory: Path) -> tuple[dict[str, int], int]:
    """Record counts per object and the files' total size, read from a tenant dump directory
    (``objects/<object>.jsonl``, ``custom_tables/<key>.jsonl`` as ``custom_<key>``, ``attachments/``), a line at
    a time: the dump formats under docs/ (one JSON record a line)."""
    if not (directory / "objects").is_dir():
        raise ValueError(f"{directory}: not a tenant dump (no objects/ folder; see docs/tenant-dump-format.md)")
    counts: dict[str, int] = {}
    for folder, prefix in (("objects", ""), ("custom_tables", "custom_")):
        for path in sorted((directory / folder).glob("*.jsonl")):
            with path.open("rb") as fh:
                counts[prefix + path.stem] = sum(1 for line in fh if line.strip())
    files = directory / "attachments"
    size = sum(p.stat().st_size for p in files.rglob("*") if p.is_file()) if files.is_dir() else 0
    return counts, size

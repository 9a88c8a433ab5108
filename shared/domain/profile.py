"""Profiles of what a run sent and what the destination holds for one mapping, and their comparison.

Counts alone miss a migration that loaded every record but lost a pick-list translation, a
currency column or a lookup. So reconciliation profiles both sides of each mapping over the
same records and compares the profiles field by field:

- pick-list and boolean fields: a histogram of values;
- number, currency and integer fields: the sum (and how many carried a number);
- date and date-time fields: the earliest and latest value;
- every profiled field, lookups and the owner included: the rate of empty values;
- lookups: how many records sent with a parent hold none in the destination (orphans).

The *expected* side is what the run sent (the load-ready batches, already in destination
field names), less the records the destination refused; the *actual* side is what the
destination holds for exactly those records. Insert-only fields (audit timestamps) that a
record was sent without — it existed already — are left out of that record's comparison on
both sides, and records the destination holds from earlier runs are counted but not profiled.

Cost: the destination side is one read per mapping (one query in the platform's
language, paged as its capabilities declare), or for objects without the external
id one read per chunk of recorded ids (the connector's IN-list size). Long text and file
content are not selected (some platforms cut query pages to 200 rows when two long text fields
are selected); they are listed as not profiled, with the reason.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from shared.connectors.destination import ID
from shared.domain.spill import Spill, batched
from shared.mapping.spec import ObjectMapping

EMPTY = "(empty)"
HISTOGRAM_TRANSFORMS = frozenset({"picklist", "boolean"})
SUM_TRANSFORMS = frozenset({"number", "currency", "integer", "product", "months_between"})
DATE_TRANSFORMS = frozenset({"date", "datetime"})
LONG_TEXT_TRANSFORMS = frozenset({"text", "json", "lines_text", "user_list", "history_html"})
CONTENT_TRANSFORMS = frozenset({"base64_text"})

Kind = Literal["histogram", "sum", "dates", "value"]
CheckName = Literal["accounted", "count", "found", "null_rate", "histogram", "sum", "date_range", "orphans",
                    "rejected_orphans", "source_histogram", "source_sum"]
CheckValue = int | float | str | dict[str, int] | dict[str, str | None] | None


class Thresholds(BaseModel):
    """When a reconciliation check passes. Defaults are strict: a migration either kept the data or it did not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count_difference: int = Field(default=0, description="records the destination count may differ from loaded")
    null_rate_points: float = Field(default=0.5, description="percentage points the empty-value rates may differ")
    histogram_difference: int = Field(default=0, description="records any one pick-list value may differ by")
    sum_relative: float = Field(default=1e-4, description="relative difference of a numeric field's sum")
    sum_absolute: float = Field(default=0.01, description="absolute difference of a sum always tolerated (a cent)")
    destination_orphans: int = Field(default=0, description="records sent with a parent that hold none")
    rejected_orphans: int | None = Field(
        default=None, description="records rejected because their parent was not loaded; None: reported only")
    system_maintained: frozenset[str] = Field(
        default=frozenset({"LastModifiedDate"}),
        description="date fields the destination moves on every later write: only 'not earlier' is checked")
    profile_long_text: bool = Field(default=False, description="also select long text fields (slower queries)")
    empty_number_is_zero: bool = Field(
        default=False, description="the destination stores an empty number as 0 (its capabilities say so): a "
        "number sent empty is profiled as 0, as a checkbox sent empty is profiled as false")


@dataclass(frozen=True)
class ProfiledField:
    """One destination field of a mapping and how it is profiled."""

    name: str
    kind: Kind
    transform: str
    insert_only: bool = False
    lookup: bool = False  # a reference sent by the run: an empty destination value is an orphan
    zero_when_empty: bool = False  # a number the destination cannot hold empty (reads back 0)


def profiled_fields(mapping: ObjectMapping, thresholds: Thresholds) -> tuple[list[ProfiledField], dict[str, str]]:
    """The fields compared for ``mapping``, and the ones left out with the reason."""
    fields: list[ProfiledField] = []
    skipped: dict[str, str] = {}
    for rule in mapping.fields:
        t = rule.transform
        if rule.dest == mapping.attachment_source or t in CONTENT_TRANSFORMS:
            skipped[rule.dest] = "file content"
            continue
        if t in LONG_TEXT_TRANSFORMS and not thresholds.profile_long_text:
            skipped[rule.dest] = "long text (not selected: it would cut query pages to 200 rows)"
            continue
        kind: Kind = ("histogram" if t in HISTOGRAM_TRANSFORMS else "sum" if t in SUM_TRANSFORMS
                      else "dates" if t in DATE_TRANSFORMS else "value")
        fields.append(ProfiledField(rule.dest, kind, t, insert_only=rule.insert_only,
                                    zero_when_empty=kind == "sum" and thresholds.empty_number_is_zero))
    if mapping.attachment_source and mapping.attachment_source not in skipped:
        skipped[mapping.attachment_source] = "file content"
    for lk in mapping.lookups:
        if lk.deferred:
            skipped[lk.dest] = "filled by the fix-up pass, after what was sent"
            continue
        # A lookup named per target (objectid_account, regardingobjectid_incident_task) is
        # profiled under each name a record may carry; the rule's own name only where a target uses it.
        targets = lk.all_targets()
        own = not targets or any(t.dest is None for t in targets) or not lk.source
        for name in lk.all_dests() if own else [d for d in lk.all_dests() if d != lk.dest]:
            fields.append(ProfiledField(name, "value", "lookup", insert_only=lk.insert_only, lookup=True))
    if mapping.owner:
        fields.append(ProfiledField(mapping.owner.dest, "value", "owner"))
    return fields, skipped


def _moment(value: object, transform: str) -> str:
    """Dates as YYYY-MM-DD; date-times as UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ`` whatever offset notation came back."""
    text = str(value).strip()
    if transform == "date":
        return text[:10]
    normalized = text.replace("Z", "+00:00")
    if len(normalized) > 5 and normalized[-5] in "+-" and normalized[-3] != ":":  # +0000 -> +00:00
        normalized = normalized[:-2] + ":" + normalized[-2:]
    try:
        parsed = datetime.fromisoformat(normalized)
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def _label(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class FieldProfile:
    """Aggregates of one field over one side's records."""

    records: int = 0
    empty: int = 0
    histogram: Counter[str] = field(default_factory=Counter)
    total: float = 0.0
    numbers: int = 0
    low: str | None = None
    high: str | None = None

    def add(self, f: ProfiledField, value: object) -> None:
        self.records += 1
        if f.transform == "boolean" and value in (None, ""):
            value = False  # a checkbox that is never empty on the platform: nothing sent is stored as false
        if f.zero_when_empty and value in (None, ""):
            value = 0.0  # a number the platform cannot hold empty: nothing sent is stored as 0
        if value is None or value == "":
            self.empty += 1
            if f.kind == "histogram":
                self.histogram[EMPTY] += 1
            return
        if f.kind == "histogram":
            label = _label(value)
            self.histogram[label.lower() if f.transform == "boolean" else label] += 1
        elif f.kind == "sum":
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                self.empty += 1  # not a number: counted as empty, which the null-rate check shows
                return
            self.total += number
            self.numbers += 1
        elif f.kind == "dates":
            moment = _moment(value, f.transform)
            self.low = moment if self.low is None or moment < self.low else self.low
            self.high = moment if self.high is None or moment > self.high else self.high

    @property
    def empty_rate(self) -> float:
        """Percentage of the records with no value."""
        return 100.0 * self.empty / self.records if self.records else 0.0


@dataclass
class Profile:
    records: int = 0
    fields: dict[str, FieldProfile] = field(default_factory=dict)
    linked: Counter[str] = field(default_factory=Counter)  # lookups holding a value
    orphans: Counter[str] = field(default_factory=Counter)  # lookups sent with a value, held empty

    def of(self, name: str) -> FieldProfile:
        return self.fields.setdefault(name, FieldProfile())


@dataclass
class Pair:
    """Both sides profiled over the same records: those the run sent, the destination accepted and holds."""

    sent: Profile
    held: Profile
    accepted: int  # records sent and not refused by the destination
    missing: int  # of those, how many the destination does not hold
    missing_keys: list[str] = field(default_factory=list)  # the first of them in key order (for the report)


#: Key sets a profile keeps in its :class:`~shared.domain.spill.Spill` (beside the destination's rows).
REFUSED, SENT, MISSING, COMPARED, SOURCE_SEEN = "refused", "sent", "missing", "compared", "source_seen"
#: Missing keys named in the report.
MISSING_SHOWN = 5


def profile_pair(fields: list[ProfiledField], records: Iterable[Mapping[str, Any]], key_field: str,
                 held_rows: Spill) -> Pair:
    """Profile the load-ready ``records`` against the destination's rows of the same keys.

    ``held_rows`` holds the destination's rows by source key and the set :data:`REFUSED`; the
    records are read in batches and their rows looked up a batch at a time, so nothing here grows
    with the number of records (the keys seen go to the spill's sets). A record sent without an
    insert-only field (it existed already) is compared without that field on both sides. Records
    refused by the destination are left out; accepted records the destination does not hold are
    counted as missing (and left out of the field comparison, so one missing record fails the
    count checks, not every histogram). Rows no sent record matches (earlier runs) are not
    profiled. The keys compared on both sides are marked :data:`COMPARED` for :func:`profile_source`.
    """
    sent, held = Profile(), Profile()
    insert_only = [f for f in fields if f.insert_only]
    for part in batched(records):
        keys = [str(rec.get(key_field, "")) for rec in part]
        skip_keys = held_rows.marked(REFUSED, keys) | held_rows.marked(SENT, keys)
        rows = held_rows.get(k for k in keys if k not in skip_keys)
        first_seen: list[str] = []
        missing: list[str] = []
        compared: list[str] = []
        for rec, key in zip(part, keys, strict=True):
            if key in skip_keys:
                continue
            skip_keys.add(key)
            first_seen.append(key)
            row = rows.get(key)
            if row is None:
                missing.append(key)
                continue
            compared.append(key)
            skip = {f.name for f in insert_only if f.name not in rec} if insert_only else set()
            sent.records += 1
            held.records += 1
            for f in fields:
                if f.name in skip:
                    continue
                mine, theirs = rec.get(f.name), row.get(f.name)
                sent.of(f.name).add(f, mine)
                held.of(f.name).add(f, theirs)
                if f.lookup and mine not in (None, ""):
                    sent.linked[f.name] += 1
                    if theirs in (None, ""):
                        held.orphans[f.name] += 1
        held_rows.mark(SENT, first_seen)
        held_rows.mark(MISSING, missing)
        held_rows.mark(COMPARED, compared)
    for f in fields:
        sent.of(f.name)
        held.of(f.name)
    return Pair(sent, held, held_rows.count(SENT), held_rows.count(MISSING),
                held_rows.first(MISSING, MISSING_SHOWN + 1))


# --- the destination side ------------------------------------------------------------------------------

#: Recorded ids asked of the destination per ``rows_by_id`` call (a multiple of every connector's IN-list size).
READ_IDS = 2_000


class ProfileDestination(Protocol):
    """What profiling needs from a destination connector (every :class:`~shared.connectors.destination.Destination`)."""

    def rows_with_key_prefix(self, obj: str, fields: list[str], key_field: str, prefix: str
                             ) -> Iterator[dict[str, Any]]: ...

    def rows_by_id(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any]]: ...


def destination_rows(dest: ProfileDestination, mapping: ObjectMapping, fields: list[ProfiledField], key_field: str,
                     recorded_ids: Iterable[tuple[str, str]] | None = None
                     ) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """The destination's records of ``mapping`` with the profiled fields, each with its source key, as read.

    With the external id: every record whose key has the mapping's source-object prefix (the
    rows of other source objects sharing the destination object are not selected), page by page.
    Without (``recorded_ids``: (id, source key) pairs in id order, as ``xwalk.Snapshot.by_id`` reads them, for
    natural-key objects): by the ids the run recorded, :data:`READ_IDS` at a time, each id once (the last key
    given for it) and only keys of the mapping's source object; nothing but one chunk is held. A row whose id
    the run did not record comes with the key None (it is counted, not profiled). Rows carry the record id
    under ``Id`` whatever the platform calls it.
    """
    prefix = f"{mapping.source_object}:"
    names = list(dict.fromkeys(f.name for f in fields if f.name not in (ID, key_field)))
    if recorded_ids is None:
        for row in dest.rows_with_key_prefix(mapping.dest_object, names, key_field, prefix):
            key = str(row.get(key_field) or "")
            if key.startswith(prefix):
                yield key, row
        return
    for part in _id_chunks(((i, k) for i, k in recorded_ids if k.startswith(prefix)), READ_IDS):
        for row in dest.rows_by_id(mapping.dest_object, list(part), names):
            yield part.get(str(row.get(ID))), row


def _id_chunks(pairs: Iterable[tuple[str, str]], size: int) -> Iterator[dict[str, str]]:
    """id -> key, ``size`` distinct ids at a time, from (id, key) pairs in id order (an id's pairs adjacent)."""
    chunk: dict[str, str] = {}
    for dest_id, key in pairs:
        if len(chunk) >= size and dest_id not in chunk:
            yield chunk
            chunk = {}
        chunk[dest_id] = key
    if chunk:
        yield chunk


# --- comparison -----------------------------------------------------------------------------------------


class Check(BaseModel):
    """One comparison, with both numbers, the difference, the limit it was held to and the verdict."""

    model_config = ConfigDict(extra="forbid")

    check: CheckName
    field: str | None = None
    source: CheckValue = None
    destination: CheckValue = None
    difference: float | None = None
    limit: str = ""
    passed: bool
    note: str = ""


def _round(x: float) -> float:
    return round(x, 6) if math.isfinite(x) else x


def compare(fields: list[ProfiledField], pair: Pair, thresholds: Thresholds, rejected_orphans: int = 0
            ) -> list[Check]:
    """Field by field checks of what the destination holds against what was sent (counts: the caller's)."""
    t = thresholds
    sent, held, missing = pair.sent, pair.held, pair.missing
    checks = [Check(check="found", source=pair.accepted, destination=pair.accepted - missing,
                    difference=float(missing), limit=f"missing <= {t.count_difference}",
                    passed=missing <= t.count_difference,
                    note=("not in the destination: " + ", ".join(pair.missing_keys[:MISSING_SHOWN])
                          + (" …" if missing > MISSING_SHOWN else "")) if missing else
                    "every record the destination accepted is there")]
    for f in fields:
        s, d = sent.of(f.name), held.of(f.name)
        gap = abs(s.empty_rate - d.empty_rate)
        checks.append(Check(check="null_rate", field=f.name, source=_round(s.empty_rate),
                            destination=_round(d.empty_rate), difference=_round(gap),
                            limit=f"<= {t.null_rate_points} points", passed=gap <= t.null_rate_points + 1e-9,
                            note=f"{s.empty} of {s.records} sent empty; {d.empty} of {d.records} held empty"))
        if f.kind == "histogram":
            values = sorted(set(s.histogram) | set(d.histogram))
            worst = max((abs(s.histogram[v] - d.histogram[v]) for v in values), default=0)
            moved = [v for v in values if s.histogram[v] != d.histogram[v]]
            checks.append(Check(check="histogram", field=f.name, source=dict(sorted(s.histogram.items())),
                                destination=dict(sorted(d.histogram.items())), difference=float(worst),
                                limit=f"each value within {t.histogram_difference} records",
                                passed=worst <= t.histogram_difference,
                                note=("differs for " + ", ".join(moved[:6])) if moved else ""))
        elif f.kind == "sum":
            gap = abs(d.total - s.total)
            allowed = max(t.sum_absolute, t.sum_relative * abs(s.total))
            checks.append(Check(check="sum", field=f.name, source=_round(s.total), destination=_round(d.total),
                                difference=_round(gap), limit=f"<= max({t.sum_absolute}, {t.sum_relative} * sum)",
                                passed=gap <= allowed + 1e-9,
                                note=f"{s.numbers} values sent, {d.numbers} held"))
        elif f.kind == "dates":
            src = {"min": s.low, "max": s.high}
            dst = {"min": d.low, "max": d.high}
            if f.name in t.system_maintained:
                ok = all(src[k] is None or (dst[k] is not None and str(dst[k]) >= str(src[k])) for k in src)
                checks.append(Check(check="date_range", field=f.name, source=src, destination=dst,
                                    limit="not earlier than sent", passed=ok,
                                    note="the destination moves it on every later write (fix-up, automation)"))
            else:
                checks.append(Check(check="date_range", field=f.name, source=src, destination=dst,
                                    limit="min and max equal", passed=src == dst))
        if f.lookup:
            orphans = held.orphans[f.name]
            checks.append(Check(check="orphans", field=f.name, source=sent.linked[f.name], destination=orphans,
                                difference=float(orphans), limit=f"<= {t.destination_orphans}",
                                passed=orphans <= t.destination_orphans,
                                note="records sent with a parent that hold none in the destination"))
    limit = "reported only" if t.rejected_orphans is None else f"<= {t.rejected_orphans}"
    checks.append(Check(check="rejected_orphans", source=rejected_orphans, limit=limit,
                        passed=t.rejected_orphans is None or rejected_orphans <= t.rejected_orphans,
                        note="rejected before loading: the parent was not loaded (rejects.csv, code orphan)"))
    return checks


# --- the source side -----------------------------------------------------------------------------------
#
# What the run sent is already translated: a translation that merges two source values (two statuses
# landing on one, an unmapped value swallowed by a default it should not have reached) leaves sent and
# held equal. So for every field filled from one raw source value, the raw values of the same records are
# profiled too, translated *as the confirmed mapping declares* (value maps, their default), and the
# destination must hold exactly that distribution; numeric fields must sum to the raw source's sum.

SOURCE_HISTOGRAM_TRANSFORMS = frozenset({"picklist", "choice"})
SOURCE_SUM_TRANSFORMS = frozenset({"number", "currency"})


@dataclass(frozen=True)
class SourceField:
    """A destination field whose value follows from one raw source value, as the mapping declares it."""

    dest: str
    source: str
    kind: Literal["histogram", "sum"]
    value_map: Mapping[str, str] | None = None
    default: str | None = None
    max_length: int | None = None

    def raw(self, record: Mapping[str, Any]) -> Any:
        cur: Any = record
        for part in self.source.split("."):
            if not isinstance(cur, Mapping):
                return None
            cur = cur.get(part)
        return cur

    def expected(self, raw: Any) -> str:
        """The destination label the declared map gives ``raw`` (exact key, then trimmed and case-folded)."""
        if raw is None or raw == "":
            return EMPTY
        key = _label(raw)
        vm = self.value_map or {}
        hit = vm.get(key)
        if hit is None:
            folded = key.strip().casefold()
            hit = next((v for k, v in vm.items() if k.casefold() == folded), None)
        if hit is None:  # the default, or (no default) left empty and reported as a field issue
            hit = self.default if self.default is not None else EMPTY
        return hit[:self.max_length] if self.max_length and hit != EMPTY else hit


def source_fields(mapping: ObjectMapping) -> list[SourceField]:
    """The mapping's fields reconciled against raw source values (single source, not insert-only)."""
    out: list[SourceField] = []
    if mapping.explode:  # one record per list element: the raw record is not the destination record's
        return out
    for rule in mapping.fields:
        if not rule.source or rule.insert_only:
            continue
        if rule.transform in SOURCE_HISTOGRAM_TRANSFORMS:
            out.append(SourceField(rule.dest, rule.source, "histogram", rule.value_map, rule.default,
                                   rule.max_length))
        elif rule.transform in SOURCE_SUM_TRANSFORMS:
            out.append(SourceField(rule.dest, rule.source, "sum"))
    return out


@dataclass
class SourceSide:
    """Raw source values of the compared records: raw histogram, what the map expects, what is held."""

    raw: dict[str, Counter[str]] = field(default_factory=dict)
    expected: dict[str, Counter[str]] = field(default_factory=dict)
    held: dict[str, Counter[str]] = field(default_factory=dict)
    sums: dict[str, list[float]] = field(default_factory=dict)  # dest -> [raw sum, held sum, raw numbers]


def _number(value: object) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def profile_source(fields: list[SourceField], raw_records: Iterable[Mapping[str, Any]], key_of: Any,
                   held_rows: Spill) -> SourceSide:
    """Profile the raw source records whose key (``key_of(record)``) was compared on both sides.

    The compared keys are those :func:`profile_pair` marked in ``held_rows``; the records are read
    in batches, each batch's rows looked up at once.
    """
    side = SourceSide()
    for part in batched(raw_records):
        keys = [key_of(rec) for rec in part]
        rows = held_rows.get(keys, marked=COMPARED)
        seen = held_rows.marked(SOURCE_SEEN, [k for k in keys if k in rows])
        first_seen: list[str] = []
        for rec, key in zip(part, keys, strict=True):
            if key not in rows or key in seen:
                continue
            seen.add(key)
            first_seen.append(key)
            row = rows[key]
            for f in fields:
                raw = f.raw(rec)
                if f.kind == "histogram":
                    side.raw.setdefault(f.dest, Counter())[EMPTY if raw in (None, "") else _label(raw)] += 1
                    side.expected.setdefault(f.dest, Counter())[f.expected(raw)] += 1
                    held = row.get(f.dest)
                    side.held.setdefault(f.dest, Counter())[EMPTY if held in (None, "") else _label(held)] += 1
                else:
                    sums = side.sums.setdefault(f.dest, [0.0, 0.0, 0.0])
                    mine, theirs = _number(raw), _number(row.get(f.dest))
                    if mine is not None:
                        sums[0] += mine
                        sums[2] += 1
                    sums[1] += theirs or 0.0
        held_rows.mark(SOURCE_SEEN, first_seen)
    return side


def compare_source(side: SourceSide, thresholds: Thresholds) -> list[Check]:
    """The destination against the raw source translated as declared (a merging translation fails here)."""
    t = thresholds
    checks: list[Check] = []
    for dest, expected in sorted(side.expected.items()):
        held = side.held.get(dest, Counter())
        values = sorted(set(expected) | set(held))
        worst = max((abs(expected[v] - held[v]) for v in values), default=0)
        moved = [v for v in values if expected[v] != held[v]]
        raw = side.raw.get(dest, Counter())
        checks.append(Check(
            check="source_histogram", field=dest, source=dict(sorted(raw.items())),
            destination=dict(sorted(held.items())), difference=float(worst),
            limit=f"each value within {t.histogram_difference} records of the raw source through the declared map",
            passed=worst <= t.histogram_difference,
            note=(f"expected {dict(sorted(expected.items()))}; differs for " + ", ".join(moved[:6])) if moved
            else f"{len(raw)} source values -> {len(held)} destination values, as the mapping declares"))
    for dest, (raw_sum, held_sum, numbers) in sorted(side.sums.items()):
        gap = abs(held_sum - raw_sum)
        allowed = max(t.sum_absolute, t.sum_relative * abs(raw_sum))
        checks.append(Check(check="source_sum", field=dest, source=_round(raw_sum), destination=_round(held_sum),
                            difference=_round(gap), limit=f"<= max({t.sum_absolute}, {t.sum_relative} * raw sum)",
                            passed=gap <= allowed + 1e-9, note=f"{int(numbers)} raw source values"))
    return checks

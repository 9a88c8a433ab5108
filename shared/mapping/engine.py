"""Compile a :class:`~shared.mapping.spec.ObjectMapping` into a fast record transformer.

Hot path: every field rule becomes one closure built once per batch, so a record costs a
handful of dict lookups per field (the benchmark holds this to >= 20,000 records/s/core).
A record either comes out load-ready, with field-level *issues* for anything altered
(truncated, unmapped pick-list value, unparseable date, missing lookup), or it is
*rejected* with the reason; nothing is dropped silently.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.errors import RecordReject
from shared.mapping.spec import MULTI_SOURCE, Condition, FieldRule, LookupTarget, MigrationSpec, ObjectMapping

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_MISSING = object()

Getter = Callable[[Mapping[str, Any]], Any]


def source_key(source_object: str, source_id: str) -> str:
    """The value stored in the destination's external-id field: unique across source objects."""
    return f"{source_object}:{source_id}"


@dataclass
class Issue:
    """A field-level change the person should know about (value truncated, dropped, defaulted)."""

    source_object: str
    source_id: str
    dest_object: str
    field: str
    code: str
    detail: str

    def as_row(self) -> dict[str, str]:
        return self.__dict__.copy()


@dataclass
class TransformResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    rejects: list[RecordReject] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    skipped: int = 0
    seen: int = 0

    def merge(self, other: TransformResult) -> None:
        """Append ``other`` (the next slice of the same batch) to this result."""
        self.records.extend(other.records)
        self.keys.extend(other.keys)
        self.rejects.extend(other.rejects)
        self.issues.extend(other.issues)
        self.skipped += other.skipped
        self.seen += other.seen


class _Invalid(Exception):
    """Internal signal: a value cannot be converted (becomes an issue or a reject)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _getter(path: str) -> Getter:
    parts = path.split(".")
    if len(parts) == 1:
        key = parts[0]
        return lambda rec: rec.get(key)
    if len(parts) == 2:
        a, b = parts

        def get2(rec: Mapping[str, Any]) -> Any:
            inner = rec.get(a)
            return inner.get(b) if isinstance(inner, dict) else None

        return get2

    def getn(rec: Mapping[str, Any]) -> Any:
        cur: Any = rec
        for p in parts:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(p)
        return cur

    return getn


def _word_getter(path: str) -> Getter:
    """A getter for ``where`` tests, whose values are words: a JSON boolean reads as ``"true"`` / ``"false"``
    (``where={"billable": ["true"]}``), any other value as it is."""
    get = _getter(path)

    def word(rec: Mapping[str, Any]) -> Any:
        value = get(rec)
        return ("true" if value else "false") if isinstance(value, bool) else value

    return word


def _to_date(value: Any) -> str:
    text = str(value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise _Invalid("invalid_date", f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def _to_datetime(value: Any) -> str:
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Invalid("invalid_datetime", f"{text!r} is not an ISO-8601 date-time") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _to_number(value: Any) -> float:
    if isinstance(value, bool):
        raise _Invalid("invalid_number", f"{value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Invalid("invalid_number", f"{value!r} is not a number") from None


def _to_int(value: Any) -> int:
    number = _to_number(value)
    if number != int(number):
        raise _Invalid("invalid_integer", f"{value!r} is not a whole number")
    return int(number)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n"):
        return False
    raise _Invalid("invalid_boolean", f"{value!r} is not true/false")


def _months_between(start: Any, end: Any) -> int | None:
    if start in (None, "") or end in (None, ""):
        return None
    a, b = date.fromisoformat(_to_date(start)), date.fromisoformat(_to_date(end))
    months = (b.year - a.year) * 12 + (b.month - a.month) + (1 if b.day >= a.day else 0)
    if months < 1:
        raise _Invalid("invalid_range", f"end {b} is not after start {a}")
    return months


def _add_minutes(start: Any, minutes: Any) -> str | None:
    """An end time: a start date-time plus a duration in minutes (0 or empty: the start itself)."""
    if start in (None, ""):
        return None
    begin = datetime.strptime(_to_datetime(start), "%Y-%m-%dT%H:%M:%S.000Z")
    span = 0.0 if minutes in (None, "") else _to_number(minutes)
    return (begin + timedelta(minutes=span)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _product(a: Any, b: Any) -> float | None:
    if a in (None, "") or b in (None, ""):
        return None
    return round(_to_number(a) * _to_number(b), 2)


def _converter(rule: FieldRule) -> Callable[[Any], Any]:
    t = rule.transform
    if t in ("string", "phone", "url", "text"):
        return lambda v: str(v).strip() if t != "text" else str(v)
    if t == "email":

        def email(v: Any) -> str:
            text = str(v).strip().lower()
            if not _EMAIL.match(text):
                raise _Invalid("invalid_email", f"{v!r} is not an email address")
            return text

        return email
    if t == "date":
        return _to_date
    if t == "datetime":
        return _to_datetime
    if t in ("number", "currency"):
        return _to_number
    if t == "integer":
        return _to_int
    if t == "boolean":
        if rule.value_map is not None:
            truthy = rule.value_map
            return lambda v: _to_bool(truthy.get(str(v), "false"))
        return _to_bool
    if t == "base64_text":
        return lambda v: base64.b64encode(str(v).encode("utf-8")).decode("ascii")
    if t == "picklist":
        value_map = rule.value_map or {}
        folded = {k.casefold(): v for k, v in value_map.items()}
        default = rule.default

        def picklist(v: Any) -> str:
            key = str(v)
            mapped = value_map.get(key) or folded.get(key.strip().casefold())
            if mapped is None:
                if default is not None:
                    raise _Defaulted(default, f"{key!r} has no mapping; {default!r} used")
                raise _Invalid("unmapped_picklist_value", f"{key!r} has no mapping (allowed: {sorted(value_map)})")
            return mapped

        return picklist
    if t == "choice":  # an integer option set (Dataverse): value by value, ints out
        labels = _converter(rule.model_copy(update={"transform": "picklist"}))

        def choice(v: Any) -> int:
            try:
                return int(labels(v))
            except _Defaulted as swapped:
                raise _Defaulted(int(swapped.value), swapped.detail) from None

        return choice
    if t == "json":
        return lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True)
    if t == "lines_text":
        return lambda v: "\n".join(str(x) for x in v) if isinstance(v, list) else str(v)
    if t == "history_html":
        return _history_html(rule.value_map or {})
    raise ValueError(f"unknown transform {t!r}")


def _history_html(labels: dict[str, str]) -> Callable[[Any], str]:
    """A status history (``[{status, at}]``) as one HTML summary, oldest first, each change with its original
    time in UTC and its status label (``labels``, else the source value): the text of a chatter summary."""

    def history(v: Any) -> str:
        if not isinstance(v, list):
            raise _Invalid("invalid_value", f"{v!r} is not a list of status changes")
        rows = []
        for item in v:
            if not isinstance(item, Mapping) or item.get("status") in (None, "") or item.get("at") in (None, ""):
                raise _Invalid("invalid_value", f"{item!r} is not a status change (status and at)")
            at = _to_datetime(item["at"])
            label = labels.get(str(item["status"]), str(item["status"]))
            rows.append((at, f"<li>{at[:10]} {at[11:19]} UTC: {html.escape(label)}</li>"))
        if not rows:
            return "<p>Status history: no status change recorded.</p>"
        return "<p>Status history:</p><ul>" + "".join(r for _, r in sorted(rows, key=lambda x: x[0])) + "</ul>"

    return history


class _Defaulted(Exception):
    """Internal signal: a pick-list value was replaced by the rule's default (reported as an issue)."""

    def __init__(self, value: str | int, detail: str) -> None:
        super().__init__(detail)
        self.value = value
        self.detail = detail


@dataclass
class _CompiledField:
    rule: FieldRule
    get: Getter | None
    convert: Callable[[Any], Any] | None


def output_size(mapping: ObjectMapping, records: list[dict[str, Any]]) -> int:
    """How many records ``mapping`` would emit for ``records`` (filters and explode applied, no transform).

    Extraction records this per batch so the load plan can pack small filtered slices into
    full-sized loads instead of one small load per source batch.
    """
    count = output_counter(mapping)
    return sum(count(rec) for rec in records)


def output_counter(mapping: ObjectMapping) -> Callable[[dict[str, Any]], int]:
    """How many records ``mapping`` would emit for one source record (:func:`output_size`, a record at a time)."""
    explode = _getter(mapping.explode) if mapping.explode else None
    where = [(_word_getter(k), frozenset(v)) for k, v in mapping.where.items()]
    present = [_getter(k) for k in mapping.require_present]
    unless = [condition_test(c) for c in mapping.unless]

    def count(rec: dict[str, Any]) -> int:
        if explode is not None:
            items = explode(rec)
            return len(items) if isinstance(items, list) else 0
        return int(all(_allowed(g(rec), allowed) for g, allowed in where)
                   and all(g(rec) not in (None, "") for g in present) and not any(test(rec) for test in unless))

    return count


def _allowed(value: Any, allowed: frozenset[str]) -> bool:
    """Whether a source value is one of a condition's values (a boolean matches ``"true"``/``"false"``)."""
    if isinstance(value, bool):
        return ("true" if value else "false") in allowed
    return value in allowed


def condition_test(condition: Condition) -> Callable[[Mapping[str, Any]], bool]:
    """A test on a source record: each ``where`` field holds an allowed word, each ``present`` field is set."""
    where = [(_word_getter(k), frozenset(v)) for k, v in condition.where.items()]
    present = [_getter(k) for k in condition.present]

    def test(rec: Mapping[str, Any]) -> bool:
        return all(_allowed(g(rec), allowed) for g, allowed in where) and all(g(rec) not in (None, "") for g in present)

    return test


def crosswalk_aliases(spec: MigrationSpec, dest_object: str, crosswalk: Mapping[str, str]) -> dict[str, str]:
    """Crosswalk entries for merged duplicates: each duplicate's key -> its surviving record's id.

    The loader adds them after the survivors load so that code resolving keys without the
    engine (the fix-up pass, delta runs) finds the duplicates too. Only objects whose mappings
    land in ``dest_object`` and whose survivor is in ``crosswalk`` get an entry.
    """
    sources = {m.source_object for m in spec.mappings if m.dest_object == dest_object}
    out: dict[str, str] = {}
    for obj, duplicates in spec.merged.items():
        if obj not in sources:
            continue
        for duplicate, survivor in duplicates.items():
            found = crosswalk.get(source_key(obj, survivor))
            if found is not None:
                out[source_key(obj, duplicate)] = found
    return out


class Prefetched(Mapping[str, str]):
    """A snapshot with the entries of ``keys`` read up front (its ``get_many`` when it has one, e.g.
    :meth:`shared.domain.xwalk.Snapshot.get_many`: one query per chunk of keys): a lookup of one of them is a
    dict access, any other key still a lookup in the snapshot.

    A transform batch looks up every record's parents: a point query each releases and re-takes the GIL that
    the local engine's other threads compete for. (Level-2 transforms took twice as long after D-054; whether
    this removes that is not measured yet.) The answers held are at most the batch's own references (bounded
    by the batch size, not the tenant)."""

    def __init__(self, snapshot: Mapping[str, str], keys: Iterable[str]) -> None:
        self._snapshot = snapshot
        self._asked = set(keys)
        many = getattr(snapshot, "get_many", None)
        self._found: dict[str, str] = (many(self._asked) if many is not None else
                                       {k: v for k in self._asked if (v := snapshot.get(k)) is not None})

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._asked:
            return self._found.get(key, default)
        return self._snapshot.get(key, default)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return str(value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._snapshot)

    def __len__(self) -> int:
        return len(self._snapshot)


class CompiledMapping:
    """An :class:`ObjectMapping` ready to apply to many records."""

    def __init__(
        self,
        spec: MigrationSpec,
        mapping: ObjectMapping,
        crosswalk: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.spec = spec
        self.mapping = mapping
        self.crosswalk = crosswalk
        self.fields = [
            _CompiledField(r, _getter(r.source) if r.source else None, self._convert_for(r)) for r in mapping.fields
        ]
        self.multi_getters = {r.dest: [_getter(s) for s in r.sources] for r in mapping.fields if r.sources}
        self.where = [(_word_getter(k), frozenset(v)) for k, v in mapping.where.items()]
        self.lookups = [
            (
                lk,
                _getter(lk.source),
                _getter(lk.type_field) if lk.type_field else None,
                [(_getter(c.source), c.target) for c in lk.or_else],
            )
            for lk in mapping.lookups
            if not lk.deferred
        ]
        self.insert_only_lookups = frozenset(d for lk in mapping.lookups if lk.insert_only for d in lk.all_dests())
        self.owner_get = _getter(mapping.owner.source) if mapping.owner else None

        self.present = [_getter(k) for k in mapping.require_present]
        self.unless = [condition_test(c) for c in mapping.unless]
        self.aliases = spec.merged
        #: what ``_resolve`` reads: the snapshots, or (inside ``apply``) the batch's prefetched view of them
        self._lookup: Mapping[str, Mapping[str, str]] = crosswalk
        self.merged = {} if mapping.explode else spec.merged.get(mapping.source_object, {})

    def _convert_for(self, rule: FieldRule) -> Callable[[Any], Any] | None:
        if rule.transform == "constant" or rule.transform in MULTI_SOURCE:
            return None
        if rule.transform == "user_list":
            owners = self.spec.owners

            def user_list(v: Any) -> str:
                ids = v if isinstance(v, list) else [v]
                return "\n".join(f"{t} -> {owners.get(str(t), 'unmatched')}" for t in ids)

            return user_list
        return _converter(rule)

    def own_reject(self, record: Mapping[str, Any]) -> RecordReject | None:
        """The reject ``record`` earns from its own values alone, no lookup consulted (a bad date, a required
        field empty): the pre-scan predicts it before any write, so the records pointing at it are known to
        become orphans too."""
        sid = str(record.get("id", ""))
        return self._fields(record, sid, source_key(self.mapping.source_object, sid), {}, [], existing=False)

    def matches(self, record: Mapping[str, Any]) -> bool:
        return (all(_allowed(get(record), allowed) for get, allowed in self.where)
                and all(get(record) not in (None, "") for get in self.present)
                and not any(test(record) for test in self.unless))

    def expand(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records this mapping sees: the source records, or the elements of its ``explode`` list."""
        if not self.mapping.explode:
            return records
        get = _getter(self.mapping.explode)
        out = []
        for rec in records:
            items = get(rec)
            for n, element in enumerate(items if isinstance(items, list) else []):
                if isinstance(element, dict):
                    out.append({**element, "id": f"{rec.get('id')}#{n}", "_parent": rec})
        return out

    def apply(self, records: list[dict[str, Any]], existing_keys: Container[str] = frozenset()) -> TransformResult:
        """Map ``records``; those whose source key is in ``existing_keys`` (the destination holds them already)
        leave their insert-only fields and insert-only lookups out."""
        out = TransformResult()
        m = self.mapping
        records = self.expand(records)
        self._lookup = self._prefetch(records)
        out.seen = len(records)
        ext_field = self.spec.external_id_field
        for record in records:
            if (self.where or self.present or self.unless) and not self.matches(record):
                out.skipped += 1
                continue
            sid = str(record.get("id", ""))
            if self.merged and sid in self.merged:  # a duplicate: its survivor carries it (lookups redirect)
                out.skipped += 1
                out.issues.append(self._issue(sid, "", "merged_duplicate",
                                              f"merged into {source_key(m.source_object, self.merged[sid])}"))
                continue
            key = source_key(m.source_object, sid)
            issues: list[Issue] = []
            dest: dict[str, Any] = {ext_field: key}
            existing = key in existing_keys
            reject = (self._fields(record, sid, key, dest, issues, existing=existing)
                      or self._links(record, sid, dest, issues))
            if reject is None and self.insert_only_lookups and existing:
                for name in self.insert_only_lookups:
                    dest.pop(name, None)
            if reject is not None:
                out.rejects.append(reject)
                out.issues.extend(issues)
                continue
            out.records.append(dest)
            out.keys.append(key)
            out.issues.extend(issues)
        return out

    def _issue(self, sid: str, dest_field: str, code: str, detail: str) -> Issue:
        m = self.mapping
        return Issue(m.source_object, sid, m.dest_object, dest_field, code, detail)

    def _reject(self, sid: str, dest_field: str | None, code: str, reason: str) -> RecordReject:
        m = self.mapping
        return RecordReject(m.source_object, sid, m.dest_object, reason, code, dest_field)

    def _fields(
        self, record: Mapping[str, Any], sid: str, key: str, dest: dict[str, Any], issues: list[Issue], *,
        existing: bool,
    ) -> RecordReject | None:
        for cf in self.fields:
            rule = cf.rule
            if rule.insert_only and existing:
                continue
            if rule.transform == "constant":
                dest[rule.dest] = rule.constant
                continue
            try:
                if rule.transform in MULTI_SOURCE:
                    value: Any = self._multi(rule, record)
                else:
                    raw = cf.get(record) if cf.get else None
                    value = None if raw is None or raw == "" else cf.convert(raw) if cf.convert else raw
            except _Defaulted as swapped:
                issues.append(self._issue(sid, rule.dest, "picklist_defaulted", swapped.detail))
                value = swapped.value
            except _Invalid as bad:
                if rule.required or rule.on_invalid == "reject":
                    return self._reject(sid, rule.dest, bad.code, f"{rule.dest}: {bad.detail}")
                issues.append(self._issue(sid, rule.dest, bad.code, f"{bad.detail}; left empty"))
                value = None
            if value is None:
                if rule.required:
                    return self._reject(sid, rule.dest, "required_field_missing",
                                        f"{rule.dest} is required but {rule.source or rule.sources} is empty")
                continue
            if rule.max_length and isinstance(value, str) and len(value) > rule.max_length:
                issues.append(self._issue(sid, rule.dest, "truncated",
                                          f"{len(value)} characters cut to {rule.max_length}"))
                value = value[: rule.max_length]
            dest[rule.dest] = value
        return None

    def _multi(self, rule: FieldRule, record: Mapping[str, Any]) -> Any:
        values = [g(record) for g in self.multi_getters[rule.dest]]
        if rule.transform == "months_between":
            return _months_between(*values[:2])
        if rule.transform == "product":
            return _product(*values[:2])
        if rule.transform == "add_minutes":
            return _add_minutes(*values[:2])
        parts = [str(v).strip() for v in values if v not in (None, "")]
        return (" " if rule.transform == "full_name" else "\n").join(p for p in parts if p) or None

    def _key(self, target: LookupTarget, ref: str) -> str:
        alias = self.aliases.get(target.source_object)
        if alias:
            ref = alias.get(ref, ref)
        return source_key(target.source_object, ref)

    def _resolve(self, target: LookupTarget, ref: str) -> str | None:
        return self._lookup.get(target.dest_object, {}).get(self._key(target, ref))

    def _prefetch(self, records: list[dict[str, Any]]) -> dict[str, Mapping[str, str]]:
        """Each lookup target's snapshot with the entries these records can refer to read up front
        (:class:`shared.domain.xwalk.Prefetched`): a batch asks a few queries per target, not one per lookup."""
        wanted: dict[str, set[str]] = {}
        for lk, get, _, alternatives in self.lookups:
            for g, target in [*((get, t) for t in lk.all_targets()), *alternatives]:
                if target is None:
                    continue
                keys = wanted.setdefault(target.dest_object, set())
                for record in records:
                    ref = g(record)
                    if ref not in (None, ""):
                        keys.add(self._key(target, str(ref)))
        return {dest: (Prefetched(self.crosswalk[dest], keys) if dest in self.crosswalk else {})
                for dest, keys in wanted.items()}

    def _links(
        self, record: Mapping[str, Any], sid: str, dest: dict[str, Any], issues: list[Issue]
    ) -> RecordReject | None:
        for lk, get, get_type, alternatives in self.lookups:
            candidates: list[tuple[Any, LookupTarget | None]] = [(get(record), lk.target)]
            candidates += [(alt_get(record), alt_target) for alt_get, alt_target in alternatives]
            candidates = [(ref, t) for ref, t in candidates if ref not in (None, "")]
            if not candidates:
                if lk.on_missing == "default":
                    dest[lk.dest] = self.crosswalk["__defaults__"][lk.default_key or ""]
                continue
            if get_type is not None:
                typed = lk.typed_targets(str(get_type(record)))
                if not typed:
                    return self._reject(sid, lk.dest, "unknown_parent_type",
                                        f"{lk.type_field}={get_type(record)!r} is not one of {sorted(lk.targets)}")
                candidates = [(candidates[0][0], t) for t in typed]
            resolved = None
            hit: LookupTarget | None = None
            for ref, target in candidates:
                assert target is not None
                resolved = self._resolve(target, str(ref))
                if resolved is not None:
                    hit = target
                    break
            if resolved is not None:
                dest[hit.dest if hit is not None and hit.dest else lk.dest] = resolved
                continue
            ref, target = candidates[0]
            assert target is not None
            tried = " or ".join(dict.fromkeys(t.dest_object for r, t in candidates if t is not None and r == ref))
            detail = f"no {tried} was loaded for {target.source_object} {ref!r}"
            if lk.on_missing == "reject":
                return self._reject(sid, lk.dest, "orphan", f"{lk.dest}: {detail}")
            if lk.on_missing == "default":
                dest[lk.dest] = self.crosswalk["__defaults__"][lk.default_key or ""]
                issues.append(self._issue(sid, lk.dest, "lookup_defaulted", detail + "; default used"))
            else:
                issues.append(self._issue(sid, lk.dest, "lookup_missing", detail + "; left empty"))
        if self.owner_get is not None and self.mapping.owner is not None:
            tech = self.owner_get(record)
            owner = self.spec.owners.get(str(tech)) if tech else None
            if owner is None:
                owner = self.spec.fallback_owner_id
                if tech:
                    issues.append(self._issue(sid, self.mapping.owner.dest, "owner_fallback",
                                              f"technician {tech!r} has no matching user; fallback owner used"))
            dest[self.mapping.owner.dest] = owner
        return None

"""The data-quality pre-scan: what the tenant's data will do to the load, read at discovery before any write.

Why at discovery: orphans, duplicate e-mails and oversize files used to surface only after the load, in
``rejects.csv``. The person signing off the mapping now sees them first (a section of the mapping document,
``reports/preflight.html`` and ``reports/preflight.json``), while fixing the source is still cheap.

What it finds, per object: record counts; orphans by relation (a reference to a record the source does not
hold); the records the load will reject as orphans (the approved spec's ``on_missing: reject`` lookups,
followed through records that are rejected themselves, transitively); records no technician is assigned to;
missing, invalid and duplicate e-mails, invalid and duplicate phones, invalid dates; technicians without an
active destination user; files (count, total and average size, those over the destination's declared
limit); custom-field fill rates; pick-list values the mapping has no translation for; reference cycles
between records; text holding control characters. And on the destination side: its custom-object ceiling,
storage needed against storage left, API budget needed against what is left — where a destination cannot
tell (no storage reading, no daily quota), the report says so instead of guessing.

Scale: the source is read a page at a time, and what must be compared across pages (ids, references,
e-mails, phones, the predicted rejects) goes to a SQLite file on disk, deleted afterwards; no process holds
the tenant, and the findings that list records one by one (the predicted rejects, every orphan reference,
the groups of shared e-mails and phones) stream out of SQLite into JSON-lines reports of their own
(:data:`LISTINGS`). Guarantee: every record the load rejects as an orphan (``code == "orphan"`` in
``rejects.csv``) is in ``preflight-rejects.jsonl`` with ``code == "orphan"`` — provided the source does not
change in between (the delta window reports what changes later) and the destination accepts every parent the
spec accepts (a parent the destination itself refuses at write time, a validation rule say, cannot be foreseen
from the source: it and its children reach ``rejects.csv`` with the destination's code).
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from shared.aws import now_iso
from shared.connectors.destination import Destination
from shared.connectors.source import Source
from shared.domain.budget import budget_plan
from shared.domain.estimate import load_sizes
from shared.mapping.engine import CompiledMapping
from shared.mapping.spec import MigrationSpec, ObjectMapping
from shared.models import DestCatalog, SourceCatalog, SourceObject
from shared.scratch import scratch_db

PAGE_SIZE = 1000
#: Ids listed per finding group (the counts are always whole; orphans and predicted rejects are listed whole
#: in their own files, :data:`LISTINGS`).
SAMPLE_IDS = 25
#: The findings listed record by record, each in a JSON-lines report of its own (one row per record).
LISTINGS = {"load_rejects": "preflight-rejects.jsonl", "orphans": "preflight-orphans.jsonl",
            "duplicates": "preflight-duplicates.jsonl"}
#: Rows of the predicted rejects and of each kind of duplicates ``preflight.json`` keeps (as many as
#: ``preflight.html`` shows).
LISTED = 200
#: Where a listing goes: ``listing(report name, rows)`` writes the rows as they come.
Listing = Callable[[str, Iterable[dict[str, Any]]], object]
#: The field that makes an object's records files (both sources' attachments declare it; its size in bytes).
FILE_SIZE_FIELD = "size_bytes"
#: Distinct unmapped pick-list values kept per field.
MAX_VALUES = 200

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[A-Za-z]{2,}")
_PHONE_CHARS = re.compile(r"[0-9+().\-\s/]+(\s*(x|ext\.?)\s*\d+)?", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_SCHEMA = """
CREATE TABLE ids (obj TEXT, id TEXT, PRIMARY KEY (obj, id)) WITHOUT ROWID;
CREATE TABLE refs (obj TEXT, id TEXT, field TEXT, target TEXT, ref TEXT,
                   PRIMARY KEY (obj, id, field, target, ref)) WITHOUT ROWID;
CREATE TABLE contact (kind TEXT, obj TEXT, field TEXT, value TEXT, id TEXT);
CREATE TABLE loaded (m TEXT, tkey TEXT, id TEXT, PRIMARY KEY (tkey, id, m)) WITHOUT ROWID;
CREATE TABLE need (m TEXT, id TEXT, lk TEXT, ref TEXT, tkey TEXT);
CREATE INDEX need_record ON need (m, id, lk);
CREATE TABLE rej (m TEXT, id TEXT, code TEXT, field TEXT, reason TEXT, PRIMARY KEY (m, id)) WITHOUT ROWID;
"""


def _value(record: Mapping[str, Any], name: str, custom: bool) -> Any:
    if custom:
        bag = record.get("custom_fields")
        return bag.get(name) if isinstance(bag, dict) else record.get(name)
    return record.get(name)


def _valid_date(value: Any, kind: str) -> bool:
    text = str(value).strip()
    try:
        if kind == "date":
            date.fromisoformat(text[:10] if len(text) > 10 and text[10] == "T" else text)
        else:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, path)


class _Group:
    """A count with the first ids (what a finding lists)."""

    def __init__(self) -> None:
        self.count = 0
        self.ids: list[str] = []

    def add(self, rid: str) -> None:
        self.count += 1
        if len(self.ids) < SAMPLE_IDS:
            self.ids.append(rid)

    def view(self) -> dict[str, Any]:
        return {"count": self.count, "ids": self.ids}


class _Scan:
    """One pass over the source, then the cross-record questions asked of the SQLite file."""

    def __init__(self, db: sqlite3.Connection, spec: MigrationSpec, catalog: SourceCatalog) -> None:
        self.db = db
        self.spec = spec
        self.catalog = catalog
        self.counts: dict[str, int] = {}
        self.invalid: dict[tuple[str, str, str], _Group] = {}  # (kind, obj, field)
        self.empty_refs: dict[tuple[str, str, str], _Group] = {}  # (obj, field, target)
        self.control: dict[tuple[str, str], _Group] = {}
        self.filled: Counter[tuple[str, str]] = Counter()
        self.files: dict[str, dict[str, Any]] = {}
        self.unmapped: dict[tuple[str, str, str], Counter[str]] = {}
        crosswalk: dict[str, dict[str, str]] = {"__defaults__": {}}
        self.compiled = {m.name: CompiledMapping(spec, m, crosswalk) for m in spec.mappings}

    # --- the pass ------------------------------------------------------------------------------
    def read(self, source: Source, file_limit: int | None) -> None:
        for obj in self.catalog.objects:
            n = 0
            for page in source.pages(obj.name, page_size=PAGE_SIZE):
                n += len(page)
                self._page(obj, page, file_limit)
                self._mappings(obj.name, page)
            self.counts[obj.name] = n

    def _page(self, obj: SourceObject, page: list[dict[str, Any]], file_limit: int | None) -> None:
        db = self.db
        db.executemany("INSERT OR IGNORE INTO ids VALUES (?, ?)", ((obj.name, str(r.get("id"))) for r in page))
        refs: list[tuple[str, str, str, str, str]] = []
        contacts: list[tuple[str, str, str, str, str]] = []
        holds_files = any(f.name == FILE_SIZE_FIELD for f in obj.fields)
        for rec in page:
            rid = str(rec.get("id"))
            for f in obj.fields:
                value = _value(rec, f.name, f.custom)
                empty = value is None or (isinstance(value, str) and not value.strip())
                if f.custom and not empty:
                    self.filled[(obj.name, f.name)] += 1
                if f.type == "reference" and f.references:
                    if empty:
                        self.empty_refs.setdefault((obj.name, f.name, f.references), _Group()).add(rid)
                    else:
                        refs.append((obj.name, rid, f.name, f.references, str(value)))
                if empty:
                    continue
                if f.type == "email":
                    text = str(value).strip()
                    if not _EMAIL.fullmatch(text):
                        self.invalid.setdefault(("email", obj.name, f.name), _Group()).add(rid)
                    contacts.append(("email", obj.name, f.name, text.casefold(), rid))
                elif f.type == "phone":
                    digits = re.sub(r"\D", "", str(value).split("x")[0].split("ext")[0])
                    if not _PHONE_CHARS.fullmatch(str(value).strip()) or not 7 <= len(digits) <= 15:
                        self.invalid.setdefault(("phone", obj.name, f.name), _Group()).add(rid)
                    elif digits:
                        contacts.append(("phone", obj.name, f.name, digits, rid))
                elif f.type in ("date", "datetime") and not _valid_date(value, f.type):
                    self.invalid.setdefault(("date", obj.name, f.name), _Group()).add(rid)
            for path, text in _strings(rec, ""):
                if _CONTROL.search(text):
                    self.control.setdefault((obj.name, path), _Group()).add(rid)
            if holds_files:
                self._file(obj.name, rid, rec, file_limit)
        db.executemany("INSERT OR IGNORE INTO refs VALUES (?, ?, ?, ?, ?)", refs)
        db.executemany("INSERT INTO contact VALUES (?, ?, ?, ?, ?)", contacts)

    def _file(self, obj: str, rid: str, rec: Mapping[str, Any], limit: int | None) -> None:
        size = int(rec.get(FILE_SIZE_FIELD) or 0)
        stats = self.files.setdefault(obj, {"object": obj, "count": 0, "total_bytes": 0, "largest_bytes": 0,
                                            "over_limit": []})
        stats["count"] += 1
        stats["total_bytes"] += size
        stats["largest_bytes"] = max(stats["largest_bytes"], size)
        if limit is not None and size > limit:
            stats["over_limit"].append({"id": rid, "file_name": str(rec.get("file_name") or ""), "size_bytes": size})

    def _mappings(self, obj: str, page: list[dict[str, Any]]) -> None:
        """What each mapping of ``obj`` will load, reject on its own values, and need from other records."""
        for m in self.spec.mappings:
            if m.source_object != obj:
                continue
            compiled = self.compiled[m.name]
            tkey = f"{m.source_object}>{m.dest_object}"
            merged = compiled.merged
            loaded: list[tuple[str, str, str]] = []
            own: list[tuple[str, str, str, str, str]] = []
            needs: list[tuple[str, str, str, str, str]] = []
            for rec in compiled.expand(page):
                if not compiled.matches(rec):
                    continue
                rid = str(rec.get("id", ""))
                if rid in merged:
                    continue
                loaded.append((m.name, tkey, rid))
                self._picklists(m, rec)
                bad = compiled.own_reject(rec)
                wanted: list[tuple[str, str, str, str, str]] = []
                refusal = self._needs(m, compiled, rec, rid, wanted)
                if bad is not None:
                    own.append((m.name, rid, bad.code, bad.field or "", bad.reason))
                elif refusal is not None:
                    own.append(refusal)
                else:
                    needs += wanted
            self.db.executemany("INSERT OR IGNORE INTO loaded VALUES (?, ?, ?)", loaded)
            self.db.executemany("INSERT OR IGNORE INTO rej VALUES (?, ?, ?, ?, ?)", own)
            self.db.executemany("INSERT INTO need VALUES (?, ?, ?, ?, ?)", needs)

    def _needs(self, m: ObjectMapping, compiled: CompiledMapping, rec: Mapping[str, Any], rid: str,
               out: list[tuple[str, str, str, str, str]]) -> tuple[str, str, str, str, str] | None:
        """One row per candidate of each rejecting lookup (the engine's ``_links`` order); a typed lookup
        whose type names no target is refused outright (returned)."""
        for lk, get, get_type, alternatives in compiled.lookups:
            candidates = [(get(rec), lk.target), *[(alt(rec), t) for alt, t in alternatives]]
            candidates = [(ref, t) for ref, t in candidates if ref not in (None, "")]
            if not candidates:
                continue
            if get_type is not None:
                typed = lk.typed_targets(str(get_type(rec)))
                if not typed:
                    return (m.name, rid, "unknown_parent_type", lk.dest,
                            f"{lk.type_field}={get_type(rec)!r} is not one of {sorted(lk.targets)}")
                candidates = [(candidates[0][0], t) for t in typed]
            if get_type is not None and lk.type_field:
                typed_obj = candidates[0][1].source_object if candidates[0][1] else ""
                self.db.execute("INSERT OR IGNORE INTO refs VALUES (?, ?, ?, ?, ?)",
                                (m.source_object, rid, lk.source, typed_obj, str(candidates[0][0])))
            if lk.on_missing != "reject":
                continue
            for ref, target in candidates:
                if target is None:
                    continue
                alias = self.spec.merged.get(target.source_object, {})
                out.append((m.name, rid, lk.dest, alias.get(str(ref), str(ref)),
                            f"{target.source_object}>{target.dest_object}"))
        return None

    def _picklists(self, m: ObjectMapping, rec: Mapping[str, Any]) -> None:
        for cf in self.compiled[m.name].fields:
            rule = cf.rule
            if rule.transform not in ("picklist", "choice") or cf.get is None or rule.value_map is None:
                continue
            value = cf.get(rec)
            if value in (None, ""):
                continue
            key = str(value)
            folded = {k.casefold() for k in rule.value_map}
            if key in rule.value_map or key.strip().casefold() in folded:
                continue
            seen = self.unmapped.setdefault((m.name, rule.dest, rule.source or ""), Counter())
            if key in seen or len(seen) < MAX_VALUES:
                seen[key] += 1

    # --- cross-record questions ----------------------------------------------------------------
    def predict_rejects(self) -> None:
        """Own rejects, then every record a rejecting lookup cannot resolve (its target absent or rejected
        itself), to a fixed point: what the load's levels will do, before it runs (into table ``rej``)."""
        db = self.db
        while True:
            db.execute("DROP TABLE IF EXISTS fresh")
            db.execute("""
                CREATE TEMP TABLE fresh AS
                SELECT n.m AS m, n.id AS id, n.lk AS lk, MIN(n.tkey) AS tkey, MIN(n.ref) AS ref FROM need n
                WHERE NOT EXISTS (SELECT 1 FROM rej r WHERE r.m = n.m AND r.id = n.id)
                GROUP BY n.m, n.id, n.lk
                HAVING SUM(EXISTS (SELECT 1 FROM loaded l WHERE l.tkey = n.tkey AND l.id = n.ref
                                   AND NOT EXISTS (SELECT 1 FROM rej r2 WHERE r2.m = l.m AND r2.id = l.id))) = 0""")
            added = db.execute("""
                INSERT OR IGNORE INTO rej SELECT m, id, 'orphan', lk, tkey || ' ' || ref FROM fresh""").rowcount
            if added <= 0:
                break

    def reject_counts(self) -> tuple[int, int]:
        """(predicted rejects, of them orphans)."""
        total, orphans = self.db.execute("SELECT COUNT(*), COALESCE(SUM(code = 'orphan'), 0) FROM rej").fetchone()
        return int(total), int(orphans)

    def rejects(self) -> Iterator[dict[str, Any]]:
        """The predicted rejects, a row at a time out of SQLite (``preflight-rejects.jsonl``)."""
        db = self.db
        by_name = {m.name: m for m in self.spec.mappings}
        for m_name, rid, code, field, stored in db.execute("SELECT m, id, code, field, reason FROM rej ORDER BY m, id"):
            m = by_name[m_name]
            reason = stored
            if code == "orphan":
                tkey, _, ref = stored.partition(" ")
                target_obj, _, target_dest = tkey.partition(">")
                exists = db.execute("SELECT 1 FROM ids WHERE obj = ? AND id = ?", (target_obj, ref)).fetchone()
                reason = (f"{field}: {target_obj} {ref!r} " + ("is rejected itself, so no " + target_dest +
                          " is loaded for it" if exists else "does not exist in the source"))
            yield {"mapping": m_name, "source_object": m.source_object, "source_id": rid,
                   "dest_object": m.dest_object, "code": code, "field": field, "reason": reason}

    def orphans(self, on_missing: Mapping[tuple[str, str], set[str]], relations: list[dict[str, Any]]
                ) -> Iterator[dict[str, Any]]:
        """Every orphan reference, a row at a time (``preflight-orphans.jsonl``); ``relations`` gets one
        entry per (object, field, target) with its count and first records (what ``preflight.json`` keeps)."""
        row: dict[str, Any] | None = None
        for obj, rid, field, target, ref in self.db.execute("""
                SELECT r.obj, r.id, r.field, r.target, r.ref FROM refs r
                WHERE NOT EXISTS (SELECT 1 FROM ids i WHERE i.obj = r.target AND i.id = r.ref)
                ORDER BY r.obj, r.field, r.target, r.id"""):
            if row is None or (row["object"], row["field"], row["target"]) != (obj, field, target):
                row = {"object": obj, "field": field, "target": target, "count": 0, "records": [],
                       "load_does": sorted(on_missing.get((obj, field), set())) or ["not mapped"]}
                relations.append(row)
            row["count"] += 1
            if len(row["records"]) < SAMPLE_IDS:
                row["records"].append({"id": rid, "ref": ref})
            yield {"object": obj, "field": field, "target": target, "id": rid, "ref": ref}

    def duplicates(self) -> Iterator[dict[str, Any]]:
        """Groups of records sharing an e-mail, then a phone, a row per group (``preflight-duplicates.jsonl``):
        a tenant holds about one such group for every 20 records at the demo's knobs."""
        for kind in ("email", "phone"):
            for obj, field, value, n, ids in self.db.execute("""
                    SELECT obj, field, value, COUNT(*), GROUP_CONCAT(id, ' ') FROM contact WHERE kind = ?
                    GROUP BY obj, field, value HAVING COUNT(*) > 1 ORDER BY obj, field, COUNT(*) DESC, value""",
                                                             (kind,)):
                yield {"kind": kind, "object": obj, "field": field, "value": value, "count": n,
                       "ids": ids.split(" ")[:SAMPLE_IDS]}

    def cycles(self) -> list[dict[str, Any]]:
        """Records on a reference cycle (or between two): peel every record nothing points at or that points
        at nothing still standing, until nothing more goes; what stays is cyclic."""
        db = self.db
        db.executescript("""
            DROP TABLE IF EXISTS edge; DROP TABLE IF EXISTS node;
            CREATE TEMP TABLE edge AS SELECT DISTINCT r.obj AS a_obj, r.id AS a_id, r.target AS b_obj, r.ref AS b_id,
                r.field AS field FROM refs r JOIN ids i ON i.obj = r.target AND i.id = r.ref;
            CREATE INDEX edge_a ON edge (a_obj, a_id); CREATE INDEX edge_b ON edge (b_obj, b_id);
            CREATE TEMP TABLE node AS SELECT a_obj AS obj, a_id AS id FROM edge UNION SELECT b_obj, b_id FROM edge;
            CREATE UNIQUE INDEX node_key ON node (obj, id);""")
        while True:
            gone = db.execute("""
                DELETE FROM node WHERE NOT EXISTS (
                    SELECT 1 FROM edge e JOIN node n ON n.obj = e.b_obj AND n.id = e.b_id
                    WHERE e.a_obj = node.obj AND e.a_id = node.id)
                OR NOT EXISTS (
                    SELECT 1 FROM edge e JOIN node n ON n.obj = e.a_obj AND n.id = e.a_id
                    WHERE e.b_obj = node.obj AND e.b_id = node.id)""").rowcount
            if gone <= 0:
                break
        out: dict[str, dict[str, Any]] = {}
        for obj, rid, fields in db.execute("""
                SELECT n.obj, n.id, GROUP_CONCAT(DISTINCT e.field) FROM node n
                JOIN edge e ON e.a_obj = n.obj AND e.a_id = n.id
                JOIN node t ON t.obj = e.b_obj AND t.id = e.b_id GROUP BY n.obj, n.id ORDER BY n.obj, n.id"""):
            row = out.setdefault(obj, {"object": obj, "count": 0, "fields": set(), "ids": []})
            row["count"] += 1
            row["fields"].update(str(fields).split(","))
            if len(row["ids"]) < SAMPLE_IDS:
                row["ids"].append(rid)
        return [{**row, "fields": sorted(row["fields"])} for row in out.values()]

    def people_object(self, user_ids: list[str]) -> str | None:
        """The object the source's users (technicians) are records of."""
        found: Counter[str] = Counter()
        for uid in user_ids[:50]:
            for (obj,) in self.db.execute("SELECT obj FROM ids WHERE id = ?", (uid,)):
                found[obj] += 1
        return found.most_common(1)[0][0] if found else None


def _on_missing(spec: MigrationSpec) -> dict[tuple[str, str], set[str]]:
    """(source object, reference field) -> what the load does with a reference it cannot resolve."""
    does = {"reject": "rejected", "null": "loaded with the link empty", "default": "linked to the default record"}
    out: dict[tuple[str, str], set[str]] = {}
    for m in spec.mappings:
        for lk in m.lookups:
            if lk.source:
                what = "linked in the second pass if found" if lk.deferred else does[lk.on_missing]
                out.setdefault((m.source_object, lk.source), set()).add(f"{m.dest_object}: {what}")
    return out


def _exceeds(needed: int | None, left: int | None) -> bool:
    return left is not None and (needed or 0) > left


def _destination_checks(spec: MigrationSpec, dcat: DestCatalog, dest: Destination, loads: Mapping[str, int],
                        file_bytes: int, counts: dict[str, int]) -> dict[str, Any]:
    caps = dest.capabilities
    headroom: dict[str, Any] = {}
    reader = getattr(dest, "headroom", None)
    if reader is not None:
        headroom = dict(reader())
    new_objects = [o.name for o in spec.custom_objects if o.name not in dcat.objects]
    limit = caps.custom_object_limit
    custom_objects = {
        "to_create": new_objects, "ceiling": limit,
        "status": "unknown" if limit is None else ("fits" if len(new_objects) <= limit else "over"),
        "note": (f"{dest.label} declares no custom-object ceiling" if limit is None else
                 f"{len(new_objects)} new of {limit} allowed; the org's other custom objects are not counted "
                 "(discovery reads only the objects the pair uses)")}
    records = sum(loads.values())
    data_needed = None if caps.record_storage_bytes is None else records * caps.record_storage_bytes
    storage = {"data_needed_bytes": data_needed, "data_left_bytes": headroom.get("data_storage_bytes_left"),
               "files_needed_bytes": file_bytes, "files_left_bytes": headroom.get("file_storage_bytes_left")}
    if storage["data_left_bytes"] is None and storage["files_left_bytes"] is None:
        storage["status"] = "unknown"
        storage["note"] = f"{dest.label}'s API tells no storage left; check it in the admin centre"
    else:
        over = [k for k in ("data", "files") if _exceeds(storage[f"{k}_needed_bytes"], storage[f"{k}_left_bytes"])]
        storage["status"] = "over" if over else "fits"
        storage["note"] = ("needs more " + " and ".join(over) + " storage than is left" if over else
                           "fits in what is left")
    plan = budget_plan(spec, counts, dcat, dest)
    if plan is not None:
        needed, unit, left = int(plan["needed"]), str(plan["unit"]), plan.get("available")
    else:
        needed = sum(dest.calls_needed(m.dest_object, size, not m.insert_only) for m in spec.mappings
                     for size in load_sizes(loads.get(m.name, 0), caps.bulk_batch_max))
        unit, left = str(headroom.get("api_unit") or "calls"), headroom.get("api_left")
    if left is None:
        why = {"rolling_requests": "no daily budget: requests are limited per 5-minute window, paced by 429 "
                                   "Retry-After",
               "none": "the platform documents no API quota"}.get(caps.quota_model, "the platform tells none")
        api = {"needed": needed, "unit": unit, "left": None, "status": "not metered", "note": why}
    else:
        api = {"needed": needed, "unit": unit, "left": int(left), "status": "fits" if needed <= int(left) else "over",
               "note": (f"{needed:,} {unit} needed, {int(left):,} left" +
                        ("" if needed <= int(left) else ": the load pauses at the quota and resumes"))}
    return {"platform": dest.label, "custom_objects": custom_objects, "storage": storage, "api_budget": api,
            "file_limit_bytes": caps.max_file_bytes, "notes": list(caps.limit_notes)}


def prescan(spec: MigrationSpec, catalog: SourceCatalog, source: Source, dest: Destination, dcat: DestCatalog,
            unmatched_technicians: list[dict[str, str]], *, run_id: str, listing: Listing,
            folder: Path | None = None) -> dict[str, Any]:
    """Scan the tenant page by page against the proposed spec and the destination; JSON-ready findings.

    The three findings that list records one by one go to ``listing(name, rows)`` as the rows are read out
    of SQLite (:data:`LISTINGS`); the findings keep their counts and first rows."""
    caps = dest.capabilities
    relations: list[dict[str, Any]] = []
    with scratch_db(_SCHEMA, prefix="prescan-", folder=folder) as db:
        scan = _Scan(db, spec, catalog)
        scan.read(source, caps.max_file_bytes)
        scan.predict_rejects()
        n_rejects, n_orphan_rejects = scan.reject_counts()
        first_rejects: list[dict[str, Any]] = []
        listing(LISTINGS["load_rejects"], _keep_first(scan.rejects(), first_rejects))
        loads = dict(db.execute("SELECT m, COUNT(*) FROM loaded GROUP BY m").fetchall())
        users = source.users()
        people = scan.people_object([str(u.get("id")) for u in users])
        listing(LISTINGS["orphans"], scan.orphans(_on_missing(spec), relations))
        duplicates: dict[str, list[dict[str, Any]]] = {"email": [], "phone": []}
        shared = {"email": 0, "phone": 0, "email_groups": 0, "phone_groups": 0}  # records sharing one, groups
        listing(LISTINGS["duplicates"], _tally_duplicates(scan.duplicates(), duplicates, shared))
        cycles = scan.cycles()
    files = []
    for stats in scan.files.values():
        files.append({**stats, "average_bytes": stats["total_bytes"] // stats["count"] if stats["count"] else 0,
                      "limit_bytes": caps.max_file_bytes})
    fill = []
    for obj in catalog.objects:
        n = scan.counts.get(obj.name, 0)
        for f in obj.fields:
            if f.custom:
                filled = scan.filled[(obj.name, f.name)]
                fill.append({"object": obj.name, "field": f.name, "filled": filled, "records": n,
                             "rate": round(filled / n, 4) if n else 0.0})
    unassigned = [{"object": o, "field": f, **g.view()} for (o, f, t), g in sorted(scan.empty_refs.items())
                  if people is not None and t == people]
    invalid = {kind: [{"object": o, "field": f, **g.view()} for (k, o, f), g in sorted(scan.invalid.items())
                      if k == kind] for kind in ("email", "phone", "date")}
    result: dict[str, Any] = {
        "run_id": run_id, "pair": spec.pair, "scanned_at": now_iso(),
        "counts": scan.counts,
        "orphans": relations,
        "load_rejects": first_rejects,
        "listings": dict(LISTINGS),
        "unassigned": {"people_object": people, "relations": unassigned},
        "emails": {"invalid": invalid["email"], "duplicates": duplicates["email"]},
        "phones": {"invalid": invalid["phone"], "duplicates": duplicates["phone"]},
        "dates": {"invalid": invalid["date"]},
        "technicians_without_active_user": unmatched_technicians,
        "attachments": files,
        "custom_field_fill": fill,
        "unmapped_picklist_values": [
            {"mapping": m, "dest_field": d, "source_field": s, "values": dict(c.most_common())}
            for (m, d, s), c in sorted(scan.unmapped.items())],
        "cycles": cycles,
        "control_characters": [{"object": o, "field": p, **g.view()} for (o, p), g in sorted(scan.control.items())],
        "destination": _destination_checks(spec, dcat, dest, loads, sum(f["total_bytes"] for f in files),
                                           scan.counts),
    }
    result["summary"] = summary(result, load_rejects=n_rejects, orphans_rejected=n_orphan_rejects,
                                duplicates=shared)
    return result


def _keep_first(rows: Iterator[dict[str, Any]], first: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        if len(first) < LISTED:
            first.append(row)
        yield row


def _tally_duplicates(groups: Iterator[dict[str, Any]], first: dict[str, list[dict[str, Any]]],
                      shared: dict[str, int]) -> Iterator[dict[str, Any]]:
    for group in groups:
        kind = group["kind"]
        shared[kind] += int(group["count"])
        shared[f"{kind}_groups"] += 1
        if len(first[kind]) < LISTED:
            first[kind].append({k: v for k, v in group.items() if k != "kind"})
        yield group


def summary(scan: Mapping[str, Any], *, load_rejects: int, orphans_rejected: int,
            duplicates: Mapping[str, int]) -> dict[str, int]:
    """The count of each finding (what the sign-off shows in one line each); the findings listed in their
    own files (:data:`LISTINGS`) are counted as they are written (``preflight.json`` holds their first rows)."""
    def total(rows: list[dict[str, Any]]) -> int:
        return sum(int(r.get("count", 1)) for r in rows)

    return {
        "records": sum(scan["counts"].values()),
        "orphan_references": total(scan["orphans"]),
        "load_rejects": load_rejects,
        "orphans_rejected": orphans_rejected,
        "unassigned": total(scan["unassigned"]["relations"]),
        "invalid_emails": total(scan["emails"]["invalid"]),
        "duplicate_emails": duplicates["email"],
        "duplicate_emails_groups": duplicates["email_groups"],
        "invalid_phones": total(scan["phones"]["invalid"]),
        "duplicate_phones": duplicates["phone"],
        "duplicate_phones_groups": duplicates["phone_groups"],
        "invalid_dates": total(scan["dates"]["invalid"]),
        "technicians_without_active_user": len(scan["technicians_without_active_user"]),
        "files": sum(int(f["count"]) for f in scan["attachments"]),
        "files_over_limit": sum(len(f["over_limit"]) for f in scan["attachments"]),
        "unmapped_picklist_values": sum(len(v["values"]) for v in scan["unmapped_picklist_values"]),
        "records_on_cycles": total(scan["cycles"]),
        "control_characters": total(scan["control_characters"]),
    }

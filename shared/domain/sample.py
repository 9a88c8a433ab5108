"""The sample migration: a small, linked slice of the tenant, loaded, read back and diffed field by field.

A person signs the diff off before the full load (approval ``manual``). The sample goes
through the *same* code as the full load (transform, load by dependency level, fix-up), so
what it shows is what the full load will do.

Selection (:func:`select`): records are picked round-robin over every mapping, preferring
records that carry a custom field or a file not covered yet, and each pick brings its parents
along (every lookup the mappings read, recursively), so lookups inside the sample resolve.
The sample stops at ``options.sample_size`` records (hard cap 500, parents included).

Diff (:func:`diff`): for every loaded record and every field the load wrote: the source
value, the transformed value and the value read back from the destination, each row flagged
``truncated``, ``picklist_mismatch``, ``lookup_failed``, ``type_coerced``,
``readback_mismatch`` or ``rejected`` (with the engine's issue or the destination's error).

Sample records stay in the destination when the sample is approved (the full load updates
them in place: every write is keyed by the external id). When it is rejected, or nobody
answers in time, :func:`discard` rolls the run back with the rollback code.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared import planner
from shared.aws import Stores
from shared.connectors.destination import Destination
from shared.connectors.source import Source
from shared.domain import files, load, rollback
from shared.domain.extract import load_spec
from shared.domain.keys import FULL, SAMPLE, Keys, environment
from shared.domain.transform import transform_batch
from shared.domain.xwalk import open_snapshot
from shared.mapping.engine import CompiledMapping, output_size
from shared.mapping.spec import MigrationSpec, ObjectMapping
from shared.models import RunRef
from shared.reports import csv_text
from shared.sample_html import sample_diff_html
from shared.timeutil import parse_time

#: Never more than this many records in a sample, parents included.
HARD_CAP = 500
#: How deep a chain of parents (account -> parent account -> ...) is followed.
MAX_DEPTH = 6

FLAGS = ("truncated", "picklist_mismatch", "lookup_failed", "type_coerced", "readback_mismatch", "rejected")
_ISSUE_FLAGS = {
    "truncated": "truncated",
    "picklist_defaulted": "picklist_mismatch",
    "unmapped_picklist_value": "picklist_mismatch",
    "lookup_missing": "lookup_failed",
    "lookup_defaulted": "lookup_failed",
    "orphan": "lookup_failed",
    "owner_fallback": "lookup_failed",
}
_COERCING = {"date", "datetime", "number", "integer", "boolean", "currency", "percent", "int", "bool"}
DIFF_COLUMNS = ["mapping", "source_object", "source_id", "dest_object", "dest_id", "field", "source_field",
                "source_value", "transformed_value", "readback_value", "flags", "detail"]


# --- selection ------------------------------------------------------------------------------------
class _Index:
    """The extracted records of each source object, by id, read from the run's batches on first use."""

    def __init__(self, stores: Stores, keys: Keys) -> None:
        self.stores, self.keys = stores, keys
        self._by_object: dict[str, dict[str, dict[str, Any]]] = {}

    def records(self, obj: str) -> dict[str, dict[str, Any]]:
        if obj not in self._by_object:
            found: dict[str, dict[str, Any]] = {}
            key = self.keys.extract_outcome(obj)
            if self.stores.blobs.exists(key):
                for batch in self.stores.blobs.get_json(key)["batches"]:
                    for rec in self.stores.blobs.get_lines(batch):
                        found[str(rec.get("id"))] = rec
            self._by_object[obj] = found
        return self._by_object[obj]


def _custom_sources(spec: MigrationSpec, mapping: ObjectMapping) -> list[str]:
    custom = {f.name for f in spec.custom_fields if f.object == mapping.dest_object}
    return [r.source for r in mapping.fields if r.dest in custom and r.source]


def _value(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _parents(spec: MigrationSpec, obj: str, record: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(source object, id) of every record this one looks up, through any mapping of its object."""
    for m in spec.mappings:
        if m.source_object != obj:
            continue
        for lk in m.lookups:
            if lk.type_field:
                kind = _value(record, lk.type_field)
                ref = _value(record, lk.source)
                if kind is not None and ref not in (None, ""):
                    for target in lk.typed_targets(str(kind)):  # the closure skips targets that hold no such id
                        yield target.source_object, str(ref)
            elif lk.target is not None:
                ref = _value(record, lk.source)
                if ref not in (None, ""):
                    yield lk.target.source_object, str(ref)
            for candidate in lk.or_else:
                ref = _value(record, candidate.source)
                if ref not in (None, ""):
                    yield candidate.target.source_object, str(ref)


@dataclass
class Selection:
    records: dict[str, dict[str, dict[str, Any]]]  # source object -> id -> record
    covered_custom: set[tuple[str, str]]
    missing_custom: list[str]
    files: int

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.records.values())


def select(spec: MigrationSpec, index: _Index, size: int) -> Selection:
    """Pick about ``size`` linked records spanning every mapping (see the module docstring)."""
    target = min(size, HARD_CAP)
    chosen: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    covered: set[tuple[str, str]] = set()
    files = 0

    def closure(obj: str, rid: str, depth: int, acc: dict[tuple[str, str], dict[str, Any]]) -> None:
        if (obj, rid) in acc or rid in chosen.get(obj, {}) or depth > MAX_DEPTH:
            return
        rec = index.records(obj).get(rid)
        if rec is None:  # an orphan reference: the load reports it, the sample just can't carry the parent
            return
        acc[(obj, rid)] = rec
        for parent_obj, parent_id in _parents(spec, obj, rec):
            closure(parent_obj, parent_id, depth + 1, acc)

    queues: dict[str, list[dict[str, Any]]] = {}
    for m in spec.mappings:
        compiled = CompiledMapping(spec, m, {})
        wanted = _custom_sources(spec, m)
        pool = [r for r in index.records(m.source_object).values() if compiled.matches(r)
                and (not m.explode or compiled.expand([r]))]

        def score(rec: dict[str, Any], wanted: list[str] = wanted) -> tuple[int, str]:
            return (-sum(1 for f in wanted if _value(rec, f) not in (None, "", [])), str(rec.get("id")))

        queues[m.name] = sorted(pool, key=score)
    progressed = True
    while progressed and sum(len(v) for v in chosen.values()) < target:
        progressed = False
        for m in spec.mappings:
            queue = queues[m.name]
            wanted = _custom_sources(spec, m)
            while queue:
                rec = queue.pop(0)
                rid = str(rec.get("id"))
                if rid in chosen.get(m.source_object, {}):
                    continue
                gain = [f for f in wanted if (m.name, f) not in covered and _value(rec, f) not in (None, "", [])]
                # Later rounds only take records that add coverage or while the sample is small.
                if not gain and any(chosen.values()) and len(chosen.get(m.source_object, {})) >= 3 and \
                        sum(len(v) for v in chosen.values()) >= target // 2:
                    continue
                acc: dict[tuple[str, str], dict[str, Any]] = {}
                closure(m.source_object, rid, 0, acc)
                if sum(len(v) for v in chosen.values()) + len(acc) > target:
                    continue
                for (obj, pid), prec in acc.items():
                    chosen[obj][pid] = prec
                covered.update((m.name, f) for f in gain)
                if m.attachment_source:
                    files += 1
                progressed = True
                break
    missing = sorted(f"{m.name}.{f}" for m in spec.mappings for f in _custom_sources(spec, m)
                     if (m.name, f) not in covered)
    return Selection(dict(chosen), covered, missing, files)


# --- the sample load -----------------------------------------------------------------------------
def run_sample(run: RunRef, dest: Destination, stores: Stores, open_source: Callable[[], Source]
               ) -> dict[str, Any]:
    """Select, load through the normal transform/load/fix-up code, read back and diff."""
    keys = Keys(run, SAMPLE)
    spec = load_spec(stores.blobs, run)
    stores.runs.update(run.run_id, step="SampleMigration")
    selection = select(spec, _Index(stores, Keys(run, FULL)), run.options.sample_size)
    for m_obj in {m.source_object for m in spec.mappings}:
        recs = list(selection.records.get(m_obj, {}).values())
        batches = [stores.blobs.put_lines(keys.extract_batch(m_obj, 0), recs)] if recs else []
        sizes = {m.name: ([output_size(m, recs)] if recs else []) for m in spec.mappings if m.source_object == m_obj}
        stores.blobs.put_json(keys.extract_outcome(m_obj), {"object": m_obj, "count": len(recs), "batches": batches,
                                                              "sizes": sizes, "mark": {}})
    items: list[dict[str, Any]] = []
    for index in range(len(planner.levels(spec))):
        manifest = load.plan_level(run, index, stores, SAMPLE)
        for item in stores.blobs.get_json(manifest["manifest_key"]):
            transformed = transform_batch(run, item, stores.blobs, stores.crosswalk, open_source)
            load.load_batch(run, item, transformed, dest, stores)
            items.append(item)
        load.verify_level(run, index, stores, SAMPLE)
    load.fixup(run, dest, stores, SAMPLE)
    rows = diff(run, spec, dest, stores, items, selection)
    summary = _summary(rows, selection)
    stores.blobs.put_json(keys.sample_manifest, {"items": items, "records": selection.size})
    stores.blobs.put_json(keys.report("sample-diff.json"), {"run_id": run.run_id, "summary": summary, "rows": rows})
    stores.blobs.put_text(keys.report("sample-diff.csv"),
                          csv_text([{**r, "flags": " ".join(r["flags"])} for r in rows], DIFF_COLUMNS), "text/csv")
    stores.blobs.put_text(keys.report("sample-diff.html"), sample_diff_html(run.run_id, summary, rows),
                          "text/html; charset=utf-8")
    stores.runs.update(run.run_id, sample={k: summary[k] for k in ("records", "fields", "flagged", "rejected")})
    return {"records": summary["records"], "flagged": summary["flagged"], "rejected": summary["rejected"],
            "report": keys.report("sample-diff.html")}


def _summary(rows: list[dict[str, Any]], selection: Selection) -> dict[str, Any]:
    by_mapping: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = by_mapping.setdefault(r["mapping"], {"mapping": r["mapping"], "dest_object": r["dest_object"],
                                                 "records": set(), "fields": 0, **{f: 0 for f in FLAGS}})
        s["records"].add(r["source_id"])
        if r["field"]:
            s["fields"] += 1
        for f in r["flags"]:
            s[f] += 1
    mappings = [{**s, "records": len(s["records"])} for s in by_mapping.values()]
    return {
        "records": selection.size, "files": selection.files,
        "fields": sum(1 for r in rows if r["field"]),
        "flagged": sum(1 for r in rows if r["flags"]),
        "rejected": sum(1 for r in rows if "rejected" in r["flags"]),
        "by_flag": {f: sum(1 for r in rows if f in r["flags"]) for f in FLAGS},
        "custom_fields_not_in_sample": selection.missing_custom,
        "mappings": mappings,
    }


# --- diff ----------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def same(want: Any, got: Any) -> bool:
    """Whether a value read back equals what was written, modulo the destination's formatting."""
    if want in (None, "") and got in (None, ""):
        return True
    if want is None or got is None:
        return False
    if isinstance(want, bool) or isinstance(got, bool):
        return str(want).lower() == str(got).lower()
    if isinstance(want, int | float) or isinstance(got, int | float):
        try:
            return math.isclose(float(want), float(got), rel_tol=1e-9, abs_tol=1e-6)
        except (TypeError, ValueError):
            return False
    a, b = str(want), str(got)
    if a == b:
        return True
    if "T" in a and "T" in b:
        try:
            return parse_time(a) == parse_time(b)
        except ValueError:
            return False
    return a.replace("\r\n", "\n") == b.replace("\r\n", "\n")


def _source_fields(mapping: ObjectMapping) -> dict[str, tuple[str, str]]:
    """dest field -> (what it is made from, rule kind)."""
    out: dict[str, tuple[str, str]] = {}
    for r in mapping.fields:
        origin = r.source or " + ".join(r.sources) or ("(constant)" if r.constant is not None else "")
        out[r.dest] = (origin, r.transform)
    for lk in mapping.lookups:
        out[lk.dest] = (lk.source, "lookup")
    if mapping.owner is not None:
        out[mapping.owner.dest] = (mapping.owner.source, "owner")
    return out


def _source_value(record: Mapping[str, Any] | None, origin: str) -> Any:
    if record is None or not origin or origin == "(constant)":
        return None
    if " + " in origin:
        return " ".join(_text(_value(record, p)) for p in origin.split(" + ")).strip()
    return _value(record, origin)


def diff(run: RunRef, spec: MigrationSpec, dest: Destination, stores: Stores, items: list[dict[str, Any]],
         selection: Selection) -> list[dict[str, Any]]:
    keys = Keys(run)
    ext = spec.external_id_field
    rows: list[dict[str, Any]] = []
    for item in items:
        mapping = spec.mapping(str(item["mapping"]))
        batch_id = str(item["batch_id"])
        sources = {str(r["id"]): r for r in CompiledMapping(spec, mapping, {}).expand(
            list(selection.records.get(mapping.source_object, {}).values()))}
        origins = _source_fields(mapping)
        issues: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
        for issue in stores.blobs.get_lines(keys.issues(batch_id)):
            issues[(issue["source_id"], issue["field"])].append(issue)
        for reject in stores.blobs.get_lines(keys.rejects(batch_id)) + stores.blobs.get_lines(
                keys.rejects(batch_id + ".load")):
            rows.append({"mapping": mapping.name, "source_object": mapping.source_object,
                         "source_id": str(reject.get("source_id", "")), "dest_object": mapping.dest_object,
                         "dest_id": "", "field": str(reject.get("field") or ""),
                         "source_field": "", "source_value": "", "transformed_value": "", "readback_value": "",
                         "flags": ["rejected"],
                         "detail": f"{reject.get('code', '')} {reject.get('reason', '')}".strip()})
        records = stores.blobs.get_lines(keys.load_ready(batch_id))
        if not records:
            continue
        xwalk = open_snapshot(stores.blobs, keys.xwalk_merged(mapping.dest_object))
        ids = [xwalk.get(r[ext], "") for r in records]
        fields = sorted({k for r in records for k in r} - {ext} - ({mapping.attachment_source} - {None}))
        present = [i for i in ids if i]
        read = dict(zip(present, dest.retrieve(mapping.dest_object, present, fields), strict=True)) if present else {}
        for rec, dest_id in zip(records, ids, strict=True):
            sid = str(rec[ext]).split(":", 1)[1]
            back = read.get(dest_id) if dest_id else None
            for name in sorted(set(rec) - {ext}):
                origin, kind = origins.get(name, ("", ""))
                src = _source_value(sources.get(sid), origin)
                written = rec[name]
                flags: list[str] = []
                details: list[str] = []
                for issue in issues.get((sid, name), []):
                    flag = _ISSUE_FLAGS.get(issue["code"], "type_coerced")
                    flags.append(flag)
                    details.append(f"{issue['code']}: {issue['detail']}")
                if name == mapping.attachment_source:
                    readback: Any = "(file content, not read back)"
                    written = f"({written['size']} bytes)" if files.is_ref(written) else "(file content)"
                else:
                    readback = back.get(name) if back is not None else None
                    if back is None:
                        flags.append("readback_mismatch")
                        details.append("the record could not be read back")
                    elif not same(written, readback):
                        flags.append("picklist_mismatch" if kind == "picklist" else
                                     "lookup_failed" if kind in ("lookup", "owner") else "readback_mismatch")
                        details.append(f"wrote {_text(written)!r}, read back {_text(readback)!r}")
                if kind in ("lookup", "owner") and src not in (None, "") and written in (None, ""):
                    flags.append("lookup_failed")
                if kind in _COERCING and src not in (None, "") and _text(src) != _text(written):
                    flags.append("type_coerced")
                    details.append(f"{kind}: {_text(src)!r} -> {_text(written)!r}")
                rows.append({"mapping": mapping.name, "source_object": mapping.source_object, "source_id": sid,
                             "dest_object": mapping.dest_object, "dest_id": dest_id, "field": name,
                             "source_field": origin, "source_value": _text(src), "transformed_value": _text(written),
                             "readback_value": _text(readback), "flags": sorted(set(flags)),
                             "detail": "; ".join(details)})
    return rows


def discard(run: RunRef, dest: Destination, stores: Stores) -> dict[str, Any]:
    """Remove what the run wrote so far (the sample, its default records) with the rollback code."""
    planned = rollback.plan(run, stores, environment(run, SAMPLE))
    for index in range(int(planned["count"])):
        manifest = rollback.plan_level(run, index, stores)
        for item in stores.blobs.get_json(manifest["manifest_key"]):
            rollback.undo_batch(run, item, dest, stores)
        rollback.verify_level(run, index, stores)
    return rollback.verify(run, dest, stores)

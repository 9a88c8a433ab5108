"""Prepare the destination, load batches level by level, verify, and fix up deferred lookups.

Guarantees kept here:
- every write is an upsert on the external id (or, for insert-only objects, an insert
  guarded by a read of the keys already present), so a retried batch converges;
- each written record gets a crosswalk entry and one audit item (DynamoDB) before the
  batch records its outcome; a level completes only when every batch of its manifest
  recorded one;
- a record the destination refused is a reject with the destination's code and message.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from shared import planner
from shared.aws import Stores, now_iso
from shared.connectors.destination import ID, Destination, LineRecords, WriteResult, chunks
from shared.domain import files, xwalk
from shared.domain.extract import load_spec
from shared.domain.keys import FULL, Keys, environment
from shared.domain.transform import crosswalk_scope
from shared.errors import ConfigurationError, IncompleteStepError, QuotaExhaustedError, RecordReject
from shared.mapping.engine import Issue, condition_test, crosswalk_aliases, source_key
from shared.mapping.spec import Condition, MigrationSpec, ObjectMapping
from shared.models import RunRef
from shared.timeutil import parse_time

CLOCK_TOLERANCE = timedelta(seconds=2)
#: Conversions recorded together (each is its own call; a budget stop loses at most this many records).
CONVERT_CHUNK = 10


def prepare(run: RunRef, dest: Destination, stores: Stores, env: str = "target") -> dict[str, Any]:
    """Create missing custom objects and fields (idempotent) and the run's default records.

    ``env`` is ``sample`` when ``dest`` is the run's sample environment (prepared before the sample,
    the target only after its approval) and ``target`` otherwise."""
    spec = load_spec(stores.blobs, run)
    created: list[str] = []
    keys = Keys(run)
    if env == "sample":  # the sample's crosswalk scope: transform reads it for the sample's batches
        stores.blobs.put_json(keys.sample_environment, {"instance": dest.scope})
    elif run.sample_destination is not None:
        # the approved target starts from nothing the sample wrote: lookups resolve to the target's ids
        for key in stores.blobs.keys(keys.xwalk_merged_prefix):
            stores.blobs.delete(key)
    # What this run created (kept across retries of this step): rollback_schema removes exactly that.
    schema_key = keys.created_schema_sample if env == "sample" else keys.created_schema
    schema: dict[str, list[Any]] = (stores.blobs.get_json(schema_key)
                                    if stores.blobs.exists(schema_key) else {"objects": [], "fields": []})
    described = {name: dest.describe(name) for name in {m.dest_object for m in spec.mappings}}
    for obj in spec.custom_objects:
        if described.get(obj.name) is None:
            dest.create_custom_object(obj)
            created.append(obj.name)
            schema["objects"].append(obj.name)
            stores.blobs.put_json(schema_key, schema)
            described[obj.name] = dest.describe(obj.name)
    for field in spec.custom_fields:
        have = described.get(field.object)
        if have is None or field.name not in have.fields:
            dest.create_custom_field(field)
            created.append(f"{field.object}.{field.name}")
            schema["fields"].append([field.object, field.name])
            stores.blobs.put_json(schema_key, schema)
    adopted = adopt_existing(run, dest, stores, spec)
    defaults: dict[str, str] = {}
    for key, values in spec.default_records.items():
        if values.get("match"):  # a seeded record: found, never created or changed (nor audited)
            defaults[key] = match_default(dest, key, values)
            continue
        record = {k: v for k, v in values.items() if k != "object"}
        record[spec.external_id_field] = key
        # An earlier run's default record (adopted above) is updated: keep its before-image for rollback.
        known = stores.crosswalk.get_many(crosswalk_scope(dest.scope, values["object"]), [key])
        written = sorted(set(record) - {spec.external_id_field})
        before = before_images(dest, values["object"], list(known.values()), written)
        res = dest.upsert(values["object"], spec.external_id_field, [record], allow_bulk=False)[0]
        if not res.ok or res.id is None:
            raise IncompleteStepError(f"default {values['object']} {key!r} was refused: {res.error_code} "
                                      f"{res.error_message}")
        defaults[key] = res.id
        _record_writes(run, stores, spec, dest, values["object"], "defaults", {key: res}, None, before, env=env)
    stores.blobs.put_json(Keys(run).defaults, defaults)
    quota = dest.limits_report()  # what the org has left today, shown with the run's status
    stores.runs.update(run.run_id, destination_quota=quota)
    return {"created_fields": len(created), "adopted": adopted}


def match_default(dest: Destination, key: str, values: dict[str, str]) -> str:
    """The id of the seeded record a ``match`` default names (e.g. a platform's seeded default unit group).

    The record is looked up by the listed fields and their values in the spec; it is never created
    or updated, so a missing one stops the run here, naming what was looked for.
    """
    obj = values["object"]
    fields = [f.strip() for f in values["match"].split(",") if f.strip()]
    missing = [f for f in fields if not values.get(f)]
    if not fields or missing:
        raise ConfigurationError(f"default record {key!r} ({obj}): match on {values['match']!r} needs a value for "
                                 f"each field; missing {missing or fields}")
    probe = {f: values[f] for f in fields}
    found = dest.find_natural(obj, fields, [probe])
    wanted = tuple(str(probe[f]) for f in fields)
    hit = found.get(wanted) or next((i for k, i in found.items()
                                     if tuple(v.casefold() for v in k) == tuple(v.casefold() for v in wanted)), None)
    if hit is None:
        shown = ", ".join(f"{f}={probe[f]!r}" for f in fields)
        raise ConfigurationError(f"default record {key!r}: no {obj} with {shown} exists in the {dest.label} "
                                 f"destination; it is matched, never created: create it there or change the "
                                 f"name in the spec")
    return hit


def adopt_existing(run: RunRef, dest: Destination, stores: Stores, spec: MigrationSpec) -> int:
    """Record in the crosswalk the destination records that already carry a source key.

    They may come from an earlier run or from another tool: either way the load will update
    them, so it must know them beforehand to keep their before-images for rollback (and to
    leave their insert-only fields alone). One query per mapping; empty on a fresh org.
    """
    ext = spec.external_id_field
    adopted = 0
    for m in spec.mappings:
        if m.natural_key:
            continue
        found = dest.find_by_key_prefix(m.dest_object, ext, f"{m.source_object}:")
        if found:
            stores.crosswalk.put_many(crosswalk_scope(dest.scope, m.dest_object), found, run.run_id)
            adopted += len(found)
    for values in spec.default_records.values():
        if values.get("match"):
            continue
        found = dest.find_by_key_prefix(values["object"], ext, "flitstack:")
        stores.crosswalk.put_many(crosswalk_scope(dest.scope, values["object"]), found, run.run_id)
    return adopted


def before_images(dest: Destination, obj: str, ids: list[str], fields: list[str]
                  ) -> dict[str, dict[str, Any]]:
    """The current values of ``fields`` for records about to be updated (what rollback restores)."""
    if not ids or not fields:
        return {}
    rows = dest.retrieve(obj, ids, fields)  # in the order of ids, None where absent; Id only if asked for
    return {i: {f: r.get(f) for f in fields} for i, r in zip(ids, rows, strict=True) if r}


def pack(batch_keys: list[str], sizes: list[int], limit: int) -> list[list[str]]:
    """Group consecutive source batches so each load holds at most ``limit`` records (at least one batch).

    Filtered mappings (Task/Event from activities) and exploded ones emit only part of each
    source batch; packing their slices fills loads up, which keeps API calls at the minimum. Source batches
    also end at ``batch_bytes`` (wide records): packing them back up to ``limit`` keeps a load one Bulk job, and
    the transform reads the item's source batches one at a time.
    """
    groups: list[list[str]] = []
    current: list[str] = []
    total = 0
    for key, size in zip(batch_keys, sizes, strict=True):
        if current and total + size > limit:
            groups.append(current)
            current, total = [], 0
        current.append(key)
        total += size
    if current:
        groups.append(current)
    return groups


def plan_level(run: RunRef, index: int, stores: Stores, phase: str = FULL) -> dict[str, Any]:
    keys = Keys(run, phase)
    spec = load_spec(stores.blobs, run)
    levels: list[list[str]] = stores.blobs.get_json(keys.levels)
    order = {m.name: i for i, m in enumerate(spec.mappings)}
    items = []
    for name in levels[index]:
        mapping = spec.mapping(name)
        outcome = stores.blobs.get_json(keys.extract_outcome(mapping.source_object))
        groups = pack(outcome["batches"], outcome["sizes"][name], run.options.batch_size)
        for n, group in enumerate(groups):
            prefix = "" if phase == FULL else f"D{phase.removeprefix('delta-')}-"
            items.append({"mapping": name, "source_keys": group, "level": index, "phase": phase,
                          "batch_id": f"{prefix}L{index:02d}-M{order[name]:02d}-{n:05d}"})
    stores.blobs.put_json(keys.level_manifest(index), items)
    return {"manifest_key": keys.level_manifest(index), "items": len(items), "index": index, "phase": phase}


def _record_writes(run: RunRef, stores: Stores, spec: MigrationSpec, dest: Destination,
                   dest_object: str, batch_id: str, ok: dict[str, WriteResult], level: int | None,
                   before: dict[str, dict[str, Any]] | None = None, env: str = "target") -> dict[str, str]:
    ids = {k: r.id for k, r in ok.items() if r.id}
    stores.crosswalk.put_many(crosswalk_scope(dest.scope, dest_object), ids, run.run_id)

    def entries() -> Iterator[dict[str, str]]:  # built as they are sent, 25 at a time
        for k, r in ok.items():
            entry = {"dest_object": dest_object, "source_key": k, "dest_id": r.id or "", "batch": batch_id,
                     "operation": "created" if r.created else "updated"}
            if not r.created:
                image = (before or {}).get(r.id or "")
                entry["before"] = json.dumps(image, default=str) if image is not None else ""
            yield entry

    stores.audit.record(run.run_id, entries(), env=env)
    if level is not None:
        stores.blobs.put_json(Keys(run).xwalk_part(level, dest_object, batch_id), ids)
    return ids


def _natural_matches(dest: Destination, mapping: ObjectMapping, ext: str, records: Sequence[dict[str, Any]]
                     ) -> dict[str, str]:
    """Records already present, found by the mapping's natural key (e.g. AccountId + ContactId + Role)."""
    fields = mapping.natural_key
    existing = dest.find_natural(mapping.dest_object, fields, records)
    found = {}
    for r in records:
        match = existing.get(tuple(str(r.get(f) or "") for f in fields))
        if match:
            found[r[ext]] = match
    return found


def load_batch(run: RunRef, item: dict[str, Any], transformed: dict[str, Any], dest: Destination,
               stores: Stores) -> dict[str, Any]:
    """Write one load-ready batch. A batch that already recorded its outcome is not written again
    (a resumed run continues from its checkpoint); a quota stop leaves a marker the level check reads."""
    keys = Keys(run, str(item.get("phase", FULL)))
    batch_id, level = str(item["batch_id"]), int(item["level"])
    done = keys.outcome(level, batch_id)
    if stores.blobs.exists(done):
        return dict(stores.blobs.get_json(done))
    try:
        outcome = _load(run, item, transformed, dest, stores, keys)
    except QuotaExhaustedError as exc:
        stores.blobs.put_json(keys.failure(level, batch_id), {"error": type(exc).__name__, "message": str(exc)})
        raise
    stores.blobs.put_json(done, outcome)
    return outcome


def _conflicts(run: RunRef, dest: Destination, stores: Stores, obj: str, known: dict[str, str]
               ) -> dict[str, dict[str, str]]:
    """Records a person changed in the destination after this run last wrote them (delta passes).

    The destination's modification stamp (the platform's system modification stamp) later
    than our last write (the crosswalk's time, plus a small clock tolerance) means someone else
    edited the record: it is reported, not overwritten.
    """
    if not known:
        return {}
    written_at = stores.crosswalk.get_times(crosswalk_scope(dest.scope, obj), known)
    stamps = dest.modified_stamps(obj, list(known.values()))
    found = {}
    for key, dest_id in known.items():
        ours, theirs = written_at.get(key), stamps.get(dest_id)
        if ours and theirs and parse_time(theirs) > parse_time(ours) + CLOCK_TOLERANCE:
            found[key] = {"source_key": key, "dest_id": dest_id, "our_last_write": ours, "their_change": theirs}
    return found


def _load(run: RunRef, item: dict[str, Any], transformed: dict[str, Any], dest: Destination,
          stores: Stores, keys: Keys) -> dict[str, Any]:
    spec = load_spec(stores.blobs, run)
    mapping = spec.mapping(str(item["mapping"]))
    batch_id, level = str(item["batch_id"]), int(item["level"])
    ext = spec.external_id_field
    # The load-ready lines, each parsed as it is read (D-070): ten thousand work orders as dictionaries are
    # twice their lines, and four loads run at a time; every filter below goes by the records' keys.
    records = LineRecords(stores.blobs.get_encoded_lines(str(transformed["load_key"])), ext)
    results: dict[str, WriteResult] = {}
    linked_only: dict[str, str] = stores.blobs.get_json(keys.already_loaded(batch_id))
    present: dict[str, str] = {}
    before: dict[str, dict[str, Any]] = {}
    conflicts: dict[str, dict[str, str]] = {}
    def send(write: Callable[[Sequence[dict[str, Any]]], list[WriteResult]], rows: Sequence[dict[str, Any]]
             ) -> list[WriteResult]:
        """Files travel as S3 references up to here: read in one write request's worth at a time."""
        if not rows or not mapping.attachment_source:
            return write(rows) if rows else []
        return [w for chunk in chunks(rows, dest.capabilities.write_batch_max)
                for w in write(files.resolve(chunk, mapping.attachment_source, stores.blobs))]

    if mapping.natural_key:
        present = _natural_matches(dest, mapping, ext, records)
        linked_only.update(present)
        todo = records.where_key(lambda k: k not in present)
        written = send(lambda rows: dest.insert(mapping.dest_object, ext, rows, match_on=mapping.natural_key), todo)
    elif mapping.insert_only:
        # A retried attempt may follow inserts whose crosswalk entries were never written:
        # only then ask the destination which keys it already holds.
        if stores.blobs.exists(keys.load_started(batch_id)):
            present = dest.find_by_key(mapping.dest_object, ext, records.keys)
        else:
            stores.blobs.put_text(keys.load_started(batch_id), now_iso())
        linked_only.update(present)
        todo = records.where_key(lambda k: k not in present)
        written = send(lambda rows: dest.insert(mapping.dest_object, ext, rows), todo)
    else:
        known: dict[str, str] = stores.blobs.get_json(keys.existing(batch_id))
        if mapping.convert:  # converted before: the person lives on as the conversion's record
            records, converted_before, gone, into = _already_converted(dest, stores, mapping, ext, records)
            linked_only.update(converted_before)
            results.update(gone)
            stores.blobs.put_json(keys.xwalk_part(level, mapping.convert.into, f"{batch_id}-converted-before"), into)
        if keys.phase != FULL:
            conflicts = _conflicts(run, dest, stores, mapping.dest_object, known)
            records = records.where_key(lambda k: k not in conflicts)
        insert_only = {f.dest for f in mapping.fields if f.insert_only} | {lk.dest for lk in mapping.lookups
                                                                          if lk.insert_only}
        fields = sorted({k for r in records for k in r} - {ext} - insert_only)
        before = before_images(dest, mapping.dest_object, [known[k] for k in records.keys if k in known], fields)
        written = send(lambda rows: dest.upsert(mapping.dest_object, ext, rows, allow_bulk=True), records)
        refused = {w.key for w in written if dest.capabilities.reason(w.error_code) == "insert_only_field"}
        if refused:  # already there though the crosswalk did not know: resend without insert-only fields
            again = [{k: v for k, v in r.items() if k not in insert_only}
                     for r in records.where_key(lambda k: k in refused)]
            written = [w for w in written if w.key not in refused] + send(
                lambda rows: dest.upsert(mapping.dest_object, ext, rows, allow_bulk=False), again)
    for w in written:
        results[w.key] = w
    ok = {k: r for k, r in results.items() if r.ok}
    converted = 0
    if mapping.convert:
        converted = _convert(run, item, dest, stores, keys, spec, mapping, ok, before)
    handled = set(results) | set(linked_only)
    rejects = [RecordReject(mapping.source_object, k.split(":", 1)[1], mapping.dest_object,
                            r.error_message or "", r.error_code or "", r.fields or None)
               for k, r in results.items() if not r.ok]
    rejects += [RecordReject(mapping.source_object, k.split(":", 1)[1], mapping.dest_object,
                             "the destination returned no result for this record", "NO_RESULT")
                for k in records.keys if k not in handled]
    # A record the destination created but refused to finish (a case written, then not
    # resolved) is a reject *and* a write: audited as created, so rollback deletes it.
    partial = {k: r for k, r in results.items() if not r.ok and r.id and r.created}
    ids = _record_writes(run, stores, spec, dest, mapping.dest_object, batch_id, {**ok, **partial}, None, before,
                         env=environment(run, keys.phase))
    stores.blobs.put_json(keys.xwalk_part(level, mapping.dest_object, batch_id), {**linked_only, **ids})
    stores.blobs.put_lines(keys.rejects(batch_id + ".load"), [r.as_row() for r in rejects])
    if conflicts:
        stores.blobs.put_lines(keys.delta_events(f"conflicts/{batch_id}"),
                               [{**c, "mapping": mapping.name, "dest_object": mapping.dest_object}
                                for c in conflicts.values()])
    return {
        "batch_id": batch_id, "mapping": mapping.name, "input": transformed.get("input", len(records)),
        "filtered_out": transformed.get("filtered_out", 0), "transform_rejected": transformed.get("rejected", 0),
        "loaded": len(ok) + len(linked_only), "created": sum(1 for r in ok.values() if r.created),
        "already_loaded": len(linked_only), "conflicts": len(conflicts),
        "load_rejected": len(rejects), "converted": converted,
    }


def _already_converted(dest: Destination, stores: Stores, mapping: ObjectMapping, ext: str, records: LineRecords
                       ) -> tuple[LineRecords, dict[str, str], dict[str, WriteResult], dict[str, str]]:
    """Records a conversion already turned into its ``into`` record (an earlier run, or an attempt of this
    batch stopped by the budget): not written again (the destination refuses to update a converted record),
    their ``into`` ids returned for this run's lookups. A person already held in ``into`` but never written
    here (a Contact that became a prospect) is a reject."""
    assert mapping.convert is not None
    into = stores.crosswalk.get_many(crosswalk_scope(dest.scope, mapping.convert.into), records.keys)
    if not into:
        return records, {}, {}, {}
    own = stores.crosswalk.get_many(crosswalk_scope(dest.scope, mapping.dest_object), list(into))
    gone = {k: WriteResult(k, None, False, "already_converted",
                           f"already a {mapping.convert.into} record ({into[k]}); not written back as "
                           f"{mapping.dest_object}") for k in into if k not in own}
    return records.where_key(lambda k: k not in into), {k: own[k] for k in into if k in own}, gone, into


def _convert(run: RunRef, item: dict[str, Any], dest: Destination, stores: Stores, keys: Keys, spec: MigrationSpec,
             mapping: ObjectMapping, written: dict[str, WriteResult], before: dict[str, dict[str, Any]]) -> int:
    """Convert the written records the mapping's rule takes (``Conversion``); returns how many were converted.

    The batch's own writes are recorded first, so a conversion stopped by the budget resumes with the
    records it already converted recognised (``_already_converted``); the destination's ``convert`` returns
    what it converted before the budget's edge (fewer results than items), which is recorded before pausing.
    Each record the conversion creates is recorded in the crosswalk of ``into`` (later levels link to it) and
    audited as created."""
    conv = mapping.convert
    assert conv is not None
    convert = getattr(dest, "convert", None)
    if convert is None:
        label = getattr(dest, "label", "this destination")
        raise ConfigurationError(f"mapping {mapping.name!r}: {label} converts no records; remove 'convert' "
                                 "from the mapping")
    batch_id, level = str(item["batch_id"]), int(item["level"])
    env = environment(run, keys.phase)
    _record_writes(run, stores, spec, dest, mapping.dest_object, batch_id, written, None, before, env=env)
    test = condition_test(Condition(where=conv.where, present=conv.present))
    snapshots = {d: xwalk.open_snapshot(stores.blobs, keys.xwalk_merged(d))
                 for d in sorted({lk.target.dest_object for lk in conv.link if lk.target})}
    defaults = stores.blobs.get_json(keys.defaults) if stores.blobs.exists(keys.defaults) else {}
    # The item's source batches one at a time (D-058): of each record only its conversion's links are kept.
    links_of: dict[str, dict[str, str]] = {}
    for batch in item["source_keys"]:
        for rec in stores.blobs.get_lines(str(batch)):
            key = source_key(mapping.source_object, str(rec.get("id")))
            w = written.get(key)
            if w is None or not w.id or not test(rec):
                continue
            links: dict[str, str] = {}
            for lk in conv.link:
                assert lk.target is not None
                ref = rec.get(lk.source)
                hit = (snapshots[lk.target.dest_object].get(source_key(lk.target.source_object, str(ref)))
                       if ref not in (None, "") else None) or (defaults.get(lk.default_key) if lk.default_key else None)
                if hit:
                    links[lk.dest] = str(hit)
            links_of[key] = links
    todo = [(key, str(w.id), links_of[key]) for key, w in written.items() if key in links_of]
    results: list[WriteResult] = []
    for chunk in chunks(todo, CONVERT_CHUNK):  # recorded as it goes: a budget stop keeps what was converted
        done = convert(mapping.dest_object, conv.into, chunk)
        ok = {r.key: r for r in done if r.ok}
        ids = _record_writes(run, stores, spec, dest, conv.into, f"{batch_id}-converted", ok, None, env=env)
        part = keys.xwalk_part(level, conv.into, f"{batch_id}-converted")
        stores.blobs.put_json(part, {**(stores.blobs.get_json(part) if stores.blobs.exists(part) else {}), **ids})
        results += done
        if len(done) < len(chunk):  # the destination stopped at the budget's edge: pause, resume from here
            raise QuotaExhaustedError(f"{mapping.name}: {len(todo) - len(results)} conversions wait for the "
                                      "budget window")
    stores.blobs.put_lines(keys.issues(f"{batch_id}.convert"), [
        Issue(mapping.source_object, r.key.split(":", 1)[1], mapping.dest_object, r.fields, r.error_code or "",
              f"written as {mapping.dest_object}, not converted: {r.error_message}").as_row()
        for r in results if not r.ok])
    return sum(1 for r in results if r.ok)


def verify_level(run: RunRef, index: int, stores: Stores, phase: str = FULL) -> dict[str, Any]:
    """Every batch of the level recorded an outcome; merge the level's crosswalk parts.

    Batches stopped by an exhausted quota raise :class:`QuotaExhaustedError`: the state machine
    pauses and re-plans the same level, and the batches already done are not written again.
    """
    keys = Keys(run, phase)
    items = stores.blobs.get_json(keys.level_manifest(index))
    done = {k.rsplit("/", 1)[1].removesuffix(".json") for k in stores.blobs.keys(keys.outcomes_prefix(index))}
    missing = [i["batch_id"] for i in items if i["batch_id"] not in done]
    if missing:
        quota = [k for k in stores.blobs.keys(keys.failures_prefix(index))
                 if k.rsplit("/", 1)[1].removesuffix(".json") in missing]
        if quota:
            stores.runs.update(run.run_id, status="paused", step=f"LoadLevel {index}",
                               paused_reason=f"destination quota exhausted; {len(missing)} batches to resume")
            for key in quota:  # the retry after the pause starts clean
                stores.blobs.delete(key)
            raise QuotaExhaustedError(f"level {index}: {len(quota)} batches stopped by an exhausted quota")
        raise IncompleteStepError(f"level {index}: {len(missing)} batches did not complete: {missing[:10]}")
    parts: dict[str, list[str]] = {}  # destination object -> its part keys, in listing order (later wins)
    for key in stores.blobs.keys(keys.xwalk_level_prefix(index)):
        parts.setdefault(key.split("/")[-2], []).append(key)
    spec = load_spec(stores.blobs, run) if parts else None
    for dest_object, part_keys in parts.items():
        assert spec is not None
        # One part at a time into the SQLite snapshot (D-054); then merged duplicates (spec.merged) resolve to
        # their survivor's record for code that reads this snapshot without the engine: the fix-up pass, delta
        # levels, reconciliation of natural keys. A retried step merges the same parts again: same snapshot.
        xwalk.merge(stores.blobs, keys.xwalk_merged(dest_object), part_keys,
                    functools.partial(crosswalk_aliases, spec, dest_object))
    levels = stores.blobs.get_json(keys.levels)
    stores.runs.update(run.run_id, status="running")
    return {"index": index + 1, "count": len(levels), "phase": phase}


def _source_records(stores: Stores, keys: Keys, obj: str) -> Iterable[dict[str, Any]]:
    for batch_key in stores.blobs.get_json(keys.extract_outcome(obj))["batches"]:
        yield from stores.blobs.get_lines(batch_key)


def fixup(run: RunRef, dest: Destination, stores: Stores, phase: str = FULL) -> dict[str, Any]:
    """Second pass: fill deferred (self/circular) lookups now that every record has an id."""
    keys = Keys(run, phase)
    spec = load_spec(stores.blobs, run)
    updated = 0
    for mapping in planner.deferred_mappings(spec):
        own = xwalk.open_snapshot(stores.blobs, keys.xwalk_merged(mapping.dest_object))
        updates: list[dict[str, Any]] = []
        by_id: dict[str, str] = {}  # the updated records' ids -> their source keys (duplicates never updated)
        issues: list[Issue] = []
        duplicates = spec.merged.get(mapping.source_object, {})
        for lk in (lk for lk in mapping.lookups if lk.deferred):
            assert lk.target is not None
            # tried in order, as in the first pass: the rule's target, then its alternatives (each may name
            # its own destination field: a project landed as an Opportunity or as a Project__c)
            tried = [(lk.source, lk.target), *((c.source, c.target) for c in lk.or_else)]
            targets = {t.dest_object: xwalk.open_snapshot(stores.blobs, keys.xwalk_merged(t.dest_object))
                       for _, t in tried}
            for rec in _source_records(stores, keys, mapping.source_object):
                if str(rec.get("id")) in duplicates:
                    continue  # merged into its survivor: its own key aliases the survivor's record
                own_id = own.get(source_key(mapping.source_object, str(rec["id"])))
                refs = [(rec.get(src), t) for src, t in tried if rec.get(src) not in (None, "")]
                if not refs or own_id is None:
                    continue
                hit = next(((t, targets[t.dest_object].get(source_key(t.source_object, str(ref))))
                            for ref, t in refs if targets[t.dest_object].get(source_key(t.source_object, str(ref)))),
                           None)
                if hit is None:
                    names = " or ".join(dict.fromkeys(t.dest_object for _, t in refs))
                    issues.append(Issue(mapping.source_object, str(rec["id"]), mapping.dest_object, lk.dest,
                                        "lookup_missing", f"no {names} for {refs[0][0]!r}; left empty"))
                    continue
                updates.append({ID: own_id, hit[0].dest or lk.dest: hit[1]})
                by_id[own_id] = source_key(mapping.source_object, str(rec["id"]))
        deferred = sorted({k for u in updates for k in u} - {ID})
        before = before_images(dest, mapping.dest_object, [u[ID] for u in updates], deferred)
        results = dest.update(mapping.dest_object, updates)
        failed = [r for r in results if not r.ok]
        updated += len(results) - len(failed)
        stores.audit.record(run.run_id, [
            {"dest_object": mapping.dest_object, "source_key": by_id.get(r.key, r.key), "dest_id": r.key,
             # one batch name per phase: a delta pass's fix-up of the same record is an entry of its own, so its
             # before-image never overwrites the full load's (rollback restores from the earliest)
             "batch": "fixup" if phase == FULL else f"fixup-{phase}", "operation": "fixup",
             "before": json.dumps(before.get(r.key), default=str)}
            for r in results if r.ok], env=environment(run, phase))
        rows = [i.as_row() for i in issues] + [
            Issue(mapping.source_object, by_id.get(r.key, r.key), mapping.dest_object, "", r.error_code or "",
                  f"fix-up refused: {r.error_message}").as_row() for r in failed]
        stores.blobs.put_lines(keys.issues(f"fixup-{phase}-{mapping.name.replace('>', '')}"), rows)
        done = {by_id[r.key]: r.key for r in results if r.ok and r.key in by_id}
        stores.crosswalk.put_many(crosswalk_scope(dest.scope, mapping.dest_object), done, run.run_id)
    return {"updated": updated, "phase": phase}

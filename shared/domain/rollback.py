"""Rollback: undo every destination write of one run, then prove it by reading back.

What is undone is decided from the audit log alone (one item per destination write):

- a record any entry of the run says ``created`` is deleted;
- any other record is restored from the before-image of its *earliest* write in the run
  (by ``at``), completed with fields that only later writes' before-images cover (a fix-up
  or delta pass writing a field the load did not);
- a record whose earliest write has no before-image cannot be restored: it is reported as
  ``unrestorable`` and the rollback does not pass verification (never silently skipped).

Order (phases, one Distributed Map each):

1. every restore first, so records that existed before the run stop pointing at records the
   run created (on the platforms we serve, deleting an account deletes the contacts, cases... that look
   it up, including pre-existing ones the run re-parented);
2. deletes by mapping level in reverse (children before parents);
3. the run's default records (e.g. the default Account) last.

Every work item records an outcome; ``verify_level`` refuses to go on when one is missing
(Distributed Map swallows failed items). ``verify`` reads everything back: deleted ids are
gone, restored records hold their before-image values (system fields such as
LastModifiedDate necessarily move and are not compared), and writes ``reports/rollback.json``.
Units are named from (run, phase, object, chunk) and finished units are skipped, so a retried
step or a second rollback of the same run converges.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Literal, cast

from shared import planner
from shared.aws import BlobStore, Stores, now_iso
from shared.connectors.destination import ID, Destination, SchemaRemoval
from shared.domain.extract import load_spec
from shared.domain.keys import Keys
from shared.domain.spill import Spill, batched
from shared.domain.transform import crosswalk_scope
from shared.errors import ContractError, IncompleteStepError
from shared.mapping.spec import MigrationSpec
from shared.models import RunRef

#: Work items hold at most this many records (the largest high-volume write a destination declares).
CHUNK = 10_000
#: How many examples of each kind of problem the report lists (the counts are always complete).
REPORT_EXAMPLES = 200

Action = Literal["delete", "restore"]


class RollbackKeys:
    """Where the rollback of a run keeps its plan, work items and outcomes (under the run's prefix).

    Each rollback attempt (one PlanRollback) has its own folder: within an execution a retried
    item skips work already done, while a new attempt redoes everything, failures included.
    ``plan.json`` names the current attempt.
    """

    def __init__(self, run: RunRef, attempt: str = "") -> None:
        self.root = f"{run.prefix}/rollback"
        self.p = f"{self.root}/{attempt}" if attempt else self.root

    plan = property(lambda self: f"{self.root}/plan.json")
    failure = property(lambda self: f"{self.root}/failure.json")

    @classmethod
    def current(cls, run: RunRef, blobs: BlobStore) -> tuple[RollbackKeys, dict[str, Any]]:
        """The keys of the attempt ``plan.json`` names, and the plan."""
        the_plan: dict[str, Any] = blobs.get_json(cls(run).plan)
        return cls(run, str(the_plan["attempt"])), the_plan

    def manifest(self, index: int) -> str:
        return f"{self.p}/levels/{index:02d}/manifest.json"

    def work(self, batch_id: str) -> str:
        return f"{self.p}/work/{batch_id}.json"

    def outcome(self, index: int, batch_id: str) -> str:
        return f"{self.p}/levels/{index:02d}/outcomes/{batch_id}.json"

    def outcomes_prefix(self, index: int) -> str:
        return f"{self.p}/levels/{index:02d}/outcomes/"


@dataclass
class Undo:
    """What rollback does to one destination record the run wrote."""

    dest_object: str
    dest_id: str
    source_key: str
    action: Action | Literal["unrestorable"]
    image: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


def _image(entry: dict[str, str]) -> dict[str, Any] | None:
    """The entry's before-image, or None when it was not captured ("" or JSON null)."""
    raw = entry.get("before", "")
    if not raw:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


def _undo(obj: str, rid: str, writes: list[dict[str, str]]) -> Undo:
    """The decision for one record, from its writes in the run by (at, seq)."""
    key = writes[0]["source_key"]
    if any(e["operation"] == "created" for e in writes):
        return Undo(obj, rid, key, "delete")
    first = _image(writes[0])
    if first is None:
        return Undo(obj, rid, key, "unrestorable",
                    reason=f"its first write in the run (batch {writes[0].get('batch', '?')}) has no before-image")
    image = dict(first)
    for later in writes[1:]:
        for name, value in (_image(later) or {}).items():
            image.setdefault(name, value)
    return Undo(obj, rid, key, "restore", image)


def decisions(entries: Iterable[dict[str, str]], spill: Spill) -> Iterator[Undo]:
    """One decision per (destination object, destination id) the run wrote, in that order.

    Created anywhere in the run -> delete. Otherwise restore the earliest write's before-image,
    filled in with fields only later writes' before-images hold. Entries without a destination
    id (nothing was written) are ignored. The entries are sorted in ``spill`` (by record, then
    ``at``, ``seq`` and arrival), so only one record's writes are in memory at a time.
    """
    spill.append(((e["dest_object"], e["dest_id"], e.get("at", ""), e.get("seq", "")), e)
                 for e in entries if e.get("dest_id"))
    for (obj, rid), writes in groupby(spill.ordered(), key=lambda e: (e["dest_object"], e["dest_id"])):
        yield _undo(obj, rid, list(writes))


def decide(entries: Iterable[dict[str, str]]) -> list[Undo]:
    """:func:`decisions` as a list (for a run small enough to hold)."""
    with Spill() as spill:
        return list(decisions(entries, spill))


def _levels_of(spec: MigrationSpec) -> tuple[dict[tuple[str, str], int], int]:
    """(source object, destination object) -> its mapping level; and how many levels there are."""
    level_of: dict[tuple[str, str], int] = {}
    levels = planner.levels(spec)
    for index, names in enumerate(levels):
        for name in names:
            m = spec.mapping(name)
            level_of[(m.source_object, m.dest_object)] = index
    return level_of, len(levels)


def _delete_level(spec: MigrationSpec, level_of: dict[tuple[str, str], int], u: Undo) -> int | None:
    """The mapping level whose delete phase takes ``u``; None for the last phase (default and unattributed)."""
    level = level_of.get((u.source_key.split(":", 1)[0], u.dest_object))
    return None if level is None or u.source_key in spec.default_records else level


def delete_phases(spec: MigrationSpec, undos: list[Undo]) -> list[tuple[str, list[Undo]]]:
    """Deletes grouped by phase: mapping levels in reverse, then default (and unattributed) records."""
    level_of, count = _levels_of(spec)
    by_level: dict[int, list[Undo]] = defaultdict(list)
    last: list[Undo] = []
    for u in undos:
        level = _delete_level(spec, level_of, u)
        if level is None:
            last.append(u)
        else:
            by_level[level].append(u)
    phases = [(f"delete level {i}", by_level[i]) for i in reversed(range(count)) if by_level.get(i)]
    if last:
        phases.append(("delete defaults", last))
    return phases


def plan(run: RunRef, stores: Stores, env: str = "target") -> dict[str, Any]:
    """Read the audit log, decide every record, write one manifest per phase; return counts only.

    ``env``: the environment to undo (``target``, or ``sample`` to discard a sample migrated into the
    run's sample environment); the other environment's writes are left alone."""
    attempt = "a" + "".join(c for c in now_iso() if c.isdigit())
    rk = RollbackKeys(run, attempt)
    spec = load_spec(stores.blobs, run)
    level_of, count = _levels_of(spec)
    # Phases in order: every restore, deletes by level in reverse, then defaults (and unattributed records).
    names: list[tuple[str, Action]] = [("restore", "restore"),
                                       *[(f"delete level {i}", "delete") for i in reversed(range(count))],
                                       ("delete defaults", "delete")]
    counts: Counter[str] = Counter()
    unrestorable: list[Undo] = []
    described: list[dict[str, Any]] = []

    def by_phase(undos: Iterable[Undo]) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
        for u in undos:
            counts[u.action] += 1
            if u.action == "unrestorable":
                unrestorable.append(u)
                continue
            rank = 0  # the index in names
            if u.action == "delete":
                level = _delete_level(spec, level_of, u)
                rank = count + 1 if level is None else count - level
            yield (f"{rank:04d}", u.dest_object), {"rank": rank, "dest_object": u.dest_object, "id": u.dest_id,
                                                   "key": u.source_key, "image": u.image}

    with Spill() as writes, Spill() as phased:  # a million writes are sorted on disk, never held
        phased.append(by_phase(decisions(
            (e for e in stores.audit.entries(run.run_id) if e.get("env", "target") == env), writes)))
        for rank, in_phase in groupby(phased.ordered(), key=lambda r: int(r["rank"])):
            index, (name, action) = len(described), names[rank]
            items: list[dict[str, Any]] = []
            objects: list[str] = []
            records = 0
            for obj, of_object in groupby(in_phase, key=lambda r: str(r["dest_object"])):
                objects.append(obj)
                for n, chunk in enumerate(batched(of_object, CHUNK)):
                    batch_id = f"U{index:02d}-{obj}-{n:05d}"
                    stores.blobs.put_json(rk.work(batch_id), {
                        "action": action, "dest_object": obj,
                        "records": [{"id": r["id"], "key": r["key"], "image": r["image"]} for r in chunk]})
                    items.append({"batch_id": batch_id, "level": index, "attempt": attempt, "action": action,
                                  "dest_object": obj, "work_key": rk.work(batch_id), "count": len(chunk)})
                    records += len(chunk)
            stores.blobs.put_json(rk.manifest(index), items)
            described.append({"index": index, "name": name, "action": action, "items": len(items),
                              "records": records, "objects": objects})
    stores.blobs.put_json(rk.plan, {
        "run_id": run.run_id, "attempt": attempt, "planned_at": now_iso(), "levels": described,
        "to_delete": counts["delete"], "to_restore": counts["restore"],
        "unrestorable": [{"dest_object": u.dest_object, "dest_id": u.dest_id, "source_key": u.source_key,
                          "reason": u.reason} for u in unrestorable],
    })
    stores.runs.update(run.run_id, rollback={"status": "running", "step": "PlanRollback", "at": now_iso()})
    return {"plan_key": rk.plan, "index": 0, "count": len(described), "to_delete": counts["delete"],
            "to_restore": counts["restore"], "unrestorable": len(unrestorable)}


def plan_level(run: RunRef, index: int, stores: Stores) -> dict[str, Any]:
    """The manifest of one phase (written by ``plan``): what the Distributed Map reads."""
    rk, the_plan = RollbackKeys.current(run, stores.blobs)
    phases = the_plan["levels"]
    if not 0 <= index < len(phases):
        raise ContractError(f"rollback of {run.run_id}: no phase {index} (the plan has {len(phases)})")
    stores.runs.update(run.run_id, rollback={"status": "running", "step": f"Undo {phases[index]['name']}",
                                             "at": now_iso()})
    return {"manifest_key": rk.manifest(index), "items": phases[index]["items"], "index": index}


def undo_batch(run: RunRef, item: dict[str, Any], dest: Destination, stores: Stores) -> dict[str, Any]:
    """Undo one work item (≤ 10,000 records of one object) and record its outcome."""
    rk = RollbackKeys(run, str(item["attempt"]))
    batch_id, index = str(item["batch_id"]), int(item["level"])
    outcome_key = rk.outcome(index, batch_id)
    if stores.blobs.exists(outcome_key):  # a finished unit is not redone
        done: dict[str, Any] = stores.blobs.get_json(outcome_key)
        return done
    work = stores.blobs.get_json(str(item["work_key"]))
    obj, action = str(work["dest_object"]), str(work["action"])
    records: list[dict[str, Any]] = work["records"]
    if action == "delete":
        results = dest.delete_records(obj, [r["id"] for r in records])
    elif action == "restore":
        results = dest.update(obj, [{ID: r["id"], **r["image"]} for r in records], allow_bulk=True)
    else:
        raise ContractError(f"rollback work item {batch_id}: unknown action {action!r}")
    by_id = {r.key: r for r in results}
    ok = [r for r in records if r["id"] in by_id and by_id[r["id"]].ok]
    failed = [{"id": r["id"], "key": r["key"],
               "code": by_id[r["id"]].error_code if r["id"] in by_id else "NO_RESULT",
               "message": by_id[r["id"]].error_message or "" if r["id"] in by_id
               else "the destination returned no result for this record"}
              for r in records if r["id"] not in by_id or not by_id[r["id"]].ok]
    if action == "delete" and ok:
        # Deleted records must leave the crosswalk: a later run inserts them again, never links to them.
        stores.crosswalk.delete_many(crosswalk_scope(dest.scope, obj), [r["key"] for r in ok])
    outcome = {"batch_id": batch_id, "level": index, "action": action, "dest_object": obj,
               "records": len(records), "done": len(ok), "failed": failed}
    stores.blobs.put_json(outcome_key, outcome)
    return {k: v for k, v in outcome.items() if k != "failed"} | {"failed": len(failed)}


def verify_level(run: RunRef, index: int, stores: Stores) -> dict[str, Any]:
    """Every work item of the phase recorded an outcome (record failures are judged by ``verify``)."""
    rk, the_plan = RollbackKeys.current(run, stores.blobs)
    items = stores.blobs.get_json(rk.manifest(index))
    done = {k.rsplit("/", 1)[1].removesuffix(".json") for k in stores.blobs.keys(rk.outcomes_prefix(index))}
    missing = [i["batch_id"] for i in items if i["batch_id"] not in done]
    if missing:
        raise IncompleteStepError(f"rollback phase {index}: {len(missing)} work items did not complete: "
                                  f"{missing[:10]}")
    return {"index": index + 1, "count": len(the_plan["levels"])}


def _same(want: Any, got: Any) -> bool:
    """Equal as the destination stores it: empty text is null, and a checkbox is never null (null reads false)."""
    if want is None or want == "":
        return got is None or got == "" or got is False
    if isinstance(want, int | float) and not isinstance(want, bool) and isinstance(got, int | float):
        return float(want) == float(got)
    return bool(want == got)


@dataclass
class _Examples:
    """How many problems of one kind, and the first :data:`REPORT_EXAMPLES` of them (what the report lists)."""

    count: int = 0
    first: list[dict[str, Any]] = field(default_factory=list)

    def add(self, items: Iterable[dict[str, Any]]) -> None:
        for item in items:
            self.count += 1
            if len(self.first) < REPORT_EXAMPLES:
                self.first.append(item)


def _by_object(spill: Spill) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The spilled records of each object by id, :data:`CHUNK` at a time; of one id, the last appended."""
    for obj, rows in groupby(spill.ordered(), key=lambda r: str(r["dest_object"])):
        last = (list(same)[-1] for _, same in groupby(rows, key=lambda r: str(r["id"])))
        for chunk in batched(last, CHUNK):
            yield obj, chunk


def verify(run: RunRef, dest: Destination, stores: Stores) -> dict[str, Any]:
    """Read back: deleted ids are gone, restored records hold their before-images. Writes the report.

    The ids are sorted on disk and read back :data:`CHUNK` at a time (objects and ids in order, as the
    report lists them), so a rollback of a million records holds one chunk, not the run."""
    rk, the_plan = RollbackKeys.current(run, stores.blobs)
    failed, still_there, mismatched = _Examples(), _Examples(), _Examples()
    deleted: Counter[str] = Counter()
    restored: Counter[str] = Counter()
    fields_of: dict[str, set[str]] = defaultdict(set)  # per object, every field its before-images hold
    system = dest.system_fields
    with Spill() as to_delete, Spill() as to_restore:
        for phase in the_plan["levels"]:
            for item in stores.blobs.get_json(rk.manifest(phase["index"])):
                work = stores.blobs.get_json(item["work_key"])
                outcome = stores.blobs.get_json(rk.outcome(phase["index"], item["batch_id"]))
                obj, records = str(work["dest_object"]), work["records"]
                failed.add({**f, "dest_object": obj, "action": work["action"]} for f in outcome["failed"])
                if not records:
                    continue
                if work["action"] == "delete":
                    deleted[obj] += len(records)
                    to_delete.append(((obj, str(r["id"])), {"dest_object": obj, "id": r["id"]}) for r in records)
                else:
                    to_restore.append(((obj, str(r["id"])), {"dest_object": obj, "id": r["id"], "image": r["image"]})
                                      for r in records)
                    for r in records:
                        fields_of[obj].update(r["image"])
        for obj, chunk in _by_object(to_delete):
            ids = [r["id"] for r in chunk]
            still_there.add({"dest_object": obj, "id": i} for i in sorted(dest.existing_ids(obj, ids)))
        for obj, chunk in _by_object(to_restore):
            restored[obj] += len(chunk)
            fields = sorted(fields_of[obj] - set(system))
            ids = [r["id"] for r in chunk]
            rows = dict(zip(ids, dest.retrieve(obj, ids, [ID, *fields]), strict=True))  # None where absent
            for r in chunk:
                row = rows[r["id"]]
                if row is None:
                    mismatched.add([{"dest_object": obj, "id": r["id"], "field": "", "reason": "record not found"}])
                    continue
                mismatched.add({"dest_object": obj, "id": r["id"], "field": name, "want": want, "got": row.get(name)}
                               for name, want in r["image"].items()
                               if name not in system and not _same(want, row.get(name)))
    unrestorable = the_plan["unrestorable"]
    passed = not (failed.count or still_there.count or mismatched.count or unrestorable)
    schema: dict[str, Any] = remove_schema(run, dest, stores) if passed else {
        "asked": run.options.rollback_schema, "removed": [], "kept": [],
        "reason": "records were not all undone: schema left in place"}
    report = {
        "run_id": run.run_id, "attempt": the_plan["attempt"], "verified_at": now_iso(), "passed": passed,
        "status": "rolled_back" if passed else "rollback_incomplete",
        "deleted": dict(sorted(deleted.items())),
        "restored": dict(sorted(restored.items())),
        "totals": {"deleted": sum(deleted.values()), "restored": sum(restored.values()),
                   "failed": failed.count, "still_present": still_there.count, "mismatched": mismatched.count,
                   "unrestorable": len(unrestorable)},
        "failed": failed.first, "still_present": still_there.first,
        "mismatched": mismatched.first, "unrestorable": unrestorable[:REPORT_EXAMPLES],
        "phases": the_plan["levels"],
        "not_compared": list(system),
        "schema": schema,
        "notes": [
            dest.delete_note,
            f"System fields ({', '.join(system)}) move on every write; restored records are compared without them.",
            ("Schema: " + schema["reason"]) if schema["reason"] else
            f"Schema: removed {len(schema['removed'])} custom fields and objects this run created.",
        ],
    }
    key = Keys(run).report("rollback.json")
    stores.blobs.put_json(key, report)
    stores.runs.update(run.run_id, rollback={"status": report["status"], "step": "VerifyRollback",
                                             "at": report["verified_at"], "report_key": key,
                                             "totals": report["totals"]})
    return {"passed": passed, "status": report["status"], "report_key": key, **report["totals"]}


def remove_schema(run: RunRef, dest: Destination, stores: Stores) -> dict[str, Any]:
    """With ``rollback_schema``: remove the custom fields, then the custom objects, this run created,
    each only once it holds no data (a value a person entered meanwhile keeps its field)."""
    keys = Keys(run)
    if not run.options.rollback_schema:
        return {"asked": False, "removed": [], "kept": [],
                "reason": "not asked (rollback_schema): custom objects and fields the run created stay"}
    created: dict[str, list[Any]] = (stores.blobs.get_json(keys.created_schema)
                                     if stores.blobs.exists(keys.created_schema) else {"objects": [], "fields": []})
    names = [".".join(f) for f in created["fields"]] + list(created["objects"])
    if not dest.capabilities.removes_schema:
        return {"asked": True, "removed": [], "kept": names,
                "reason": f"the {dest.label} connector does not remove schema: remove these by hand"}
    remover = cast(SchemaRemoval, dest)
    removed: list[str] = []
    kept: list[dict[str, str]] = []
    gone_objects = set(created["objects"])
    for obj, name in created["fields"]:
        if obj in gone_objects:
            continue  # removed with its object below
        if remover.holds_data(obj, name):
            kept.append({"name": f"{obj}.{name}", "reason": "holds data"})
            continue
        remover.drop_custom_field(obj, name)
        removed.append(f"{obj}.{name}")
    for obj in created["objects"]:
        if remover.holds_data(obj):
            kept.append({"name": obj, "reason": "holds records"})
            continue
        remover.drop_custom_object(obj)
        removed.append(obj)
    return {"asked": True, "removed": removed, "kept": kept, "reason": ""}


def record_failure(run: RunRef, error: dict[str, Any], stores: Stores) -> dict[str, Any]:
    """A fatal error stopped the rollback: keep the error (names and messages only) for the run."""
    rk = RollbackKeys(run)
    failure = {"run_id": run.run_id, "at": now_iso(), "error": str(error.get("Error", "")),
               "cause": str(error.get("Cause", ""))[:4000]}
    stores.blobs.put_json(rk.failure, failure)
    stores.runs.update(run.run_id, rollback={"status": "rollback_failed", "at": failure["at"],
                                             "error": failure["error"], "failure_key": rk.failure})
    return {"status": "rollback_failed"}

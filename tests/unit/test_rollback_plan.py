"""Unit: what rollback does to each record the run wrote, and in which order."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from shared import planner
from shared.connectors.salesforce.client import BULK_NULL, _to_csv
from shared.domain import rollback
from shared.domain.keys import Keys
from shared.domain.rollback import Undo, _image, decide, delete_phases
from shared.mapping.spec import MigrationSpec
from shared.models import Endpoint, RunRef
from tests.builders import spec
from tests.unit.test_reconcile_profile import FakeBlobs, FakeRuns


def _entry(obj: str, rid: str, key: str, op: str, at: str, before: object = None, batch: str = "B") -> dict[str, str]:
    e = {"dest_object": obj, "dest_id": rid, "source_key": key, "operation": op, "at": at, "batch": batch,
         "seq": f"{obj}#{key}#{batch}#{op}"}
    if op != "created":
        e["before"] = "" if before is None else json.dumps(before)
    return e


def test_created_anywhere_in_the_run_means_delete() -> None:
    # GIVEN a record created by the load, then updated by the fix-up pass
    entries = [_entry("Account", "001A", "customers:1", "created", "2024-01-01T00:00:01"),
               _entry("Account", "001A", "customers:1", "fixup", "2024-01-01T00:00:05", {"ParentId": None})]
    # THEN it is deleted, never restored
    assert [(u.action, u.dest_id) for u in decide(entries)] == [("delete", "001A")]


def test_restore_uses_the_earliest_image_and_fills_in_fields_only_later_writes_cover() -> None:
    # GIVEN a pre-existing record written three times in one run (listed out of order)
    entries = [
        _entry("Account", "001B", "customers:2", "updated", "2024-01-01T00:00:09", {"Name": "Run", "Phone": "2"},
               batch="delta"),
        _entry("Account", "001B", "customers:2", "updated", "2024-01-01T00:00:01", {"Name": "Old", "Phone": None}),
        _entry("Account", "001B", "customers:2", "fixup", "2024-01-01T00:00:05", {"ParentId": None, "Name": "Run"},
               batch="fixup"),
    ]
    # THEN the earliest write's values win, and ParentId (only the fix-up touched it) comes from there
    [undo] = decide(entries)
    assert undo.action == "restore"
    assert undo.image == {"Name": "Old", "Phone": None, "ParentId": None}


def test_a_missing_earliest_before_image_is_reported_never_guessed() -> None:
    entries = [_entry("Contact", "003C", "contacts:3", "updated", "2024-01-01T00:00:01", None),
               _entry("Contact", "003C", "contacts:3", "fixup", "2024-01-01T00:00:02", {"Title": "x"}),
               _entry("Contact", "003D", "contacts:4", "fixup", "2024-01-01T00:00:02", None),
               {**_entry("Contact", "", "contacts:5", "updated", "2024-01-01T00:00:02", {}), "dest_id": ""}]
    # fix-up entries without a before-image are written as JSON null
    entries[2]["before"] = "null"
    undos = decide(entries)
    assert [(u.dest_id, u.action) for u in undos] == [("003C", "unrestorable"), ("003D", "unrestorable")]
    assert "no before-image" in undos[0].reason


def test_deletes_run_children_first_and_default_records_last() -> None:
    s = spec()
    levels = planner.levels(s)
    default_key = next(iter(s.default_records))
    undos = [Undo("Account", "001D", default_key, "delete"),
             Undo("Account", "001E", "customers:1", "delete"),
             Undo("Parts_Used__c", "a01F", "parts_used:1", "delete"),
             Undo("Contact", "003G", "contacts:1", "delete")]
    phases = delete_phases(s, undos)
    names = [name for name, _ in phases]
    assert names[-1] == "delete defaults" and [u.dest_id for u in phases[-1][1]] == ["001D"]
    order = [u.dest_id for _, group in phases for u in group]
    assert order.index("a01F") < order.index("003G") < order.index("001E") < order.index("001D")
    assert all(int(n.rsplit(" ", 1)[1]) < len(levels) for n in names[:-1])


def test_bulk_csv_tells_null_from_unchanged() -> None:
    rows = [{"Id": "001A", "Phone": None, "Name": "A"}, {"Id": "001B", "Name": "B", "Active": True}]
    assert _to_csv(rows, BULK_NULL).splitlines() == ["Active,Id,Name,Phone", ",001A,A,#N/A", "true,001B,B,"]
    assert _to_csv(rows).splitlines()[1] == ",001A,A,"  # loads keep the old meaning: None = leave as is


# --- plan: the same manifests and work files as the former in-memory plan, in memory that does not grow ---------
def old_decide(entries: Iterable[dict[str, str]]) -> list[Undo]:
    """The former ``decide`` (every entry grouped in a dict), kept as the reference."""
    grouped: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for e in entries:
        if e.get("dest_id"):
            grouped[(e["dest_object"], e["dest_id"])].append(e)
    out: list[Undo] = []
    for (obj, rid), writes in sorted(grouped.items()):
        writes.sort(key=lambda e: (e.get("at", ""), e.get("seq", "")))
        key = writes[0]["source_key"]
        if any(e["operation"] == "created" for e in writes):
            out.append(Undo(obj, rid, key, "delete"))
            continue
        first = _image(writes[0])
        if first is None:
            out.append(Undo(obj, rid, key, "unrestorable",
                            reason=f"its first write in the run (batch {writes[0].get('batch', '?')}) "
                                   "has no before-image"))
            continue
        image = dict(first)
        for later in writes[1:]:
            for name, value in (_image(later) or {}).items():
                image.setdefault(name, value)
        out.append(Undo(obj, rid, key, "restore", image))
    return out


def old_plan_files(s: MigrationSpec, entries: Iterable[dict[str, str]], chunk: int) -> dict[str, Any]:
    """The former ``plan``'s work files, manifests and plan fields (paths relative to the attempt)."""
    undos = old_decide(entries)
    restores = [u for u in undos if u.action == "restore"]
    deletes = [u for u in undos if u.action == "delete"]
    phases: list[tuple[str, str, list[Undo]]] = [("restore", "restore", restores)] if restores else []
    phases += [(name, "delete", group) for name, group in delete_phases(s, deletes)]
    files: dict[str, Any] = {}
    described = []
    for index, (name, action, group) in enumerate(phases):
        items = []
        by_object: dict[str, list[Undo]] = defaultdict(list)
        for u in group:
            by_object[u.dest_object].append(u)
        for obj in sorted(by_object):
            records = by_object[obj]
            for n in range(0, len(records), chunk):
                part, batch_id = records[n : n + chunk], f"U{index:02d}-{obj}-{n // chunk:05d}"
                files[f"work/{batch_id}.json"] = {
                    "action": action, "dest_object": obj,
                    "records": [{"id": u.dest_id, "key": u.source_key, "image": u.image} for u in part]}
                items.append({"batch_id": batch_id, "level": index, "action": action, "dest_object": obj,
                              "count": len(part)})
        files[f"levels/{index:02d}/manifest.json"] = items
        described.append({"index": index, "name": name, "action": action, "items": len(items),
                          "records": len(group), "objects": sorted(by_object)})
    files["plan"] = {"levels": described, "to_delete": len(deletes), "to_restore": len(restores),
                     "unrestorable": [{"dest_object": u.dest_object, "dest_id": u.dest_id,
                                       "source_key": u.source_key, "reason": u.reason}
                                      for u in undos if u.action == "unrestorable"]}
    return files


RUN = RunRef(run_id="run-r", pair="sercom-salesforce", source=Endpoint(kind="sercom", secret_name="flitstack/s"),
             destination=Endpoint(kind="salesforce", secret_name="flitstack/d"))
OBJECTS = [("customers", "Account"), ("contacts", "Contact"), ("parts_used", "Parts_Used__c"),
           ("work_orders", "Case"), ("activities", "Task"), ("assets", "Task"), ("elsewhere", "Zürich__c")]


class LogOf:
    """A run's audit log, generated as it is paged out (nothing held): creates, updates (some without a
    before-image), several writes of one record with ties on ``at``, sample writes, entries without dest_id."""

    def __init__(self, count: int, unrestorable: bool = True) -> None:
        self.count, self.unrestorable = count, unrestorable

    def entries(self, run_id: str) -> Iterator[dict[str, str]]:
        rnd = random.Random(11)
        defaults = "flitstack:default-account"
        for n in range(self.count):
            source, obj = rnd.choice(OBJECTS)
            record = rnd.randrange(max(1, self.count // 3))
            key = defaults if record == 0 and obj == "Account" else f"{source}:{record}"
            op = rnd.choice(["created", "updated", "updated", "updated"])
            before = rnd.choice([None if self.unrestorable else {}, {"Name": f"n{n}", "Ünï": "a,\"b\"\n"},
                                 {"Phone": n, "Name": None}, {"Amount": n / 7}])
            e = _entry(obj, f"{obj[:3]}{record:06d}", key, op, f"2026-12-06T10:{rnd.randrange(6):02d}", before,
                       batch=f"B{n % 9}")
            if n % 7 == 0:
                e["env"] = "sample"
            if n % 50 == 0:
                e["dest_id"] = ""  # nothing was written
            yield e


class PlanBlobs(FakeBlobs):
    """Keeps what ``plan`` writes (``keep``), or only its size."""

    def __init__(self, keep: bool = True) -> None:
        super().__init__()
        self.keep, self.written = keep, 0

    def put_json(self, key: str, value: Any) -> str:
        if self.keep or key.endswith("/spec.json"):
            return super().put_json(key, value)
        self.written += len(json.dumps(value, default=str))
        return key


class PlanStores:
    def __init__(self, count: int, keep: bool = True, unrestorable: bool | None = None) -> None:
        # unrestorable records are listed whole in plan.json: none in the memory tests, so they see the rest
        self.blobs, self.runs = PlanBlobs(keep), FakeRuns()
        self.audit = LogOf(count, unrestorable=keep if unrestorable is None else unrestorable)
        self.blobs.put_json(Keys(RUN).spec, spec().model_dump(mode="json"))


def test_plan_writes_what_the_in_memory_plan_wrote(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollback, "CHUNK", 40)  # several work items per object
    for env in ("target", "sample"):
        stores = PlanStores(6_000)
        out = rollback.plan(RUN, stores, env)  # type: ignore[arg-type]
        want = old_plan_files(spec(), (e for e in LogOf(6_000).entries(RUN.run_id)
                                       if e.get("env", "target") == env), 40)
        the_plan = stores.blobs.get_json(rollback.RollbackKeys(RUN).plan)
        rk = rollback.RollbackKeys(RUN, the_plan["attempt"])
        got: dict[str, Any] = {"plan": {k: the_plan[k] for k in ("levels", "to_delete", "to_restore",
                                                                  "unrestorable")}}
        for key in stores.blobs.keys(rk.p + "/"):
            value = stores.blobs.get_json(key)
            if key.endswith("manifest.json"):
                value = [{k: v for k, v in i.items() if k not in ("attempt", "work_key")} for i in value]
            got[key[len(rk.p) + 1:]] = value
        assert got == want
        assert all(json.dumps(got[k]) == json.dumps(want[k]) for k in want)  # the same key order inside too
        names = [p["name"] for p in the_plan["levels"]]
        assert names[0] == "restore" and names[-1] == "delete defaults" and len(names) > 4
        assert the_plan["unrestorable"] and out["count"] == len(names)


def _plan_peak(count: int) -> int:
    stores = PlanStores(count, keep=False)
    tracemalloc.start()
    try:
        rollback.plan(RUN, stores)  # type: ignore[arg-type]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_plan_memory_does_not_grow_with_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # Measured (6 Dec, CHUNK 500): 1.6 MiB at 10,000 entries and 1.5 MiB at 50,000; the former plan 9.4 and 45.6.
    monkeypatch.setattr(rollback, "CHUNK", 500)  # a work item is the one thing held: keep it below both runs
    small, large = _plan_peak(5_000), _plan_peak(25_000)
    assert large < small * 1.25 + 512 * 1024, (small, large)


# --- verify: the same report as the former verify (every id in memory), a chunk at a time ----------------------
def old_verify_report(rk: rollback.RollbackKeys, the_plan: dict[str, Any], dest: VerifyDest, blobs: FakeBlobs
                      ) -> dict[str, Any]:
    """The former ``verify``'s findings, kept as the reference."""
    to_delete: dict[str, list[str]] = defaultdict(list)
    to_restore: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    failed: list[dict[str, Any]] = []
    for phase in the_plan["levels"]:
        for item in blobs.get_json(rk.manifest(phase["index"])):
            work = blobs.get_json(item["work_key"])
            outcome = blobs.get_json(rk.outcome(phase["index"], item["batch_id"]))
            failed += [{**f, "dest_object": work["dest_object"], "action": work["action"]} for f in outcome["failed"]]
            for r in work["records"]:
                if work["action"] == "delete":
                    to_delete[work["dest_object"]].append(r["id"])
                else:
                    to_restore[work["dest_object"]][r["id"]] = r["image"]
    still_there = []
    for obj, ids in sorted(to_delete.items()):
        still_there += [{"dest_object": obj, "id": i} for i in sorted(dest.existing_ids(obj, ids))]
    mismatched: list[dict[str, Any]] = []
    for obj, images in sorted(to_restore.items()):
        fields = sorted({f for image in images.values() for f in image} - set(dest.system_fields))
        ids = sorted(images)
        rows = dict(zip(ids, dest.retrieve(obj, ids, ["Id", *fields]), strict=True))
        for rid in ids:
            row = rows[rid]
            if row is None:
                mismatched.append({"dest_object": obj, "id": rid, "field": "", "reason": "record not found"})
                continue
            for name, want in images[rid].items():
                if name not in dest.system_fields and not rollback._same(want, row.get(name)):
                    mismatched.append({"dest_object": obj, "id": rid, "field": name, "want": want,
                                       "got": row.get(name)})
    n = rollback.REPORT_EXAMPLES
    return {"deleted": {obj: len(ids) for obj, ids in sorted(to_delete.items())},
            "restored": {obj: len(images) for obj, images in sorted(to_restore.items())},
            "totals": {"deleted": sum(len(v) for v in to_delete.values()),
                       "restored": sum(len(v) for v in to_restore.values()), "failed": len(failed),
                       "still_present": len(still_there), "mismatched": len(mismatched),
                       "unrestorable": len(the_plan["unrestorable"])},
            "failed": failed[:n], "still_present": still_there[:n], "mismatched": mismatched[:n]}


class VerifyDest:
    """Reads back a destination where some deletes did not happen and some restores left other values."""

    system_fields = ("SystemModstamp",)
    delete_note = "deleted records go to the recycle bin"

    def __init__(self) -> None:
        self.asked: list[tuple[str, int, tuple[str, ...]]] = []

    def existing_ids(self, obj: str, ids: list[str]) -> set[str]:
        return {i for i in ids if sum(map(ord, i)) % 5 == 0}

    def retrieve(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any] | None]:
        self.asked.append((obj, len(ids), tuple(fields)))
        seeds = [sum(map(ord, i)) for i in ids]  # by id, not by position: chunks must not change the answer
        return [None if n % 17 == 3 else {f: ("changed" if (n + len(f)) % 4 == 0 else None) for f in fields}
                for n in seeds]


def test_verify_reports_what_the_in_memory_verify_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollback, "CHUNK", 40)
    stores = PlanStores(6_000)
    rollback.plan(RUN, stores)  # type: ignore[arg-type]
    rk, the_plan = rollback.RollbackKeys.current(RUN, stores.blobs)  # type: ignore[arg-type]
    for phase in the_plan["levels"]:
        for item in stores.blobs.get_json(rk.manifest(phase["index"])):
            records = stores.blobs.get_json(item["work_key"])["records"]
            stores.blobs.put_json(rk.outcome(phase["index"], item["batch_id"]), {"failed": [
                {"id": r["id"], "key": r["key"], "code": "LOCKED", "message": "row lock"} for r in records[::23]]})
    want = old_verify_report(rk, the_plan, VerifyDest(), stores.blobs)

    dest = VerifyDest()
    out = rollback.verify(RUN, dest, stores)  # type: ignore[arg-type]

    got = stores.blobs.get_json(Keys(RUN).report("rollback.json"))
    assert {k: got[k] for k in want} == want
    assert all(json.dumps(got[k]) == json.dumps(want[k]) for k in want)
    assert out["mismatched"] > rollback.REPORT_EXAMPLES and out["still_present"] and not out["passed"]
    assert max(n for _, n, _ in dest.asked) <= 40  # read back a chunk at a time


def _verify_peak(count: int) -> int:
    stores = PlanStores(count, unrestorable=False)
    rollback.plan(RUN, stores)  # type: ignore[arg-type]
    rk, the_plan = rollback.RollbackKeys.current(RUN, stores.blobs)  # type: ignore[arg-type]
    for phase in the_plan["levels"]:
        for item in stores.blobs.get_json(rk.manifest(phase["index"])):
            stores.blobs.put_json(rk.outcome(phase["index"], item["batch_id"]), {"failed": []})
    tracemalloc.start()
    try:
        rollback.verify(RUN, VerifyDest(), stores)  # type: ignore[arg-type]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_verify_memory_does_not_grow_with_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # Measured (6 Dec, CHUNK 500): 1.1 MiB at 10,000 entries and 1.4 MiB at 50,000; the former verify 2.4 and 11.3.
    monkeypatch.setattr(rollback, "CHUNK", 500)
    small, large = _verify_peak(5_000), _verify_peak(25_000)
    assert large < small * 1.25 + 512 * 1024, (small, large)

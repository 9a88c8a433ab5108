"""Unit: the loader's handling of merged duplicates, matched (seeded) default records and objects
without the external id — the engine features the Sercom -> Dynamics template relies on.

Fakes stand at our interfaces: blobs, crosswalk, audit and run table in dicts, and a destination
that answers natural-key reads and records every write.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.connectors.destination import ID, WriteResult
from shared.domain import load, reconcile, xwalk
from shared.domain.keys import Keys
from shared.domain.profile import Thresholds, profiled_fields
from shared.errors import ConfigurationError
from shared.mapping.spec import (
    CustomFieldSpec,
    FieldRule,
    LookupRule,
    LookupTarget,
    MigrationSpec,
    ObjectMapping,
)
from shared.models import Endpoint, RunRef
from tests.unit.test_reconcile_profile import FakeBlobs, FakeDest, FakeRuns

EXT = "flit_sercomid"
CUST = LookupTarget(source_object="customers", dest_object="account")


class FakeCrosswalk:
    def __init__(self) -> None:
        self.data: dict[str, dict[str, str]] = {}

    def put_many(self, scope: str, mapping: dict[str, str], run_id: str) -> None:
        self.data.setdefault(scope, {}).update(mapping)

    def get_many(self, scope: str, keys: Any) -> dict[str, str]:
        have = self.data.get(scope, {})
        return {k: have[k] for k in keys if k in have}


class FakeAudit:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record(self, run_id: str, entries: list[dict[str, Any]], env: str = "target") -> None:
        self.entries += [e if env == "target" else {**e, "env": env} for e in entries]


class Stores:
    def __init__(self) -> None:
        self.blobs = FakeBlobs()
        self.runs = FakeRuns()
        self.crosswalk = FakeCrosswalk()
        self.audit = FakeAudit()


class Dest:
    """A destination holding a seeded unit group; every write is recorded."""

    name, label, scope = "dynamics", "Dynamics 365", "https://org.example"

    def __init__(self, seeded: dict[str, list[dict[str, Any]]]) -> None:
        self.seeded = seeded
        self.upserts: list[tuple[str, list[dict[str, Any]]]] = []
        self.updates: list[tuple[str, list[dict[str, Any]]]] = []
        self.natural: list[tuple[str, list[str], list[dict[str, Any]]]] = []

    def describe(self, obj: str) -> None:
        return None

    def find_natural(self, obj: str, fields: list[str], records: list[dict[str, Any]]) -> dict[tuple[str, ...], str]:
        self.natural.append((obj, fields, records))
        return {tuple(str(r.get(f) or "") for f in fields): str(r[ID]) for r in self.seeded.get(obj, [])}

    def find_by_key_prefix(self, obj: str, key_field: str, prefix: str) -> dict[str, str]:
        return {}

    def upsert(self, obj: str, ext: str, records: list[dict[str, Any]], *, allow_bulk: bool) -> list[WriteResult]:
        self.upserts.append((obj, records))
        return [WriteResult(str(r[ext]), f"id-{r[ext]}", True) for r in records]

    def update(self, obj: str, records: list[dict[str, Any]], *, allow_bulk: bool = False) -> list[WriteResult]:
        self.updates.append((obj, records))
        return [WriteResult(str(r[ID]), str(r[ID]), False) for r in records]

    def retrieve(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any] | None]:
        return [{f: None for f in fields} for _ in ids]

    def limits_report(self) -> dict[str, Any]:
        return {}


RUN = RunRef(run_id="run-1", pair="sercom-dynamics", source=Endpoint(kind="sercom", secret_name="flitstack/s"),
             destination=Endpoint(kind="dynamics", secret_name="flitstack/d"))


def spec(**extra: Any) -> MigrationSpec:
    accounts = ObjectMapping(name="customers->account", source_object="customers", dest_object="account",
                             fields=[FieldRule(dest="name", source="name")],
                             lookups=[LookupRule(dest="parentaccountid", source="parent_id", target=CUST,
                                                 deferred=True)])
    return MigrationSpec(pair="sercom-dynamics", external_id_field=EXT, mappings=[accounts],
                         fallback_owner_id="user-1", audit_fields=True, **extra)


def staged(s: MigrationSpec) -> Stores:
    stores = Stores()
    stores.blobs.put_json(Keys(RUN).spec, s.model_dump())
    return stores


# --- default records matched, never written ---------------------------------------------------------------------
def test_a_matched_default_record_is_looked_up_by_name_and_never_written() -> None:
    # GIVEN a spec naming the seeded unit group (a name with a space) and one default record to create
    s = spec(default_records={
        "flitstack:uom-schedule": {"object": "uomschedule", "name": "Default Unit", "match": "name"},
        "flitstack:default-account": {"object": "account", "name": "Sercom contacts without an account"}})
    stores = staged(s)
    dest = Dest({"uomschedule": [{ID: "uom-1", "name": "Default Unit"}, {ID: "uom-2", "name": "Other Unit"}]})
    # WHEN the destination is prepared
    load.prepare(RUN, dest, stores)  # type: ignore[arg-type]
    # THEN the unit group's id is the default, found by its name; only the account was written and audited
    defaults = stores.blobs.get_json(Keys(RUN).defaults)
    assert defaults == {"flitstack:uom-schedule": "uom-1",
                        "flitstack:default-account": "id-flitstack:default-account"}
    assert dest.natural == [("uomschedule", ["name"], [{"name": "Default Unit"}])]
    assert [obj for obj, _ in dest.upserts] == ["account"]
    assert [e["dest_object"] for e in stores.audit.entries] == ["account"]


def test_a_missing_matched_record_stops_prepare_naming_it() -> None:
    s = spec(default_records={"flitstack:uom": {"object": "uom", "name": "Primary Unit", "match": "name"}})
    with pytest.raises(ConfigurationError, match=r"no uom with name='Primary Unit'.*never created"):
        load.prepare(RUN, Dest({"uom": [{ID: "u", "name": "Kilogram"}]}), staged(s))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="needs a value for each field"):
        load.match_default(Dest({}), "k", {"object": "uom", "match": "name,code", "name": "x"})  # type: ignore[arg-type]


# --- merged duplicates ------------------------------------------------------------------------------------------
def test_merged_duplicates_resolve_to_their_survivor_for_the_fix_up_pass() -> None:
    # GIVEN customers c2 merged into c1, and c3 whose parent is the duplicate c2
    s = spec(merged={"customers": {"c2": "c1"}})
    stores = staged(s)
    keys = Keys(RUN)
    stores.blobs.put_json(keys.levels, [["customers->account"]])
    stores.blobs.put_json(keys.level_manifest(0), [{"mapping": "customers->account", "batch_id": "B0", "level": 0}])
    stores.blobs.put_json(keys.outcome(0, "B0"), {})
    stores.blobs.put_json(keys.xwalk_part(0, "account", "B0"), {"customers:c1": "A1", "customers:c3": "A3"})
    stores.blobs.put_json(keys.extract_outcome("customers"), {"batches": ["x/0.jsonl"], "count": 3})
    stores.blobs.put_lines("x/0.jsonl", [{"id": "c1"}, {"id": "c2", "parent_id": "c3"},
                                         {"id": "c3", "parent_id": "c2"}])
    # WHEN the level is verified THEN the merged crosswalk also holds the duplicate, as its survivor's record
    load.verify_level(RUN, 0, stores)  # type: ignore[arg-type]
    assert dict(xwalk.open_snapshot(stores.blobs, keys.xwalk_merged("account")).items()) == {
        "customers:c1": "A1", "customers:c3": "A3", "customers:c2": "A1"}
    # AND verifying it again (a retried step) leaves the same snapshot
    load.verify_level(RUN, 0, stores)  # type: ignore[arg-type]
    assert dict(xwalk.open_snapshot(stores.blobs, keys.xwalk_merged("account")).items()) == {
        "customers:c1": "A1", "customers:c3": "A3", "customers:c2": "A1"}
    # AND the fix-up pass points c3 at the survivor, and never writes the duplicate's own parent onto it
    dest = Dest({})
    load.fixup(RUN, dest, stores)  # type: ignore[arg-type]
    assert dest.updates == [("account", [{ID: "A3", "parentaccountid": "A1"}])]
    assert [e["source_key"] for e in stores.audit.entries] == ["customers:c3"]


# --- objects without the external id ----------------------------------------------------------------------------
def test_objects_without_the_key_are_reconciled_by_the_ids_the_run_recorded() -> None:
    notes = ObjectMapping(name="notes->annotation", source_object="notes", dest_object="annotation",
                          insert_only=True, fields=[FieldRule(dest="subject", source="title")],
                          lookups=[LookupRule(dest="objectid", source="parent_id", type_field="parent_type",
                                              targets={"customer": LookupTarget(
                                                  source_object="customers", dest_object="account",
                                                  dest="objectid_account")}, on_missing="reject")])
    s = MigrationSpec(pair="sercom-dynamics", external_id_field=EXT, mappings=[notes], fallback_owner_id="u",
                      audit_fields=True, custom_fields=[CustomFieldSpec(object="account", name=EXT, label="Id",
                                                                        type="Text", external_id=True)])
    assert not reconcile.carries_key(s, "annotation") and reconcile.carries_key(s, "account")
    stores = staged(s)
    keys, b = Keys(RUN), stores.blobs
    sent = [{EXT: f"notes:n{i}", "subject": f"S{i}", "objectid_account": "A1"} for i in range(3)]
    b.put_json(keys.levels, [["notes->annotation"]])
    b.put_json(keys.extract_outcome("notes"), {"count": 3})
    b.put_json(keys.level_manifest(0), [{"mapping": "notes->annotation", "batch_id": "B0", "level": 0}])
    b.put_lines(keys.load_ready("B0"), sent)
    b.put_lines(keys.rejects("B0"), [])
    b.put_lines(keys.rejects("B0.load"), [])
    b.put_json(keys.outcome(0, "B0"), {"mapping": "notes->annotation", "input": 3, "filtered_out": 0,
                                       "transform_rejected": 0, "loaded": 3, "load_rejected": 0})
    xwalk.write_snapshot(b, keys.xwalk_merged("annotation"), {r[EXT]: f"N{i}" for i, r in enumerate(sent)})
    dest = FakeDest({"annotation": [{"Id": f"N{i}", **{k: v for k, v in r.items() if k != EXT}}
                                    for i, r in enumerate(sent)]})
    out = reconcile.reconcile(RUN, dest, stores)  # type: ignore[arg-type]
    assert out["passed"], b.get_json(keys.report("reconciliation.json"))
    assert [r[0] for r in dest.reads] == ["ids"]
    report = b.get_json(keys.report("reconciliation.json"))["mappings"][0]
    assert report["destination"] == 3
    assert any(c["check"] == "orphans" and c["field"] == "objectid_account" for c in report["checks"])


def test_lookups_named_per_target_are_profiled_under_those_names() -> None:
    m = ObjectMapping(name="activities->task", source_object="activities", dest_object="task",
                      lookups=[LookupRule(dest="regardingobjectid", source="work_order_id", on_missing="null",
                                          target=LookupTarget(source_object="work_orders", dest_object="incident",
                                                              dest="regardingobjectid_incident_task")),
                               LookupRule(dest="ownerid2", source="x", target=CUST)])
    names = [f.name for f in profiled_fields(m, Thresholds())[0] if f.lookup]
    assert names == ["regardingobjectid_incident_task", "ownerid2"]

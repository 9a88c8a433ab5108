"""Workflow: the safety net, the same for every pair (parametrized, not copied).

For every (source, destination) pair (``shared.pairs`` over the registered connectors), through the
real ASL on moto and the stand-ins over HTTPS, read back with an independent client
(:class:`tests.workflow.conftest.Probe`):

1. a full load loses nothing and duplicates nothing (the destination holds exactly the records
   the run loaded, per mapping) and every lookup points where the run sent it, at a record of
   its target object;
2. a second run of the same tenant creates nothing;
3. a change made in the source during the delta-pickup window reaches the destination;
4. rolling back the delta run restores the value it overwrote; rolling back the first run
   removes every record it created;
5. a cycle between two source objects (a project lists its work orders, each points back) holds in
   both directions after the fix-up pass;
6. a source whose schema lists only part of its custom fields still has every one discovered,
   mapped and migrated.

The destination-specific details (SOQL, bulk jobs, ContentVersion) stay in
``test_migrate_salesforce.py`` / ``test_rollback.py`` / ``test_delta_and_resume.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flitstack.runtime import LocalRuntime, local_environment
from shared.handler import stores
from shared.mapping.spec import MigrationSpec, ObjectMapping
from shared.models import RunOptions
from tests.golden import snapshot as golden
from tests.kits import SourceKit, kit
from tests.workflow.conftest import PAIRS, Probe, pair_id, s3_json, s3_lines, wait_until

pytestmark = pytest.mark.slow
RECORDS = 300


@pytest.fixture(scope="module", params=PAIRS, ids=pair_id)
def rt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    source, destination = request.param
    folder: Path = tmp_path_factory.mktemp(f"safety-{pair_id(request.param)}")
    local_environment(folder / "lambda.jsonl")
    with LocalRuntime(folder=folder, records=RECORDS, seed=21, source=source, destination=destination,
                      source_args=kit(source).local_args) as runtime:
        yield runtime


def _run(rt: LocalRuntime, run_id: str, **options: Any) -> MigrationSpec:
    desc = rt.wait(rt.start_migration(rt.run_ref(run_id, RunOptions(batch_size=500, **options))), timeout_s=900)
    assert desc["status"] == "SUCCEEDED", desc
    recon = s3_json(rt, f"runs/{run_id}/reports/reconciliation.json")
    assert recon["passed"], [(m["mapping"], c) for m in recon["mappings"] for c in m["checks"] if not c["passed"]]
    return MigrationSpec.model_validate(s3_json(rt, f"runs/{run_id}/spec.json"))


def _rollback_problems(rt: LocalRuntime, run_id: str) -> dict[str, Any]:
    """What a failed rollback reported: the records it could not restore or delete, and why."""
    report = s3_json(rt, f"runs/{run_id}/reports/rollback.json")
    return {k: report.get(k) for k in ("totals", "failed", "mismatched", "still_present")}


def _keyed(spec: MigrationSpec) -> list[ObjectMapping]:
    """Mappings whose records carry the external id (natural-key and insert-only objects are counted by
    reconciliation from the ids the run recorded)."""
    return [m for m in spec.mappings if not m.natural_key and not m.insert_only]


def _loaded(rt: LocalRuntime, run_id: str) -> dict[str, int]:
    recon = s3_json(rt, f"runs/{run_id}/reports/reconciliation.json")
    return {m["mapping"]: int(m["loaded"]) for m in recon["mappings"]}


def _counts(probe: Probe, spec: MigrationSpec) -> dict[tuple[str, str], int]:
    pairs = {(m.dest_object, m.source_object) for m in _keyed(spec)}
    return {(obj, src): len(probe.rows(obj, spec.external_id_field, src, [])) for obj, src in sorted(pairs)}


def test_full_load_loses_nothing_duplicates_nothing_and_keeps_lookups(rt: LocalRuntime) -> None:
    spec = _run(rt, "sn-full")
    probe = Probe(rt)
    loaded = _loaded(rt, "sn-full")
    # nothing lost, nothing duplicated: per (object, source), the destination holds what the run loaded
    expected: dict[tuple[str, str], int] = {}
    for m in _keyed(spec):
        expected[(m.dest_object, m.source_object)] = expected.get((m.dest_object, m.source_object), 0) + loaded[m.name]
    assert _counts(probe, spec) == expected
    assert sum(expected.values()) > RECORDS / 2
    # lookups intact: what the destination holds is what the run sent, and it is a record of the target
    batches: dict[str, list[str]] = {}
    for key in _keys(rt, "runs/sn-full/levels/"):
        if key.endswith("/manifest.json"):
            for item in s3_json(rt, key):
                batches.setdefault(item["mapping"], []).append(item["batch_id"])
    checked = 0
    for m in _keyed(spec):
        lookups = [lk for lk in m.lookups if not lk.deferred and lk.target is not None and not lk.type_field
                   and not lk.or_else and lk.target.dest is None]
        if not lookups:
            continue
        sent = {r[spec.external_id_field]: r for batch in batches.get(m.name, [])
                for r in s3_lines(rt, f"runs/sn-full/load/{batch}.jsonl") if any(lk.dest in r for lk in lookups)}
        held = probe.rows(m.dest_object, spec.external_id_field, m.source_object, [lk.dest for lk in lookups])
        for lk in lookups:
            assert lk.target is not None
            targets = probe.ids(lk.target.dest_object)
            pairs = [(k, r[lk.dest]) for k, r in sent.items() if r.get(lk.dest)][:40]
            for key, value in pairs:
                assert held[key][lk.dest] == value, (m.name, lk.dest, key)
                assert value in targets, (m.name, lk.dest, value)
            checked += len(pairs)
    assert checked >= 20


def test_behaviour_is_unchanged_against_the_golden_snapshot(rt: LocalRuntime) -> None:
    """The mapping spec and every destination record of the first run equal the committed golden file
    (ids and run times aside: ``tests/golden/snapshot.py``). A refactor must leave this green;
    ``FLITSTACK_REGOLD=1`` rewrites the file after a change meant to alter behaviour."""
    pair = rt.run_ref("sn-full").pair
    spec = s3_json(rt, "runs/sn-full/spec.json")
    rules = kit(rt.destination).state
    assert rules is not None, f"tests/kits/{rt.destination}.py declares no StateRules for the golden snapshot"
    actual = golden.snapshot(spec, rt.folder / "standins" / f"{rt.destination}.sqlite", spec["external_id_field"],
                             rules)
    if os.environ.get("FLITSTACK_REGOLD") == "1":
        golden.write_golden(pair, actual)
    expected = golden.read_golden(pair)
    problems = golden.differences(expected, actual)
    assert not problems, (golden.summary(expected["records"]), golden.summary(actual["records"]), problems)


def test_second_run_creates_nothing(rt: LocalRuntime) -> None:
    probe = Probe(rt)
    spec = MigrationSpec.model_validate(s3_json(rt, "runs/sn-full/spec.json"))
    before = _counts(probe, spec)
    _run(rt, "sn-again")
    outcomes = [s3_json(rt, k) for k in _keys(rt, "runs/sn-again/levels/") if "/outcomes/" in k]
    assert outcomes and sum(int(o["created"]) for o in outcomes) == 0
    assert _counts(probe, spec) == before


def _forget(dest_objects: set[str]) -> int:
    """Drop the crosswalk's entries for ``dest_objects``, as if the run that inserted them had been
    abandoned between its inserts and its crosswalk write."""
    table = stores().crosswalk
    items = [i for page in table.ddb.get_paginator("scan").paginate(TableName=table.name) for i in page["Items"]
             if i["scope"]["S"].rsplit("#", 1)[1] in dest_objects]
    by_scope: dict[str, list[str]] = {}
    for item in items:
        by_scope.setdefault(item["scope"]["S"], []).append(item["source_key"]["S"])
    for scope, keys in by_scope.items():
        table.delete_many(scope, keys)
    return len(items)


def test_a_new_run_after_an_abandoned_one_inserts_no_file_twice(rt: LocalRuntime) -> None:
    unfindable = kit(rt.destination).written_once_unfindable
    if unfindable:
        pytest.skip(unfindable)
    # GIVEN the files and notes (inserted once, never updated) of a run that was abandoned before it
    # recorded them in the crosswalk
    probe = Probe(rt)
    spec = MigrationSpec.model_validate(s3_json(rt, "runs/sn-full/spec.json"))
    # (a destination with an upsert key for everything, like Odoo's external ids, upserts its files too)
    once = {m.dest_object for m in spec.mappings if m.insert_only or m.attachment_source}
    assert once, "the pair has file mappings (and insert-only ones: notes)"
    before = {obj: probe.ids(obj) for obj in sorted(once)}
    assert _forget(once) > 0
    # WHEN a new run (not a resume) migrates the same tenant
    _run(rt, "sn-reborn")
    # THEN it finds them in the destination by the source key they carry and inserts none twice
    outcomes = [s3_json(rt, k) for k in _keys(rt, "runs/sn-reborn/levels/") if "/outcomes/" in k]
    assert sum(int(o["created"]) for o in outcomes) == 0, {o["mapping"]: o["created"] for o in outcomes if o["created"]}
    assert sum(int(o["load_rejected"]) for o in outcomes) == 0, "refused as duplicates is not finding them"
    assert {obj: probe.ids(obj) for obj in sorted(once)} == before


def _keys(rt: LocalRuntime, prefix: str) -> list[str]:
    assert rt.engine is not None and rt.engine.stack is not None
    s3 = rt.engine.client("s3")
    return [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=rt.engine.stack.bucket,
                                                                              Prefix=prefix)
            for o in page.get("Contents", [])]


def _title_field(spec: MigrationSpec) -> tuple[ObjectMapping, str]:
    """A keyed mapping with a plain text field filled from the source's ``title`` (a contact's job title)."""
    m = next(m for m in _keyed(spec) if not m.explode and any(r.source == "title" for r in m.fields))
    return m, next(r.dest for r in m.fields if r.source == "title")


def _step(run_id: str) -> str:
    return str((stores().runs.get(run_id) or {}).get("step", ""))


def test_delta_window_picks_up_a_source_change_and_rollback_restores_it(rt: LocalRuntime) -> None:
    probe = Probe(rt)
    spec = MigrationSpec.model_validate(s3_json(rt, "runs/sn-full/spec.json"))
    mapping, title = _title_field(spec)
    source_kit: SourceKit = kit(rt.source)
    assert rt.source_standin is not None and source_kit.edit is not None
    arn = rt.start_migration(rt.run_ref("sn-delta", RunOptions(batch_size=500, delta_window_s=6, delta_poll_s=2,
                                                               delta_overlap_s=60)))
    wait_until(lambda: _step("sn-delta").startswith("DeltaPickup"), "sn-delta at DeltaPickup", 600)
    held = probe.rows(mapping.dest_object, spec.external_id_field, mapping.source_object, [title])
    key = sorted(held)[0]
    original = held[key][title]
    source_kit.edit(rt.source_standin, mapping.source_object, key.partition(":")[2], {"title": "Changed in the window"})
    assert rt.wait(arn, timeout_s=600)["status"] == "SUCCEEDED"
    assert probe.rows(mapping.dest_object, spec.external_id_field, mapping.source_object, [title])[key][title] == \
        "Changed in the window"
    # rolling back the delta run puts back what it overwrote
    status = rt.wait(rt.start_rollback("sn-delta"), timeout_s=600)["status"]
    assert status == "SUCCEEDED", _rollback_problems(rt, "sn-delta")
    assert s3_json(rt, "runs/sn-delta/reports/rollback.json")["passed"]
    assert probe.rows(mapping.dest_object, spec.external_id_field, mapping.source_object, [title])[key][title] == \
        original


def _extracted(rt: LocalRuntime, run_id: str, obj: str) -> list[dict[str, Any]]:
    """The source records the run extracted (its S3 batches)."""
    outcome = s3_json(rt, f"runs/{run_id}/extract/outcomes/{obj}.json")
    return [r for key in outcome["batches"] for r in s3_lines(rt, key)]


def test_a_cycle_between_two_objects_holds_in_both_directions(rt: LocalRuntime) -> None:
    """A deferred lookup to another source object (the cycle's broken edge, filled by the fix-up pass)
    points at the record its source references; and each referenced record's children in the
    destination are exactly the loaded source records that list it (the source's ``<child>_ids``)."""
    spec = MigrationSpec.model_validate(s3_json(rt, "runs/sn-full/spec.json"))
    cyclic = [(m, lk) for m in _keyed(spec) for lk in m.lookups
              if lk.deferred and lk.target is not None and lk.target.source_object != m.source_object]
    if not cyclic:
        pytest.skip("no cycle between two source objects in this pair")
    probe, ext = Probe(rt), spec.external_id_field
    checked = 0
    for m, lk in cyclic:
        targets = [lk.target, *(c.target for c in lk.or_else)]
        dests = list(dict.fromkeys(t.dest or lk.dest for t in targets if t is not None))
        held = probe.rows(m.dest_object, ext, m.source_object, dests)
        parent_ids: dict[str, str] = {}  # source key of the parent -> its destination id
        for t in targets:
            assert t is not None
            parent_ids.update({k: r["Id"] for k, r in probe.rows(t.dest_object, ext, t.source_object, []).items()})
        parent_object = targets[0].source_object if targets[0] else ""
        children: dict[str, set[str]] = {}  # parent key -> children keys pointing at it in the destination
        for key, row in held.items():
            for field in dests:
                if row.get(field):
                    parent_key = next((k for k, v in parent_ids.items() if v == row[field]), None)
                    assert parent_key is not None, (m.name, key, field)
                    children.setdefault(parent_key, set()).add(key)
        # forward: every loaded child whose source references a loaded parent points at that parent
        for rec in _extracted(rt, "sn-full", m.source_object):
            key, ref = f"{m.source_object}:{rec['id']}", rec.get(lk.source)
            if key in held and ref not in (None, "") and f"{parent_object}:{ref}" in parent_ids:
                assert key in children.get(f"{parent_object}:{ref}", set()), (m.name, key, ref)
                checked += 1
        # backward: the parent's own list of children, as loaded into this object, is what points at it
        list_field = f"{m.source_object.removesuffix('s')}_ids"
        for rec in _extracted(rt, "sn-full", parent_object):
            if list_field not in rec:
                continue
            listed = {f"{m.source_object}:{i}" for i in rec.get(list_field) or []} & set(held)
            assert children.get(f"{parent_object}:{rec['id']}", set()) == listed, (m.name, rec["id"])
            checked += len(listed)
    assert checked > 0


def test_custom_fields_missing_from_the_schema_are_discovered_mapped_and_migrated(rt: LocalRuntime) -> None:
    """Every ``custom_fields`` key on the source records, listed by the schema or not, has a custom field
    in the spec and its values in the destination."""
    source_kit: SourceKit = kit(rt.source)
    if source_kit.listed_custom_fields is None:
        pytest.skip("this source's schema lists all of its custom fields")
    spec = MigrationSpec.model_validate(s3_json(rt, "runs/sn-full/spec.json"))
    probe, ext = Probe(rt), spec.external_id_field
    catalog = s3_json(rt, "runs/sn-full/discovery/source-catalog.json")
    assert rt.source_standin is not None
    listed = source_kit.listed_custom_fields(rt.source_standin)
    unlisted_seen = 0
    for m in _keyed(spec):
        rules = {r.source.removeprefix("custom_fields."): r.dest for r in m.fields
                 if r.source and r.source.startswith("custom_fields.")}
        if not rules:
            continue
        records = _extracted(rt, "sn-full", m.source_object)
        on_records = {k for rec in records for k in rec.get("custom_fields") or {}}
        assert on_records <= set(rules), (m.name, on_records - set(rules))
        unlisted = {k for k in on_records if (m.source_object, k) not in listed}
        held = probe.rows(m.dest_object, ext, m.source_object, [rules[k] for k in sorted(unlisted)])
        for k in unlisted:  # the records this mapping loaded that carry a value of k hold it in Salesforce
            carrying = [f"{m.source_object}:{rec['id']}" for rec in records
                        if (rec.get("custom_fields") or {}).get(k) not in (None, "")
                        and f"{m.source_object}:{rec['id']}" in held]
            if carrying:
                unlisted_seen += 1
                assert any(held[key].get(rules[k]) not in (None, "") for key in carrying), (m.name, k)
        assert all(any(f["name"] == k and f["custom"] and f["evidence"] for f in o["fields"])
                   for o in catalog["objects"] if o["name"] == m.source_object for k in unlisted)
    assert unlisted_seen > 0, "the tenant hides some custom fields from its schema"


def test_rolling_back_the_first_run_removes_what_it_created(rt: LocalRuntime) -> None:
    probe = Probe(rt)
    spec = MigrationSpec.model_validate(s3_json(rt, "runs/sn-full/spec.json"))
    assert rt.wait(rt.start_rollback("sn-full"), timeout_s=900)["status"] == "SUCCEEDED"
    report = s3_json(rt, "runs/sn-full/reports/rollback.json")
    assert report["passed"], report["totals"]
    assert report["totals"]["deleted"] > RECORDS / 2
    assert set(_counts(probe, spec).values()) == {0}

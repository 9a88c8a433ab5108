"""Workflow: reconciliation against the raw source, and a failed reconciliation rolling back by itself.

A translation that merges two source values (two statuses landing on one) leaves what the run sent and
what the destination holds equal: only the raw source shows it. The test merges two values in the
engine's pick-list translation (a defect the mapping document does not declare), runs with
``on_failed_reconciliation: rollback`` and ``rollback_schema``, and expects:

1. reconciliation fails on a ``source_histogram`` check naming the field;
2. the run starts the rollback by itself (recorded on the run);
3. after it, every destination object holds exactly the records it held before the run, and (where the
   connector removes schema) the custom fields and objects the run created are gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flitstack.runtime import LocalRuntime, local_environment
from shared.connections import open_destination
from shared.handler import stores
from shared.mapping import engine
from shared.mapping.spec import FieldRule
from shared.models import RunOptions
from shared.pairs import for_pair
from tests.workflow.conftest import DESTINATIONS, Probe, s3_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=DESTINATIONS)
def rt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    folder: Path = tmp_path_factory.mktemp(f"recon-{request.param}")
    local_environment(folder / "lambda.jsonl")
    with LocalRuntime(folder=folder, records=200, seed=23, destination=request.param) as runtime:
        yield runtime


def _merging(original: Callable[[FieldRule], Callable[[Any], Any]]) -> Callable[[FieldRule], Callable[[Any], Any]]:
    """A pick-list translation that lands the second destination value of every map on the first."""

    def converter(rule: FieldRule) -> Callable[[Any], Any]:
        convert = original(rule)
        targets = list(dict.fromkeys((rule.value_map or {}).values()))
        if rule.transform != "picklist" or len(targets) < 2:
            return convert
        first, second = targets[0], targets[1]
        return lambda v: first if (out := convert(v)) == second else out

    return converter


def _snapshot(probe: Any, objects: list[str]) -> dict[str, set[str]]:
    return {obj: probe.ids(obj) for obj in objects}


def test_a_merging_translation_fails_reconciliation_and_the_run_rolls_itself_back(
        rt: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = Probe(rt)
    ref = rt.run_ref("rc-merge", RunOptions(batch_size=500, on_failed_reconciliation="rollback",
                                            rollback_schema=True))
    dest = open_destination(ref.destination)
    try:  # the objects the org has before the run (custom ones the run creates are checked as schema)
        objects = [o for o in for_pair(ref.pair).DEST_OBJECTS if dest.describe(o) is not None]
    finally:
        dest.close()
    before = _snapshot(probe, objects)
    assert before
    # GIVEN a translation that merges two source values
    monkeypatch.setattr(engine, "_converter", _merging(engine._converter))
    # WHEN the run loads with on_failed_reconciliation: rollback
    desc = rt.wait(rt.start_migration(ref), timeout_s=900)
    assert desc["status"] == "SUCCEEDED", desc
    # THEN reconciliation fails, on a raw-source check naming the field
    recon = s3_json(rt, "runs/rc-merge/reports/reconciliation.json")
    assert not recon["passed"]
    failed = [(m["mapping"], c["field"]) for m in recon["mappings"] for c in m["checks"] if not c["passed"]]
    assert failed and {c["check"] for m in recon["mappings"] for c in m["checks"] if not c["passed"]} == \
        {"source_histogram"}, failed
    # AND the run started the rollback by itself
    item = stores().runs.get("rc-merge") or {}
    assert item["summary"]["status"] == "reconciliation_failed"
    assert item["auto_rollback"]["reason"].startswith("reconciliation failed")
    rolled = rt.wait(str(item["rollback_execution"]), timeout_s=900)
    assert rolled["status"] == "SUCCEEDED", rolled
    report = s3_json(rt, "runs/rc-merge/reports/rollback.json")
    assert report["passed"], report["totals"]
    # AND the destination holds exactly what it held before the run, except, where the destination keeps a
    # run journal (Odoo), the one summary the run posted about itself (kept by design: guarantees-odoo.md)
    schema = report["schema"]
    dest = open_destination(ref.destination)
    try:
        after = _snapshot(probe, list(before))
        extra = {obj: after[obj] - before[obj] for obj in before if after[obj] - before[obj]}
        assert all(before[obj] <= after[obj] for obj in before), "a record that was there before is gone"
        assert sum(map(len, extra.values())) == (1 if dest.capabilities.keeps_run_journal else 0), extra
        if dest.capabilities.removes_schema:
            assert schema["removed"] and not schema["kept"], schema
            for name in schema["removed"]:
                obj, _, field_name = name.partition(".")
                described = dest.describe(obj)
                assert described is None if not field_name else \
                    described is None or field_name not in described.fields, f"{name} still there"
        else:
            assert schema["kept"] and schema["reason"], schema
    finally:
        dest.close()

"""Workflow: the data-quality pre-scan at discovery predicts the load's orphans before any write.

GIVEN the demo tenant (generated with its dirty-data knobs: orphans, duplicate and bad e-mails, bad dates)
WHEN a run of every pair (Sercom into each destination, ServiceTracker into Salesforce) goes through the real ASL
THEN the pre-scan written at Discover lists every record ``rejects.csv`` later rejects as an orphan (and no
other) in ``preflight-rejects.jsonl``, counts them in ``preflight.json``, was written before the run's first
destination write, and reports the other findings.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flitstack.runtime import LocalRuntime, local_environment
from shared.connectors import registry
from tests.kits import kit
from tests.workflow.conftest import PAIRS, pair_id, s3_json

pytestmark = pytest.mark.slow
RUN = "wf-prescan"


@pytest.fixture(scope="module", params=PAIRS, ids=pair_id)
def scanned(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[LocalRuntime, dict[str, Any], list[dict[str, str]], Path]]:
    source, destination = request.param
    folder: Path = tmp_path_factory.mktemp(f"prescan-{pair_id(request.param)}")
    local_environment(folder / "lambda.jsonl")
    with LocalRuntime(folder=folder, records=600, seed=11, source=source, destination=destination,
                      source_args=kit(source).local_args) as runtime:
        desc = runtime.wait(runtime.start_migration(runtime.run_ref(RUN)), timeout_s=900)
        assert desc["status"] == "SUCCEEDED", desc
        runtime.download_reports(RUN, folder / "reports")
        with (folder / "reports" / "rejects.csv").open(newline="", encoding="utf-8") as fh:
            rejects = list(csv.DictReader(fh))
        yield runtime, json.loads((folder / "reports" / "preflight.json").read_text()), rejects, folder / "reports"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_every_orphan_the_load_rejects_was_listed_before_the_load(
        scanned: tuple[LocalRuntime, dict[str, Any], list[dict[str, str]], Path]) -> None:
    runtime, scan, rejects, reports = scanned
    rejected = {(r["source_object"], r["source_id"], r["dest_object"]) for r in rejects if r["code"] == "orphan"}
    listing = _lines(reports / scan["listings"]["load_rejects"])
    assert scan["load_rejects"] == listing[:len(scan["load_rejects"])]  # preflight.json: the listing's first rows
    assert scan["summary"]["load_rejects"] == len(listing)
    predicted = {(r["source_object"], r["source_id"], r["dest_object"]) for r in listing if r["code"] == "orphan"}
    assert scan["summary"]["orphans_rejected"] == len(predicted)
    assert rejected, "the demo tenant's orphans should reach rejects.csv"
    assert rejected <= predicted, sorted(rejected - predicted)
    assert predicted <= rejected, sorted(predicted - rejected)
    # Direct orphans are listed by relation, with the missing id.
    listed = {(o["object"], o["id"]) for o in _lines(reports / scan["listings"]["orphans"])}
    assert sum(o["count"] for o in scan["orphans"]) == len(listed)
    direct = {(r["source_object"], r["source_id"]) for r in listing
              if r["code"] == "orphan" and "does not exist in the source" in r["reason"]}
    assert direct and direct <= listed
    # Before the load: the scan's time precedes every destination write the audit log holds.
    assert runtime.engine is not None and runtime.engine.stack is not None
    items = runtime.engine.client("dynamodb").query(
        TableName=runtime.engine.stack.tables["AuditTable"], KeyConditionExpression="run_id = :r",
        ExpressionAttributeValues={":r": {"S": RUN}})["Items"]
    assert items and scan["scanned_at"] < min(i["at"]["S"] for i in items)


def test_the_other_findings_and_the_destination_checks(
        scanned: tuple[LocalRuntime, dict[str, Any], list[dict[str, str]], Path]) -> None:
    runtime, scan, _, folder = scanned
    src = runtime.source_client()
    try:
        counts = {o.name: src.count(o.name) for o in src.catalog().objects}
        people = src.users()
    finally:
        src.close()
    assert scan["counts"] == counts
    summary = scan["summary"]
    # The generators' knobs put each of these in a tenant of this size (at least one each).
    for finding in ("duplicate_emails", "orphan_references", "files", "load_rejects"):
        assert summary[finding] > 0, finding
    groups = _lines(folder / scan["listings"]["duplicates"])
    for kind in ("email", "phone"):
        listed = [g for g in groups if g["kind"] == kind]
        assert summary[f"duplicate_{kind}s"] == sum(g["count"] for g in listed)
        assert [{k: v for k, v in g.items() if k != "kind"} for g in listed[:len(scan[f"{kind}s"]["duplicates"])]] \
            == scan[f"{kind}s"]["duplicates"]
    # Duplicate e-mails of the people records are real duplicates, compared without case.
    by_id = {str(p["id"]): p for p in people}
    for group in scan["emails"]["duplicates"]:
        if group["object"] == scan["unassigned"]["people_object"]:
            assert {str(by_id[i]["email"]).casefold() for i in group["ids"]} == {group["value"]}
    files = scan["attachments"][0]
    assert files["count"] == counts["attachments"] and files["average_bytes"] == files["total_bytes"] // files["count"]
    caps = registry.destination(runtime.destination).capabilities
    assert files["limit_bytes"] == caps.max_file_bytes
    assert all(f["size_bytes"] > caps.max_file_bytes for f in files["over_limit"]) if caps.max_file_bytes else True
    dest = scan["destination"]
    assert dest["custom_objects"]["ceiling"] == caps.custom_object_limit
    api = dest["api_budget"]
    if caps.quota_model in ("daily_calls", "credits"):  # the platform tells what is left: read, compared
        assert api["left"] is not None and api["needed"] > 0 and api["status"] in ("fits", "over")
    else:  # no daily budget: said so, never guessed
        assert api["left"] is None and api["status"] == "not metered" and api["note"]
    if caps.record_storage_bytes is not None:
        assert dest["storage"]["data_left_bytes"] > 0 and dest["storage"]["status"] == "fits"
    else:
        assert dest["storage"]["status"] in ("unknown", "fits")
    # The page and the mapping document carry it; the readiness check kept its own file.
    page = (folder / "preflight.html").read_text()
    assert "Orphans by relation" in page and "Records the load will reject" in page
    assert "Data-quality pre-scan" in (folder / "mapping.md").read_text()
    assert s3_json(runtime, f"runs/{RUN}/reports/readiness.json")["blocking"] is False
    # The automation export of the run's destination is there too, beside its page.
    assert s3_json(runtime, f"runs/{RUN}/reports/automation-rules.json")["destination"]["kind"] == runtime.destination

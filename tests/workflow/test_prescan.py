"""Workflow: the data-quality pre-scan at discovery predicts the load's orphans before any write.

GIVEN the demo tenant (generated with its dirty-data knobs: orphans, duplicate and bad e-mails, bad dates)
WHEN a Sercom -> Salesforce run goes through the real ASL
THEN ``preflight.json``, written at Discover, lists every record ``rejects.csv`` later rejects as an orphan
(and no other), was written before the run's first destination write, and reports the other findings.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from flitstack.runtime import LocalRuntime
from tests.workflow.conftest import s3_json

pytestmark = pytest.mark.slow
RUN = "wf-prescan"


@pytest.fixture(scope="module")
def scanned(runtime_factory: Any, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[LocalRuntime, dict[str, Any], list[dict[str, str]], Path]:
    runtime = runtime_factory(records=1200, seed=11)
    desc = runtime.wait(runtime.start_migration(runtime.run_ref(RUN)), timeout_s=900)
    assert desc["status"] == "SUCCEEDED", desc
    folder = tmp_path_factory.mktemp("reports")
    runtime.download_reports(RUN, folder)
    with (folder / "rejects.csv").open(newline="", encoding="utf-8") as fh:
        rejects = list(csv.DictReader(fh))
    return runtime, json.loads((folder / "preflight.json").read_text()), rejects, folder


def test_every_orphan_the_load_rejects_was_listed_before_the_load(
        scanned: tuple[LocalRuntime, dict[str, Any], list[dict[str, str]], Path]) -> None:
    runtime, scan, rejects, _ = scanned
    rejected = {(r["source_object"], r["source_id"], r["dest_object"]) for r in rejects if r["code"] == "orphan"}
    predicted = {(r["source_object"], r["source_id"], r["dest_object"]) for r in scan["load_rejects"]
                 if r["code"] == "orphan"}
    assert rejected, "the demo tenant's orphans should reach rejects.csv"
    assert rejected <= predicted, sorted(rejected - predicted)
    assert predicted <= rejected, sorted(predicted - rejected)
    # Direct orphans are listed by relation, with the missing id.
    listed = {(o["object"], rec["id"]) for o in scan["orphans"] for rec in o["records"]}
    direct = {(r["source_object"], r["source_id"]) for r in scan["load_rejects"]
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
        technicians = src.read_all("technicians")
    finally:
        src.close()
    assert scan["counts"] == counts
    summary = scan["summary"]
    # The generator's knobs put each of these in a tenant of this size (DirtyKnobs: at least one each).
    for finding in ("duplicate_emails", "invalid_dates", "orphan_references", "files"):
        assert summary[finding] > 0, finding
    # Duplicate e-mails are real duplicates of the source's technicians, compared without case.
    for group in scan["emails"]["duplicates"]:
        if group["object"] == "technicians":
            emails = {str(t["email"]).casefold() for t in technicians if t["id"] in group["ids"]}
            assert emails == {group["value"]}
    files = scan["attachments"][0]
    assert files["count"] == counts["attachments"] and files["average_bytes"] == files["total_bytes"] // files["count"]
    assert files["limit_bytes"] == 37_500_000
    dest = scan["destination"]
    assert dest["api_budget"]["unit"] == "calls" and dest["api_budget"]["left"] > dest["api_budget"]["needed"] > 0
    assert dest["storage"]["data_left_bytes"] > 0 and dest["storage"]["status"] == "fits"
    assert dest["custom_objects"]["ceiling"] == 200
    # The page and the mapping document carry it; the readiness check kept its own file.
    page = (folder / "preflight.html").read_text()
    assert "Orphans by relation" in page and "Records the load will reject" in page
    assert "Data-quality pre-scan" in (folder / "mapping.md").read_text()
    assert s3_json(runtime, f"runs/{RUN}/reports/readiness.json")["blocking"] is False

"""Workflow: a run's files are copied by their own fan-out (PlanFiles / FetchFiles / VerifyFiles), as many
slices at once as the source declares and paced to its declared request rate, streamed source → S3 →
destination (D-043).

Its own module, so its own org: the run must be the first to meet the tenant's files (a run after another
one finds them loaded already and sends none).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from shared import planner
from shared.connectors import registry
from shared.connectors.sercom.client import SercomSource
from shared.domain import files
from shared.mapping.spec import MigrationSpec
from tests.workflow.conftest import s3_json, s3_lines, salesforce_client
from tests.workflow.test_retry_catch import FILE_CALLS, PEAK, SCRIPT, _recording_chunks, scripted_extract, scripted_load

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runtime(runtime_factory: Any) -> Any:
    return runtime_factory(records=300, seed=3, dispatcher={"load": scripted_load, "extract": scripted_extract})


def test_files_are_copied_concurrently_within_the_source_rate_and_land_intact(
        runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN slices of 2 files, and a source declaring 3 parallel reads at 3 requests per second
    declared = registry._all()
    slow = dataclasses.replace(declared["sercom"].declared, max_parallel_reads=3, requests_per_s=3)
    monkeypatch.setitem(declared, "sercom", dataclasses.replace(declared["sercom"], declared=slow))
    monkeypatch.setattr(SercomSource, "limits", slow)
    monkeypatch.setattr(SercomSource, "attachment_chunks", _recording_chunks)
    monkeypatch.setattr(files, "FILES_PER_ITEM", 2)
    monkeypatch.setitem(SCRIPT, "hold_s", 0.3)
    PEAK.clear()
    FILE_CALLS.clear()
    # WHEN a migration runs
    arn = runtime.start_migration(runtime.run_ref("wf-files"))
    desc = runtime.wait(arn, timeout_s=600)
    assert desc["status"] == "SUCCEEDED"
    src = runtime.source_client()
    try:
        attachments = src.read_all("attachments")
        content = {a["id"]: src.attachment(a["id"]) for a in attachments}
    finally:
        src.close()
    # THEN the files were copied by their own fan-out, 3 slices at once, never over 3 calls a second
    assert len(attachments) >= 5 and PEAK["fetch_files"] == 3
    assert len(FILE_CALLS) == len(attachments)  # each file read once (the load reads S3, not the source)
    calls = sorted(FILE_CALLS)
    assert all(calls[i + 3] - calls[i] >= 0.95 for i in range(len(calls) - 3)), calls
    # AND the load-ready batch holds references, not content; Salesforce holds the exact bytes
    s3, bucket = runtime.engine.client("s3"), runtime.engine.stack.bucket
    ready = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="runs/wf-files/load/")["Contents"]
             if o["Key"].endswith(".jsonl")]
    sent = [r for key in ready for r in s3_lines(runtime, key)
            if str(r.get("Sercom_Id__c", "")).startswith("attachments:")]
    assert sent and all(set(r["VersionData"]) == {"$file", "size"} for r in sent)
    sf = salesforce_client(runtime)
    rows = sf.query_all("SELECT Id, Sercom_Id__c FROM ContentVersion WHERE Sercom_Id__c LIKE 'attachments:%'")[
        "records"]
    checked = 0
    for row in rows:
        sid = row["Sercom_Id__c"].split(":", 1)[1]
        body = sf.session.get(f"{sf.base_url}sobjects/ContentVersion/{row['Id']}/VersionData",
                              headers=sf.headers)
        assert body.status_code == 200 and body.content == content[sid], sid
        checked += 1
    assert checked == len(sent)
    # AND the levels before the first that carries files loaded while the files were copied (D-053); the
    # level loop went on from there once every file was in S3
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in runtime.engine.map_runs(arn):
        runs.setdefault(r["mapRunArn"].rsplit("/", 1)[1].rsplit(":", 1)[0], []).append(r)
    (fetch,) = runs["FetchFiles"]
    spec = MigrationSpec.model_validate(s3_json(runtime, "runs/wf-files/spec.json"))
    planned = s3_json(runtime, "runs/wf-files/levels.json")
    first = planner.first_level_with_files(spec, planned)
    assert 0 < first < len(planned) and len(runs["LoadLevelBesideFiles"]) == first
    assert min(r["startDate"] for r in runs["LoadLevelBesideFiles"]) < fetch["stopDate"]
    assert len(runs["LoadLevel"]) == len(planned) - first
    assert all(r["startDate"] >= fetch["stopDate"] for r in runs["LoadLevel"])

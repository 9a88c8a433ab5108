"""Workflow: the ASL's Retry recovers a throttled load, its Catch ends a run on a fatal error, an
extraction that dies mid-object resumes from its last partition checkpoint, and the Distributed Maps
run as many items at once as the connectors declare.

Failures are scripted at our own interface (the Lambda handler) while everything else is real:
the ASL on moto, the handlers, the stand-ins over HTTPS.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from typing import Any

import pytest

from functions.extract import handler as extract_handler
from functions.load import handler as load_handler
from shared.connectors import registry
from shared.connectors.sercom.client import SercomSource
from shared.domain.keys import Keys
from shared.errors import ThrottledError, TransientError
from shared.handler import stores
from shared.models import Endpoint, RunOptions, RunRef
from tests.workflow.conftest import failed_checks, s3_json, s3_lines, salesforce_client

pytestmark = pytest.mark.slow

SCRIPT: dict[str, Any] = {"throttle_load_batches": 0, "die_after_write": set(), "hold_s": 0.0,
                          "die_in_partition": None}
CALLS: Counter[str] = Counter()
_IN_FLIGHT: Counter[str] = Counter()
PEAK: Counter[str] = Counter()
_LOCK = threading.Lock()


def _held(op: str, run: Any) -> Any:
    """Run one op counting how many of it are in flight at once; ``hold_s`` keeps each open long
    enough that a Map allowed N at once really has N open."""
    with _LOCK:
        _IN_FLIGHT[op] += 1
        PEAK[op] = max(PEAK[op], _IN_FLIGHT[op])
    try:
        time.sleep(SCRIPT["hold_s"])
        return run()
    finally:
        with _LOCK:
            _IN_FLIGHT[op] -= 1


_EXTRACTING = threading.local()
#: (object, cursor) of every page an extract_partition invocation fetched from Sercom
PAGES_FETCHED: list[tuple[str, str | None]] = []


def scripted_extract(event: dict[str, Any], context: Any) -> Any:
    if event.get("op") == "fetch_files":
        return _held("fetch_files", lambda: extract_handler.handler(event, context))
    if event.get("op") != "extract_partition":
        return extract_handler.handler(event, context)
    obj = event["partition"]["object"]
    die = SCRIPT["die_in_partition"]
    _EXTRACTING.on = True
    try:
        if die and die["object"] == obj:
            CALLS[f"partition:{obj}"] += 1
            if CALLS[f"partition:{obj}"] == die["partition"]:
                # The invocation dies after reading its partition and writing the batches, just before its
                # checkpoint: the checkpoint stays the previous partition's.
                key = Keys(_run(event)).extract_checkpoint(obj)
                before = stores().blobs.get_json(key)
                extract_handler.handler(event, context)
                stores().blobs.put_json(key, before)
                CALLS["died"] += 1
                raise TransientError(f"container died in partition {die['partition']} of {obj}")
        return _held("extract_partition", lambda: extract_handler.handler(event, context))
    finally:
        _EXTRACTING.on = False


def _run(event: dict[str, Any]) -> RunRef:
    return RunRef.model_validate(event["run"])


_sercom_get = SercomSource._get
_sercom_chunks = SercomSource.attachment_chunks
#: when each file copy called the source (monotonic seconds)
FILE_CALLS: list[float] = []


def _recording_chunks(self: SercomSource, attachment_id: str) -> Any:
    with _LOCK:
        FILE_CALLS.append(time.monotonic())
    return _sercom_chunks(self, attachment_id)


def _recording_get(self: SercomSource, path: str, params: dict[str, Any] | None = None) -> Any:
    if getattr(_EXTRACTING, "on", False) and params and "limit" in params:
        with _LOCK:
            PAGES_FETCHED.append((path.strip("/"), params.get("cursor")))
    return _sercom_get(self, path, params)


def scripted_load(event: dict[str, Any], context: Any) -> Any:
    """The real load handler, except that the first N load_batch calls are throttled."""
    if event.get("op") == "load_batch":
        CALLS["load_batch"] += 1
        if SCRIPT["throttle_load_batches"] > 0:
            SCRIPT["throttle_load_batches"] -= 1
            raise ThrottledError("REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.", retry_after_s=1)
        mapping = event["item"]["mapping"]
        if mapping in SCRIPT["die_after_write"]:
            # The Lambda dies after its writes reached the destination, before its checkpoint.
            SCRIPT["die_after_write"].discard(mapping)
            result = load_handler.handler(event, context)
            run = event["run"]["run_id"]
            phase_root = f"runs/{run}"
            stores().blobs.delete(f"{phase_root}/levels/{event['item']['level']:02d}/outcomes/"
                                  f"{event['item']['batch_id']}.json")
            CALLS["died"] += 1
            raise TransientError(f"container died after writing {result['loaded']} records")
        return _held("load_batch", lambda: load_handler.handler(event, context))
    return load_handler.handler(event, context)


@pytest.fixture(scope="module")
def runtime(runtime_factory: Any) -> Any:
    # An org without the "Set Audit Fields upon Record Creation" permission.
    return runtime_factory(records=300, seed=3, dispatcher={"load": scripted_load, "extract": scripted_extract},
                           destination_args=["--no-audit-fields-permission"])


def test_a_load_that_dies_after_writing_converges_when_retried(runtime: Any) -> None:
    # GIVEN loads that die after their writes (an upsert batch and an insert-only files batch)
    SCRIPT["die_after_write"] = {"work_orders->Case", "attachments->ContentVersion", "contacts->AccountContactRole"}
    CALLS.clear()
    # WHEN the state machine retries them
    desc = runtime.wait(runtime.start_migration(runtime.run_ref("wf-died")), timeout_s=600)
    # THEN the run converges: nothing duplicated, nothing missing
    assert desc["status"] == "SUCCEEDED" and CALLS["died"] == 3
    recon = s3_json(runtime, "runs/wf-died/reports/reconciliation.json")
    assert recon["passed"], failed_checks(recon)
    sf = salesforce_client(runtime)
    for obj in ("Case", "ContentVersion"):
        keys = Counter(r["Sercom_Id__c"] for r in sf.query_all(f"SELECT Sercom_Id__c FROM {obj}")["records"])
        assert keys and max(keys.values()) == 1, obj
    roles = Counter((r["AccountId"], r["ContactId"], r["Role"])
                    for r in sf.query_all("SELECT AccountId, ContactId, Role FROM AccountContactRole")["records"])
    assert roles and max(roles.values()) == 1


def test_an_extraction_that_dies_resumes_from_its_last_partition_checkpoint(
        runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN partitions of 3 pages of 5 records, and an invocation that dies in the activities' third
    # partition after writing its batches, before its checkpoint
    monkeypatch.setattr(SercomSource, "_get", _recording_get)
    monkeypatch.setitem(SCRIPT, "die_in_partition", {"object": "activities", "partition": 3})
    CALLS.clear()
    PAGES_FETCHED.clear()
    options = RunOptions(extract_page_size=5, extract_partition_records=15)
    # WHEN the migration runs (the ASL's Retry re-invokes the dead partition)
    desc = runtime.wait(runtime.start_migration(runtime.run_ref("wf-partitions", options)), timeout_s=600)
    assert desc["status"] == "SUCCEEDED" and CALLS["died"] == 1
    # THEN the object was read in partitions, and only the dead partition's pages were fetched twice
    src = runtime.source_client()
    try:
        source_ids = sorted(r["id"] for r in src.read_all("activities"))
    finally:
        src.close()
    pages = Counter(cursor for obj, cursor in PAGES_FETCHED if obj == "activities")
    expected_pages = -(-len(source_ids) // 5)
    assert expected_pages >= 9  # enough for the third partition not to be the last
    assert len(pages) == expected_pages
    assert sorted(pages.values()) == [1] * (expected_pages - 3) + [2] * 3
    # AND nothing was lost or read twice into the batches
    outcome = s3_json(runtime, "runs/wf-partitions/extract/outcomes/activities.json")
    assert outcome["partitions"] == -(-expected_pages // 3) and outcome["count"] == len(source_ids)
    extracted = sorted(r["id"] for key in outcome["batches"] for r in s3_lines(runtime, key))
    assert extracted == source_ids
    recon = s3_json(runtime, "runs/wf-partitions/reports/reconciliation.json")
    assert recon["passed"], failed_checks(recon)


def test_throttled_load_is_retried_by_the_state_machine_and_converges(runtime: Any) -> None:
    # GIVEN the first two batch loads are refused with a throttling error
    SCRIPT["throttle_load_batches"] = 2
    CALLS.clear()
    # WHEN a migration runs
    desc = runtime.wait(runtime.start_migration(runtime.run_ref("wf-throttled")), timeout_s=600)
    # THEN the ASL Retry re-ran them, and the run succeeded with reconciliation passing
    assert desc["status"] == "SUCCEEDED"
    items = sum(len(s3_json(runtime, f"runs/wf-throttled/levels/{i:02d}/manifest.json"))
                for i in range(len(s3_json(runtime, "runs/wf-throttled/levels.json"))))
    assert CALLS["load_batch"] == items + 2
    summary = s3_json(runtime, "runs/wf-throttled/reports/summary.json")
    assert summary["status"] == "succeeded"


def test_without_audit_permission_original_timestamps_land_in_custom_fields(runtime: Any) -> None:
    # GIVEN the migration above ran against an org without the audit-field permission
    sf = salesforce_client(runtime)
    src = runtime.source_client()
    try:
        customers = {r["id"]: r for r in src.read_all("customers")}
    finally:
        src.close()
    rows = sf.query_all("SELECT Sercom_Id__c, CreatedDate, Original_Created_Date__c, Original_Modified_Date__c "
                        "FROM Account WHERE Sercom_Id__c LIKE 'customers:%'")["records"]
    assert rows
    for row in rows:
        c = customers[row["Sercom_Id__c"].split(":", 1)[1]]
        # THEN the originals are in the custom fields, and CreatedDate is the load time
        assert row["Original_Created_Date__c"][:19] == c["created_at"][:19]
        assert row["Original_Modified_Date__c"][:19] == c["updated_at"][:19]
        assert row["CreatedDate"][:19] != c["created_at"][:19]


def test_fatal_error_is_caught_recorded_and_fails_the_run(runtime: Any) -> None:
    # GIVEN a run whose destination secret does not exist (a configuration error)
    run = runtime.run_ref("wf-fatal").model_copy(
        update={"destination": Endpoint(kind="salesforce", secret_name="flitstack/local/missing")})
    # WHEN it runs
    arn = runtime.start_migration(run)
    desc = runtime.wait(arn, timeout_s=300)
    # THEN the Catch routed it to RecordFailure and the execution failed with a named error
    assert desc["status"] == "FAILED"
    states = [e.get("stateEnteredEventDetails", {}).get("name") for e in runtime.engine.history(arn)]
    assert "RecordFailure" in states and "PrepareDestination" not in states
    failure = s3_json(runtime, "runs/wf-fatal/reports/failure.json")
    assert failure["error"] == "ConfigurationError"
    assert "flitstack/local/missing" in failure["cause"]


def test_map_concurrency_is_the_connectors_declared_limit(runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a source declaring 3 parallel reads and a destination declaring 2 parallel loads
    declared = registry._all()  # the registry the handlers read (a new connector's entry would be here)
    src, dest = declared["sercom"], declared["salesforce"]
    monkeypatch.setitem(declared, "sercom", dataclasses.replace(
        src, declared=dataclasses.replace(src.declared, max_parallel_reads=3)))
    monkeypatch.setitem(declared, "salesforce", dataclasses.replace(
        dest, declared=dataclasses.replace(dest.declared, max_parallel_loads=2)))
    monkeypatch.setitem(SCRIPT, "hold_s", 0.3)
    PEAK.clear()
    # WHEN a migration runs (each partition read and batch load held open a moment)
    arn = runtime.start_migration(runtime.run_ref("wf-concurrency"))
    desc = runtime.wait(arn, timeout_s=600)
    assert desc["status"] == "SUCCEEDED"
    # THEN every Map run was started with the declared concurrency, not a constant
    runs = runtime.engine.map_runs(arn)
    levels = len(s3_json(runtime, "runs/wf-concurrency/levels.json"))
    # LoadLevel per level, then Extract and FetchFiles (the source's)
    assert sorted(r["maxConcurrency"] for r in runs) == [2] * levels + [3, 3]
    # AND that many items really ran at once (and never more)
    assert PEAK["extract_partition"] == 3
    assert PEAK["load_batch"] == 2

"""The local engine: test-only ASL on moto's interpreter, Lambdas dispatched in-process.

The fixtures (tests/workflow/fixtures) use the same constructs the real ASL uses: lambda:invoke,
Retry/Catch on the exception class name, a Distributed Map over an S3 JSON manifest, and
.waitForTaskToken.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from flitstack.local import FixtureStateMachine, LocalEngine, load_endpoint, naming
from infra.resources import FUNCTIONS, STATE_MACHINES, TABLES, FunctionDef

FIXTURES = Path(__file__).parent / "fixtures"
_ALL_TABLES = tuple(t.logical_id for t in TABLES)


def _load_handlers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("engine_fixture_handlers", FIXTURES / "engine_handlers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


handlers = _load_handlers()
FIXTURE_FUNCTIONS = [
    FunctionDef(f"{folder.capitalize()}Function", folder, memory_mb=512, timeout_s=60, tables=_ALL_TABLES)
    for folder in handlers.HANDLERS
]
FIXTURE_MACHINES = [
    FixtureStateMachine(name, FIXTURES / f"{name}.asl.json")
    for name in ("passthrough", "retry_catch", "distributed_map", "callback")
]


@pytest.fixture(scope="module")
def engine() -> Any:
    with LocalEngine() as eng:
        eng.deploy(functions=FIXTURE_FUNCTIONS, state_machines=FIXTURE_MACHINES, dispatcher=handlers.HANDLERS)
        yield eng


def _output(desc: dict[str, Any]) -> Any:
    return json.loads(desc["output"])


def _key() -> str:
    return uuid.uuid4().hex[:12]


# --- deploy ---------------------------------------------------------------------------------
def test_deploy_creates_the_stack_from_infra_resources(engine: LocalEngine) -> None:
    # GIVEN a deployed engine
    stack = engine.stack
    assert stack is not None
    # WHEN we look at the resources through plain boto3 (as a handler would)
    ddb = boto3.client("dynamodb")
    # THEN every table of infra/resources.py exists, keyed as declared, on demand
    for table in TABLES:
        desc = ddb.describe_table(TableName=stack.tables[table.logical_id])["Table"]
        keys = {k["KeyType"]: k["AttributeName"] for k in desc["KeySchema"]}
        assert keys["HASH"] == table.partition_key
        assert keys.get("RANGE") == table.sort_key
        types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
        assert types[table.partition_key] == table.partition_key_type
        if table.sort_key:
            assert types[table.sort_key] == table.sort_key_type
        assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # AND the data bucket exists and the handlers' env names it and every table
    boto3.client("s3").head_bucket(Bucket=stack.bucket)
    assert os.environ["DATA_BUCKET"] == stack.bucket == "flitstack-local-data"
    assert os.environ["RUNS_TABLE"] == "flitstack-local-runs"
    assert {os.environ[naming.table_env_var(t)] for t in TABLES} == set(stack.tables.values())
    assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoint_url
    # AND every function carries the same env in its configuration
    cfg = boto3.client("lambda").get_function_configuration(FunctionName=stack.function_names["item"])
    assert cfg["Environment"]["Variables"]["AUDIT_TABLE"] == "flitstack-local-audit"


def test_local_names_are_derived_from_the_real_definitions() -> None:
    # GIVEN the real definitions THEN each has a distinct local name and table env var
    assert {naming.table_env_var(t) for t in TABLES} == {
        "RUNS_TABLE",
        "AUDIT_TABLE",
        "CROSSWALK_TABLE",
        "IDEMPOTENCY_TABLE",
        "APPROVALS_TABLE",
    }
    assert len({naming.function_name(f) for f in FUNCTIONS}) == len(FUNCTIONS)
    assert naming.state_machine_name(STATE_MACHINES[0]) == "flitstack-local-migrate"


# --- (a) pass-through -----------------------------------------------------------------------
def test_task_invokes_the_handler_in_process_and_passes_the_result_through(engine: LocalEngine) -> None:
    # GIVEN a Task -> Lambda in both resource forms
    # WHEN the execution runs
    desc = engine.run("passthrough", {"run_id": "r-a"}, timeout_s=20)
    # THEN it succeeds and each handler's return value lands at its ResultPath
    assert desc["status"] == "SUCCEEDED", desc
    out = _output(desc)
    first = out["first"]["result"]
    assert first["echo"] == {"run_id": "r-a"}
    assert first["function_name"] == "flitstack-local-echo"
    assert first["memory_mb"] == 512 and first["has_time_left"] is True
    assert first["data_bucket"] == "flitstack-local-data"
    # AND the ASL's ${DataBucketName} substitution reached the handler
    assert out["second"]["echo"] == {"run_id": "r-a", "bucket": "flitstack-local-data"}


def test_unhandled_exception_comes_back_like_the_lambda_runtime(engine: LocalEngine) -> None:
    # GIVEN a function whose handler raises
    # WHEN it is invoked directly
    resp = boto3.client("lambda").invoke(
        FunctionName=engine.stack.function_names["flaky"],  # type: ignore[union-attr]
        Payload=json.dumps({"key": _key(), "mode": "config_error"}),
    )
    # THEN the response is the runtime's "Unhandled" error with the exception class name
    assert resp["FunctionError"] == "Unhandled"
    body = json.loads(resp["Payload"].read())
    assert body["errorType"] == "ConfigurationError"
    assert body["errorMessage"] == "destination credentials secret name is not set"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]


def test_a_function_without_handler_module_fails_with_import_error(engine: LocalEngine) -> None:
    # GIVEN a deployed function whose folder has no functions/<folder>/handler.py and no override
    lam = boto3.client("lambda")
    engine.add_function(FunctionDef("GhostFunction", "no_such_folder", timeout_s=3))
    # WHEN it is invoked
    resp = lam.invoke(FunctionName="flitstack-local-no_such_folder", Payload=b"{}")
    # THEN it fails the way Lambda does for a missing module
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read())["errorType"] == "Runtime.ImportModuleError"


# --- (b) Retry --------------------------------------------------------------------------------
def test_retry_on_a_retriable_error_class_recovers(engine: LocalEngine) -> None:
    # GIVEN a handler that raises ThrottledError twice, then succeeds
    key = _key()
    # WHEN the Task with Retry ErrorEquals ["ThrottledError"] runs
    desc = engine.run("retry_catch", {"key": key, "mode": "throttle_twice"}, timeout_s=20)
    # THEN the execution succeeds on the third attempt
    assert desc["status"] == "SUCCEEDED", desc
    assert _output(desc) == {"key": key, "attempts": 3}
    failed = [e["taskFailedEventDetails"] for e in engine.history(desc["executionArn"]) if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["ThrottledError", "ThrottledError"]
    assert "engine_handlers.py" in json.loads(failed[0]["cause"])["stackTrace"][0]


# --- (c) Catch --------------------------------------------------------------------------------
def test_catch_on_a_fatal_error_class_routes_to_the_failure_report(engine: LocalEngine) -> None:
    # GIVEN a handler that raises ConfigurationError (not in the Retry list)
    key = _key()
    # WHEN the execution runs
    desc = engine.run("retry_catch", {"key": key, "mode": "config_error"}, timeout_s=20)
    # THEN it is not retried, the Catch routes to ReportFailure, and the run ends in the Fail state
    assert desc["status"] == "FAILED", desc
    assert desc["error"] == "MigrationFailed"
    assert handlers.ATTEMPTS[key] == 1
    record = boto3.resource("dynamodb").Table(os.environ["RUNS_TABLE"]).get_item(Key={"run_id": key})["Item"]
    assert record["status"] == "FAILED"
    assert record["error"] == "ConfigurationError"
    assert json.loads(record["cause"])["errorMessage"] == "destination credentials secret name is not set"


# --- (d) Distributed Map ----------------------------------------------------------------------
def _put_manifest(engine: LocalEngine, run_id: str, items: list[dict[str, Any]]) -> str:
    key = f"runs/{run_id}/manifest.json"
    boto3.client("s3").put_object(Bucket=engine.stack.bucket, Key=key, Body=json.dumps(items).encode())  # type: ignore[union-attr]
    return key


def test_distributed_map_fans_out_and_a_later_step_sees_every_outcome(engine: LocalEngine) -> None:
    # GIVEN a manifest of 50 items in S3
    run_id = _key()
    manifest = _put_manifest(engine, run_id, [{"index": i} for i in range(50)])
    # WHEN the Distributed Map runs over it
    desc = engine.run("distributed_map", {"run_id": run_id, "manifest_key": manifest}, timeout_s=30)
    # THEN every item ran and the verify step saw all 50 outcomes
    assert desc["status"] == "SUCCEEDED", desc
    assert _output(desc) == {"verified": 50}
    (map_run,) = engine.map_runs(desc["executionArn"])
    assert map_run["itemCounts"]["succeeded"] == 50


def test_a_failed_map_item_is_swallowed_but_the_verify_step_catches_it(engine: LocalEngine) -> None:
    # GIVEN a manifest of 50 items, one of which makes the item handler raise
    run_id = _key()
    items: list[dict[str, Any]] = [{"index": i} for i in range(50)]
    items[17]["poison"] = True
    manifest = _put_manifest(engine, run_id, items)
    # WHEN the Distributed Map runs over it
    desc = engine.run("distributed_map", {"run_id": run_id, "manifest_key": manifest}, timeout_s=30)
    # THEN moto's MapRun swallows the failure (itemCounts.failed == 1, the Map state succeeds) ...
    (map_run,) = engine.map_runs(desc["executionArn"])
    assert map_run["itemCounts"]["failed"] == 1
    assert map_run["itemCounts"]["succeeded"] == 49
    # ... AND the verify step, which checks every manifest entry left an outcome, fails the run
    assert desc["status"] == "FAILED", desc
    assert desc["error"] == "IncompleteMapError"
    assert "[17]" in desc["cause"]


# --- (e) .waitForTaskToken --------------------------------------------------------------------
def _token_for(run_id: str, timeout_s: float = 10) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got_run, token = handlers.TOKENS.get(timeout=timeout_s)
        if got_run == run_id:
            return str(token)
    raise AssertionError(f"no task token for {run_id}")


def test_wait_for_task_token_resumes_on_send_task_success(engine: LocalEngine) -> None:
    # GIVEN an execution paused on .waitForTaskToken
    run_id = _key()
    arn = engine.start_execution("callback", {"run_id": run_id})
    token = _token_for(run_id)
    time.sleep(0.2)
    assert engine.describe(arn)["status"] == "RUNNING"
    # WHEN the token is sent back with an output
    engine.send_task_success(token, {"approved": True, "by": "reviewer"})
    # THEN the execution resumes with that output at its ResultPath
    desc = engine.wait(arn, timeout_s=10)
    assert desc["status"] == "SUCCEEDED", desc
    assert _output(desc) == {"run_id": run_id, "approval": {"approved": True, "by": "reviewer"}}


def test_wait_for_task_token_fails_on_send_task_failure(engine: LocalEngine) -> None:
    # GIVEN an execution paused on .waitForTaskToken
    run_id = _key()
    arn = engine.start_execution("callback", {"run_id": run_id})
    token = _token_for(run_id)
    # WHEN the reviewer rejects it
    engine.send_task_failure(token, error="PlanRejected", cause="mapping of Job.status is wrong")
    # THEN the execution fails with that error
    desc = engine.wait(arn, timeout_s=10)
    assert desc["status"] == "FAILED"
    assert desc["error"] == "PlanRejected"


# --- long-lived mode --------------------------------------------------------------------------
def test_serve_forever_publishes_an_endpoint_file(engine: LocalEngine, tmp_path: Path) -> None:
    # GIVEN the module's engine is done (moto's state is process-global: one engine at a time)
    engine.stop()
    endpoint_file = tmp_path / "local" / "endpoint.json"
    server = LocalEngine()
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={
            "endpoint_file": endpoint_file,
            "functions": FIXTURE_FUNCTIONS,
            "state_machines": FIXTURE_MACHINES[:1],
            "dispatcher": handlers.HANDLERS,
        },
        daemon=True,
    )
    # WHEN it serves
    thread.start()
    deadline = time.monotonic() + 20
    while not endpoint_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    # THEN another client can find the endpoint, names and ARNs and run a workflow through it
    stack = load_endpoint(endpoint_file)
    sfn = boto3.client("stepfunctions", endpoint_url=stack.endpoint_url)
    arn = sfn.start_execution(
        stateMachineArn=stack.state_machine_arns["passthrough"], input=json.dumps({"run_id": "served"})
    )["executionArn"]
    while (desc := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.05)
    assert desc["status"] == "SUCCEEDED"
    # AND request_stop shuts it down and removes the file
    server.request_stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert not endpoint_file.exists()


# --- the real stack ---------------------------------------------------------------------------
def test_the_real_state_machines_deploy(engine: LocalEngine) -> None:
    # GIVEN the real definitions and ASL (written elsewhere in the repo)
    missing = [sm.asl_file for sm in STATE_MACHINES if not sm.path.exists()]
    if missing:
        pytest.skip(f"ASL not written yet: {missing}")
    engine.stop()  # moto's state is process-global: one engine at a time
    with LocalEngine() as real:
        # WHEN the default deploy runs
        stack = real.deploy()
        # THEN moto's parser accepted every state machine, with every ${Var} substituted
        sfn = boto3.client("stepfunctions")
        for sm in STATE_MACHINES:
            definition = sfn.describe_state_machine(stateMachineArn=stack.state_machine_arns[sm.logical_id])
            assert "${" not in definition["definition"]


@pytest.mark.parametrize("folder", [fn.folder for fn in FUNCTIONS])
def test_every_real_function_has_an_importable_handler(folder: str) -> None:
    # GIVEN a FunctionDef WHEN the dispatcher imports functions.<folder>.handler THEN it is callable
    module = importlib.import_module(f"functions.{folder}.handler")
    assert callable(module.handler)


def test_table_items_reads_in_place_what_query_and_scan_page_out() -> None:
    with LocalEngine() as engine:
        engine.deploy(functions=FIXTURE_FUNCTIONS, state_machines=FIXTURE_MACHINES, dispatcher=handlers.HANDLERS)
        _table_items_match_the_api(engine)


def _table_items_match_the_api(engine: LocalEngine) -> None:
    # GIVEN items in a table with a sort key (two partitions) and in one without
    ddb = engine.client("dynamodb")
    names = {t.logical_id: naming.table_name(t, engine.prefix) for t in TABLES}
    audit, runs = names["AuditTable"], names["RunsTable"]
    run_a, run_b = f"ti-a-{uuid.uuid4().hex[:6]}", f"ti-b-{uuid.uuid4().hex[:6]}"
    for run, n in ((run_a, 130), (run_b, 7)):
        for i in range(n):
            ddb.put_item(TableName=audit, Item={"run_id": {"S": run}, "seq": {"S": f"{i:05d}"},
                                                "dest_id": {"S": f"id-{i}"}, "n": {"N": str(i)}})
        ddb.put_item(TableName=runs, Item={"run_id": {"S": run}, "status": {"S": "succeeded"}})
    # WHEN they are read in place (the state export's read), THEN they are exactly the API's items
    paged = [i for p in ddb.get_paginator("query").paginate(
        TableName=audit, KeyConditionExpression="run_id = :r", ExpressionAttributeValues={":r": {"S": run_a}},
        PaginationConfig={"PageSize": 25}) for i in p["Items"]]
    in_place = list(engine.table_items(audit, run_a))
    assert len(in_place) == 130 and sorted(in_place, key=lambda i: i["seq"]["S"]) == paged
    assert list(engine.table_items(audit, "no-such-run")) == []
    scanned = [i for p in ddb.get_paginator("scan").paginate(TableName=runs) for i in p["Items"]]
    assert sorted(map(json.dumps, engine.table_items(runs))) == sorted(map(json.dumps, scanned))

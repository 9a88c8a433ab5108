"""The HTTP API's edge: bodies validated field by field, unknown runs, conflicts, report names.

GIVEN the API handler with fakes for the executions, the run table and the reports (our ports
in shared/api.py), WHEN API Gateway proxy events arrive, THEN the responses carry the status
and a JSON body that names what was wrong and what is allowed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

import functions.api.handler as api_handler
from flitstack.local.api_server import proxy_event
from flitstack.local.dispatch import LambdaContext
from shared.api import AlreadyExists, Execution, MigrationsApi, Report
from shared.executions import ExecutionStart

SOURCE = {"kind": "sercom", "secret_name": "flitstack/t1/sercom"}
DESTINATION = {"kind": "salesforce", "secret_name": "flitstack/t1/salesforce"}


class FakeExecutions:
    def __init__(self) -> None:
        self.executions: dict[str, Execution] = {}
        self.started: list[tuple[str, ExecutionStart]] = []

    def start(self, workflow: str, start: ExecutionStart) -> str:
        arn = f"arn:aws:states:us-east-1:1:execution:{workflow}:{start.name}"
        if arn in self.executions:
            raise AlreadyExists(start.name)
        self.executions[arn] = Execution(arn=arn, name=start.name, status="RUNNING", input=start.input)
        self.started.append((workflow, start))
        return arn

    def migration(self, run_id: str) -> Execution | None:
        return self.executions.get(f"arn:aws:states:us-east-1:1:execution:migrate:{run_id}")

    def describe(self, execution_arn: str) -> Execution | None:
        return self.executions.get(execution_arn)

    def finish(self, run_id: str, status: str = "SUCCEEDED") -> None:
        arn = f"arn:aws:states:us-east-1:1:execution:migrate:{run_id}"
        self.executions[arn] = replace(self.executions[arn], status=status)


class FakeRuns:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def create(self, run_id: str, **fields: Any) -> None:
        if run_id in self.items:
            raise AlreadyExists(run_id)
        self.items[run_id] = {"run_id": run_id, **fields}

    def update(self, run_id: str, **fields: Any) -> None:
        self.items.setdefault(run_id, {"run_id": run_id}).update(fields)

    def get(self, run_id: str) -> dict[str, Any] | None:
        return self.items.get(run_id)


class FakeReports:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], Report] = {}

    def names(self, run_id: str) -> list[str]:
        return sorted(name for rid, name in self.files if rid == run_id)

    def get(self, run_id: str, name: str) -> Report | None:
        return self.files.get((run_id, name))


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeExecutions, FakeRuns, FakeReports]]:
    executions, runs, reports = FakeExecutions(), FakeRuns(), FakeReports()
    service = MigrationsApi(executions, runs, reports)
    monkeypatch.setattr(api_handler, "migrations", lambda: service)
    yield executions, runs, reports


def call(method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, dict[str, str], Any]:
    payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    event = proxy_event(method, path, "", [("host", "api.example"), ("content-type", "application/json")],
                        payload, "api.example")
    context = LambdaContext(function_name="api", invoked_function_arn="arn:aws:lambda:us-east-1:1:function:api",
                            memory_limit_in_mb=1024, timeout_s=29)
    response = api_handler.handler(event, context)
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for k, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(k.lower(), values[0])
    text = base64.b64decode(response["body"]) if response.get("isBase64Encoded") else response["body"].encode()
    parsed = json.loads(text) if headers.get("content-type", "").startswith("application/json") else text
    return response["statusCode"], headers, parsed


def start_body(**overrides: Any) -> dict[str, Any]:
    return {"source": SOURCE, "destination": DESTINATION, "options": {}, **overrides}


def fields_of(body: dict[str, Any]) -> dict[str, str]:
    assert body["error"] == "invalid_request"
    return {e["field"]: e["message"] for e in body["errors"]}


# --- POST /migrations -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (start_body(options={"delta_window_s": -1}), "options.delta_window_s", "greater than or equal to 0"),
        (start_body(options={"batch_size": 50}), "options.batch_size", "greater than or equal to 100"),
        (start_body(options={"approval": "sometimes"}), "options.approval", "'auto' or 'manual'"),
        (start_body(options={"batch_sise": 500}), "options.batch_sise",
         "allowed: approval, approval_timeout_s, approvers, batch_bytes, batch_size"),
        (start_body(source={"kind": "sercom", "secret_name": "prod/sercom"}), "source.secret_name", "flitstack/"),
        (start_body(destination=None), "destination", "valid dictionary"),
        ({"source": SOURCE}, "destination", "Field required"),
        (start_body(run_id="a b"), "run_id", "letters, digits"),
        (start_body(colour="red"), "colour", "allowed: destination, options, run_id, sample_destination, source"),
        (start_body(sample_destination={"kind": "dynamics", "secret_name": "flitstack/sandbox"},
                    options={"approval": "manual"}), "sample_destination.kind", "the destination's kind"),
        (start_body(sample_destination=DESTINATION, options={"approval": "manual"}),
         "sample_destination.secret_name", "another environment"),
        (start_body(sample_destination={**DESTINATION, "secret_name": "flitstack/sandbox"}), "options.approval",
         "must be 'manual' with a sample_destination"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(fakes: Any, body: dict[str, Any], field: str, says: str) -> None:
    status, _, response = call("POST", "/migrations", body)
    assert status == 400
    errors = fields_of(response)
    assert field in errors, errors
    assert says in errors[field]
    assert fakes[0].started == []


def test_unknown_pair_names_the_allowed_pairs(fakes: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a registered destination no pair file serves (every registered one has a pair today: hide one)
    import shared.api

    real = shared.api.pair_name
    monkeypatch.setattr(shared.api, "pair_name", lambda s, d: None if d == "odoo" else real(s, d))
    status, _, response = call("POST", "/migrations", start_body(destination={**DESTINATION, "kind": "odoo"}))
    assert status == 400
    (message,) = fields_of(response).values()
    assert "sercom -> odoo is not supported" in message
    assert "sercom -> salesforce" in message


def test_body_that_is_not_json_or_not_an_object_is_400(fakes: Any) -> None:
    assert call("POST", "/migrations", raw=b"{not json")[0] == 400
    status, _, response = call("POST", "/migrations", ["a"])
    assert status == 400
    assert "body" in fields_of(response)


def test_start_records_the_run_and_starts_the_migrate_machine(fakes: Any) -> None:
    executions, runs, _ = fakes
    status, _, response = call("POST", "/migrations", start_body(run_id="run-42", options={"batch_size": 500}))
    assert status == 202
    assert response["id"] == "run-42"
    assert response["status_url"] == "https://api.example/migrations/run-42"
    assert response["links"]["rollback"] == "https://api.example/migrations/run-42/rollback"
    ((workflow, start),) = executions.started
    assert (workflow, start.name) == ("migrate", "run-42")
    assert start.input["run"]["pair"] == "sercom-salesforce"
    assert start.input["run"]["options"]["batch_size"] == 500
    assert runs.items["run-42"]["status"] == "starting"


def test_a_run_id_is_generated_when_absent(fakes: Any) -> None:
    status, _, response = call("POST", "/migrations", start_body())
    assert status == 202
    assert response["id"].startswith("run-")


def test_duplicate_run_id_is_409(fakes: Any) -> None:
    assert call("POST", "/migrations", start_body(run_id="run-42"))[0] == 202
    status, _, response = call("POST", "/migrations", start_body(run_id="run-42"))
    assert status == 409
    assert response["error"] == "conflict"
    assert len(fakes[0].started) == 1


# --- GET /migrations/{id} -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/migrations/nope-1", "/migrations/nope-1/reports/summary.json",
                                  "/migrations/..%2F..%2Fetc"])
def test_unknown_run_is_404(fakes: Any, path: str) -> None:
    status, _, _ = call("GET", path)
    assert status == 404


def test_unknown_run_rollback_is_404(fakes: Any) -> None:
    assert call("POST", "/migrations/nope-1/rollback")[0] == 404


def test_state_combines_the_execution_and_the_run_table(fakes: Any) -> None:
    executions, runs, reports = fakes
    call("POST", "/migrations", start_body(run_id="run-42"))
    runs.update("run-42", status="paused", step="LoadLevel 2")
    _, _, view = call("GET", "/migrations/run-42")
    assert (view["state"], view["current_step"], view["execution_status"]) == ("paused", "LoadLevel 2", "RUNNING")
    assert view["source"] == SOURCE

    executions.finish("run-42")
    runs.update("run-42", status="reconciliation_failed", step="Finalize", summary={"rejected": 3})
    reports.files[("run-42", "summary.json")] = Report(b"{}", "application/json")
    _, _, view = call("GET", "/migrations/run-42")
    assert view["state"] == "reconciliation_failed"
    assert view["summary"] == {"rejected": 3}
    assert view["reports"] == ["summary.json"]
    assert view["rollback"] is None


# --- POST /migrations/{id}/rollback ---------------------------------------------------------
def test_rollback_while_running_is_409(fakes: Any) -> None:
    call("POST", "/migrations", start_body(run_id="run-42"))
    status, _, response = call("POST", "/migrations/run-42/rollback")
    assert status == 409
    assert "still running" in response["message"]


def test_rollback_after_the_run_starts_the_rollback_machine_once_at_a_time(fakes: Any) -> None:
    executions, runs, _ = fakes
    call("POST", "/migrations", start_body(run_id="run-42"))
    executions.finish("run-42", "FAILED")
    status, _, response = call("POST", "/migrations/run-42/rollback")
    assert status == 202
    workflow, start = executions.started[-1]
    assert workflow == "rollback"
    assert start.name == response["rollback_id"]
    assert start.name.startswith("rollback-run-42-")
    assert start.input["run"]["run_id"] == "run-42"
    assert runs.items["run-42"]["rollback_execution"] == response["execution_arn"]

    status, _, response = call("POST", "/migrations/run-42/rollback")
    assert status == 409
    assert "already running" in response["message"]


# --- GET /migrations/{id}/reports/{name} ----------------------------------------------------
def test_reports_are_served_with_their_type_and_only_by_listed_name(fakes: Any) -> None:
    executions, _, reports = fakes
    call("POST", "/migrations", start_body(run_id="run-42"))
    executions.finish("run-42")
    reports.files[("run-42", "exceptions.md")] = Report(b"# Exceptions\n", "text/markdown; charset=utf-8")
    status, headers, body = call("GET", "/migrations/run-42/reports/exceptions.md")
    assert status == 200
    assert headers["content-type"] == "text/markdown; charset=utf-8"
    assert body == b"# Exceptions\n"

    for name in ("failure.json", "..", "%2E%2E%2Fspec.json", ".hidden"):
        status, _, _ = call("GET", f"/migrations/run-42/reports/{name}")
        assert status == 404, name
    assert call("GET", "/migrations/run-42/reports/../spec.json")[0] == 404

"""Issue 14's adversarial probe of the local API and CLI, each finding replayed with the probe's input.

GIVEN the API handler (with the fakes of test_api_validation) or the function under test, WHEN the
probe's input arrives, THEN the answer is a download, a 4xx naming the problem, or a neutralised value.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from flitstack.cli import write_private
from shared.api import Report
from shared.models import is_run_id
from shared.reports import csv_text
from tests.unit.test_api_validation import call, fakes, start_body  # noqa: F401  (fixture)


@pytest.mark.parametrize(
    ("name", "content_type", "body"),
    [
        ("summary.json", "application/json", b'{"ok": true}'),
        ("rejects.csv", "text/csv; charset=utf-8", b"a,b\n1,2\n"),
        ("mapping.md", "text/markdown; charset=utf-8", b"# Mapping\n"),
        ("reconciliation.html", "text/html; charset=utf-8", b"<html></html>"),
    ],
)
def test_reports_of_every_type_download(fakes: Any, name: str, content_type: str, body: bytes) -> None:  # noqa: F811
    executions, _, reports = fakes
    call("POST", "/migrations", start_body(run_id="run-42"))
    executions.finish("run-42")
    reports.files[("run-42", name)] = Report(body, content_type)
    status, headers, got = call("GET", f"/migrations/run-42/reports/{name}")
    assert status == 200, got
    assert headers["content-type"] == content_type
    assert (got == {"ok": True}) if name.endswith(".json") else (got == body)


def test_a_run_id_ending_in_a_newline_is_refused(fakes: Any) -> None:  # noqa: F811
    assert not is_run_id("run-42\n")
    status, _, body = call("POST", "/migrations", start_body(run_id="run-42\n"))
    assert status == 400
    assert any(e["field"] == "run_id" for e in body["errors"])
    bad_secret = start_body(source={"kind": "sercom", "secret_name": "flitstack/t1/sercom\n"})
    assert call("POST", "/migrations", bad_secret)[0] == 400
    bad_mail = start_body(options={"approval": "manual", "approvers": ["a@example.com\n"]})
    assert call("POST", "/migrations", bad_mail)[0] == 400


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    rows = [{"name": "=HYPERLINK(\"http://x\")", "note": "+1", "a": "-2+3", "b": "@SUM(A1)", "n": -5, "ok": "fine"}]
    text = csv_text(rows, ["name", "note", "a", "b", "n", "ok"])
    line = text.splitlines()[1]
    assert line == "\"'=HYPERLINK(\"\"http://x\"\")\",'+1,'-2+3,'@SUM(A1),-5,fine"


def test_secret_holding_files_are_written_0600(tmp_path: Path) -> None:
    target = tmp_path / "up.json"
    target.write_text("old")
    os.chmod(target, 0o644)
    write_private(target, '{"api": {"key": "k"}}')
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text() == '{"api": {"key": "k"}}'


def test_json_nested_1000_deep_is_400_naming_the_problem(fakes: Any) -> None:  # noqa: F811
    status, _, body = call("POST", "/migrations", raw=b"[" * 1000 + b"]" * 1000)
    assert status == 400
    assert body["errors"][0]["field"] == "body"
    assert "nested deeper than" in body["errors"][0]["message"]


def test_a_50_mb_body_is_413(fakes: Any) -> None:  # noqa: F811
    status, _, body = call("POST", "/migrations", raw=b'{"x": "' + b"a" * (50 * 1024 * 1024) + b'"}')
    assert status == 413
    assert body["error"] == "payload_too_large"


def test_the_local_server_stops_reading_a_body_over_the_cap() -> None:
    import asyncio

    from flitstack.local.api_server import ApiGatewayAsgi
    from shared.api import MAX_BODY_BYTES

    called: list[Any] = []
    app = ApiGatewayAsgi(lambda event, context: called.append(event) or {}, "key", lambda: None)
    chunks = [{"type": "http.request", "body": b"a" * (MAX_BODY_BYTES // 2 + 1), "more_body": True}] * 50
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/migrations", "headers": [(b"x-api-key", b"key")]}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert len(chunks) == 48 and not called


TRACEBACK = ('Traceback (most recent call last):\n  File "/work/main/shared/domain/load.py", line 12, in run\n'
             '    raise SchemaError(x)\n'
             'shared.errors.SchemaError: field missing in /home/op/.flitstack/runs/r/spec.json')
LAMBDA_CAUSE = ('{"errorMessage": "cannot open /work/main/.flitstack/x.sqlite\\nsecond line", '
                '"errorType": "OSError", "stackTrace": ["  File \\"/work/main/functions/load/handler.py\\", line 3"]}')


@pytest.mark.parametrize("cause", [TRACEBACK, LAMBDA_CAUSE])
def test_failure_cause_has_no_traceback_or_local_path(fakes: Any, cause: str) -> None:  # noqa: F811
    import json

    executions, runs, reports = fakes
    call("POST", "/migrations", start_body(run_id="run-42"))
    executions.finish("run-42", "FAILED")
    failure = {"error": "States.TaskFailed", "cause": cause, "at": "2026-01-01T00:00:00Z"}
    runs.update("run-42", status="failed", failure=failure)
    reports.files[("run-42", "failure.json")] = Report(json.dumps(failure).encode(), "application/json")
    _, _, view = call("GET", "/migrations/run-42")
    _, _, report = call("GET", "/migrations/run-42/reports/failure.json")
    for shown in (view["failure"], report):
        text = shown["cause"]
        assert "Traceback" not in text and "/work/" not in text and "/home/" not in text and "\n" not in text
        assert text.startswith(("shared.errors.SchemaError: field missing", "OSError: cannot open"))
        assert shown["error"] == "States.TaskFailed"

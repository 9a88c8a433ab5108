"""Workflow: the HTTP API over real HTTP, in front of the real workflows on moto.

GIVEN a LocalRuntime and its local API server (API key standing in for IAM), WHEN a client
starts a migration with the runtime's secret names, polls it, downloads a report and rolls
it back, THEN every step answers as docs/api.md says and both executions succeed.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from flitstack.runtime import LocalRuntime

pytestmark = pytest.mark.slow
RECORDS = 300


def poll(client: httpx.Client, path: str, done: Any, timeout_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(path)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if done(body):
            return body
        assert time.monotonic() < deadline, f"{path} still {body.get('state')} after {timeout_s}s"
        time.sleep(0.5)


def test_start_poll_report_and_rollback_over_http(runtime_factory: Any) -> None:
    runtime: LocalRuntime = runtime_factory(records=RECORDS, seed=11)
    api = runtime.start_api()
    ref = runtime.run_ref("api-run-1")

    # no key, or a wrong one: API Gateway's own 403, the handler never runs
    assert httpx.get(f"{api['url']}/migrations/api-run-1").status_code == 403
    wrong = httpx.get(f"{api['url']}/migrations/api-run-1", headers={"x-api-key": "nope"})
    assert (wrong.status_code, wrong.json()) == (403, {"message": "Forbidden"})

    with httpx.Client(base_url=api["url"], headers={"x-api-key": api["api_key"]}, timeout=30) as client:
        body = {"run_id": ref.run_id, "source": ref.source.model_dump(), "destination": ref.destination.model_dump(),
                "options": {"batch_size": 500}}
        started = client.post("/migrations", json=body)
        assert started.status_code == 202, started.text
        assert started.json()["id"] == ref.run_id
        assert started.json()["status_url"] == f"{api['url']}/migrations/{ref.run_id}"
        assert client.post("/migrations", json=body).status_code == 409

        view = poll(client, f"/migrations/{ref.run_id}", lambda b: b["execution_status"] != "RUNNING")
        assert view["state"] == "succeeded", view
        assert view["current_step"] == "Finalize"
        assert "exceptions.md" in view["reports"]
        assert "client_secret" not in str(view) and "api_key" not in str(view)

        report = client.get(f"/migrations/{ref.run_id}/reports/exceptions.md")
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("text/markdown")
        assert report.text.startswith("#")
        assert client.get(f"/migrations/{ref.run_id}/reports/spec.json").status_code == 404

        rollback = client.post(f"/migrations/{ref.run_id}/rollback")
        assert rollback.status_code == 202, rollback.text
        arn = rollback.json()["execution_arn"]
        assert runtime.wait(arn, timeout_s=90)["status"] == "SUCCEEDED"
        view = poll(client, f"/migrations/{ref.run_id}", lambda b: b["rollback"]["execution_status"] != "RUNNING")
        assert view["rollback"]["execution_status"] == "SUCCEEDED"
        assert view["rollback"]["status"] == "rolled_back", view
        assert "rollback.json" in view["reports"]

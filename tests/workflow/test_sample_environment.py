"""Workflow: a run with a sample environment leaves the target untouched until the sample is approved.

The pair pages promise the sample goes "into a sandbox first". The run names a second environment of
the destination (``sample_destination``: a Salesforce sandbox, a Dataverse copy; locally a second
stand-in started from a copy of the target's state, as a sandbox is a copy of production). Through
the HTTP API, the real ASL on moto and the stand-ins over HTTPS, for two destinations:

1. until the sample is approved, the target holds exactly what it held before the run (every record,
   read from its state) and none of the custom fields the run creates; the sample is in the sandbox;
2. approved, the target gets its schema and the full load, and reconciliation passes; the sandbox
   keeps only the sample;
3. a rejected sample is removed from the sandbox, and the target still holds what it held before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from flitstack.runtime import LocalRuntime, local_environment
from shared.connections import open_destination
from shared.mapping.spec import MigrationSpec
from shared.models import RunOptions
from tests.kits import Row, kit
from tests.workflow.conftest import api_view, api_wait, s3_json

pytestmark = pytest.mark.slow
RECORDS = 300
DESTINATIONS = ["salesforce", "dynamics"]
#: A run with a sample environment needs a person's sign-off.
MANUAL = RunOptions(approval="manual", approvers=["ops@example.com"])


class Api:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        api = runtime.start_api()
        self.client = httpx.Client(base_url=api["url"], headers={"x-api-key": api["api_key"]}, timeout=60,
                                   trust_env=False)

    def start(self, run_id: str) -> None:
        ref = self.runtime.run_ref(run_id, MANUAL)
        assert ref.sample_destination is not None
        body = {"run_id": run_id, "source": ref.source.model_dump(), "destination": ref.destination.model_dump(),
                "sample_destination": ref.sample_destination.model_dump(),
                "options": {"approval": "manual", "approvers": ["ops@example.com"], "batch_size": 500,
                            "sample_size": 80}}
        started = self.client.post("/migrations", json=body)
        assert started.status_code == 202, started.text

    def view(self, run_id: str) -> dict[str, Any]:
        return api_view(self.client, run_id)

    def wait(self, run_id: str, done: Any, timeout_s: float = 300) -> dict[str, Any]:
        return api_wait(self.client, run_id, done, timeout_s)

    def signoff(self, run_id: str, stage: str) -> None:
        self.wait(run_id, lambda v: v["state"] == "awaiting_approval"
                  and v["current_step"] == f"Awaiting {stage} sign-off")

    def answer(self, run_id: str, stage: str, decision: str) -> None:
        path = f"/migrations/{run_id}/{'mapping/' if stage == 'mapping' else ''}{decision}"
        resp = self.client.post(path, json={"reason": "not yet"} if decision == "reject" else None)
        assert resp.status_code == 200, resp.text


@pytest.fixture(scope="module", params=DESTINATIONS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp(f"sample-env-{request.param}")
    local_environment(folder / "lambda.jsonl")
    with LocalRuntime(folder=folder, records=RECORDS, seed=13, destination=request.param,
                      sample_environment=True) as rt:
        yield Api(rt)


def _records(runtime: LocalRuntime, state: Path) -> list[Row]:
    rules = kit(runtime.destination).state
    assert rules is not None
    return sorted(rules.read(state), key=lambda r: (r[0], r[1]))


def _target_state(runtime: LocalRuntime) -> list[Row]:
    return _records(runtime, Path(runtime.destination_standin.info["state_path"]))


def _sandbox_probe(runtime: LocalRuntime) -> Any:
    return kit(runtime.destination).probe(SimpleNamespace(destination_standin=runtime.sample_standin))


def _spec(runtime: LocalRuntime, run_id: str) -> MigrationSpec:
    return MigrationSpec.model_validate(s3_json(runtime, f"runs/{run_id}/spec.json"))


def _custom_fields_in_target(runtime: LocalRuntime, spec: MigrationSpec) -> set[str]:
    # the connector's own client (cached per secret and thread, so not closed here): describe is what it reads
    dest = open_destination(runtime.run_ref("schema-probe", MANUAL).destination)
    found = set()
    for field in spec.custom_fields:
        described = dest.describe(field.object)
        if described is not None and field.name in described.fields:
            found.add(f"{field.object}.{field.name}")
    return found


def _migrated(probe: Any, spec: MigrationSpec) -> int:
    """Records of the run's keyed mappings the environment holds (by the external id the run writes)."""
    keyed = {(m.dest_object, m.source_object) for m in spec.mappings if not m.natural_key and not m.insert_only}
    return sum(len(probe.rows(obj, spec.external_id_field, src, [])) for obj, src in sorted(keyed))


def test_the_target_is_untouched_until_the_sample_is_approved(api: Api) -> None:
    runtime, run = api.runtime, "sample-env-approve"
    before = _target_state(runtime)
    api.start(run)
    api.signoff(run, "mapping")
    api.answer(run, "mapping", "approve")
    api.signoff(run, "sample")
    spec = _spec(runtime, run)
    # WHILE the sample waits for its sign-off: the target is exactly as it was, schema included
    assert _target_state(runtime) == before
    assert spec.custom_fields and _custom_fields_in_target(runtime, spec) == set()
    sandbox = _sandbox_probe(runtime)
    in_sandbox = _migrated(sandbox, spec)
    assert in_sandbox > 0
    assert s3_json(runtime, f"runs/{run}/reports/sample-diff.json")["summary"]["records"] > 0

    # WHEN the sample is approved THEN the target gets its schema and the whole tenant; reconciliation passes
    api.answer(run, "sample", "approve")
    view = api.wait(run, lambda v: v["execution_status"] != "RUNNING", timeout_s=600)
    assert view["execution_status"] == "SUCCEEDED", view
    recon = s3_json(runtime, f"runs/{run}/reports/reconciliation.json")
    assert recon["passed"], [(m["mapping"], c) for m in recon["mappings"] for c in m["checks"] if not c["passed"]]
    assert _custom_fields_in_target(runtime, spec) == {f"{f.object}.{f.name}" for f in spec.custom_fields}
    target = kit(runtime.destination).probe(runtime)
    assert _migrated(target, spec) > in_sandbox
    # the sandbox kept the sample alone: the full load never wrote there
    assert _migrated(sandbox, spec) == in_sandbox


def test_a_rejected_sample_is_removed_from_the_sandbox_and_the_target_stays_as_it_was(api: Api) -> None:
    runtime, run = api.runtime, "sample-env-reject"
    # the sandbox as the first test left it (its sample), the target as its full load left it
    sandbox = _sandbox_probe(runtime)
    before = _target_state(runtime)
    sandbox_before = _records(runtime, Path(runtime.sample_standin.info["state_path"]))
    api.start(run)
    api.signoff(run, "mapping")
    api.answer(run, "mapping", "approve")
    api.signoff(run, "sample")
    assert _target_state(runtime) == before
    spec = _spec(runtime, run)
    assert _migrated(sandbox, spec) > 0
    api.answer(run, "sample", "reject")
    view = api.wait(run, lambda v: v["execution_status"] != "RUNNING")
    assert view["execution_status"] == "SUCCEEDED" and view["state"] == "rejected", view
    assert _target_state(runtime) == before
    # what the rejected sample wrote in the sandbox is undone there, verified by reading it back
    assert s3_json(runtime, f"runs/{run}/reports/ended.json")["sample_removed"] is True
    assert s3_json(runtime, f"runs/{run}/reports/rollback.json")["passed"] is True
    after = {(obj, rid) for obj, rid, _ in _records(runtime, Path(runtime.sample_standin.info["state_path"]))}
    assert after <= {(obj, rid) for obj, rid, _ in sandbox_before}

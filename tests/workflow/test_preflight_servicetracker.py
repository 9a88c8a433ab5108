"""Workflow: ServiceTracker's pre-flight holds the full run while mobile devices hold unsynced offline data.

GIVEN a tenant with unsynced devices and automatic approval (nobody to override it), the run reaches the
full load and waits (``SourceNotReadyPause``, the run's status ``waiting``), loading nothing; WHEN the
devices sync (the stand-in's admin route, as a technician opening the app), THEN the next check passes and
the run completes and reconciles.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flitstack.runtime import LocalRuntime, local_environment
from shared.handler import stores
from shared.models import RunOptions
from tests.kits import kit
from tests.workflow.conftest import s3_json, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    folder: Path = tmp_path_factory.mktemp("preflight")
    local_environment(folder / "lambda.jsonl")
    with LocalRuntime(folder=folder, records=300, seed=9, source="servicetracker", destination="salesforce",
                      source_args=kit("servicetracker").local_args + (kit("servicetracker").blocking_args or [])
                      ) as runtime:
        yield runtime


def test_unsynced_devices_hold_the_full_run_until_they_sync(rt: LocalRuntime) -> None:
    arn = rt.start_migration(rt.run_ref("pf-wait", RunOptions(batch_size=500, preflight_poll_s=2)))
    wait_until(lambda: (stores().runs.get("pf-wait") or {}).get("status") == "waiting", "pf-wait waiting", 600)
    held = s3_json(rt, "runs/pf-wait/reports/readiness.json")
    assert held["blocking"] and held["devices"] and "overridden" not in held
    time.sleep(5)  # a few checks later it still waits, and nothing of the full run was loaded
    assert (stores().runs.get("pf-wait") or {}).get("status") == "waiting"
    assert rt.engine is not None and rt.engine.stack is not None
    listed = rt.engine.client("s3").list_objects_v2(Bucket=rt.engine.stack.bucket, Prefix="runs/pf-wait/levels/")
    assert not [o["Key"] for o in listed.get("Contents", []) if "/outcomes/" in o["Key"]]
    assert rt.source_standin is not None
    info = rt.source_standin.info
    with httpx.Client(base_url=info["url"], verify=info["ca_path"], trust_env=False, timeout=30,
                      headers={"Authorization": f"Bearer {info['api_token']}"}) as api:
        for device in held["devices"]:
            api.post(f"/__standin/mobile/devices/{device['device_id']}/sync").raise_for_status()
    assert rt.wait(arn, timeout_s=600)["status"] == "SUCCEEDED"
    final = s3_json(rt, "runs/pf-wait/reports/readiness.json")
    assert not final["blocking"]
    assert s3_json(rt, "runs/pf-wait/reports/reconciliation.json")["passed"]

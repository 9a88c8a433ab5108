"""Workflow: with faults injected into ~10% of calls, a 10,000-record migration loses nothing,
duplicates nothing and keeps every lookup (checked with simple-salesforce).

Faults on the Salesforce stand-in: 5xx, REQUEST_LIMIT_EXCEEDED with Retry-After, calls that hang past
the client's timeout, UNABLE_TO_LOCK_ROW per record (partial collection and Bulk failures); on the
Sercom stand-in: 5xx and 429 over a rate.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from tests.workflow.conftest import failed_checks, s3_json, salesforce_client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runtime(runtime_factory: Any) -> Any:
    return runtime_factory(
        records=10_000, seed=21,
        destination_args=["--fault-5xx-rate", "0.03", "--fault-limit-rate", "0.03", "--fault-lock-row-rate", "0.03",
                         "--fault-timeout-rate", "0.01", "--fault-timeout-s", "4",
                         "--fault-seed", "5", "--fault-retry-after-s", "2"],
        call_timeout_s=3,
        source_args=["--fault-5xx-rate", "0.05", "--rate-limit-per-s", "40", "--fault-seed", "5"],
    )


def test_faulty_apis_lose_nothing_duplicate_nothing_and_keep_links(runtime: Any) -> None:
    desc = runtime.wait(runtime.start_migration(runtime.run_ref("wf-faults")), timeout_s=1200)
    assert desc["status"] == "SUCCEEDED"
    recon = s3_json(runtime, "runs/wf-faults/reports/reconciliation.json")
    assert recon["passed"], failed_checks(recon)
    # no record is rejected because of an injected fault: those are all retried
    rejects = s3_json(runtime, "runs/wf-faults/reports/summary.json")
    assert rejects["status"] == "succeeded"
    _faults_off(runtime)  # the checks below read the org; they are not under test
    sf = salesforce_client(runtime)
    for obj in ("Account", "Contact", "Case", "Work_Order__c", "Parts_Used__c", "Task", "Asset"):
        keys = Counter(r["Sercom_Id__c"] for r in sf.query_all(f"SELECT Sercom_Id__c FROM {obj}")["records"])
        assert keys and max(keys.values()) == 1, obj  # nothing duplicated
    cases = {r["Id"] for r in sf.query_all("SELECT Id FROM Case")["records"]}
    work_orders = sf.query_all("SELECT Id, Case__c FROM Work_Order__c")["records"]
    assert all(w["Case__c"] in cases for w in work_orders)
    wo_ids = {w["Id"] for w in work_orders}
    parts = sf.query_all("SELECT Work_Order__c FROM Parts_Used__c")["records"]
    assert all(p["Work_Order__c"] in wo_ids for p in parts)
    accounts = {r["Id"] for r in sf.query_all("SELECT Id FROM Account")["records"]}
    contacts = sf.query_all("SELECT AccountId FROM Contact")["records"]
    assert all(c["AccountId"] in accounts for c in contacts)
    codes = {r.get("code") for r in _rejects(runtime)}
    assert not codes & {"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "UNKNOWN_EXCEPTION", "NO_RESULT"}


def _faults_off(runtime: Any) -> None:
    info = runtime.destination_standin.info
    token = httpx.post(f"{info['url']}/services/oauth2/token", verify=info["ca_path"],
                       data={"grant_type": "password", **info["credentials"]}).json()["access_token"]
    httpx.post(f"{info['url']}/__standin/config", verify=info["ca_path"], headers={"Authorization": f"Bearer {token}"},
               json={"fault_5xx_rate": 0, "fault_limit_rate": 0, "fault_lock_row_rate": 0}).raise_for_status()


def _rejects(runtime: Any) -> list[dict[str, Any]]:
    from tests.workflow.conftest import s3_lines

    return s3_lines(runtime, "runs/wf-faults/rejects/")

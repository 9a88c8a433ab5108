"""Workflow: the CLI a newcomer uses — demo on a tenant dump, status, and serving the migrated org again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce

pytestmark = pytest.mark.slow


def _run(args: list[str], home: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLITSTACK_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", *args], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_demo_on_a_tenant_dump_then_status_and_serve_the_saved_org(tmp_path: Path) -> None:
    # GIVEN a tenant dump directory (the documented bring-your-own-data format)
    dump = tmp_path / "tenant"
    gen = _run(["sandbox.sercom", "generate", "--records", "300", "--seed", "4", "--out", str(dump)], tmp_path)
    assert gen.returncode == 0, gen.stderr
    # WHEN the demo migrates it
    demo = _run(["flitstack", "demo", "--tenant", str(dump), "--json"], tmp_path / "home")
    assert demo.returncode == 0, demo.stderr[-3000:]
    result = json.loads(demo.stdout.strip().splitlines()[-1])
    # THEN the one JSON object names the run, its folder, counts and the stand-ins' state
    assert result["status"] == "succeeded"
    assert Path(result["run_folder"], "reports", "exceptions.md").exists()
    assert result["counts"]["customers->Account"]["loaded"] > 0
    status = _run(["flitstack", "status", result["run_id"]], tmp_path / "home")
    assert status.returncode == 0 and json.loads(status.stdout)["run_id"] == result["run_id"]
    # AND the migrated org can be served again and read with simple-salesforce
    state = result["standins"]["salesforce"]["state_path"]
    proc = subprocess.Popen([sys.executable, "-m", "flitstack", "sandbox", "serve", "salesforce", "--state", state],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        creds = info["credentials"]
        token = requests.post(f"{info['url']}/services/oauth2/token", verify=info["ca_path"], timeout=30,
                              data={"grant_type": "password", **creds}).json()
        session = requests.Session()
        session.trust_env, session.verify = False, info["ca_path"]
        sf = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session,
                        version="60.0")
        n = sf.query("SELECT COUNT() FROM Account WHERE Sercom_Id__c LIKE 'customers:%'")["totalSize"]
        assert n == result["counts"]["customers->Account"]["destination"]
        session.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)

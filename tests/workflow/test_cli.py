"""Workflow: the CLI a newcomer uses — demo on a tenant dump, status, and serving the migrated org again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
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


def _wait_for(check: Any, what: str, timeout_s: float = 300) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_demo_with_manual_approval_resumes_from_the_mailed_link_and_the_slack_button(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "FLITSTACK_HOME": str(home)}
    err = (tmp_path / "demo.stderr").open("w")  # a file, not a pipe: progress output must never block the demo
    demo = subprocess.Popen([sys.executable, "-m", "flitstack", "demo", "--approve", "manual", "--records", "300",
                             "--json"], env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        def outbox() -> list[dict[str, Any]]:
            out = _run(["flitstack", "outbox", "--json"], home)
            assert out.returncode == 0, out.stderr
            return list(json.loads(out.stdout))

        # the run pauses at the mapping: its mail lands in the outbox; the approve link, opened with curl, resumes it
        first = _wait_for(lambda: [m for m in outbox() if "mapping" in m["subject"]], "the mapping sign-off mail")[0]
        run_id = first["run"]
        curl = shutil.which("curl") or "curl"
        done = subprocess.run([curl, "-sS", "-w", "\n%{http_code}", first["links"]["approve"]], capture_output=True,
                              text=True, timeout=60, check=True)
        assert done.stdout.rstrip().endswith("200"), done.stdout
        # then at the sample: the Slack button resumes it
        _wait_for(lambda: [m for m in outbox() if "sample" in m["subject"]], "the sample sign-off mail")
        api = json.loads((home / "runs" / run_id / "api.json").read_text())
        slack = httpx.Client(base_url=api["slack"]["url"], verify=api["slack"]["ca_path"], trust_env=False, timeout=30)
        message = next(m for m in slack.get("/__standin/messages").json() if "sample" in m["text"])
        click = slack.post("/__standin/click", json={"message_id": message["id"], "action_id": "flitstack_approve",
                                                     "user": {"id": "U7", "name": "sam"}}).json()
        assert click["status"] == 200, click
        stdout, _ = demo.communicate(timeout=600)
    finally:
        if demo.poll() is None:
            demo.kill()
        err.close()
    assert demo.returncode == 0, (tmp_path / "demo.stderr").read_text()[-3000:]
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["run_id"] == run_id and result["status"] == "succeeded"
    assert Path(result["run_folder"], "reports", "sample-diff.html").exists()
    # a finished run's API is gone: the CLI says so instead of hanging
    late = _run(["flitstack", "approve", run_id], home)
    assert late.returncode == 2 and "does not answer" in late.stderr

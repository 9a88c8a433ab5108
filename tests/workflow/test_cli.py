"""Workflow: the CLI a newcomer uses — demo on a tenant dump, status, and serving the migrated org again."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from simple_salesforce import Salesforce

from tests.workflow.conftest import wait_until

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

        # the run pauses at the mapping: its mail lands in the outbox; opening its links (as a mail scanner
        # would: GET, HEAD, following redirects) decides nothing
        first = wait_until(lambda: [m for m in outbox() if "mapping" in m["subject"]], "the mapping sign-off mail")[0]
        run_id = first["run"]
        api = json.loads((home / "runs" / run_id / "api.json").read_text())
        client = httpx.Client(base_url=api["url"], headers={api["api_key_header"]: api["api_key"]}, trust_env=False,
                              timeout=60)
        for link in (first["links"]["approve"], first["links"]["reject"]):
            assert httpx.get(link, trust_env=False, timeout=60, follow_redirects=True).status_code == 200
            assert httpx.head(link, trust_env=False, timeout=60).status_code != 500
        # the operator commands and mapping routes answer for a run the demo started (issue 14: they were 404)
        mapping = client.get(f"/migrations/{run_id}/mapping")
        assert mapping.status_code == 200 and mapping.json()["sign_off"] == "awaiting_approval", mapping.text
        assert client.get(f"/migrations/{run_id}").json()["state"] == "awaiting_approval"
        approved = _run(["flitstack", "approve", run_id], home)
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert json.loads(approved.stdout)["stage"] == "mapping"
        # then at the sample: the mailed link's page, its Approve button (a POST of the signed form) resumes it
        sample = wait_until(lambda: [m for m in outbox() if "sample" in m["subject"]], "the sample sign-off mail")[0]
        page = httpx.get(sample["links"]["approve"], trust_env=False, timeout=60)
        assert page.status_code == 200 and run_id in page.text and "sample" in page.text
        form = dict(re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>",
                               page.text.split("id='approve-form'", 1)[1].split("</form>", 1)[0]))
        form = {k: html.unescape(v) for k, v in form.items()}
        posted = httpx.post(sample["links"]["approve"].split("?", 1)[0], data=form, trust_env=False, timeout=60)
        assert posted.status_code == 200 and "approved" in posted.text, posted.text
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

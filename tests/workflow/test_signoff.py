"""Workflow: the human in the loop, through the real ASL on moto, the real API over HTTP,
SES (moto) mail, the Slack stand-in over HTTPS and a real browser.

GIVEN a run with ``approval: manual``:
- it pauses at the mapping; the mapping is readable and editable (bad edits get 400s naming
  the field); forged, expired, other-run links and unauthenticated calls are refused; the
  e-mailed links, opened with GET / HEAD / redirects as a mail scanner would, decide nothing; the page
  they open (rendered in headless Chromium) names the run and stage, and its POST button resumes the run
  once;
- it pauses again at the sample, whose diff page (opened in headless Chromium, screenshot in
  the run folder) shows the flagged fields; Slack clicks with a bad signature or a stale
  timestamp are refused, a good click resumes the run, which then completes;
- a run rejected at the sample ends cleanly and leaves nothing of the sample in the
  destination; a run nobody answers ends cleanly and says why;
- no task token or secret appears in the logs, the state payloads, the reports or the run table;
- (a source whose pre-flight can block the full run: its tenant holds unsynced mobile data) the
  sample sign-off says the pre-flight blocks the full run, and approving it is the recorded override.

Parametrized over every (source, destination) pair.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from flitstack.runtime import LocalRuntime, local_environment
from shared.approvals import make_link
from tests.kits import SourceKit, kit
from tests.workflow.conftest import (
    CHROMIUM_FLAGS,
    PAIRS,
    api_view,
    api_wait,
    browse,
    chromium,
    dest_record_count,
    pair_id,
    s3_json,
)

pytestmark = pytest.mark.slow
RECORDS = 400
CURL = shutil.which("curl") or "curl"
#: Secret keys that hold identifiers or trust anchors, not credentials (they may appear in reports).
NOT_SECRET = {"ca_pem", "url", "username", "tenant_id", "client_id"}


class Harness:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.api = runtime.start_api()
        self.client = httpx.Client(base_url=self.api["url"], headers={"x-api-key": self.api["api_key"]}, timeout=60,
                                   trust_env=False)
        assert runtime.slack is not None
        self.slack = httpx.Client(base_url=runtime.slack.url, verify=runtime.slack.ca_path, timeout=60,
                                  trust_env=False)

    def start(self, run_id: str, **options: Any) -> None:
        ref = self.runtime.run_ref(run_id)
        body = {"run_id": run_id, "source": ref.source.model_dump(), "destination": ref.destination.model_dump(),
                "options": {"approval": "manual", "approvers": ["ops@example.com"], "batch_size": 500,
                            "sample_size": 120, **options}}
        started = self.client.post("/migrations", json=body)
        assert started.status_code == 202, started.text

    def view(self, run_id: str) -> dict[str, Any]:
        return api_view(self.client, run_id)

    def wait_state(self, run_id: str, done: Any, timeout_s: float = 240) -> dict[str, Any]:
        return api_wait(self.client, run_id, done, timeout_s)

    def wait_signoff(self, run_id: str, stage: str) -> dict[str, Any]:
        return self.wait_state(run_id, lambda v: v["state"] == "awaiting_approval"
                               and v["current_step"] == f"Awaiting {stage} sign-off")

    def mail(self, run_id: str, stage: str) -> dict[str, Any]:
        found = [m for m in self.runtime.outbox() if run_id in m["subject"]
                 and ("mapping" in m["subject"]) == (stage == "mapping")]
        assert found, f"no {stage} mail for {run_id}"
        return found[-1]

    def slack_messages(self, run_id: str) -> list[dict[str, Any]]:
        return [m for m in self.slack.get("/__standin/messages").json() if run_id in json.dumps(m)]

    def click(self, message_id: int, action: str, **forge: Any) -> dict[str, Any]:
        resp = self.slack.post("/__standin/click", json={"message_id": message_id, "action_id": action,
                                                         "user": {"id": "U1", "name": "dana"}, **forge})
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def link_keys(self) -> list[bytes]:
        assert self.runtime.engine is not None
        secret = self.runtime.engine.client("secretsmanager").get_secret_value(SecretId="flitstack/approvals")
        return [k.encode() for k in json.loads(secret["SecretString"])["link_keys"]]


def curl(url: str, *flags: str) -> tuple[int, str]:
    done = subprocess.run([CURL, "-sS", *flags, "-o", "-", "-w", "\n%{http_code}", url], capture_output=True,
                          text=True, timeout=60, check=True)
    body, _, code = done.stdout.rpartition("\n")
    return int(code), body


def tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


@pytest.fixture(scope="module", params=PAIRS, ids=pair_id)
def harness(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    source, destination = request.param
    folder: Path = tmp_path_factory.mktemp(f"signoff-{pair_id(request.param)}")
    local_environment(folder / "lambda.jsonl")
    source_kit: SourceKit = kit(source)
    with LocalRuntime(folder=folder, records=RECORDS, seed=5, with_slack=True, source=source,
                      destination=destination,
                      source_args=source_kit.local_args + (source_kit.blocking_args or [])) as rt:
        yield Harness(rt)


def test_rejected_sample_ends_cleanly_and_removes_the_sample(harness: Harness) -> None:
    run = "signoff-reject"
    harness.start(run)
    harness.wait_signoff(run, "mapping")
    approved = harness.client.post(f"/migrations/{run}/mapping/approve")
    assert approved.status_code == 200, approved.text
    harness.wait_signoff(run, "sample")
    assert dest_record_count(harness.runtime, run) > 0
    no_reason = harness.client.post(f"/migrations/{run}/reject", json={})
    assert no_reason.status_code == 400 and no_reason.json()["errors"][0]["field"] == "reason"
    rejected = harness.client.post(f"/migrations/{run}/reject", json={"reason": "stage mapping is wrong"})
    assert rejected.status_code == 200, rejected.text
    done = harness.wait_state(run, lambda v: v["execution_status"] != "RUNNING")
    assert done["execution_status"] == "SUCCEEDED" and done["state"] == "rejected", done
    ended = s3_json(harness.runtime, f"runs/{run}/reports/ended.json")
    assert "stage mapping is wrong" in ended["reason"] and ended["sample_removed"] is True
    assert dest_record_count(harness.runtime, run) == 0
    assert s3_json(harness.runtime, f"runs/{run}/reports/rollback.json")["passed"] is True


def test_unanswered_signoff_ends_the_run_and_says_why(harness: Harness) -> None:
    run = "signoff-timeout"
    harness.start(run, approval_timeout_s=3)
    done = harness.wait_state(run, lambda v: v["execution_status"] != "RUNNING")
    assert done["execution_status"] == "SUCCEEDED" and done["state"] == "approval_expired", done
    ended = s3_json(harness.runtime, f"runs/{run}/reports/ended.json")
    assert "nobody answered the mapping sign-off within 3 s" in ended["reason"]
    link = harness.mail(run, "mapping")["links"]["approve"]
    assert curl(link)[0] in (409, 410)
    assert dest_record_count(harness.runtime, run) == 0


def test_cli_outbox_lists_the_links(harness: Harness, tmp_path: Path) -> None:
    messages = harness.runtime.outbox()
    assert messages and all(m["links"]["approve"] and m["links"]["reject"] for m in messages)


def test_mapping_then_sample_signed_off_by_email_link_and_slack(harness: Harness) -> None:
    run = "signoff-ok"
    harness.start(run)
    harness.wait_signoff(run, "mapping")
    url = harness.api["url"]

    # management routes need the key; approval links and Slack callbacks verify their own signatures
    for method, path in [("GET", f"/migrations/{run}/mapping"), ("PUT", f"/migrations/{run}/mapping"),
                         ("POST", f"/migrations/{run}/approve"), ("POST", f"/migrations/{run}/reject")]:
        assert httpx.request(method, url + path, json={}, trust_env=False).status_code == 403

    # the proposed mapping, as a machine-readable spec; an edit is validated against both schemas
    mapping = harness.client.get(f"/migrations/{run}/mapping").json()
    assert mapping["sign_off"] == "awaiting_approval" and mapping["editable"]
    spec = mapping["spec"]
    broken = json.loads(json.dumps(spec))
    broken["mappings"][0]["fields"][0]["dest"] = "No_Such_Field__c"
    broken["mappings"][1]["source_object"] = "no_such_object"
    refused = harness.client.put(f"/migrations/{run}/mapping", json=broken)
    assert refused.status_code == 400
    fields = {e["field"] for e in refused.json()["errors"]}
    assert {"mappings[0].fields[0].dest", "mappings[1].source_object"} <= fields, refused.json()
    assert "allowed:" in refused.json()["message"]
    not_a_spec = harness.client.put(f"/migrations/{run}/mapping", json={"mappings": "x"})
    assert not_a_spec.status_code == 400 and not_a_spec.json()["errors"]
    edited = json.loads(json.dumps(spec))
    target = next(m for m in edited["mappings"] if m["fields"])
    target["description"] = "edited at sign-off"
    ok = harness.client.put(f"/migrations/{run}/mapping", json=edited)
    assert ok.status_code == 200, ok.text
    assert harness.client.get(f"/migrations/{run}/mapping").json()["edited"] is True

    mail = harness.mail(run, "mapping")
    assert mail["to"] == ["ops@example.com"]
    approve = mail["links"]["approve"]
    assert approve.startswith(url + "/approvals/")
    parts = urlsplit(approve)
    approval_id = parts.path.split("/")[2]
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    # forged: a changed signature, a changed expiry, a changed decision
    assert curl(tampered(approve, sig="A" * 43))[0] == 403
    assert curl(tampered(approve, exp=str(int(query["exp"]) + 3600)))[0] == 403
    assert curl(approve.replace("/approve?", "/reject?"))[0] == 403
    # expired: correctly signed, but past its expiry
    keys = harness.link_keys()
    old = make_link(url, keys, approval_id=approval_id, run_id=run, stage="mapping", decision="approve",
                    expires_at=int(time.time()) - 5)
    assert curl(old)[0] == 410
    # another run: correctly signed for "signoff-other", naming this run's approval
    other = make_link(url, keys, approval_id=approval_id, run_id="signoff-other", stage="mapping",
                      decision="approve", expires_at=int(time.time()) + 600)
    assert curl(other)[0] == 404
    assert harness.view(run)["state"] == "awaiting_approval"

    # every link of the mail opened as a mail scanner would (GET, HEAD, following redirects): the run still waits
    for link in mail["links"].values():
        assert link
        for flags in ([], ["-I"], ["-L"]):
            assert curl(link, *flags)[0] < 500
    status, page = curl(approve)
    assert status == 200 and run in page and "mapping" in page and "method='post'" in page
    time.sleep(2)
    assert harness.view(run)["state"] == "awaiting_approval"
    assert harness.view(run)["current_step"] == "Awaiting mapping sign-off"
    # the page, in a real browser, names the run and the stage and offers the two POST buttons
    check_confirmation_page(harness, approve, run, "mapping")
    # a POST from the page decides (its signed fields in the body); a replay is refused, the page says so
    form = page_form(page, "approve")
    assert set(form) == {"run", "stage", "exp", "sig"}
    posted = httpx.post(approve.split("?", 1)[0], data=form, trust_env=False, timeout=60)
    assert posted.status_code == 200 and "approved" in posted.text, posted.text
    assert httpx.post(approve.split("?", 1)[0], data=form, trust_env=False, timeout=60).status_code == 409
    assert curl(approve)[0] == 409
    # a form whose signed fields were altered decides nothing
    assert httpx.post(approve.split("?", 1)[0], data={**form, "stage": "sample"}, trust_env=False,
                      timeout=60).status_code == 403

    harness.wait_signoff(run, "sample")
    assert s3_json(harness.runtime, f"runs/{run}/spec.json")["mappings"][
        edited["mappings"].index(target)]["description"] == "edited at sign-off"
    diff = s3_json(harness.runtime, f"runs/{run}/reports/sample-diff.json")
    summary = diff["summary"]
    assert 20 <= summary["records"] <= 500 and summary["files"] >= 1
    assert {m["mapping"] for m in summary["mappings"]} == {m["name"] for m in spec["mappings"]}
    assert summary["flagged"] > 0
    check_diff_page(harness, run, diff)

    # Slack: the message carries buttons; forged and stale clicks are refused, a good one resumes
    messages = harness.slack_messages(run)
    sample_msg = next(m for m in messages if "sample" in m["text"])
    blocking = s3_json(harness.runtime, f"runs/{run}/reports/readiness.json")["blocking"]
    assert blocking == (kit(harness.runtime.source).blocking_args is not None)
    if blocking:  # the person sees what approving overrides
        assert "Pre-flight BLOCKS the full run" in json.dumps(sample_msg), sample_msg
    bad = harness.click(sample_msg["id"], "flitstack_approve", sign_with="not-the-signing-secret")
    assert bad["status"] == 401, bad
    stale = harness.click(sample_msg["id"], "flitstack_approve", timestamp_offset_s=-600)
    assert stale["status"] == 401, stale
    assert harness.view(run)["state"] == "awaiting_approval"
    good = harness.click(sample_msg["id"], "flitstack_approve")
    assert good["status"] == 200 and "approved by dana" in good["body"], good
    replay = harness.click(sample_msg["id"], "flitstack_approve")
    assert replay["status"] == 409

    done = harness.wait_state(run, lambda v: v["execution_status"] != "RUNNING", timeout_s=600)
    failed = [(r["mapping"], c) for r in s3_json(harness.runtime, f"runs/{run}/reports/reconciliation.json")["mappings"]
              for c in r.get("checks", []) if not c["passed"]] if done["state"] != "succeeded" else []
    assert done["state"] == "succeeded", failed[:5]
    if blocking:  # the approval of the sample was the override, recorded with who and how
        final = s3_json(harness.runtime, f"runs/{run}/reports/readiness.json")
        assert final["blocking"] and final["overridden"]["decided_by"] == "dana", final
    scan_for_secrets(harness, run)


def page_form(page: str, decision: str) -> dict[str, str]:
    """The hidden fields of the confirmation page's form for ``decision``."""
    section = page.split(f"id='{decision}-form'", 1)[1].split("</form>", 1)[0]
    return {k: html.unescape(v) for k, v in re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>", section)}


def check_confirmation_page(harness: Harness, url: str, run: str, stage: str) -> None:
    """Headless Chromium loads the link (a GET, as a person's browser would) and renders run, stage, buttons."""
    profile = harness.runtime.folder / "chromium"
    done = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert f'<span id="run">{run}</span>' in dom and f'<strong id="stage">{stage}</strong>' in dom, dom[:2000]
    for decision in ("approve", "reject"):
        assert re.search(rf'<form method="post" action="{decision}" id="{decision}-form"', dom), dom[:2000]
        assert f'data-effect="{decision}"' in dom
    assert "Nothing is decided until you press a button" in dom
    assert harness.view(run)["state"] == "awaiting_approval"


def check_diff_page(harness: Harness, run: str, diff: dict[str, Any]) -> None:
    reports = harness.runtime.download_reports(run, harness.runtime.folder / run / "reports")
    page = next(p for p in reports if p.name == "sample-diff.html")
    dom = browse(page, "--dump-dom", profile=harness.runtime.folder / "chromium")
    shown = _FlaggedRows()
    shown.feed(dom)
    flagged = {(r["source_id"], r["field"], " ".join(r["flags"])) for r in diff["rows"] if r["flags"]}
    assert flagged and flagged <= shown.rows
    kinds = {f for r in diff["rows"] for f in r["flags"]}
    assert kinds & {"truncated", "picklist_mismatch", "type_coerced", "lookup_failed"}, kinds
    shot = page.with_suffix(".png")
    browse(page, f"--screenshot={shot}", profile=harness.runtime.folder / "chromium")
    assert shot.stat().st_size > 10_000


class _FlaggedRows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: set[tuple[str, str, str]] = set()
        self.in_flagged = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and a.get("id") == "flagged-table":
            self.in_flagged = True
        elif tag == "tr" and self.in_flagged and a.get("data-flags"):
            self.rows.add((a["data-source-id"], a["data-field"], a["data-flags"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.in_flagged = False


def scan_for_secrets(harness: Harness, run: str) -> None:
    """No task token, link key, signing secret or connection credential anywhere people or tools read."""
    rt = harness.runtime
    assert rt.engine is not None and rt.engine.stack is not None
    approvals = rt.engine.client("dynamodb").scan(TableName=rt.engine.stack.tables["ApprovalsTable"])["Items"]
    tokens = [i["task_token"]["S"] for i in approvals if "task_token" in i]
    assert tokens, "the approvals table keeps the task tokens"
    sm = rt.engine.client("secretsmanager")
    needles = list(tokens)
    ref = rt.run_ref(run)
    for name in ("flitstack/approvals", ref.source.secret_name, ref.destination.secret_name):
        value = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
        needles += [v for k, v in value.items() if k not in NOT_SECRET and isinstance(v, str) and len(v) >= 12]
        needles += [k for v in value.values() if isinstance(v, list) for k in v]
    haystacks: dict[str, str] = {}
    for path in rt.folder.rglob("*"):
        if path.is_file() and path.suffix in {".jsonl", ".json", ".html", ".csv", ".md", ".log"}:
            haystacks[str(path)] = path.read_text(errors="replace")
    s3, bucket = rt.engine.client("s3"), rt.engine.stack.bucket
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"runs/{run}/"):
        for obj in page.get("Contents", []):
            haystacks["s3://" + obj["Key"]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode(
                errors="replace")
    sfn = rt.engine.client("stepfunctions")
    arn = harness.client.get(f"/migrations/{run}").json()
    execution = sfn.describe_execution(executionArn=next(
        e["executionArn"] for e in sfn.list_executions(stateMachineArn=rt.engine.stack.state_machine_arns[
            "MigrateStateMachine"])["executions"] if e["name"] == run))
    haystacks["execution output"] = str(execution.get("output"))
    for event in sfn.get_execution_history(executionArn=execution["executionArn"])["events"]:
        for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
            if key in event:
                haystacks[f"state {event[key].get('name')}"] = json.dumps(event[key])
    haystacks["GET /migrations"] = json.dumps(arn)
    haystacks["run table"] = json.dumps(rt.engine.client("dynamodb").get_item(
        TableName=rt.engine.stack.tables["RunsTable"], Key={"run_id": {"S": run}}).get("Item"))
    assert len(haystacks) > 20
    leaks = [(where, needle[:12] + "...") for needle in needles for where, text in haystacks.items() if needle in text]
    assert not leaks, leaks

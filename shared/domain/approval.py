"""Sign-offs: the run pauses (``.waitForTaskToken``) until a person approves or rejects.

Two stages, both only with ``options.approval == "manual"``:

- ``mapping``: after discovery, on the proposed mapping (``reports/mapping.md`` /
  ``mapping.json``; ``PUT /migrations/{id}/mapping`` edits it before approval);
- ``sample``: after the sample migration, on its field-level diff (``reports/sample-diff.html``).

:func:`request` runs in the waiting Task: it stores the task token in the approvals table
(never in a link, a message, a report or a log), mails signed, expiring, single-use
approve/reject links to the approvers (SES) and posts a message with Approve / Reject
buttons to Slack. :func:`decide` is the other half, called by the API for a link, a Slack
click or an operator (``POST /migrations/{id}/approve|reject``): it claims the approval once
and answers the task token. An unanswered request ends the run when the Task times out
(:func:`end_unapproved`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from shared import prescan_report
from shared.approvals import (
    ApprovalStore,
    ClaimedApproval,
    Decision,
    EmailMessageParts,
    Stage,
    approval_email,
    make_link,
    slack_message,
)
from shared.aws import Stores, now_iso
from shared.domain.keys import Keys
from shared.models import RunRef

REPORT_OF: dict[str, str] = {"mapping": "mapping.html", "sample": "sample-diff.html"}


class Notifier(Protocol):
    def send_email(self, to: list[str], message: EmailMessageParts) -> str: ...

    def post_slack(self, message: dict[str, Any]) -> bool: ...


class TaskAnswers(Protocol):
    """Step Functions' SendTaskSuccess (the API's adapter; a fake in unit tests)."""

    def succeed(self, task_token: str, output: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class LinkKeys:
    """The link-signing keys, newest first (verification accepts any, signing uses the first)."""

    keys: list[bytes]


def _prescan_lines(run: RunRef, stores: Stores) -> list[str]:
    """The data-quality pre-scan's findings (``preflight.json``), shown with the mapping sign-off."""
    key = Keys(run).report("preflight.json")
    return prescan_report.summary_lines(stores.blobs.get_json(key)) if stores.blobs.exists(key) else []


def _summary_lines(run: RunRef, stage: str, stores: Stores) -> list[str]:
    keys = Keys(run)
    if stage == "mapping":
        spec = stores.blobs.get_json(keys.spec)
        fields = sum(len(m.get("fields", [])) + len(m.get("lookups", [])) for m in spec["mappings"])
        return [f"{len(spec['mappings'])} object mappings, {fields} field and lookup rules",
                f"{len(spec.get('custom_fields', []))} custom fields and {len(spec.get('custom_objects', []))} "
                "custom objects to create in the destination",
                f"pair {run.pair}: {run.source.kind} -> {run.destination.kind}", *_prescan_lines(run, stores)]
    report = stores.blobs.get_json(keys.report("sample-diff.json"))["summary"]
    flags = ", ".join(f"{k} {v}" for k, v in report["by_flag"].items() if v) or "nothing flagged"
    lines = [f"{report['records']} sample records loaded and read back ({report['files']} with files)",
             f"{report['flagged']} of {report['fields']} fields flagged: {flags}"]
    ready = stores.blobs.get_json(keys.report("readiness.json")) if stores.blobs.exists(
        keys.report("readiness.json")) else {}
    if ready.get("blocking"):  # shared.domain.preflight: approving is the person's override
        lines.append(f"Pre-flight BLOCKS the full run: {ready.get('message')}. Approving overrides it.")
    return lines


def request(run: RunRef, stage: Stage, task_token: str, stores: Stores, approvals: ApprovalStore,
            notifier: Notifier, link_keys: LinkKeys, public_url: str, now: float | None = None) -> dict[str, Any]:
    """Open the approval and notify; returns what was sent (never the token or the links)."""
    now = time.time() if now is None else now
    expires = int(now) + run.options.approval_timeout_s
    approval_id = approvals.open(run.run_id, stage, task_token, expires, now)
    links = {d: make_link(public_url, link_keys.keys, approval_id=approval_id, run_id=run.run_id, stage=stage,
                          decision=d, expires_at=expires) for d in ("approve", "reject")}
    report_url = f"{public_url.rstrip('/')}/migrations/{run.run_id}/reports/{REPORT_OF[stage]}"
    lines = _summary_lines(run, stage, stores)
    sent: list[str] = []
    if run.options.approvers:
        notifier.send_email(run.options.approvers, approval_email(
            run_id=run.run_id, stage=stage, summary_lines=lines, approve_url=links["approve"],
            reject_url=links["reject"], report_url=report_url, expires_at=expires))
        sent.append("email")
    if notifier.post_slack(slack_message(run_id=run.run_id, stage=stage, summary_lines=lines,
                                         approval_id=approval_id, report_url=report_url, expires_at=expires)):
        sent.append("slack")
    stores.runs.update(run.run_id, status="awaiting_approval", step=f"Awaiting {stage} sign-off",
                       approval={"stage": stage, "status": "pending", "approval_id": approval_id,
                                 "requested_at": now_iso(), "expires_at": expires, "notified": sent})
    return {"stage": stage, "approval_id": approval_id, "expires_at": expires, "notified": sent}


def decide(approvals: ApprovalStore, answers: TaskAnswers, runs: Any, *, approval_id: str, run_id: str,
           decision: Decision, via: str, by: str, reason: str | None, now: float | None = None
           ) -> ClaimedApproval:
    """Claim the approval (once, unexpired, this run's) and answer the waiting task."""
    if decision == "reject" and not (reason or "").strip():
        reason = f"rejected by {by} ({via}) without a reason"
    claimed = approvals.claim(approval_id, run_id=run_id, decision=decision, via=via, by=by, reason=reason,
                              now=time.time() if now is None else now)
    answers.succeed(claimed.task_token, {"decision": decision, "stage": claimed.stage, "by": by, "via": via,
                                         "reason": claimed.reason or ""})
    runs.update(run_id, status="running" if decision == "approve" else "rejecting",
                approval={"stage": claimed.stage, "status": claimed.status, "approval_id": approval_id,
                          "decided_by": by, "decided_via": via, "reason": claimed.reason or "",
                          "decided_at": claimed.decided_at})
    return claimed


def end_unapproved(run: RunRef, stores: Stores, approvals: ApprovalStore, event: dict[str, Any]) -> dict[str, Any]:
    """The run ends without the full load: rejected (with the reason) or nobody answered in time."""
    stage = str(event.get("stage") or "")
    answer = event.get("answer") if isinstance(event.get("answer"), dict) else None
    error = event.get("error") if isinstance(event.get("error"), dict) else None
    if answer is not None:
        status = "rejected"
        why = f"{stage} rejected by {answer.get('by')} ({answer.get('via')}): {answer.get('reason') or 'no reason'}"
    else:
        status = "approval_expired"
        why = (f"nobody answered the {stage} sign-off within {run.options.approval_timeout_s} s"
               if error is None or error.get("Error") == "States.Timeout"
               else f"the {stage} sign-off failed: {error.get('Error')}")
        item = stores.runs.get(run.run_id) or {}
        pending: dict[str, Any] = item["approval"] if isinstance(item.get("approval"), dict) else {}
        if pending.get("approval_id"):
            approvals.expire(str(pending["approval_id"]), time.time())
    discarded = event.get("discarded") if isinstance(event.get("discarded"), dict) else None
    ending = {"status": status, "reason": why, "stage": stage, "at": now_iso(),
              "sample_removed": bool(discarded and discarded.get("passed", discarded.get("verified", True)))}
    stores.runs.update(run.run_id, status=status, step="Ended", ended=ending)
    stores.blobs.put_text(Keys(run).report("ended.json"), json.dumps(ending, indent=2), "application/json")
    return {"status": status, "reason": why}

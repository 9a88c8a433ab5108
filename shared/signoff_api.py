"""The sign-off routes of the HTTP API: read and edit the mapping, approve or reject a stage.

Operators (management routes, IAM / API key): ``GET|PUT /migrations/{id}/mapping``,
``POST /migrations/{id}/mapping/approve``, ``POST /migrations/{id}/approve|reject``.
Approvers (public routes, verified here): ``GET /approvals/{approval_id}/{decision}?...``
(a signed e-mail link: a confirmation page that decides nothing), ``POST /approvals/{approval_id}/{decision}``
(that page's button, the signed fields in the form body) and ``POST /slack/actions`` (a Slack button,
X-Slack-Signature).

Every decision goes through :func:`shared.domain.approval.decide`: one conditional claim,
then SendTaskSuccess. Nothing here logs or returns a task token, a key or a signature.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from pydantic import BaseModel, Field, model_validator

from shared.api import ApiError, InvalidRequest, RunConflict, RunNotFound
from shared.approvals import (
    DECISIONS,
    ApprovalRefused,
    ApprovalStore,
    ApprovalSummary,
    Decision,
    Stage,
    link_signature,
    parse_slack_action,
    verify_link,
    verify_slack_request,
)
from shared.aws import BlobStore
from shared.domain import approval
from shared.domain.keys import Keys
from shared.mapping.propose.apply import ProposalReport
from shared.mapping.propose.memory import edits, memory_key
from shared.mapping.propose.memory import load as load_memory
from shared.mapping.propose.report import proposals_markdown
from shared.mapping.spec import MigrationSpec
from shared.mapping.validate import parse_spec, validate_against
from shared.models import DestCatalog, RunRef, SourceCatalog, Strict, is_run_id
from shared.reports import mapping_html, mapping_markdown

MAX_REASON_CHARS = 500
"""Longest reason a decision may carry (it is stored and shown as given)."""


class DecisionRequest(Strict):
    """``POST /migrations/{id}/approve|reject`` body (optional for approve; a reject needs the reason)."""

    reason: str | None = Field(default=None, max_length=MAX_REASON_CHARS)


class DecisionView(BaseModel):
    id: str
    stage: str
    decision: str
    by: str
    via: str
    reason: str = ""


class MappingView(BaseModel):
    id: str
    sign_off: str
    editable: bool
    edited: bool
    spec: dict[str, Any]
    document: str


class MappingEdited(BaseModel):
    id: str
    sign_off: str
    edited: bool
    mappings: int


class MappingEdit(MigrationSpec):
    """``PUT /migrations/{id}/mapping`` body: a spec, or ``{"spec": ...}`` as ``GET …/mapping`` shows it."""

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        if isinstance(value, dict) and "spec" in value and "mappings" not in value:
            return value["spec"]
        return value


class SlackReply(BaseModel):
    replace_original: bool
    text: str


class Refused(ApiError):
    """An approval link or Slack request that must not move the run."""

    def __init__(self, refused: ApprovalRefused) -> None:
        super().__init__(refused.message)
        self.status = refused.http_status
        self.code = refused.reason


def _page(title: str, message: str, ok: bool) -> str:
    colour = "#2e7d32" if ok else "#c62828"
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>" + html.escape(title) +
            "</title></head><body style='font-family:system-ui,sans-serif;max-width:640px;margin:48px auto'>"
            f"<h1 style='color:{colour}'>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>")


#: What answering does, per stage and decision (shown on the confirmation page before anything is decided).
EFFECTS: dict[str, dict[str, str]] = {
    "mapping": {
        "approve": "The run goes on with this mapping: it creates the mapping's custom fields and objects in "
                   "{dest}, then loads a sample of records there and asks for a second sign-off on the sample.",
        "reject": "The run ends here. Nothing has been written to {dest}.",
    },
    "sample": {
        "approve": "The full migration starts: every record is loaded into {dest} (the sample records are "
                   "updated in place), then reconciled.",
        "reject": "The sample records are removed from {dest} and the run ends.",
    },
}
#: Headers of the approval pages: never cached (they carry signed fields), no referrer (the link's query
#: is a capability), never framed (clickjacking a button), forms post back to this origin only.
PAGE_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


def confirmation_page(*, run_id: str, stage: Stage, chosen: Decision, forms: Mapping[str, Mapping[str, str]],
                      destination: str | None, expires_at: int) -> str:
    """The page an e-mailed link opens: run, stage, what each answer does, and one POST form per answer.

    Each form posts to the relative URL of its decision (``approve`` / ``reject`` beside this page, so
    it works under any API stage prefix); the signed fields travel in the body, no cookie is set.
    """
    e = html.escape
    dest = destination or "the destination"
    until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires_at))
    buttons = []
    for decision in sorted(forms, key=lambda d: d != chosen):  # the clicked link's answer first
        hidden = "".join(f"<input type='hidden' name='{e(k)}' value='{e(v)}'>" for k, v in forms[decision].items())
        colour = "#2e7d32" if decision == "approve" else "#c62828"
        label = "Approve" if decision == "approve" else "Reject"
        effect = EFFECTS[stage][decision].format(dest=dest)
        buttons.append(
            f"<form method='post' action='{e(decision)}' id='{e(decision)}-form' style='margin:24px 0'>{hidden}"
            f"<p data-effect='{e(decision)}'>{e(effect)}</p>"
            f"<button type='submit' name='decision' value='{e(decision)}' style='background:{colour};color:#fff;"
            f"border:0;padding:10px 24px;font-size:16px;border-radius:4px'>{label} the {e(stage)}</button></form>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='robots' content='noindex'>"
            f"<title>Sign-off: run {e(run_id)}, {e(stage)}</title></head>"
            "<body style='font-family:system-ui,sans-serif;max-width:640px;margin:48px auto'>"
            f"<h1>Sign-off for run <span id='run'>{e(run_id)}</span></h1>"
            f"<p>Stage: <strong id='stage'>{e(stage)}</strong> (the {e(_STAGE_WHAT[stage])}). "
            f"Destination: {e(dest)}.</p>"
            "<p>Nothing is decided until you press a button below.</p>"
            + "".join(buttons) +
            f"<p><small>The answer can be given once, until {e(until)}.</small></p></body></html>")


_STAGE_WHAT: dict[str, str] = {"mapping": "proposed field mapping", "sample": "sample load and its field-level diff"}


class SignOffApi:
    def __init__(self, runs: Any, blobs: BlobStore, approvals: ApprovalStore, answers: approval.TaskAnswers,
                 link_keys: Callable[[], list[bytes]], slack_secret: Callable[[], str]) -> None:
        self.runs, self.blobs, self.approvals, self.answers = runs, blobs, approvals, answers
        self.link_keys, self.slack_secret = link_keys, slack_secret

    # --- helpers ---------------------------------------------------------------------------------
    def _run(self, run_id: str) -> tuple[RunRef, dict[str, Any]]:
        item = self.runs.get(run_id) if is_run_id(run_id) else None
        if not item or not isinstance(item.get("run"), dict):
            raise RunNotFound(f"no run {run_id!r}")
        return RunRef.model_validate(item["run"]), item

    def _pending(self, run_id: str, stage: str | None = None) -> str:
        """The approval the run waits for (the latest pending one), optionally only for ``stage``."""
        pending = self.approvals.pending_for(run_id, time.time())
        if not pending:
            raise RunConflict(f"run {run_id!r} is not waiting for a sign-off")
        latest = max(pending, key=lambda a: a["created_at"])
        if stage is not None and latest["stage"] != stage:
            raise RunConflict(f"run {run_id!r} is waiting for the {latest['stage']} sign-off, not the {stage} one")
        return latest["approval_id"]

    def _decide(self, approval_id: str, run_id: str, decision: Decision, via: str, by: str, reason: str | None
                ) -> dict[str, Any]:
        try:
            claimed = approval.decide(self.approvals, self.answers, self.runs, approval_id=approval_id, run_id=run_id,
                                      decision=decision, via=via, by=by, reason=reason)
        except ApprovalRefused as exc:
            raise Refused(exc) from exc
        return {"id": run_id, "stage": claimed.stage, "decision": decision, "by": by, "via": via,
                "reason": claimed.reason or ""}

    # --- mapping ---------------------------------------------------------------------------------
    def mapping(self, run_id: str) -> dict[str, Any]:
        run, item = self._run(run_id)
        keys = Keys(run)
        if not self.blobs.exists(keys.spec):
            raise RunConflict(f"run {run_id!r} has no proposed mapping yet (discovery has not finished)")
        pending = [a for a in self.approvals.pending_for(run_id, time.time()) if a["stage"] == "mapping"]
        recorded = item["approval"] if isinstance(item.get("approval"), dict) else {}
        if pending:
            state = "awaiting_approval"
        elif recorded.get("stage") == "mapping":  # its answer: approved, rejected or expired
            state = str(recorded.get("status"))
        else:  # the run is past the mapping (or never waited for it: approval "auto")
            state = "approved"
        return {"id": run_id, "sign_off": state, "editable": bool(pending),
                "edited": self.blobs.exists(keys.proposed_spec), "spec": self.blobs.get_json(keys.spec),
                "document": f"migrations/{run_id}/reports/mapping.html"}

    def put_mapping(self, run_id: str, body: Any) -> dict[str, Any]:
        run, _ = self._run(run_id)
        self._pending(run_id, "mapping")
        keys = Keys(run)
        if isinstance(body, dict) and "spec" in body and "mappings" not in body:
            body = body["spec"]
        spec, errors = parse_spec(body)
        if spec is None:
            raise InvalidRequest(errors)
        proposed = MigrationSpec.model_validate(
            self.blobs.get_json(keys.proposed_spec if self.blobs.exists(keys.proposed_spec) else keys.spec))
        source = SourceCatalog.model_validate(self.blobs.get_json(keys.source_catalog))
        dest = DestCatalog.model_validate(self.blobs.get_json(keys.dest_catalog))
        errors = validate_against(spec, source, dest, proposed)
        if errors:
            raise InvalidRequest(errors)
        if not self.blobs.exists(keys.proposed_spec):
            self.blobs.put_json(keys.proposed_spec, proposed.model_dump())
        self.blobs.put_json(keys.spec, spec.model_dump())
        self.blobs.put_json(keys.report("mapping.json"), spec.model_dump())
        document = mapping_markdown(spec, source, dest)
        if self.blobs.exists(keys.report("proposals.json")):  # what discovery proposed stays on the page
            document += "\n" + proposals_markdown(ProposalReport.model_validate(
                self.blobs.get_json(keys.report("proposals.json"))))
        self.blobs.put_text(keys.report("mapping.md"), document, "text/markdown; charset=utf-8")
        self.blobs.put_text(keys.report("mapping.html"), mapping_html(document, f"Mapping {run_id}"),
                            "text/html; charset=utf-8")
        # what the person changed is proposed first for this tenant's next run (shared.mapping.propose.memory)
        at = memory_key(run.pair, source.tenant)
        previous = load_memory(self.blobs.get_json(at) if self.blobs.exists(at) else None)
        self.blobs.put_json(at, edits(proposed, spec, source, run_id, previous).model_dump())
        self.runs.update(run_id, mapping_edited_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        return {"id": run_id, "sign_off": "awaiting_approval", "edited": True, "mappings": len(spec.mappings)}

    # --- operator decisions ----------------------------------------------------------------------
    def operator_decision(self, run_id: str, decision: Decision, by: str, body: Any, stage: str | None = None
                          ) -> dict[str, Any]:
        self._run(run_id)
        reason = None
        if isinstance(body, Mapping):
            unknown = sorted(set(body) - {"reason"})
            if unknown:
                raise InvalidRequest([{"field": k, "message": "unknown field; allowed: reason"} for k in unknown])
            if body.get("reason") is not None and not isinstance(body.get("reason"), str):
                raise InvalidRequest([{"field": "reason", "message": "must be a string"}])
            reason = cast(str | None, body.get("reason"))
        elif body is not None:
            raise InvalidRequest([{"field": "body", "message": "must be a JSON object like {\"reason\": \"...\"}"}])
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise InvalidRequest([{"field": "reason",
                                   "message": f"{len(reason)} characters; at most {MAX_REASON_CHARS} are allowed"}])
        if decision == "reject" and not (reason or "").strip():
            raise InvalidRequest([{"field": "reason", "message": "a rejection needs a reason"}])
        return self._decide(self._pending(run_id, stage), run_id, decision, "api", by, reason)

    # --- approvers ---------------------------------------------------------------------------------
    def confirm_page(self, approval_id: str, decision: str, query: Mapping[str, str]) -> tuple[int, str]:
        """``GET`` of an e-mailed link: verify it and show what answering does, with two ``POST`` buttons.

        Decides nothing (mail scanners open every link with ``GET``/``HEAD``): the page names the run,
        the stage and the effect of each answer; each button posts the signed fields of its decision
        (the other decision's signature is minted here for the same approval and expiry).
        """
        run, stage, exp = query.get("run") or "", query.get("stage") or "", query.get("exp") or ""
        try:
            if decision not in DECISIONS:
                raise ApprovalRefused("forged", "the link names no decision")
            verify_link(self.link_keys(), approval_id=approval_id, decision=decision, run=run,
                        stage=query.get("stage"), exp=query.get("exp"), sig=query.get("sig"), now=time.time())
            state = self._approval_state(approval_id, run)
        except ApprovalRefused as exc:
            return exc.http_status, _page("This link cannot be used", exc.message, False)
        stage_ = cast(Stage, stage)
        forms: dict[str, dict[str, str]] = {
            d: {"run": run, "stage": stage, "exp": exp,
                "sig": link_signature(self.link_keys(), approval_id=approval_id, run_id=run, stage=stage_, decision=d,
                                      expires_at=int(exp))}
            for d in DECISIONS}
        return 200, confirmation_page(run_id=run, stage=stage_, chosen=decision, forms=forms,
                                      destination=self._destination_label(run), expires_at=state["expires_at"])

    def link_decision(self, approval_id: str, decision: str, form: Mapping[str, str]) -> tuple[int, str]:
        """``POST`` from the confirmation page: verify the signed fields in the body, then decide (once)."""
        run = form.get("run") or ""
        try:
            if decision not in DECISIONS:
                raise ApprovalRefused("forged", "the form names no decision")
            verify_link(self.link_keys(), approval_id=approval_id, decision=decision, run=run,
                        stage=form.get("stage"), exp=form.get("exp"), sig=form.get("sig"), now=time.time())
            # The signature covers run, stage, decision and expiry only: a ``reason`` added to the form
            # is nobody's word, so it is not taken (give a reason with `flitstack reject` or the API).
            result = self._decide(approval_id, run, decision, "email", "e-mail link",
                                  "rejected with the e-mail link" if decision == "reject" else None)
        except Refused as exc:
            return exc.status, _page("This answer cannot be taken", exc.message, False)
        except ApprovalRefused as exc:
            return exc.http_status, _page("This answer cannot be taken", exc.message, False)
        verb, effect = ("approved", "the migration continues") if decision == "approve" else ("rejected",
                                                                                            "the run ends")
        return 200, _page(f"Run {run}: {result['stage']} {verb}", f"The {result['stage']} is {verb}: {effect}.", True)

    def _approval_state(self, approval_id: str, run_id: str) -> ApprovalSummary:
        """The approval a verified link names, still pending; else the refusal a claim would give."""
        found = next((a for a in self.approvals.approvals_of(run_id) if a["approval_id"] == approval_id), None)
        if found is None:
            raise ApprovalRefused("unknown", "no such approval for this run")
        if found["status"] in ("approved", "rejected"):
            raise ApprovalRefused("already_decided", f"this approval was already {found['status']}")
        if found["status"] == "expired" or found["expires_at"] <= time.time():
            raise ApprovalRefused("expired", "this approval has expired")
        return found

    def _destination_label(self, run_id: str) -> str | None:
        item = self.runs.get(run_id) if is_run_id(run_id) else None
        run = item.get("run") if isinstance(item, dict) else None
        destination = run.get("destination") if isinstance(run, dict) else None
        return str(destination.get("kind")) if isinstance(destination, dict) and destination.get("kind") else None

    def slack(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            verify_slack_request(self.slack_secret(), timestamp=lower.get("x-slack-request-timestamp", ""),
                                 body=body, signature=lower.get("x-slack-signature", ""), now=time.time())
            action = parse_slack_action(body)
        except ApprovalRefused as exc:
            raise Refused(exc) from exc
        result = self._decide(action.approval_id, action.run_id, action.decision, "slack", action.user_name,
                              None if action.decision == "approve" else f"rejected in Slack by {action.user_name}")
        verb = "approved" if action.decision == "approve" else "rejected"
        return {"replace_original": True,
                "text": f"Run {action.run_id}: the {result['stage']} was {verb} by {action.user_name}."}

"""The sign-off routes of the HTTP API: read and edit the mapping, approve or reject a stage.

Operators (management routes, IAM / API key): ``GET|PUT /migrations/{id}/mapping``,
``POST /migrations/{id}/mapping/approve``, ``POST /migrations/{id}/approve|reject``.
Approvers (public routes, verified here): ``GET /approvals/{approval_id}/{decision}?...``
(a signed e-mail link) and ``POST /slack/actions`` (a Slack button, X-Slack-Signature).

Every decision goes through :func:`shared.domain.approval.decide`: one conditional claim,
then SendTaskSuccess. Nothing here logs or returns a task token, a key or a signature.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from shared.api import ApiError, InvalidRequest, RunConflict, RunNotFound
from shared.approvals import (
    ApprovalRefused,
    ApprovalStore,
    Decision,
    parse_slack_action,
    verify_link,
    verify_slack_request,
)
from shared.aws import BlobStore
from shared.domain import approval
from shared.domain.keys import Keys
from shared.mapping.spec import MigrationSpec
from shared.mapping.validate import parse_spec, validate_against
from shared.models import DestCatalog, RunRef, SourceCatalog, is_run_id
from shared.reports import mapping_html, mapping_markdown

MAX_REASON_CHARS = 500
"""Longest reason a decision may carry (it is stored and shown as given)."""

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
        self.blobs.put_text(keys.report("mapping.md"), document, "text/markdown; charset=utf-8")
        self.blobs.put_text(keys.report("mapping.html"), mapping_html(document, f"Mapping {run_id}"),
                            "text/html; charset=utf-8")
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

    # --- approvers -------------------------------------------------------------------------------
    def link(self, approval_id: str, decision: str, query: Mapping[str, str]) -> tuple[int, str]:
        """An approve/reject link from the e-mail: verify, decide, answer with a small page."""
        run = query.get("run") or ""
        try:
            if decision not in ("approve", "reject"):
                raise ApprovalRefused("forged", "the link names no decision")
            verify_link(self.link_keys(), approval_id=approval_id, decision=decision, run=run,
                        stage=query.get("stage"), exp=query.get("exp"), sig=query.get("sig"), now=time.time())
            # The signature covers run, stage, decision and expiry only: a ``reason`` appended to the link
            # is nobody's word, so it is not taken (give a reason with `flitstack reject` or the API).
            result = self._decide(approval_id, run, cast(Decision, decision), "email", "e-mail link",
                                  "rejected with the e-mail link" if decision == "reject" else None)
        except Refused as exc:
            return exc.status, _page("This link cannot be used", exc.message, False)
        except ApprovalRefused as exc:
            return exc.http_status, _page("This link cannot be used", exc.message, False)
        verb, effect = ("approved", "the migration continues") if decision == "approve" else ("rejected",
                                                                                            "the run ends")
        return 200, _page(f"Run {run}: {result['stage']} {verb}", f"The {result['stage']} is {verb}: {effect}.", True)

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

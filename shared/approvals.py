"""Human approval steps: signed email links, Slack request checks, messages, and the approval store.

A run that needs a person's sign-off pauses in a ``.waitForTaskToken`` state. The state's
Lambda calls :meth:`ApprovalStore.open`, which keeps the Step Functions task token in
DynamoDB under a fresh random ``approval_id``; only that id travels to people — in signed
email links (:func:`make_link`) and in the values of Slack buttons (:func:`slack_message`).
The token itself never leaves the store except through :class:`ClaimedApproval`, the result
of the one conditional write (:meth:`ApprovalStore.claim`) that turns a click into a
decision. Guarantees:

* A link cannot be altered: every part of it (approval id, run, stage, decision, expiry) is
  covered by an HMAC-SHA256 over a canonical, versioned encoding; checking is constant-time
  and accepts any key of a rotation list (signing uses the first).
* A Slack callback is believed only when Slack's ``v0`` signature over the raw body matches
  the app's signing secret and its timestamp is within five minutes of now.
* A decision is taken exactly once: ``claim`` is a single conditional ``UpdateItem``
  (``status = pending AND run_id = :run AND expires_at > :now``), so of two concurrent
  clicks one wins and the other is refused with ``already_decided``.

Every refusal is an :class:`ApprovalRefused` with a stable ``reason`` code the API maps to
an HTTP status (:attr:`ApprovalRefused.http_status`); messages never carry a token or key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypedDict, get_args
from urllib.parse import parse_qs, quote, urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import FlitStackError
from shared.models import is_run_id

Stage = Literal["mapping", "sample"]
Decision = Literal["approve", "reject"]
Status = Literal["pending", "approved", "rejected", "expired"]
RefusalReason = Literal[
    "forged",  # a link's signature is missing, malformed or does not match its fields
    "expired",  # the link or the approval is past its expiry (or was expired by the workflow)
    "bad_signature",  # a Slack request whose X-Slack-Signature does not match the body
    "stale_timestamp",  # a Slack request whose timestamp is more than the tolerance from now
    "malformed",  # a Slack interaction payload that is not a FlitStack block_actions click
    "unknown",  # no approval has this id
    "other_run",  # the approval exists but belongs to a different run
    "already_decided",  # the approval was approved or rejected before (a replay or a second click)
]

STAGES: tuple[Stage, ...] = get_args(Stage)
DECISIONS: tuple[Decision, ...] = get_args(Decision)

#: Version tag inside the signed string; bump it when the canonical encoding changes.
LINK_SIGNATURE_VERSION = "flitstack-approval-link/v1"
#: HMAC-SHA256 keys shorter than the hash are refused (a configuration error, not a refusal).
MIN_KEY_BYTES = 32
#: Slack's documented replay window for ``X-Slack-Request-Timestamp``.
SLACK_TOLERANCE_S = 300
SLACK_SIGNATURE_VERSION = "v0"
APPROVE_ACTION_ID = "flitstack_approve"
REJECT_ACTION_ID = "flitstack_reject"
ACTION_DECISIONS: dict[str, Decision] = {APPROVE_ACTION_ID: "approve", REJECT_ACTION_ID: "reject"}
#: Decided and expired approvals stay readable (audit, "who approved?") this long after expiry.
TTL_RETENTION_S = 30 * 24 * 3600
#: ``approval_id`` of the per-run pointer item that lists the run's approval ids.
RUN_POINTER_PREFIX = "run#"

_HTTP_STATUS: dict[str, int] = {
    "forged": 403,
    "expired": 410,
    "bad_signature": 401,
    "stale_timestamp": 401,
    "malformed": 400,
    "unknown": 404,
    "other_run": 404,  # same as unknown on purpose: a guessed id reveals nothing about other runs
    "already_decided": 409,
}


class ApprovalRefused(FlitStackError):
    """A link, a Slack request or a claim that must not move the run; ``reason`` says why.

    The message is safe to show to the person who clicked: it never contains a task token,
    a key or a signature.
    """

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: RefusalReason = reason
        self.message = message

    @property
    def http_status(self) -> int:
        """The status an HTTP edge should answer with (404 for ``other_run``, like ``unknown``)."""
        return _HTTP_STATUS[self.reason]


# --- signed links ---------------------------------------------------------------------------------
def _key_list(keys: bytes | Sequence[bytes]) -> list[bytes]:
    listed = [keys] if isinstance(keys, bytes | bytearray) else list(keys)
    if not listed:
        raise ValueError("no link-signing key configured")
    for key in listed:
        if not isinstance(key, bytes | bytearray) or len(key) < MIN_KEY_BYTES:
            raise ValueError(f"link-signing keys must be bytes of at least {MIN_KEY_BYTES} bytes")
    return [bytes(k) for k in listed]


def _canonical(approval_id: str, run_id: str, stage: str, decision: str, expires_at: int) -> bytes:
    """A JSON array: unambiguous whatever characters the fields hold (no separator can be smuggled)."""
    parts = [LINK_SIGNATURE_VERSION, approval_id, run_id, stage, decision, str(expires_at)]
    return json.dumps(parts, ensure_ascii=True, separators=(",", ":")).encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _link_sig(key: bytes, approval_id: str, run_id: str, stage: str, decision: str, expires_at: int) -> str:
    return _b64(hmac.new(key, _canonical(approval_id, run_id, stage, decision, expires_at), hashlib.sha256).digest())


def link_signature(key: bytes | Sequence[bytes], *, approval_id: str, run_id: str, stage: Stage, decision: Decision,
                   expires_at: int) -> str:
    """The ``sig`` a link (or the confirmation page's form) carries for these fields, with the first key.

    The confirmation page of a verified link signs the *other* decision of the same approval with the
    same expiry, so its Reject button works from the Approve link and vice versa: both links went to
    the same approvers, and the claim stays single-use whichever is posted.
    """
    if stage not in STAGES or decision not in DECISIONS:
        raise ValueError(f"stage must be one of {STAGES} and decision one of {DECISIONS}")
    return _link_sig(_key_list(key)[0], approval_id, run_id, stage, decision, int(expires_at))


def make_link(
    base_url: str,
    key: bytes | Sequence[bytes],
    *,
    approval_id: str,
    run_id: str,
    stage: Stage,
    decision: Decision,
    expires_at: int,
) -> str:
    """``{base_url}/approvals/{approval_id}/{decision}?run=..&stage=..&exp=..&sig=..``, signed with the first key.

    The link names the approval, never the task token: a leaked link can at most cast the one
    decision it names, once, before ``expires_at`` (epoch seconds).
    """
    if stage not in STAGES or decision not in DECISIONS:
        raise ValueError(f"stage must be one of {STAGES} and decision one of {DECISIONS}")
    if not is_run_id(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    sig = _link_sig(_key_list(key)[0], approval_id, run_id, stage, decision, int(expires_at))
    query = urlencode({"run": run_id, "stage": stage, "exp": int(expires_at), "sig": sig})
    return f"{base_url.rstrip('/')}/approvals/{quote(approval_id, safe='')}/{decision}?{query}"


def verify_link(
    keys: bytes | Sequence[bytes],
    *,
    approval_id: str,
    decision: str,
    run: str | None,
    stage: str | None,
    exp: str | int | None,
    sig: str | None,
    now: float,
) -> None:
    """Accept a link's fields (as read from its path and query) or raise :class:`ApprovalRefused`.

    ``forged`` when the signature is missing or matches none of ``keys`` over these exact
    fields (any tampered field lands here); ``expired`` when a correctly signed link is past
    ``exp``. The signature is checked first, so an altered ``exp`` reads as forged, not expired.
    """
    key_list = _key_list(keys)
    if not sig or run is None or stage is None or exp is None:
        raise ApprovalRefused("forged", "the link is incomplete")
    try:
        expires_at = int(exp)
    except (TypeError, ValueError):
        raise ApprovalRefused("forged", "the link is not a valid approval link") from None
    if str(exp) != str(expires_at):  # " 17", "+17", "017": one meaning, one spelling
        raise ApprovalRefused("forged", "the link is not a valid approval link")
    given = sig.encode("utf-8", "replace")
    matched = False
    for key in key_list:  # no early exit: the time taken does not depend on which key matched
        expected = _link_sig(key, approval_id, run, stage, decision, expires_at).encode()
        matched |= hmac.compare_digest(expected, given)
    if not matched or stage not in STAGES or decision not in DECISIONS:
        raise ApprovalRefused("forged", "the link's signature does not match it")
    if now >= expires_at:
        raise ApprovalRefused("expired", f"the link expired at {_iso(expires_at)}")


# --- Slack request signing ------------------------------------------------------------------------
def sign_slack_request(signing_secret: str, timestamp: str | int, body: bytes) -> str:
    """``v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">``, as Slack sends in ``X-Slack-Signature``."""
    if not signing_secret:
        raise ValueError("empty Slack signing secret")
    base = f"{SLACK_SIGNATURE_VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"{SLACK_SIGNATURE_VERSION}={digest}"


def verify_slack_request(
    signing_secret: str,
    *,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    now: float,
    tolerance_s: int = SLACK_TOLERANCE_S,
) -> None:
    """Accept a request from Slack or raise :class:`ApprovalRefused` (Slack's documented scheme).

    ``body`` must be the raw bytes received, before any form or JSON parsing.
    ``stale_timestamp`` when ``X-Slack-Request-Timestamp`` is more than ``tolerance_s`` from
    ``now`` in either direction (a replayed capture, or a forged future stamp);
    ``bad_signature`` when either header is missing or malformed or the HMAC differs.
    """
    if not timestamp or not signature:
        raise ApprovalRefused("bad_signature", "the request is not signed by Slack")
    try:
        stamp = int(timestamp)
    except ValueError:
        raise ApprovalRefused("bad_signature", "the request's Slack timestamp is not a number") from None
    if abs(now - stamp) > tolerance_s:
        raise ApprovalRefused("stale_timestamp", f"the request's Slack timestamp is more than {tolerance_s}s off")
    expected = sign_slack_request(signing_secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise ApprovalRefused("bad_signature", "the request's Slack signature does not match")


# --- messages -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EmailMessageParts:
    """What SES needs for one approval email (subject, plain text and HTML bodies)."""

    subject: str
    text: str
    html: str


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _one_line(text: str) -> str:
    """No CR/LF in a header value (an email subject is one)."""
    return " ".join(text.split())


_STAGE_TITLE: dict[str, str] = {"mapping": "the proposed field mapping", "sample": "the sample load"}


def approval_email(
    *,
    run_id: str,
    stage: Stage,
    summary_lines: list[str],
    approve_url: str,
    reject_url: str,
    report_url: str | None,
    expires_at: int,
) -> EmailMessageParts:
    """The approval request email; every interpolated value is HTML-escaped in the HTML part."""
    what = _STAGE_TITLE.get(stage, stage)
    subject = _one_line(f"[FlitStack] Approve {what} for run {run_id}")
    until = _iso(expires_at)
    text_lines = [
        f"Run {run_id} is waiting for your approval of {what}.",
        "",
        *summary_lines,
        "",
        f"Approve: {approve_url}",
        f"Reject:  {reject_url}",
    ]
    if report_url:
        text_lines.append(f"Report:  {report_url}")
    text_lines += ["", f"Each link opens a page where you confirm with a button; the links work once and "
                   f"expire at {until}."]
    e = html.escape
    items = "".join(f"<li>{e(line)}</li>" for line in summary_lines)
    report = f'<p><a href="{e(report_url)}">Open the report</a></p>' if report_url else ""
    body = (
        "<!DOCTYPE html><html><body>"
        f"<p>Run <strong>{e(run_id)}</strong> is waiting for your approval of {e(what)}.</p>"
        f"<ul>{items}</ul>{report}"
        f'<p><a href="{e(approve_url)}">Approve</a> &nbsp;|&nbsp; <a href="{e(reject_url)}">Reject</a></p>'
        f"<p><small>Each link opens a page where you confirm with a button; the links work once and expire at "
        f"{e(until)}.</small></p>"
        "</body></html>"
    )
    return EmailMessageParts(subject=subject, text="\n".join(text_lines) + "\n", html=body)


def slack_escape(text: str) -> str:
    """Slack's mrkdwn escaping: ``&``, ``<`` and ``>`` only (anything else is literal)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def button_value(*, approval_id: str, run_id: str, stage: Stage) -> str:
    """What a button carries back to us: the approval's id, run and stage — never the task token."""
    return json.dumps({"approval_id": approval_id, "run_id": run_id, "stage": stage})


def slack_message(
    *,
    run_id: str,
    stage: Stage,
    summary_lines: list[str],
    approval_id: str,
    report_url: str | None,
    expires_at: int,
) -> dict[str, Any]:
    """An incoming-webhook body: fallback ``text`` + Block Kit (section, context, Approve/Reject actions)."""
    what = _STAGE_TITLE.get(stage, stage)
    summary = "\n".join(f"• {slack_escape(line)}" for line in summary_lines)
    headline = f"*Run `{slack_escape(run_id)}` is waiting for approval of {what}.*"
    if report_url:
        headline += f"  <{slack_escape(report_url)}|Open the report>"
    value = button_value(approval_id=approval_id, run_id=run_id, stage=stage)
    return {
        "text": f"FlitStack run {run_id}: approval needed for {what}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{headline}\n{summary}".rstrip()}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Expires {_iso(expires_at)}"}]},
            {
                "type": "actions",
                "block_id": f"flitstack_approval_{stage}",
                "elements": [
                    {"type": "button", "action_id": APPROVE_ACTION_ID, "style": "primary", "value": value,
                     "text": {"type": "plain_text", "text": "Approve"}},
                    {"type": "button", "action_id": REJECT_ACTION_ID, "style": "danger", "value": value,
                     "text": {"type": "plain_text", "text": "Reject"},
                     "confirm": {"title": {"type": "plain_text", "text": "Reject this run?"},
                                 "text": {"type": "plain_text", "text": f"Run {run_id} will stop at {stage}."},
                                 "confirm": {"type": "plain_text", "text": "Reject"},
                                 "deny": {"type": "plain_text", "text": "Cancel"}}},
                ],
            },
        ],
    }


# --- Slack interaction payloads -------------------------------------------------------------------
class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _SlackUser(_Loose):
    id: str = Field(min_length=1)
    username: str | None = None
    name: str | None = None


class _SlackButton(_Loose):
    action_id: str
    value: str | None = None


class _BlockActions(_Loose):
    type: Literal["block_actions"]
    user: _SlackUser
    actions: list[_SlackButton] = Field(min_length=1)
    response_url: str | None = None


class _ButtonValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approval_id: str = Field(min_length=1, max_length=200)
    run_id: str
    stage: Stage


@dataclass(frozen=True)
class SlackAction:
    """One Approve/Reject click, as parsed from a verified ``block_actions`` request."""

    approval_id: str
    run_id: str
    stage: Stage
    decision: Decision
    user_id: str
    user_name: str
    response_url: str | None


def parse_slack_action(form_body: bytes) -> SlackAction:
    """The click in a ``payload=<json>`` form body, or ``ApprovalRefused("malformed")``.

    Call it only after :func:`verify_slack_request` accepted the same bytes. The first action
    whose ``action_id`` is one of ours is taken; its value must be the JSON
    :func:`button_value` wrote.
    """
    try:
        fields = parse_qs(form_body.decode("utf-8"), strict_parsing=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise ApprovalRefused("malformed", "the request body is not a Slack form post") from None
    payloads = fields.get("payload", [])
    if len(payloads) != 1:
        raise ApprovalRefused("malformed", "the request carries no single Slack payload")
    try:
        event = _BlockActions.model_validate_json(payloads[0])
        ours = next((a for a in event.actions if a.action_id in ACTION_DECISIONS), None)
        if ours is None or ours.value is None:
            raise ApprovalRefused("malformed", "the payload has no FlitStack approval action")
        value = _ButtonValue.model_validate_json(ours.value)
    except ValidationError:
        raise ApprovalRefused("malformed", "the payload is not a FlitStack block_actions click") from None
    if not is_run_id(value.run_id):
        raise ApprovalRefused("malformed", "the button names no valid run")
    if event.response_url is not None and not event.response_url.startswith("https://"):
        raise ApprovalRefused("malformed", "the payload's response_url is not https")
    return SlackAction(
        approval_id=value.approval_id,
        run_id=value.run_id,
        stage=value.stage,
        decision=ACTION_DECISIONS[ours.action_id],
        user_id=event.user.id,
        user_name=event.user.username or event.user.name or event.user.id,
        response_url=event.response_url,
    )


# --- the approval store ---------------------------------------------------------------------------
class ApprovalSummary(TypedDict):
    """What :meth:`ApprovalStore.pending_for` lists (for ``flitstack approve RUN``); no task token."""

    approval_id: str
    run_id: str
    stage: Stage
    status: Status
    created_at: int
    expires_at: int


@dataclass(frozen=True)
class ClaimedApproval:
    """The winner of :meth:`ApprovalStore.claim`: what the caller needs to resume the workflow.

    ``task_token`` is the only way the token leaves the store; it is left out of ``repr`` so a
    logged claim still carries no token.
    """

    approval_id: str
    run_id: str
    stage: Stage
    decision: Decision
    status: Status
    via: str
    by: str
    reason: str | None
    decided_at: int
    task_token: str = field(repr=False)


_DECIDED: dict[Decision, Status] = {"approve": "approved", "reject": "rejected"}


class ApprovalStore:
    """Approvals in one DynamoDB table keyed by ``approval_id`` (S).

    Two kinds of items share the table:

    * an approval, ``approval_id = <random>``: ``run_id``, ``stage``, ``status``, ``task_token``,
      ``created_at``, ``expires_at``, ``ttl`` and, once decided, ``decision``, ``decided_*``;
    * a run pointer, ``approval_id = "run#<run_id>"``: ``ids``, the string set of the run's
      approval ids. :meth:`pending_for` reads the pointer and then the approvals it names, so
      listing a run's approvals needs neither a scan nor a secondary index. The pointer and
      the approval are written in one transaction by :meth:`open`.

    ``ttl`` (epoch seconds) is ``expires_at`` + :data:`TTL_RETENTION_S`; enable DynamoDB TTL
    on that attribute to have old items removed.
    """

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table = table_name
        self._ddb = client

    @property
    def ddb(self) -> Any:
        if self._ddb is None:  # built on first use, shared per process; AWS_ENDPOINT_URL points it at moto locally
            from shared.aws import _client  # noqa: PLC0415 - boto3 only once a store is really used

            self._ddb = _client("dynamodb")
        return self._ddb

    def __repr__(self) -> str:
        return f"ApprovalStore(table={self.table!r})"

    def open(self, run_id: str, stage: Stage, task_token: str, expires_at: int, now: float) -> str:
        """Keep ``task_token`` under a new random id (256 bits, URL-safe); the approval is ``pending``."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}")
        if not is_run_id(run_id):
            raise ValueError(f"not a run id: {run_id!r}")
        if not task_token:
            raise ValueError("empty task token")
        if expires_at <= now:
            raise ValueError("expires_at must be in the future")
        approval_id = secrets.token_urlsafe(32)
        ttl = str(int(expires_at) + TTL_RETENTION_S)
        item = {
            "approval_id": {"S": approval_id},
            "run_id": {"S": run_id},
            "stage": {"S": stage},
            "status": {"S": "pending"},
            "task_token": {"S": task_token},
            "created_at": {"N": str(int(now))},
            "expires_at": {"N": str(int(expires_at))},
            "ttl": {"N": ttl},
        }
        self.ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": self.table, "Item": item,
                     "ConditionExpression": "attribute_not_exists(approval_id)"}},
            {"Update": {
                "TableName": self.table,
                "Key": {"approval_id": {"S": RUN_POINTER_PREFIX + run_id}},
                "UpdateExpression": "ADD #ids :id SET run_id = :run, #ttl = :ttl",
                "ExpressionAttributeNames": {"#ids": "ids", "#ttl": "ttl"},
                "ExpressionAttributeValues": {":id": {"SS": [approval_id]}, ":run": {"S": run_id},
                                              ":ttl": {"N": ttl}},
            }},
        ])
        return approval_id

    def approvals_of(self, run_id: str) -> list[ApprovalSummary]:
        """Every approval the run opened (any status), oldest first; no task tokens."""
        pointer = self.ddb.get_item(TableName=self.table, Key={"approval_id": {"S": RUN_POINTER_PREFIX + run_id}},
                                    ConsistentRead=True).get("Item")
        ids = sorted(pointer["ids"]["SS"]) if pointer and "ids" in pointer else []
        found: list[ApprovalSummary] = []
        for start in range(0, len(ids), 100):
            request: dict[str, Any] = {self.table: {
                "Keys": [{"approval_id": {"S": i}} for i in ids[start:start + 100]],
                "ProjectionExpression": "approval_id, run_id, stage, #status, created_at, expires_at",
                "ExpressionAttributeNames": {"#status": "status"},
                "ConsistentRead": True,
            }}
            for _attempt in range(8):
                resp = self.ddb.batch_get_item(RequestItems=request)
                found += [_summary(item) for item in resp.get("Responses", {}).get(self.table, [])]
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
        return sorted((a for a in found if a["run_id"] == run_id), key=lambda a: (a["created_at"], a["approval_id"]))

    def pending_for(self, run_id: str, now: float | None = None) -> list[ApprovalSummary]:
        """The run's approvals still ``pending`` (and, given ``now``, not yet past their expiry)."""
        return [a for a in self.approvals_of(run_id)
                if a["status"] == "pending" and (now is None or a["expires_at"] > now)]

    def claim(
        self, approval_id: str, *, run_id: str, decision: Decision, via: str, by: str, reason: str | None, now: float
    ) -> ClaimedApproval:
        """Record the decision once and hand back the task token, or raise :class:`ApprovalRefused`.

        One conditional ``UpdateItem``: of any number of concurrent claims exactly one
        succeeds. When the condition fails the item is read to name the reason:
        ``unknown``, ``other_run``, ``expired`` or ``already_decided``.
        """
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}")
        if not approval_id or approval_id.startswith(RUN_POINTER_PREFIX):
            raise ApprovalRefused("unknown", "no such approval")
        status = _DECIDED[decision]
        decided_at = int(now)
        values: dict[str, Any] = {
            ":pending": {"S": "pending"}, ":run": {"S": run_id}, ":now": {"N": _num(now)},
            ":status": {"S": status}, ":decision": {"S": decision}, ":via": {"S": via}, ":by": {"S": by},
            ":at": {"N": str(decided_at)},
        }
        update = "SET #status = :status, decision = :decision, decided_via = :via, decided_by = :by, decided_at = :at"
        if reason:
            values[":reason"] = {"S": reason}
            update += ", decided_reason = :reason"
        try:
            resp = self.ddb.update_item(
                TableName=self.table,
                Key={"approval_id": {"S": approval_id}},
                UpdateExpression=update,
                ConditionExpression="#status = :pending AND run_id = :run AND expires_at > :now",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            raise self._refusal(approval_id, run_id, now) from None
        item = resp["Attributes"]
        return ClaimedApproval(
            approval_id=approval_id, run_id=run_id, stage=item["stage"]["S"], decision=decision, status=status,
            via=via, by=by, reason=reason or None, decided_at=decided_at, task_token=item["task_token"]["S"],
        )

    def expire(self, approval_id: str, now: float) -> bool:
        """Mark a still-pending approval ``expired`` (the wait timed out); False when it was decided first."""
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key={"approval_id": {"S": approval_id}},
                UpdateExpression="SET #status = :expired, decided_at = :at, decided_via = :via",
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":expired": {"S": "expired"}, ":pending": {"S": "pending"},
                                           ":at": {"N": str(int(now))}, ":via": {"S": "timeout"}},
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            if self._get(approval_id) is None:
                raise ApprovalRefused("unknown", "no such approval") from None
            return False
        return True

    def _get(self, approval_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.ddb.get_item(
            TableName=self.table, Key={"approval_id": {"S": approval_id}}, ConsistentRead=True,
            ProjectionExpression="run_id, #status, expires_at, decision",
            ExpressionAttributeNames={"#status": "status"},
        ).get("Item")
        return item if item and "status" in item else None

    def _refusal(self, approval_id: str, run_id: str, now: float) -> ApprovalRefused:
        item = self._get(approval_id)
        if item is None:
            return ApprovalRefused("unknown", "no such approval")
        if item["run_id"]["S"] != run_id:
            return ApprovalRefused("other_run", "no such approval for this run")
        status = item["status"]["S"]
        if status in ("approved", "rejected"):
            return ApprovalRefused("already_decided", f"this approval was already {status}")
        if status == "expired" or float(item["expires_at"]["N"]) <= now:
            return ApprovalRefused("expired", f"this approval expired at {_iso(float(item['expires_at']['N']))}")
        # pending, this run, not expired: the condition failed on a state that has changed since
        return ApprovalRefused("already_decided", "this approval was decided concurrently")


def _num(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


def _summary(item: dict[str, Any]) -> ApprovalSummary:
    return ApprovalSummary(
        approval_id=item["approval_id"]["S"],
        run_id=item["run_id"]["S"],
        stage=item["stage"]["S"],
        status=item["status"]["S"],
        created_at=int(item["created_at"]["N"]),
        expires_at=int(item["expires_at"]["N"]),
    )

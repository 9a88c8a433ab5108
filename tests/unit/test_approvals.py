"""Approval steps: signed links, Slack request verification, messages, and single-use claims.

GIVEN the pure functions of ``shared.approvals`` with frozen clocks (``now`` is an argument),
and an :class:`ApprovalStore` over a moto DynamoDB table, WHEN links are tampered with, Slack
requests are forged or replayed, and claims race, THEN each is refused with its precise
reason and a decision is taken exactly once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from shared.approvals import (
    ApprovalRefused,
    ApprovalStore,
    ClaimedApproval,
    approval_email,
    make_link,
    parse_slack_action,
    sign_slack_request,
    slack_message,
    verify_link,
    verify_slack_request,
)

NOW = 1_750_000_000
KEY = b"k" * 32
OLD_KEY = b"o" * 32
BASE = "https://api.example.com/prod"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # noqa: S105 - Slack's published example secret
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAe-secret-task-token-value"  # noqa: S105 - a fake task token


# --- builders -------------------------------------------------------------------------------------
def link_fields(url: str) -> dict[str, Any]:
    """What the API handler reads from a link: path parts and query parameters."""
    parts = urlsplit(url)
    _, _, approval_id, decision = parts.path.rsplit("/", 3)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return {"approval_id": approval_id, "decision": decision, "run": query.get("run"), "stage": query.get("stage"),
            "exp": query.get("exp"), "sig": query.get("sig")}


def a_link(decision: str = "approve", *, key: bytes = KEY, expires_at: int = NOW + 3600) -> dict[str, Any]:
    url = make_link(BASE, key, approval_id="ap_123", run_id="run-42", stage="sample",
                    decision=decision, expires_at=expires_at)  # type: ignore[arg-type]
    return link_fields(url)


def refused(call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ApprovalRefused) as info:
        call(*args, **kwargs)
    return info.value.reason


def block_actions(action_id: str = "flitstack_approve", value: Any = None, **over: Any) -> dict[str, Any]:
    if value is None:
        value = json.dumps({"approval_id": "ap_123", "run_id": "run-42", "stage": "sample"})
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U0123ABC", "username": "ada", "name": "ada", "team_id": "T0001"},
        "api_app_id": "A0001",
        "container": {"type": "message", "message_ts": "1750000000.000001", "channel_id": "C0001"},
        "trigger_id": "1.2.abc",
        "response_url": "https://hooks.slack.com/actions/T0001/1/abc",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b1", "value": value,
                     "text": {"type": "plain_text", "text": "Approve"}, "action_ts": "1750000000.1"}],
    }
    payload.update(over)
    return payload


def form(payload: Any) -> bytes:
    return urlencode({"payload": payload if isinstance(payload, str) else json.dumps(payload)}).encode()


# --- signed links ---------------------------------------------------------------------------------
def test_link_round_trip_carries_no_task_token() -> None:
    url = make_link(BASE, KEY, approval_id="ap_123", run_id="run-42", stage="sample", decision="approve",
                    expires_at=NOW + 3600)
    assert url.startswith(f"{BASE}/approvals/ap_123/approve?run=run-42&stage=sample&exp={NOW + 3600}&sig=")
    sig = link_fields(url)["sig"]
    assert "=" not in sig and "+" not in sig and "/" not in sig and len(sig) == 43  # b64url, no padding
    verify_link([KEY], **link_fields(url), now=NOW)  # no exception
    verify_link(KEY, **link_fields(url), now=NOW)  # a single key is accepted too


@pytest.mark.parametrize("field,value", [
    ("sig", "A" * 43), ("sig", ""), ("sig", None), ("sig", "é"),
    ("run", "run-43"), ("stage", "mapping"), ("decision", "reject"), ("approval_id", "ap_124"),
    ("exp", str(NOW + 7200)), ("exp", "soon"), ("exp", None), ("exp", f"0{NOW + 3600}"), ("exp", f"+{NOW + 3600}"),
    ("run", None),
])
def test_tampered_or_forged_links_are_refused_as_forged(field: str, value: Any) -> None:
    fields = {**a_link(), field: value}
    assert refused(verify_link, [KEY], **fields, now=NOW) == "forged"


def test_extending_an_expired_link_reads_as_forged_not_expired() -> None:
    fields = a_link(expires_at=NOW - 1)
    assert refused(verify_link, [KEY], **fields, now=NOW) == "expired"
    assert refused(verify_link, [KEY], **{**fields, "exp": str(NOW + 3600)}, now=NOW) == "forged"


def test_link_expires_at_its_exp_second() -> None:
    fields = a_link(expires_at=NOW + 10)
    verify_link([KEY], **fields, now=NOW + 9.999)
    assert refused(verify_link, [KEY], **fields, now=NOW + 10) == "expired"


def test_key_rotation_signs_with_first_and_verifies_with_any() -> None:
    issued_before_rotation = a_link(key=OLD_KEY)
    verify_link([KEY, OLD_KEY], **issued_before_rotation, now=NOW)
    assert refused(verify_link, [KEY], **issued_before_rotation, now=NOW) == "forged"  # old key retired
    issued_after = link_fields(make_link(BASE, [KEY, OLD_KEY], approval_id="ap_123", run_id="run-42",
                                         stage="sample", decision="approve", expires_at=NOW + 60))
    assert issued_after == a_link(expires_at=NOW + 60)  # signed with the first key


def test_weak_or_missing_keys_are_configuration_errors() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        make_link(BASE, b"short", approval_id="a", run_id="run-42", stage="sample", decision="approve", expires_at=1)
    with pytest.raises(ValueError, match="no link-signing key"):
        verify_link([], **a_link(), now=NOW)


def test_refusals_map_to_http_statuses() -> None:
    assert ApprovalRefused("forged", "x").http_status == 403
    assert ApprovalRefused("expired", "x").http_status == 410
    assert ApprovalRefused("already_decided", "x").http_status == 409
    assert ApprovalRefused("other_run", "x").http_status == ApprovalRefused("unknown", "x").http_status == 404


# --- Slack request verification -------------------------------------------------------------------
def test_slack_signature_matches_slacks_documented_example() -> None:
    # The worked example in Slack's "Verifying requests from Slack" guide.
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
            b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
            b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
            b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert sign_slack_request(SECRET, "1531420618", body) == expected
    verify_slack_request(SECRET, timestamp="1531420618", body=body, signature=expected, now=1531420618 + 10)


def test_slack_request_good_signature_is_accepted() -> None:
    body = form(block_actions())
    verify_slack_request(SECRET, timestamp=str(NOW), body=body, signature=sign_slack_request(SECRET, NOW, body),
                         now=NOW + 299)


@pytest.mark.parametrize("case", ["other_secret", "other_body", "missing", "no_prefix", "garbage_ts"])
def test_slack_request_bad_signature_is_refused(case: str) -> None:
    body = form(block_actions())
    ts, sig = str(NOW), sign_slack_request(SECRET, NOW, body)
    if case == "other_secret":
        sig = sign_slack_request("not-the-secret", NOW, body)
    elif case == "other_body":
        body = form(block_actions("flitstack_reject"))
    elif case == "missing":
        sig = ""
    elif case == "no_prefix":
        sig = sig.removeprefix("v0=")
    else:
        ts = "yesterday"
    assert refused(verify_slack_request, SECRET, timestamp=ts, body=body, signature=sig, now=NOW) == "bad_signature"


@pytest.mark.parametrize("offset", [-301, -600, 301, 3600])
def test_slack_request_outside_five_minutes_is_stale(offset: int) -> None:
    body = form(block_actions())
    ts = NOW + offset  # a replayed capture (past) or a forged stamp (future)
    sig = sign_slack_request(SECRET, ts, body)
    reason = refused(verify_slack_request, SECRET, timestamp=str(ts), body=body, signature=sig, now=NOW)
    assert reason == "stale_timestamp"
    verify_slack_request(SECRET, timestamp=str(ts), body=body, signature=sig, now=NOW, tolerance_s=abs(offset))


# --- Slack payloads -------------------------------------------------------------------------------
def test_parse_slack_action_reads_a_block_actions_click() -> None:
    action = parse_slack_action(form(block_actions("flitstack_reject")))
    assert (action.approval_id, action.run_id, action.stage, action.decision) == ("ap_123", "run-42", "sample",
                                                                                  "reject")
    assert (action.user_id, action.user_name) == ("U0123ABC", "ada")
    assert action.response_url == "https://hooks.slack.com/actions/T0001/1/abc"


@pytest.mark.parametrize("body", [
    b"", b"payload=", b"payload=not-json", b"\xff\xfe", b"payload=%7B%7D&payload=%7B%7D",
    form({"type": "view_submission", "user": {"id": "U1"}, "actions": []}),
    form(block_actions("some_other_button")),
    form(block_actions(value="not json")),
    form(block_actions(value=json.dumps({"approval_id": "a", "run_id": "run-42", "stage": "launch"}))),
    form(block_actions(value=json.dumps({"approval_id": "a", "run_id": "../../etc", "stage": "sample"}))),
    form(block_actions(value=json.dumps({"approval_id": "a", "run_id": "run-42", "stage": "sample",
                                         "task_token": "x"}))),
    form(block_actions(user={"name": "no id"})),
    form(block_actions(actions=[])),
    form(block_actions(response_url="http://evil.example.com/")),
    form([1, 2, 3]),
])
def test_parse_slack_action_refuses_malformed_payloads(body: bytes) -> None:
    assert refused(parse_slack_action, body) == "malformed"


# --- messages -------------------------------------------------------------------------------------
def test_slack_message_has_two_buttons_without_task_token() -> None:
    msg = slack_message(run_id="run-42", stage="mapping", summary_lines=["12 objects", "a <b> & c"],
                        approval_id="ap_123", report_url="https://r.example.com/x?a=1&b=2", expires_at=NOW)
    assert msg["text"]
    section = msg["blocks"][0]
    assert section["type"] == "section" and "a &lt;b&gt; &amp; c" in section["text"]["text"]
    actions = next(b for b in msg["blocks"] if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == ["flitstack_approve", "flitstack_reject"]
    for element in actions["elements"]:
        assert json.loads(element["value"]) == {"approval_id": "ap_123", "run_id": "run-42", "stage": "mapping"}
    # what the button sends back parses into the same approval
    click = block_actions(value=actions["elements"][0]["value"])
    assert parse_slack_action(form(click)).stage == "mapping"


def test_approval_email_escapes_html_and_carries_both_links() -> None:
    parts = approval_email(run_id="run-42", stage="sample", summary_lines=["<script>alert(1)</script>", "5 & 6"],
                           approve_url="https://x/approve?a=1&b=2", reject_url="https://x/reject?a=1",
                           report_url=None, expires_at=NOW)
    assert "run-42" in parts.subject and "\n" not in parts.subject
    assert "<script>" not in parts.html and "&lt;script&gt;" in parts.html and "5 &amp; 6" in parts.html
    assert 'href="https://x/approve?a=1&amp;b=2"' in parts.html
    assert "https://x/approve?a=1&b=2" in parts.text and "https://x/reject?a=1" in parts.text
    assert "<script>alert(1)</script>" in parts.text  # plain text is plain


# --- the store ------------------------------------------------------------------------------------
TABLE = "flitstack-approvals-test"


def _one_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make each moto DynamoDB operation atomic, as each DynamoDB request is.

    moto's in-process backend evaluates a ConditionExpression and applies the update as two
    unsynchronised Python steps, so two threads can both pass the same condition — something
    DynamoDB never allows for one item. Serialising whole operations (not our calls: each
    request separately) restores DynamoDB's guarantee and nothing more, so a claim that read
    and then wrote in two requests would still be caught double-winning here.
    """
    lock = threading.RLock()

    def atomic(operation: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return operation(*args, **kwargs)
        return run

    for name in ("update_item", "put_item", "get_item", "transact_write_items", "batch_get_item"):
        monkeypatch.setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))


@pytest.fixture()
def ddb(monkeypatch: pytest.MonkeyPatch, in_process_aws: None) -> Iterator[Any]:
    _one_request_at_a_time(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "approval_id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "approval_id", "AttributeType": "S"}])
        yield client


@pytest.fixture()
def store(ddb: Any) -> ApprovalStore:
    return ApprovalStore(TABLE, client=ddb)


def claim(store: ApprovalStore, approval_id: str, run_id: str = "run-42", now: float = NOW + 1,
          decision: str = "approve") -> ClaimedApproval:
    return store.claim(approval_id, run_id=run_id, decision=decision, via="email", by="ada@example.com",  # type: ignore[arg-type]
                       reason=None, now=now)


def test_open_then_claim_works_once(store: ApprovalStore) -> None:
    approval_id = store.open("run-42", "sample", TOKEN, NOW + 3600, NOW)
    assert len(approval_id) >= 22 and approval_id.replace("-", "").replace("_", "").isalnum()  # >= 128 bits
    assert [a["approval_id"] for a in store.pending_for("run-42")] == [approval_id]

    claimed = claim(store, approval_id, decision="reject")

    assert (claimed.task_token, claimed.stage, claimed.run_id, claimed.decision, claimed.status) == (
        TOKEN, "sample", "run-42", "reject", "rejected")
    assert store.pending_for("run-42") == []
    assert [a["status"] for a in store.approvals_of("run-42")] == ["rejected"]
    assert refused(claim, store, approval_id) == "already_decided"  # the replay


def test_claim_refusals_name_the_reason(store: ApprovalStore) -> None:
    approval_id = store.open("run-42", "mapping", TOKEN, NOW + 60, NOW)
    assert refused(claim, store, "no-such-approval") == "unknown"
    assert refused(claim, store, "run#run-42") == "unknown"  # the run pointer is not an approval
    assert refused(claim, store, approval_id, run_id="run-43") == "other_run"
    assert refused(claim, store, approval_id, now=NOW + 60) == "expired"
    assert store.pending_for("run-42", now=NOW + 60) == []
    assert len(store.pending_for("run-42", now=NOW + 59)) == 1


def test_expire_marks_a_timed_out_approval(store: ApprovalStore) -> None:
    first = store.open("run-42", "mapping", TOKEN, NOW + 60, NOW)
    second = store.open("run-42", "sample", TOKEN + "2", NOW + 600, NOW + 5)
    assert [a["stage"] for a in store.pending_for("run-42")] == ["mapping", "sample"]
    assert store.expire(first, NOW + 60) is True
    assert store.expire(first, NOW + 61) is False  # already expired
    assert refused(claim, store, first, now=NOW + 2) == "expired"  # even before its expiry time
    claim(store, second, now=NOW + 6)
    assert store.expire(second, NOW + 600) is False  # decided first: the decision stands
    assert refused(store.expire, "no-such-approval", NOW) == "unknown"
    assert [a["status"] for a in store.approvals_of("run-42")] == ["expired", "approved"]
    assert store.pending_for("run-43") == []


def test_concurrent_claims_exactly_one_wins(store: ApprovalStore) -> None:
    approval_id = store.open("run-42", "sample", TOKEN, NOW + 3600, NOW)
    start = threading.Barrier(8)
    won: list[ClaimedApproval] = []
    reasons: list[str] = []

    def click(n: int) -> None:
        start.wait()
        try:
            won.append(store.claim(approval_id, run_id="run-42", decision="approve" if n % 2 else "reject",
                                   via="slack", by=f"U{n}", reason=None, now=NOW + 1))
        except ApprovalRefused as exc:
            reasons.append(exc.reason)

    threads = [threading.Thread(target=click, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(won) == 1 and reasons == ["already_decided"] * 7
    assert [a["status"] for a in store.approvals_of("run-42")] == [won[0].status]


def test_task_token_appears_only_in_the_claim(store: ApprovalStore, ddb: Any) -> None:
    approval_id = store.open("run-42", "sample", TOKEN, NOW + 3600, NOW)
    listed = store.pending_for("run-42")
    for shown in (store, listed, store.approvals_of("run-42")):
        assert TOKEN not in repr(shown) and TOKEN not in str(shown)
    claimed = claim(store, approval_id)
    assert claimed.task_token == TOKEN
    assert TOKEN not in repr(claimed)  # a logged claim still hides it
    for run_id in ("run-42", "run-9"):  # a replay, and another run's guess
        with pytest.raises(ApprovalRefused) as info:
            claim(store, approval_id, run_id=run_id)
        assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    link = make_link(BASE, KEY, approval_id=approval_id, run_id="run-42", stage="sample", decision="approve",
                     expires_at=NOW + 3600)
    msg = slack_message(run_id="run-42", stage="sample", summary_lines=[], approval_id=approval_id,
                        report_url=None, expires_at=NOW + 3600)
    assert TOKEN not in link and TOKEN not in json.dumps(msg)


def test_open_validates_its_inputs(store: ApprovalStore) -> None:
    with pytest.raises(ValueError):
        store.open("run 42 with spaces", "sample", TOKEN, NOW + 60, NOW)
    with pytest.raises(ValueError):
        store.open("run-42", "sample", TOKEN, NOW, NOW)
    with pytest.raises(ValueError):
        store.open("run-42", "sample", "", NOW + 60, NOW)

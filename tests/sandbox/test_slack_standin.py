"""The Slack stand-in over real HTTPS: the incoming webhook, and signed clicks to an app's endpoint.

GIVEN one stand-in process for the module and a tiny HTTPS "app" (a plain ``http.server``
with TLS from the same throw-away CA) whose interactivity endpoint checks every request with
``shared.approvals.verify_slack_request`` — an implementation written separately from the
stand-in's signer — WHEN approval messages are posted and buttons clicked (honestly, with a
wrong secret, or with a stale timestamp), THEN Slack's answers and payloads come back and
only the honest clicks are accepted.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.serve import RunningStandin, start_standin
from sandbox.tls import ensure_tls
from shared.approvals import ApprovalRefused, SlackAction, parse_slack_action, slack_message, verify_slack_request


@dataclass
class Received:
    """What the app's endpoint saw: raw request, and the outcome of verifying it."""

    headers: dict[str, str]
    body: bytes
    outcome: str  # "accepted" or the refusal reason
    action: SlackAction | None = None


@dataclass
class SlackApp:
    """The app side: an HTTPS interactivity endpoint that verifies, parses, and answers via response_url."""

    url: str
    signing_secret: str
    ca_path: str
    received: list[Received] = field(default_factory=list)


def _serve_app(tls_dir: Path, signing_secret: str) -> tuple[SlackApp, ThreadingHTTPServer]:
    tls = ensure_tls(tls_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_path, tls.key_path)
    app = SlackApp(url="", signing_secret=signing_secret, ca_path=str(tls.ca_path))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen = Received(headers={k.lower(): v for k, v in self.headers.items()}, body=body, outcome="accepted")
            app.received.append(seen)
            try:
                verify_slack_request(app.signing_secret, timestamp=self.headers.get("X-Slack-Request-Timestamp"),
                                     body=body, signature=self.headers.get("X-Slack-Signature"), now=time.time())
                seen.action = parse_slack_action(body)
            except ApprovalRefused as exc:
                seen.outcome = exc.reason
                self._answer(exc.http_status, exc.reason)
                return
            if seen.action.response_url:  # what a real app does: update the message in place
                verb = "Approved" if seen.action.decision == "approve" else "Rejected"
                httpx.post(seen.action.response_url, verify=ssl.create_default_context(cafile=app.ca_path),
                           json={"replace_original": True, "text": f"{verb} by {seen.action.user_name}"},
                           timeout=10).raise_for_status()
            self._answer(200, "")

        def _answer(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    app.url = f"https://127.0.0.1:{server.server_address[1]}/slack/interactivity"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return app, server


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slack")


@pytest.fixture(scope="module")
def standin(folder: Path) -> Iterator[RunningStandin]:
    running = start_standin("slack", ["--state", str(folder / "slack.sqlite"), "--tls-dir", str(folder / "tls")])
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(standin: RunningStandin) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standin.url, verify=ssl.create_default_context(cafile=standin.ca_path),
                      timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def slack_app(standin: RunningStandin, folder: Path, admin: httpx.Client) -> Iterator[SlackApp]:
    app, server = _serve_app(folder / "tls", standin.info["signing_secret"])
    admin.post("/__standin/config", json={"interactivity_url": app.url,
                                          "interactivity_ca_path": app.ca_path}).raise_for_status()
    yield app
    server.shutdown()
    server.server_close()


def post_approval_request(standin: RunningStandin, admin: httpx.Client, approval_id: str = "ap_1") -> int:
    """Post an approval message through the webhook, as the workflow would; its stand-in message id."""
    message = slack_message(run_id="run-42", stage="sample", summary_lines=["Sample: 50 records, 2 rejects"],
                            approval_id=approval_id, report_url="https://example.com/r", expires_at=2_000_000_000)
    response = admin.post(standin.info["webhook_url"], json=message)
    assert (response.status_code, response.text) == (200, "ok")
    assert response.headers["content-type"].startswith("text/plain")
    return int(admin.get("/__standin/messages").json()[-1]["id"])


def click(admin: httpx.Client, message_id: int, action_id: str = "flitstack_approve", **forge: Any) -> dict[str, Any]:
    response = admin.post("/__standin/click", json={"message_id": message_id, "action_id": action_id,
                                                    "user": {"id": "U0ADA", "name": "ada"}, **forge})
    response.raise_for_status()
    return dict(response.json())


# --- launch contract --------------------------------------------------------------------------------
def test_announces_webhook_and_signing_secret(standin: RunningStandin) -> None:
    info = standin.info
    assert set(info) >= {"kind", "url", "ca_path", "pid", "state_path", "webhook_url", "signing_secret"}
    assert info["kind"] == "slack" and info["url"].startswith("https://127.0.0.1:")
    team, bot, token = info["webhook_url"].removeprefix(info["url"] + "/services/").split("/")
    assert team.startswith("T") and bot.startswith("B") and len(token) == 24
    assert len(info["signing_secret"]) == 32


def test_restart_on_the_same_state_keeps_webhook_and_secret(standin: RunningStandin, folder: Path) -> None:
    again = start_standin("slack", ["--state", standin.info["state_path"], "--tls-dir", str(folder / "tls")])
    try:
        assert again.info["signing_secret"] == standin.info["signing_secret"]
        assert again.info["webhook_url"].removeprefix(again.url) == standin.info["webhook_url"].removeprefix(
            standin.url)
    finally:
        again.stop()


# --- incoming webhook ---------------------------------------------------------------------------------
def test_webhook_stores_message_with_blocks(standin: RunningStandin, admin: httpx.Client) -> None:
    message_id = post_approval_request(standin, admin, "ap_store")
    stored = admin.get(f"/__standin/messages/{message_id}").json()
    assert stored["text"].startswith("FlitStack run run-42")
    actions = next(b for b in stored["blocks"] if b["type"] == "actions")
    assert {e["action_id"] for e in actions["elements"]} == {"flitstack_approve", "flitstack_reject"}
    assert stored["received_at"] > 0


def test_webhook_accepts_form_encoded_payload(standin: RunningStandin, admin: httpx.Client) -> None:
    response = admin.post(standin.info["webhook_url"], data={"payload": json.dumps({"text": "form post"})})
    assert (response.status_code, response.text) == (200, "ok")
    assert admin.get("/__standin/messages").json()[-1]["text"] == "form post"


@pytest.mark.parametrize("body,status,code", [
    (b"{not json", 400, "invalid_payload"),
    (b"[1, 2]", 400, "invalid_payload"),
    (b'{"text": 5}', 400, "invalid_payload"),
    (b"{}", 400, "no_text"),
    (b'{"text": "", "blocks": []}', 400, "no_text"),
    (b'{"blocks": "section"}', 400, "invalid_blocks"),
    (b'{"blocks": [{"text": "no type"}]}', 400, "invalid_blocks"),
])
def test_webhook_refuses_bad_bodies_like_slack(standin: RunningStandin, admin: httpx.Client, body: bytes,
                                               status: int, code: str) -> None:
    response = admin.post(standin.info["webhook_url"], content=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.text) == (status, code)


def test_unknown_webhook_is_no_service(standin: RunningStandin, admin: httpx.Client) -> None:
    wrong_token = standin.info["webhook_url"][:-1] + ("x" if standin.info["webhook_url"][-1] != "x" else "y")
    for url in (wrong_token, standin.url + "/services/T1/B1", standin.url + "/services/T1/B1/abc/extra"):
        response = admin.post(url, json={"text": "hi"})
        assert (response.status_code, response.text) == (404, "no_service")


def test_webhook_fault_knob(standin: RunningStandin, admin: httpx.Client) -> None:
    admin.post("/__standin/config", json={"webhook_fault_status": 429}).raise_for_status()
    try:
        response = admin.post(standin.info["webhook_url"], json={"text": "hi"})
        assert (response.status_code, response.text) == (429, "rate_limited")
        assert response.headers["retry-after"] == "1"
    finally:
        admin.post("/__standin/config", json={"webhook_fault_status": 0}).raise_for_status()


# --- interactivity ------------------------------------------------------------------------------------
def test_click_posts_a_signed_block_actions_payload(standin: RunningStandin, admin: httpx.Client,
                                                    slack_app: SlackApp) -> None:
    message_id = post_approval_request(standin, admin, "ap_click")

    result = click(admin, message_id, "flitstack_reject")

    assert result == {"status": 200, "body": ""}
    seen = slack_app.received[-1]
    assert seen.outcome == "accepted"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.body.startswith(b"payload=")
    assert seen.action is not None
    assert (seen.action.approval_id, seen.action.run_id, seen.action.stage, seen.action.decision) == (
        "ap_click", "run-42", "sample", "reject")
    assert (seen.action.user_id, seen.action.user_name) == ("U0ADA", "ada")
    assert seen.action.response_url and seen.action.response_url.startswith(standin.url + "/__standin/responses/")
    # the app's follow-up replaced the message, as "Rejected by ada"
    stored = admin.get(f"/__standin/messages/{message_id}").json()
    assert stored["text"] == "Rejected by ada" and stored["original"]["blocks"]
    assert stored["responses"][0]["body"] == {"replace_original": True, "text": "Rejected by ada"}


def test_click_payload_has_slacks_shape(standin: RunningStandin, admin: httpx.Client, slack_app: SlackApp) -> None:
    from urllib.parse import parse_qs

    message_id = post_approval_request(standin, admin, "ap_shape")
    click(admin, message_id)
    payload = json.loads(parse_qs(slack_app.received[-1].body.decode())["payload"][0])
    assert payload["type"] == "block_actions"
    assert set(payload) >= {"user", "api_app_id", "token", "container", "trigger_id", "team", "channel",
                            "message", "response_url", "actions", "state"}
    assert payload["container"]["type"] == "message"
    assert payload["container"]["message_ts"] == payload["message"]["ts"]
    action = payload["actions"][0]
    assert action["type"] == "button" and action["action_id"] == "flitstack_approve"
    assert json.loads(action["value"]) == {"approval_id": "ap_shape", "run_id": "run-42", "stage": "sample"}


@pytest.mark.parametrize("forge,reason", [
    ({"sign_with": "not-the-signing-secret"}, "bad_signature"),
    ({"timestamp_offset_s": -600}, "stale_timestamp"),
    ({"timestamp_offset_s": 600}, "stale_timestamp"),
])
def test_forged_and_stale_clicks_are_refused(standin: RunningStandin, admin: httpx.Client, slack_app: SlackApp,
                                             forge: dict[str, Any], reason: str) -> None:
    message_id = post_approval_request(standin, admin, "ap_forged")
    before = len(admin.get("/__standin/responses").json())

    result = click(admin, message_id, **forge)

    assert result == {"status": 401, "body": reason}
    assert slack_app.received[-1].outcome == reason and slack_app.received[-1].action is None
    assert len(admin.get("/__standin/responses").json()) == before  # nothing was acted on


def test_click_errors(standin: RunningStandin, admin: httpx.Client, slack_app: SlackApp) -> None:
    message_id = post_approval_request(standin, admin, "ap_err")
    user = {"id": "U1", "name": "u"}
    no_message = admin.post("/__standin/click", json={"message_id": 99_999, "action_id": "x", "user": user})
    no_button = admin.post("/__standin/click", json={"message_id": message_id, "action_id": "x", "user": user})
    bad_body = admin.post("/__standin/click", json={"message_id": "one"})
    assert (no_message.status_code, no_button.status_code, bad_body.status_code) == (404, 404, 400)


def test_response_url_is_limited_to_five_uses(standin: RunningStandin, admin: httpx.Client,
                                              slack_app: SlackApp) -> None:
    click(admin, post_approval_request(standin, admin, "ap_uses"))
    response_url = slack_app.received[-1].action.response_url  # type: ignore[union-attr]
    assert response_url is not None
    statuses = [admin.post(response_url, json={"text": f"update {n}"}).status_code for n in range(5)]
    assert statuses == [200, 200, 200, 200, 404]  # the app used it once already
    assert admin.post(response_url, json={"text": "again"}).json() == {"ok": False, "error": "used_url"}
    assert admin.post(standin.url + "/__standin/responses/nope", json={"text": "x"}).status_code == 404

"""Where sign-off requests go: e-mail through SES, a message with buttons through a Slack webhook.

The approvals secret (``APPROVALS_SECRET``, default ``flitstack/approvals``) is deployment-wide:
``link_keys`` (list, newest first; each at least 32 bytes of text), ``slack_signing_secret``,
``slack_webhook_url`` (optional: no Slack when absent) and ``ca_pem`` (optional: the trust
anchor of the webhook's host, for the local Slack stand-in). Locally SES is moto's and the
sent mail is mirrored to the run folder's outbox (``flitstack outbox``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
import httpx
from aws_lambda_powertools.utilities import parameters

from shared import retry
from shared.approvals import EmailMessageParts
from shared.errors import ConfigurationError, TransientError
from shared.settings import get_approval_settings
from shared.tls import ssl_context


@dataclass(frozen=True)
class ApprovalConfig:
    link_keys: list[bytes]
    slack_signing_secret: str
    slack_webhook_url: str | None
    ca_pem: str | None

    def __repr__(self) -> str:  # never print keys
        return f"ApprovalConfig(link_keys=<{len(self.link_keys)}>, slack={'on' if self.slack_webhook_url else 'off'})"


def approval_config(max_age: int = 60) -> ApprovalConfig:
    name = get_approval_settings().approvals_secret
    try:
        raw = parameters.get_secret(name, max_age=max_age)
        value = json.loads(raw if isinstance(raw, str) else bytes(raw).decode())
    except (parameters.exceptions.GetParameterError, ValueError) as exc:
        raise ConfigurationError(f"approvals secret {name!r} could not be read as JSON") from exc
    keys = value.get("link_keys") if isinstance(value, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and len(k) >= 32 for k in keys):
        raise ConfigurationError(f"approvals secret {name!r}: link_keys must be a list of strings of 32+ characters")
    return ApprovalConfig([k.encode() for k in keys], str(value.get("slack_signing_secret") or ""),
                          value.get("slack_webhook_url") or None, value.get("ca_pem") or None)


@lru_cache(maxsize=1)
def _ses() -> Any:
    return boto3.client("ses")


class Notifier:
    """SES for mail, httpx for the Slack incoming webhook."""

    def __init__(self, config: ApprovalConfig, sender: str | None = None) -> None:
        self.config = config
        self.sender = sender or get_approval_settings().sender_address

    def send_email(self, to: list[str], message: EmailMessageParts) -> str:
        resp = _ses().send_email(
            Source=self.sender, Destination={"ToAddresses": to},
            Message={"Subject": {"Data": message.subject, "Charset": "UTF-8"},
                     "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"},
                              "Html": {"Data": message.html, "Charset": "UTF-8"}}})
        return str(resp["MessageId"])

    def post_slack(self, message: dict[str, Any]) -> bool:
        url = self.config.slack_webhook_url
        if not url:
            return False

        def post() -> None:
            try:
                resp = httpx.post(url, json=message, timeout=10, verify=ssl_context(self.config.ca_pem),
                                  trust_env=False)
            except httpx.TransportError as exc:
                raise TransientError(f"Slack webhook unreachable: {type(exc).__name__}") from exc
            if resp.status_code >= 500 or resp.status_code == 429:
                raise TransientError(f"Slack webhook answered {resp.status_code}")
            if resp.status_code != 200:
                raise ConfigurationError(f"Slack webhook refused the message: {resp.status_code} {resp.text[:200]}")

        retry.call(post)
        return True

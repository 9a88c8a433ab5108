"""Zoho CRM v8, a destination: its client (plain httpx), capabilities and registry entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.connectors.registry import Connector, SecretModel
from shared.connectors.zoho.capabilities import CAPABILITIES


class ZohoSecret(SecretModel):
    """``url`` is the data centre's API domain (the token answer's ``api_domain`` wins); the accounts and
    content hosts default to Zoho's US ones when the secret names none."""

    client_id: str
    client_secret: str
    refresh_token: str
    accounts_url: str | None = None
    content_url: str | None = None
    org_id: str | None = None
    credit_budget: int | None = None


def _open(secret: ZohoSecret) -> Any:
    from shared.connectors.zoho.client import ZohoDestination

    return ZohoDestination(secret.url, secret.client_id, secret.client_secret, secret.refresh_token,
                           accounts_url=secret.accounts_url, content_url=secret.content_url, org_id=secret.org_id,
                           credit_budget=secret.credit_budget, ca_pem=secret.ca_pem, timeout_s=secret.timeout_s)


def _standin_secret(info: dict[str, Any]) -> dict[str, Any]:
    creds = info["credentials"]
    return {"url": info["url"], "client_id": creds["client_id"], "client_secret": creds["client_secret"],
            "refresh_token": creds["refresh_token"], "accounts_url": info["url"] + info["accounts_path"],
            "content_url": info["url"] + info["content_path"], "org_id": info["org_id"],
            "ca_pem": Path(info["ca_path"]).read_text()}


def _standin_users(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"first_name": p["first_name"], "last_name": p["last_name"], "email": p["email"],
             "status": "active" if p["active"] else "disabled"} for p in people]


CONNECTOR = Connector(kind="zoho", label="Zoho CRM", role="destination", secret=ZohoSecret, open=_open,
                      cost_model="shared.connectors.zoho.client:write_cost",
                      declared=CAPABILITIES, standin="sandbox.zoho", standin_secret=_standin_secret,
                      standin_users=_standin_users)

"""Salesforce Sales Cloud, a destination: its client (simple-salesforce), capabilities and registry entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.connectors.registry import Connector, SecretModel
from shared.connectors.salesforce.capabilities import CAPABILITIES


class SalesforceSecret(SecretModel):
    client_id: str
    client_secret: str
    username: str
    password: str


def _open(secret: SalesforceSecret) -> Any:
    from shared.connectors.salesforce.client import SalesforceDestination

    return SalesforceDestination(secret.url, secret.client_id, secret.client_secret, secret.username,
                                 secret.password, ca_pem=secret.ca_pem, timeout_s=secret.timeout_s)


def _standin_secret(info: dict[str, Any]) -> dict[str, Any]:
    creds = info["credentials"]
    return {"url": info["url"], "client_id": creds["client_id"], "client_secret": creds["client_secret"],
            "username": creds["username"], "password": creds["password"],
            "ca_pem": Path(info["ca_path"]).read_text()}


def _standin_users(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"FirstName": p["first_name"], "LastName": p["last_name"], "Email": p["email"], "IsActive": p["active"]}
            for p in people]


CONNECTOR = Connector(kind="salesforce", label="Salesforce", role="destination", secret=SalesforceSecret,
                      open=_open, cost_model="shared.connectors.salesforce.client:write_cost",
                      declared=CAPABILITIES, standin="sandbox.salesforce",
                      standin_secret=_standin_secret, standin_users=_standin_users)

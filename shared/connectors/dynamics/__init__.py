"""Microsoft Dynamics 365 Sales (Dataverse Web API), a destination: its client (httpx), capabilities and
registry entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.connectors.dynamics.capabilities import CAPABILITIES
from shared.connectors.registry import Connector, SecretModel


class DynamicsSecret(SecretModel):
    tenant_id: str
    client_id: str
    client_secret: str
    token_url: str | None = None
    #: Upsert through UpsertMultiple where it costs fewer requests (false: $batch PATCHes only).
    bulk_upsert: bool = True


def _open(secret: DynamicsSecret) -> Any:
    from shared.connectors.dynamics.client import DynamicsDestination

    return DynamicsDestination(secret.url, secret.tenant_id, secret.client_id, secret.client_secret,
                               ca_pem=secret.ca_pem, timeout_s=secret.timeout_s, token_url=secret.token_url,
                               bulk_upsert=secret.bulk_upsert)


def _standin_secret(info: dict[str, Any]) -> dict[str, Any]:
    creds = info["credentials"]
    return {"url": info["url"], "tenant_id": info["tenant_id"], "client_id": creds["client_id"],
            "client_secret": creds["client_secret"], "ca_pem": Path(info["ca_path"]).read_text()}


def _standin_users(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"firstname": p["first_name"], "lastname": p["last_name"], "internalemailaddress": p["email"],
             "isdisabled": not p["active"]} for p in people]


CONNECTOR = Connector(kind="dynamics", label="Dynamics 365", role="destination", secret=DynamicsSecret,
                      open=_open, cost_model="shared.connectors.dynamics.client:write_cost",
                      declared=CAPABILITIES, standin="sandbox.dynamics",
                      standin_secret=_standin_secret, standin_users=_standin_users)

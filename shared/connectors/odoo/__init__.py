"""Odoo CRM 17 / 18 / 19, a destination: its client (XML-RPC for 17/18, JSON-2 for 19, chosen from the
server's version), capabilities and registry entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.connectors.odoo.capabilities import CAPABILITIES
from shared.connectors.registry import Connector, SecretModel, StandinOption


class OdooSecret(SecretModel):
    db: str
    login: str
    #: The user's password or, better, an API key (JSON-2 on 19 takes an API key only).
    api_key: str


def _open(secret: OdooSecret) -> Any:
    from shared.connectors.odoo.client import OdooDestination

    return OdooDestination(secret.url, secret.db, secret.login, secret.api_key, ca_pem=secret.ca_pem,
                           timeout_s=secret.timeout_s)


def _standin_secret(info: dict[str, Any]) -> dict[str, Any]:
    creds = info["credentials"]
    return {"url": info["url"], "db": creds["db"], "login": creds["login"], "api_key": creds["api_key"],
            "ca_pem": Path(info["ca_path"]).read_text()}


def _standin_users(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Odoo users log in by a unique login (the e-mail here): people sharing one e-mail are one user."""
    users: dict[str, dict[str, Any]] = {}
    for p in people:
        users.setdefault(p["email"], {"name": f"{p['first_name']} {p['last_name']}".strip(), "login": p["email"],
                                      "email": p["email"], "active": p["active"]})
    return list(users.values())


CONNECTOR = Connector(kind="odoo", label="Odoo", role="destination", secret=OdooSecret, open=_open,
                      cost_model="shared.connectors.odoo.client:write_cost",
                      declared=CAPABILITIES, standin="sandbox.odoo", standin_secret=_standin_secret,
                      standin_users=_standin_users,
                      standin_options=(StandinOption("--odoo-version", "--version", ("17", "18", "19"),
                                                     "Odoo version the local stand-in serves (default: 17); "
                                                     "19 is spoken to over JSON-2"),))

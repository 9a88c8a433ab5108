"""Salesforce's test kit: the contract facts and the independent probe (simple-salesforce, unmodified)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from sandbox.serve import RunningStandin, start_standin
from shared.connectors.salesforce.client import SalesforceDestination
from tests.kits import DestinationKit, StateRules, sql_rows


def client(info: dict[str, Any]) -> Salesforce:
    """An independent client of the org a stand-in serves: simple-salesforce, unmodified."""
    creds = info["credentials"]
    token = requests.post(
        f"{info['url']}/services/oauth2/token", verify=info["ca_path"], timeout=30,
        data={"grant_type": "password", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
              "username": creds["username"], "password": creds["password"]},
    ).json()
    session = requests.Session()
    session.verify = info["ca_path"]
    session.trust_env = False  # else REQUESTS_CA_BUNDLE in the environment overrides verify
    return Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session,
                      version="60.0")


class SalesforceProbe:
    """Reads and edits the migrated org through SOQL and the REST API."""

    def __init__(self, runtime: Any) -> None:
        self.sf = client(runtime.destination_standin.info)

    def rows(self, obj: str, ext: str, source_object: str, fields: list[str]) -> dict[str, dict[str, Any]]:
        names = ", ".join(dict.fromkeys(["Id", ext, *fields]))
        soql = f"SELECT {names} FROM {obj} WHERE {ext} LIKE '{source_object}:%'"
        return {r[ext]: {**{f: r.get(f) for f in fields}, "Id": r["Id"]} for r in self.sf.query_all(soql)["records"]}

    def ids(self, obj: str) -> set[str]:
        return {r["Id"] for r in self.sf.query_all(f"SELECT Id FROM {obj}")["records"]}

    def edit(self, obj: str, dest_id: str, field: str, value: Any) -> None:
        getattr(self.sf, obj).update(dest_id, {field: value})


def _connect(s: RunningStandin) -> SalesforceDestination:
    c = s.info["credentials"]
    return SalesforceDestination(s.url, c["client_id"], c["client_secret"], c["username"], c["password"],
                                 ca_pem=Path(s.ca_path).read_text())


KIT = DestinationKit(
    name="salesforce",
    start=lambda d: start_standin("salesforce", ["--state", str(d / "org.sqlite")]),
    connect=_connect,
    writable_object="Account",
    required={"Name": "Contract Test Co"},
    text_field="Description",
    ext_field="Contract_Key__c",
    required_on_create=("Account", ["Name"]),
    refused={},  # Name missing
    missing_object="No_Such_Object__c",
    probe=SalesforceProbe,
    write_sizes=[("collections", 250, False), ("bulk", 1_050, True)],
    state=StateRules(rows=sql_rows("SELECT object, id, data FROM records WHERE is_deleted = 0"),
                     volatile=frozenset({"CaseNumber", "ContractNumber"})),
)

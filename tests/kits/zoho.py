"""Zoho CRM's test kit: the contract facts and the independent probe (plain HTTP over httpx, never our connector)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from sandbox.serve import RunningStandin, start_standin
from shared.connectors.zoho.client import ZohoDestination
from tests.kits import DestinationKit, StateRules, sql_rows


def http(info: dict[str, Any]) -> httpx.Client:
    """An authenticated client of the org a stand-in serves: the refresh-token grant, then ``api_domain``."""
    creds = info["credentials"]
    token = httpx.post(f"{info['url']}{info['accounts_path']}/oauth/v2/token", verify=info["ca_path"],
                       trust_env=False, data={"grant_type": "refresh_token", "client_id": creds["client_id"],
                                              "client_secret": creds["client_secret"],
                                              "refresh_token": creds["refresh_token"]}).json()
    return httpx.Client(base_url=token["api_domain"], verify=info["ca_path"], trust_env=False, timeout=60,
                        headers={"Authorization": f"Zoho-oauthtoken {token['access_token']}"})


#: The modules the Sercom pair attaches files to (``Parent_Id__<module>``).
ATTACHMENT_PARENTS = ("Accounts", "Contacts", "Leads", "Deals", "Work_Orders", "Service_Assets")


class ZohoProbe:
    """Reads and edits the migrated org with COQL and the records API. A lookup reads back as its id; a
    per-target name (``What_Id__Accounts``) reads the lookup's id when it points into that module."""

    def __init__(self, runtime: Any) -> None:
        self.http = http(runtime.destination_standin.info)

    def _coql(self, query: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            resp = self.http.post("/crm/v8/coql", json={"select_query": f"{query} limit {offset}, 2000"})
            assert resp.status_code in (200, 204), f"{query}: {resp.status_code} {resp.text[:300]}"
            body = resp.json() if resp.status_code == 200 else {}
            rows += body.get("data") or []
            if not (body.get("info") or {}).get("more_records"):
                return rows
            offset += 2000

    @staticmethod
    def _value(row: dict[str, Any], name: str) -> Any:
        value = row.get(name.partition("__")[0])
        return value.get("id") if isinstance(value, dict) else value

    def rows(self, obj: str, ext: str, source_object: str, fields: list[str]) -> dict[str, dict[str, Any]]:
        names = ", ".join(dict.fromkeys([ext, *(f.partition("__")[0] for f in fields)]))
        found = self._coql(f"select {names} from {obj} where {ext} like '{source_object}:%'")
        return {r[ext]: {**{f: self._value(r, f) for f in fields}, "Id": r["id"]} for r in found
                if str(r[ext]).startswith(source_object + ":")}

    def ids(self, obj: str) -> set[str]:
        if obj == "Attachments":  # not a COQL module: a related list of each record that can hold files
            modules = {m["api_name"] for m in self.http.get("/crm/v8/settings/modules").json()["modules"]}
            return {str(a["id"]) for module in ATTACHMENT_PARENTS if module in modules for rid in self.ids(module)
                    for a in self._related(f"/crm/v8/{module}/{rid}/Attachments")}
        return {str(r["id"]) for r in self._coql(f"select id from {obj} where id is not null")}

    def _related(self, path: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.http.get(path, params={"fields": "id", "page": page, "per_page": 200})
            resp.raise_for_status()
            body = resp.json() if resp.status_code == 200 else {}  # 204: none
            rows += body.get("data") or []
            if not (body.get("info") or {}).get("more_records"):
                return rows
            page += 1

    def edit(self, obj: str, dest_id: str, field: str, value: Any) -> None:
        self.http.put(f"/crm/v8/{obj}/{dest_id}", json={"data": [{field: value}], "trigger": []}).raise_for_status()


def _connect(s: RunningStandin) -> ZohoDestination:
    c = s.info["credentials"]
    return ZohoDestination(s.url, c["client_id"], c["client_secret"], c["refresh_token"],
                           accounts_url=s.url + s.info["accounts_path"], content_url=s.url + s.info["content_path"],
                           org_id=s.info["org_id"], ca_pem=Path(s.ca_path).read_text())


KIT = DestinationKit(
    name="zoho",
    start=lambda d: start_standin("zoho", ["--state", str(d / "org.sqlite")]),
    connect=_connect,
    writable_object="Accounts",
    required={"Account_Name": "Contract Test Co"},
    text_field="Description",
    ext_field="Contract_Key",
    required_on_create=("Accounts", ["Account_Name"]),
    refused={"Account_Name": "x" * 300},  # longer than the field's 200 characters: INVALID_DATA
    missing_object="No_Such_Module",
    probe=ZohoProbe,
    # REST upsert in batches of 100; above 5,000 records one Bulk Write job (500 credits) is cheaper.
    write_sizes=[("rest", 250, False), ("bulk", 5_100, True)],
    # the org's users, roles, profiles and layouts: ids whose digits start with the org's random prefix
    written_once_unfindable="Zoho notes and attachments take no custom field, so they carry no key; the crosswalk "
                            "and the batch checkpoint are what keep them from being written twice "
                            "(docs/guarantees-zoho.md)",
    state=StateRules(rows=sql_rows("SELECT module, id, data FROM records"), foreign_id=(r"^\d{16,19}$", "<zoho id>")),
)

"""Dynamics 365's test kit: the contract facts and the independent probe (plain OData over httpx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from sandbox.serve import RunningStandin, start_standin
from shared.connectors.dynamics.client import DynamicsDestination, decode_key, encode_key
from tests.kits import DestinationKit, StateRules, sql_rows


class DataverseProbe:
    """Reads and edits the migrated environment with plain Web API calls (a lookup's navigation property
    reads its ``_<column>_value``)."""

    def __init__(self, runtime: Any) -> None:
        info = runtime.destination_standin.info
        token = httpx.post(f"{info['url']}/{info['tenant_id']}/oauth2/v2.0/token", verify=info["ca_path"],
                           trust_env=False, data={"grant_type": "client_credentials", **info["credentials"],
                                                  "scope": f"{info['url']}/.default"}).json()["access_token"]
        self.http = httpx.Client(base_url=f"{info['url']}/api/data/v9.2/", verify=info["ca_path"],
                                 trust_env=False, timeout=60,
                                 headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                                          "OData-Version": "4.0", "Prefer": "odata.maxpagesize=5000"})
        self.sets: dict[str, tuple[str, str]] = {}

    def _meta(self, obj: str) -> tuple[str, str]:
        if obj not in self.sets:
            d = self.http.get(f"EntityDefinitions(LogicalName='{obj}')",
                              params={"$select": "EntitySetName,PrimaryIdAttribute"}).json()
            self.sets[obj] = (d["EntitySetName"], d["PrimaryIdAttribute"])
        return self.sets[obj]

    @staticmethod
    def _lookup(row: dict[str, Any], name: str) -> Any:
        parts = name.split("_")
        for n in range(len(parts), 0, -1):
            column = "_" + "_".join(parts[:n]) + "_value"
            if column in row:
                return row[column]
        return row.get(name)

    def _all(self, url: str | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while url:
            body = self.http.get(url).json()
            out += body["value"]
            url = body.get("@odata.nextLink")
        return out

    def rows(self, obj: str, ext: str, source_object: str, fields: list[str]) -> dict[str, dict[str, Any]]:
        entity_set, pk = self._meta(obj)
        found = self._all(f"{entity_set}?$filter=startswith({ext},'{encode_key(source_object + ':')}')")
        return {decode_key(str(r[ext])): {**{f: self._lookup(r, f) for f in fields}, "Id": r[pk]} for r in found}

    def ids(self, obj: str) -> set[str]:
        entity_set, pk = self._meta(obj)
        return {str(r[pk]) for r in self._all(f"{entity_set}?$select={pk}")}

    def edit(self, obj: str, dest_id: str, field: str, value: Any) -> None:
        entity_set, _ = self._meta(obj)
        self.http.patch(f"{entity_set}({dest_id})", json={field: value}, headers={"If-Match": "*"}).raise_for_status()


def _connect(s: RunningStandin) -> DynamicsDestination:
    c = s.info["credentials"]
    return DynamicsDestination(s.url, s.info["tenant_id"], c["client_id"], c["client_secret"],
                               ca_pem=Path(s.ca_path).read_text())


KIT = DestinationKit(
    name="dynamics",
    start=lambda d: start_standin("dynamics", ["--state", str(d / "env.sqlite")]),
    connect=_connect,
    writable_object="account",
    required={"name": "Contract Test Co"},  # ApplicationRequired: not enforced by the platform
    text_field="description",
    ext_field="flit_contractkey",
    required_on_create=("incident", ["title"]),  # SystemRequired
    refused={"name": "x" * 200},  # longer than the column's MaxLength (160)
    missing_object="flit_nosuchtable",
    probe=DataverseProbe,
    # $batch PATCHes (no bulk asked), UpsertMultiple (3 requests of 1,000 targets), a small bulk load ($batch)
    write_sizes=[("one-batch", 250, False), ("upsertmultiple", 2_100, True), ("small-bulk", 60, True)],
    # WinOpportunity / LoseOpportunity without actualend stamp actualclosedate with the day of the write
    state=StateRules(rows=sql_rows("SELECT tbl, id, data FROM records"),
                     volatile=frozenset({"versionnumber", "ticketnumber"}),
                     stamped_dates=frozenset({"actualclosedate"})),
)

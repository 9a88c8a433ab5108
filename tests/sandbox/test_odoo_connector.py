"""Our Odoo connector against the Odoo stand-in over real HTTPS, on 17, 18 and 19, read back with
``xmlrpc.client`` (never the connector) where the test checks what the database holds.

What is pinned here and nowhere else: the transport chosen from the server's version, idempotent
upserts through ``ir.model.data`` external ids, a batch refused as a whole split into per-record
results, dropped connections retried without duplicates, Odoo's empty ``False`` and many2one pairs,
and rollback deletes taking the external ids with them.
"""

from __future__ import annotations

import ssl
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.serve import RunningStandin
from shared.connectors.destination import ID
from shared.connectors.odoo.capabilities import XMLID_MODULE
from shared.connectors.odoo.client import OdooDestination, xmlid_name
from shared.errors import AuthenticationError
from shared.mapping.spec import CustomFieldSpec

VERSIONS = (17, 18, 19)
KEY = "x_sercomid"


def connect(standin: RunningStandin, key: str | None = None) -> OdooDestination:
    c = standin.info["credentials"]
    return OdooDestination(standin.url, c["db"], c["login"], key or c["api_key"],
                           ca_pem=Path(standin.ca_path).read_text())


class Rpc:
    """``xmlrpc.client`` as Odoo's docs use it: the independent reader."""

    def __init__(self, standin: RunningStandin) -> None:
        c = standin.info["credentials"]
        ctx = ssl.create_default_context(cafile=standin.ca_path)
        self.db, self.key = c["db"], c["api_key"]
        self.uid = xmlrpc.client.ServerProxy(f"{standin.url}/xmlrpc/2/common", context=ctx).authenticate(
            self.db, c["login"], self.key, {})
        self.models = xmlrpc.client.ServerProxy(f"{standin.url}/xmlrpc/2/object", context=ctx)

    def __call__(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.models.execute_kw(self.db, self.uid, self.key, model, method, list(args), kwargs)


@pytest.fixture(scope="module", params=VERSIONS, ids=lambda v: f"odoo{v}")
def conn(request: pytest.FixtureRequest, odoo_standins: Any) -> Iterator[tuple[RunningStandin, OdooDestination]]:
    standin = odoo_standins(request.param)
    dest = connect(standin)
    if KEY not in dest.fields_of("res.partner", refresh=True):
        dest.create_custom_field(CustomFieldSpec(object="res.partner", name=KEY, label="Sercom Id", type="Text",
                                                 external_id=True))
    yield standin, dest
    dest.close()


def test_transport_follows_the_server_version(conn: tuple[RunningStandin, OdooDestination]) -> None:
    standin, dest = conn
    version = int(standin.info["version"].split(".")[0])
    assert dest.version == version
    assert dest.transport.name == ("json2" if version >= 19 else "xmlrpc")
    assert dest.limits_report() == {"version": version, "transport": dest.transport.name}


def test_upsert_registers_external_ids_and_a_rerun_creates_nothing(conn: tuple[RunningStandin, OdooDestination]
                                                                   ) -> None:
    standin, dest = conn
    rpc = Rpc(standin)
    records = [{"name": f"Acme {i}", "is_company": True, KEY: f"customers:u{i}", "comment": None} for i in range(120)]
    writes = dest.write_calls
    first = dest.upsert("res.partner", KEY, records, allow_bulk=True)
    assert all(r.ok and r.created for r in first)
    # 120 records: three creates of 50 and one call registering their external ids
    assert dest.write_calls - writes == 3 + 1
    xids = rpc("ir.model.data", "search_read", [["module", "=", XMLID_MODULE],
                                                ["name", "=like", "res\\_partner\\_\\_customers\\_u%"]],
               ["name", "res_id", "model"])
    assert {x["name"]: x["res_id"] for x in xids} == {xmlid_name("res.partner", r.key): int(r.id or 0) for r in first}
    assert rpc("ir.model.data", "check_object_reference", XMLID_MODULE,
               xmlid_name("res.partner", "customers:u0"))[1] == int(first[0].id or 0)
    # GIVEN one changed record WHEN the same batch is upserted again THEN nothing is created, one write
    writes = dest.write_calls
    again = dest.upsert("res.partner", KEY, [{**r, "name": "Changed"} if r[KEY] == "customers:u3" else r
                                             for r in records], allow_bulk=True)
    assert [r.id for r in again] == [r.id for r in first] and not any(r.created for r in again)
    assert dest.write_calls - writes == 1
    assert rpc("res.partner", "search_count", [[KEY, "=like", "customers:u%"]]) == 120
    assert rpc("res.partner", "read", [int(again[3].id or 0)], ["name"])[0]["name"] == "Changed"


def test_a_refused_record_gets_its_own_result_and_the_rest_land(conn: tuple[RunningStandin, OdooDestination]) -> None:
    standin, dest = conn
    records = [{"name": f"Batch {i}", KEY: f"customers:b{i}"} for i in range(10)]
    records[4] = {"name": False, KEY: "customers:b4"}  # "Contacts require a name"
    records[7] = {"name": "Bad country", "country_id": "999999", KEY: "customers:b7"}
    results = {r.key: r for r in dest.upsert("res.partner", KEY, records, allow_bulk=False)}
    bad = {k for k, r in results.items() if not r.ok}
    assert bad == {"customers:b4", "customers:b7"}
    assert dest.capabilities.reason(results["customers:b4"].error_code) == "missing_required"
    assert dest.capabilities.reason(results["customers:b7"].error_code) == "missing_reference"
    assert len(Rpc(standin)("res.partner", "search", [[KEY, "=like", "customers:b%"]])) == 8


def test_empty_is_false_and_many2one_reads_back_as_its_id(conn: tuple[RunningStandin, OdooDestination]) -> None:
    standin, dest = conn
    [parent] = dest.upsert("res.partner", KEY, [{"name": "Parent Co", "is_company": True, KEY: "customers:p1"}],
                           allow_bulk=False)
    [child] = dest.upsert("res.partner", KEY, [{"name": "Depot", "type": "other", "parent_id": parent.id,
                                                "email": None, KEY: "locations:p1"}], allow_bulk=False)
    row = dest.retrieve("res.partner", [child.id or ""], ["parent_id", "email", "type"])[0]
    assert row == {ID: child.id, "parent_id": parent.id, "email": None, "type": "other"}
    held = Rpc(standin)("res.partner", "read", [int(child.id or 0)], ["parent_id", "email"])[0]
    assert held["parent_id"][0] == int(parent.id or 0) and held["email"] is False


def test_dropped_connections_are_retried_without_duplicates(conn: tuple[RunningStandin, OdooDestination],
                                                            odoo_knobs: Any) -> None:
    standin, dest = conn
    odoo_knobs(standin, fault_drop_rate=0.3, fault_seed=3)
    records = [{"name": f"Flaky {i}", KEY: f"customers:f{i}"} for i in range(150)]
    results = dest.upsert("res.partner", KEY, records, allow_bulk=True)
    odoo_knobs(standin, fault_drop_rate=0.0)
    assert all(r.ok for r in results) and len({r.id for r in results}) == 150
    assert Rpc(standin)("res.partner", "search_count", [[KEY, "=like", "customers:f%"]]) == 150


def test_wrong_key_is_an_authentication_error(conn: tuple[RunningStandin, OdooDestination]) -> None:
    standin, _ = conn
    with pytest.raises(AuthenticationError):
        connect(standin, key="not-the-key")


@pytest.mark.parametrize("version", [17, 19])
def test_online_without_the_custom_plan_is_an_authentication_error_naming_the_plan(
        odoo_standins: Any, odoo_knobs: Any, version: int) -> None:
    """Seed 004's gotcha: Odoo Online refuses the external API below the Custom plan (fault 3 / JSON-2 403)."""
    standin = odoo_standins(version)
    odoo_knobs(standin, online=True, online_plan="standard")
    with pytest.raises(AuthenticationError, match="Custom plan"):
        connect(standin)


def test_delete_removes_records_and_their_external_ids(conn: tuple[RunningStandin, OdooDestination]) -> None:
    standin, dest = conn
    made = dest.upsert("res.partner", KEY, [{"name": f"Gone {i}", KEY: f"customers:g{i}"} for i in range(3)],
                       allow_bulk=False)
    ids = [r.id or "" for r in made]
    assert all(r.ok for r in dest.delete_records("res.partner", ids))
    assert all(r.ok for r in dest.delete_records("res.partner", ids))  # already gone: converges
    assert dest.existing_ids("res.partner", ids) == set()
    assert dest.find_by_key("res.partner", KEY, [r.key for r in made]) == {}
    assert Rpc(standin)("ir.model.data", "search_count", [["module", "=", XMLID_MODULE],
                                                          ["res_id", "in", [int(i) for i in ids]],
                                                          ["model", "=", "res.partner"]]) == 0


def test_a_create_whose_external_id_was_lost_is_found_by_its_key(conn: tuple[RunningStandin, OdooDestination]
                                                                 ) -> None:
    # GIVEN a record created by an earlier attempt whose external id was never written
    standin, dest = conn
    rid = Rpc(standin)("res.partner", "create", {"name": "Half done", KEY: "customers:h1"})
    # WHEN it is upserted THEN the record is adopted (and registered), not duplicated
    [res] = dest.upsert("res.partner", KEY, [{"name": "Half done", KEY: "customers:h1"}], allow_bulk=False)
    assert res.ok and not res.created and res.id == str(rid)
    assert dest.find_by_key("res.partner", KEY, ["customers:h1"]) == {"customers:h1": str(rid)}

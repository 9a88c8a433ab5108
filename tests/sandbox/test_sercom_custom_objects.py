"""Sercom's custom objects: the dump format carries them, the stand-in serves them, the connector discovers them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from sandbox.sercom.dump import DumpError, read_dump, write_dump
from sandbox.sercom.generator import generate_tenant
from sandbox.serve import start_standin
from shared.connectors.sercom.client import SercomSource


def test_a_tailored_tenant_round_trips_through_its_dump(tmp_path: Path) -> None:
    tenant = generate_tenant(200, 4, tailored=True)
    back = read_dump(write_dump(tenant, tmp_path / "dump"))
    assert [c.name for c in back.custom_objects] == ["site_inspections", "vehicles"]
    assert back.counts() == tenant.counts() and back.counts()["site_inspections"] > 0
    assert back.records["vehicles"] == tenant.records["vehicles"]
    keys = {d.key for d in back.custom_fields}
    assert {"cust_fax_no", "nb_employes", "Geburtsdatum", "asst_nm"} <= keys


def test_a_bad_custom_object_is_refused_naming_the_place(tmp_path: Path) -> None:
    dump = write_dump(generate_tenant(200, 4, tailored=True), tmp_path / "dump")
    defs = json.loads((dump / "custom_objects.json").read_text())
    defs[0]["name"] = "customers"  # taken by a standard object
    defs[1]["fields"][0]["type"] = "reference"  # a reference without its target
    (dump / "custom_objects.json").write_text(json.dumps(defs))
    with pytest.raises(DumpError) as err:
        read_dump(dump)
    text = str(err.value)
    assert "custom_objects.json" in text and "'customers'" in text and "references" in text


def test_the_standin_serves_custom_objects_and_the_connector_discovers_them(tmp_path: Path) -> None:
    dump = write_dump(generate_tenant(200, 4, tailored=True), tmp_path / "dump")
    standin = start_standin("sercom", ["--state", str(tmp_path / "s.sqlite"), "--tenant", str(dump),
                                       "--rate-limit-per-s", "0"])
    try:
        source = SercomSource(standin.url, standin.info["api_key"], Path(standin.ca_path).read_text())
        catalog = source.catalog()
        inspections = catalog.object("site_inspections")
        assert inspections.custom and inspections.count == source.count("site_inspections")
        assert {f.name: f.references for f in inspections.fields}["cust"] == "customers"
        rows = source.read_all("site_inspections")
        assert len(rows) == inspections.count and rows[0]["id"].startswith("ins_")
        customers = catalog.object("customers")
        assert "nb_employes" in {f.name for f in customers.fields if f.custom}
        # an object the tenant does not have is refused like any unknown object, listing the tenant's own
        resp = httpx.get(f"{standin.url}/api/v1/boats", headers={"X-Api-Key": standin.info["api_key"]},
                         verify=standin.ca_path)
        assert resp.status_code == 404 and "site_inspections" in resp.text
        source.close()
    finally:
        standin.stop()

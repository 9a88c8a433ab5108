"""Workflow (issue 13 acceptance): a tenant with custom objects and renamed custom fields, for every destination.

GIVEN a generated Sercom tenant "tailored" by its admins (custom fields named ``cust_fax_no``,
``nb_employes``, ``Geburtsdatum``, ``asst_nm``..., and the custom objects ``site_inspections`` and
``vehicles``), WHEN it migrates through the real ASL on moto into each destination's stand-in, THEN
every field of every source object is accounted for in ``proposals.json``: placed by the pair, placed by a
confident proposal, or listed as skipped or waiting, with a reason; none is missing. The proposals the run
applied are real: the custom objects' records are in the destination with their values and their lookup
to the migrated customer, and a custom field moved onto an existing field holds the source value there
(read back with the destination's independent probe). An edit made at the mapping sign-off is proposed
first when the same tenant is discovered again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flitstack.runtime import LocalRuntime, local_environment
from sandbox.sercom.dump import write_dump
from sandbox.sercom.generator import DirtyKnobs, generate_tenant
from shared.mapping.spec import MigrationSpec
from shared.models import RunOptions, SourceCatalog
from tests.workflow.conftest import PAIRS, Probe, api_wait, pair_id, s3_json

pytestmark = pytest.mark.slow
RECORDS = 120
SERCOM_PAIRS = [p for p in PAIRS if p[0] == "sercom"]


@pytest.fixture(scope="module", params=SERCOM_PAIRS, ids=pair_id)
def rt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    source, destination = request.param
    folder: Path = tmp_path_factory.mktemp(f"tailored-{destination}")
    local_environment(folder / "lambda.jsonl")
    dump = write_dump(generate_tenant(RECORDS, 31, DirtyKnobs.clean(), tailored=True), folder / "tenant")
    with LocalRuntime(folder=folder, tenant=dump, seed=31, source=source, destination=destination) as runtime:
        yield runtime


def _migrate(rt: LocalRuntime, run_id: str) -> tuple[MigrationSpec, dict[str, Any], SourceCatalog]:
    desc = rt.wait(rt.start_migration(rt.run_ref(run_id, RunOptions(batch_size=500))), timeout_s=900)
    assert desc["status"] == "SUCCEEDED", desc
    spec = MigrationSpec.model_validate(s3_json(rt, f"runs/{run_id}/spec.json"))
    proposals = s3_json(rt, f"runs/{run_id}/reports/proposals.json")
    catalog = SourceCatalog.model_validate(s3_json(rt, f"runs/{run_id}/discovery/source-catalog.json"))
    return spec, proposals, catalog


def _same(landed: Any, value: Any) -> bool:
    """The destination's spelling of the source value (numbers as numbers, dates maybe with a time)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(landed) == float(value)
    return str(landed).strip().startswith(str(value).strip())


def test_every_field_is_mapped_or_listed_and_the_proposals_land(rt: LocalRuntime) -> None:
    spec, proposals, catalog = _migrate(rt, "tailored-1")

    # every source field has exactly one status, with a reason when it is not migrated
    listed = {(f["source_object"], f["source"]): f for f in proposals["fields"]}
    expected = {(o.name, f"custom_fields.{f.name}" if f.custom else f.name) for o in catalog.objects for f in o.fields}
    assert expected <= set(listed), sorted(expected - set(listed))
    for key, f in listed.items():
        assert f["status"] in ("pair", "applied", "skipped", "flagged"), key
        if f["status"] in ("skipped", "flagged"):
            assert f["reasons"], key
    # an applied field is in the spec the run executed, where the report says
    rules = {(m.source_object, r.source, m.dest_object, r.dest) for m in spec.mappings for r in m.fields}
    rules |= {(m.source_object, lk.source, m.dest_object, lk.dest) for m in spec.mappings for lk in m.lookups}
    for key, f in listed.items():
        if f["status"] == "applied" and f["dest"]:  # (a new object's id and times: the external id, timestamps)
            assert (key[0], key[1], f["dest_object"], f["dest"]) in rules, (key, f)
        if f["status"] in ("skipped", "flagged"):
            assert not any(r[0] == key[0] and r[1] == key[1] for r in rules), key

    # a custom-field key the records hold but the schema does not declare was found by sampling, and migrated
    undeclared = [f for f in proposals["fields"] if f["source"] == "custom_fields.legacy_ref"]
    assert undeclared and all(f["status"] == "applied" for f in undeclared), undeclared

    # the tenant's objects became custom objects: every record there, values and lookups included
    objects = {o["source_object"]: o for o in proposals["objects"]}
    assert objects["site_inspections"]["status"] == objects["vehicles"]["status"] == "applied"
    probe = Probe(rt)
    tenant = rt.source_client()
    inspections = tenant.read_all("site_inspections")
    m = next(m for m in spec.mappings if m.source_object == "site_inspections")
    by_source = {r.source: r.dest for r in m.fields}
    lookup = m.lookups[0]
    rows = probe.rows(m.dest_object, spec.external_id_field, "site_inspections",
                      [by_source["insp_notes"], by_source["rslt"], lookup.dest])
    assert len(rows) == len(inspections)
    for rec in inspections:
        row = rows[f"site_inspections:{rec['id']}"]
        assert row[by_source["insp_notes"]] == rec["insp_notes"]
        assert row[lookup.dest] not in (None, "", False, []), rec  # linked to the migrated customer

    # a renamed custom field moved onto an existing standard field holds the source value there
    moved = [f for f in proposals["fields"] if f["status"] == "applied" and not f["new_field"]
             and f["source"].startswith("custom_fields.")]
    for f in moved:
        mapping = next(x for x in spec.mappings if x.source_object == f["source_object"]
                       and x.dest_object == f["dest_object"])
        got = probe.rows(mapping.dest_object, spec.external_id_field, f["source_object"], [f["dest"]])
        source_rows = {r["id"]: r for r in tenant.read_all(f["source_object"])}
        key = f["source"].removeprefix("custom_fields.")
        checked = 0
        for ext, row in got.items():
            value = (source_rows[ext.split(":", 1)[1]].get("custom_fields") or {}).get(key)
            if value not in (None, "") and row.get(f["dest"]) not in (None, ""):
                assert _same(row[f["dest"]], value), (f, row, value)
                checked += 1
        assert checked, f


def test_an_edit_at_the_mapping_sign_off_is_proposed_first_next_run(rt: LocalRuntime) -> None:
    api = rt.start_api()
    client = httpx.Client(base_url=api["url"], headers={"x-api-key": api["api_key"]}, timeout=60, trust_env=False)

    def start_and_wait(run_id: str) -> dict[str, Any]:
        ref = rt.run_ref(run_id)
        body = {"run_id": run_id, "source": ref.source.model_dump(), "destination": ref.destination.model_dump(),
                "options": {"approval": "manual", "approvers": ["ops@example.com"], "batch_size": 500}}
        assert client.post("/migrations", json=body).status_code == 202
        api_wait(client, run_id, lambda v: v["state"] == "awaiting_approval"
                 and v["current_step"] == "Awaiting mapping sign-off")
        return dict(client.get(f"/migrations/{run_id}/mapping").json()["spec"])

    # GIVEN a person removes the tenant's gate code from the proposed mapping at the first run's sign-off
    spec = start_and_wait("tailored-edit-1")
    for m in spec["mappings"]:
        m["fields"] = [f for f in m["fields"] if f.get("source") != "custom_fields.gate_code"]
    assert client.put("/migrations/tailored-edit-1/mapping", json=spec).status_code == 200
    assert client.post("/migrations/tailored-edit-1/reject", json={"reason": "trying the mapping"}).status_code < 300
    # WHEN the same tenant is discovered again
    again = start_and_wait("tailored-edit-2")
    # THEN the person's choice is proposed first, and said to be theirs
    assert not any(f.get("source") == "custom_fields.gate_code" for m in again["mappings"] for f in m["fields"])
    gate = [f for f in s3_json(rt, "runs/tailored-edit-2/reports/proposals.json")["fields"]
            if f["source"] == "custom_fields.gate_code"]
    assert gate and all(f["status"] == "skipped" and f["origin"] == "remembered" for f in gate), gate
    assert "tailored-edit-1" in gate[0]["reasons"][0]
    client.post("/migrations/tailored-edit-2/reject", json={"reason": "done"})

"""The complexity grade and estimate before any credentials: the domain, `flitstack estimate` and `POST /estimates`.

GIVEN record counts (typed in, or counted from a tenant dump) and a pair
WHEN the estimate is asked through the CLI or the HTTP API (served on loopback, with its API key)
THEN it grades from the pair's object table, prices loads with the destination's own cost model, projects
days at quota from the allowance, and refuses bad input naming the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flitstack.cli import main
from flitstack.local.api_server import RunningApi, start_api_server
from sandbox.sercom.dump import write_dump
from sandbox.sercom.generator import generate_tenant
from shared.connectors import registry
from shared.domain.estimate import counts_from_dump
from shared.estimates import EstimateRequest
from shared.estimates import estimate_request as estimate
from shared.mapping.spec import MigrationSpec
from shared.pairs import for_pair, pairs

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("pair", pairs())
def test_each_pairs_object_table_is_what_its_spec_proposes(pair: str) -> None:
    """The table the estimate reads without credentials cannot drift from the spec discovery proposes."""
    spec = MigrationSpec.model_validate(json.loads((ROOT / f"tests/golden/{pair}.json").read_text())["spec"])
    template = for_pair(pair)
    proposed: dict[str, set[str]] = {}
    for m in spec.mappings:
        proposed.setdefault(m.source_object, set()).add(m.dest_object)
    tenant_defined = {o for o in proposed if o.startswith("custom_")}  # a tenant's own tables: not in any table
    assert {o: set(d) for o, d in template.OBJECT_TABLE.items()} == {
        o: d for o, d in proposed.items() if o not in tenant_defined}
    created = {o.name for o in spec.custom_objects}
    assert set(template.CREATED_OBJECTS) <= created
    assert created - set(template.CREATED_OBJECTS) <= {d for o in tenant_defined for d in proposed[o]}


def test_grade_prices_and_days_at_quota_come_from_the_pair_and_the_destinations_cost_model() -> None:
    req = EstimateRequest(source="sercom", destination="salesforce", api_budget_per_day=1_000,
                          counts={"customers": 25_000, "work_orders": 2_500, "widgets": 7})
    est = estimate(req)
    rows = {r.object: r for r in est.objects}
    assert rows["customers"].compatibility == "merged"  # locations land in Account too
    assert rows["work_orders"].compatibility == "split" and rows["work_orders"].lands_in == ["Case", "Work_Order__c"]
    assert rows["widgets"].compatibility == "not in the pair's table" and rows["widgets"].calls == 0
    sf = registry.destination("salesforce")
    # 25,000 accounts: loads of 10,000 (bulk_batch_max), each one Bulk job (6 calls).
    assert rows["customers"].loads == 3 and rows["customers"].calls == 3 * sf.write_cost("Account", 10_000, True).calls
    assert est.quota.unit == "API calls" and est.quota.needed == est.calls
    assert est.quota.usable_per_day == 950  # 5 % kept for the org's other integrations
    assert est.quota.days_at_quota == math.ceil(est.calls / 950)
    assert est.grade in ("C", "D") and any("widgets" in r for r in est.reasons)
    small = estimate(EstimateRequest(source="sercom", destination="salesforce", counts={"products": 40}))
    assert small.grade == "A" and small.objects[0].compatibility == "1:1" and small.calls == 1
    odoo = estimate(EstimateRequest(source="sercom", destination="odoo", counts={"customers": 40}))
    assert odoo.quota.days_at_quota is None and "no API quota" in odoo.quota.note
    zoho = estimate(EstimateRequest(source="sercom", destination="zoho", counts={"contacts": 1_000}))
    assert zoho.quota.unit == "API credits" and zoho.quota.needed == 2 * 100  # Contacts and Leads, 1 credit / 10


def test_cli_estimates_typed_counts_and_a_dump(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenant = generate_tenant(300, seed=3)
    write_dump(tenant, tmp_path / "dump")
    counts, files = counts_from_dump(tmp_path / "dump")
    assert {k: v for k, v in counts.items() if v} == {k: v for k, v in tenant.counts().items() if v}
    assert files == sum(len(b) for b in tenant.attachment_content.values())
    assert main(["estimate", "--dest", "dynamics", "--tenant", str(tmp_path / "dump"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pair"] == "sercom-dynamics" and out["records"] == sum(counts.values()) and out["files_bytes"] == files
    assert out["quota"]["model"] == "rolling_requests" and out["quota"]["days_at_quota"] is None
    assert main(["estimate", "--count", "customers=12", "--count", "Work Orders=3"]) == 2
    assert "counts: " in capsys.readouterr().err
    assert main(["estimate", "--source", "servicetracker", "--dest", "odoo", "--count", "clients=1"]) == 2
    assert "destination: " in capsys.readouterr().err


@pytest.fixture(scope="module")
def api() -> Iterator[RunningApi]:
    server = start_api_server()
    yield server
    server.stop()


def _post(api: RunningApi, body: Any) -> httpx.Response:
    return httpx.post(f"{api.url}/estimates", json=body, headers={"x-api-key": api.api_key}, timeout=30)


def test_post_estimates_answers_the_same_estimate_and_names_bad_fields(api: RunningApi) -> None:
    body = {"source": "sercom", "destination": "zoho", "counts": {"customers": 60_000, "attachments": 500},
            "api_budget_per_day": 1_000}
    resp = _post(api, body)
    assert resp.status_code == 200, resp.text
    assert resp.json() == json.loads(estimate(EstimateRequest.model_validate(body)).model_dump_json())
    assert resp.json()["quota"]["days_at_quota"] > 1
    for bad, field in (({**body, "counts": {}}, "counts"), ({**body, "destination": "hubspot"}, "destination"),
                       ({**body, "counts": {"customers": -1}}, "counts"), ({**body, "colour": 1}, "colour"),
                       ({**body, "seconds_per_call": 0}, "seconds_per_call")):
        refused = _post(api, bad)
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["error"] == "invalid_request"
        assert field in {e["field"] for e in refused.json()["errors"]}, refused.json()
    assert httpx.post(f"{api.url}/estimates", json=body, timeout=30).status_code == 403  # no key, no answer

"""The Sercom stand-in over real HTTPS: auth, paging, filters, limits, files, mutations.

One stand-in process serves a small generated tenant for the whole module; what it
should contain is regenerated in-process (the generator is deterministic), so every
assertion compares the API with the tenant it was built from.
"""

from __future__ import annotations

import base64
import hashlib
import random
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.sercom.dump import write_dump
from sandbox.sercom.generator import DirtyKnobs, generate_tenant
from sandbox.sercom.model import OBJECT_ORDER, OBJECTS, Tenant
from sandbox.sercom.store import FILE_CHUNK
from sandbox.serve import RunningStandin, start_standin

RECORDS, SEED, API_KEY = 1500, 11, "test-key-sercom"


@pytest.fixture(scope="module")
def expected() -> Tenant:
    return generate_tenant(RECORDS, SEED, DirtyKnobs())


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStandin]:
    folder = tmp_path_factory.mktemp("sercom")
    running = start_standin("sercom", [
        "--state", str(folder / "state.db"), "--records", str(RECORDS), "--seed", str(SEED),
        "--api-key", API_KEY, "--rate-limit-per-s", "0", "--tls-dir", str(folder / "tls"),
    ])
    yield running
    running.stop()


def _client(standin: RunningStandin, key: str | None = API_KEY) -> httpx.Client:
    headers = {"X-Api-Key": key} if key else {}
    return httpx.Client(base_url=standin.url, verify=ssl.create_default_context(cafile=standin.ca_path),
                        headers=headers, timeout=30)


@pytest.fixture(scope="module")
def api(standin: RunningStandin) -> Iterator[httpx.Client]:
    with _client(standin) as client:
        yield client


def _page_all(api: httpx.Client, obj: str, limit: int = 200, **params: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": limit, **params}
    while True:
        resp = api.get(f"/api/v1/{obj}", params=query)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        out.extend(body["data"])
        assert body["has_more"] == (body["next_cursor"] is not None)
        if not body["has_more"]:
            return out
        query["cursor"] = body["next_cursor"]


@pytest.fixture()
def knobs(api: httpx.Client) -> Iterator[None]:
    """Tests that change knobs get them restored afterwards."""
    before = api.get("/__standin/config").json()
    yield
    assert api.post("/__standin/config", json=before).status_code == 200


def test_info_line(standin: RunningStandin, expected: Tenant) -> None:
    assert standin.info["kind"] == "sercom" and standin.info["api_key"] == API_KEY
    assert standin.info["records"] == expected.counts()
    assert Path(standin.info["state_path"]).exists()


def test_auth_required(standin: RunningStandin) -> None:
    for key in (None, "wrong-key"):
        with _client(standin, key) as client:
            resp = client.get("/api/v1/customers")
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "unauthorized"
    with _client(standin, None) as client:
        assert client.get("/__standin/stats").status_code == 401


def test_every_record_exactly_once(api: httpx.Client, expected: Tenant) -> None:
    for obj in OBJECT_ORDER:
        rows = _page_all(api, obj, limit=97)
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), obj
        assert {r["id"]: r for r in rows} == {r["id"]: r for r in expected.records[obj]}, obj
        keys = [(r["updated_at"], r["id"]) for r in rows]
        assert keys == sorted(keys), obj
        assert api.get(f"/api/v1/{obj}/count").json() == {"object": obj, "count": len(ids)}


def test_jobs_alias_and_single_record(api: httpx.Client, expected: Tenant) -> None:
    jobs = _page_all(api, "jobs", limit=1000)
    assert [j["id"] for j in jobs] == [w["id"] for w in _page_all(api, "work_orders", limit=1000)]
    wo = expected.records["work_orders"][0]
    assert api.get(f"/api/v1/jobs/{wo['id']}").json() == wo
    assert api.get(f"/api/v1/work_orders/{wo['id']}").json() == wo
    missing = api.get("/api/v1/work_orders/wo_999999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_updated_since_and_before_partition(api: httpx.Client, expected: Tenant) -> None:
    stamps = sorted(r["updated_at"] for r in expected.records["work_orders"])
    pivot = stamps[len(stamps) // 2]
    newer = _page_all(api, "work_orders", limit=50, updated_since=pivot)
    older = _page_all(api, "work_orders", limit=50, updated_before=pivot)
    assert all(r["updated_at"] >= pivot for r in newer) and all(r["updated_at"] < pivot for r in older)
    assert len(newer) + len(older) == len(stamps)
    assert len(newer) == sum(s >= pivot for s in stamps)
    count = api.get("/api/v1/work_orders/count", params={"updated_since": pivot}).json()["count"]
    assert count == len(newer)
    window = _page_all(api, "work_orders", updated_since=stamps[10], updated_before=stamps[20])
    assert len(window) == sum(stamps[10] <= s < stamps[20] for s in stamps)


def test_bad_parameters(api: httpx.Client) -> None:
    cases = [
        ({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"), ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"), ({"updated_since": "yesterday"}, "updated_since"),
        ({"updated_before": "2024-01-01T00:00:00"}, "updated_before"), ({"updatedSince": "x"}, "updatedSince"),
    ]
    for params, field in cases:
        resp = api.get("/api/v1/customers", params=params)
        assert resp.status_code == 400, params
        assert resp.json()["error"]["code"] == "invalid_parameter" and resp.json()["error"]["field"] == field
    cursor = api.get("/api/v1/customers", params={"limit": 1}).json()["next_cursor"]
    wrong = api.get("/api/v1/contacts", params={"cursor": cursor})
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "cursor"
    unknown = api.get("/api/v1/widgets")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_object"


def test_schema_describes_contract(api: httpx.Client, expected: Tenant) -> None:
    schema = api.get("/api/v1/schema").json()
    by_name = {o["name"]: o for o in schema["objects"]}
    assert list(by_name) == list(OBJECT_ORDER)
    for name, spec in OBJECTS.items():
        assert [f["name"] for f in by_name[name]["fields"]] == spec.field_names()
        assert by_name[name]["count"] == expected.counts()[name]
    wo_fields = {f["name"]: f for f in by_name["work_orders"]["fields"]}
    assert wo_fields["asset_id"]["references"] == "assets"
    assert "on_hold" in wo_fields["status"]["picklist_values"]
    note_parent = {f["name"]: f for f in by_name["notes"]["fields"]}["parent_id"]
    assert note_parent["polymorphic"]["targets"]["work_order"] == "work_orders"
    assert {d["key"] for d in by_name["customers"]["custom_fields"]} >= {"contract_tier", "customer_since",
                                                                         "credit_limit"}
    assert len(schema["automation_rules"]) == len(expected.automation_rules)
    assert api.get("/api/v1/custom_fields", params={"object": "jobs"}).json()["data"] == \
        by_name["work_orders"]["custom_fields"]
    assert len(api.get("/api/v1/automation_rules").json()["data"]) == len(expected.automation_rules)


def test_attachment_bytes(api: httpx.Client, expected: Tenant) -> None:
    for att in expected.records["attachments"][:15]:
        resp = api.get(f"/api/v1/attachments/{att['id']}/content")
        assert resp.status_code == 200
        assert hashlib.sha256(resp.content).hexdigest() == att["sha256"]
        assert int(resp.headers["content-length"]) == att["size_bytes"]
        assert resp.headers["content-type"].split(";")[0] == att["content_type"]


def test_a_file_larger_than_a_read_streams_intact(api: httpx.Client) -> None:
    # GIVEN an attachment several times the store's read size (generated files are at most 20 KB)
    content = random.Random(7).randbytes(5 * FILE_CHUNK + 123)
    made = api.post("/__standin/records/attachments", json={
        "parent_type": "customer", "parent_id": "cus_000001", "file_name": "survey.pdf",
        "content_type": "application/pdf", "content_base64": base64.b64encode(content).decode()})
    assert made.status_code == 201
    # WHEN it is downloaded, THEN every byte arrives, with its declared length
    with api.stream("GET", f"/api/v1/attachments/{made.json()['id']}/content") as resp:
        assert resp.status_code == 200 and int(resp.headers["content-length"]) == len(content)
        assert b"".join(resp.iter_bytes()) == content


def test_rate_limit_429_with_retry_after(api: httpx.Client, knobs: None) -> None:
    api.post("/__standin/config", json={"rate_limit_per_s": 5})
    statuses = [api.get("/api/v1/pipeline_stages/count") for _ in range(12)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and sum(r.status_code == 200 for r in statuses) <= 5
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json()["error"]["code"] == "rate_limited"
    assert api.get("/__standin/stats").json()["rate_limited"] >= len(limited)  # admin is not limited
    time.sleep(1.05)
    assert api.get("/api/v1/pipeline_stages/count").status_code == 200


def test_fault_injection(api: httpx.Client, knobs: None) -> None:
    api.post("/__standin/config", json={"fault_5xx_rate": 1.0, "fault_seed": 3})
    resp = api.get("/api/v1/customers/count")
    assert resp.status_code in (500, 502, 503) and "error" in resp.json()
    bad = api.post("/__standin/config", json={"fault_5xx_rate": 2})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "fault_5xx_rate"


def test_cursor_stable_under_concurrent_changes(api: httpx.Client) -> None:
    before = {r["id"] for r in _page_all(api, "notes", limit=1000)}
    first = api.get("/api/v1/notes", params={"limit": 25}).json()
    seen = [r["id"] for r in first["data"]]
    created = api.post("/__standin/records/notes", json={
        "parent_type": "customer", "parent_id": "cus_000001", "title": "Added mid-paging", "body": "x"})
    assert created.status_code == 201
    new_id = created.json()["id"]
    moved = api.post("/__standin/records/notes", json={"id": seen[0], "title": "Edited mid-paging"})
    assert moved.status_code == 200
    rest = _page_all(api, "notes", limit=25, cursor=first["next_cursor"])
    seen += [r["id"] for r in rest]
    assert before | {new_id} == set(seen)  # nothing skipped, the new record picked up
    assert seen.count(seen[0]) == 2 and rest[-1]["title"] in ("Added mid-paging", "Edited mid-paging")


def test_admin_mutations_and_deleted(api: httpx.Client, expected: Tenant) -> None:
    deal = expected.records["deals"][3]
    start = api.get("/api/v1/deals", params={"limit": 1}).json()  # any call; then mark time
    assert start["data"]
    since = api.post("/__standin/records/deals", json={"id": deal["id"], "amount": 1234.5}).json()["updated_at"]
    assert since > deal["updated_at"]
    changed = _page_all(api, "deals", updated_since=since)
    assert [d["id"] for d in changed] == [deal["id"]] and changed[0]["amount"] == 1234.5
    assert changed[0]["name"] == deal["name"]  # fields not given are kept

    victim = expected.records["deals"][5]["id"]
    gone = api.delete(f"/__standin/records/deals/{victim}")
    assert gone.status_code == 200
    assert api.get(f"/api/v1/deals/{victim}").status_code == 404
    assert api.delete(f"/__standin/records/deals/{victim}").status_code == 404
    deleted = api.get("/api/v1/deleted/deals", params={"since": since}).json()["data"]
    assert deleted == [{"id": victim, "deleted_at": gone.json()["deleted_at"]}]
    assert api.get("/api/v1/deleted/deals", params={"since": "2999-01-01T00:00:00Z"}).json()["data"] == []
    assert api.get("/api/v1/deals/count").json()["count"] == expected.counts()["deals"] - 1
    invalid = api.post("/__standin/records/deals", json={"id": deal["id"], "amount": "lots"})
    assert invalid.status_code == 400 and invalid.json()["error"]["field"] == "amount"


def test_serves_dump_directory_and_reuses_state(tmp_path: Path) -> None:
    tenant = generate_tenant(200, seed=99, dirty=DirtyKnobs.clean(), name="acme-byo")
    dump = write_dump(tenant, tmp_path / "dump")
    args = ["--state", str(tmp_path / "s.db"), "--tls-dir", str(tmp_path / "tls"), "--rate-limit-per-s", "0"]
    running = start_standin("sercom", [*args, "--tenant", str(dump)])
    try:
        assert running.info["records"] == tenant.counts() and running.info["tenant"] == "acme-byo"
        with _client(running, running.info["api_key"]) as client:
            served = {r["id"]: r for r in _page_all(client, "customers")}
            assert served == {r["id"]: r for r in tenant.records["customers"]}
            att = tenant.records["attachments"][0]
            assert client.get(f"/api/v1/attachments/{att['id']}/content").content == \
                tenant.attachment_content[att["id"]]
            client.delete("/__standin/records/customers/cus_000001")
    finally:
        running.stop()
    again = start_standin("sercom", args)  # existing state served as is, without --tenant
    try:
        assert again.info["records"]["customers"] == tenant.counts()["customers"] - 1
        assert again.info["api_key"] == running.info["api_key"]
    finally:
        again.stop()

"""The ServiceTracker stand-in over real HTTPS, driven with plain httpx.

One stand-in process (fixture ``servicetracker_standin`` in conftest) serves a generated
tenant for the module; the generator is deterministic, so what the API should answer is
recomputed in-process and compared. Tests that tighten a knob restore the configuration
and the usage window afterwards.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.serve import RunningStandin, start_standin
from sandbox.servicetracker.dump import write_dump
from sandbox.servicetracker.files import LARGE_FILE_BYTES
from sandbox.servicetracker.generator import GeneratedTenant
from sandbox.servicetracker.model import CUSTOM_PREFIX, OBJECTS
from shared.connectors.servicetracker.client import ServiceTrackerSource

# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def expected(servicetracker_standin: RunningStandin) -> GeneratedTenant:
    info = servicetracker_standin.info
    return GeneratedTenant(sum(info["records"].values()), int(info["seed"]))


def _client(standin: RunningStandin, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=standin.url, verify=standin.ca_path, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def api(servicetracker_standin: RunningStandin) -> Iterator[httpx.Client]:
    with _client(servicetracker_standin, servicetracker_standin.info["api_token"]) as client:
        yield client


@pytest.fixture()
def knobs(api: httpx.Client) -> Iterator[Any]:
    """Set knobs for one test; configuration and usage window are restored afterwards."""
    original = api.get("/__standin/config").json()

    def set_knobs(**values: Any) -> dict[str, Any]:
        response = api.post("/__standin/config", json=values)
        assert response.status_code == 200, response.text
        return dict(response.json())

    yield set_knobs
    assert api.post("/__standin/config", json=original).status_code == 200
    assert api.post("/__standin/usage/reset").status_code == 200
    for job in api.get("/v2/exports").json()["data"]:
        api.delete(f"/v2/exports/{job['id']}")


def _follow(api: httpx.Client, url: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of a list endpoint, following ``Link: rel="next"``."""
    out: list[dict[str, Any]] = []
    response = api.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        out.extend(response.json()["data"])
        nxt = response.links.get("next")
        if not nxt:
            return out
        response = api.get(nxt["url"])


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    return dict(body[0])


def _wait_completed(api: httpx.Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        job = api.get(f"/v2/exports/{job_id}").json()
        if job["state"] != "in_progress":
            return dict(job)
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _export_all(api: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    created = api.post("/v2/exports", json=body)
    assert created.status_code == 201, created.text
    job = _wait_completed(api, created.json()["id"])
    assert job["state"] == "completed"
    rows: list[dict[str, Any]] = []
    for url in job["results"]:
        page = api.get(url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("application/x-ndjson")
        rows.extend(json.loads(line) for line in page.text.splitlines())
    assert len(rows) == job["record_count"]
    return rows


# --------------------------------------------------------------------------- auth, paging, delta, refusals


def test_info_line_and_auth(servicetracker_standin: RunningStandin, expected: GeneratedTenant) -> None:
    info = servicetracker_standin.info
    assert info["kind"] == "servicetracker" and info["records"] == expected.counts
    assert Path(info["state_path"]).exists()
    for token in (None, "wrong"):
        with _client(servicetracker_standin, token) as client:
            response = client.get("/v2/clients")
        assert response.status_code == 401 and _error(response)["errorCode"] == "INVALID_SESSION_ID"
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_page_links_serve_every_record_once_in_id_order(api: httpx.Client, expected: GeneratedTenant) -> None:
    for obj in ("work_orders", "projects", "attachments"):
        rows = _follow(api, f"/v2/{OBJECTS[obj].path}", page_size=37)
        assert [r["id"] for r in rows] == list(range(1, expected.counts[obj] + 1))
        assert rows == list(expected.records(obj)), obj
    first = api.get("/v2/work-orders", params={"page_size": 200})
    assert first.json()["meta"] == {"page": 1, "page_size": 200, "total_count": expected.counts["work_orders"],
                                    "total_pages": -(-expected.counts["work_orders"] // 200)}
    assert {"first", "next", "last"} <= set(first.links) and "prev" not in first.links
    beyond = api.get("/v2/work-orders", params={"page": 40, "page_size": 200})
    assert beyond.status_code == 200 and beyond.json()["data"] == []
    rows = _follow(api, "/v2/custom-tables/inspection_forms/records", page_size=200)
    assert rows == list(expected.records("custom.inspection_forms"))


def test_deep_pages_are_refused_toward_the_export_api(api: httpx.Client, knobs: Any) -> None:
    knobs(max_offset=300)
    ok = api.get("/v2/work-orders", params={"page": 3, "page_size": 100})
    deep = api.get("/v2/work-orders", params={"page": 4, "page_size": 100})
    assert ok.status_code == 200 and deep.status_code == 400
    assert _error(deep)["errorCode"] == "PAGE_LIMIT_EXCEEDED" and "/v2/exports" in _error(deep)["message"]


def test_modified_since_delta_and_deletions(api: httpx.Client, expected: GeneratedTenant) -> None:
    stamps = sorted(r["modified_at"] for r in expected.records("notes"))
    pivot = stamps[len(stamps) // 2]
    newer = _follow(api, "/v2/notes", modified_since=pivot, page_size=200)
    assert len(newer) == sum(s >= pivot for s in stamps) and all(r["modified_at"] >= pivot for r in newer)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    edited = api.post("/__standin/records/notes", json={"id": 3, "body": "edited after the full load"})
    created = api.post("/__standin/records/notes", json={"work_order_id": 1, "body": "new note"})
    assert edited.status_code == 200 and created.status_code == 201
    assert created.json()["id"] == expected.counts["notes"] + 1
    gone = api.delete("/__standin/records/notes/5")
    assert gone.status_code == 200
    delta = _follow(api, "/v2/notes", modified_since=since)
    assert {r["id"] for r in delta} == {3, created.json()["id"]}
    assert api.get("/v2/notes/deleted", params={"since": since}).json()["data"] == [
        {"id": 5, "deleted_at": gone.json()["deleted_at"]}]
    assert api.get("/v2/notes/5").status_code == 404
    bad = api.post("/__standin/records/notes", json={"work_order_id": 1, "body": "x", "colour": "red"})
    assert bad.status_code == 400 and _error(bad)["fields"] == ["colour"]


@pytest.mark.parametrize(("url", "params", "field"), [
    ("/v2/clients", {"modifiedSince": "2024-01-01T00:00:00Z"}, "modifiedSince"),
    ("/v2/clients", {"client_id": "3"}, "client_id"),
    ("/v2/clients", {"sort": "name"}, "sort"),
    ("/v2/clients", {"page_size": "201"}, "page_size"),
    ("/v2/clients", {"page": "0"}, "page"),
    ("/v2/clients", {"modified_since": "2024-01-01T00:00:00"}, "modified_since"),
    ("/v2/clients/1", {"fields": "name"}, "fields"),
    ("/v2/mobile/sync-status", {"unsynced": "true"}, "unsynced"),
    ("/v2/schema", {"object": "clients"}, "object"),
])
def test_unimplemented_parameters_are_refused(api: httpx.Client, url: str, params: dict[str, str],
                                              field: str) -> None:
    response = api.get(url, params=params)
    assert response.status_code == 400, response.text
    assert _error(response)["errorCode"] == "INVALID_PARAMETER" and _error(response)["fields"] == [field]


def test_unknown_resources_and_ids(api: httpx.Client) -> None:
    for url in ("/v2/widgets", "/v2/custom-tables/widgets/records", "/v2/clients/abc", "/v2/clients/999999"):
        response = api.get(url)
        assert response.status_code == 404 and _error(response)["errorCode"] == "NOT_FOUND", url
    twice = api.get("/v2/clients?page=1&page=2")
    assert twice.status_code == 400 and _error(twice)["fields"] == ["page"]


# --------------------------------------------------------------------------- the circular reference, custom fields


def test_project_work_order_cycle_holds_both_ways(api: httpx.Client) -> None:
    projects = _follow(api, "/v2/projects", page_size=200)
    work_orders = {w["id"]: w for w in _follow(api, "/v2/work-orders", page_size=200)}
    linked = 0
    for project in projects:
        for wo_id in project["work_order_ids"]:
            assert work_orders[wo_id]["project_id"] == project["id"]
            linked += 1
    by_project = [w for w in work_orders.values() if w["project_id"] is not None]
    assert linked == len(by_project) > 0
    assert all(w["id"] in projects[w["project_id"] - 1]["work_order_ids"] for w in by_project)


def test_custom_fields_missing_from_schema_are_on_records(api: httpx.Client, expected: GeneratedTenant,
                                                          knobs: Any) -> None:
    knobs(schema_hidden_custom_field_share=0.5)
    schema = api.get("/v2/schema").json()
    listed = {(o["name"], d["key"]) for o in schema["objects"] for d in o["custom_fields"]}
    defined = {(d.object, d.key): d for d in expected.custom_fields()}
    assert listed < set(defined) and len(listed) == len(defined) // 2
    assert {(d["object"], d["key"]) for d in api.get("/v2/custom-fields").json()["data"]} == listed
    sampled: dict[tuple[str, str], set[str]] = {}
    for obj in {o for o, _ in defined}:
        for rec in _follow(api, f"/v2/{OBJECTS[obj].path}", page_size=200):
            for key, value in rec["custom_fields"].items():
                if isinstance(value, str):
                    sampled.setdefault((obj, key), set()).add(value)
                else:
                    sampled.setdefault((obj, key), set())
    hidden = set(defined) - listed
    assert hidden <= set(sampled)  # every unlisted field is discoverable by sampling records
    for key in hidden:
        if defined[key].type == "dropdown":
            assert sampled[key] and sampled[key] <= set(defined[key].options)
    tables = {t["key"]: t for t in schema["custom_tables"]}
    assert set(tables) == {"signature_records", "inspection_forms", "custom_logs"}
    assert {c["type"] for c in tables["inspection_forms"]["columns"]} >= {"reference", "dropdown", "multi_select",
                                                                         "date", "number", "currency", "textarea"}


# --------------------------------------------------------------------------- bulk export


def test_export_lifecycle_snapshot_and_partitions(api: httpx.Client, expected: GeneratedTenant, knobs: Any) -> None:
    knobs(export_page_records=250, export_processing_s=0.5)
    created = api.post("/v2/exports", json={"object": "work_orders"})
    assert created.status_code == 201 and created.headers["location"] == f"/v2/exports/{created.json()['id']}"
    job_id = created.json()["id"]
    early = api.get(f"/v2/exports/{job_id}/results/1")
    assert early.status_code == 409 and _error(early)["errorCode"] == "EXPORT_NOT_READY"
    assert int(early.headers["retry-after"]) >= 1
    api.post("/__standin/records/work_orders", json={"id": 2, "summary": "changed after the export started"})
    job = _wait_completed(api, job_id)
    n = expected.counts["work_orders"]
    assert job["record_count"] == n and job["page_count"] == -(-n // 250) == len(job["results"])
    first = api.get(job["results"][0])
    assert first.headers["x-page-count"] == str(job["page_count"]) and 'rel="next"' in first.headers["link"]
    rows = [json.loads(line) for url in job["results"] for line in api.get(url).text.splitlines()]
    assert rows == list(expected.records("work_orders"))  # the snapshot predates the edit
    assert api.get(f"/v2/exports/{job_id}/results/{job['page_count'] + 1}").status_code == 404
    parts = [_export_all(api, {"object": "custom.custom_logs", "partition": {"count": 3, "index": k}})
             for k in range(3)]
    ids = sorted(r["id"] for part in parts for r in part)
    assert ids == list(range(1, expected.counts["custom.custom_logs"] + 1))
    pivot = sorted(r["modified_at"] for r in expected.records("invoices"))[40]
    window = _export_all(api, {"object": "invoices", "modified_before": pivot})
    assert {r["id"] for r in window} == {r["id"] for r in expected.records("invoices") if r["modified_at"] < pivot}


def test_export_requests_are_validated(api: httpx.Client) -> None:
    cases = [({"object": "widgets"}, "object"), ({"object": "clients", "format": "csv"}, "format"),
             ({"object": "clients", "fields": ["name"]}, "fields"),
             ({"object": "clients", "partition": {"count": 2, "index": 2}}, "partition"),
             ({"object": "clients", "modified_since": "yesterday"}, "modified_since")]
    for body, field in cases:
        response = api.post("/v2/exports", json=body)
        assert response.status_code == 400, body
        assert _error(response)["errorCode"] == "INVALID_PARAMETER" and _error(response)["fields"] == [field], body


def test_concurrent_export_limit_and_expiry(api: httpx.Client, knobs: Any) -> None:
    knobs(max_concurrent_exports=2, export_processing_s=30)
    jobs = [api.post("/v2/exports", json={"object": "clients"}) for _ in range(2)]
    assert all(j.status_code == 201 for j in jobs)
    refused = api.post("/v2/exports", json={"object": "clients"})
    assert refused.status_code == 429 and _error(refused)["errorCode"] == "EXPORT_LIMIT_EXCEEDED"
    assert 1 <= int(refused.headers["retry-after"]) <= 31
    assert api.get("/v2/limits").json()["ConcurrentExportJobs"] == {"Max": 2, "Remaining": 0}
    assert api.delete(f"/v2/exports/{jobs[0].json()['id']}").status_code == 204
    knobs(export_processing_s=0, export_ttl_s=0.3)
    quick = api.post("/v2/exports", json={"object": "technicians"})
    assert quick.status_code == 201
    time.sleep(0.5)
    assert api.get(f"/v2/exports/{quick.json()['id']}").json()["state"] == "expired"
    gone = api.get(f"/v2/exports/{quick.json()['id']}/results/1")
    assert gone.status_code == 410 and _error(gone)["errorCode"] == "EXPORT_EXPIRED"


# --------------------------------------------------------------------------- limits and faults


def test_daily_allocation_exhaustion(api: httpx.Client, knobs: Any) -> None:
    api.post("/__standin/usage/reset")
    knobs(daily_request_limit=5)
    answers = [api.get("/v2/technicians") for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [403] * 2
    assert answers[4].headers["sforce-limit-info"] == "api-usage=5/5"
    refused = _error(answers[5])
    assert refused == {"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded.",
                       "fields": []}
    assert 1 <= int(answers[5].headers["retry-after"]) <= 86_400 + 60
    assert api.get("/v2/limits").status_code == 403  # every API call is refused, even the limits
    assert api.get("/__standin/stats").json()["daily_limit_refused"] >= 3  # the admin routes are not


def test_per_second_rate_limit(api: httpx.Client, knobs: Any) -> None:
    knobs(rate_limit_per_s=4)
    answers = [api.get("/v2/inventory-items", params={"page_size": 1}) for _ in range(8)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and sum(a.status_code == 200 for a in answers) <= 4
    assert _error(limited[0])["errorCode"] == "RATE_LIMITED" and int(limited[0].headers["retry-after"]) >= 1
    time.sleep(1.05)
    assert api.get("/v2/inventory-items", params={"page_size": 1}).status_code == 200


def test_clients_pace_themselves_to_the_rate(servicetracker_standin: RunningStandin, api: httpx.Client,
                                             knobs: Any) -> None:
    # GIVEN a per-token rate of 5 requests/s and two connector clients of the same tenant in this process
    knobs(rate_limit_per_s=5)
    api.post("/__standin/usage/reset").raise_for_status()
    s = servicetracker_standin
    clients = [ServiceTrackerSource(s.url, s.info["api_token"], Path(s.ca_path).read_text(), requests_per_s=5)
               for _ in range(2)]
    sent: list[float] = []
    for client in clients:
        client._client.event_hooks["request"].append(lambda _request: sent.append(time.monotonic()))
    # WHEN three threads read 18 single-record pages through them
    with ThreadPoolExecutor(3) as pool:
        pages = list(pool.map(lambda i: clients[i % 2]._get("/inventory-items", {"page_size": 1}), range(18)))
    # THEN every page was read, and the clients together never sent more than 5 requests in any second
    # (the server counts arrivals, which a loaded machine may bunch: the paced window has a margin)
    assert len(pages) == 18 and all(p["data"] for p in pages)
    sent.sort()
    assert all(sent[i + 5] - sent[i] >= 1.0 for i in range(len(sent) - 5)), sent
    assert api.get("/__standin/stats").json().get("rate_limited", 0) <= 1
    for client in clients:
        client.close()


def test_injected_faults(api: httpx.Client, knobs: Any) -> None:
    knobs(fault_5xx_rate=1.0)
    failed = api.get("/v2/clients")
    assert failed.status_code in (500, 502, 503) and _error(failed)["errorCode"]
    knobs(fault_5xx_rate=0.0, fault_429_rate=1.0, fault_retry_after_s=3)
    throttled = api.get("/v2/clients")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "3"
    knobs(fault_429_rate=0.0, fault_timeout_rate=1.0, fault_timeout_s=0.3)
    started = time.monotonic()
    stalled = api.get("/v2/clients")
    assert stalled.status_code == 504 and time.monotonic() - started >= 0.3
    bad = api.post("/__standin/config", json={"fault_5xx_rate": 2})
    assert bad.status_code == 400 and _error(bad)["fields"] == ["fault_5xx_rate"]


# --------------------------------------------------------------------------- mobile sync, files


def test_mobile_sync_status(api: httpx.Client, expected: GeneratedTenant) -> None:
    status = api.get("/v2/mobile/sync-status").json()
    unsynced = [d for d in status["devices"] if d["unsynced_changes"]]
    assert status["summary"]["unsynced_devices"] == len(unsynced) == expected.unsynced_devices
    assert status["summary"]["unsynced_changes"] == sum(d["unsynced_changes"] for d in unsynced)
    assert status["summary"]["oldest_unsynced_change_at"] == min(d["oldest_unsynced_change_at"] for d in unsynced)
    tech = unsynced[0]["technician_id"]
    mine = api.get("/v2/mobile/sync-status", params={"technician_id": tech}).json()
    assert {d["technician_id"] for d in mine["devices"]} == {tech}
    assert mine["by_technician"][0]["unsynced_changes"] == sum(d["unsynced_changes"] for d in unsynced
                                                               if d["technician_id"] == tech)
    for device in unsynced:
        assert api.post(f"/__standin/mobile/devices/{device['device_id']}/sync").status_code == 200
    assert api.get("/v2/mobile/sync-status").json()["summary"]["unsynced_devices"] == 0
    again = api.post(f"/__standin/mobile/devices/{unsynced[0]['device_id']}/offline-changes", json={"notes": 2})
    assert again.json()["unsynced_changes"] == 2
    assert api.get("/v2/mobile/sync-status").json()["summary"]["unsynced_devices"] == 1


def test_attachment_content_streams_declared_size(api: httpx.Client, expected: GeneratedTenant) -> None:
    files = list(expected.records("attachments"))
    large = [f for f in files if f["size_bytes"] > LARGE_FILE_BYTES]
    assert large and all(f["parent_type"] in ("work_order", "contract") for f in files)
    for att in (files[0], large[0]):
        digest, size = hashlib.sha256(), 0
        with api.stream("GET", f"/v2/attachments/{att['id']}/content") as response:
            assert response.status_code == 200
            assert int(response.headers["content-length"]) == att["size_bytes"]
            for chunk in response.iter_bytes():
                digest.update(chunk)
                size += len(chunk)
        assert size == att["size_bytes"] and digest.hexdigest() == att["sha256"]


# --------------------------------------------------------------------------- dump round trip


def test_dump_served_equals_generated(tmp_path: Path) -> None:
    tenant = GeneratedTenant(300, 8, large_file_rate=0.0)
    write_dump(tenant, tmp_path / "dump")
    # bring-your-own bytes: one attachment with a real file instead of a content seed
    lines = (tmp_path / "dump/objects/attachments.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    data = b"hand-made file \xe2\x9c\x93\n" * 10
    first.pop("content_seed")
    first.update(size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    (tmp_path / f"dump/attachments/{first['id']}").mkdir()
    (tmp_path / f"dump/attachments/{first['id']}/{first['file_name']}").write_bytes(data)
    (tmp_path / "dump/objects/attachments.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    standin = start_standin("servicetracker", ["--state", str(tmp_path / "state.sqlite"), "--tenant",
                                               str(tmp_path / "dump"), "--api-token", "dump-token"])
    try:
        with _client(standin, "dump-token") as client:
            assert standin.info["records"] == tenant.counts
            for obj in ("projects", "work_orders", "custom.signature_records"):
                url = (f"/v2/custom-tables/{obj.removeprefix(CUSTOM_PREFIX)}/records" if obj.startswith(CUSTOM_PREFIX)
                       else f"/v2/{OBJECTS[obj].path}")
                assert _follow(client, url, page_size=200) == list(tenant.records(obj)), obj
            assert client.get(f"/v2/attachments/{first['id']}/content").content == data
            second = json.loads(lines[1])
            content = client.get(f"/v2/attachments/{second['id']}/content").content
            assert hashlib.sha256(content).hexdigest() == second["sha256"]
    finally:
        standin.stop()


def test_offset_paging_skips_a_record_when_one_before_it_is_deleted(api: httpx.Client) -> None:
    """The documented weakness of page/offset paging (why volume reads use the export API)."""
    first = [r["id"] for r in api.get("/v2/parts-used", params={"page_size": 10}).json()["data"]]
    assert api.delete(f"/__standin/records/parts_used/{first[0]}").status_code == 200
    second = [r["id"] for r in api.get("/v2/parts-used", params={"page": 2, "page_size": 10}).json()["data"]]
    assert second[0] == first[-1] + 2  # record first[-1] + 1 slid onto page 1 and is never served

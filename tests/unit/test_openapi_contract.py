"""The OpenAPI document: generated from the handler's routes and models, committed, and current.

GIVEN the API handler's routes, WHEN the document is generated, THEN it equals
``docs/contracts/openapi.json`` (regenerate with ``make openapi``), names every route, documents the
400 refusal naming fields instead of Powertools' 422, and leaves only the signed routes without a key.
"""

from __future__ import annotations

import json

import httpx

from flitstack import openapi
from flitstack.local.api_server import start_api_server


def test_the_committed_document_is_current() -> None:
    committed = openapi.CONTRACT.read_text(encoding="utf-8")
    assert committed == openapi.document_json(), "docs/contracts/openapi.json is stale: run `make openapi`"
    assert openapi.main(["--check"]) == 0


def test_every_route_is_documented_with_its_refusals() -> None:
    doc = openapi.document()
    ops = {(m.upper(), p): o for p, ops in doc["paths"].items() for m, o in ops.items()}
    assert {("POST", "/migrations"), ("GET", "/migrations/{run_id}"), ("POST", "/migrations/{run_id}/rollback"),
            ("GET", "/migrations/{run_id}/mapping"), ("PUT", "/migrations/{run_id}/mapping"),
            ("POST", "/migrations/{run_id}/approve"), ("POST", "/migrations/{run_id}/reject"),
            ("GET", "/approvals/{approval_id}/{decision}"), ("POST", "/approvals/{approval_id}/{decision}"),
            ("POST", "/slack/actions")} <= set(ops)
    assert not [k for k, o in ops.items() if "422" in o["responses"]], "validation refusals are 400s"
    start = ops[("POST", "/migrations")]
    assert start["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("StartMigrationRequest")
    assert start["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")
    open_ops = {k for k, o in ops.items() if o.get("security") == []}
    assert open_ops == {("GET", "/approvals/{approval_id}/{decision}"), ("POST", "/approvals/{approval_id}/{decision}"),
                        ("POST", "/slack/actions")}
    assert doc["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    decision = next(p for p in ops[("GET", "/approvals/{approval_id}/{decision}")]["parameters"]
                    if p["name"] == "decision")
    assert decision["schema"]["enum"] == ["approve", "reject"]


def test_the_docs_page_is_self_contained() -> None:
    page = openapi.docs_page()
    assert "SwaggerUIBundle" in page and openapi.TITLE in page
    assert "<script src=" not in page and "<link rel='stylesheet'" not in page, "no asset from a CDN"
    assert "https://cdn" not in page and "unpkg.com" not in page


def test_the_local_server_serves_the_document_and_the_page_without_a_key() -> None:
    calls: list[dict[str, object]] = []

    def handler(event: dict[str, object], _context: object) -> dict[str, object]:
        calls.append(event)
        return {"statusCode": 200, "body": "{}"}

    server = start_api_server(handler, api_key="the-key")
    try:
        doc = httpx.get(f"{server.url}/openapi.json", trust_env=False, timeout=30)
        assert doc.status_code == 200 and doc.headers["content-type"] == "application/json"
        assert doc.json() == json.loads(openapi.document_json())
        page = httpx.get(f"{server.url}/docs", trust_env=False, timeout=30)
        assert page.status_code == 200 and "SwaggerUIBundle" in page.text
        assert httpx.get(f"{server.url}/migrations/x", trust_env=False, timeout=30).status_code == 403
        assert calls == [], "the contract is served by the local server, not the Lambda"
    finally:
        server.stop()

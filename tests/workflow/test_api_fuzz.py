"""Property-based fuzz of the HTTP API from its OpenAPI document (schemathesis), over real HTTP.

GIVEN the local API server (``flitstack up``'s) serving the real handler, backed by the embedded AWS
(moto: tables, bucket, state machines, the approvals secret), WHEN schemathesis sends requests
generated from ``docs/contracts/openapi.json`` — valid ones and ones that break the schema — to every
operation, THEN no answer is a 5xx, every status and content type is one the document declares, every
JSON body matches its declared schema, and every JSON refusal names what was wrong (``error`` and
``message``; a 400 lists each bad ``field``).

Bounded: ``MAX_EXAMPLES`` per operation and mode (about 30 s on the shared 2-core machine).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flitstack.local.api_server import RunningApi, start_api_server
from flitstack.local.engine import LocalEngine
from flitstack.openapi import CONTRACT
from flitstack.runtime import local_environment
from shared.settings import get_approval_settings

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
DOCUMENT: dict[str, Any] = json.loads(CONTRACT.read_text(encoding="utf-8"))
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def _can_be_invalid(operation: Any) -> bool:
    """Whether a request can break this operation's schema (a body, or a constrained parameter);
    an operation of free-form string path parameters only has no invalid input to generate."""
    spec = DOCUMENT["paths"][operation.path][operation.method.lower()]
    constrained = any(set(p.get("schema", {})) & {"enum", "const", "pattern", "maxLength", "minLength"}
                      for p in spec.get("parameters", []))
    return "requestBody" in spec or constrained


CASES = [pytest.param(op, mode, id=f"{op.method.upper()} {op.path} {mode.value}")
         for op in OPERATIONS for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if mode is GenerationMode.POSITIVE or _can_be_invalid(op)]


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    local_environment(folder / "lambda.jsonl")
    with LocalEngine() as engine:
        engine.deploy()
        engine.client("secretsmanager").create_secret(
            Name=get_approval_settings().approvals_secret,
            SecretString=json.dumps({"link_keys": ["k" * 48], "slack_signing_secret": "s" * 32}))
        api = start_api_server()
        try:
            yield api
        finally:
            api.stop()


def names_what_was_wrong(response: Any) -> None:
    """A JSON refusal says what kind and why; a 400 names each field (``response``: schemathesis')."""
    content_type = (response.headers.get("content-type") or [""])[0]
    if response.status_code < 400 or not content_type.startswith("application/json"):
        return
    body = response.json()
    assert isinstance(body, dict) and body.get("error") and body.get("message"), body
    if response.status_code == 400:
        assert body.get("errors") and all(e.get("field") for e in body["errors"]), body


def test_the_fuzzed_document_is_the_committed_contract() -> None:
    assert {f"{op.method.upper()} {op.path}" for op in OPERATIONS} >= {
        "POST /migrations", "GET /migrations/{run_id}", "PUT /migrations/{run_id}/mapping",
        "GET /approvals/{approval_id}/{decision}", "POST /approvals/{approval_id}/{decision}"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_no_5xx_and_every_refusal_names_the_field(live_api: RunningApi, operation: Any,
                                                  mode: GenerationMode) -> None:
    session = requests.Session()
    session.trust_env = False
    seen: list[int] = []

    headers = {"x-api-key": live_api.api_key}

    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        response = case.call(base_url=live_api.url, session=session, headers=headers)
        seen.append(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)
        names_what_was_wrong(response)

    fuzz()
    assert seen, "nothing was sent"

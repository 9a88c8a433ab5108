"""The HTTP API's OpenAPI document, generated from its routes and pydantic models (Powertools' OpenAPI support).

The document is the contract: ``docs/contracts/openapi.json`` is this module's output, committed, and a
test checks it is current (regenerate with ``make openapi``). ``flitstack up`` serves it at
``/openapi.json`` with a docs page at ``/docs`` (Swagger UI with the assets Powertools ships, inlined:
nothing is fetched from a CDN).

Two edits on top of what Powertools generates, both to say what the API really answers:
- Powertools documents a ``422`` for every route; the API answers request-validation refusals with
  ``400 invalid_request`` naming each field (:func:`functions.api.handler.validation_error`), which the
  routes document themselves, so the ``422`` entries are dropped;
- the public routes (approval links, Slack) carry their own signatures, so they need no API key
  (``security: []``); every other route needs the key (IAM / SigV4 in the cloud).

    python -m flitstack.openapi            # write docs/contracts/openapi.json
    python -m flitstack.openapi --check    # exit 1 when the committed document is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.compat import model_json
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

from functions.api.handler import app
from infra.resources import PUBLIC_ROUTES

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "contracts" / "openapi.json"
TITLE = "FlitStack API"
VERSION = "1"
DESCRIPTION = (
    "Start, watch, sign off and roll back CRM migrations. Management routes need IAM (SigV4) in the cloud; "
    "locally the `x-api-key` header with the key `flitstack up` prints. Approval links and Slack callbacks "
    "verify their own signatures. Every refusal is JSON `{error, message}`; a 400 lists each bad field "
    "(`errors[].field`)."
)
API_KEY = "apiKey"


def _is_public(method: str, path: str) -> bool:
    return any(method.upper() == m and path.startswith(route.split("{", 1)[0]) for m, route in PUBLIC_ROUTES)


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``functions/api/handler.py``'s routes, as a JSON-ready dict."""
    schema = app.get_openapi_schema(
        title=TITLE, version=VERSION, description=DESCRIPTION,
        security_schemes={API_KEY: APIKey(name="x-api-key", in_=APIKeyIn.header)},  # type: ignore[call-arg]
        security=[{API_KEY: []}],
    )
    doc: dict[str, Any] = json.loads(model_json(schema, by_alias=True, exclude_none=True))
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            operation.get("responses", {}).pop("422", None)
            if _is_public(method, path):
                operation["security"] = []
    schemas = doc.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f'"#/components/schemas/{unused}"' not in json.dumps(doc.get("paths")):
            schemas.pop(unused, None)
    return doc


def document_json() -> str:
    """The document as committed: sorted keys, two-space indent, a final newline."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def docs_page() -> str:
    """A self-contained Swagger UI page for the document (Powertools' bundled JS and CSS, inlined)."""
    from aws_lambda_powertools.event_handler.openapi import swagger_ui  # noqa: PLC0415 - only for the page
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html  # noqa: PLC0415

    assets = Path(swagger_ui.__file__).parent
    js = (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8")
    css = (assets / "swagger-ui.min.css").read_text(encoding="utf-8")
    spec = json.dumps(document()).replace("</", "<\\/")
    return generate_swagger_html(spec, js, css, "", None, False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flitstack.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed document is stale")
    args = parser.parse_args(argv)
    current = document_json()
    if args.check:
        stale = not CONTRACT.exists() or CONTRACT.read_text(encoding="utf-8") != current
        if stale:
            print(f"{CONTRACT} is stale: run `make openapi`", file=sys.stderr)
        return 1 if stale else 0
    CONTRACT.write_text(current, encoding="utf-8")
    print(CONTRACT)
    return 0


if __name__ == "__main__":
    sys.exit(main())

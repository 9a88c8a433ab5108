"""Request/response helpers shared by the route modules."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from sandbox.salesforce.errors import ApiError, ValueParseError
from sandbox.salesforce.org import Org
from sandbox.salesforce.schema import ObjectDef


async def raw_body(request: Request) -> bytes:
    """Dependency: the body, read in the event loop so handlers can stay synchronous (threadpool)."""
    return await request.body()


def org_of(request: Request) -> Org:
    return request.app.state.org  # type: ignore[no-any-return]


def user_of(request: Request) -> str:
    return str(request.state.user_id)


def version_of(request: Request) -> str:
    return str(request.path_params.get("version", "v60.0")).lstrip("v")


def parse_json(body: bytes) -> Any:
    """Decode a JSON body the way the API reports failures: 400 JSON_PARSER_ERROR."""
    if not body.strip():
        raise ApiError.of(400, "JSON_PARSER_ERROR", "The request body is empty or is not valid JSON")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError.of(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from exc


def parse_error(exc: ValueParseError) -> ApiError:
    return ApiError.of(400, "JSON_PARSER_ERROR", exc.rest_message())


def sf_json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)


def render_record(
    objdef: ObjectDef, doc: dict[str, Any], version: str, fields: list[str] | None = None
) -> dict[str, Any]:
    """A record as GET /sobjects/{Obj}/{id} returns it: attributes + every field (null when unset)."""
    url = f"/services/data/v{version}/sobjects/{objdef.name}/{doc.get('Id')}"
    names = fields if fields is not None else list(objdef.fields)
    out: dict[str, Any] = {"attributes": {"type": objdef.name, "url": url}}
    for name in names:
        value = doc.get(name)
        if objdef.fields[name].type == "base64" and value is not None:
            value = f"{url}/{name}"
        out[name] = value
    return out


def resolve_fields(objdef: ObjectDef, spec: str | None) -> list[str] | None:
    """``?fields=a,b`` -> canonical names (400 INVALID_FIELD for unknown ones)."""
    if not spec:
        return None
    out = []
    for raw in spec.split(","):
        name = raw.strip()
        fdef = objdef.field(name)
        if fdef is None:
            raise ApiError.of(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {objdef.name}")
        out.append(fdef.name)
    return out

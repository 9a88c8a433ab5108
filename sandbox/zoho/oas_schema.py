"""Check a response body against Zoho's own OpenAPI 3.0 files (copied in ``sandbox/zoho/oas/``).

The files cross-reference each other by their raw.githubusercontent.com URLs; a ``referencing``
registry maps those URLs to the local copies, so nothing is fetched. OpenAPI-isms and generator
artefacts are translated for JSON Schema:

* ``nullable: true`` becomes a ``null`` type;
* ``oneOf`` becomes ``anyOf``: Zoho's alternatives overlap (``API_Exception`` has no required keys,
  so it matches any object), which would make every correct body fail ``oneOf`` — and, with
  ``anyOf``, any body pass; so a result object whose ``status`` is success/error must carry
  ``code`` and ``status``, which tells the alternatives apart;
* string ``pattern``s are dropped: the generator derived them from one sample value (an e-mail
  pattern of exactly nine letters, ``@``, five letters, ``.com``);
* a property that is a bare ``$ref`` may be null: Zoho answers ``null`` for an absent sub-object
  (``"external": null``, ``"lookup": null``) and the generator never marked those nullable.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

OAS_DIR = Path(__file__).with_name("oas")
BASE_URI = "https://raw.githubusercontent.com/Zohocorp-Pvt-Ltd/crm-oas/refs/heads/main/v8.0/"


def _translate(node: Any) -> Any:
    if isinstance(node, list):
        return [_translate(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {("anyOf" if k == "oneOf" else k): _translate(v) for k, v in node.items() if k != "nullable"}
    if isinstance(out.get("properties"), dict):
        out["properties"] = {name: {"anyOf": [sub, {"type": "null"}]} if set(sub) == {"$ref"} else sub
                             for name, sub in out["properties"].items()}
    props = out.get("properties")
    if isinstance(props, dict) and "code" in props and set(props.get("status", {}).get("enum") or ["?"]) <= {
            "success", "error"}:
        out["required"] = sorted({*out.get("required", []), "code", "status"})
    if isinstance(out.get("pattern"), str):
        del out["pattern"]
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@cache
def _documents() -> dict[str, dict[str, Any]]:
    return {p.name: _translate(json.loads(p.read_text())) for p in sorted(OAS_DIR.glob("*.json"))}


@cache
def _registry() -> Registry:
    resources = [(BASE_URI + name, Resource.from_contents(doc, default_specification=DRAFT202012))
                 for name, doc in _documents().items()]
    return Registry().with_resources(resources)


def response_schema(file: str, path: str, method: str, status: int) -> dict[str, Any]:
    """The JSON schema Zoho declares for one response (``$ref`` into the document, resolvable by the registry)."""
    doc = _documents()[file]
    response = doc["paths"][path][method.lower()]["responses"][str(status)]
    pointer = f"#/paths/{path.replace('~', '~0').replace('/', '~1')}/{method.lower()}/responses/{status}"
    if "$ref" in response:
        pointer = response["$ref"]
        response = doc
        for part in pointer.lstrip("#/").split("/"):
            response = response[part]
    return {"$ref": f"{BASE_URI}{file}{pointer}/content/application~1json/schema"}


def validation_errors(body: Any, file: str, path: str, method: str, status: int) -> list[str]:
    """Every way ``body`` departs from the declared response (empty = it conforms)."""
    validator = Draft202012Validator(response_schema(file, path, method, status), registry=_registry())
    return [line for error in validator.iter_errors(body) for line in _leaves(error)]


def _leaves(error: Any) -> list[str]:
    """The innermost reasons (an ``anyOf`` failure alone says only "not valid under any")."""
    if not error.context:
        return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"]
    return [line for sub in error.context for line in _leaves(sub)]

"""``GET RetrieveMetadataChanges(Query=@p1)?@p1=<EntityQueryExpression JSON>``: what metadata caches send.

As documented in "Query schema definitions" (and the function's reference page):

* ``Query`` is an EntityQueryExpression: ``Properties`` (``AllProperties`` or ``PropertyNames``),
  ``Criteria`` (a MetadataFilterExpression: ``FilterOperator`` And/Or, ``Conditions`` of
  ``{PropertyName, ConditionOperator, Value: {Type, Value}}`` with Equals, NotEquals, In, NotIn,
  GreaterThan, LessThan, nested ``Filters``), ``AttributeQuery`` and ``KeyQuery`` (same shape; their
  navigation property ``Attributes``/``Keys`` must be among the entity's ``PropertyNames``), ``LabelQuery``.
  ``RelationshipQuery`` is refused (relationships are not listed by the stand-in).
* Conditions apply to simple, enum and managed properties (managed ones by their ``Value``); labels and
  collections cannot be filtered on.
* The response holds every property of each EntityMetadata; the ones not requested are null
  (``MetadataId``, ``LogicalName`` and ``HasChanged`` always have values), plus ``ServerVersionStamp`` and
  ``DeletedMetadata``.
* ``ClientVersionStamp`` (a previous ``ServerVersionStamp``) returns only the tables, columns and keys
  created since, with ``HasChanged: true``. Nothing is ever deleted here, so ``DeletedMetadata`` is empty.
  A stamp the service did not issue → 400 ``0x80044352`` (the expired-stamp code; wording UNCONFIRMED).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.dynamics.config import DATA_PREFIX
from sandbox.dynamics.errors import INVALID_ARGUMENT, DataverseError, bad_request
from sandbox.dynamics.http import ApiRequest, ApiResponse
from sandbox.dynamics.metadata_api import (
    BASE_ATTRIBUTE_PROPS,
    ENTITY_PROPS,
    MANAGED_ENTITY_PROPS,
    SUBTYPE_PROPS,
    attribute_body,
    key_body,
)
from sandbox.dynamics.options import check_options
from sandbox.dynamics.schema import Table
from sandbox.dynamics.values import split_top_level

if TYPE_CHECKING:
    from sandbox.dynamics.metadata_api import MetadataApi

EXPIRED_STAMP = "0x80044352"
KEY_PROPS = {"MetadataId", "LogicalName", "SchemaName", "EntityLogicalName", "KeyAttributes", "DisplayName",
             "EntityKeyIndexStatus", "IsManaged", "IsCustomizable", "AsyncJob"}
ALWAYS = ("MetadataId", "LogicalName", "HasChanged")
Check = Callable[[dict[str, Any]], bool]


def _value(spec: Any, prop: str) -> Any:
    """A condition's ``{"Type", "Value"}`` as a Python value."""
    if not isinstance(spec, dict) or "Value" not in spec:
        raise bad_request(f"The condition on '{prop}' needs a Value of the form {{\"Type\": …, \"Value\": …}}.",
                          INVALID_ARGUMENT)
    kind, raw = str(spec.get("Type", "System.String")), spec["Value"]
    if kind == "System.String[]":
        if isinstance(raw, list):
            return [str(v) for v in raw]
        text = str(raw).strip()
        try:
            return [str(v) for v in json.loads(text.replace("'", '"'))]
        except (ValueError, TypeError) as exc:
            raise bad_request(f"The System.String[] value for '{prop}' is not a list: {raw}.",
                              INVALID_ARGUMENT) from exc
    if kind == "System.Boolean":
        if str(raw).lower() not in ("true", "false"):
            raise bad_request(f"'{raw}' is not a System.Boolean value for '{prop}'.", INVALID_ARGUMENT)
        return str(raw).lower() == "true"
    if kind == "System.Int32":
        try:
            return int(raw)
        except (TypeError, ValueError) as exc:
            raise bad_request(f"'{raw}' is not a System.Int32 value for '{prop}'.", INVALID_ARGUMENT) from exc
    if kind == "System.Guid":
        return str(raw).lower()
    if kind in ("System.String", "Microsoft.Xrm.Sdk.Metadata.OwnershipTypes",
                "Microsoft.Xrm.Sdk.Metadata.AttributeTypeCode", "Microsoft.Xrm.Sdk.Metadata.AttributeTypeDisplayName",
                "Microsoft.Xrm.Sdk.Metadata.AttributeRequiredLevel"):
        return str(raw)
    raise bad_request(f"The condition value type '{kind}' is not supported by the stand-in.", INVALID_ARGUMENT)


def _plain(value: Any) -> Any:
    """What a condition compares: a managed property's or an enum wrapper's ``Value``."""
    if isinstance(value, dict) and "Value" in value:
        value = value["Value"]
    return value.lower() if isinstance(value, str) else value


def _criteria(spec: Any, filterable: set[str]) -> Check:
    if spec is None:
        return lambda _body: True
    if not isinstance(spec, dict):
        raise bad_request("Criteria must be a MetadataFilterExpression object.", INVALID_ARGUMENT)
    operator = str(spec.get("FilterOperator", "And"))
    if operator not in ("And", "Or"):
        raise bad_request(f"FilterOperator must be And or Or (got '{operator}').", INVALID_ARGUMENT)
    checks = [_condition(c, filterable) for c in spec.get("Conditions") or []]
    checks += [_criteria(f, filterable) for f in spec.get("Filters") or []]
    if operator == "And":
        return lambda body: all(c(body) for c in checks)
    return lambda body: any(c(body) for c in checks) if checks else True


def _condition(spec: Any, filterable: set[str]) -> Check:
    prop = str(spec.get("PropertyName")) if isinstance(spec, dict) else ""
    if prop not in filterable:
        raise bad_request(f"The property '{prop}' cannot be used in a MetadataConditionExpression (only simple, enum "
                          "and managed properties can; labels and collections cannot).", INVALID_ARGUMENT)
    op = str(spec.get("ConditionOperator"))
    wanted = _value(spec.get("Value"), prop)
    if op in ("In", "NotIn"):
        if not isinstance(wanted, list):
            raise bad_request(f"{op} on '{prop}' needs a System.String[] value.", INVALID_ARGUMENT)
        members = {_plain(v) for v in wanted}
        return lambda body: (_plain(body.get(prop)) in members) == (op == "In")
    target = _plain(wanted)
    tests: dict[str, Callable[[Any], bool]] = {
        "Equals": lambda v: v == target, "NotEquals": lambda v: v != target,
        "GreaterThan": lambda v: v is not None and v > target, "LessThan": lambda v: v is not None and v < target,
    }
    if op not in tests:
        raise bad_request(f"'{op}' is not a MetadataConditionOperator (Equals, NotEquals, In, NotIn, GreaterThan, "
                          "LessThan).", INVALID_ARGUMENT)
    test = tests[op]
    return lambda body: test(_plain(body.get(prop)))


def _properties(spec: Any, known: set[str], kind: str) -> set[str] | None:
    """Requested property names (None = all)."""
    if spec is None or (isinstance(spec, dict) and spec.get("AllProperties") in (True, "true", "True")):
        return None
    names = spec.get("PropertyNames") if isinstance(spec, dict) else None
    if not isinstance(names, list):
        raise bad_request(f"{kind} Properties must have AllProperties or PropertyNames.", INVALID_ARGUMENT)
    for name in names:
        if name not in known:
            raise bad_request(f"'{name}' is not a property of {kind}.", INVALID_ARGUMENT)
    return set(names)


def _shape(body: dict[str, Any], wanted: set[str] | None, changed: bool | None) -> dict[str, Any]:
    out = {k: (v if wanted is None or k in wanted or k in ALWAYS or k == "@odata.type" else None)
           for k, v in body.items()}
    out["HasChanged"] = changed
    return out


def _stamp(text: str | None) -> float | None:
    if text is None:
        return None
    head = text.strip().strip("'").split("!", 1)[0]
    if not head.isdigit():
        raise DataverseError(400, EXPIRED_STAMP, f"The ClientVersionStamp '{text}' is not valid or has expired; "
                             "retrieve all metadata again without it.")
    return int(head) / 1000


def _arguments(req: ApiRequest, key: str | None) -> dict[str, Any]:
    """``Query=@p1,ClientVersionStamp=@p2`` with the aliases' values (JSON for Query)."""
    params = check_options(req, ("@",))
    out: dict[str, Any] = {}
    for part in split_top_level(key or ""):
        name, eq, raw = part.partition("=")
        if not eq:
            raise bad_request(f"Bad Request - Error in query syntax: 'RetrieveMetadataChanges({key})'.")
        raw = raw.strip()
        value = params.get(raw) if raw.startswith("@") else raw
        if value is None:
            raise bad_request(f"The parameter alias '{raw}' is used in the request but no value is given for it.")
        out[name.strip()] = value
    for name in out:
        if name not in ("Query", "ClientVersionStamp", "DeletedMetadataFilters", "AppModuleId"):
            raise bad_request(f"'{name}' is not a parameter of the RetrieveMetadataChanges function.")
    if "Query" in out:
        try:
            out["Query"] = json.loads(out["Query"])
        except ValueError as exc:
            raise bad_request(f"The Query parameter is not valid JSON: {exc}.", INVALID_ARGUMENT) from exc
    return out


def retrieve_metadata_changes(api: MetadataApi, req: ApiRequest, key: str | None) -> ApiResponse:
    args = _arguments(req, key)
    query = args.get("Query") or {}
    if not isinstance(query, dict):
        raise bad_request("Query must be an EntityQueryExpression object.", INVALID_ARGUMENT)
    if query.get("RelationshipQuery"):
        raise bad_request("RelationshipQuery is not supported by the stand-in's RetrieveMetadataChanges.",
                          INVALID_ARGUMENT)
    since = _stamp(args.get("ClientVersionStamp"))
    entity_props = _properties(query.get("Properties"), ENTITY_PROPS - {"HasChanged"}, "EntityMetadata")
    for sub, nav in (("AttributeQuery", "Attributes"), ("KeyQuery", "Keys")):
        if query.get(sub) and entity_props is not None and nav not in entity_props:
            raise bad_request(f"When {sub} is used, '{nav}' must be one of the Properties of the "
                              "EntityQueryExpression.", INVALID_ARGUMENT)
    filterable = (ENTITY_PROPS - {"Attributes", "Keys", "DisplayName", "DisplayCollectionName", "Description"})
    entity_ok = _criteria(query.get("Criteria"), filterable | set(MANAGED_ENTITY_PROPS))
    attribute_query = query.get("AttributeQuery") or {}
    attr_props = _properties(attribute_query.get("Properties"), BASE_ATTRIBUTE_PROPS | SUBTYPE_PROPS,
                             "AttributeMetadata")
    attr_ok = _criteria(attribute_query.get("Criteria"), BASE_ATTRIBUTE_PROPS - {"DisplayName", "Description"})
    key_query = query.get("KeyQuery") or {}
    key_props = _properties(key_query.get("Properties"), KEY_PROPS, "EntityKeyMetadata")
    key_ok = _criteria(key_query.get("Criteria"), KEY_PROPS - {"DisplayName", "KeyAttributes"})
    changed = _changed_since(api, since)
    delay = api.org.config.key_activation_delay_s
    out: list[dict[str, Any]] = []
    for table in (t for t in api.org.schema.tables.values() if t.published):
        if since is not None and table.logical not in changed:
            continue
        body = api.entity_body(table)
        if not entity_ok(body):
            continue
        entity = _shape(body, entity_props, True if since is not None else None)
        fresh = changed.get(table.logical, set()) if since is not None else None
        attributes = [_shape(a, attr_props, None if fresh is None else True)
                      for col in table.columns.values() if col.published
                      and (fresh is None or col.logical in fresh)
                      and attr_ok(a := attribute_body(table, col, None, {}))]
        keys = [_shape(k, key_props, None if fresh is None else True) for keydef in table.keys
                if (fresh is None or f"key:{keydef.logical}" in fresh) and key_ok(k := key_body(table, keydef, delay))]
        entity["Attributes"] = attributes if entity_props is None or "Attributes" in entity_props else None
        entity["Keys"] = keys if entity_props is None or "Keys" in entity_props else None
        out.append(entity)
    now = time.time()
    return ApiResponse.of_json({
        "@odata.context": f"{req.base_url}{DATA_PREFIX}$metadata#Microsoft.Dynamics.CRM."
                          "RetrieveMetadataChangesResponse",
        "EntityMetadata": out,
        "ServerVersionStamp": f"{int(now * 1000)}!{time.strftime('%m/%d/%Y %H:%M:%S', time.gmtime(now))}",
        "DeletedMetadata": {"Count": 0, "IsReadOnly": False, "Keys": [], "Values": []},
    })


def _changed_since(api: MetadataApi, since: float | None) -> dict[str, set[str]]:
    """Tables with metadata created after ``since`` -> the columns (and ``key:<name>``) created then."""
    if since is None:
        return {}
    store = api.org.store
    changed: dict[str, set[str]] = {}
    for logical, _meta, created in store.custom_tables():
        if created > since:
            table: Table | None = api.org.schema.get(logical)
            changed.setdefault(logical, set()).update(table.columns if table else ())
    for tbl, logical, _meta, created in store.custom_columns():
        if created > since:
            changed.setdefault(tbl, set()).add(logical)
    for tbl, logical, _meta, created, _failed in store.custom_keys():
        if created > since:
            changed.setdefault(tbl, set()).add(f"key:{logical}")
    return changed

"""Reads: ``GET /crm/v8/{Module}`` (fields, page/per_page, page_token, sort) and COQL execution.

Rules a tool notices (get-records page, reference §3.3): ``fields`` is mandatory and holds at
most 50 api names; ``per_page`` ≤ 200; page-based access stops at record 2,000
(``DISCRETE_PAGINATION_LIMIT_EXCEEDED``), beyond it only ``page_token`` (from the previous
page's ``info.next_page_token``, valid a day) goes on; an empty result is 204 with no body.
Query parameters the stand-in does not implement are refused, never dropped.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

from sandbox.zoho.coql import Query, comparable, parse
from sandbox.zoho.errors import ZohoError, invalid_module, invalid_param, not_supported, required_param
from sandbox.zoho.org import Org, iso
from sandbox.zoho.schema import ModuleDef

SUPPORTED_PARAMS = {"fields", "page", "per_page", "page_token", "sort_by", "sort_order", "ids", "converted"}
SORTABLE = {"id", "Created_Time", "Modified_Time"}


def project(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The asked fields and ``id``; a multi-module ``What_Id`` comes with its ``$se_module``, as Zoho answers it
    (the lookup's ``{"name", "id"}`` alone does not say which module the id belongs to)."""
    out = {name: record.get(name) for name in fields}
    out["id"] = record["id"]
    if "What_Id" in fields and "$se_module" in record:
        out["$se_module"] = record["$se_module"]
    return out


def _token(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _untoken(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise invalid_param("page_token") from None
    if not isinstance(data, dict):
        raise invalid_param("page_token")
    return data


class Reader:
    def __init__(self, org: Org) -> None:
        self.org = org

    def _fields(self, mod: ModuleDef, raw: str | None) -> list[str]:
        if raw is None or not raw.strip():
            raise required_param("fields")
        names = [n.strip() for n in raw.split(",") if n.strip()]
        if len(names) > self.org.config.max_fields_param:
            raise ZohoError("LIMIT_EXCEEDED", "Max field limit exceeded",
                            {"param": "fields", "limit": self.org.config.max_fields_param})
        for name in names:
            if name != "id" and name not in mod.fields:
                raise ZohoError("INVALID_DATA", "invalid data", {"api_name": name, "param": "fields"})
        return names

    def _visible(self, mod: ModuleDef, params: dict[str, str]) -> list[dict[str, Any]]:
        rows = self.org.store.scan(mod.api_name)
        converted = params.get("converted", "false").lower()
        if converted not in ("true", "false", "both"):
            raise invalid_param("converted")
        if mod.api_name == "Leads" and converted != "both":
            rows = [r for r in rows if bool(r.get("$converted")) == (converted == "true")]
        if params.get("ids"):
            wanted = {i.strip() for i in params["ids"].split(",")}
            rows = [r for r in rows if r["id"] in wanted]
        return rows

    def list_records(self, module: str, params: dict[str, str]) -> tuple[int, dict[str, Any] | None]:
        cfg = self.org.config
        mod = self.org.module(module)
        if mod is None:
            raise invalid_module(module)
        for name in params:
            if name not in SUPPORTED_PARAMS:
                raise not_supported(name)
        fields = self._fields(mod, params.get("fields"))
        sort_by = params.get("sort_by", "id")
        sort_order = params.get("sort_order", "asc").lower()
        if sort_by not in SORTABLE:
            raise invalid_param("sort_by", supported_values=sorted(SORTABLE))
        if sort_order not in ("asc", "desc"):
            raise invalid_param("sort_order")
        per_page = self._int(params, "per_page", cfg.max_per_page)
        if not 1 <= per_page <= cfg.max_per_page:
            raise invalid_param("per_page", maximum_length=str(cfg.max_per_page))
        if "page_token" in params:
            if "page" in params:
                raise invalid_param("page", reason="page and page_token cannot be used together")
            state = _untoken(params["page_token"])
            if state.get("m") != mod.api_name or float(state.get("exp", 0)) < self.org.now():
                raise ZohoError("INVALID_DATA", "invalid data", {"param": "page_token", "reason": "expired or "
                                                                 "not valid for this module"})
            offset, page = int(state["o"]), int(state["p"])
            sort_by, sort_order = str(state["s"]), str(state["d"])
        else:
            page = self._int(params, "page", 1)
            if page < 1:
                raise invalid_param("page")
            offset = (page - 1) * per_page
            if offset + per_page > cfg.max_page_records:
                raise ZohoError("DISCRETE_PAGINATION_LIMIT_EXCEEDED",  # as quoted in airbytehq/airbyte#30977
                                f"You can only get the first {cfg.max_page_records} records without using "
                                "page_token param", {"limit": cfg.max_page_records}, 400)
        rows = self._visible(mod, params)
        rows.sort(key=lambda r: (str(r.get(sort_by) or ""), r["id"]) if sort_by != "id" else int(r["id"]),
                  reverse=sort_order == "desc")
        chunk = rows[offset:offset + per_page]
        if not chunk:
            return 204, None
        more = offset + per_page < len(rows)
        info: dict[str, Any] = {"per_page": per_page, "count": len(chunk), "page": page, "sort_by": sort_by,
                                "sort_order": sort_order, "more_records": more}
        if more:
            expiry = self.org.now() + cfg.page_token_ttl_s
            info["next_page_token"] = _token({"m": mod.api_name, "o": offset + per_page, "p": page + 1,
                                              "s": sort_by, "d": sort_order, "exp": expiry})
            info["page_token_expiry"] = iso(expiry)
        return 200, {"data": [project(r, fields) for r in chunk], "info": info}

    @staticmethod
    def _int(params: dict[str, str], name: str, default: int) -> int:
        raw = params.get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise invalid_param(name, expected_data_type="integer") from None

    def get_record(self, module: str, record_id: str) -> dict[str, Any] | None:
        mod = self.org.module(module)
        if mod is None:
            raise invalid_module(module)
        return self.org.store.get(mod.api_name, record_id)

    # -- COQL -------------------------------------------------------------------------------------------------
    def coql(self, body: Any) -> tuple[int, dict[str, Any] | None, int]:
        """(status, body, credits) for a ``select_query``."""
        cfg = self.org.config
        if not isinstance(body, dict) or "select_query" not in body:
            raise required_param("select_query")
        query = parse(body["select_query"])
        mod = self.org.module(query.module)
        if mod is None:
            raise ZohoError("INVALID_QUERY", "invalid query formed", {"module": query.module, "reason":
                                                                      "module not supported"})
        self._check_columns(mod, query)
        if cfg.coql_where_required and query.where is None:
            raise ZohoError("SYNTAX_ERROR", "invalid query formed", {"clause": "where"})
        if query.limit > cfg.max_coql_limit or query.limit < 1:
            raise ZohoError("LIMIT_EXCEEDED", "limit exceeded", {"by": "limit", "limit": cfg.max_coql_limit})
        if query.offset + query.limit > 100_000:
            raise ZohoError("LIMIT_EXCEEDED", "limit exceeded", {"by": "offset", "limit": 100_000})
        rows = [r for r in self.org.store.scan(mod.api_name) if not r.get("$converted")]
        if query.where is not None:
            rows = [r for r in rows if query.where(r)]
        for name, desc in reversed(query.order or [("id", False)]):
            rows.sort(key=functools.partial(_sort_key, name=name), reverse=desc)
        chunk = rows[query.offset:query.offset + query.limit]
        cost = next((c for up_to, c in cfg.coql_credit_steps if query.limit <= up_to), cfg.coql_credit_steps[-1][1])
        if not chunk:
            return 204, None, cost
        more = query.offset + query.limit < len(rows)
        return 200, {"data": [project(r, query.fields) for r in chunk],
                     "info": {"count": len(chunk), "more_records": more}}, cost

    @staticmethod
    def _check_columns(mod: ModuleDef, query: Query) -> None:
        for name in [*query.fields, *query.where_fields, *(n for n, _ in query.order)]:
            if name != "id" and name not in mod.fields:
                raise ZohoError("INVALID_QUERY", "column given seems to be invalid",
                                {"column_name": name, "clause": "select"})


def _sort_key(record: dict[str, Any], name: str) -> tuple[int, Any]:
    value = comparable(record.get(name))
    if name == "id":
        return (0, int(record["id"]))
    if value is None:
        return (0, "")
    return (1, value) if isinstance(value, int | float) and not isinstance(value, bool) else (2, str(value))

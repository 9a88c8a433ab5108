"""The Web API dispatcher: entity sets, single records and properties, WhoAmI, and the close actions.

:meth:`DataApi.handle` takes a transport-neutral :class:`ApiRequest` so top-level calls and
``$batch`` parts run through exactly the same code. Metadata (``EntityDefinitions``) is
delegated to :mod:`sandbox.dynamics.metadata_api`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from sandbox.dynamics import fetchxml
from sandbox.dynamics.bulk import BULK_ACTIONS, BulkActions
from sandbox.dynamics.config import DATA_PREFIX
from sandbox.dynamics.errors import (
    INVALID_ARGUMENT,
    STATE_STATUS,
    DataverseError,
    bad_request,
    key_record_not_found,
    no_property,
    record_not_found,
    segment_not_found,
)
from sandbox.dynamics.http import ApiRequest, ApiResponse
from sandbox.dynamics.metadata_api import MetadataApi, RelationshipApi
from sandbox.dynamics.metadata_changes import retrieve_metadata_changes
from sandbox.dynamics.options import ALIASES, aliases, check_options
from sandbox.dynamics.org import Org
from sandbox.dynamics.query import Getter, compile_filter, compile_orderby, query_error
from sandbox.dynamics.records import Engine, Prefs, etag, preferences
from sandbox.dynamics.schema import LOOKUP_TYPES, OPTION_TYPES, Table
from sandbox.dynamics.values import now_iso, parse_key_segment, split_top_level

SEGMENT_RE = re.compile(r"^([^()]+)(?:\((.*)\))?$", re.DOTALL)
COOKIE_RE = re.compile(r'offset="(\d+)"')
COLLECTION_OPTIONS = frozenset({"$select", "$filter", "$orderby", "$top", "$count", "$skiptoken", ALIASES})
CLOSE_ACTIONS = {"CloseIncident", "WinOpportunity", "LoseOpportunity"}


def _annotations_wanted(prefer: str | None) -> set[str]:
    """Which of FetchXML's paging annotations ``Prefer: odata.include-annotations`` asks for (documented:
    they are returned only when asked for, by name, ``Microsoft.Dynamics.CRM.*`` or ``*``)."""
    wanted: set[str] = set()
    patterns = [p.strip() for p in preferences(prefer).get("odata.include-annotations", "").split(",")]
    for short in ("fetchxmlpagingcookie", "morerecords"):
        if {"*", "Microsoft.Dynamics.CRM.*", f"Microsoft.Dynamics.CRM.{short}"} & set(patterns):
            wanted.add(short)
    return wanted


def split_path(path: str) -> list[tuple[str, str | None]]:
    """``EntityDefinitions(LogicalName='a')/Attributes`` -> ``[("EntityDefinitions", "LogicalName='a'"), …]``."""
    out: list[tuple[str, str | None]] = []
    for seg in split_top_level(path.strip("/"), "/"):
        match = SEGMENT_RE.match(seg)
        if not match or not match.group(1):
            raise segment_not_found(seg)
        out.append((match.group(1), match.group(2)))
    return out


class DataApi:
    """Routes one request to its handler and turns a :class:`DataverseError` into the error response."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.engine = Engine(org)
        self.metadata = MetadataApi(org)
        self.relationships = RelationshipApi(org)
        self.bulk = BulkActions(self.engine)

    def handle(self, req: ApiRequest) -> ApiResponse:
        try:
            return self._route(req)
        except DataverseError as exc:
            return ApiResponse.error(exc)

    def _route(self, req: ApiRequest) -> ApiResponse:
        segments = split_path(req.path)
        name, key = segments[0]
        short = name.removeprefix("Microsoft.Dynamics.CRM.")
        if name == "$batch":
            raise bad_request("A $batch request cannot contain another $batch request.")
        if name == "EntityDefinitions":
            return self.metadata.handle(req, segments)
        if name == "RelationshipDefinitions":
            return self.relationships.handle(req, segments)
        if short == "RetrieveMetadataChanges" and len(segments) == 1:
            self._method(req, "GET")
            return retrieve_metadata_changes(self.metadata, req, key)
        if short == "WhoAmI" and len(segments) == 1:
            self._method(req, "GET")
            check_options(req, ())
            return ApiResponse.of_json({
                "@odata.context": f"{req.base_url}{DATA_PREFIX}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": self.org.business_unit_id,
                "UserId": req.caller,
                "OrganizationId": self.org.org_id,
            })
        if short in CLOSE_ACTIONS and len(segments) == 1:
            self._method(req, "POST")
            check_options(req, ())
            return self._close(req, short)
        if short in ("PublishXml", "PublishAllXml") and len(segments) == 1:
            self._method(req, "POST")
            check_options(req, ())
            self.org.publish_all()
            return ApiResponse.empty()
        table = self.engine.table_of_set(name)
        if key is None:
            action = segments[1][0].removeprefix("Microsoft.Dynamics.CRM.") if len(segments) == 2 else None
            if action in BULK_ACTIONS and segments[1][1] is None:
                self._method(req, "POST")
                check_options(req, ())
                return self.bulk.run(req, table, action)
            if len(segments) != 1:
                raise segment_not_found(segments[1][0])
            if req.method == "GET":
                if "fetchXml" in req.params:
                    return self._fetch(req, table)
                return self._query(req, table)
            self._method(req, "POST")
            check_options(req, ("$select",))
            return self._create(req, table)
        try:
            parsed = parse_key_segment(key)
        except ValueError as exc:
            raise bad_request(f"Bad Request - Error in query syntax: '{name}({key})'.", "0x80060888") from exc
        if isinstance(parsed, dict):
            self._check_key_characters(name, parsed)
        rest = [s for s, _ in segments[1:]]
        if not rest:
            return self._record(req, table, parsed)
        if len(rest) == 1 and rest[0].removeprefix("Microsoft.Dynamics.CRM.") == "AddToQueue" \
                and table.logical == "queue":
            self._method(req, "POST")
            check_options(req, ())
            return self._add_to_queue(req, table, parsed)
        if len(rest) == 1:
            check_options(req, ())
            return self._property(req, table, parsed, rest[0])
        if len(rest) == 2 and rest[1] == "$ref":
            check_options(req, ())
            return self._ref(req, table, parsed, rest[0])
        raise segment_not_found(rest[-1])

    def _check_key_characters(self, name: str, values: dict[str, Any]) -> None:
        """Power Apps docs ("Define alternate keys"): a key value holding ``/ # < > * % & : \\ ? +`` cannot
        be used to address a record in a URL (GET/PATCH fail). The characters are a knob
        (``key_url_refused_chars``); the answer's status and wording are UNCONFIRMED."""
        refused = self.org.config.key_url_refused_chars
        for attribute, value in values.items():
            if isinstance(value, str) and refused and any(c in refused for c in value):
                raise bad_request(
                    f"Bad Request - Error in query syntax: the value of key attribute '{attribute}' in "
                    f"'{name}(...)' contains a character that cannot be used in a URL ({refused}).", "0x80060888")

    @staticmethod
    def _method(req: ApiRequest, *allowed: str) -> None:
        if req.method not in allowed:
            raise DataverseError(405, "0x80060888", f"The HTTP method '{req.method}' is not allowed on this resource.")

    def _entity_url(self, req: ApiRequest, table: Table, doc: dict[str, Any]) -> str:
        return f"{req.base_url}{DATA_PREFIX}{table.entity_set}({doc[table.primary_id]})"

    def _context(self, req: ApiRequest, table: Table, select: str | None, entity: bool) -> str:
        cols = f"({select})" if select else ""
        return f"{req.base_url}{DATA_PREFIX}$metadata#{table.entity_set}{cols}{'/$entity' if entity else ''}"

    def _written(self, req: ApiRequest, table: Table, doc: dict[str, Any], created: bool) -> ApiResponse:
        prefs = Prefs.parse(req.header("prefer"))
        if prefs.representation:
            select = req.params.get("$select")
            body = {"@odata.context": self._context(req, table, select, True),
                    **self.engine.render(table, doc, self.engine.select(table, select), prefs)}
            return ApiResponse.of_json(body, 201 if created else 200, {"ETag": etag(doc)})
        return ApiResponse.empty(204, {"OData-EntityId": self._entity_url(req, table, doc)})

    # -- collections ------------------------------------------------------------------------------------------
    def _create(self, req: ApiRequest, table: Table) -> ApiResponse:
        doc = self.engine.create(table, req.json(), req.caller)
        return self._written(req, table, doc, True)

    def resolver(self, table: Table) -> Any:
        def resolve(name: str) -> tuple[Getter, str]:
            col = table.by_value_name(name)
            if col is None or not col.published:
                if table.column(name) is not None and table.column(name).type in LOOKUP_TYPES:  # type: ignore[union-attr]
                    raise query_error(f"The navigation property '{name}' cannot be used in $filter/$orderby; use "
                                      f"'_{name}_value'.")
                raise no_property(name, table.logical)
            kind = ("str" if col.type in ("String", "Memo", "EntityName") else
                    "guid" if col.type in LOOKUP_TYPES or col.type == "Uniqueidentifier" else
                    "bool" if col.type == "Boolean" else
                    ("dateonly" if col.fmt == "DateOnly" else "date") if col.type == "DateTime" else
                    "num" if col.type in OPTION_TYPES or col.type in ("Integer", "BigInt", "Decimal", "Double", "Money")
                    else "any")
            logical = col.logical
            return (lambda d: d.get(logical)), kind
        return resolve

    def _query(self, req: ApiRequest, table: Table) -> ApiResponse:
        params = check_options(req, COLLECTION_OPTIONS)
        select_spec = params.get("$select")
        select = self.engine.select(table, select_spec)
        rows = self.org.store.scan(table.logical)
        resolve = self.resolver(table)
        if params.get("$filter"):
            pred = compile_filter(params["$filter"], resolve, aliases(params))
            rows = [r for r in rows if pred(r)]
        count = params.get("$count", "false").lower()
        if count not in ("true", "false"):
            raise query_error(f"Invalid value '{params['$count']}' for $count; it must be true or false.")
        if params.get("$orderby"):
            rows = compile_orderby(params["$orderby"], resolve)(rows)
        total = len(rows)
        prefs = Prefs.parse(req.header("prefer"))
        cap = self.org.config.max_page_size
        size = min(prefs.max_page_size or cap, cap)
        next_link = None
        if params.get("$top"):
            if not params["$top"].isdigit():
                raise query_error(f"Invalid value '{params['$top']}' for $top.")
            page = rows[: min(int(params["$top"]), cap)]
        else:
            token = params.get("$skiptoken", "")
            match = COOKIE_RE.search(token)
            if token and match is None:
                raise query_error(f"The $skiptoken '{token}' is not a paging cookie this service issued.")
            offset = int(match.group(1)) if match else 0
            page = rows[offset: offset + size]
            if offset + size < len(rows):
                number = offset // size + 2
                cookie = f'<cookie pagenumber="{number}" offset="{offset + size}" istracking="False" />'
                kept = "&".join(
                    f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in params.items() if k != "$skiptoken"
                )
                next_link = (f"{req.base_url}{DATA_PREFIX}{table.entity_set}?{kept}{'&' if kept else ''}"
                             f"$skiptoken={quote(cookie, safe='')}")
        body: dict[str, Any] = {"@odata.context": self._context(req, table, select_spec, False)}
        if count == "true":
            body["@odata.count"] = min(total, 5000)
            if total > 5000:
                body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = True
        body["value"] = [self.engine.render(table, r, select, prefs) for r in page]
        if next_link:
            body["@odata.nextLink"] = next_link
        applied = {"Preference-Applied": f"odata.maxpagesize={size}"} if prefs.max_page_size else {}
        return ApiResponse.of_json(body, 200, applied)

    def _fetch(self, req: ApiRequest, table: Table) -> ApiResponse:
        """``GET /{set}?fetchXml=…``: see :mod:`sandbox.dynamics.fetchxml` (other query options are refused)."""
        params = check_options(req, ("fetchXml",))
        query = fetchxml.parse(params["fetchXml"], table)
        rows = fetchxml.sort([r for r in self.org.store.scan(table.logical) if query.test(r)], query.orders,
                             table.primary_id)
        pid = table.column(table.primary_id)
        select = None if query.columns is None else [*query.columns, *([pid] if pid and pid not in query.columns
                                                                        else [])]
        if query.distinct:
            rows = fetchxml.distinct(rows, query.columns or list(table.columns.values()))
        size = query.top or query.count or fetchxml.MAX_PAGE
        start = (query.page - 1) * size
        if query.cookie:
            last = fetchxml.resume_after(query.cookie, table)
            ids = [str(r[table.primary_id]) for r in rows]
            start = ids.index(last) + 1 if last in ids else start
        page = rows[start: start + size]
        more = query.top is None and start + size < len(rows)
        prefer = req.header("prefer")
        prefs = Prefs.parse(prefer)
        names = ",".join(c.value_name for c in select) if select else None
        body: dict[str, Any] = {"@odata.context": self._context(req, table, names, False)}
        wanted = _annotations_wanted(prefer)
        if more and page and "fetchxmlpagingcookie" in wanted:
            body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"] = fetchxml.cookie_for(
                query.page, page[0], page[-1], table, query.orders)
        if "morerecords" in wanted:
            body["@Microsoft.Dynamics.CRM.morerecords"] = more
        body["value"] = [{k: v for k, v in self.engine.render(table, r, select, prefs).items() if v is not None}
                         for r in page]
        applied = preferences(prefer).get("odata.include-annotations")
        headers = {"Preference-Applied": f'odata.include-annotations="{applied}"'} if applied else {}
        return ApiResponse.of_json(body, 200, headers)

    # -- single records ---------------------------------------------------------------------------------------
    def _missing(self, table: Table, key: str | dict[str, Any]) -> DataverseError:
        return record_not_found(table.logical, key) if isinstance(key, str) else key_record_not_found(table.logical)

    def _record(self, req: ApiRequest, table: Table, key: str | dict[str, Any]) -> ApiResponse:
        doc = self.engine.find(table, key)
        check_options(req, ("$select",))
        if req.method == "GET":
            if doc is None:
                raise self._missing(table, key)
            if req.header("if-none-match") == etag(doc):
                return ApiResponse.empty(304)
            select_spec = req.params.get("$select")
            prefs = Prefs.parse(req.header("prefer"))
            body = {"@odata.context": self._context(req, table, select_spec, True),
                    **self.engine.render(table, doc, self.engine.select(table, select_spec), prefs)}
            return ApiResponse.of_json(body, 200, {"ETag": etag(doc)})
        if req.method == "DELETE":
            if doc is None:
                raise self._missing(table, key)
            self.engine.delete(table, doc)
            return ApiResponse.empty()
        self._method(req, "PATCH")
        body = req.json()
        if doc is None:
            if req.header("if-match") == "*":
                raise self._missing(table, key)
            if isinstance(key, str):
                created = self.engine.create(table, body, req.caller, record_id=key)
            else:
                self.engine.key_of(table, key)
                created = self.engine.create(table, body, req.caller, key_values=key)
            return self._written(req, table, created, True)
        if req.header("if-none-match") == "*":
            raise DataverseError(412, "0x80040237", "A record with matching key values already exists.")
        match = req.header("if-match")
        if match not in (None, "*") and match != etag(doc):
            raise DataverseError(412, "0x80060882",
                                 "The version of the existing record doesn't match the RowVersion property provided.")
        updated = self.engine.update(table, doc, body, req.caller)
        response = self._written(req, table, updated, False)
        if response.status == 204:
            response.headers["OData-EntityId"] = self._entity_url(req, table, updated)
        return response

    def _property(self, req: ApiRequest, table: Table, key: str | dict[str, Any], name: str) -> ApiResponse:
        doc = self.engine.find(table, key)
        if doc is None:
            raise self._missing(table, key)
        col = table.by_value_name(name)
        if col is None:
            raise no_property(name, table.logical)
        if req.method == "GET":
            value = doc.get(col.logical)
            return ApiResponse.of_json({
                "@odata.context": f"{req.base_url}{DATA_PREFIX}$metadata#{table.entity_set}"
                                  f"({doc[table.primary_id]})/{name}",
                "value": value["id"] if isinstance(value, dict) else value,
            })
        if col.type in LOOKUP_TYPES:
            raise bad_request("CRM do not support direct update of Entity Reference properties, Use Navigation "
                              "properties instead.", "0x80048d19")
        if req.method == "PUT":
            payload = req.json()
            value = payload.get("value") if isinstance(payload, dict) else None
            self.engine.update(table, doc, {col.logical: value}, req.caller)
            return ApiResponse.empty()
        self._method(req, "DELETE")
        self.engine.update(table, doc, {col.logical: None}, req.caller)
        return ApiResponse.empty()

    def _ref(self, req: ApiRequest, table: Table, key: str | dict[str, Any], nav: str) -> ApiResponse:
        doc = self.engine.find(table, key)
        if doc is None:
            raise self._missing(table, key)
        if req.method == "PUT":
            payload = req.json()
            target = payload.get("@odata.id") if isinstance(payload, dict) else None
            self.engine.update(table, doc, {f"{nav}@odata.bind": target}, req.caller)
            return ApiResponse.empty()
        self._method(req, "DELETE")
        self.engine.update(table, doc, {f"{nav}@odata.bind": None}, req.caller)
        return ApiResponse.empty()

    # -- actions ----------------------------------------------------------------------------------------------
    def _add_to_queue(self, req: ApiRequest, queue_table: Table, key: str | dict[str, Any]) -> ApiResponse:
        """``POST queues(<id>)/Microsoft.Dynamics.CRM.AddToQueue`` {Target, SourceQueue?, QueueItemProperties?}:
        the target's active queue item moves to this queue, or a new one is created → ``{QueueItemId}``."""
        queue = self.engine.find(queue_table, key)
        if queue is None:
            raise self._missing(queue_table, key)
        body = req.json()
        target = body.get("Target") if isinstance(body, dict) else None
        if not isinstance(target, dict):
            raise bad_request("The parameter 'Target' is required.", INVALID_ARGUMENT)
        type_name = str(target.get("@odata.type", "")).removeprefix("#").removeprefix("Microsoft.Dynamics.CRM.")
        target_table = self.org.schema.get(type_name)
        if target_table is None:
            raise bad_request(f"The 'Target' must name its entity type in @odata.type (got '{type_name}').",
                              INVALID_ARGUMENT)
        items = self.org.schema.get("queueitem")
        assert items is not None
        target_id = target.get(target_table.primary_id)
        if not isinstance(target_id, str):
            raise bad_request(f"The 'Target' must carry its {target_table.primary_id}.", INVALID_ARGUMENT)
        if f"objectid_{target_table.logical}" not in items.navs:
            raise DataverseError(400, INVALID_ARGUMENT, f"The {target_table.logical} entity is not enabled for "
                                 "queues. Only queue-enabled records can be added to a queue.")
        record = self.engine.find(target_table, target_id)
        if record is None:
            raise record_not_found(target_table.logical, target_id)
        props = body.get("QueueItemProperties") if isinstance(body, dict) else None
        extra = {k: v for k, v in (props or {}).items() if not k.startswith("@odata.type") and
                 k.split("@")[0] not in ("queueid", "objectid") and not k.startswith(("objectid_", "queueid"))}
        queue_bind = f"/{queue_table.entity_set}({queue[queue_table.primary_id]})"
        store = self.org.store
        with store.tx():
            current = self.engine.active_queue_item({"id": str(record[target_table.primary_id]),
                                                     "type": target_table.logical})
            if current is None:
                item = self.engine.create(items, {**extra, "queueid@odata.bind": queue_bind,
                                                  f"objectid_{target_table.logical}@odata.bind":
                                                      f"/{target_table.entity_set}({record[target_table.primary_id]})"},
                                          req.caller)
            else:
                moved = {**current, "queueid": {"id": str(queue[queue_table.primary_id]), "type": "queue"},
                         "enteredon": now_iso()}
                item = self.engine.write_raw(items, moved, req.caller)
                if extra:
                    item = self.engine.update(items, item, extra, req.caller)
        return ApiResponse.of_json({
            "@odata.context": f"{req.base_url}{DATA_PREFIX}$metadata#Microsoft.Dynamics.CRM.AddToQueueResponse",
            "QueueItemId": item["queueitemid"]})

    def _close(self, req: ApiRequest, action: str) -> ApiResponse:
        body = req.json()
        entity_param, target_name, activity = (
            ("IncidentResolution", "incident", "incidentresolution") if action == "CloseIncident"
            else ("OpportunityClose", "opportunity", "opportunityclose")
        )
        closing = body.get(entity_param) if isinstance(body, dict) else None
        status = body.get("Status") if isinstance(body, dict) else None
        if not isinstance(closing, dict):
            raise bad_request(f"The parameter '{entity_param}' is required.", INVALID_ARGUMENT)
        if isinstance(status, bool) or not isinstance(status, int):
            raise bad_request("The parameter 'Status' is required and must be an integer.", INVALID_ARGUMENT)
        activity_table = self.org.schema.get(activity)
        target_table = self.org.schema.get(target_name)
        assert activity_table is not None and target_table is not None
        state = {"CloseIncident": 1, "WinOpportunity": 1, "LoseOpportunity": 2}[action]
        store = self.org.store
        with store.tx():
            fields = {k: v for k, v in closing.items() if not k.startswith("@odata.type")}
            nav = f"{target_name}id@odata.bind"
            if nav not in fields:
                raise bad_request(f"The {entity_param} must reference the {target_name} through '{nav}'.",
                                  INVALID_ARGUMENT)
            ref_table, ref_key = self.engine.parse_ref(str(fields[nav]))
            target = self.engine.find(ref_table, ref_key) if ref_table is target_table else None
            if target is None:
                raise record_not_found(target_name, str(ref_key))
            option = (target_table.column("statuscode") or target_table.columns["statecode"]).option(status)
            if option is None or option.state != state:
                label = target_table.columns["statecode"].option(state).label  # type: ignore[union-attr]
                raise DataverseError(
                    400, STATE_STATUS,
                    f"{status} is not a valid status code for state code {target_table.schema_name}State.{label} on "
                    f"{target_name} with Id {target[target_table.primary_id]}.",
                )
            if target.get("statecode") != 0:
                message = ("This case has already been resolved. Close and reopen the case, and then try again."
                           if target_name == "incident" else
                           "The opportunity is already closed. Reopen it before closing it again.")
                raise DataverseError(400, INVALID_ARGUMENT, message)
            fields.setdefault("actualend", now_iso())
            record = self.engine.create(activity_table, {**fields, "statecode": 1, "statuscode": 2}, req.caller)
            target = dict(target)
            target["statecode"], target["statuscode"] = state, status
            if target_name == "opportunity":
                target["actualclosedate"] = str(record.get("actualend") or now_iso())[:10]
                target["closeprobability"] = 100 if state == 1 else 0
                if state == 1 and record.get("actualrevenue") is not None:
                    target["actualvalue"] = record["actualrevenue"]
            self.engine.write_raw(target_table, target, req.caller)
        return ApiResponse.empty()

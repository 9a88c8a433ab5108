"""Query and queryAll with 2,000-row pages and ``nextRecordsUrl`` cursors (paths, not URLs).

Results are computed once and kept in an in-memory cursor table; each follow-up page is a
separate (counted) API call, as in Salesforce. Cursors do not survive a restart
(``INVALID_QUERY_LOCATOR``), which matches expired locators.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.salesforce import soql
from sandbox.salesforce.errors import ApiError, unsupported_type
from sandbox.salesforce.http import org_of, sf_json, version_of
from sandbox.salesforce.org import Org

router = APIRouter()
V = "/services/data/{version}"
MAX_CURSORS = 200


class Cursors:
    """Open query locators: id -> remaining records."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, records: list[dict[str, Any]]) -> str:
        cursor = "01g" + secrets.token_hex(6).upper()[:12]
        with self._lock:
            self._items[cursor] = records
            while len(self._items) > MAX_CURSORS:
                self._items.popitem(last=False)
        return cursor

    def get(self, cursor: str) -> list[dict[str, Any]] | None:
        with self._lock:
            return self._items.get(cursor)


def _page_size(org: Org, request: Request) -> int:
    size = org.config.query_page_size
    options = request.headers.get("Sforce-Query-Options", "")
    match = re.search(r"batchSize\s*=\s*(\d+)", options)
    if match:
        size = min(size, max(200, int(match.group(1))))
    return size


def run_query(org: Org, text: str, include_deleted: bool, version: str) -> tuple[int, list[dict[str, Any]]]:
    """Parse, bind and evaluate one SOQL statement against the org's records."""
    query = soql.parse(text)
    objdef = org.schema.get(query.obj)
    if objdef is None:
        err = unsupported_type(query.obj)
        err.errors[0]["message"] = soql._locate(text, query.obj_pos, err.errors[0]["message"])
        raise err
    if objdef.name == "ContentDocumentLink" and not _filters_cdl(query.where):
        raise soql.malformed(
            text,
            query.obj_pos,
            (
                "Implementation restriction: ContentDocumentLink requires a filter by a single Id on ContentDocumentId "
                "or LinkedEntityId using the equals operator or multiple Id's using the IN operator."
            ),
        )

    def parents(ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        return {k: (v[0], v[1]) for k, v in org.store.get_records(ids).items()}

    executor = soql.Executor(text, query, objdef, schema=org.schema, load_parents=parents, api_version=version)
    return executor.run(org.store.records_of(objdef.name, include_deleted))


def _filters_cdl(node: Any) -> bool:
    """True when the WHERE clause (top-level AND) filters ContentDocumentId/LinkedEntityId by = or IN."""
    if isinstance(node, soql.BoolOp):
        return node.op == "and" and any(_filters_cdl(n) for n in node.items)
    if isinstance(node, soql.Cmp):
        name = node.path.parts[-1].lower()
        return name in ("contentdocumentid", "linkedentityid") and node.op in ("=", "in")
    return False


def _respond(org: Org, request: Request, total: int, records: list[dict[str, Any]], kind: str) -> Response:
    size = _page_size(org, request)
    page = records[:size]
    body: dict[str, Any] = {"totalSize": total, "done": len(records) <= size, "records": page}
    if len(records) > size:
        cursor = request.app.state.cursors.open(records)
        body["nextRecordsUrl"] = f"/services/data/v{version_of(request)}/{kind}/{cursor}-{size}"
    return sf_json(body)


def _query(request: Request, include_deleted: bool) -> Response:
    org = org_of(request)
    text = request.query_params.get("q")
    if not text:
        raise ApiError.of(400, "MALFORMED_QUERY", "A query string has to be specified")
    total, records = run_query(org, text, include_deleted, version_of(request))
    return _respond(org, request, total, records, "queryAll" if include_deleted else "query")


@router.get(V + "/query")
def query(request: Request) -> Response:
    return _query(request, False)


@router.get(V + "/queryAll")
def query_all(request: Request) -> Response:
    return _query(request, True)


def _more(request: Request, locator: str, kind: str) -> Response:
    cursor, _, offset_text = locator.rpartition("-")
    records = request.app.state.cursors.get(cursor) if offset_text.isdigit() else None
    if records is None:
        raise ApiError.of(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    offset = int(offset_text)
    org = org_of(request)
    size = _page_size(org, request)
    page = records[offset : offset + size]
    end = offset + len(page)
    body: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records), "records": page}
    if end < len(records):
        body["nextRecordsUrl"] = f"/services/data/v{version_of(request)}/{kind}/{cursor}-{end}"
    return sf_json(body)


@router.get(V + "/query/{locator}")
def query_more(locator: str, request: Request) -> Response:
    return _more(request, locator, "query")


@router.get(V + "/queryAll/{locator}")
def query_all_more(locator: str, request: Request) -> Response:
    return _more(request, locator, "queryAll")

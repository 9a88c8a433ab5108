"""Query and queryAll with 2,000-row pages and ``nextRecordsUrl`` cursors (paths, not URLs).

No result set is held in memory: the first page streams the object's records from the store a
chunk at a time (:meth:`Store.scan`), counting the matches for ``totalSize`` and keeping the first
page; each follow-up page (a separate, counted API call, as in Salesforce) reads the store again
from where the previous page ended. A locator keeps the query text, ``totalSize``, the newest record
position when it was opened (records written later are not part of the result) and where its last
pages ended; an ORDER BY result also keeps its records' positions in order (integers, never rows).
Locators do not survive a restart and the oldest are dropped past :data:`MAX_CURSORS`
(``INVALID_QUERY_LOCATOR``), which matches expired locators.
"""

from __future__ import annotations

import re
import secrets
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.salesforce import soql
from sandbox.salesforce.errors import ApiError, unsupported_type
from sandbox.salesforce.http import org_of, sf_json, version_of
from sandbox.salesforce.org import Org
from sandbox.salesforce.schema import ObjectDef
from sandbox.salesforce.store import normed_key

router = APIRouter()
V = "/services/data/{version}"
MAX_CURSORS = 200
#: Records decoded per store read while a query streams (a query holds about this many at a time).
SCAN_CHUNK = 1000
#: Read only the records an ``Id`` / external-id ``=`` or ``IN`` term can match (tests turn it off to compare).
USE_INDEX = True
#: Page ends a locator remembers, so the next page (or a retried one) resumes without re-reading.
KEPT_POSITIONS = 4


@dataclass
class ListResult:
    """A small result computed whole (Tooling API pseudo-rows: the org's custom schema)."""

    records: list[dict[str, Any]]

    @property
    def total(self) -> int:
        return len(self.records)


@dataclass
class StoreQuery:
    """An open query over the org's records: what to read again for the next page, never the rows."""

    text: str
    include_deleted: bool
    version: str
    total: int
    upto_seq: int
    order: array[int] | None = None  # ORDER BY: the result's record positions, in order
    positions: OrderedDict[int, int] = field(default_factory=OrderedDict)  # result offset -> last seq read

    def remember(self, offset: int, seq: int) -> None:
        self.positions[offset] = seq
        while len(self.positions) > KEPT_POSITIONS:
            self.positions.popitem(last=False)


Result = ListResult | StoreQuery


class Cursors:
    """Open query locators: id -> how to read the next page."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, Result] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, result: Result) -> str:
        cursor = "01g" + secrets.token_hex(6).upper()[:12]
        with self._lock:
            self._items[cursor] = result
            while len(self._items) > MAX_CURSORS:
                self._items.popitem(last=False)
        return cursor

    def get(self, cursor: str) -> Result | None:
        with self._lock:
            return self._items.get(cursor)


def _page_size(org: Org, request: Request) -> int:
    size = org.config.query_page_size
    options = request.headers.get("Sforce-Query-Options", "")
    match = re.search(r"batchSize\s*=\s*(\d+)", options)
    if match:
        size = min(size, max(200, int(match.group(1))))
    return size


def _executor(org: Org, text: str, version: str) -> tuple[soql.Executor, ObjectDef]:
    """Parse and bind one SOQL statement against the org's schema."""
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
    return executor, objdef


def _chunks(
    org: Org, executor: soql.Executor, objdef: ObjectDef, include_deleted: bool, *, after_seq: int = 0,
    upto_seq: int,
) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """The records a query has to look at, in ``seq`` order, a chunk at a time: those holding the values of the
    WHERE clause's key term (:meth:`soql.Executor.key_filter`) through the indexes, otherwise all of them."""
    keyed = executor.key_filter() if USE_INDEX else None
    if keyed is None:
        return org.store.scan(objdef.name, include_deleted, after_seq=after_seq, upto_seq=upto_seq, chunk=SCAN_CHUNK)
    fdef, values = keyed
    if fdef.type == "id":
        seqs = org.store.seqs_by_id(objdef.name, sorted({str(v) for v in values}))
    else:
        keys = sorted({k for k in (normed_key(v) for v in values) if k is not None})
        seqs = org.store.seqs_by_query_key(objdef.name, fdef.name, keys)
    return org.store.scan_seqs(seqs, include_deleted, after_seq=after_seq, upto_seq=upto_seq, chunk=SCAN_CHUNK)


def _filters_cdl(node: Any) -> bool:
    """True when the WHERE clause (top-level AND) filters ContentDocumentId/LinkedEntityId by = or IN."""
    if isinstance(node, soql.BoolOp):
        return node.op == "and" and any(_filters_cdl(n) for n in node.items)
    if isinstance(node, soql.Cmp):
        name = node.path.parts[-1].lower()
        return name in ("contentdocumentid", "linkedentityid") and node.op in ("=", "in")
    return False


def _shaped(executor: soql.Executor, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    executor.load_parents_of(rows)
    return [executor.shape(r) for r in rows]


def open_query(org: Org, text: str, include_deleted: bool, version: str, size: int
               ) -> tuple[StoreQuery | None, int, list[dict[str, Any]]]:
    """(the locator's state or None for an aggregate, totalSize, the first ``size`` records)."""
    executor, objdef = _executor(org, text, version)
    upto = org.store.max_seq()
    chunks = _chunks(org, executor, objdef, include_deleted, upto_seq=upto)
    if executor.q.count:
        if executor.ordered:
            seqs = executor.ordered_seqs(chunks)
            rows: Any = (r for part in _by_seq(org, seqs, include_deleted) for _, r in part)
        else:
            rows = (r for _, r in executor.window(executor.matching(chunks)))
        total, records = executor.aggregate(rows)
        return None, total, records
    state = StoreQuery(text, include_deleted, version, 0, upto)
    if executor.ordered:
        state.order = array("q", executor.ordered_seqs(chunks))
        state.total = len(state.order)
        first = [r for _, r in org.store.records_by_seq(list(state.order[:size]), include_deleted)]
        return state, state.total, _shaped(executor, first)
    page: list[dict[str, Any]] = []
    for seq, row in executor.window(executor.matching(chunks)):  # one pass: the first page, and the count
        state.total += 1
        if len(page) < size:
            page.append(row)
            if len(page) == size:
                state.remember(size, seq)
    return state, state.total, _shaped(executor, page)


def _by_seq(org: Org, seqs: list[int], include_deleted: bool) -> Any:
    for start in range(0, len(seqs), SCAN_CHUNK):
        yield org.store.records_by_seq(seqs[start : start + SCAN_CHUNK], include_deleted)


def read_page(org: Org, state: StoreQuery, offset: int, size: int) -> tuple[list[dict[str, Any]], int, bool]:
    """Records ``offset`` .. ``offset + size`` of an open query: (the records, the next offset, whether the
    store ran out first: records deleted since the query was opened)."""
    executor, objdef = _executor(org, state.text, state.version)
    want = max(0, min(size, state.total - offset))
    if state.order is not None:
        seqs = list(state.order[offset : offset + want])
        rows = [r for _, r in org.store.records_by_seq(seqs, state.include_deleted)]
        return _shaped(executor, rows), offset + want, False
    after = state.positions.get(offset)
    chunks = _chunks(org, executor, objdef, state.include_deleted, after_seq=after or 0, upto_seq=state.upto_seq)
    matches = executor.matching(chunks)
    if after is None:  # not where a page ended: read from the start, as the first page did
        matches = islice(executor.window(matches), offset, None)
    page: list[tuple[int, dict[str, Any]]] = list(islice(matches, want))
    if page:
        state.remember(offset + len(page), page[-1][0])
    return _shaped(executor, [r for _, r in page]), offset + len(page), len(page) < want


def _respond(org: Org, request: Request, total: int, records: list[dict[str, Any]], kind: str,
             state: Result | None) -> Response:
    """The first page: ``records`` is the whole result (a list result) or its first page (store, aggregate)."""
    size = _page_size(org, request)
    more = state is not None and (len(state.records) if isinstance(state, ListResult) else state.total) > size
    body: dict[str, Any] = {"totalSize": total, "done": not more, "records": records[:size]}
    if more and state is not None:
        cursor = request.app.state.cursors.open(state)
        body["nextRecordsUrl"] = f"/services/data/v{version_of(request)}/{kind}/{cursor}-{size}"
    return sf_json(body)


def respond_list(org: Org, request: Request, total: int, records: list[dict[str, Any]], kind: str) -> Response:
    """A small result computed whole (Tooling API), paged like any other."""
    return _respond(org, request, total, records, kind, ListResult(records))


def _query(request: Request, include_deleted: bool) -> Response:
    org = org_of(request)
    text = request.query_params.get("q")
    if not text:
        raise ApiError.of(400, "MALFORMED_QUERY", "A query string has to be specified")
    size = _page_size(org, request)
    state, total, records = open_query(org, text, include_deleted, version_of(request), size)
    return _respond(org, request, total, records, "queryAll" if include_deleted else "query", state)


@router.get(V + "/query")
def query(request: Request) -> Response:
    return _query(request, False)


@router.get(V + "/queryAll")
def query_all(request: Request) -> Response:
    return _query(request, True)


def _more(request: Request, locator: str, kind: str) -> Response:
    cursor, _, offset_text = locator.rpartition("-")
    state = request.app.state.cursors.get(cursor) if offset_text.isdigit() else None
    if state is None:
        raise ApiError.of(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    offset = int(offset_text)
    org = org_of(request)
    size = _page_size(org, request)
    if isinstance(state, ListResult):
        page = state.records[offset : offset + size]
        end, ran_out = offset + len(page), False
    else:
        page, end, ran_out = read_page(org, state, offset, size)
    done = ran_out or end >= state.total
    body: dict[str, Any] = {"totalSize": state.total, "done": done, "records": page}
    if not done:
        body["nextRecordsUrl"] = f"/services/data/v{version_of(request)}/{kind}/{cursor}-{end}"
    return sf_json(body)


@router.get(V + "/query/{locator}")
def query_more(locator: str, request: Request) -> Response:
    return _more(request, locator, "query")


@router.get(V + "/queryAll/{locator}")
def query_all_more(locator: str, request: Request) -> Response:
    return _more(request, locator, "queryAll")

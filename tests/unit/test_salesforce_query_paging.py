"""Unit: the Salesforce stand-in pages SOQL results out of its store instead of holding them.

In-process, against an org file with 20,000 Contacts: every page a locator serves equals the
same slice of the whole result as the evaluator computes it in one piece (unordered, ORDER BY,
LIMIT/OFFSET, queryAll, a smaller batch size, a page asked out of sequence), the locator holds
no record, and walking every page allocates a small fraction of what one whole result takes.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.salesforce import query_api
from sandbox.salesforce.config import SalesforceStandinConfig
from sandbox.salesforce.org import Org, create_org

ROWS = 20_000


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Org:
    path = Path(tmp_path_factory.mktemp("sfpaging")) / "org.sqlite"
    create_org(path)
    org = Org(path, SalesforceStandinConfig())
    with org.store.tx():
        for i in range(ROWS):
            rid = org.store.new_id("003")
            doc = {"Id": rid, "LastName": f"Row{(i * 7919) % ROWS:05d}", "Title": "odd" if i % 2 else None,
                   "IsDeleted": i % 10 == 0, "Department": "x" * 200}
            org.store.insert_record("Contact", rid, doc, [])
            if i % 10 == 0:
                org.store.delete_record(rid, doc, hard=False)
    return org


def whole(org: Org, text: str, include_deleted: bool = False) -> tuple[int, list[dict[str, Any]]]:
    """The result computed in one piece, as the stand-in did before it paged from the store."""
    executor, objdef = query_api._executor(org, text, "60.0")
    rows = [r for part in org.store.scan(objdef.name, include_deleted) for _, r in part]
    return executor.run(rows)


def paged(org: Org, text: str, size: int = 2000, include_deleted: bool = False, *, keep: bool = True
          ) -> tuple[int, list[dict[str, Any]], query_api.StoreQuery | None]:
    """Every page as a client asks for them (``keep=False``: each page dropped once read, as a streaming client)."""
    state, total, records = query_api.open_query(org, text, include_deleted, "60.0", size)
    out = list(records) if keep else []
    offset = len(records)
    while state is not None and offset < state.total:
        page, offset, ran_out = query_api.read_page(org, state, offset, size)
        assert not ran_out and len(page) <= size
        if keep:
            out += page
    return total, out, state


@pytest.mark.parametrize(("text", "size", "deleted"), [
    ("SELECT Id, LastName FROM Contact", 2000, False),
    ("SELECT Id, LastName FROM Contact", 2000, True),
    ("SELECT Id, LastName FROM Contact WHERE Title = 'odd'", 500, False),
    ("SELECT Id, LastName FROM Contact ORDER BY LastName DESC NULLS LAST", 2000, False),
    ("SELECT Id, Title FROM Contact ORDER BY Title NULLS FIRST, LastName", 2000, True),
    ("SELECT Id FROM Contact WHERE Title != null LIMIT 4500 OFFSET 7", 2000, False),
    ("SELECT Id FROM Contact ORDER BY LastName LIMIT 2500 OFFSET 3", 2000, False),
])
def test_every_page_is_the_same_slice_of_the_whole_result(org: Org, text: str, size: int, deleted: bool) -> None:
    expected_total, expected = whole(org, text, deleted)
    total, records, _ = paged(org, text, size, deleted)
    assert total == expected_total and records == expected


def test_counts_are_answered_without_a_locator(org: Org) -> None:
    for text in ("SELECT COUNT() FROM Contact", "SELECT COUNT(Title) FROM Contact WHERE LastName LIKE 'Row1%'"):
        state, total, records = query_api.open_query(org, text, False, "60.0", 2000)
        assert state is None and (total, records) == whole(org, text)


def test_a_page_asked_out_of_sequence_is_read_from_the_start(org: Org) -> None:
    text = "SELECT Id FROM Contact WHERE Title = 'odd'"
    _, expected = whole(org, text)
    state, _, first = query_api.open_query(org, text, False, "60.0", 2000)
    assert state is not None and first == expected[:2000]
    page, end, _ = query_api.read_page(org, state, 6000, 2000)  # never a page end: no remembered position
    assert page == expected[6000:8000] and end == 8000
    again, _, _ = query_api.read_page(org, state, 6000, 2000)  # a retried page
    assert again == page


def _peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_locator_holds_no_record_and_paging_stays_small(org: Org) -> None:
    text = "SELECT Id, LastName, Department FROM Contact"
    # GIVEN the peak of holding the whole result once (what a locator used to keep)
    held = _peak(lambda: whole(org, text))
    # WHEN every page is served from the store THEN the peak is a page and a store chunk, not the result
    streamed = _peak(lambda: paged(org, text, keep=False))
    two_pages = _peak(lambda: paged(org, text + " LIMIT 4000", keep=False))
    assert streamed < held / 3 and streamed < 1.5 * two_pages, (streamed, two_pages, held)
    # AND the open locator keeps the query and positions only
    state, _, _ = query_api.open_query(org, text, False, "60.0", 2000)
    assert state is not None and state.order is None and state.total == ROWS - ROWS // 10
    assert len(state.positions) <= query_api.KEPT_POSITIONS

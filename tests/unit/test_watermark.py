"""Unit: the extraction watermark keeps only the overlap window's versions, page by page.

GIVEN 5,000 records one minute apart, read in (updated_at, id) order in pages of 100, and a 300 s overlap
WHEN the watermark takes each page and is pruned after it (as ``extract_partition`` does)
THEN it never holds more than the window's records plus a page, its state is the one an unpruned watermark
reaches at the end, and a next pass re-reading the window skips exactly the versions already processed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.domain.extract import _Watermark

START = datetime(2024, 1, 1, tzinfo=UTC)
RECORDS = [{"id": f"r{i:05d}", "updated_at": (START + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")}
           for i in range(5000)]


def test_pruned_page_by_page_it_holds_the_window_only() -> None:
    pruned, whole = _Watermark(None, 300), _Watermark(None, 300)
    most = 0
    for start in range(0, len(RECORDS), 100):
        for rec in RECORDS[start:start + 100]:
            pruned.add(rec)
            whole.add(rec)
        most = max(most, len(pruned.recent))
        pruned.prune()
    assert most <= 100 + 6 and len(whole.recent) == 5000  # unpruned, it held every record read
    assert pruned.state() == whole.state()
    assert pruned.state()["recent"] == {r["id"]: r["updated_at"] for r in RECORDS[-6:]}

    again = _Watermark(pruned.state(), 300)  # the next pass re-reads from the watermark minus the overlap
    window = [*RECORDS[-6:], {"id": "r04999", "updated_at": "2024-01-04T11:20:00Z"}]  # r04999 changed since
    assert [again.seen(r) for r in window] == [True] * 6 + [False]

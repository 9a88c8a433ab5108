"""Unit: a load's records held as their JSON lines (``LineRecords``), parsed one at a time as they are read."""

from __future__ import annotations

import gc
import json
import tracemalloc
from typing import Any

from shared.aws import json_line
from shared.connectors.destination import LineRecords, chunks


def _work_order(i: int) -> dict[str, Any]:
    return {"Flitstack_Key__c": f"work_orders:wo-{i:06d}", "Subject": f"Work order {i}",
            "Description": "Replace the condenser fan motor and check the refrigerant charge. " * 8,
            "Status": "Closed", "Priority": "High", "Origin": "Phone", "AccountId": f"001{i:012d}",
            "Scheduled_Start__c": "2024-03-01T08:00:00Z", "Hours__c": 2.5, "Billable__c": True}


def test_reads_parse_each_record_afresh_and_slices_and_filters_keep_the_keys() -> None:
    rows = [_work_order(i) for i in range(5)]
    records = LineRecords([json_line(r) for r in rows], "Flitstack_Key__c")
    assert len(records) == 5 and list(records) == rows and records[3] == rows[3]
    assert records.keys == [r["Flitstack_Key__c"] for r in rows]
    records[0]["Subject"] = "changed"  # a reader's change to what it read changes nothing held
    assert records[0]["Subject"] == "Work order 0"
    tail = records[2:]
    assert isinstance(tail, LineRecords) and list(tail) == rows[2:] and tail.keys == records.keys[2:]
    assert [list(c) for c in chunks(records, 2)] == [rows[0:2], rows[2:4], rows[4:5]]
    kept = records.where_key(lambda k: k.endswith(("1", "4")))
    assert list(kept) == [rows[1], rows[4]] and kept.keys == [rows[1]["Flitstack_Key__c"], rows[4]["Flitstack_Key__c"]]


def test_filtering_by_key_parses_nothing() -> None:
    broken = LineRecords([b"{not json", b"{nor this"], "k", keys=["a", "b"])
    assert broken.where_key(lambda k: k == "b").keys == ["b"]
    assert len(broken.where_key(lambda k: False)) == 0


def test_ten_thousand_work_orders_as_lines_take_under_half_their_dictionaries() -> None:
    lines = [json_line(_work_order(i)) for i in range(10_000)]
    gc.collect()
    tracemalloc.start()
    try:
        as_lines = LineRecords([bytes(bytearray(line)) for line in lines], "Flitstack_Key__c")  # as read from S3
        held_lines = tracemalloc.get_traced_memory()[0]
        del as_lines
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        as_dicts = [json.loads(line) for line in lines]
        held_dicts = tracemalloc.get_traced_memory()[0] - start
        # a pass over the lines holds one parsed record at a time
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        columns = {k for r in LineRecords(lines, "Flitstack_Key__c", keys=[""] * len(lines)) for k in r}
        pass_peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert len(as_dicts) == 10_000 and "Hours__c" in columns
    assert held_lines < held_dicts / 2, (held_lines, held_dicts)
    assert pass_peak < 256 * 1024, pass_peak  # one record and the column set, not 10,000 records

"""Unit: what rollback does to each record the run wrote, and in which order."""

from __future__ import annotations

import json

from shared import planner
from shared.connectors.salesforce.client import BULK_NULL, _to_csv
from shared.domain.rollback import Undo, decide, delete_phases
from tests.builders import spec


def _entry(obj: str, rid: str, key: str, op: str, at: str, before: object = None, batch: str = "B") -> dict[str, str]:
    e = {"dest_object": obj, "dest_id": rid, "source_key": key, "operation": op, "at": at, "batch": batch,
         "seq": f"{obj}#{key}#{batch}#{op}"}
    if op != "created":
        e["before"] = "" if before is None else json.dumps(before)
    return e


def test_created_anywhere_in_the_run_means_delete() -> None:
    # GIVEN a record created by the load, then updated by the fix-up pass
    entries = [_entry("Account", "001A", "customers:1", "created", "2024-01-01T00:00:01"),
               _entry("Account", "001A", "customers:1", "fixup", "2024-01-01T00:00:05", {"ParentId": None})]
    # THEN it is deleted, never restored
    assert [(u.action, u.dest_id) for u in decide(entries)] == [("delete", "001A")]


def test_restore_uses_the_earliest_image_and_fills_in_fields_only_later_writes_cover() -> None:
    # GIVEN a pre-existing record written three times in one run (listed out of order)
    entries = [
        _entry("Account", "001B", "customers:2", "updated", "2024-01-01T00:00:09", {"Name": "Run", "Phone": "2"},
               batch="delta"),
        _entry("Account", "001B", "customers:2", "updated", "2024-01-01T00:00:01", {"Name": "Old", "Phone": None}),
        _entry("Account", "001B", "customers:2", "fixup", "2024-01-01T00:00:05", {"ParentId": None, "Name": "Run"},
               batch="fixup"),
    ]
    # THEN the earliest write's values win, and ParentId (only the fix-up touched it) comes from there
    [undo] = decide(entries)
    assert undo.action == "restore"
    assert undo.image == {"Name": "Old", "Phone": None, "ParentId": None}


def test_a_missing_earliest_before_image_is_reported_never_guessed() -> None:
    entries = [_entry("Contact", "003C", "contacts:3", "updated", "2024-01-01T00:00:01", None),
               _entry("Contact", "003C", "contacts:3", "fixup", "2024-01-01T00:00:02", {"Title": "x"}),
               _entry("Contact", "003D", "contacts:4", "fixup", "2024-01-01T00:00:02", None),
               {**_entry("Contact", "", "contacts:5", "updated", "2024-01-01T00:00:02", {}), "dest_id": ""}]
    # fix-up entries without a before-image are written as JSON null
    entries[2]["before"] = "null"
    undos = decide(entries)
    assert [(u.dest_id, u.action) for u in undos] == [("003C", "unrestorable"), ("003D", "unrestorable")]
    assert "no before-image" in undos[0].reason


def test_deletes_run_children_first_and_default_records_last() -> None:
    s = spec()
    levels = planner.levels(s)
    default_key = next(iter(s.default_records))
    undos = [Undo("Account", "001D", default_key, "delete"),
             Undo("Account", "001E", "customers:1", "delete"),
             Undo("Parts_Used__c", "a01F", "parts_used:1", "delete"),
             Undo("Contact", "003G", "contacts:1", "delete")]
    phases = delete_phases(s, undos)
    names = [name for name, _ in phases]
    assert names[-1] == "delete defaults" and [u.dest_id for u in phases[-1][1]] == ["001D"]
    order = [u.dest_id for _, group in phases for u in group]
    assert order.index("a01F") < order.index("003G") < order.index("001E") < order.index("001D")
    assert all(int(n.rsplit(" ", 1)[1]) < len(levels) for n in names[:-1])


def test_bulk_csv_tells_null_from_unchanged() -> None:
    rows = [{"Id": "001A", "Phone": None, "Name": "A"}, {"Id": "001B", "Name": "B", "Active": True}]
    assert _to_csv(rows, BULK_NULL).splitlines() == ["Active,Id,Name,Phone", ",001A,A,#N/A", "true,001B,B,"]
    assert _to_csv(rows).splitlines()[1] == ",001A,A,"  # loads keep the old meaning: None = leave as is

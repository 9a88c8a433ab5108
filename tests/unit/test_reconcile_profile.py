"""Unit: reconciliation profiles what a run sent and what the destination holds, and compares them.

Fakes stand at our interfaces: a blob store (dicts), a run table and a destination that
answers the profile reads (by key prefix, by id) from rows and records every read it was asked.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from shared.domain import reconcile, xwalk
from shared.domain.keys import Keys
from shared.domain.profile import (
    EMPTY,
    REFUSED,
    Thresholds,
    compare,
    destination_rows,
    profile_pair,
    profiled_fields,
)
from shared.domain.spill import Spill
from shared.mapping.spec import FieldRule, LookupRule, LookupTarget, MigrationSpec, ObjectMapping, OwnerRule
from shared.models import Endpoint, RunRef
from shared.report_html import render

EXT = "Sercom_Id__c"
CUST = LookupTarget(source_object="customers", dest_object="Account")


def case_mapping() -> ObjectMapping:
    return ObjectMapping(
        name="work_orders->Case", source_object="work_orders", dest_object="Case",
        fields=[
            FieldRule(dest="Subject", source="subject"),
            FieldRule(dest="Status", source="status", transform="picklist", value_map={"open": "New"}),
            FieldRule(dest="IsEscalated", source="escalated", transform="boolean"),
            FieldRule(dest="Revenue__c", source="revenue", transform="currency"),
            FieldRule(dest="Due__c", source="due", transform="date"),
            FieldRule(dest="CreatedDate", source="created_at", transform="datetime", insert_only=True),
            FieldRule(dest="LastModifiedDate", source="updated_at", transform="datetime", insert_only=True),
            FieldRule(dest="Description", source="description", transform="text"),
        ],
        lookups=[LookupRule(dest="AccountId", source="customer_id", target=CUST),
                 LookupRule(dest="ParentId", source="parent_id", target=CUST, deferred=True)],
        owner=OwnerRule(source="technician_id"),
    )


def role_mapping() -> ObjectMapping:
    return ObjectMapping(
        name="contacts->AccountContactRole", source_object="contacts", dest_object="AccountContactRole",
        natural_key=["AccountId", "ContactId", "Role"],
        fields=[FieldRule(dest="Role", source="role", transform="picklist", value_map={"primary": "Decision Maker"})],
        lookups=[LookupRule(dest="AccountId", source="customer_id", target=CUST)],
    )


def sent_case(n: int, **changes: Any) -> dict[str, Any]:
    """A load-ready Case as the transform writes it (absent keys: nothing sent)."""
    rec: dict[str, Any] = {EXT: f"work_orders:wo_{n}", "Subject": f"WO {n}", "Status": "New" if n % 3 else "Closed",
                           "IsEscalated": n % 2 == 0, "Revenue__c": 10.25 * n, "Due__c": f"2024-01-{n:02d}",
                           "CreatedDate": f"2023-05-{n:02d}T10:00:00.000Z",
                           "LastModifiedDate": f"2023-06-{n:02d}T10:00:00.000Z",
                           "AccountId": f"001{n:012d}", "OwnerId": "005A"}
    rec.update(changes)
    return {k: v for k, v in rec.items() if v is not ...}


def held(rec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The destination's row for a sent record: same values, Salesforce's date-time notation."""
    row = {"Id": "500" + rec[EXT].rsplit("_", 1)[1].zfill(12), **rec}
    for f in ("CreatedDate", "LastModifiedDate"):
        if row.get(f):
            row[f] = str(row[f]).replace(".000Z", ".000+0000")
    row.setdefault("IsEscalated", False)
    row.update(changes)
    return row


def spilled(rows_by_key: Mapping[str, Mapping[str, Any]], refused: frozenset[str] = frozenset()) -> Spill:
    """The destination's rows by key (and the refused keys) where profiling reads them: a spill file."""
    held_rows = Spill()
    held_rows.put(rows_by_key.items())
    held_rows.mark(REFUSED, refused)
    return held_rows


def run_compare(sent: list[dict[str, Any]], rows: list[dict[str, Any]], thresholds: Thresholds | None = None,
                refused: frozenset[str] = frozenset()) -> dict[tuple[str, str | None], Any]:
    limits = thresholds or Thresholds()
    fields, _ = profiled_fields(case_mapping(), limits)
    with spilled({r[EXT]: r for r in rows}, refused) as held_rows:
        pair = profile_pair(fields, sent, EXT, held_rows)
    return {(c.check, c.field): c for c in compare(fields, pair, limits)}


def failed(checks: dict[tuple[str, str | None], Any]) -> set[tuple[str, str | None]]:
    return {k for k, c in checks.items() if not c.passed}


def test_fields_are_profiled_by_kind_and_long_text_deferred_lookups_are_left_out() -> None:
    fields, skipped = profiled_fields(case_mapping(), Thresholds())
    kinds = {f.name: f.kind for f in fields}
    assert kinds == {"Subject": "value", "Status": "histogram", "IsEscalated": "histogram", "Revenue__c": "sum",
                     "Due__c": "dates", "CreatedDate": "dates", "LastModifiedDate": "dates", "AccountId": "value",
                     "OwnerId": "value"}
    assert {f.name for f in fields if f.lookup} == {"AccountId"}
    assert {f.name for f in fields if f.insert_only} == {"CreatedDate", "LastModifiedDate"}
    assert set(skipped) == {"Description", "ParentId"}
    with_text, _ = profiled_fields(case_mapping(), Thresholds(profile_long_text=True))
    assert "Description" in {f.name for f in with_text}


def test_a_destination_holding_what_was_sent_passes_every_check() -> None:
    # GIVEN ten Cases sent and held alike (the destination writes date-times as +0000, checkboxes never empty)
    sent = [sent_case(n, IsEscalated=... if n == 4 else n % 2 == 0) for n in range(1, 11)]
    checks = run_compare(sent, [held(r) for r in sent])
    assert failed(checks) == set()
    assert checks[("histogram", "IsEscalated")].source == {"false": 6, "true": 4}  # nothing sent = false
    assert checks[("sum", "Revenue__c")].source == pytest.approx(10.25 * 55)
    assert checks[("date_range", "CreatedDate")].destination == {"min": "2023-05-01T10:00:00.000Z",
                                                                 "max": "2023-05-10T10:00:00.000Z"}
    assert checks[("found", None)].source == checks[("found", None)].destination == 10


def test_a_changed_picklist_value_fails_its_histogram_with_both_counts() -> None:
    sent = [sent_case(n) for n in range(1, 7)]
    rows = [held(r, Status="Escalated") if n == 0 else held(r) for n, r in enumerate(sent)]
    checks = run_compare(sent, rows)
    assert failed(checks) == {("histogram", "Status")}
    hist = checks[("histogram", "Status")]
    assert hist.source == {"Closed": 2, "New": 4}
    assert hist.destination == {"Closed": 2, "Escalated": 1, "New": 3}
    assert hist.difference == 1
    assert "Escalated" in hist.note and "New" in hist.note


def test_sums_tolerate_rounding_to_the_cent_but_not_a_lost_amount() -> None:
    sent = [sent_case(n, Revenue__c=1000.004) for n in range(1, 4)]
    rounded = run_compare(sent, [held(r, Revenue__c=1000.0) for r in sent])
    assert ("sum", "Revenue__c") not in failed(rounded)  # 0.012 of 3,000.012: within 1e-4 relative
    lost = run_compare(sent, [held(r, Revenue__c=None) if r is sent[0] else held(r) for r in sent])
    assert failed(lost) == {("sum", "Revenue__c"), ("null_rate", "Revenue__c")}
    assert lost[("sum", "Revenue__c")].difference == pytest.approx(1000.004)


def test_null_rate_difference_is_held_to_the_threshold_in_points() -> None:
    sent = [sent_case(n) for n in range(1, 301)]
    one_lost = [held(r, Subject=None) if r is sent[0] else held(r) for r in sent]  # 0.33 points
    assert ("null_rate", "Subject") not in failed(run_compare(sent, one_lost))
    two_lost = [held(r, Subject="") if r in sent[:2] else held(r) for r in sent]  # 0.67 points
    rate = run_compare(sent, two_lost)[("null_rate", "Subject")]
    assert not rate.passed and rate.destination == pytest.approx(200 / 300)
    assert not run_compare(sent, one_lost, Thresholds(null_rate_points=0.0))[("null_rate", "Subject")].passed


def test_insert_only_fields_a_record_was_sent_without_are_not_compared() -> None:
    # GIVEN a record that existed already: sent without its audit timestamps; the destination keeps older ones
    sent = [sent_case(1), sent_case(2, CreatedDate=..., LastModifiedDate=...)]
    rows = [held(sent[0]), held(sent[1], CreatedDate="2001-01-01T00:00:00.000+0000",
                                LastModifiedDate="2001-01-01T00:00:00.000+0000")]
    checks = run_compare(sent, rows)
    assert failed(checks) == set()
    assert checks[("null_rate", "CreatedDate")].note.startswith("0 of 1 sent empty")


def test_last_modified_may_move_forward_but_not_back() -> None:
    sent = [sent_case(n) for n in range(1, 4)]
    later = run_compare(sent, [held(r, LastModifiedDate="2030-01-01T00:00:00.000+0000") for r in sent])
    assert failed(later) == set()
    earlier = run_compare(sent, [held(r, LastModifiedDate="2001-01-01T00:00:00.000+0000") for r in sent])
    assert failed(earlier) == {("date_range", "LastModifiedDate")}
    shifted = run_compare(sent, [held(r, Due__c="2025-01-01") if r is sent[2] else held(r) for r in sent])
    assert failed(shifted) == {("date_range", "Due__c")}


def test_orphans_missing_records_refused_ones_and_earlier_runs() -> None:
    # GIVEN 4 Cases sent, one refused by the destination, one whose account link got lost, one not there,
    # and a Case the destination holds from an earlier run
    sent = [sent_case(n) for n in range(1, 5)]
    rows = [held(sent[0]), held(sent[1], AccountId=None), held(sent_case(99))]
    checks = run_compare(sent, rows, refused=frozenset({sent[3][EXT]}))
    assert failed(checks) == {("found", None), ("orphans", "AccountId"), ("null_rate", "AccountId")}
    assert checks[("found", None)].source == 3 and checks[("found", None)].destination == 2
    assert "work_orders:wo_3" in checks[("found", None)].note
    # the missing record fails the found check only: fields are compared over the records both sides have
    assert checks[("orphans", "AccountId")].destination == 1 and checks[("orphans", "AccountId")].source == 2


class FakeDest:
    """Answers ``rows_with_key_prefix`` (with LIKE's wildcard '_', as SOQL would) and ``rows_by_id`` from rows."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.rows = rows
        self.reads: list[tuple[str, str, list[str], int]] = []  # (how, object, fields selected, ids asked)
        self.calls = 0

    def rows_with_key_prefix(self, obj: str, fields: list[str], key_field: str, prefix: str
                             ) -> Iterator[dict[str, Any]]:
        names = list(dict.fromkeys(["Id", key_field, *fields]))
        self.reads.append(("prefix", obj, names, 0))
        self.calls += 1
        like = re.compile(re.escape(prefix).replace("_", "."))
        return ({n: r.get(n) for n in names} for r in self.rows.get(obj, []) if like.match(str(r.get(key_field, ""))))

    def rows_by_id(self, obj: str, ids: list[str], fields: list[str]) -> list[dict[str, Any]]:
        names = list(dict.fromkeys(["Id", *fields]))
        self.reads.append(("ids", obj, names, len(ids)))
        self.calls += 1
        wanted = set(ids)
        return [{n: r.get(n) for n in names} for r in self.rows.get(obj, []) if r["Id"] in wanted]


def test_destination_side_is_one_read_per_mapping_or_one_by_the_recorded_ids() -> None:
    m = case_mapping()
    fields, _ = profiled_fields(m, Thresholds())
    other = {**held(sent_case(1)), EXT: "work_ordersX:1", "Id": "500X"}  # LIKE's '_' matches any character
    dest = FakeDest({"Case": [held(sent_case(n)) for n in range(1, 2501)] + [other]})
    keyed = list(destination_rows(dest, m, fields, EXT))
    assert len(dest.reads) == 1 and len(keyed) == 2500 and "500X" not in {r["Id"] for _, r in keyed}
    assert all(k == r[EXT] for k, r in keyed)
    assert dest.reads[0][2][:5] == ["Id", "Sercom_Id__c", "Subject", "Status", "IsEscalated"]
    assert "Description" not in dest.reads[0][2] and "ParentId" not in dest.reads[0][2]

    roles = role_mapping()
    ids = {f"contacts:c{n}": f"02Z{n:012d}" for n in range(1, 1001)} | {"customers:x": "02Zother"}
    dest = FakeDest({"AccountContactRole": [{"Id": i, "Role": "Decision Maker", "AccountId": "001"}
                                            for i in ids.values()]})
    keyed = list(destination_rows(dest, roles, profiled_fields(roles, Thresholds())[0], EXT,
                                  sorted((i, k) for k, i in ids.items())))
    assert dest.reads == [("ids", "AccountContactRole", ["Id", "Role", "AccountId"], 1000)]
    assert len(keyed) == 1000  # the connector chunks the ids (Salesforce: 400 per query)
    key_by_id = {r["Id"]: k for k, r in keyed}
    assert key_by_id["02Z000000000007"] == "contacts:c7" and "02Zother" not in key_by_id


class FakeBlobs:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def put_json(self, key: str, value: Any) -> str:
        self.data[key] = json.loads(json.dumps(value, default=str))
        return key

    def get_json(self, key: str) -> Any:
        return copy.deepcopy(self.data[key])

    def get_bytes(self, key: str) -> bytes:
        value = self.data[key]
        if isinstance(value, bytes):
            return value
        return value.encode() if isinstance(value, str) else json.dumps(value).encode()

    def put_lines(self, key: str, rows: list[Any]) -> str:
        self.data[key] = list(rows)
        return key

    def put_encoded_lines(self, key: str, lines: Iterable[bytes]) -> str:
        self.data[key] = [json.loads(line) for line in lines]
        return key

    def get_lines(self, key: str) -> list[Any]:
        return copy.deepcopy(self.data[key])

    def get_encoded_lines(self, key: str) -> list[bytes]:
        return [json.dumps(row).encode() for row in self.data[key]]

    def put_text(self, key: str, text: str, content_type: str = "") -> str:
        self.data[key] = text
        return key

    def exists(self, key: str) -> bool:
        return key in self.data

    def keys(self, prefix: str) -> Iterator[str]:
        return iter(sorted(k for k in self.data if k.startswith(prefix)))

    # files, as the crosswalk snapshots (shared.domain.xwalk) move them: the ETag is the body's MD5, as S3's
    def etag(self, key: str) -> str | None:
        return f'"{hashlib.md5(self.get_bytes(key), usedforsecurity=False).hexdigest()}"' if key in self.data else None

    def download(self, key: str, path: str) -> str | None:
        if key not in self.data:
            return None
        Path(path).write_bytes(self.get_bytes(key))
        return self.etag(key)

    def upload_file(self, key: str, path: str, content_type: str = "") -> str:
        self.data[key] = Path(path).read_bytes()
        return str(self.etag(key))


class FakeRuns:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update(self, run_id: str, **fields: Any) -> None:
        self.updates.append(fields)


class FakeStores:
    def __init__(self) -> None:
        self.blobs = FakeBlobs()
        self.runs = FakeRuns()


def staged_run(sent: list[dict[str, Any]], roles: list[dict[str, Any]]) -> tuple[RunRef, FakeStores]:
    """A finished run's artefacts: spec, extraction and level outcomes, manifests, load files, rejects."""
    run = RunRef(run_id="run-1", pair="sercom-salesforce", source=Endpoint(kind="sercom", secret_name="flitstack/s"),
                 destination=Endpoint(kind="salesforce", secret_name="flitstack/d"))
    keys, stores = Keys(run), FakeStores()
    spec = MigrationSpec(pair="sercom-salesforce", external_id_field=EXT, mappings=[case_mapping(), role_mapping()],
                         fallback_owner_id="005INT", audit_fields=True)
    b = stores.blobs
    b.put_json(keys.spec, spec.model_dump())
    b.put_json(keys.levels, [["work_orders->Case"], ["contacts->AccountContactRole"]])
    b.put_json(keys.extract_outcome("work_orders"), {"count": len(sent) + 1})
    b.put_json(keys.extract_outcome("contacts"), {"count": len(roles)})
    for i, (name, batch, recs, rejects) in enumerate((
            ("work_orders->Case", "L00-M00-00000", sent,
             [{"source_object": "work_orders", "source_id": "wo_77", "code": "orphan"}]),
            ("contacts->AccountContactRole", "L01-M01-00000", roles, []))):
        b.put_json(keys.level_manifest(i), [{"mapping": name, "batch_id": batch, "level": i}])
        b.put_lines(keys.load_ready(batch), recs)
        b.put_lines(keys.rejects(batch), rejects)
        b.put_lines(keys.rejects(batch + ".load"), [])
        b.put_json(keys.outcome(i, batch), {"mapping": name, "input": len(recs) + len(rejects), "filtered_out": 0,
                                            "transform_rejected": len(rejects), "loaded": len(recs),
                                            "load_rejected": 0})
    xwalk.write_snapshot(b, keys.xwalk_merged("AccountContactRole"),
                         {r[EXT]: f"02Z{n:012d}" for n, r in enumerate(roles)})
    return run, stores


def test_reconcile_writes_the_json_other_code_reads_with_checks_and_the_page() -> None:
    # GIVEN a run that sent 5 Cases (one rejected as an orphan) and 3 contact roles; one role changed since
    sent = [sent_case(n) for n in range(1, 6)]
    roles = [{EXT: f"contacts:c{n}", "Role": "Decision Maker", "AccountId": "001A", "ContactId": f"003{n}"}
             for n in range(3)]
    run, stores = staged_run(sent, roles)
    dest = FakeDest({"Case": [held(r) for r in sent],
                     "AccountContactRole": [{"Id": f"02Z{n:012d}", **r, "Role": "Influencer" if n == 2 else r["Role"]}
                                            for n, r in enumerate(roles)]})
    # WHEN reconciliation runs
    out = reconcile.reconcile(run, dest, stores)  # type: ignore[arg-type]
    # THEN the report keeps its keys, adds the checks, and fails only on the changed role
    report = stores.blobs.get_json("runs/run-1/reports/reconciliation.json")
    assert out == {"report_key": "runs/run-1/reports/reconciliation.json", "passed": False}
    assert set(report) >= {"run_id", "passed", "mappings", "thresholds", "destination_calls"}
    case, role = report["mappings"]
    assert {k: case[k] for k in ("mapping", "source", "loaded", "rejected", "filtered_out", "destination",
                                 "passed")} == {"mapping": "work_orders->Case", "source": 6, "loaded": 5,
                                                "rejected": 1, "filtered_out": 0, "destination": 5, "passed": True}
    orphans = next(c for c in case["checks"] if c["check"] == "rejected_orphans")
    assert orphans["source"] == 1 and orphans["passed"]
    assert role["passed"] is False
    assert [(c["check"], c["field"]) for c in role["checks"] if not c["passed"]] == [("histogram", "Role")]
    assert report["destination_calls"] == 2 == len(dest.reads)
    assert "checks" not in stores.runs.updates[-1]["reconciliation"]["mappings"][0]  # the run item stays small
    page = stores.blobs.data["runs/run-1/reports/reconciliation.html"]
    assert page.count('class="chart histogram"') == 3  # Status, IsEscalated, Role
    assert 'data-field="Role" data-failed="true"' in page


def test_the_page_escapes_names_and_marks_failed_checks() -> None:
    rows = [{"mapping": "a<b>->X", "dest_object": "X", "source": 2, "filtered_out": 0, "loaded": 2, "rejected": 0,
             "destination": 2, "passed": False, "profiled": 2, "not_profiled": {},
             "checks": [{"check": "histogram", "field": "Type", "source": {"<script>": 2},
                         "destination": {"<script>": 1, EMPTY: 1}, "difference": 1.0, "limit": "0",
                         "passed": False, "note": ""},
                        {"check": "null_rate", "field": "Type", "source": 0.0, "destination": 50.0,
                         "difference": 50.0, "limit": "0.5", "passed": False, "note": ""}]}]
    page = render(rows, False, "run<1>")
    assert "<script>" not in page and "a&lt;b&gt;" in page
    # histogram: 2 values per side; empty-value chart: 1 field per side
    assert page.count('<rect class="bar source"') == 3 == page.count('<rect class="bar destination"')
    assert page.count('data-failed="true"') == 2
    assert 'id="failed"' in page and "Reconciliation FAILED" in page


def test_an_empty_number_is_profiled_as_zero_where_the_destination_cannot_hold_it_empty() -> None:
    # GIVEN a number sent empty for one record, and a destination that stores it as 0 (Odoo's floats)
    m = ObjectMapping(name="m", source_object="s", dest_object="d",
                      fields=[FieldRule(dest="amount", source="a", transform="currency")])
    sent = [{"ext": "s:1", "amount": None}, {"ext": "s:2", "amount": 5.0}]
    held = {"s:1": {"amount": 0.0}, "s:2": {"amount": 5.0}}
    for zero, passes in ((False, False), (True, True)):
        fields, _ = profiled_fields(m, Thresholds(empty_number_is_zero=zero))
        # WHEN both sides are profiled and compared
        with spilled(held) as held_rows:
            checks = compare(fields, profile_pair(fields, sent, "ext", held_rows),
                             Thresholds(empty_number_is_zero=zero))
        null_rate = next(c for c in checks if c.check == "null_rate" and c.field == "amount")
        # THEN the null rate differs only where the destination is not declared to read empty numbers as 0
        assert null_rate.passed is passes


def test_profiles_read_in_batches_equal_one_pass_over_every_record() -> None:
    # GIVEN 1,234 Cases sent over several spill batches, some sent twice (a retried batch), every 50th refused,
    # every 97th not held, and the destination's rows written to the spill as they are read
    sent = [sent_case(n % 28 + 1, **{EXT: f"work_orders:wo_{n}"}) for n in range(1, 1235)]
    sent += sent[600:700]
    refused = frozenset(r[EXT] for r in sent[::50])
    rows = [held(r) for r in sent[:1234] if int(r[EXT].rsplit("_", 1)[1]) % 97]
    checks = run_compare(sent, rows, refused=refused)
    # THEN the counts are those of one pass: each key once, refused ones left out, the missing named in order
    found = checks[("found", None)]
    refused_sent = len(refused)
    missing = sorted(r[EXT] for r in sent[:1234] if r[EXT] not in refused and not int(r[EXT].rsplit("_", 1)[1]) % 97)
    assert found.source == 1234 - refused_sent and found.difference == len(missing)
    assert found.note == "not in the destination: " + ", ".join(missing[:5]) + " …"
    assert checks[("sum", "Revenue__c")].source == pytest.approx(
        sum(r["Revenue__c"] for r in sent[:1234] if r[EXT] not in refused and r[EXT] not in set(missing)))


def test_a_spill_keeps_rows_and_key_sets_on_disk_and_removes_its_file() -> None:
    with Spill() as spill:
        assert spill.put((f"k{i}", {"n": i, "v": [i, None], "t": True}) for i in range(1500)) == 1500
        spill.put([("k7", {"n": -7})])  # a later row of the same key replaces the earlier
        assert spill.get(["k7", "k1499", "nope"]) == {"k7": {"n": -7}, "k1499": {"n": 1499, "v": [1499, None],
                                                                                  "t": True}}
        spill.mark("set", (f"k{i}" for i in range(0, 1500, 3)))
        assert spill.count("set") == 500 and spill.first("set", 3) == ["k0", "k1002", "k1005"]
        assert spill.marked("set", ["k3", "k4"]) == {"k3"}
        assert set(spill.get(["k3", "k4"], marked="set")) == {"k3"}
        path = spill.path
        assert path.exists()
    assert not path.exists()

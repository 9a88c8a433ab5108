"""Unit: an extracted batch ends at ``batch_size`` records or at ``batch_bytes`` of JSON, and the load plan packs
small source batches back into loads of up to ``batch_size`` records.

Why: a batch of 10,000 wide records (work orders with their lines, about 4 KiB each) is ~40 MiB of JSON, several
times a batch of narrow ones; what a transform or load holds, and locally what four of them at once hold in the
engine, followed the records' width. GIVEN a real :class:`BlobStore` over moto's S3 and a source of our interface
serving narrow and wide records, WHEN one object is extracted (partition by partition) and its level planned, THEN
no batch passes the byte cap by more than its last record, the batches hold every record once and in order with
their emitted counts recorded, and each mapping's loads pack consecutive batches up to ``batch_size`` records (a
load stays one Bulk job: the API calls do not grow with the records' width).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shared.aws import BlobStore
from shared.domain import extract, load
from shared.domain.keys import Keys
from shared.mapping.spec import FieldRule, MigrationSpec, ObjectMapping
from shared.models import Endpoint, RunOptions, RunRef

BUCKET = "flitstack-data"
CAP = 64 * 1024
RUN = RunRef(run_id="run-b", pair="sercom-salesforce", source=Endpoint(kind="sercom", secret_name="flitstack/s"),
             destination=Endpoint(kind="salesforce", secret_name="flitstack/d"),
             options=RunOptions(batch_size=200, batch_bytes=CAP, extract_partition_records=700))
CASES = ObjectMapping(name="work_orders->Case", source_object="work_orders", dest_object="Case",
                      fields=[FieldRule(dest="Subject", source="subject")])
URGENT = ObjectMapping(name="work_orders->Task", source_object="work_orders", dest_object="Task",
                       where={"priority": ["urgent"]}, fields=[FieldRule(dest="Subject", source="subject")])


def work_orders(n: int) -> list[dict[str, Any]]:
    """Narrow records, then wide ones (a long description): one in ten urgent."""
    return [{"id": f"wo-{i:05d}", "subject": f"Work order {i}", "priority": "urgent" if i % 10 == 0 else "normal",
             "description": ("Ünïcode ✓ " * 200) if i >= n // 2 else "", "updated_at": "2024-03-01T10:00:00Z"}
            for i in range(n)]


class PagedSource:
    """The part of :class:`shared.connectors.source.Source` extraction uses: pages from a resume token."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.calls = 0

    def pages_from(self, obj: str, resume: str | None, page_size: int, updated_since: str | None = None
                   ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        start = int(resume or 0)
        while start < len(self.records):
            self.calls += 1
            page = self.records[start:start + page_size]
            start += len(page)
            yield page, (str(start) if start < len(self.records) else None)


@pytest.fixture()
def blobs(in_process_aws: None) -> Iterator[BlobStore]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        store = BlobStore(BUCKET, client=client)
        spec = MigrationSpec(pair="sercom-salesforce", external_id_field="Sercom_Id__c", mappings=[CASES, URGENT],
                             fallback_owner_id="u", audit_fields=True)
        store.put_json(Keys(RUN).spec, spec.model_dump())
        yield store


def test_batches_end_at_the_byte_cap_and_loads_pack_by_the_bytes_they_emit(blobs: BlobStore) -> None:
    records = work_orders(3000)
    source = PagedSource(records)
    results = []
    while not (results and results[-1]["done"]):
        results.append(extract.extract_partition(RUN, {"object": "work_orders"}, source, blobs))  # type: ignore[arg-type]
    assert len(results) > 1  # several partitions: the per-batch bytes survive the checkpoints

    outcome = blobs.get_json(Keys(RUN).extract_outcome("work_orders"))
    bodies = [blobs.get_bytes(key) for key in outcome["batches"]]
    widest = max(len(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode()) for r in records)
    assert all(len(body) < CAP + widest for body in bodies)
    assert [r for key in outcome["batches"] for r in blobs.get_lines(key)] == records
    counts = [body.count(b"\n") + 1 for body in bodies]
    assert max(counts) == 200 and min(counts[len(bodies) // 2:]) < 100  # narrow records, then wide ones
    assert outcome["sizes"]["work_orders->Case"] == counts
    assert sum(outcome["sizes"]["work_orders->Task"]) == 300

    blobs.put_json(Keys(RUN).levels, [[CASES.name, URGENT.name]])
    plan = load.plan_level(RUN, 0, SimpleNamespace(blobs=blobs))  # type: ignore[arg-type]
    items = blobs.get_json(plan["manifest_key"])
    sizes = {name: dict(zip(outcome["batches"], outcome["sizes"][name], strict=True)) for name in outcome["sizes"]}
    for name in (CASES.name, URGENT.name):
        groups = [i["source_keys"] for i in items if i["mapping"] == name]
        assert [k for group in groups for k in group] == outcome["batches"]
        # loads are packed back up to batch_size records (one Bulk job each), whatever the source batches' bytes
        assert all(sum(sizes[name][k] for k in group) <= 200 for group in groups)
    assert any(len(i["source_keys"]) > 1 for i in items if i["mapping"] == CASES.name)  # wide batches packed
    assert len([i for i in items if i["mapping"] == URGENT.name]) <= 3  # 300 Tasks from every batch: 2-3 loads

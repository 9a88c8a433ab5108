"""Unit: JSON-lines batches in S3 (``BlobStore.put_lines`` / ``get_lines``) over moto's S3.

GIVEN a real :class:`BlobStore` (every PUT and part counted through botocore's own event hooks), WHEN batches are
written and read back, THEN they round-trip exactly (text holding every Unicode line separator included), a
batch larger than one part goes up in parts of :data:`PART_BYTES`, and neither direction holds the batch's text
or bytes whole beside its records (tracemalloc's peak stays within a fraction of the body's size).
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shared import aws
from shared.aws import BlobStore

BUCKET = "flitstack-data"


@contextmanager
def _counted_store() -> Iterator[tuple[BlobStore, list[str]]]:
    """A BlobStore over moto's in-process S3 and the write calls it sends, in order."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        sent: list[str] = []
        for op in ("PutObject", "UploadPart", "CreateMultipartUpload", "CompleteMultipartUpload"):
            client.meta.events.register(f"before-parameter-build.s3.{op}",
                                        lambda params, _op=op, **_: sent.append(_op))
        yield BlobStore(BUCKET, client=client), sent


@pytest.fixture()
def s3(in_process_aws: None) -> Iterator[tuple[BlobStore, list[str]]]:
    with _counted_store() as store:
        yield store


def test_rows_round_trip_and_split_on_newlines_only(s3: tuple[BlobStore, list[str]]) -> None:
    blobs, sent = s3
    rows: list[Any] = [
        {"id": "a", "note": "line one\nline two\r\nthree"},
        {"id": "b", "note": "sep \u2028 para \u2029 nel \x85 vt \x0b ff \x0c fs \x1c end"},
        {"id": "c", "name": "Ünïcode ✓ 漢字", "n": 3, "ok": True, "none": None},
        [1, 2, 3],
        "plain",
    ]
    blobs.put_lines("runs/r/batch.jsonl", rows)
    assert sent == ["PutObject"]
    assert blobs.get_lines("runs/r/batch.jsonl") == rows
    raw = blobs.get_bytes("runs/r/batch.jsonl")
    assert raw.count(b"\n") == len(rows) - 1 and not raw.endswith(b"\n")  # the format other readers parse


def test_an_empty_batch_is_an_empty_object(s3: tuple[BlobStore, list[str]]) -> None:
    blobs, _ = s3
    blobs.put_lines("runs/r/empty.jsonl", [])
    assert blobs.get_bytes("runs/r/empty.jsonl") == b"" and blobs.get_lines("runs/r/empty.jsonl") == []


def _records(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield {"id": f"wo-{i:07d}", "subject": f"Work order {i} " + "x" * 300, "status": "open", "lines": [i, i + 1]}


def _large_batch_round_trip(count: int) -> dict[str, Any]:
    """Write ``count`` records with ``put_lines`` and read them back over moto's in-process S3, under tracemalloc.

    Run in a process of its own (:func:`test_a_large_batch_goes_up_in_parts_and_is_never_held_whole`):
    tracemalloc counts every thread's allocations, and a worker of the suite still runs the threads of the tests
    before (stand-in servers, a local engine winding down), which put tens of MiB into the peak."""
    aws.PART_BYTES = 5 * 1024 * 1024  # S3's smallest part
    aws.SPOOL_BYTES = 1024 * 1024
    with _counted_store() as (blobs, sent):
        gc.collect()
        tracemalloc.start()
        try:
            blobs.put_lines("runs/r/big.jsonl", _records(count))
            _, put_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            rows = blobs.get_lines("runs/r/big.jsonl")
            held, get_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return {"sent": sent, "put_peak": put_peak, "get_over_records": get_peak - held, "held": held - baseline,
            "round_trip": rows == list(_records(count)), "part_bytes": aws.PART_BYTES}


def test_a_large_batch_goes_up_in_parts_and_is_never_held_whole(in_process_aws: None) -> None:
    count = 36_000  # ~13 MiB of JSON lines: three parts
    body_size = sum(len(json.dumps(r, separators=(",", ":")).encode()) + 1 for r in _records(count)) - 1
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        got = pool.submit(_large_batch_round_trip, count).result(timeout=120)
    sent = got["sent"]
    assert sent[0] == "CreateMultipartUpload" and sent[-1] == "CompleteMultipartUpload"
    assert sent.count("UploadPart") == -(-body_size // got["part_bytes"])
    # moto (in the measuring process, in memory) keeps the parts and then the whole object, each more than once:
    # about 4x the body over the upload. The batch's text and bytes built whole beside that made it 7x (measured:
    # 100 MiB for a 14 MiB body, against 60 MiB).
    assert got["put_peak"] < body_size * 5, (got, body_size)
    assert got["round_trip"]
    # above the parsed records: moto's copy of the body it answers with and a chunk or two, not also the body's
    # bytes, its text and its lines (measured: 16 MiB over the records for a 14 MiB body, against 30 MiB)
    assert got["get_over_records"] < body_size * 1.5, (got, body_size)


def test_line_starts_give_byte_spans_that_read_back_exactly_those_lines(s3: tuple[BlobStore, list[str]],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A FetchFiles item reads only its own slice of a batch: ``line_starts`` (counted, not parsed, across
    chunk boundaries) gives the spans, and a ranged GET of a span parses into exactly those records."""
    blobs, _ = s3
    monkeypatch.setattr(aws, "LINE_CHUNK_BYTES", 1000)  # lines straddle the chunks
    rows = [{"id": f"a-{i}", "text": "é\u2028" * (i % 7) + "x" * (i * 13 % 500)} for i in range(120)]
    blobs.put_lines("runs/r/files.jsonl", rows)
    body = blobs.get_bytes("runs/r/files.jsonl")
    starts = blobs.line_starts("runs/r/files.jsonl")
    assert len(starts) == len(rows) + 1 and starts[0] == 0 and starts[-1] == len(body)
    ranges: list[str] = []
    blobs.s3.meta.events.register("before-parameter-build.s3.GetObject",
                                  lambda params, **_: ranges.append(params.get("Range", "")))
    for first in (0, 50, 100):
        last = min(first + 50, len(rows))
        assert blobs.get_lines("runs/r/files.jsonl", (starts[first], starts[last])) == rows[first:last]
    assert ranges == [f"bytes={starts[a]}-{starts[min(a + 50, 120)] - 1}" for a in (0, 50, 100)]
    blobs.put_lines("runs/r/none.jsonl", [])
    assert blobs.line_starts("runs/r/none.jsonl") == [0]
    with pytest.raises(ValueError, match="span"):
        blobs.get_lines("runs/r/files.jsonl", (10, 10))

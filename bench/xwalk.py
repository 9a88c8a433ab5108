"""What one transform batch pays for the lookups of one target object: the merged crosswalk snapshot read as a JSON
dict (as before D-054) against the SQLite snapshot (``shared.domain.xwalk``), at snapshot sizes N.

    .venv/bin/python -m bench.xwalk 10000 100000 1000000

One JSON line per N: the file's size; the merge of N entries from parts of 10,000 (as ``verify_level`` merges);
the JSON parse's peak heap and time with ``dict.get``'s cost; the SQLite snapshot's first open (a download) and,
cached, an open plus 10,000 lookups (peak heap, tracemalloc: this process's Python allocations, moto's in-process
S3 among them) with the cost of one ``get``. S3 is moto's, in this process (``mock_aws``): no network.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import boto3
from moto import mock_aws

from shared.aws import BlobStore
from shared.domain import xwalk

BUCKET = "flitstack-xwalk-bench"
PART = 10_000
PROBES = 10_000


def traced(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its peak traced heap in MiB and its seconds."""
    tracemalloc.start()
    started = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, peak / 2**20, seconds


def measure(blobs: BlobStore, n: int, rnd: random.Random) -> dict[str, Any]:
    parts = []
    for p, start in enumerate(range(0, n, PART)):
        key = f"parts/{n}/{p:05d}.json"
        blobs.put_json(key, {f"customers:c{i}": f"001{i:015d}" for i in range(start, min(start + PART, n))})
        parts.append(key)
    blobs.put_json(f"json/{n}.json", {f"customers:c{i}": f"001{i:015d}" for i in range(n)})
    key = f"sqlite/{n}.sqlite"
    started = time.perf_counter()
    xwalk.merge(blobs, key, parts)
    merge_s = time.perf_counter() - started
    probe = [f"customers:c{rnd.randrange(n)}" for _ in range(PROBES)]

    whole, json_peak, json_s = traced(lambda: json.loads(blobs.get_bytes(f"json/{n}.json")))
    started = time.perf_counter()
    for k in probe:
        whole.get(k)
    dict_get = (time.perf_counter() - started) / PROBES
    del whole

    xwalk.clear_cache()
    _, first_peak, first_s = traced(lambda: xwalk.open_snapshot(blobs, key))

    def batch() -> list[Any]:
        snap = xwalk.open_snapshot(blobs, key)
        return [snap.get(k) for k in probe]

    _, batch_peak, _ = traced(batch)
    snap = xwalk.open_snapshot(blobs, key)
    started = time.perf_counter()
    for k in probe:
        snap.get(k)
    sqlite_get = (time.perf_counter() - started) / PROBES
    return {"n": n, "file_mib": round((blobs.size(key) or 0) / 2**20, 1), "merge_s": round(merge_s, 2),
            "json_parse_peak_mib": round(json_peak, 1), "json_parse_s": round(json_s, 2),
            "dict_get_us": round(dict_get * 1e6, 2),
            "sqlite_first_open_peak_mib": round(first_peak, 1), "sqlite_first_open_s": round(first_s, 2),
            "sqlite_open_and_gets_peak_mib": round(batch_peak, 2), "sqlite_get_us": round(sqlite_get * 1e6, 2)}


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [10_000, 100_000]
    os.environ.pop("AWS_ENDPOINT_URL", None)
    for name, value in (("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "bench"),
                        ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        blobs = BlobStore(BUCKET, client=s3)
        rnd = random.Random(7)
        for n in sizes:
            print(json.dumps(measure(blobs, n, rnd)), flush=True)
    xwalk.clear_cache()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Save and restore the AWS side of a local run, so a later command can act on it.

Local mode keeps AWS in moto (DynamoDB in memory, S3 bodies past 256 KiB spooled to temporary files):
when ``flitstack demo`` ends, the run's audit log,
crosswalk, run-table item and data-bucket objects would be gone, and ``flitstack rollback RUN``
could not know what the run wrote. ``export_state`` writes them to ``<run folder>/aws-state/``;
``import_state`` loads them into a fresh engine. The stand-ins' SQLite states are already in the
run folder and are served again as they are.

Layout::

    aws-state/manifest.json            {"run": RunRef, "exported_at", "tables": {logical id: items}, "objects": n}
    aws-state/dynamodb/<TableId>.jsonl one item per line, DynamoDB JSON (as the low-level API speaks it)
    aws-state/s3/<key>                 the objects under runs/<id>/ (bulk record data left out)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flitstack.local.engine import LocalEngine
from infra import resources
from shared.models import RunRef

#: Copies of record data (extracted pages, load-ready batches, file contents) are not needed
#: to roll a run back and can be large; everything else under the run's prefix is kept.
SKIPPED_PREFIXES = ("extract/", "load/", "files/")


def export_state(engine: LocalEngine, run: RunRef, target: Path) -> dict[str, Any]:
    """Write the run's AWS state under ``target`` (replacing an earlier export); returns the manifest."""
    assert engine.stack is not None, "deploy the engine first"
    stack = engine.stack
    if target.exists():
        shutil.rmtree(target)
    (target / "dynamodb").mkdir(parents=True)
    s3 = engine.client("s3")
    # Read in place, one item at a time, straight to the file (linear in the table; nothing held).
    wanted: dict[str, str | None] = {
        resources.AUDIT.logical_id: run.run_id,
        # One org per local runtime: its whole crosswalk (a later run's decisions rest on all of it).
        resources.CROSSWALK.logical_id: None,
        resources.RUNS.logical_id: run.run_id,
    }
    counts: dict[str, int] = {}
    for logical_id, hash_value in wanted.items():
        with (target / "dynamodb" / f"{logical_id}.jsonl").open("w") as out:
            counts[logical_id] = 0
            for row in engine.table_items(stack.tables[logical_id], hash_value):
                out.write(json.dumps(row) + "\n")
                counts[logical_id] += 1
    prefix = f"{run.prefix}/"
    objects = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = str(obj["Key"])
            if key[len(prefix):].startswith(SKIPPED_PREFIXES):
                continue
            path = target / "s3" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
            objects += 1
    manifest = {"run": run.model_dump(), "exported_at": datetime.now(UTC).isoformat(),
                "tables": counts, "objects": objects}
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _chunks(rows: Iterator[dict[str, Any]], size: int = 25) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run's AWS state was not saved "
                                "(runs made before `flitstack rollback` existed cannot be rolled back locally)")
    value: dict[str, Any] = json.loads(path.read_text())
    return value


def import_state(engine: LocalEngine, source: Path) -> RunRef:
    """Load an export into a freshly deployed engine (streamed); returns the run it belongs to."""
    assert engine.stack is not None, "deploy the engine first"
    stack = engine.stack
    manifest = read_manifest(source)
    ddb, s3 = engine.client("dynamodb"), engine.client("s3")
    for logical_id in manifest["tables"]:
        table = stack.tables[logical_id]
        with (source / "dynamodb" / f"{logical_id}.jsonl").open() as rows:  # streamed, 25 items a write
            for chunk in _chunks(json.loads(line) for line in rows if line.strip()):
                request = {table: [{"PutRequest": {"Item": r}} for r in chunk]}
                while request:
                    request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    root = source / "s3"
    if root.exists():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            s3.put_object(Bucket=stack.bucket, Key=path.relative_to(root).as_posix(), Body=path.read_bytes())
    return RunRef.model_validate(manifest["run"])

"""What a local run leaves for a later command (``flitstack rollback RUN``), kept in ``<run folder>/aws-state/``.

DynamoDB needs nothing here: the engine of a run keeps its items in ``aws-state/dynamodb.sqlite``
(:mod:`flitstack.local.disk_dynamodb`), and an engine started later on the same directory reads and
writes them in place, the audit log, the crosswalk and the run item included. What moto still holds in
memory is S3: ``save_state`` copies the run's small objects (outcomes, manifests, plans, reports; not
the record data) next to it, ``restore_state`` puts them back into a fresh engine's bucket. The
stand-ins' SQLite states are in the run folder too and are served again as they are.

Layout::

    aws-state/manifest.json     {"run": RunRef, "saved_at", "dynamodb": "dynamodb.sqlite", "objects": n}
    aws-state/dynamodb.sqlite   the engine's DynamoDB (every table), written in place during the run
    aws-state/s3/<key>          the objects under runs/<id>/ (bulk record data left out)
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flitstack.local import disk_dynamodb
from flitstack.local.engine import LocalEngine
from shared.models import RunRef

#: Copies of record data (extracted pages, load-ready batches, file contents) are not needed
#: to roll a run back and can be large; everything else under the run's prefix is kept.
SKIPPED_PREFIXES = ("extract/", "load/", "files/")


def _same_dir(engine: LocalEngine, folder: Path) -> None:
    if engine.aws_state_dir.resolve() != folder.resolve():
        raise ValueError(f"the engine keeps its state in {engine.aws_state_dir}, not in {folder}: start it with "
                         "LocalEngine(state_dir=...) on the run's aws-state folder")


def save_state(engine: LocalEngine, run: RunRef, folder: Path) -> dict[str, Any]:
    """Copy the run's small S3 objects into ``folder`` (the engine's state dir) and write the manifest."""
    assert engine.stack is not None, "deploy the engine first"
    _same_dir(engine, folder)
    stack, s3 = engine.stack, engine.client("s3")
    if (folder / "s3").exists():
        shutil.rmtree(folder / "s3")
    prefix = f"{run.prefix}/"
    objects = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = str(obj["Key"])
            if key[len(prefix):].startswith(SKIPPED_PREFIXES):
                continue
            path = folder / "s3" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
            objects += 1
    manifest = {"run": run.model_dump(), "saved_at": datetime.now(UTC).isoformat(),
                "dynamodb": disk_dynamodb.FILE_NAME, "objects": objects}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    """The saved run's manifest; a clear error when there is none or it is of the JSON-lines export."""
    path = folder / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: the run's AWS state was not saved "
                                "(runs made before `flitstack rollback` existed cannot be rolled back locally)")
    value: dict[str, Any] = json.loads(path.read_text())
    if "dynamodb" not in value or not (folder / str(value["dynamodb"])).exists():
        raise FileNotFoundError(f"{folder} holds DynamoDB as a JSON-lines export (FlitStack before D-045) or no "
                                f"DynamoDB state at all; this version reads the run's {disk_dynamodb.FILE_NAME} "
                                "in place and cannot roll that run back")
    return value


def restore_state(engine: LocalEngine, folder: Path) -> RunRef:
    """Put the saved S3 objects back into the engine's bucket; returns the run. The engine must run on
    ``folder`` (its DynamoDB is already the run's)."""
    assert engine.stack is not None, "deploy the engine first"
    _same_dir(engine, folder)
    manifest = read_manifest(folder)
    s3, root = engine.client("s3"), folder / "s3"
    if root.exists():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            s3.put_object(Bucket=engine.stack.bucket, Key=path.relative_to(root).as_posix(), Body=path.read_bytes())
    return RunRef.model_validate(manifest["run"])

"""Extract: one partition per source object, paged into S3 batches of at most ``batch_size``.

Each partition writes its batch files and then an outcome record; ``verify`` refuses to
go on unless every partition of the manifest recorded one (a Distributed Map item that
failed silently cannot slip through). Re-running a partition rewrites the same keys, so
a retried item converges.
"""

from __future__ import annotations

from typing import Any

from shared import planner
from shared.aws import BlobStore
from shared.domain.keys import Keys
from shared.errors import IncompleteStepError
from shared.mapping.engine import output_size
from shared.mapping.spec import MigrationSpec
from shared.models import RunRef
from shared.sources.sercom import SercomSource


def load_spec(blobs: BlobStore, run: RunRef) -> MigrationSpec:
    return MigrationSpec.model_validate(blobs.get_json(Keys(run).spec))


def plan(run: RunRef, blobs: BlobStore) -> dict[str, Any]:
    spec = load_spec(blobs, run)
    objects = sorted({m.source_object for m in spec.mappings})
    manifest = [{"object": obj} for obj in objects]
    keys = Keys(run)
    blobs.put_json(keys.extract_manifest, manifest)
    return {"manifest_key": keys.extract_manifest, "partitions": len(manifest)}


def extract_partition(run: RunRef, partition: dict[str, Any], source: SercomSource, blobs: BlobStore
                      ) -> dict[str, Any]:
    obj = str(partition["object"])
    keys = Keys(run)
    size = run.options.batch_size
    batch: list[dict[str, Any]] = []
    batch_keys: list[str] = []
    count = 0

    mappings = [m for m in load_spec(blobs, run).mappings if m.source_object == obj]
    sizes: dict[str, list[int]] = {m.name: [] for m in mappings}

    def flush() -> None:
        for m in mappings:
            sizes[m.name].append(output_size(m, batch))
        batch_keys.append(blobs.put_lines(keys.extract_batch(obj, len(batch_keys)), batch))
        batch.clear()

    for page in source.pages(obj, page_size=run.options.extract_page_size):
        for record in page:
            batch.append(record)
            count += 1
            if len(batch) >= size:
                flush()
    if batch or not batch_keys:
        flush()
    outcome = {"object": obj, "count": count, "batches": batch_keys, "sizes": sizes}
    blobs.put_json(keys.extract_outcome(obj), outcome)
    return {"object": obj, "count": count, "batches": len(batch_keys)}


def verify(run: RunRef, blobs: BlobStore) -> dict[str, Any]:
    """Every partition recorded its outcome; then fix the load levels for the run."""
    keys = Keys(run)
    manifest = blobs.get_json(keys.extract_manifest)
    missing = [p["object"] for p in manifest if not blobs.exists(keys.extract_outcome(p["object"]))]
    if missing:
        raise IncompleteStepError(f"extraction did not complete for {missing}")
    spec = load_spec(blobs, run)
    levels = planner.levels(spec)
    blobs.put_json(keys.levels, levels)
    return {"index": 0, "count": len(levels)}

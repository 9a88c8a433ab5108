"""Extract step: plan partitions, extract one partition to S3 batches, verify all completed."""

from __future__ import annotations

from typing import Any

from shared.connections import open_source
from shared.domain import extract
from shared.handler import lambda_handler, stores
from shared.models import StepInput
from shared.observability import count


def _plan(step: StepInput) -> dict[str, Any]:
    """The partitions to read, and how many at once: the source's declared parallel-read limit
    (the Extract Map's MaxConcurrencyPath reads it)."""
    stores().runs.update(step.run.run_id, step="Extract")
    with open_source(step.run.source) as source:
        parallel = source.limits.max_parallel_reads
    return {**extract.plan(step.run, stores().blobs), "max_concurrency": parallel}


def _partition(step: StepInput) -> dict[str, Any]:
    with open_source(step.run.source) as source:
        result = extract.extract_partition(step.run, dict(getattr(step, "partition", {})), source, stores().blobs)
    count("RecordsRead", result["count"])
    return result


def _verify(step: StepInput) -> dict[str, Any]:
    return extract.verify(step.run, stores().blobs)


def _delta_start(step: StepInput) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step="DeltaPickup")
    return extract.delta_start(step.run, stores().blobs)


def _delta_extract(step: StepInput) -> dict[str, Any]:
    with open_source(step.run.source) as source:
        result = extract.delta_extract(step.run, dict(getattr(step, "delta", {})), source, stores().blobs)
    stores().runs.update(step.run.run_id, step=f"DeltaPickup pass {result['pass']}")
    return result


def _delta_report(step: StepInput) -> dict[str, Any]:
    return extract.delta_report(step.run, stores().blobs)


OPS = {"plan": _plan, "extract_partition": _partition, "verify": _verify, "delta_start": _delta_start,
       "delta_extract": _delta_extract, "delta_report": _delta_report}

handler = lambda_handler(OPS)

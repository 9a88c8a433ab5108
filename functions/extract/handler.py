"""Extract step: plan the objects, read an object's next partition to S3 batches, verify all completed."""

from __future__ import annotations

from typing import Any

from shared.connections import open_source
from shared.connectors import registry
from shared.domain import extract
from shared.handler import Op, lambda_handler, stores
from shared.observability import count
from shared.steps import (
    CursorOut,
    DeltaIn,
    DeltaOut,
    DeltaReportOut,
    PartitionIn,
    PartitionOut,
    PlanExtractionOut,
    RunOnly,
)


def _plan(step: RunOnly) -> dict[str, Any]:
    """The partitions to read, and how many at once: the source's declared parallel-read limit
    (the Extract Map's MaxConcurrencyPath reads it)."""
    stores().runs.update(step.run.run_id, step="Extract")
    parallel = registry.source(step.run.source.kind).limits.max_parallel_reads
    return {**extract.plan(step.run, stores().blobs), "max_concurrency": parallel}


def _partition(step: PartitionIn) -> dict[str, Any]:
    with open_source(step.run.source) as source:
        result = extract.extract_partition(step.run, step.partition.model_dump(), source, stores().blobs)
    if result["done"]:
        count("RecordsRead", result["count"])
    return result


def _verify(step: RunOnly) -> dict[str, Any]:
    return extract.verify(step.run, stores().blobs)


def _delta_start(step: RunOnly) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step="DeltaPickup")
    return extract.delta_start(step.run, stores().blobs)


def _delta_extract(step: DeltaIn) -> dict[str, Any]:
    with open_source(step.run.source) as source:
        result = extract.delta_extract(step.run, step.delta.model_dump(by_alias=True, exclude_unset=True), source,
                                       stores().blobs)
    stores().runs.update(step.run.run_id, step=f"DeltaPickup pass {result['pass']}")
    return result


def _delta_report(step: RunOnly) -> dict[str, Any]:
    return extract.delta_report(step.run, stores().blobs)


OPS: dict[str, Op[Any, Any]] = {
    "plan": Op(RunOnly, PlanExtractionOut, _plan),
    "extract_partition": Op(PartitionIn, PartitionOut, _partition),
    "verify": Op(RunOnly, CursorOut, _verify),
    "delta_start": Op(RunOnly, DeltaOut, _delta_start),
    "delta_extract": Op(DeltaIn, DeltaOut, _delta_extract),
    "delta_report": Op(RunOnly, DeltaReportOut, _delta_report),
}

handler = lambda_handler(OPS)

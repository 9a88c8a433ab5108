"""Extract step: plan the objects, read an object's next partition to S3 batches, verify all completed;
then copy the files source → S3 (plan, fetch a slice, verify)."""

from __future__ import annotations

from typing import Any

from shared.connections import open_source
from shared.connectors import registry
from shared.domain import extract, files
from shared.handler import Op, lambda_handler, stores
from shared.observability import count
from shared.steps import (
    CursorOut,
    DeltaIn,
    DeltaOut,
    DeltaReportOut,
    FetchFilesOut,
    FilesIn,
    PartitionIn,
    PartitionOut,
    PlanExtractionOut,
    PlanFilesOut,
    RunOnly,
    VerifyFilesOut,
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


def _plan_files(step: RunOnly) -> dict[str, Any]:
    """The file copies to make, and how many at once: the source's declared parallel-read limit."""
    return files.plan(step.run, stores().blobs, registry.source(step.run.source.kind).limits.max_parallel_reads)


def _fetch_files(step: FilesIn) -> dict[str, Any]:
    with open_source(step.run.source) as source:
        return files.fetch(step.run, step.item.model_dump(), source, stores().blobs,
                           pace_s=source.limits.seconds_per_call)


def _verify_files(step: RunOnly) -> dict[str, Any]:
    return files.verify(step.run, stores().blobs)


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
    "plan_files": Op(RunOnly, PlanFilesOut, _plan_files),
    "fetch_files": Op(FilesIn, FetchFilesOut, _fetch_files),
    "verify_files": Op(RunOnly, VerifyFilesOut, _verify_files),
    "delta_start": Op(RunOnly, DeltaOut, _delta_start),
    "delta_extract": Op(DeltaIn, DeltaOut, _delta_extract),
    "delta_report": Op(RunOnly, DeltaReportOut, _delta_report),
}

handler = lambda_handler(OPS)

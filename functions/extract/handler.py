"""Extract step: plan partitions, extract one partition to S3 batches, verify all completed."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.connections import open_source
from shared.domain import extract
from shared.handler import dispatch, stores
from shared.models import StepInput
from shared.observability import count, logger, metrics, tracer


def _plan(step: StepInput) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step="Extract")
    return extract.plan(step.run, stores().blobs)


def _partition(step: StepInput) -> dict[str, Any]:
    source = open_source(step.run.source)
    try:
        result = extract.extract_partition(step.run, dict(getattr(step, "partition", {})), source, stores().blobs)
    finally:
        source.close()
    count("RecordsRead", result["count"])
    return result


def _verify(step: StepInput) -> dict[str, Any]:
    return extract.verify(step.run, stores().blobs)


OPS = {"plan": _plan, "extract_partition": _partition, "verify": _verify}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, OPS)

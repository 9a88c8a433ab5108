"""Discover step: both schemas, owners by email, the proposed mapping."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.connections import open_destination, open_source
from shared.domain.discover import discover
from shared.handler import dispatch, stores
from shared.models import StepInput
from shared.observability import logger, metrics, tracer


def _discover(step: StepInput) -> dict[str, Any]:
    source = open_source(step.run.source)
    try:
        result = discover(step.run, source, open_destination(step.run.destination), stores().blobs)
    finally:
        source.close()
    stores().runs.update(step.run.run_id, step="Discover", status="running", discovery=result)
    return result


OPS = {"discover": _discover}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, OPS)

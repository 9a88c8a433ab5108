"""Transform step: one extracted batch through one mapping, to a load-ready batch."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.connections import open_source
from shared.domain.transform import transform_batch
from shared.handler import dispatch, stores
from shared.models import StepInput
from shared.observability import count, logger, metrics, tracer


def _transform(step: StepInput) -> dict[str, Any]:
    item = dict(getattr(step, "item", {}))
    needs_source = str(item.get("mapping", "")).startswith("attachments->")
    source = open_source(step.run.source) if needs_source else None
    try:
        result = transform_batch(step.run, item, stores().blobs, stores().crosswalk, source)
    finally:
        if source is not None:
            source.close()
    count("RecordsTransformed", result["count"])
    count("RecordsRejected", result["rejected"])
    return result


OPS = {"transform_batch": _transform}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, OPS)

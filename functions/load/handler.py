"""Load step: prepare the destination, plan and load each level's batches, verify, fix up."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.connections import open_destination
from shared.domain import load
from shared.handler import dispatch, stores
from shared.models import StepInput
from shared.observability import count, logger, metrics, tracer


def _prepare(step: StepInput) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step="PrepareDestination")
    return load.prepare(step.run, open_destination(step.run.destination), stores())


def _plan_level(step: StepInput) -> dict[str, Any]:
    index = int(getattr(step, "index", 0))
    stores().runs.update(step.run.run_id, step=f"LoadLevel {index}")
    return load.plan_level(step.run, index, stores())


def _load_batch(step: StepInput) -> dict[str, Any]:
    result = load.load_batch(step.run, dict(getattr(step, "item", {})), dict(getattr(step, "transformed", {})),
                             open_destination(step.run.destination), stores())
    count("RecordsWritten", result["loaded"])
    count("RecordsRejected", result["load_rejected"])
    return result


def _verify_level(step: StepInput) -> dict[str, Any]:
    return load.verify_level(step.run, int(getattr(step, "index", 0)), stores())


def _fixup(step: StepInput) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step="FixupPass")
    return load.fixup(step.run, open_destination(step.run.destination), stores())


OPS = {"prepare": _prepare, "plan_level": _plan_level, "load_batch": _load_batch, "verify_level": _verify_level,
       "fixup": _fixup}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, OPS)

"""The shape every step handler shares: validate the payload, bind log keys, run one op.

A handler module declares ``OPS = {"op name": function(step) -> dict}``; each function
calls exactly one domain function with adapters built once per container.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared.aws import Stores
from shared.errors import ConfigurationError
from shared.models import StepInput
from shared.observability import bind, logger, metrics, tracer

Op = Callable[[StepInput], dict[str, Any]]


@lru_cache(maxsize=1)
def stores() -> Stores:
    return Stores()


def lambda_handler(ops: Mapping[str, Op]) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of a step module: Powertools logging, tracing and metrics around dispatch."""

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return dispatch(event, ops)

    return handler


def dispatch(event: dict[str, Any], ops: Mapping[str, Op]) -> dict[str, Any]:
    try:
        step = StepInput.model_validate(event)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid step payload: {exc.errors(include_input=False, include_url=False)}") from exc
    op = ops.get(step.op)
    if op is None:
        raise ConfigurationError(f"op {step.op!r} is not handled here (allowed: {sorted(ops)})")
    item = getattr(step, "item", None) or {}
    bind(run_id=step.run.run_id, step=step.op, object=item.get("mapping") if isinstance(item, dict) else None,
         batch=item.get("batch_id") if isinstance(item, dict) else None)
    result = op(step)
    logger.info("step done", extra={"result": {k: v for k, v in result.items() if isinstance(v, int | bool | str)}})
    return result

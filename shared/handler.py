"""The shape every step handler shares: validate the payload, bind log keys, run one op, validate its answer.

A handler module declares ``OPS = {"op name": Op(InputModel, OutputModel, function)}`` (models in
``shared.steps``); each function gets its typed input and calls exactly one domain function with
adapters built once per container. Domain functions may answer with a dict: the dispatcher
validates it into the output model, so nothing untyped crosses the boundary either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from shared.aws import Stores
from shared.errors import ConfigurationError
from shared.heap import settle_heap
from shared.observability import begin_invocation, bind, logger, metrics, tracer
from shared.steps import StepIn

InT = TypeVar("InT", bound=StepIn)
OutT = TypeVar("OutT", bound=BaseModel)


@dataclass(frozen=True)
class Op(Generic[InT, OutT]):
    """One op: the payload's model, the answer's model and the function between them."""

    input: type[InT]
    output: type[OutT]
    run: Callable[[InT], OutT | Mapping[str, Any]]


@lru_cache(maxsize=1)
def stores() -> Stores:
    return Stores()


def lambda_handler(ops: Mapping[str, Op[Any, Any]]) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of a step module: Powertools logging, tracing and metrics around dispatch.

    Made once per module, after its imports: in the Lambda runtime the heap it finds is settled
    (:func:`settle_heap`)."""
    if os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_"):
        settle_heap()

    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        begin_invocation(context)
        return dispatch(event, ops)

    return handler


def _invalid(what: str, exc: ValidationError) -> ConfigurationError:
    """Name every refused field (``item.batch_id: Field required``), never echo the values."""
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors())
    return ConfigurationError(f"{what}: {problems}")


def dispatch(event: Mapping[str, Any], ops: Mapping[str, Op[Any, Any]]) -> dict[str, Any]:
    name = event.get("op") if isinstance(event, Mapping) else None
    op = ops.get(name) if isinstance(name, str) else None
    if op is None:
        raise ConfigurationError(f"op {name!r} is not handled here (allowed: {sorted(ops)})")
    try:
        step = op.input.model_validate(event)
    except ValidationError as exc:
        raise _invalid(f"invalid {name} payload", exc) from exc
    item = getattr(step, "item", None)
    bind(run_id=step.run.run_id, step=name, object=getattr(item, "mapping", getattr(item, "dest_object", None)),
         batch=getattr(item, "batch_id", None))
    answer = op.run(step)
    try:
        result = answer if isinstance(answer, op.output) else op.output.model_validate(answer)
    except ValidationError as exc:
        raise _invalid(f"{name} answered outside its {op.output.__name__} model", exc) from exc
    out: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_unset=True)
    logger.info("step done", extra={"result": {k: v for k, v in out.items() if isinstance(v, int | bool | str)}})
    return out

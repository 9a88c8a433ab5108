"""Rollback step: plan from the audit log, undo work items phase by phase, verify by reading back."""

from __future__ import annotations

from typing import Any

from shared.connections import open_destination
from shared.connectors import registry
from shared.domain import rollback
from shared.handler import Op, lambda_handler, stores
from shared.observability import count
from shared.steps import (
    FailureIn,
    IndexIn,
    RollbackPlanOut,
    RollbackVerifyOut,
    RunOnly,
    StatusOut,
    UndoIn,
    UndoLevelOut,
    UndoOut,
    UndoVerifyLevelOut,
)


def _plan(step: RunOnly) -> dict[str, Any]:
    return rollback.plan(step.run, stores())


def _plan_level(step: IndexIn) -> dict[str, Any]:
    # The UndoLevel Map deletes/restores as many work items at once as the destination takes loads.
    parallel = registry.destination(step.run.destination.kind).capabilities.max_parallel_loads
    return {**rollback.plan_level(step.run, step.index, stores()), "max_concurrency": parallel}


def _undo_batch(step: UndoIn) -> dict[str, Any]:
    result = rollback.undo_batch(step.run, step.item.model_dump(), open_destination(step.run.destination), stores())
    count("RecordsUndone", int(result["done"]))
    count("UndoFailed", int(result["failed"]))
    return result


def _verify_level(step: IndexIn) -> dict[str, Any]:
    return rollback.verify_level(step.run, step.index, stores())


def _verify(step: RunOnly) -> dict[str, Any]:
    return rollback.verify(step.run, open_destination(step.run.destination), stores())


def _failure(step: FailureIn) -> dict[str, Any]:
    return rollback.record_failure(step.run, step.error.model_dump(by_alias=True), stores())


OPS: dict[str, Op[Any, Any]] = {
    "plan": Op(RunOnly, RollbackPlanOut, _plan),
    "plan_level": Op(IndexIn, UndoLevelOut, _plan_level),
    "undo_batch": Op(UndoIn, UndoOut, _undo_batch),
    "verify_level": Op(IndexIn, UndoVerifyLevelOut, _verify_level),
    "verify": Op(RunOnly, RollbackVerifyOut, _verify),
    "record_failure": Op(FailureIn, StatusOut, _failure),
}

handler = lambda_handler(OPS)

"""Rollback step: plan from the audit log, undo work items phase by phase, verify by reading back."""

from __future__ import annotations

from typing import Any

from shared.connections import open_destination
from shared.domain import rollback
from shared.handler import lambda_handler, stores
from shared.models import StepInput
from shared.observability import count


def _plan(step: StepInput) -> dict[str, Any]:
    return rollback.plan(step.run, stores())


def _plan_level(step: StepInput) -> dict[str, Any]:
    # The UndoLevel Map deletes/restores as many work items at once as the destination takes loads.
    parallel = open_destination(step.run.destination).limits.max_parallel_loads
    return {**rollback.plan_level(step.run, int(getattr(step, "index", 0)), stores()), "max_concurrency": parallel}


def _undo_batch(step: StepInput) -> dict[str, Any]:
    result = rollback.undo_batch(step.run, dict(getattr(step, "item", {})), open_destination(step.run.destination),
                                 stores())
    count("RecordsUndone", int(result["done"]))
    count("UndoFailed", int(result["failed"]))
    return result


def _verify_level(step: StepInput) -> dict[str, Any]:
    return rollback.verify_level(step.run, int(getattr(step, "index", 0)), stores())


def _verify(step: StepInput) -> dict[str, Any]:
    return rollback.verify(step.run, open_destination(step.run.destination), stores())


def _failure(step: StepInput) -> dict[str, Any]:
    return rollback.record_failure(step.run, dict(getattr(step, "error", {}) or {}), stores())


OPS = {"plan": _plan, "plan_level": _plan_level, "undo_batch": _undo_batch, "verify_level": _verify_level,
       "verify": _verify, "record_failure": _failure}

handler = lambda_handler(OPS)

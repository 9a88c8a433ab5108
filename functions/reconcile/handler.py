"""Reconcile step: counts per mapping, the exception report, the run's final record."""

from __future__ import annotations

from typing import Any

from shared.aws import StepFunctionsExecutions
from shared.connections import open_destination
from shared.connectors import registry
from shared.connectors.destination import RunJournal
from shared.domain import reconcile
from shared.executions import ExecutionStart
from shared.handler import Op, lambda_handler, stores
from shared.settings import RollbackStartSettings
from shared.steps import FailureIn, FinalizeOut, ReconcileOut, RollbackStartedOut, RunOnly, StatusOut


def _reconcile(step: RunOnly) -> dict[str, Any]:
    return reconcile.reconcile(step.run, open_destination(step.run.destination), stores())


def _finalize(step: RunOnly) -> dict[str, Any]:
    journal = None
    if registry.destination(step.run.destination.kind).capabilities.keeps_run_journal:
        dest = open_destination(step.run.destination)
        journal = dest if isinstance(dest, RunJournal) else None
    return reconcile.finalize(step.run, stores(), journal)


def _failure(step: FailureIn) -> dict[str, Any]:
    return reconcile.record_failure(step.run, step.error.model_dump(by_alias=True), stores())


def _start_rollback(step: RunOnly) -> dict[str, Any]:
    rollback_arn = RollbackStartSettings().rollback_state_machine_arn  # type: ignore[call-arg]
    executions = StepFunctionsExecutions({"rollback": rollback_arn})

    def start(what: ExecutionStart) -> str:
        return executions.start("rollback", what)

    return reconcile.start_rollback(step.run, stores(), start)


OPS: dict[str, Op[Any, Any]] = {
    "reconcile": Op(RunOnly, ReconcileOut, _reconcile),
    "finalize": Op(RunOnly, FinalizeOut, _finalize),
    "record_failure": Op(FailureIn, StatusOut, _failure),
    "start_rollback": Op(RunOnly, RollbackStartedOut, _start_rollback),
}

handler = lambda_handler(OPS)

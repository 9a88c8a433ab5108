"""Reconcile step: counts per mapping, the exception report, the run's final record."""

from __future__ import annotations

from typing import Any

from shared.connections import open_destination
from shared.domain import reconcile
from shared.handler import Op, lambda_handler, stores
from shared.steps import FailureIn, FinalizeOut, ReconcileOut, RunOnly, StatusOut


def _reconcile(step: RunOnly) -> dict[str, Any]:
    return reconcile.reconcile(step.run, open_destination(step.run.destination), stores())


def _finalize(step: RunOnly) -> dict[str, Any]:
    return reconcile.finalize(step.run, stores())


def _failure(step: FailureIn) -> dict[str, Any]:
    return reconcile.record_failure(step.run, step.error.model_dump(by_alias=True), stores())


OPS: dict[str, Op[Any, Any]] = {
    "reconcile": Op(RunOnly, ReconcileOut, _reconcile),
    "finalize": Op(RunOnly, FinalizeOut, _finalize),
    "record_failure": Op(FailureIn, StatusOut, _failure),
}

handler = lambda_handler(OPS)

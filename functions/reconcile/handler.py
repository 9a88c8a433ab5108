"""Reconcile step: counts per mapping, the exception report, the run's final record."""

from __future__ import annotations

from typing import Any

from shared.connections import open_destination
from shared.domain import reconcile
from shared.handler import lambda_handler, stores
from shared.models import StepInput


def _reconcile(step: StepInput) -> dict[str, Any]:
    return reconcile.reconcile(step.run, open_destination(step.run.destination), stores())


def _finalize(step: StepInput) -> dict[str, Any]:
    return reconcile.finalize(step.run, stores())


def _failure(step: StepInput) -> dict[str, Any]:
    return reconcile.record_failure(step.run, dict(getattr(step, "error", {}) or {}), stores())


OPS = {"reconcile": _reconcile, "finalize": _finalize, "record_failure": _failure}

handler = lambda_handler(OPS)

"""Discover step: both schemas, owners by email, the proposed mapping."""

from __future__ import annotations

from typing import Any

from shared.connections import open_destination, open_source
from shared.domain.discover import discover
from shared.handler import lambda_handler, stores
from shared.models import StepInput


def _discover(step: StepInput) -> dict[str, Any]:
    with open_source(step.run.source) as source:
        result = discover(step.run, source, open_destination(step.run.destination), stores().blobs)
    stores().runs.update(step.run.run_id, step="Discover", status="running", discovery=result)
    return result


OPS = {"discover": _discover}

handler = lambda_handler(OPS)

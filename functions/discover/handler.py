"""Discover step: both schemas, owners by email, the proposed mapping."""

from __future__ import annotations

from typing import Any

from shared.connections import open_destination, open_source
from shared.domain.discover import discover
from shared.handler import Op, lambda_handler, stores
from shared.steps import DiscoverOut, RunOnly


def _discover(step: RunOnly) -> dict[str, Any]:
    with open_source(step.run.source) as source:
        result = discover(step.run, source, open_destination(step.run.destination), stores().blobs)
    # ``run`` is what the sign-off routes and operator commands read: recorded here too, so a run started
    # without the API (`flitstack demo`, a bare StartExecution) answers them like one the API started.
    stores().runs.update(step.run.run_id, step="Discover", status="running", discovery=result,
                         run=step.run.model_dump(mode="json"))
    return result


OPS: dict[str, Op[Any, Any]] = {"discover": Op(RunOnly, DiscoverOut, _discover)}

handler = lambda_handler(OPS)

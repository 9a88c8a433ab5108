"""How a run's executions are started: name and input of the migrate and rollback workflows.

One place for the API (``functions/api``) and local mode (``flitstack.runtime``), so an execution
started either way looks the same to the state machines and to whoever lists executions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from shared.models import RunRef

#: Step Functions execution names are at most 80 characters.
EXECUTION_NAME_MAX = 80


@dataclass(frozen=True)
class ExecutionStart:
    """What StartExecution gets: the execution name and its (JSON-serialisable) input."""

    name: str
    input: dict[str, Any]


def migration_start(run: RunRef) -> ExecutionStart:
    """The migrate execution is named after the run, so a run id can be started only once."""
    return ExecutionStart(name=run.run_id, input={"run": run.model_dump()})


def rollback_start(run: RunRef, at: float | None = None) -> ExecutionStart:
    """Rollback execution names carry a UTC timestamp: a run may be rolled back more than once
    (rollback converges), one start per second at most."""
    stamp = time.strftime("-%Y%m%d%H%M%S", time.gmtime(at))
    name = f"rollback-{run.run_id}"[: EXECUTION_NAME_MAX - len(stamp)] + stamp
    return ExecutionStart(name=name, input={"run": run.model_dump()})

"""Load step: prepare the destination, plan and load each level's batches, verify, fix up."""

from __future__ import annotations

from typing import Any

from shared.connections import open_destination, open_source
from shared.domain import load, sample
from shared.domain.keys import FULL
from shared.handler import lambda_handler, stores
from shared.models import StepInput
from shared.observability import count


def _phase(step: StepInput) -> str:
    return str(getattr(step, "phase", FULL))


def _prepare(step: StepInput) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step="PrepareDestination")
    return load.prepare(step.run, open_destination(step.run.destination), stores())


def _plan_level(step: StepInput) -> dict[str, Any]:
    index = int(getattr(step, "index", 0))
    phase = _phase(step)
    stores().runs.update(step.run.run_id, step=f"LoadLevel {index}" + ("" if phase == FULL else f" ({phase})"))
    # The LoadLevel Map runs as many batches at once as the destination declares it takes.
    parallel = open_destination(step.run.destination).limits.max_parallel_loads
    return {**load.plan_level(step.run, index, stores(), phase), "max_concurrency": parallel}


def _load_batch(step: StepInput) -> dict[str, Any]:
    result = load.load_batch(step.run, dict(getattr(step, "item", {})), dict(getattr(step, "transformed", {})),
                             open_destination(step.run.destination), stores())
    count("RecordsWritten", result["loaded"])
    count("RecordsRejected", result["load_rejected"])
    return result


def _verify_level(step: StepInput) -> dict[str, Any]:
    return load.verify_level(step.run, int(getattr(step, "index", 0)), stores(), _phase(step))


def _fixup(step: StepInput) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step="FixupPass")
    return load.fixup(step.run, open_destination(step.run.destination), stores(), _phase(step))


def _sample(step: StepInput) -> dict[str, Any]:
    return sample.run_sample(step.run, open_destination(step.run.destination), stores(),
                             lambda: open_source(step.run.source))


def _discard_sample(step: StepInput) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step="RemoveSample")
    return sample.discard(step.run, open_destination(step.run.destination), stores())


OPS = {"sample": _sample, "discard_sample": _discard_sample,
       "prepare": _prepare, "plan_level": _plan_level, "load_batch": _load_batch, "verify_level": _verify_level,
       "fixup": _fixup}

handler = lambda_handler(OPS)

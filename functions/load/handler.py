"""Load step: prepare the destination, plan and load each level's batches, verify, fix up."""

from __future__ import annotations

from typing import Any

from shared.connections import open_destination, open_source
from shared.connectors import registry
from shared.domain import load, preflight, sample
from shared.domain.keys import FULL
from shared.handler import Op, lambda_handler, stores
from shared.observability import count
from shared.steps import (
    CursorOut,
    FixupOut,
    LevelIn,
    LoadIn,
    LoadOut,
    PhaseIn,
    PlanLevelOut,
    PrepareOut,
    RollbackVerifyOut,
    RunOnly,
    SampleOut,
)


def _prepare(step: RunOnly) -> dict[str, Any]:
    """The schema and default records where the next writes go: the sample environment when the run
    has one (the target is prepared only once the sample is approved), else the target."""
    stores().runs.update(step.run.run_id, step="PrepareDestination")
    if step.run.sample_destination is not None:
        return load.prepare(step.run, open_destination(step.run.sample_destination), stores(), env="sample")
    return load.prepare(step.run, open_destination(step.run.destination), stores())


def _prepare_target(step: RunOnly) -> dict[str, Any]:
    """After the sample (in the sample environment) was approved: the target's schema and default records."""
    stores().runs.update(step.run.run_id, step="PrepareDestination (approved)")
    return load.prepare(step.run, open_destination(step.run.destination), stores())


def _plan_level(step: LevelIn) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step=f"LoadLevel {step.index}" + (
        "" if step.phase == FULL else f" ({step.phase})"))
    if step.phase == FULL and step.index == 0:
        with open_source(step.run.source) as source:  # the full run starts here: the source must be ready
            preflight.check(step.run, source, stores())
    # The LoadLevel Map runs as many batches at once as the destination declares it takes.
    parallel = registry.destination(step.run.destination.kind).capabilities.max_parallel_loads
    return {**load.plan_level(step.run, step.index, stores(), step.phase), "max_concurrency": parallel}


def _load_batch(step: LoadIn) -> dict[str, Any]:
    result = load.load_batch(step.run, step.item.model_dump(), step.transformed.model_dump(),
                             open_destination(step.run.destination), stores())
    count("RecordsWritten", result["loaded"])
    count("RecordsRejected", result["load_rejected"])
    return result


def _verify_level(step: LevelIn) -> dict[str, Any]:
    return load.verify_level(step.run, step.index, stores(), step.phase)


def _fixup(step: PhaseIn) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step="FixupPass")
    return load.fixup(step.run, open_destination(step.run.destination), stores(), step.phase)


def _sample(step: RunOnly) -> dict[str, Any]:
    return sample.run_sample(step.run, open_destination(step.run.sample_endpoint), stores(),
                             lambda: open_source(step.run.source))


def _discard_sample(step: RunOnly) -> dict[str, Any]:
    stores().runs.update(step.run.run_id, step="RemoveSample")
    return sample.discard(step.run, open_destination(step.run.sample_endpoint), stores())


OPS: dict[str, Op[Any, Any]] = {
    "sample": Op(RunOnly, SampleOut, _sample),
    "discard_sample": Op(RunOnly, RollbackVerifyOut, _discard_sample),
    "prepare": Op(RunOnly, PrepareOut, _prepare),
    "prepare_target": Op(RunOnly, PrepareOut, _prepare_target),
    "plan_level": Op(LevelIn, PlanLevelOut, _plan_level),
    "load_batch": Op(LoadIn, LoadOut, _load_batch),
    "verify_level": Op(LevelIn, CursorOut, _verify_level),
    "fixup": Op(PhaseIn, FixupOut, _fixup),
}

handler = lambda_handler(OPS)

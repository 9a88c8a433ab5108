"""Each step op's input and output, as its own model: the contract between the ASL and a handler.

The ASL (``infra/asl.py``) builds each op's Payload and selects fields of its answer; these models
are the other half. ``shared.handler.dispatch`` validates the payload with the op's input model
and the domain function's answer with its output model, both refusing unknown keys, so a field
added on one side only is a :class:`~shared.errors.ConfigurationError` naming it, never a
silently dropped or invented value. Outputs are dumped with only the keys the domain gave (an
optional field the domain left out stays out), so payloads are byte-compatible with the ASL.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.models import RunRef


class _Model(BaseModel):
    """Unknown keys are refused; ``pass`` and the States error's ``Error``/``Cause`` use aliases."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StepIn(_Model):
    """What every op gets: its name and the run (the ASL passes ``$.run`` to every Task)."""

    op: str
    run: RunRef


# --- pieces carried between steps ---------------------------------------------------------------
class Partition(_Model):
    """One item of the extraction manifest (``extract.plan``)."""

    object: str


class FileItem(_Model):
    """One item of the FetchFiles manifest (``files.plan``): a slice of one extracted batch's files."""

    object: str
    batch_key: str
    start: int = Field(ge=0)
    count: int = Field(ge=1)
    item: int = Field(ge=0)
    #: The slice's bytes in the batch (first, end): the item reads only its own lines.
    span: tuple[int, int]


class LevelItem(_Model):
    """One item of a level manifest (``load.plan_level``): a batch of one mapping."""

    mapping: str
    source_keys: list[str]
    level: int
    phase: str
    batch_id: str


class UndoItem(_Model):
    """One item of a rollback level manifest (``rollback.plan_level``)."""

    batch_id: str
    level: int
    attempt: str
    action: Literal["delete", "restore"]
    dest_object: str
    work_key: str
    count: int


class StatesError(_Model):
    """What a Catch puts at ``$.error``: the error name and its cause."""

    error: str = Field(alias="Error")
    cause: str = Field(default="", alias="Cause")


class Answer(_Model):
    """A sign-off's answer (``SendTaskSuccess`` output, ``shared.domain.approval.decide``)."""

    decision: Literal["approve", "reject"]
    stage: str
    by: str
    via: str
    reason: str = ""


class Discarded(_Model):
    """What the ASL keeps of a discarded sample (``$.discarded``): whether read-back proved it gone."""

    passed: bool


class Cursor(_Model):
    """Where the level loop is: the next level, how many there are, and the phase (full/delta/sample)."""

    index: int
    count: int
    phase: str


class Delta(_Model):
    """The delta window's state as the ASL keeps it (``$.delta``)."""

    active: bool
    pass_: int = Field(alias="pass")
    poll_s: int
    cursor: Cursor | None = None


# --- inputs ---------------------------------------------------------------------------------------
class RunOnly(StepIn):
    """Ops that need nothing but the run."""


class PartitionIn(StepIn):
    partition: Partition


class FilesIn(StepIn):
    item: FileItem


class LevelIn(StepIn):
    index: int
    phase: str


class PhaseIn(StepIn):
    phase: str


class IndexIn(StepIn):
    index: int


class TransformIn(StepIn):
    item: LevelItem


class UndoIn(StepIn):
    item: UndoItem


class DeltaIn(StepIn):
    delta: Delta


class FailureIn(StepIn):
    error: StatesError


class ApprovalRequestIn(StepIn):
    stage: str
    token: str


class EndUnapprovedIn(StepIn):
    stage: str
    answer: Answer | None = None
    error: StatesError | None = None
    discarded: Discarded | None = None


# --- outputs --------------------------------------------------------------------------------------
class DiscoverOut(_Model):
    catalog_key: str
    plan_key: str
    mapping_key: str
    source_counts: dict[str, int]
    unmatched_technicians: int
    audit_fields: bool
    preflight_blocking: bool = False
    #: Proposals below the confidence threshold, waiting for a person at the mapping sign-off.
    proposals_flagged: int = 0


class PlanExtractionOut(_Model):
    manifest_key: str
    partitions: int
    #: The source's declared parallel-read limit: the Extract Map's MaxConcurrencyPath.
    max_concurrency: int = Field(ge=1)


class PlanFilesOut(_Model):
    manifest_key: str
    items: int
    #: The source's declared parallel-read limit: the FetchFiles Map's MaxConcurrencyPath.
    max_concurrency: int = Field(ge=1)
    #: The first load level holding a mapping that carries files (the level count if none): the levels
    #: before it load beside the FetchFiles Map (the FilesBesideLevels Parallel).
    first_level: int = Field(ge=0)


class FetchFilesOut(_Model):
    item: int
    files: int
    copied: int
    bytes: int


class VerifyFilesOut(_Model):
    items: int
    files: int


class PartitionOut(_Model):
    """One partition read: the object's totals so far; ``done`` once it is read to its end (the Extract
    Map item loops on it)."""

    object: str
    count: int
    batches: int
    done: bool
    #: partitions of this object read so far
    partition: int = Field(ge=1)


#: VerifyExtraction's and VerifyLevel's answer is the next level cursor.
CursorOut = Cursor


class DeltaOut(_Model):
    active: bool
    pass_: int = Field(alias="pass")
    poll_s: int
    deadline: str | None = None
    cursor: Cursor | None = None


class DeltaReportOut(_Model):
    passes: int
    conflicts: int
    deletions: int


class TransformOut(_Model):
    load_key: str
    count: int
    rejected: int
    filtered_out: int
    issues: int
    input: int
    already_loaded: int


class LoadIn(StepIn):
    item: LevelItem
    transformed: TransformOut


class PrepareOut(_Model):
    created_fields: int
    adopted: int


class PlanLevelOut(_Model):
    manifest_key: str
    items: int
    index: int
    phase: str
    #: The destination's declared parallel-load limit: the LoadLevel Map's MaxConcurrencyPath.
    max_concurrency: int = Field(ge=1)


class LoadOut(_Model):
    batch_id: str
    mapping: str
    input: int
    filtered_out: int
    transform_rejected: int
    loaded: int
    created: int
    already_loaded: int
    conflicts: int
    load_rejected: int
    converted: int = 0


class FixupOut(_Model):
    updated: int
    phase: str


class SampleOut(_Model):
    records: int
    flagged: int
    rejected: int
    report: str


class ReconcileOut(_Model):
    report_key: str
    passed: bool


class FinalizeOut(_Model):
    status: str
    reports: int


class StatusOut(_Model):
    status: str


class RollbackStartedOut(_Model):
    rollback_id: str


class EndUnapprovedOut(_Model):
    status: str
    reason: str


class ApprovalRequestOut(_Model):
    stage: str
    approval_id: str
    expires_at: int
    notified: list[str]


class RollbackPlanOut(_Model):
    plan_key: str
    index: int
    count: int
    to_delete: int
    to_restore: int
    unrestorable: int


class UndoLevelOut(_Model):
    manifest_key: str
    items: int
    index: int
    #: The destination's declared parallel-load limit: the UndoLevel Map's MaxConcurrencyPath.
    max_concurrency: int = Field(ge=1)


class UndoOut(_Model):
    batch_id: str
    level: int
    action: str
    dest_object: str
    records: int
    done: int
    failed: int


class UndoVerifyLevelOut(_Model):
    index: int
    count: int


class RollbackVerifyOut(_Model):
    passed: bool
    status: str
    report_key: str
    deleted: int
    restored: int
    failed: int
    still_present: int
    mismatched: int
    unrestorable: int

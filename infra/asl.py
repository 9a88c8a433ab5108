"""The workflows' ASL, built in Python so the Retry/Catch policy is written once.

``infra/statemachines/*.asl.json`` are generated from here and committed (CDK inlines them with
``DefinitionBody.from_string`` and the local engine loads the same files); ``tests/infra/test_asl.py``
checks the committed files are exactly what this module makes. Regenerate after an edit with
``python -m infra.asl`` (or ``make asl``).

Every Lambda Task gets the same :data:`RETRY` (only the retriable classes of ``shared.errors``
plus Lambda's own transient errors) and, unless it is the failure recorder itself, the same
:func:`catch_fatal` pair routing to the machine's failure state. Distributed Maps take their
concurrency from a path the planning step filled from the connectors' declared limits.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from infra.resources import DATA_BUCKET_VARIABLE, STATEMACHINE_DIR, function_arn_variable
from shared.errors import (
    AuthenticationError,
    ConfigurationError,
    ContractError,
    IncompleteStepError,
    MappingError,
    QuotaExhaustedError,
    SourceNotReadyError,
    ThrottledError,
    TransientError,
)

State = dict[str, Any]

#: Lambda's own transient failures (the service, not our code), retried like ours.
LAMBDA_TRANSIENT = ("Lambda.TooManyRequestsException", "Lambda.ServiceException", "Lambda.SdkClientException")
RETRIABLE = (ThrottledError.__name__, TransientError.__name__, *LAMBDA_TRANSIENT)
FATAL = tuple(c.__name__ for c in (ConfigurationError, AuthenticationError, ContractError, MappingError,
                                   QuotaExhaustedError, SourceNotReadyError, IncompleteStepError))
#: The step-level retry (the call-level one is ``shared.retry``): 2, 4, 8, 16 s, full jitter, ≤ 60 s.
RETRY: list[State] = [{
    "ErrorEquals": list(RETRIABLE),
    "IntervalSeconds": 2,
    "MaxAttempts": 5,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}]
INVOKE = "arn:aws:states:::lambda:invoke"
INVOKE_WAIT = "arn:aws:states:::lambda:invoke.waitForTaskToken"


def catch(errors: Sequence[str], next_state: str, result_path: str = "$.error") -> State:
    return {"ErrorEquals": list(errors), "ResultPath": result_path, "Next": next_state}


def catch_fatal(next_state: str) -> list[State]:
    """The fatal classes, then anything else (a bug, States.*): both recorded by ``next_state``."""
    return [catch(FATAL, next_state), catch(["States.ALL"], next_state)]


def selector(*fields: str) -> dict[str, str]:
    """A ResultSelector keeping only the named fields of the Lambda's answer (references, not data)."""
    return {f"{name}.$": f"$.Payload.{name}" for name in fields}


WHOLE_PAYLOAD = {"result.$": "$.Payload"}


def lambda_task(folder: str, op: str, params: Mapping[str, Any], *, result: Mapping[str, str],
                result_path: str | None, next_state: str | None = None, on_failure: str | None = None,
                catches: Iterable[State] = (), comment: str | None = None,
                callback: bool = False, timeout_path: str | None = None) -> State:
    """A Task invoking ``functions/<folder>`` with ``{"op": op, **params}`` under the one policy.

    ``on_failure`` names the state that records a fatal error (None for that state itself and
    for Tasks inside a Map, whose failures the Map's own Catch sees); ``catches`` come first.
    ``callback`` makes it a ``.waitForTaskToken`` Task (no ResultSelector: the answer is the token's).
    """
    state: State = {"Type": "Task"}
    if comment:
        state["Comment"] = comment
    state["Resource"] = INVOKE_WAIT if callback else INVOKE
    state["Parameters"] = {"FunctionName": "${" + function_arn_variable(folder) + "}",
                           "Payload": {"op": op, **params}}
    if timeout_path:
        state["TimeoutSecondsPath"] = timeout_path
    if not callback:
        state["ResultSelector"] = dict(result)
    state["ResultPath"] = result_path
    state["Retry"] = [dict(r) for r in RETRY]
    all_catches = [*catches, *(catch_fatal(on_failure) if on_failure else [])]
    if all_catches:
        state["Catch"] = all_catches
    return _then(state, next_state)


def distributed_map(label: str, comment: str, manifest_key_path: str, processor: Mapping[str, State], *,
                    concurrency_path: str, next_state: str | None, on_failure: str | None,
                    catches: Iterable[State] = ()) -> State:
    """A Distributed Map over an S3 JSON manifest, each item given the run and its item value.

    Its MaxConcurrency is read at run time from ``concurrency_path``: the planning step before it
    put the connector's declared limit there (capabilities as data, not a constant here).
    ``on_failure`` is None inside a Parallel branch (the Parallel's own Catch records the error).
    """
    state: State = {
        "Type": "Map",
        "Comment": comment,
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": "${" + DATA_BUCKET_VARIABLE + "}", "Key.$": manifest_key_path},
        },
        "ItemSelector": {"run.$": "$.run", "item.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": next(iter(processor)),
            "States": dict(processor),
        },
        "MaxConcurrencyPath": concurrency_path,
        "Label": label,
        "ResultPath": None,
    }
    _then(state, next_state)
    all_catches = [*catches, *(catch_fatal(on_failure) if on_failure else [])]
    if all_catches:
        state["Catch"] = all_catches
    return state


def choice(variable: str, test: str, value: Any, then: str, default: str, comment: str | None = None) -> State:
    state: State = {"Type": "Choice"}
    if comment:
        state["Comment"] = comment
    state["Choices"] = [{"Variable": variable, test: value, "Next": then}]
    state["Default"] = default
    return state


def _then(state: State, next_state: str | None) -> State:
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


RUN = {"run.$": "$.run"}


def level_loop(suffix: str, more: Mapping[str, Any], done: str, on_failure: str | None,
               comment: str | None = None) -> dict[str, State]:
    """The level loop from ``$.cursor``: while the Choice rule ``more`` holds, PlanLevel ▸ LoadLevel (transform
    then load every batch of the level) ▸ VerifyLevel, waiting on a source that is not ready yet and on an
    exhausted quota (the same level re-planned, finished batches skipped); then ``done``.

    ``suffix`` names a second copy (state names are unique in a machine, Map Labels too); ``on_failure`` is
    None for the copy inside a Parallel branch, whose errors reach the Parallel's own Catch.
    """
    def n(base: str) -> str:
        return base + suffix

    has_more: State = {"Type": "Choice"}
    if comment:
        has_more["Comment"] = comment
    has_more["Choices"] = [{**more, "Next": n("PlanLevel")}]
    has_more["Default"] = done
    return {
        n("HasMoreLevels"): has_more,
        n("PlanLevel"): lambda_task(
            "load", "plan_level", {**RUN, "index.$": "$.cursor.index", "phase.$": "$.cursor.phase"},
            result=selector("manifest_key", "items", "index", "phase", "max_concurrency"), result_path="$.level",
            next_state=n("LoadLevel"), on_failure=on_failure,
            catches=[catch([SourceNotReadyError.__name__], n("SourceNotReadyPause"), "$.not_ready")]),
        n("SourceNotReadyPause"): {"Type": "Wait",
                                   "Comment": "The source's pre-flight blocks the full run (offline mobile data not "
                                              "yet synced, no override at sign-off): wait, then check again.",
                                   "SecondsPath": "$.run.options.preflight_poll_s", "Next": n("PlanLevel")},
        n("LoadLevel"): distributed_map(
            n("LoadLevel"), "LoadLevel: transform then load every batch of one dependency level",
            "$.level.manifest_key",
            {n("TransformBatch"): lambda_task("transform", "transform_batch", {**RUN, "item.$": "$.item"},
                                              result=WHOLE_PAYLOAD, result_path="$.transformed",
                                              next_state=n("LoadBatch")),
             n("LoadBatch"): lambda_task("load", "load_batch", {**RUN, "item.$": "$.item",
                                                                "transformed.$": "$.transformed.result"},
                                         result=WHOLE_PAYLOAD, result_path=None)},
            concurrency_path="$.level.max_concurrency", next_state=n("VerifyLevel"), on_failure=on_failure,
            catches=[catch(["States.ExceedToleratedFailureThreshold"], n("VerifyLevel"), "$.mapFailure")]),
        n("VerifyLevel"): lambda_task("load", "verify_level", {**RUN, "index.$": "$.level.index",
                                                               "phase.$": "$.cursor.phase"},
                                      result=selector("index", "count", "phase"), result_path="$.cursor",
                                      next_state=n("HasMoreLevels"), on_failure=on_failure,
                                      catches=[catch([QuotaExhaustedError.__name__], n("QuotaPause"), "$.quota")]),
        n("QuotaPause"): {"Type": "Wait",
                          "Comment": "A daily quota ran out: wait, then re-plan the same level; finished batches are "
                                     "skipped.",
                          "SecondsPath": "$.run.options.quota_pause_s", "Next": n("PlanLevel")},
    }


# --- migrate ---------------------------------------------------------------------------------------
def migrate() -> State:
    """Discover, (sign off the mapping), prepare, extract, (sample + sign-off), load by level, fix up,
    reconcile, delta window, finalize; any fatal error is recorded by RecordFailure."""
    fail = "RecordFailure"

    def approval(stage: str, answer: str, decision: str, approved: str, rejected: str,
                 expired: str) -> dict[str, State]:
        what = "the mapping" if stage == "mapping" else "the sample"
        return {
            f"Await{stage.capitalize()}Approval": lambda_task(
                "approval", "request_approval", {**RUN, "stage": stage, "token.$": "$$.Task.Token"}, result={},
                result_path=answer, next_state=decision, on_failure=fail, callback=True,
                timeout_path="$.run.options.approval_timeout_s", catches=[catch(["States.Timeout"], expired)],
                comment=f"Pause until a person approves or rejects {what} (email link, Slack button, API); "
                        "the token stays in the approvals table."),
            decision: choice(f"{answer}.decision", "StringEquals", "approve", approved, rejected),
        }

    def end_unapproved(stage: str, extra: Mapping[str, str]) -> State:
        return lambda_task("approval", "end_unapproved", {**RUN, "stage": stage, **extra},
                           result=selector("status"), result_path="$.ended", next_state="Ended", on_failure=fail)

    def discard(next_state: str) -> State:
        return lambda_task("load", "discard_sample", RUN, result=selector("passed"), result_path="$.discarded",
                           next_state=next_state, on_failure=fail)

    states: dict[str, State] = {
        "Discover": lambda_task("discover", "discover", RUN,
                                result=selector("catalog_key", "plan_key", "mapping_key"),
                                result_path="$.discovery", next_state="MappingSignOff", on_failure=fail),
        "MappingSignOff": choice(
            "$.run.options.approval", "StringEquals", "manual", "AwaitMappingApproval", "PrepareDestination",
            comment="approval 'manual': a person confirms the proposed mapping before anything is written"),
        **approval("mapping", "$.mapping_answer", "MappingDecision", "PrepareDestination", "MappingRejected",
                   "MappingExpired"),
        "MappingRejected": end_unapproved("mapping", {"answer.$": "$.mapping_answer"}),
        "MappingExpired": end_unapproved("mapping", {"error.$": "$.error"}),
        "PrepareDestination": lambda_task("load", "prepare", RUN, result=selector("created_fields"),
                                          result_path="$.prepare", next_state="PlanExtraction", on_failure=fail),
        "PlanExtraction": lambda_task("extract", "plan", RUN,
                                      result=selector("manifest_key", "partitions", "max_concurrency"),
                                      result_path="$.extraction", next_state="Extract", on_failure=fail),
        "Extract": distributed_map(
            "Extract", "Extract every source object, partition by partition, into S3 batches",
            "$.extraction.manifest_key",
            {"ExtractPartition": lambda_task("extract", "extract_partition", {**RUN, "partition.$": "$.item"},
                                             result=selector("done", "partition"), result_path="$.extracted",
                                             next_state="MorePartitions",
                                             comment="Read the object's next partition from its checkpoint"),
             "MorePartitions": choice("$.extracted.done", "BooleanEquals", False, "ExtractPartition",
                                      "ObjectExtracted",
                                      comment="each partition is its own invocation, far under the Lambda limit"),
             "ObjectExtracted": {"Type": "Succeed"}},
            concurrency_path="$.extraction.max_concurrency", next_state="VerifyExtraction", on_failure=fail),
        "VerifyExtraction": lambda_task("extract", "verify", RUN, result=selector("index", "count", "phase"),
                                        result_path="$.cursor", next_state="PlanFiles", on_failure=fail),
        "PlanFiles": lambda_task("extract", "plan_files", RUN,
                                 result=selector("manifest_key", "items", "max_concurrency", "first_level"),
                                 result_path="$.files",
                                 next_state="HasFiles", on_failure=fail),
        "HasFiles": choice("$.files.items", "NumericGreaterThan", 0, "FilesBesideLevels", "SampleSignOff"),
        "FilesBesideLevels": {
            "Type": "Parallel",
            "Comment": "Copy the files (paced to the source's rate) while the levels before the first that carries "
                       "files load; then the rest of the level loop goes on from the cursor the second branch left",
            "Branches": [
                {"StartAt": "FetchFiles", "States": {"FetchFiles": distributed_map(
                    "FetchFiles", "Copy file content source -> S3, as many slices at once as the source declares",
                    "$.files.manifest_key",
                    {"FetchFileSlice": lambda_task("extract", "fetch_files", {**RUN, "item.$": "$.item"},
                                                   result=WHOLE_PAYLOAD, result_path=None)},
                    concurrency_path="$.files.max_concurrency", next_state=None, on_failure=None)}},
                {"StartAt": "HasMoreLevelsBesideFiles", "States": {
                    **level_loop(
                        "BesideFiles",
                        {"And": [{"Not": {"Variable": "$.run.options.approval", "StringEquals": "manual"}},
                                 {"Variable": "$.cursor.index", "NumericLessThanPath": "$.files.first_level"}]},
                        "LevelsBesideFilesLoaded", None,
                        comment="the levels that need no copied file; none with approval 'manual' (nothing loads "
                                "before the sample, which needs the files, is signed off)"),
                    "LevelsBesideFilesLoaded": {"Type": "Succeed"}}},
            ],
            "ResultSelector": {f"{f}.$": f"$[1].cursor.{f}" for f in ("index", "count", "phase")},
            "ResultPath": "$.cursor",
            "Next": "VerifyFiles",
            "Catch": catch_fatal(fail),
        },
        "VerifyFiles": lambda_task("extract", "verify_files", RUN, result=selector("items", "files"),
                                   result_path="$.files", next_state="SampleSignOff", on_failure=fail),
        "SampleSignOff": choice(
            "$.run.options.approval", "StringEquals", "manual", "SampleMigration", "HasMoreLevels",
            comment="approval 'manual': load a linked sample, diff it field by field, wait for the sign-off"),
        "SampleMigration": lambda_task("load", "sample", RUN, result=selector("records", "flagged"),
                                       result_path="$.sample", next_state="AwaitSampleApproval", on_failure=fail),
        **approval("sample", "$.sample_answer", "SampleDecision", "SampleEnvironment", "DiscardRejectedSample",
                   "DiscardExpiredSample"),
        "SampleEnvironment": {
            "Type": "Choice",
            "Comment": "the sample went into a separate environment: prepare the target only now, once approved",
            "Choices": [{"And": [{"Variable": "$.run.sample_destination", "IsPresent": True},
                                 {"Variable": "$.run.sample_destination", "IsNull": False}],
                         "Next": "PrepareApprovedTarget"}],
            "Default": "HasMoreLevels"},
        "PrepareApprovedTarget": lambda_task("load", "prepare_target", RUN, result=selector("created_fields"),
                                             result_path="$.prepare", next_state="HasMoreLevels", on_failure=fail),
        "DiscardRejectedSample": discard("SampleRejected"),
        "SampleRejected": end_unapproved("sample", {"answer.$": "$.sample_answer", "discarded.$": "$.discarded"}),
        "DiscardExpiredSample": discard("SampleExpired"),
        "SampleExpired": end_unapproved("sample", {"error.$": "$.error", "discarded.$": "$.discarded"}),
        **level_loop("", {"Variable": "$.cursor.index", "NumericLessThanPath": "$.cursor.count"}, "FixupPass",
                      fail),
        "FixupPass": lambda_task("load", "fixup", {**RUN, "phase.$": "$.cursor.phase"}, result=selector("updated"),
                                 result_path="$.fixup", next_state="AfterPass", on_failure=fail),
        "AfterPass": choice("$.cursor.phase", "StringEquals", "full", "Reconcile", "DeltaDue"),
        "Reconcile": lambda_task("reconcile", "reconcile", RUN, result=selector("report_key", "passed"),
                                 result_path="$.reconciliation", next_state="DeltaStart", on_failure=fail),
        "DeltaStart": lambda_task("extract", "delta_start", RUN, result=selector("active", "pass", "poll_s"),
                                  result_path="$.delta", next_state="DeltaDue", on_failure=fail),
        "DeltaDue": choice("$.delta.active", "BooleanEquals", True, "DeltaWait", "DeltaReport"),
        "DeltaWait": {"Type": "Wait", "SecondsPath": "$.delta.poll_s", "Next": "DeltaExtract"},
        "DeltaExtract": lambda_task("extract", "delta_extract", {**RUN, "delta.$": "$.delta"},
                                    result=selector("active", "pass", "poll_s", "cursor"), result_path="$.delta",
                                    next_state="EnterDeltaPass", on_failure=fail),
        "EnterDeltaPass": {"Type": "Pass", "Comment": "Load the pass's changes through the same levels, transform and "
                                                      "load.",
                           "InputPath": "$.delta.cursor", "ResultPath": "$.cursor", "Next": "HasMoreLevels"},
        "DeltaReport": lambda_task("extract", "delta_report", RUN, result=selector("passes", "conflicts", "deletions"),
                                   result_path="$.deltaReport", next_state="Finalize", on_failure=fail),
        "Finalize": lambda_task("reconcile", "finalize", RUN, result=selector("status", "reports"),
                                result_path="$.final", next_state="OnFailedReconciliation", on_failure=fail),
        "OnFailedReconciliation": {
            "Type": "Choice",
            "Comment": "on_failed_reconciliation 'rollback': a failed reconciliation starts the rollback by itself",
            "Choices": [{"And": [{"Variable": "$.final.status", "StringEquals": "reconciliation_failed"},
                                 {"Variable": "$.run.options.on_failed_reconciliation", "StringEquals": "rollback"}],
                         "Next": "StartRollback"}],
            "Default": "Done"},
        "StartRollback": lambda_task("reconcile", "start_rollback", RUN, result=selector("rollback_id"),
                                     result_path="$.rollback", next_state="Done", on_failure=fail),
        "Done": {"Type": "Succeed", "Comment": "the run's status (succeeded or reconciliation_failed) is in its "
                                               "summary"},
        fail: lambda_task("reconcile", "record_failure", {**RUN, "error.$": "$.error"}, result=selector("status"),
                          result_path="$.failure", next_state="Failed"),
        "Failed": {"Type": "Fail", "Error": "MigrationFailed", "Cause": "See the run's failure record and reports"},
        "Ended": {"Type": "Succeed", "Comment": "ended cleanly without the full load (rejected or not approved in "
                                               "time); the run table says why"},
    }
    return {
        "Comment": "FlitStack migrate: discover, (sign off the mapping), prepare, extract, (sample + sign-off), "
                   "load by dependency level (pausing on an exhausted quota), fix up, reconcile, delta-pickup window, "
                   "finalize.",
        "StartAt": "Discover",
        "States": states,
    }


# --- rollback --------------------------------------------------------------------------------------
def rollback() -> State:
    """Plan from the audit log, undo level by level (children first), verify by reading back."""
    fail = "RecordRollbackFailure"
    states: dict[str, State] = {
        "PlanRollback": lambda_task("rollback", "plan", RUN, result=selector("plan_key", "index", "count"),
                                    result_path="$.cursor", next_state="HasMoreUndoLevels", on_failure=fail),
        "HasMoreUndoLevels": choice("$.cursor.index", "NumericLessThanPath", "$.cursor.count", "PlanUndoLevel",
                                    "VerifyRollback"),
        "PlanUndoLevel": lambda_task("rollback", "plan_level", {**RUN, "index.$": "$.cursor.index"},
                                     result=selector("manifest_key", "items", "index", "max_concurrency"),
                                     result_path="$.level", next_state="UndoLevel", on_failure=fail),
        "UndoLevel": distributed_map(
            "UndoLevel", "UndoLevel: delete or restore every work item of one phase (<= 10,000 records each)",
            "$.level.manifest_key",
            {"UndoBatch": lambda_task("rollback", "undo_batch", {**RUN, "item.$": "$.item"}, result=WHOLE_PAYLOAD,
                                      result_path=None)},
            concurrency_path="$.level.max_concurrency", next_state="VerifyUndoLevel", on_failure=fail),
        "VerifyUndoLevel": lambda_task("rollback", "verify_level", {**RUN, "index.$": "$.level.index"},
                                       result=selector("index", "count"), result_path="$.cursor",
                                       next_state="HasMoreUndoLevels", on_failure=fail),
        "VerifyRollback": lambda_task("rollback", "verify", RUN,
                                      result=selector("passed", "status", "report_key", "deleted", "restored"),
                                      result_path="$.verification", next_state="IsRolledBack", on_failure=fail),
        "IsRolledBack": choice("$.verification.passed", "BooleanEquals", True, "RolledBack", "RollbackNotVerified"),
        "RolledBack": {"Type": "Succeed"},
        "RollbackNotVerified": {"Type": "Fail", "Error": "RollbackNotVerified",
                                "Cause": "Read-back found records not undone; see the run's reports/rollback.json"},
        fail: lambda_task("rollback", "record_failure", {**RUN, "error.$": "$.error"}, result=selector("status"),
                          result_path="$.failure", next_state="RollbackFailed"),
        "RollbackFailed": {"Type": "Fail", "Error": "RollbackFailed", "Cause": "See the run's rollback/failure.json"},
    }
    return {
        "Comment": "FlitStack rollback: plan from the audit log, restore before-images, delete created records "
                   "children first, verify by reading back.",
        "StartAt": "PlanRollback",
        "States": states,
    }


#: File name -> builder: what ``python -m infra.asl`` writes and the test compares.
MACHINES = {"migrate.asl.json": migrate, "rollback.asl.json": rollback}


def render(machine: Mapping[str, Any]) -> str:
    """The committed text: 2-space JSON, key order as built, a final newline."""
    return json.dumps(machine, indent=2, ensure_ascii=False) + "\n"


def write(directory: Path = STATEMACHINE_DIR) -> list[Path]:
    written = []
    for name, build in MACHINES.items():
        path = directory / name
        path.write_text(render(build()))
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write():
        sys.stdout.write(f"wrote {p}\n")

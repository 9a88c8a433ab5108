"""Unit: every op's payload and answer are their own models; unknown or missing keys are refused by name.

GIVEN the handlers' OPS tables and the ASL the builder makes WHEN a payload or an answer has a
key its model does not declare THEN dispatch raises a ConfigurationError naming that field; and
every Payload the ASL sends validates against the op's input model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from functions.approval.handler import OPS as APPROVAL
from functions.discover.handler import OPS as DISCOVER
from functions.extract.handler import OPS as EXTRACT
from functions.load.handler import OPS as LOAD
from functions.reconcile.handler import OPS as RECONCILE
from functions.rollback.handler import OPS as ROLLBACK
from functions.transform.handler import OPS as TRANSFORM
from infra import asl
from shared.errors import ConfigurationError
from shared.handler import Op, dispatch
from shared.steps import PlanExtractionOut, RunOnly

OPS_BY_FOLDER: dict[str, dict[str, Op[Any, Any]]] = {
    "approval": APPROVAL, "discover": DISCOVER, "extract": EXTRACT, "load": LOAD, "reconcile": RECONCILE,
    "rollback": ROLLBACK, "transform": TRANSFORM}
RUN = {"run_id": "run-1", "pair": "sercom-salesforce", "source": {"kind": "sercom", "secret_name": "flitstack/s"},
       "destination": {"kind": "salesforce", "secret_name": "flitstack/d"}}
#: What the ASL's JSONPaths resolve to in a run, per payload key (a sample value of each shape).
SAMPLES: dict[str, Any] = {
    "run": RUN, "token": "tok", "index": 0, "phase": "full",
    "partition": {"object": "customers"},
    "item": {"mapping": "customers->Account", "source_keys": ["a"], "level": 0, "phase": "full", "batch_id": "b1"},
    "transformed": {"load_key": "k", "count": 1, "rejected": 0, "filtered_out": 0, "issues": 0, "input": 1,
                    "already_loaded": 0},
    "delta": {"active": True, "pass": 0, "poll_s": 5},
    "error": {"Error": "States.Timeout", "Cause": "timed out"},
    "answer": {"decision": "reject", "stage": "mapping", "by": "ann", "via": "api", "reason": "no"},
    "discarded": {"passed": True},
}
FILE_ITEM = {"object": "attachments", "batch_key": "runs/r/extract/attachments/00000.jsonl", "start": 0, "count": 50,
             "item": 0, "span": [0, 9000]}
UNDO_ITEM = {"batch_id": "U00-Account-00000", "level": 0, "attempt": "1", "action": "delete",
             "dest_object": "Account", "work_key": "w", "count": 1}


def _tasks(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in states.values():
        if state["Type"] == "Task":
            yield state
        if "ItemProcessor" in state:
            yield from _tasks(state["ItemProcessor"]["States"])


def test_every_asl_payload_validates_against_its_ops_input_model() -> None:
    seen = 0
    for build in asl.MACHINES.values():
        for task in _tasks(build()["States"]):
            folder = re.sub(r"^\$\{(\w+)FunctionArn\}$", r"\1", task["Parameters"]["FunctionName"]).lower()
            payload = task["Parameters"]["Payload"]
            op = OPS_BY_FOLDER[folder][payload["op"]]
            event = {"op": payload["op"]} | {k.removesuffix(".$"): SAMPLES[k.removesuffix(".$")]
                                             for k in payload if k != "op" and k.endswith(".$")}
            event |= {k: v for k, v in payload.items() if k != "op" and not k.endswith(".$")}
            if folder == "rollback" and "item" in event:
                event["item"] = UNDO_ITEM
            if payload["op"] == "fetch_files":
                event["item"] = FILE_ITEM
            op.input.model_validate(event)
            seen += 1
    assert seen >= 30


def test_an_unknown_payload_key_is_refused_by_name() -> None:
    ops = {"plan": Op(RunOnly, PlanExtractionOut, lambda step: {})}
    with pytest.raises(ConfigurationError, match=r"invalid plan payload: surprise: Extra inputs are not permitted"):
        dispatch({"op": "plan", "run": RUN, "surprise": 1}, ops)


def test_an_unknown_op_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="op 'nope' is not handled here"):
        dispatch({"op": "nope", "run": RUN}, EXTRACT)


def test_an_answer_outside_the_output_model_is_refused_by_name() -> None:
    answer = {"manifest_key": "m", "partitions": 2, "max_concurrency": 4, "extra_field": True}
    ops = {"plan": Op(RunOnly, PlanExtractionOut, lambda step: answer)}
    with pytest.raises(ConfigurationError, match=r"plan answered outside its PlanExtractionOut model: extra_field"):
        dispatch({"op": "plan", "run": RUN}, ops)


def test_an_answer_is_dumped_with_only_the_keys_given() -> None:
    ops = {"plan": Op(RunOnly, PlanExtractionOut, lambda step: {"manifest_key": "m", "partitions": 2,
                                                                "max_concurrency": 4})}
    assert dispatch({"op": "plan", "run": RUN}, ops) == {"manifest_key": "m", "partitions": 2, "max_concurrency": 4}


def test_a_declared_concurrency_below_one_is_refused() -> None:
    ops = {"plan": Op(RunOnly, PlanExtractionOut, lambda step: {"manifest_key": "m", "partitions": 2,
                                                                "max_concurrency": 0})}
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        dispatch({"op": "plan", "run": RUN}, ops)

"""Log lines carry their own invocation's keys, even when invocations run in parallel threads.

Locally the engine dispatches Lambda invocations in threads of one process. Keys bound on the
shared logger would label one invocation's lines with another's batch (seen in the run logs before
this test); they live in a context variable instead (``shared.observability.begin_invocation``).
"""

from __future__ import annotations

import io
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel

from shared.handler import Op, lambda_handler
from shared.observability import logger
from shared.steps import LevelItem, StepIn

RUN = {"run_id": "run-1", "pair": "sercom-salesforce", "source": {"kind": "sercom", "secret_name": "flitstack/s"},
       "destination": {"kind": "salesforce", "secret_name": "flitstack/d"}}


class ItemIn(StepIn):
    item: LevelItem


class Done(BaseModel):
    batch: str




def test_parallel_invocations_log_their_own_batch_and_request_id() -> None:
    barrier = threading.Barrier(4)
    out = io.StringIO()
    capture = logging.StreamHandler(out)
    capture.setFormatter(logger.registered_formatter)

    def work(step: ItemIn) -> Done:
        parallel = step.item.batch_id != "B9"
        if parallel:
            barrier.wait(timeout=10)  # every invocation has bound its keys before any logs
        logger.info("working", extra={"mine": step.item.batch_id})
        if parallel:
            barrier.wait(timeout=10)
        return Done(batch=step.item.batch_id)

    handler = lambda_handler({"work": Op(ItemIn, Done, work)})

    def invoke(n: int) -> dict[str, Any]:
        item = {"mapping": f"m{n}", "source_keys": [], "level": 0, "phase": "full", "batch_id": f"B{n}"}
        context = SimpleNamespace(function_name="flitstack-local-load", memory_limit_in_mb=2048,
                                  invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f",
                                  aws_request_id=f"req-{n}")
        return handler({"op": "work", "run": RUN, "item": item}, context)  # type: ignore[arg-type]

    logger._logger.addHandler(capture)
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(invoke, range(4)))
        # a later invocation on a reused thread starts clean: no batch key left from the one before
        invoke(9)
    finally:
        logger._logger.removeHandler(capture)
    assert [a["batch"] for a in answers] == ["B0", "B1", "B2", "B3"]
    logged = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    working = [r for r in logged if r["message"] == "working"]
    assert len(working) == 5
    for record in working:
        n = record["mine"].removeprefix("B")
        assert (record["batch"], record["object"], record["function_request_id"]) == (f"B{n}", f"m{n}", f"req-{n}")
    done = [r for r in logged if r["message"] == "step done"]
    assert sorted(r["batch"] for r in done) == ["B0", "B1", "B2", "B3", "B9"]

"""Infra: the committed ASL files are exactly what ``infra/asl.py`` builds, with the policy written once.

GIVEN the builder WHEN it renders each machine THEN the committed file is byte for byte the same
(regenerate with ``python -m infra.asl``); every Lambda Task carries the one Retry, every Task
outside a Map routes fatal errors to the failure recorder, and every Distributed Map reads its
concurrency from what the planning step just before it returned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from infra import asl
from infra.resources import STATEMACHINE_DIR

State = dict[str, Any]


def _states(states: dict[str, State], nested: str = "") -> Iterator[tuple[str, State, str]]:
    """Every state with where it sits: "" at the top, "map" in a Map's items, "branch" in a Parallel branch."""
    for name, state in states.items():
        yield name, state, nested
        if "ItemProcessor" in state:
            yield from _states(state["ItemProcessor"]["States"], "map")
        for branch in state.get("Branches", []):
            yield from _states(branch["States"], nested or "branch")


def _predecessors(machine: State) -> dict[str, set[str]]:
    """State -> the states that go to it (Next, Choices, Default; a Parallel to each branch's StartAt)."""
    before: dict[str, set[str]] = {}
    for name, state, _ in _states(machine["States"]):
        after = {state.get("Next"), state.get("Default"), *(c.get("Next") for c in state.get("Choices", [])),
                 *(b["StartAt"] for b in state.get("Branches", []))} - {None}
        for target in after:
            before.setdefault(str(target), set()).add(name)
    return before


@pytest.mark.parametrize("name", sorted(asl.MACHINES))
def test_committed_file_is_what_the_builder_makes(name: str) -> None:
    committed = (STATEMACHINE_DIR / name).read_text()
    assert committed == asl.render(asl.MACHINES[name]()), f"run `python -m infra.asl` to regenerate {name}"


def test_every_asl_file_has_a_builder() -> None:
    assert {p.name for p in STATEMACHINE_DIR.glob("*.asl.json")} == set(asl.MACHINES)


@pytest.mark.parametrize("name", sorted(asl.MACHINES))
def test_one_retry_policy_on_every_lambda_task_and_one_catch_outside_maps(name: str) -> None:
    machine = asl.MACHINES[name]()
    recorder = next(n for n, s, _ in _states(machine["States"]) if s.get("Parameters", {}).get("Payload", {})
                    .get("op") == "record_failure")
    tasks = [(n, s, m) for n, s, m in _states(machine["States"]) if s["Type"] == "Task"]
    assert tasks
    for state_name, state, nested in tasks:
        assert state["Retry"] == asl.RETRY, state_name
        if nested == "map" or state_name == recorder:
            assert "Catch" not in state, state_name
        elif nested == "branch":  # a fatal error ends the branch: the Parallel's Catch records it
            assert all(c["Next"] != recorder and "States.ALL" not in c["ErrorEquals"]
                       for c in state.get("Catch", [])), state_name
        else:
            assert state["Catch"][-2:] == asl.catch_fatal(recorder), state_name
    for state_name, state, nested in _states(machine["States"]):
        if state["Type"] == "Parallel":
            assert not nested and state["Catch"][-2:] == asl.catch_fatal(recorder), state_name
            assert "Retry" not in state, state_name  # a retried Parallel would run both branches again


@pytest.mark.parametrize("name", sorted(asl.MACHINES))
def test_map_concurrency_comes_from_the_planning_step_before_it(name: str) -> None:
    machine = asl.MACHINES[name]()
    every = {n: s for n, s, _ in _states(machine["States"])}
    before = _predecessors(machine)
    maps = {n: s for n, s in every.items() if s["Type"] == "Map"}
    assert maps
    for map_name, state in maps.items():
        assert "MaxConcurrency" not in state, map_name
        path = state["MaxConcurrencyPath"]
        # the Task before it, through the Choice that skips an empty map (HasFiles) and the Parallel it runs in
        planners, seen, todo = [], set(), [map_name]
        while todo:
            for prev in before.get(todo.pop(), set()) - seen:
                seen.add(prev)
                if every[prev]["Type"] == "Task":
                    planners.append(every[prev])
                elif every[prev]["Type"] in ("Choice", "Parallel"):
                    todo.append(prev)
        assert planners, map_name
        result_path, field = path.rsplit(".", 1)
        for planner in planners:
            assert planner["ResultPath"] == result_path, map_name
            assert planner["ResultSelector"][f"{field}.$"] == f"$.Payload.{field}", map_name


def test_levels_that_need_no_file_load_beside_the_file_copies_and_the_loop_goes_on_from_their_cursor() -> None:
    states = asl.migrate()["States"]
    beside = states[states["HasFiles"]["Choices"][0]["Next"]]
    files, levels = beside["Branches"]
    assert beside["Type"] == "Parallel" and files["StartAt"] == "FetchFiles"
    # the second branch loads only the levels before the first that carries files, and none before a sample
    rule = levels["States"][levels["StartAt"]]["Choices"][0]["And"]
    assert {"Variable": "$.cursor.index", "NumericLessThanPath": "$.files.first_level"} in rule
    assert {"Not": {"Variable": "$.run.options.approval", "StringEquals": "manual"}} in rule
    assert states["PlanFiles"]["ResultSelector"]["first_level.$"] == "$.Payload.first_level"
    # the join keeps the state's shape: the cursor where the branch left it, then VerifyFiles sets $.files
    assert beside["ResultPath"] == "$.cursor"
    assert beside["ResultSelector"] == {f"{f}.$": f"$[1].cursor.{f}" for f in ("index", "count", "phase")}
    assert beside["Next"] == "VerifyFiles" and states["VerifyFiles"]["ResultPath"] == "$.files"
    assert states["VerifyFiles"]["Next"] == "SampleSignOff"


def test_rendered_text_is_stable_json() -> None:
    text = asl.render(asl.migrate())
    assert text.endswith("}\n") and json.loads(text)["StartAt"] == "Discover"

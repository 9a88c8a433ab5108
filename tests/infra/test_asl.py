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


def _states(states: dict[str, State], inside_map: bool = False) -> Iterator[tuple[str, State, bool]]:
    for name, state in states.items():
        yield name, state, inside_map
        if "ItemProcessor" in state:
            yield from _states(state["ItemProcessor"]["States"], True)


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
    for state_name, state, inside_map in tasks:
        assert state["Retry"] == asl.RETRY, state_name
        if inside_map or state_name == recorder:
            assert "Catch" not in state, state_name
        else:
            assert state["Catch"][-2:] == asl.catch_fatal(recorder), state_name


@pytest.mark.parametrize("name", sorted(asl.MACHINES))
def test_map_concurrency_comes_from_the_planning_step_before_it(name: str) -> None:
    states = asl.MACHINES[name]()["States"]
    maps = {n: s for n, s, _ in _states(states) if s["Type"] == "Map"}
    assert maps
    for map_name, state in maps.items():
        assert "MaxConcurrency" not in state, map_name
        path = state["MaxConcurrencyPath"]
        # the Task before it, or before the Choice that skips an empty map (HasFiles)
        gates = {n for n, s in states.items() if s["Type"] == "Choice"
                 and any(c.get("Next") == map_name for c in s.get("Choices", []))}
        planner = next(s for s in states.values() if s.get("Next") in {map_name, *gates} and s["Type"] == "Task")
        result_path, field = path.rsplit(".", 1)
        assert planner["ResultPath"] == result_path, map_name
        assert planner["ResultSelector"][f"{field}.$"] == f"$.Payload.{field}", map_name


def test_rendered_text_is_stable_json() -> None:
    text = asl.render(asl.migrate())
    assert text.endswith("}\n") and json.loads(text)["StartAt"] == "Discover"

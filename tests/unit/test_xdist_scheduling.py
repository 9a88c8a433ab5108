"""The suite's xdist scheduler (tests/scheduling.py): longest expected group first, one test of look-ahead,
and a table that can be stale or missing without failing anything."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.scheduling import DEFAULT_S, DurationRecorder, LongestFirstScheduling, load_table, plain_id


class Node:
    """What the scheduler drives of an xdist worker: the test indices it was sent."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices

    def shutdown(self) -> None:
        self.shutting_down = True


def _config(workers: int) -> Any:
    values = {"tx": [f"{workers}*popen"], "dist": "loadgroup"}
    return SimpleNamespace(getvalue=values.__getitem__, getoption=values.__getitem__,
                           option=SimpleNamespace(loadscopereorder=True))


COLLECTION = [
    "tests/unit/test_a.py::test_1@tests/unit/test_a.py",
    "tests/unit/test_a.py::test_2@tests/unit/test_a.py",
    "tests/unit/test_a.py::test_3@tests/unit/test_a.py",
    "tests/unit/test_a.py::test_4@tests/unit/test_a.py",
    "tests/workflow/test_w.py::test_slow[x]@tests/workflow/test_w.py#rt=0",
    "tests/workflow/test_w.py::test_slower[x]@tests/workflow/test_w.py#rt=0",
    "tests/workflow/test_w.py::test_slowest[x]@tests/workflow/test_w.py#rt=0",
    "tests/workflow/test_w.py::test_slow[y]@tests/workflow/test_w.py#rt=1",
    "tests/unit/test_b.py::test_new@tests/unit/test_b.py",
]
TABLE = {
    "tests/unit/test_a.py::test_1": 0.1, "tests/unit/test_a.py::test_2": 0.1,
    "tests/unit/test_a.py::test_3": 0.1, "tests/unit/test_a.py::test_4": 0.1,
    "tests/workflow/test_w.py::test_slow[x]": 40.0, "tests/workflow/test_w.py::test_slower[x]": 50.0,
    "tests/workflow/test_w.py::test_slowest[x]": 60.0,
    "tests/workflow/test_w.py::test_slow[y]": 30.0,
}


def _scheduled(workers: int, table: dict[str, float]) -> tuple[LongestFirstScheduling, list[Node]]:
    sched = LongestFirstScheduling(_config(workers), table=table)
    nodes = [Node(f"gw{i}") for i in range(workers)]
    for node in nodes:
        sched.add_node(node)  # type: ignore[arg-type]
    for node in nodes:
        sched.add_node_collection(node, COLLECTION)  # type: ignore[arg-type]
    sched.schedule()
    return sched, nodes


def test_the_longest_groups_go_first_not_the_largest() -> None:
    sched, (gw0, gw1) = _scheduled(2, TABLE)
    # xdist's own order would start with test_a (four tests); the two workflow groups are longer
    assert gw0.sent == [4, 5, 6]
    # gw1's group has one test: it is given its next at once, the unknown test_b (1 s) before test_a (0.4 s)
    assert gw1.sent == [7, 8]
    assert list(sched.workqueue) == ["tests/unit/test_a.py"]


def test_a_worker_gets_its_next_group_only_when_its_last_test_is_left() -> None:
    sched, (gw0, _) = _scheduled(2, TABLE)
    sched.mark_test_complete(gw0, 4, 40.0)  # type: ignore[arg-type]
    assert gw0.sent == [4, 5, 6] and list(sched.workqueue) == ["tests/unit/test_a.py"]  # xdist's would commit it
    sched.mark_test_complete(gw0, 5, 50.0)  # type: ignore[arg-type]
    assert gw0.sent == [4, 5, 6, 0, 1, 2, 3] and not sched.workqueue


def test_without_a_table_every_test_counts_the_default_so_the_largest_go_first() -> None:
    sched, (gw0, gw1) = _scheduled(2, {})
    assert sched.expected("tests/unit/test_a.py") == 4 * DEFAULT_S
    assert gw0.sent == [0, 1, 2, 3] and gw1.sent == [4, 5, 6]


def test_a_missing_or_broken_table_is_empty_not_an_error(tmp_path: Path) -> None:
    assert load_table(tmp_path / "absent.json") == {}
    (tmp_path / "broken.json").write_text("{not json")
    assert load_table(tmp_path / "broken.json") == {}
    (tmp_path / "old.json").write_text(json.dumps({"tests": {"a": 1}}))
    assert load_table(tmp_path / "old.json") == {}


def test_plain_id_drops_only_the_group_suffix() -> None:
    assert plain_id("tests/x.py::t@tests/x.py#rt=1") == "tests/x.py::t"
    assert plain_id("tests/x.py::t[a@b]") == "tests/x.py::t[a@b]"


def test_the_recorder_merges_into_the_table_and_drops_deleted_files(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_kept.py").write_text("")
    table = tmp_path / "durations.json"
    table.write_text(json.dumps({"seconds": {"tests/test_kept.py::old": 3.0, "tests/test_kept.py::t": 9.0,
                                             "tests/test_gone.py::t": 5.0}}))
    recorder = DurationRecorder(table)
    for phase, seconds in (("setup", 1.0), ("call", 2.5), ("teardown", 0.25)):
        recorder.pytest_runtest_logreport(SimpleNamespace(nodeid="tests/test_kept.py::t@tests/test_kept.py",
                                                          duration=seconds, when=phase))  # type: ignore[arg-type]
    recorder.pytest_sessionfinish(SimpleNamespace(config=SimpleNamespace(rootpath=tmp_path)))  # type: ignore[arg-type]
    assert load_table(table) == {"tests/test_kept.py::old": 3.0, "tests/test_kept.py::t": 3.75}


@pytest.mark.parametrize("dist", ["load", "loadfile", "each"])
def test_other_dist_modes_keep_xdists_scheduler(dist: str) -> None:
    from tests.conftest import pytest_xdist_make_scheduler

    assert pytest_xdist_make_scheduler(SimpleNamespace(getvalue={"dist": dist}.__getitem__), None) is None  # type: ignore[arg-type]

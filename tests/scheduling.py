"""Longest-group-first scheduling of the suite's xdist groups, from a committed table of test durations.

xdist's ``loadgroup`` hands out groups largest-by-test-count first, so a group of four 50-second
workflow tests waits behind a module of forty unit tests and can start last, making the tail of the
run. :class:`LongestFirstScheduling` hands out, each time a worker needs work, the group whose
expected duration is longest (LPT), where a group's expected duration is the sum of its tests'
durations in ``tests/durations.json``. A test the table does not know (new, renamed) counts
:data:`DEFAULT_S`; a stale or missing table only makes the order less good, never fails the run.

A worker is given its next group when it is about to start the last test of its current one (xdist
waits until two are left), so a long group is committed to a worker as late as xdist allows: a
worker that frees up earlier can still take it.

The table is rewritten from a run with ``pytest --record-durations`` (any selection, with or
without ``-n``; tests that ran are updated, others kept, entries of test files that no longer exist
dropped). ``make durations`` does it for the whole suite on the usual workers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadGroupScheduling
from xdist.workermanage import WorkerController

TABLE = Path(__file__).with_name("durations.json")
#: Seconds a test the table does not list is expected to take.
DEFAULT_S = 1.0


def plain_id(nodeid: str) -> str:
    """A node id without the ``@group`` suffix the suite's conftest adds on xdist workers."""
    return nodeid.rsplit("@", 1)[0] if nodeid.rfind("@") > nodeid.rfind("]") else nodeid


def load_table(path: Path = TABLE) -> dict[str, float]:
    """The recorded seconds per test id; empty (every test counts the default) if the table is absent
    or unreadable: scheduling must never fail a run."""
    try:
        seconds = json.loads(path.read_text())["seconds"]
        return {str(k): float(v) for k, v in seconds.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def expected_seconds(nodeids: Iterable[str], table: dict[str, float]) -> float:
    return sum(table.get(plain_id(n), DEFAULT_S) for n in nodeids)


class LongestFirstScheduling(LoadGroupScheduling):
    """``--dist loadgroup`` with groups handed out longest expected duration first."""

    def __init__(self, config: pytest.Config, log: Producer | None = None, table: dict[str, float] | None = None):
        super().__init__(config, log)
        self.table = load_table() if table is None else table
        self._expected: dict[str, float] = {}

    def expected(self, scope: str) -> float:
        if scope not in self._expected:
            self._expected[scope] = expected_seconds(self.workqueue[scope], self.table)
        return self._expected[scope]

    def _assign_work_unit(self, node: WorkerController) -> None:
        longest = max(self.workqueue, key=self.expected)  # ties: xdist's order (most tests first)
        self.workqueue.move_to_end(longest, last=False)  # xdist's own assignment pops the first unit
        super()._assign_work_unit(node)

    def _reschedule(self, node: WorkerController) -> None:
        # xdist's, with one test of look-ahead instead of two: a worker needs the id of its next test
        # before it starts the current one, so it asks when its last test is the only one left.
        if node.shutting_down:
            return
        if not self.workqueue:
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) > 1:
            return
        self._assign_work_unit(node)


class DurationRecorder:
    """``--record-durations``: sums each test's setup, call and teardown seconds and merges them into
    the table when the session ends (on the xdist controller, or the only process with ``-n 0``)."""

    def __init__(self, path: Path = TABLE) -> None:
        self.path = path
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[plain_id(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.seconds:
            return
        root = session.config.rootpath
        merged = {k: v for k, v in load_table(self.path).items() if (root / k.split("::", 1)[0]).exists()}
        merged.update({k: round(v, 2) for k, v in self.seconds.items()})
        doc: dict[str, Any] = {
            "about": "Seconds per test (setup + call + teardown) for the longest-group-first xdist scheduler "
                     "(tests/scheduling.py); rewrite with `make durations` or `pytest --record-durations`.",
            "seconds": dict(sorted(merged.items())),
        }
        self.path.write_text(json.dumps(doc, indent=0) + "\n")

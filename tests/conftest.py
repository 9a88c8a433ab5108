"""Suite-wide settings: in-process Lambdas never try to reach X-Ray or print EMF metrics; how the
suite is split across pytest-xdist workers (``make test`` runs ``-n … --dist loadgroup``).

Every test joins an ``xdist_group``, so a worker always runs a whole group and no module-scoped
fixture (a stand-in process, a local stack with its migrated org) is built twice:

- a module is one group, except that each value of a **module-scoped parametrized fixture** (a
  pair, a source kit, an Odoo version) makes its own group: those fixtures are built once per value
  anyway, so nothing is lost and the safety net's pairs run side by side;
- ``tests/infra`` is one group: its session fixture synthesizes the CDK stack once.

Groups are handed out longest expected duration first (``tests/scheduling.py``, from the table
``tests/durations.json`` that ``--record-durations`` rewrites), so that no long group starts last.
"""

from __future__ import annotations

import os

import pytest
from _pytest.nodeid import NodeId
from _pytest.scope import Scope
from xdist.remote import Producer

from tests.scheduling import DurationRecorder, LongestFirstScheduling

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "flitstack")

#: Layers in collection order (slowest first; unknown folders last). The scheduler orders the groups by
#: expected duration; this order only breaks its ties and is the order of a run without workers.
_LAYER_ORDER = ("workflow", "contract", "sandbox", "infra", "unit")
_WIDE_SCOPES = (Scope.Module, Scope.Package, Scope.Session)


def _layer(item: pytest.Item) -> int:
    parts = item.nodeid.split("/")
    layer = parts[1] if len(parts) > 2 and parts[0] == "tests" else ""
    return _LAYER_ORDER.index(layer) if layer in _LAYER_ORDER else len(_LAYER_ORDER)


def xdist_group_of(item: pytest.Item) -> str:
    """The group a test runs in: its module, plus the indices of its module-scoped fixture params."""
    path = item.nodeid.split("::", 1)[0]
    if path.startswith("tests/infra/"):
        return "tests/infra"
    callspec = getattr(item, "callspec", None)
    wide = sorted(f"{name}={callspec.indices[name]}" for name, scope in callspec._arg2scope.items()
                  if scope in _WIDE_SCOPES and name in callspec.indices) if callspec is not None else []
    return f"{path}#{','.join(wide)}" if wide else path  # no brackets: xdist reads the group after the last "@"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_layer)  # stable: a module's (and a parameter's) tests stay together, in order
    if getattr(config.option, "loadgroup", False):  # an xdist worker of `--dist loadgroup`
        # The group goes where xdist's scheduler reads it, the node id's ``@`` suffix. xdist 3.8's own
        # ``xdist_group`` handling writes ``item._nodeid``, which pytest 9.2 no longer reads (the id is
        # ``item._id``, a NodeId), so it is written here, the same way xdist means it.
        for item in items:
            item._id = NodeId.parse(f"{item.nodeid}@{xdist_group_of(item)}")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-durations", action="store_true",
                     help="rewrite tests/durations.json (the scheduler's table) with the durations of this run")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("record_durations") and not hasattr(config, "workerinput"):  # controller or -n 0
        config.pluginmanager.register(DurationRecorder(), "flitstack-duration-recorder")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LongestFirstScheduling | None:
    """``--dist loadgroup`` handing out the longest groups first; other ``--dist`` modes are xdist's own."""
    return LongestFirstScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None

"""Contract layer: one suite every connector passes, whatever system it speaks to.

Each registered connector contributes a *kit* (``tests/kits/<kind>.py``): how to start its stand-in,
build the connector, and the few system-specific facts the suite needs (a writable object, its
required fields). The suites run for every connector the registry lists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest

from shared.connectors import registry
from tests.kits import DestinationKit, SourceKit, kit

SOURCE_KITS: list[SourceKit] = [kit(k) for k in registry.kinds("source")]
DESTINATION_KITS: list[DestinationKit] = [kit(k) for k in registry.kinds("destination")]


@pytest.fixture(scope="module", params=SOURCE_KITS, ids=lambda k: k.name)
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    kit: SourceKit = request.param
    standin = kit.start(tmp_path_factory.mktemp(kit.name))
    conn = kit.connect(standin)
    try:
        yield kit, conn, standin
    finally:
        conn.close()
        standin.stop()


@pytest.fixture(scope="module", params=DESTINATION_KITS, ids=lambda k: k.name)
def destination(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    kit: DestinationKit = request.param
    standin = kit.start(tmp_path_factory.mktemp(kit.name))
    try:
        yield kit, kit.connect(standin)
    finally:
        standin.stop()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)

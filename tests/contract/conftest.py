"""Contract layer: one suite every connector passes, whatever system it speaks to.

Each connector contributes a *kit*: how to start its stand-in, build the connector, and
the few system-specific facts the suite needs (a writable object, its required fields).
A new connector joins by adding a kit to ``SOURCE_KITS`` / ``DESTINATION_KITS``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.serve import RunningStandin, start_standin
from shared.destinations.salesforce import SalesforceDestination
from shared.sources.sercom import SercomSource


@dataclass
class SourceKit:
    name: str
    start: Callable[[Path], RunningStandin]
    connect: Callable[[RunningStandin], Any]
    throttle: Callable[[RunningStandin, int], None]
    attachment_object: str


@dataclass
class DestinationKit:
    name: str
    start: Callable[[Path], RunningStandin]
    connect: Callable[[RunningStandin], Any]
    writable_object: str
    required: dict[str, Any]
    text_field: str


def _sercom_throttle(standin: RunningStandin, per_s: int) -> None:
    httpx.post(standin.url + "/__standin/config", json={"rate_limit_per_s": per_s}, verify=standin.ca_path,
               headers={"X-Api-Key": standin.info["api_key"]}).raise_for_status()


SOURCE_KITS = [
    SourceKit(
        name="sercom",
        start=lambda d: start_standin("sercom", ["--state", str(d / "s.sqlite"), "--records", "400", "--seed", "2",
                                                 "--rate-limit-per-s", "0"]),
        connect=lambda s: SercomSource(s.url, s.info["api_key"], Path(s.ca_path).read_text()),
        throttle=_sercom_throttle,
        attachment_object="attachments",
    ),
]


def _salesforce_connect(s: RunningStandin) -> SalesforceDestination:
    c = s.info["credentials"]
    return SalesforceDestination(s.url, c["client_id"], c["client_secret"], c["username"], c["password"],
                                 ca_pem=Path(s.ca_path).read_text())


DESTINATION_KITS = [
    DestinationKit(
        name="salesforce",
        start=lambda d: start_standin("salesforce", ["--state", str(d / "org.sqlite")]),
        connect=_salesforce_connect,
        writable_object="Account",
        required={"Name": "Contract Test Co"},
        text_field="Description",
    ),
]


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

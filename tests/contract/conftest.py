"""Contract layer: one suite every connector passes, whatever system it speaks to.

Each connector contributes a *kit*: how to start its stand-in, build the connector, and
the few system-specific facts the suite needs (a writable object, its required fields).
A new connector joins by adding a kit to ``SOURCE_KITS`` / ``DESTINATION_KITS``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.serve import RunningStandin, start_standin
from shared.connectors.dynamics.client import DynamicsDestination
from shared.connectors.salesforce.client import SalesforceDestination
from shared.connectors.sercom.client import SercomSource


@dataclass
class SourceKit:
    name: str
    start: Callable[[Path], RunningStandin]
    connect: Callable[[RunningStandin], Any]
    throttle: Callable[[RunningStandin, int], None]
    attachment_object: str


@dataclass
class DestinationKit:
    """What the destination suite needs to know about one platform (names and sizes, no behaviour)."""

    name: str
    start: Callable[[Path], RunningStandin]
    connect: Callable[[RunningStandin], Any]
    writable_object: str
    required: dict[str, Any]  # fields every record of writable_object carries
    text_field: str
    ext_field: str  # the external-id field the suite creates
    required_on_create: tuple[str, list[str]]  # an object and fields its describe must flag required
    refused: dict[str, Any]  # fields that make the platform refuse a record of writable_object
    missing_object: str
    #: (id, records, allow_bulk): write sizes that take each of the connector's write paths
    write_sizes: list[tuple[str, int, bool]] = field(default_factory=list)


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


def _dynamics_connect(s: RunningStandin) -> DynamicsDestination:
    c = s.info["credentials"]
    return DynamicsDestination(s.url, s.info["tenant_id"], c["client_id"], c["client_secret"],
                               ca_pem=Path(s.ca_path).read_text())


DESTINATION_KITS = [
    DestinationKit(
        name="salesforce",
        start=lambda d: start_standin("salesforce", ["--state", str(d / "org.sqlite")]),
        connect=_salesforce_connect,
        writable_object="Account",
        required={"Name": "Contract Test Co"},
        text_field="Description",
        ext_field="Contract_Key__c",
        required_on_create=("Account", ["Name"]),
        refused={},  # Name missing
        missing_object="No_Such_Object__c",
        write_sizes=[("collections", 250, False), ("bulk", 1_050, True)],
    ),
    DestinationKit(
        name="dynamics",
        start=lambda d: start_standin("dynamics", ["--state", str(d / "env.sqlite")]),
        connect=_dynamics_connect,
        writable_object="account",
        required={"name": "Contract Test Co"},  # ApplicationRequired: not enforced by the platform
        text_field="description",
        ext_field="flit_contractkey",
        required_on_create=("incident", ["title"]),  # SystemRequired
        refused={"name": "x" * 200},  # longer than the column's MaxLength (160)
        missing_object="flit_nosuchtable",
        write_sizes=[("one-batch", 250, False), ("three-batches", 2_100, True)],
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

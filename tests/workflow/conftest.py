"""Workflow layer: the real ASL on moto, real handlers, real stand-ins over HTTPS."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from simple_salesforce import Salesforce

from flitstack.local import polling
from flitstack.runtime import LocalRuntime, local_environment
from shared.connectors import registry
from tests import kits
from tests.kits import salesforce as salesforce_kit


def salesforce_client(runtime: LocalRuntime) -> Salesforce:
    """An independent client of the migrated org: simple-salesforce, unmodified."""
    return salesforce_kit.client(runtime.destination_standin.info)


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--window-size=1280,2000"]


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: `make chromium` installs Debian's package")
    return path


def browse(page: Path, *action: str, profile: Path) -> str:
    """Run headless Chromium on ``page`` with one action (--dump-dom or --screenshot=...); its stdout."""
    done = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *action, page.as_uri()],
                          capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def s3_json(runtime: LocalRuntime, key: str) -> Any:
    assert runtime.engine is not None and runtime.engine.stack is not None
    body = runtime.engine.client("s3").get_object(Bucket=runtime.engine.stack.bucket, Key=key)["Body"].read()
    return json.loads(body)


def failed_checks(recon: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """A reconciliation report's failed checks by mapping: the message of a failed ``recon["passed"]``."""
    return [(m["mapping"], [c for c in m["checks"] if not c["passed"]]) for m in recon["mappings"] if not m["passed"]]


def s3_lines(runtime: LocalRuntime, prefix: str) -> list[dict[str, Any]]:
    assert runtime.engine is not None and runtime.engine.stack is not None
    s3, bucket = runtime.engine.client("s3"), runtime.engine.stack.bucket
    rows: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            text = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            rows += [json.loads(line) for line in text.splitlines() if line]
    return rows


@pytest.fixture(scope="module")
def runtime_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start a LocalRuntime (one per module: moto's state is process-global)."""
    started: list[LocalRuntime] = []

    def make(**kwargs: Any) -> LocalRuntime:
        folder: Path = tmp_path_factory.mktemp("flitstack")
        local_environment(folder / "lambda.jsonl")
        rt = LocalRuntime(folder=folder, **kwargs)
        started.append(rt)
        return rt.__enter__()

    yield make
    for rt in reversed(started):
        rt.stop()


def dest_record_count(runtime: LocalRuntime, run_id: str) -> int:
    """How many destination records the run's audit log names still exist (whatever the destination)."""
    from shared.connections import open_destination

    assert runtime.engine is not None and runtime.engine.stack is not None
    ddb = runtime.engine.client("dynamodb")
    ids: dict[str, set[str]] = {}
    for page in ddb.get_paginator("query").paginate(
            TableName=runtime.engine.stack.tables["AuditTable"], KeyConditionExpression="run_id = :r",
            ExpressionAttributeValues={":r": {"S": run_id}}):
        for item in page["Items"]:
            if item.get("dest_id", {}).get("S"):
                ids.setdefault(item["dest_object"]["S"], set()).add(item["dest_id"]["S"])
    dest = open_destination(runtime.run_ref(run_id).destination)
    return sum(len(dest.existing_ids(obj, sorted(found))) for obj, found in ids.items())


def Probe(runtime: LocalRuntime) -> kits.Probe:
    """The independent reader and editor of the runtime's destination (its kit's probe)."""
    return kits.kit(runtime.destination).probe(runtime)  # type: ignore[no-any-return]


T = TypeVar("T")
DESTINATIONS = registry.kinds("destination")


def _registered_pairs() -> list[tuple[str, str]]:
    """(source, destination) of every pair template whose connectors are both registered."""
    from shared.pairs import pairs

    found = []
    for name in pairs():
        src, _, dst = name.partition("-")
        if src in registry.kinds("source") and dst in DESTINATIONS:
            found.append((src, dst))
    return found


#: Every (source, destination) pair the suites run for, from ``shared.pairs`` and the registry.
PAIRS = _registered_pairs()
#: The local runtime's default source: its pairs keep the destination alone as their test id.
DEFAULT_SOURCE = LocalRuntime.source


def pair_id(pair: tuple[str, str]) -> str:
    """``salesforce`` for the default source's pair, ``servicetracker-salesforce`` for another source's."""
    source, destination = pair
    return destination if source == DEFAULT_SOURCE else f"{source}-{destination}"


def api_view(client: Any, run_id: str) -> dict[str, Any]:
    """``GET /migrations/{id}`` through the local API (an ``httpx.Client`` with the API key)."""
    resp = client.get(f"/migrations/{run_id}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def wait_until(check: Callable[[], T], what: str, timeout_s: float = 300, longest_s: float = 0.5) -> T:
    """Poll ``check()`` (slowing down from 0.05 to ``longest_s`` apart) until it answers something true, which is
    returned; fails naming ``what`` when ``timeout_s`` has passed. A state the run passes through quickly wants a
    short ``longest_s``."""
    try:
        return polling.poll(check, bool, timeout_s=timeout_s, longest_s=longest_s,
                            describe=lambda _: f"waiting for {what}")
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


def api_wait(client: Any, run_id: str, done: Callable[[dict[str, Any]], bool], timeout_s: float = 240
             ) -> dict[str, Any]:
    """Poll the run's view until ``done`` (slowing down from 0.05 to 0.5 s apart); fails when the execution stops
    first or the time is up."""
    def finished(view: dict[str, Any]) -> bool:
        if done(view):
            return True
        assert view["execution_status"] == "RUNNING", view
        return False

    try:
        return polling.poll(lambda: api_view(client, run_id), finished, timeout_s=timeout_s,
                            describe=lambda view: f"{view['state']} ({view['current_step']})")
    except TimeoutError as exc:
        raise AssertionError(f"{run_id} {exc}") from None

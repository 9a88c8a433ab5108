"""ServiceTracker's test kit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from sandbox.serve import RunningStandin, start_standin
from shared.connectors.servicetracker.client import ServiceTrackerSource
from tests.kits import SourceKit


def _throttle(standin: RunningStandin, per_s: int) -> None:
    httpx.post(standin.url + "/__standin/config", json={"rate_limit_per_s": per_s}, verify=standin.ca_path,
               headers={"Authorization": f"Bearer {standin.info['api_token']}"}).raise_for_status()


def _edit(standin: RunningStandin, obj: str, record_id: str, changes: dict[str, Any]) -> None:
    """Change a record through the stand-in's admin route (``modified_at`` moves to now)."""
    with httpx.Client(base_url=standin.url, verify=standin.ca_path, timeout=30, trust_env=False,
                      headers={"Authorization": f"Bearer {standin.info['api_token']}"}) as api:
        path = obj.replace("_", "-")
        record = api.get(f"/v2/{path}/{record_id}")
        record.raise_for_status()
        fresh = {k: v for k, v in record.json().items() if k not in ("created_at", "modified_at")}
        api.post(f"/__standin/records/{obj}", json={**fresh, **changes}).raise_for_status()


def _listed(standin: RunningStandin) -> set[tuple[str, str]]:
    """The custom fields ``GET /v2/custom-fields`` lists (only part of those on the records)."""
    answer = httpx.get(standin.url + "/v2/custom-fields", verify=standin.ca_path, timeout=30,
                       headers={"Authorization": f"Bearer {standin.info['api_token']}"})
    answer.raise_for_status()
    return {(str(d["object"]), str(d["key"])) for d in answer.json()["data"]}


KIT = SourceKit(
    name="servicetracker",
    start=lambda d: start_standin("servicetracker", ["--state", str(d / "s.sqlite"), "--records", "400", "--seed", "2",
                                                     "--rate-limit-per-s", "0", "--export-processing-s", "0.2",
                                                     "--export-page-records", "20"]),
    connect=lambda s: ServiceTrackerSource(s.url, s.info["api_token"], Path(s.ca_path).read_text(),
                                           requests_per_s=s.info["rate_limit_per_s"]),
    throttle=_throttle,
    attachment_object="attachments",
    delta_object="work_orders",
    edit=_edit,
    listed_custom_fields=_listed,
    blocking_args=["--unsynced-devices", "2"],
    # An export job completes 0.2 s after it is created instead of the stand-in's (unconfirmed) 1 s: a
    # 300-record run creates some 50 jobs, one after another per reader. Every job is still in progress when
    # created: the client still waits its Retry-After and polls, as it does against the real API.
    # And the tenant takes 50 requests a second instead of the (unconfirmed) 10: a 300-record run makes
    # about 160 requests, every one through the process-wide pacer, so at 10 a second the pacing alone was
    # 16 s of each workflow test (measured: a run 32 s at 10, 19 s at 50). The client still paces (to the
    # rate the stand-in announces) and the stand-in still refuses past it; the suites that test throttling
    # set a rate of their own (``throttle``).
    local_args=["--export-processing-s", "0.2", "--rate-limit-per-s", "50"],
)
